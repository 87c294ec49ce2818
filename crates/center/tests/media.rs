//! Audio as the center drives it: desktops attach to the relay, and who hears whom follows the
//! calls — the internal call's two conferences, ringing, hold, mute, hang-up — in relay peers.

mod support;

use std::collections::BTreeSet;

use support::*;
use switchboard_center::media::{MediaEvent, MediaGraph, MediaPeer, MediaSource};
use switchboard_center::protocol::{Action, AudioState};
use switchboard_center::{Input, MediaInput, Reply, SessionId};

fn attach(sim: &mut Sim, session: SessionId, restart: bool) -> (MediaPeer, bool) {
    match sim
        .handle(Input::Media(MediaInput::Offer { session, restart }))
        .unwrap()
    {
        Reply::Media(a) => (a.peer, a.restart),
        other => panic!("{other:?}"),
    }
}

fn hears(graph: &MediaGraph, peer: MediaPeer) -> BTreeSet<MediaSource> {
    graph.get(&peer).cloned().unwrap_or_default()
}

#[test]
fn an_internal_call_routes_audio_between_the_two_desktops() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    let (a, _) = attach(&mut sim, alice, false);
    let (b, _) = attach(&mut sim, bob, false);
    assert!(sim.graph.is_empty(), "nobody is on a call");
    assert_eq!(
        sim.state(alice).audio.as_ref().unwrap().state,
        AudioState::Connecting
    );

    let t1 = sim.call_agent(alice, "bob").unwrap();
    // While Bob's desktop rings, Alice hears hold music and Bob hears nothing.
    assert_eq!(hears(&sim.graph, a), [MediaSource::HoldMusic].into());
    assert_eq!(hears(&sim.graph, b), BTreeSet::new());
    let offer = sim.only_task(bob);
    sim.accept(bob, &offer);
    assert_eq!(hears(&sim.graph, a), [MediaSource::Peer(b)].into());
    assert_eq!(hears(&sim.graph, b), [MediaSource::Peer(a)].into());

    // Alice holds Bob: Bob hears music, Alice hears nothing of him.
    sim.hold(alice, t1, true);
    assert_eq!(hears(&sim.graph, b), [MediaSource::HoldMusic].into());
    assert_eq!(hears(&sim.graph, a), BTreeSet::new());
    sim.hold(alice, t1, false);
    // Bob mutes: nobody hears him; he still hears Alice.
    sim.act(
        bob,
        Action::Mute {
            task_sid: offer.task_sid,
            muted: true,
        },
    )
    .unwrap();
    assert_eq!(hears(&sim.graph, a), BTreeSet::new());
    assert_eq!(hears(&sim.graph, b), [MediaSource::Peer(a)].into());
    sim.act(
        bob,
        Action::Mute {
            task_sid: offer.task_sid,
            muted: false,
        },
    )
    .unwrap();
    assert_eq!(hears(&sim.graph, a), [MediaSource::Peer(b)].into());

    // Hang up: nobody hears anything.
    sim.act(alice, Action::Hangup { task_sid: t1 }).unwrap();
    assert!(sim.graph.is_empty(), "{:?}", sim.graph);
}

#[test]
fn a_queue_call_connects_the_accepting_agent() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let carol = sim.sign_in("carol");
    let (a, _) = attach(&mut sim, alice, false);
    let (c, _) = attach(&mut sim, carol, false);
    sim.call_queue(alice, "Support").unwrap();
    let offer = sim.only_task(carol);
    sim.accept(carol, &offer);
    assert_eq!(hears(&sim.graph, a), [MediaSource::Peer(c)].into());
    assert_eq!(hears(&sim.graph, c), [MediaSource::Peer(a)].into());
}

