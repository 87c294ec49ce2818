//! What a recording records, on simulated internal calls: the caller on the left, the answering
//! agent on the right, for either agent's leg, the far leg and both conferences; hold and mute;
//! nothing once the call is over.

mod support;

use std::collections::BTreeSet;

use support::*;
use switchboard_center::media::{MediaPeer, MediaSource};
use switchboard_center::protocol::Action;
use switchboard_center::recording::{
    connected_internal_calls, recording_channels, Channels, RecordingTarget, Track,
};
use switchboard_center::{Input, MediaInput, Reply, SessionId};
use switchboard_sid::{Call, Conference, Sid};
use switchboard_voice::End;

fn attach(sim: &mut Sim, session: SessionId) -> MediaPeer {
    match sim
        .handle(Input::Media(MediaInput::Offer {
            session,
            restart: false,
        }))
        .unwrap()
    {
        Reply::Media(a) => a.peer,
        other => panic!("{other:?}"),
    }
}

fn peers(list: &[MediaPeer]) -> BTreeSet<MediaSource> {
    list.iter().map(|p| MediaSource::Peer(*p)).collect()
}

/// The live leg of the agent whose peer is `peer`.
fn leg_of(sim: &Sim, peer: MediaPeer) -> Sid<Call> {
    let voice = sim.center.voice();
    voice
        .calls()
        .filter(|c| !c.status.is_final())
        .find(|c| sim.center.media().peer_of_leg(voice, c.sid) == Some(peer))
        .map(|c| c.sid)
        .expect("the agent's leg")
}

/// The far leg: both ends in conferences.
fn far_leg(sim: &Sim) -> Sid<Call> {
    sim.center
        .voice()
        .calls()
        .filter(|c| !c.status.is_final())
        .find(|c| {
            matches!(
                (&c.caller, &c.callee),
                (End::Conference(_), End::Conference(_))
            )
        })
        .map(|c| c.sid)
        .expect("the far leg")
}

fn conference_of(sim: &Sim, leg: Sid<Call>) -> Sid<Conference> {
    let c = sim.center.voice().call(leg).unwrap();
    [&c.caller, &c.callee]
        .into_iter()
        .find_map(|e| match e {
            End::Conference(p) => Some(p.conference),
            _ => None,
        })
        .unwrap()
}

fn channels(sim: &Sim, target: RecordingTarget) -> Option<Channels> {
    recording_channels(sim.center.voice(), sim.center.media(), target)
}

