//! Who hears whom, derived from the real state machine: every test drives [`Voice`] through its
//! public API (dial, answer, fetched, move_to_conference, update_participant, hangup) and reads
//! [`hearing`] after each step, rendered as one line per agent leg ("alice: bob, music").

use std::collections::BTreeMap;

use switchboard_sid::{Application, Call, Conference, Sid};
use switchboard_twiml::Method;
use switchboard_voice::{
    hearing, CallStatus, Callee, DialRequest, FetchResponse, JoinSpec, Millis, Output, Source,
    Voice,
};

const ACCOUNT: &str = "AC00000000000000000000000000000001";
const APP: &str = "AP0123456789abcdef0123456789abcdef";
const ENQUEUE: &str = r#"<Response><Enqueue workflowSid="WW0123456789abcdef0123456789abcdef"><Task>{}</Task></Enqueue></Response>"#;
const DIAL_BOB: &str = r#"<Response><Dial timeout="20"><Client>bob</Client></Dial></Response>"#;

struct World {
    voice: Voice,
    now: Millis,
    /// Agent legs by name, for rendering.
    names: BTreeMap<Sid<Call>, String>,
}

impl World {
    fn new() -> World {
        World {
            voice: Voice::new(ACCOUNT.into(), 11),
            now: 1_000_000,
            names: BTreeMap::new(),
        }
    }

    fn join(conference: &str, start_on_enter: bool, end_on_exit: bool) -> JoinSpec {
        JoinSpec {
            conference: conference.into(),
            start_on_enter,
            end_on_exit,
            muted: false,
            label: None,
        }
    }

    fn tick(&mut self) -> Millis {
        self.now += 1_000;
        self.now
    }

    /// An agent's leg whose caller end joins `conference`; answered at once unless `ring`.
    fn agent_spec(&mut self, name: &str, join: JoinSpec, ring: bool) -> Sid<Call> {
        let now = self.tick();
        let call = self.voice.dial(
            now,
            DialRequest {
                from: "client:caller".into(),
                to: format!("client:{name}"),
                callee: Callee::Agent {
                    identity: name.into(),
                    auto_answer: !ring,
                },
                join,
                ring_timeout: 30,
            },
        );
        self.names.insert(call, name.to_owned());
        self.drain();
        call
    }

    fn agent(&mut self, name: &str, conference: &str) -> Sid<Call> {
        self.agent_spec(name, World::join(conference, true, true), false)
    }

    fn ringing_agent(&mut self, name: &str, conference: &str) -> Sid<Call> {
        self.agent_spec(name, World::join(conference, true, true), true)
    }

    fn answer(&mut self, call: Sid<Call>) {
        let now = self.tick();
        self.voice.answer(now, call).expect("answer");
        self.drain();
    }

    /// A call into the application from `conference`, whose voice URL answers `twiml`.
    fn app_call(&mut self, conference: &str, twiml: &str) -> Sid<Call> {
        let now = self.tick();
        let call = self.voice.dial(
            now,
            DialRequest {
                from: "client:alice".into(),
                to: format!("app:{APP}"),
                callee: Callee::App {
                    sid: APP.parse::<Sid<Application>>().expect("app sid"),
                    voice_url: "https://app.example.com/voice".into(),
                    method: Method::Post,
                    params: Vec::new(),
                },
                join: World::join(conference, true, true),
                ring_timeout: 30,
            },
        );
        let fetches: Vec<u64> = self
            .drain()
            .into_iter()
            .filter_map(|o| match o {
                Output::Fetch { id, .. } => Some(id),
                _ => None,
            })
            .collect();
        for id in fetches {
            let now = self.tick();
            self.voice.fetched(
                now,
                id,
                Ok(FetchResponse {
                    status: 200,
                    content_type: Some("text/xml".into()),
                    body: twiml.into(),
                }),
            );
        }
        // Name the agent legs a `<Dial><Client>` rings.
        for o in self.drain() {
            if let Output::Ring { call, identity, .. } = o {
                self.names.insert(call, identity);
            }
        }
        call
    }

    fn move_to(&mut self, call: Sid<Call>, conference: &str) -> Sid<Conference> {
        let now = self.tick();
        let cf = self
            .voice
            .move_to_conference(now, call, World::join(conference, true, true))
            .expect("move");
        self.drain();
        cf
    }