#[test]
fn the_relay_s_reports_show_on_the_desktop() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let (a, _) = attach(&mut sim, alice, false);
    for (event, state, not_sending) in [
        (MediaEvent::Connected, AudioState::Connected, false),
        (MediaEvent::NotSending, AudioState::Connected, true),
        (MediaEvent::Sending, AudioState::Connected, false),
        (MediaEvent::Lost, AudioState::Reconnecting, false),
        (
            MediaEvent::Gone("DTLS failed".into()),
            AudioState::Failed,
            false,
        ),
    ] {
        sim.handle(Input::Media(MediaInput::Event { peer: a, event }))
            .unwrap();
        let audio = sim.state(alice).audio.clone().unwrap();
        assert_eq!((audio.state, audio.not_sending), (state, not_sending));
    }
    assert_eq!(
        sim.state(alice).audio.clone().unwrap().detail.as_deref(),
        Some("DTLS failed")
    );
}

#[test]
fn a_reconnecting_desktop_restarts_its_peer_and_one_that_stays_away_is_freed() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    let (a, _) = attach(&mut sim, alice, false);
    let (b, _) = attach(&mut sim, bob, false);
    sim.call_agent(alice, "bob").unwrap();
    let offer = sim.only_task(bob);
    sim.accept(bob, &offer);
    sim.handle(Input::Media(MediaInput::Event {
        peer: b,
        event: MediaEvent::Connected,
    }))
    .unwrap();
    // Bob's socket drops; he is back within the grace period and ICE-restarts the same peer.
    sim.handle(Input::Disconnect { session: bob }).unwrap();
    sim.advance(1_000);
    let bob2 = sim.connect("bob");
    assert_eq!(attach(&mut sim, bob2, true), (b, true));
    // The UDP path never broke: his audio still shows connected.
    assert_eq!(
        sim.state(bob2).audio.as_ref().unwrap().state,
        AudioState::Connected
    );
    assert_eq!(
        hears(&sim.graph, a),
        [MediaSource::Peer(b)].into(),
        "the call went on"
    );
    // A new offer that is not a restart replaces the peer.
    let (b2, restart) = attach(&mut sim, bob2, false);
    assert!(!restart && b2 != b);
    assert_eq!(sim.removed, [b]);
    assert_eq!(hears(&sim.graph, a), [MediaSource::Peer(b2)].into());
    // Alice leaves for good: after the grace period her peer is freed.
    sim.handle(Input::Disconnect { session: alice }).unwrap();
    sim.advance(3_000);
    assert_eq!(sim.removed, [b, a]);
    assert!(sim
        .center
        .media()
        .peer_of((sim.demo.workspace, sim.worker("alice")))
        .is_none());
}

#[test]
fn the_hearing_graph_is_worked_out_at_most_every_20_ms() {
    use switchboard_center::MEDIA_GRAPH_EVERY_MS;
    let mut sim = Sim::demo();
    sim.center.set_media_graph_every(MEDIA_GRAPH_EVERY_MS);
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    let (a, _) = attach(&mut sim, alice, false);
    let (b, _) = attach(&mut sim, bob, false);
    let t1 = sim.call_agent(alice, "bob").unwrap();
    sim.advance(MEDIA_GRAPH_EVERY_MS);
    assert_eq!(hears(&sim.graph, a), [MediaSource::HoldMusic].into());
    // A change right after the last graph waits for the interval...
    let offer = sim.only_task(bob);
    sim.accept(bob, &offer);
    assert_eq!(hears(&sim.graph, a), [MediaSource::HoldMusic].into());
    assert_eq!(
        sim.center.poll_timeout().map(|t| t.0),
        Some(sim.now + MEDIA_GRAPH_EVERY_MS),
        "the graph is due when the interval is over"
    );
    sim.advance(MEDIA_GRAPH_EVERY_MS - 1);
    assert_eq!(hears(&sim.graph, b), BTreeSet::new());
    // ... and is not lost: once it is over, both hear each other.
    sim.advance(1);
    assert_eq!(hears(&sim.graph, a), [MediaSource::Peer(b)].into());
    assert_eq!(hears(&sim.graph, b), [MediaSource::Peer(a)].into());
    // After a quiet spell, a change reaches the relay at once.
    sim.advance(MEDIA_GRAPH_EVERY_MS);
    sim.hold(alice, t1, true);
    assert_eq!(hears(&sim.graph, b), [MediaSource::HoldMusic].into());
    assert_eq!(hears(&sim.graph, a), BTreeSet::new());
}