#[test]
fn the_caller_is_on_the_left_whatever_is_recorded() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    let a = attach(&mut sim, alice);
    let b = attach(&mut sim, bob);
    let t1 = sim.call_agent(alice, "bob").unwrap();

    // Ringing: Alice's leg hears the wait music; nobody is on the right yet.
    let a_leg = leg_of(&sim, a);
    let ringing = channels(&sim, RecordingTarget::Call(a_leg, Track::Both)).unwrap();
    assert_eq!(ringing[0], peers(&[a]));
    assert_eq!(ringing[1], [MediaSource::HoldMusic].into());
    assert!(connected_internal_calls(sim.center.voice()).is_empty());

    let offer = sim.only_task(bob);
    sim.accept(bob, &offer);
    let b_leg = leg_of(&sim, b);
    let far = far_leg(&sim);
    let c1 = conference_of(&sim, a_leg);
    let c2 = conference_of(&sim, b_leg);
    assert_ne!(c1, c2);
    let expected: Channels = [peers(&[a]), peers(&[b])];
    for target in [
        RecordingTarget::Call(a_leg, Track::Both),
        RecordingTarget::Call(b_leg, Track::Both),
        RecordingTarget::Call(far, Track::Both),
        RecordingTarget::Conference(c1),
        RecordingTarget::Conference(c2),
    ] {
        assert_eq!(channels(&sim, target), Some(expected.clone()), "{target:?}");
    }
    assert_eq!(connected_internal_calls(sim.center.voice()), vec![a_leg]);

    // Tracks: Bob's inbound is his own voice (right), his outbound what he hears (left).
    assert_eq!(
        channels(&sim, RecordingTarget::Call(b_leg, Track::Inbound)),
        Some([BTreeSet::new(), peers(&[b])])
    );
    assert_eq!(
        channels(&sim, RecordingTarget::Call(b_leg, Track::Outbound)),
        Some([peers(&[a]), BTreeSet::new()])
    );

    // Bob muted: the right channel is silent in a recording of the conference he is in.
    sim.act(
        bob,
        Action::Mute {
            task_sid: offer.task_sid,
            muted: true,
        },
    )
    .unwrap();
    assert_eq!(
        channels(&sim, RecordingTarget::Call(a_leg, Track::Both)),
        Some([peers(&[a]), BTreeSet::new()])
    );
    sim.act(
        bob,
        Action::Mute {
            task_sid: offer.task_sid,
            muted: false,
        },
    )
    .unwrap();
    // Alice holds Bob: her conference recording keeps her, Bob's leg hears the music.
    sim.hold(alice, t1, true);
    assert_eq!(
        channels(&sim, RecordingTarget::Call(b_leg, Track::Both)),
        Some([[MediaSource::HoldMusic].into(), peers(&[b])])
    );
    sim.hold(alice, t1, false);

    sim.act(alice, Action::Hangup { task_sid: t1 }).unwrap();
    for target in [
        RecordingTarget::Call(a_leg, Track::Both),
        RecordingTarget::Call(b_leg, Track::Both),
        RecordingTarget::Conference(c1),
    ] {
        assert_eq!(channels(&sim, target), None, "{target:?} is over");
    }
    assert!(connected_internal_calls(sim.center.voice()).is_empty());
}

#[test]
fn unknown_targets_record_nothing() {
    let sim = Sim::demo();
    assert_eq!(
        channels(&sim, RecordingTarget::Call(Sid::from_u128(1), Track::Both)),
        None
    );
    assert_eq!(
        channels(&sim, RecordingTarget::Conference(Sid::from_u128(1))),
        None
    );
}

#[test]
fn both_agents_desktops_show_a_running_recording_and_its_pause() {
    use switchboard_center::recording::LiveRecording;
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    attach(&mut sim, alice);
    attach(&mut sim, bob);
    let t_alice = sim.call_agent(alice, "bob").unwrap();
    let offer = sim.only_task(bob);
    sim.accept(bob, &offer);
    let recording = |sim: &Sim, s: SessionId| {
        sim.state(s).tasks[0]
            .call
            .as_ref()
            .and_then(|c| c.recording.clone())
    };
    assert_eq!(recording(&sim, alice), None);
    // The server's recorder says Bob's conference is recorded: both desktops show it (Alice's
    // call reaches it through the far leg).
    let (ctx_conf, running) = sim.center.recording_context(bob, offer.task_sid).unwrap();
    assert_eq!(running, None);
    let sid = "RE0123456789abcdef0123456789abcdef".parse().unwrap();
    let live = |paused| LiveRecording {
        sid,
        target: RecordingTarget::Conference(ctx_conf),
        paused,
    };
    sim.handle(Input::Recordings(vec![live(false)])).unwrap();
    for s in [alice, bob] {
        let r = recording(&sim, s).expect("shown");
        assert_eq!((r.sid, r.paused), (sid, false));
    }
    // Alice's own task leads to the same recording.
    let (_, running) = sim.center.recording_context(alice, t_alice).unwrap();
    assert_eq!(running, Some(sid));
    sim.handle(Input::Recordings(vec![live(true)])).unwrap();
    assert!(recording(&sim, alice).unwrap().paused);
    sim.handle(Input::Recordings(Vec::new())).unwrap();
    assert_eq!(recording(&sim, bob), None);
    // Another agent's task is not Bob's to record.
    let e = sim.center.recording_context(bob, t_alice).unwrap_err();
    assert_eq!(e.code, 20404);
}