    fn conference(&self, name: &str) -> Sid<Conference> {
        self.voice.conference_named(name).expect("conference").sid
    }

    fn update(
        &mut self,
        conference: &str,
        call: Sid<Call>,
        hold: Option<bool>,
        muted: Option<bool>,
    ) {
        let cf = self.conference(conference);
        let now = self.tick();
        self.voice
            .update_participant(now, cf, call, hold, muted)
            .expect("update");
        self.drain();
    }

    fn hangup(&mut self, call: Sid<Call>) {
        let now = self.tick();
        self.voice.hangup(now, call, "hung up").expect("hangup");
        self.drain();
    }

    fn drain(&mut self) -> Vec<Output> {
        self.voice.take_outputs()
    }

    fn name(&self, call: Sid<Call>) -> String {
        self.names
            .get(&call)
            .cloned()
            .unwrap_or_else(|| format!("unnamed {call}"))
    }

    /// One line per agent leg, by name: `alice: bob, music`; `alice: -` when it hears nothing.
    fn heard(&self) -> String {
        let h = hearing(&self.voice);
        let mut lines: Vec<String> = h
            .iter()
            .map(|(leg, sources)| {
                let mut heard: Vec<String> = sources
                    .iter()
                    .map(|s| match s {
                        Source::Leg(l) => self.name(*l),
                        Source::HoldMusic => "music".to_owned(),
                    })
                    .collect();
                heard.sort();
                let heard = if heard.is_empty() {
                    "-".to_owned()
                } else {
                    heard.join(", ")
                };
                format!("{}: {heard}", self.name(leg))
            })
            .collect();
        lines.sort();
        lines.join("\n")
    }
}

/// alice ↔ CA_a ↔ C1 ↔ CA_x ↔ C2 ↔ CA_b ↔ bob, as the internal call builds it: alice's leg,
/// the application leg enqueued, bob rung and answering, the parked leg moved into C2.
struct Internal {
    alice: Sid<Call>,
    x: Sid<Call>,
    bob: Sid<Call>,
}

fn internal_call(w: &mut World) -> Internal {
    let alice = w.agent("alice", "C1");
    assert_eq!(w.heard(), "alice: -", "alone in C1");
    let x = w.app_call("C1", ENQUEUE);
    assert_eq!(
        w.heard(),
        "alice: music",
        "the callee rings: the caller hears music"
    );
    let bob = w.ringing_agent("bob", "C2");
    assert_eq!(w.heard(), "alice: music", "bob rings: not a leg yet");
    w.answer(bob);
    assert_eq!(w.heard(), "alice: music\nbob: -", "bob alone in C2");
    w.move_to(x, "C2");
    assert_eq!(w.heard(), "alice: bob\nbob: alice");
    Internal { alice, x, bob }
}

#[test]
fn two_parties_in_one_conference_hear_each_other() {
    let mut w = World::new();
    let alice = w.agent("alice", "room");
    let bob = w.agent("bob", "room");
    assert_eq!(w.heard(), "alice: bob\nbob: alice");
    let h = hearing(&w.voice);
    assert_eq!(h.len(), 2);
    assert!(h
        .hears(alice)
        .is_some_and(|s| s.contains(&Source::Leg(bob))));
    assert!(h
        .hears(alice)
        .is_some_and(|s| !s.contains(&Source::Leg(alice))));
}

#[test]
fn internal_call_through_bridged_conferences() {
    let mut w = World::new();
    let call = internal_call(&mut w);
    // The bridging leg is no agent leg.
    assert!(hearing(&w.voice).hears(call.x).is_none());
}

#[test]
fn a_ringing_agent_in_the_room_sends_nothing_until_it_answers() {
    let mut w = World::new();
    w.agent("alice", "room");
    let bob = w.ringing_agent("bob", "room");
    assert_eq!(w.heard(), "alice: -");
    w.answer(bob);
    assert_eq!(w.heard(), "alice: bob\nbob: alice");
}

#[test]
fn while_the_application_runs_the_caller_hears_nothing() {
    let mut w = World::new();
    w.agent("alice", "C1");
    // The application has not answered yet (its fetch is pending): a program sends nothing.
    let now = w.tick();
    w.voice.dial(
        now,
        DialRequest {
            from: "client:alice".into(),
            to: format!("app:{APP}"),
            callee: Callee::App {
                sid: APP.parse::<Sid<Application>>().expect("app sid"),
                voice_url: "https://app.example.com/voice".into(),
                method: Method::Post,
                params: Vec::new(),
            },
            join: World::join("C1", true, true),
            ring_timeout: 30,
        },
    );
    w.drain();
    assert_eq!(w.heard(), "alice: -");
}

#[test]
fn alice_holds_bob() {
    let mut w = World::new();
    let c = internal_call(&mut w);
    // Flex's hold from alice's side: the other participants of her conference (the bridging
    // leg) go on hold.
    w.update("C1", c.x, Some(true), None);
    assert_eq!(w.heard(), "alice: -\nbob: music");
    w.update("C1", c.x, Some(false), None);
    assert_eq!(w.heard(), "alice: bob\nbob: alice");
}

#[test]
fn bob_holds_alice() {
    let mut w = World::new();
    let c = internal_call(&mut w);
    w.update("C2", c.x, Some(true), None);
    assert_eq!(w.heard(), "alice: music\nbob: -");
    w.update("C2", c.x, Some(false), None);
    assert_eq!(w.heard(), "alice: bob\nbob: alice");
}

#[test]
fn both_hold_each_other() {
    let mut w = World::new();
    let c = internal_call(&mut w);
    w.update("C1", c.x, Some(true), None);
    w.update("C2", c.x, Some(true), None);
    // Each conference leaves the held bridge out of its mix, so the music either side's hold
    // sends is cut off by the other side's: both holders hear nothing.
    assert_eq!(w.heard(), "alice: -\nbob: -");
}

#[test]
fn a_held_agent_leg_hears_music_and_is_not_heard() {
    let mut w = World::new();
    let _alice = w.agent("alice", "room");
    let bob = w.agent("bob", "room");
    w.update("room", bob, Some(true), None);
    assert_eq!(w.heard(), "alice: -\nbob: music");
}

#[test]
fn mute_silences_the_agent_for_others_only() {
    let mut w = World::new();
    let c = internal_call(&mut w);
    w.update("C1", c.alice, None, Some(true));
    assert_eq!(w.heard(), "alice: bob\nbob: -");
    w.update("C1", c.alice, None, Some(false));
    w.update("C2", c.bob, None, Some(true));
    assert_eq!(w.heard(), "alice: -\nbob: alice");
    // Muting the bridging leg in C2 cuts alice off for bob, not bob for alice.
    w.update("C2", c.bob, None, Some(false));
    w.update("C2", c.x, None, Some(true));
    assert_eq!(w.heard(), "alice: bob\nbob: -");
}

/// Every combination of hold and mute on both agents' own participations in one room.
#[test]
fn hold_and_mute_combinations() {
    let cases = [false, true];
    for a_hold in cases {
        for a_mute in cases {
            for b_hold in cases {
                for b_mute in cases {
                    let mut w = World::new();
                    let alice = w.agent("alice", "room");
                    let bob = w.agent("bob", "room");
                    w.update("room", alice, Some(a_hold), Some(a_mute));
                    w.update("room", bob, Some(b_hold), Some(b_mute));
                    let hears = |me_hold: bool, other_hold: bool, other_mute: bool, other: &str| {
                        if me_hold {
                            "music".to_owned()
                        } else if other_hold || other_mute {
                            "-".to_owned()
                        } else {
                            other.to_owned()
                        }
                    };
                    let expected = format!(
                        "alice: {}\nbob: {}",
                        hears(a_hold, b_hold, b_mute, "bob"),
                        hears(b_hold, a_hold, a_mute, "alice")
                    );
                    assert_eq!(
                        w.heard(),
                        expected,
                        "alice hold={a_hold} mute={a_mute}, bob hold={b_hold} mute={b_mute}"
                    );
                }
            }
        }
    }
}

#[test]
fn hold_and_mute_on_the_bridge_combined() {
    let mut w = World::new();
    let c = internal_call(&mut w);
    // alice mutes herself and bob holds her: alice hears music, bob hears nothing.
    w.update("C1", c.alice, None, Some(true));
    w.update("C2", c.x, Some(true), None);
    assert_eq!(w.heard(), "alice: music\nbob: -");
    // bob resumes her; she is still muted: she hears him, he hears nothing.
    w.update("C2", c.x, Some(false), None);
    assert_eq!(w.heard(), "alice: bob\nbob: -");
    // Both held on alice's side while muted: music for bob, nothing for alice.
    w.update("C1", c.x, Some(true), None);
    assert_eq!(w.heard(), "alice: -\nbob: music");
}

#[test]
fn three_agents_in_one_conference_hear_the_other_two() {
    let mut w = World::new();
    w.agent("alice", "room");
    w.agent("bob", "room");
    let carol = w.agent("carol", "room");
    assert_eq!(
        w.heard(),
        "alice: bob, carol\nbob: alice, carol\ncarol: alice, bob"
    );
    w.update("room", carol, None, Some(true));
    assert_eq!(w.heard(), "alice: bob\nbob: alice\ncarol: alice, bob");
    w.update("room", carol, Some(true), Some(false));
    assert_eq!(w.heard(), "alice: bob\nbob: alice\ncarol: music");
}

#[test]
fn a_third_agent_joins_one_side_of_an_internal_call() {
    let mut w = World::new();
    let c = internal_call(&mut w);
    let carol = w.agent_spec("carol", World::join("C1", true, false), false);
    assert_eq!(
        w.heard(),
        "alice: bob, carol\nbob: alice, carol\ncarol: alice, bob"
    );
    // alice holds the far side: carol and alice still hear each other; bob hears music.
    w.update("C1", c.x, Some(true), None);
    assert_eq!(w.heard(), "alice: carol\nbob: music\ncarol: alice");
    w.hangup(carol);
    w.update("C1", c.x, Some(false), None);
    assert_eq!(w.heard(), "alice: bob\nbob: alice");
}

#[test]
fn ended_calls_leave_the_graph() {
    let mut w = World::new();
    let c = internal_call(&mut w);
    w.hangup(c.alice);
    for call in [c.alice, c.x, c.bob] {
        assert_eq!(
            w.voice.call(call).map(|r| r.status),
            Some(CallStatus::Completed)
        );
    }
    assert_eq!(w.heard(), "");
    assert!(hearing(&w.voice).is_empty());
}

#[test]
fn one_leg_ending_without_end_on_exit_leaves_the_other_alone() {
    let mut w = World::new();
    let alice = w.agent_spec("alice", World::join("room", true, false), false);
    w.agent_spec("bob", World::join("room", true, false), false);
    w.agent_spec("carol", World::join("room", true, false), false);
    w.hangup(alice);
    assert_eq!(w.heard(), "bob: carol\ncarol: bob");
}

#[test]
fn a_conference_not_started_plays_wait_music() {
    let mut w = World::new();
    w.agent_spec("alice", World::join("room", false, false), false);
    assert_eq!(w.heard(), "alice: music");
    w.agent_spec("bob", World::join("room", false, false), false);
    assert_eq!(w.heard(), "alice: music\nbob: music");
    w.agent_spec("carol", World::join("room", true, false), false);
    assert_eq!(
        w.heard(),
        "alice: bob, carol\nbob: alice, carol\ncarol: alice, bob"
    );
}

#[test]
fn dial_client_bridge_connects_after_the_answer() {
    let mut w = World::new();
    w.agent("alice", "C1");
    w.app_call("C1", DIAL_BOB);
    // bob's browser rings: the parent's `<Dial>` is a program, which sends nothing.
    assert_eq!(w.heard(), "alice: -");
    let bob = *w
        .names
        .iter()
        .find(|(_, n)| n.as_str() == "bob")
        .expect("bob rung")
        .0;
    w.answer(bob);
    assert_eq!(w.heard(), "alice: bob\nbob: alice");
    w.hangup(bob);
    assert_eq!(
        w.heard(),
        "",
        "the bridge ended, and so did the application leg"
    );
}

#[test]
fn a_loop_of_two_bridges_terminates_and_nobody_hears_itself() {
    let mut w = World::new();
    w.agent("alice", "C1");
    let x = w.app_call("C1", ENQUEUE);
    let y = w.app_call("C1", ENQUEUE);
    w.agent("bob", "C2");
    w.move_to(x, "C2");
    w.move_to(y, "C2");
    assert_eq!(w.heard(), "alice: bob\nbob: alice");
    // Holding one bridge in C1 sends its music into C2, and around the loop back into C1.
    w.update("C1", x, Some(true), None);
    assert_eq!(w.heard(), "alice: bob, music\nbob: alice, music");
}
