//! Who hears whom, derived from the real state machine: every test drives [`Voice`] through its
//! public API (dial, answer, fetched, move_to_conference, update_participant, hangup) and reads
//! [`hearing`] after each step, rendered as one line per agent leg ("alice: bob, music").
//! Supervisors (monitor, coach, barge) are agents whose participation is muted, coaching or
//! neither.

use std::collections::BTreeMap;

use switchboard_sid::{Application, Call, Conference, Sid};
use switchboard_twiml::Method;
use switchboard_voice::{
    hearing, CallStatus, Callee, ConferenceStatus, DialRequest, FetchResponse, JoinSpec, Millis,
    Output, ParticipantUpdate, Source, Voice, VoiceError,
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
            ..JoinSpec::default()
        }
    }

    fn tick(&mut self) -> Millis {
        self.now += 1_000;
        self.now
    }

    /// An agent's leg whose caller end joins `conference`; answered at once unless `ring`.
    fn agent_spec(&mut self, name: &str, join: JoinSpec, ring: bool) -> Sid<Call> {
        let now = self.tick();
        let call = self
            .voice
            .dial(
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
            )
            .expect("dial");
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
        let call = self
            .voice
            .dial(
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
            )
            .expect("dial");
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
        self.change(
            conference,
            call,
            ParticipantUpdate {
                hold,
                muted,
                ..ParticipantUpdate::default()
            },
        )
        .expect("update");
    }

    fn change(
        &mut self,
        conference: &str,
        call: Sid<Call>,
        update: ParticipantUpdate,
    ) -> Result<(), VoiceError> {
        let cf = self.conference(conference);
        let now = self.tick();
        let result = self.voice.update_participant(now, cf, call, update);
        self.drain();
        result
    }

    /// A supervisor joining `conference` coaching `coached` (answered at once).
    fn coach(&mut self, name: &str, conference: &str, coached: Sid<Call>) -> Sid<Call> {
        let join = JoinSpec {
            coaching: true,
            call_sid_to_coach: Some(coached),
            ..World::join(conference, true, false)
        };
        self.agent_spec(name, join, false)
    }

    /// Sets a participant's coaching: `Some(call)` coaches it, `None` barges.
    fn set_coaching(&mut self, conference: &str, call: Sid<Call>, coached: Option<Sid<Call>>) {
        let update = ParticipantUpdate {
            coaching: Some(coached.is_some()),
            call_sid_to_coach: coached,
            ..ParticipantUpdate::default()
        };
        self.change(conference, call, update).expect("coaching");
    }

    fn hangup(&mut self, call: Sid<Call>) {
        let now = self.tick();
        self.voice.hangup(now, call, "hung up").expect("hangup");
        self.drain();
    }

    fn drain(&mut self) -> Vec<Output> {
        self.voice.check_live_indexes().unwrap();
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
        self.voice.check_live_indexes().unwrap();
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
    w.voice
        .dial(
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
        )
        .expect("dial");
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

// ---------------------------------------------------------------------------------------------
// Supervisors: monitor (muted), coach (coaching the agent's call), barge (neither).

/// An agent and a customer in one room (neither ends it on exit).
fn agent_and_customer(w: &mut World) -> (Sid<Call>, Sid<Call>) {
    let agent = w.agent_spec("agent", World::join("room", true, false), false);
    let customer = w.agent_spec("customer", World::join("room", true, false), false);
    (agent, customer)
}

#[test]
fn a_coach_is_heard_by_the_coached_agent_only_and_hears_everyone() {
    let mut w = World::new();
    let (agent, _customer) = agent_and_customer(&mut w);
    let sup = w.coach("sup", "room", agent);
    assert_eq!(
        w.heard(),
        "agent: customer, sup\ncustomer: agent\nsup: agent, customer",
        "the customer does not hear the coach"
    );
    let p = w
        .voice
        .participation(w.conference("room"), sup)
        .expect("participant");
    assert!(p.coaching);
    assert_eq!(p.call_sid_to_coach, Some(agent));
}

#[test]
fn the_caller_of_an_internal_call_does_not_hear_a_coach_on_the_far_side() {
    let mut w = World::new();
    let c = internal_call(&mut w);
    // A supervisor coaches bob in C2: the bridge to alice is another participant there.
    w.coach("sup", "C2", c.bob);
    assert_eq!(w.heard(), "alice: bob\nbob: alice, sup\nsup: alice, bob");
    // Coaching the bridge instead is coaching alice's side: alice hears the coach, bob does not.
    let sup = *w
        .names
        .iter()
        .find(|(_, n)| n.as_str() == "sup")
        .expect("sup")
        .0;
    w.set_coaching("C2", sup, Some(c.x));
    assert_eq!(w.heard(), "alice: bob, sup\nbob: alice\nsup: alice, bob");
}

#[test]
fn a_monitor_is_heard_by_nobody_and_hears_everyone() {
    let mut w = World::new();
    let (_agent, _customer) = agent_and_customer(&mut w);
    let join = JoinSpec {
        muted: true,
        ..World::join("room", true, false)
    };
    w.agent_spec("sup", join, false);
    assert_eq!(
        w.heard(),
        "agent: customer\ncustomer: agent\nsup: agent, customer"
    );
}

#[test]
fn barge_is_heard_by_everyone() {
    let mut w = World::new();
    let (agent, _customer) = agent_and_customer(&mut w);
    let sup = w.coach("sup", "room", agent);
    w.set_coaching("room", sup, None);
    assert_eq!(
        w.heard(),
        "agent: customer, sup\ncustomer: agent, sup\nsup: agent, customer"
    );
    // Twilio keeps showing the call it coached; it no longer matters.
    let p = w.voice.participation(w.conference("room"), sup);
    assert_eq!(
        p.map(|p| (p.coaching, p.call_sid_to_coach)),
        Some((false, Some(agent)))
    );
    // And back to coaching the same agent without naming it again.
    let update = ParticipantUpdate {
        coaching: Some(true),
        ..ParticipantUpdate::default()
    };
    w.change("room", sup, update).expect("coach again");
    assert_eq!(
        w.heard(),
        "agent: customer, sup\ncustomer: agent\nsup: agent, customer"
    );
}

#[test]
fn naming_a_call_to_coach_alone_starts_coaching() {
    let mut w = World::new();
    let (agent, _customer) = agent_and_customer(&mut w);
    let sup = w.agent_spec("sup", World::join("room", true, false), false);
    let update = ParticipantUpdate {
        call_sid_to_coach: Some(agent),
        ..ParticipantUpdate::default()
    };
    w.change("room", sup, update).expect("coach");
    assert_eq!(
        w.heard(),
        "agent: customer, sup\ncustomer: agent\nsup: agent, customer"
    );
}

#[test]
fn monitor_coach_and_barge_with_hold() {
    #[derive(Debug, Clone, Copy)]
    enum Mode {
        Monitor,
        Coach,
        Barge,
    }
    for mode in [Mode::Monitor, Mode::Coach, Mode::Barge] {
        for hold in [false, true] {
            let mut w = World::new();
            let (agent, _customer) = agent_and_customer(&mut w);
            let sup = w.agent_spec("sup", World::join("room", true, false), false);
            let update = match mode {
                Mode::Monitor => ParticipantUpdate::muted(true),
                Mode::Coach => ParticipantUpdate {
                    coaching: Some(true),
                    call_sid_to_coach: Some(agent),
                    ..ParticipantUpdate::default()
                },
                Mode::Barge => ParticipantUpdate::default(),
            };
            w.change("room", sup, update).expect("mode");
            w.update("room", sup, Some(hold), None);
            let (agent_hears, customer_hears) = match (mode, hold) {
                (_, true) | (Mode::Monitor, false) => ("customer", "agent"),
                (Mode::Coach, false) => ("customer, sup", "agent"),
                (Mode::Barge, false) => ("customer, sup", "agent, sup"),
            };
            let sup_hears = if hold { "music" } else { "agent, customer" };
            assert_eq!(
                w.heard(),
                format!("agent: {agent_hears}\ncustomer: {customer_hears}\nsup: {sup_hears}"),
                "{mode:?} hold={hold}"
            );
        }
    }
}

#[test]
fn a_coach_whose_agent_left_is_heard_by_nobody() {
    let mut w = World::new();
    let (agent, _customer) = agent_and_customer(&mut w);
    w.coach("sup", "room", agent);
    w.hangup(agent);
    assert_eq!(w.heard(), "customer: -\nsup: customer");
    // A new agent joining is not coached by accident.
    w.agent_spec("agent2", World::join("room", true, false), false);
    assert_eq!(
        w.heard(),
        "agent2: customer\ncustomer: agent2\nsup: agent2, customer"
    );
}

#[test]
fn coaching_a_call_outside_the_conference_is_refused_and_changes_nothing() {
    let mut w = World::new();
    let (agent, _customer) = agent_and_customer(&mut w);
    let elsewhere = w.agent("other", "elsewhere");
    let sup = w.agent_spec("sup", World::join("room", true, false), false);
    let before = w.heard();
    // Joining to coach a call of another conference.
    let now = w.tick();
    let err = w
        .voice
        .dial(
            now,
            DialRequest {
                from: "client:caller".into(),
                to: "client:sup2".into(),
                callee: Callee::Agent {
                    identity: "sup2".into(),
                    auto_answer: true,
                },
                join: JoinSpec {
                    coaching: true,
                    call_sid_to_coach: Some(elsewhere),
                    ..World::join("room", true, false)
                },
                ring_timeout: 30,
            },
        )
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        format!("call_sid_to_coach {elsewhere} is not a participant of conference room")
    );
    assert!(w.drain().is_empty(), "nothing happened");
    // Coaching in a conference that does not exist yet.
    let now = w.tick();
    let nowhere = w.voice.dial(
        now,
        DialRequest {
            from: "client:caller".into(),
            to: "client:sup2".into(),
            callee: Callee::Agent {
                identity: "sup2".into(),
                auto_answer: true,
            },
            join: JoinSpec {
                coaching: true,
                call_sid_to_coach: Some(agent),
                ..World::join("new room", true, false)
            },
            ring_timeout: 30,
        },
    );
    assert!(matches!(nowhere, Err(VoiceError::Invalid(_))));
    assert!(w.voice.conference_named("new room").is_none());
    // Updates: another conference's call, itself, coaching without a call.
    let refusals = [
        (
            ParticipantUpdate {
                call_sid_to_coach: Some(elsewhere),
                ..ParticipantUpdate::default()
            },
            format!("call_sid_to_coach {elsewhere} is not a participant of conference room"),
        ),
        (
            ParticipantUpdate {
                coaching: Some(true),
                call_sid_to_coach: Some(sup),
                ..ParticipantUpdate::default()
            },
            format!("call_sid_to_coach {sup} is the coaching participant itself"),
        ),
        (
            ParticipantUpdate {
                coaching: Some(true),
                hold: Some(true),
                ..ParticipantUpdate::default()
            },
            "coaching needs call_sid_to_coach: the participant it coaches".to_owned(),
        ),
    ];
    for (update, message) in refusals {
        let err = w.change("room", sup, update).expect_err("refused");
        assert_eq!(err.to_string(), message);
        assert_eq!(w.heard(), before, "a refused update changes nothing");
    }
}

#[test]
fn holding_participants_never_ends_the_conference() {
    let mut w = World::new();
    let c = internal_call(&mut w);
    let (c1, c2) = (w.conference("C1"), w.conference("C2"));
    // Every participant of both conferences on hold, end-on-exit ones included.
    for (room, call) in [("C1", c.alice), ("C1", c.x), ("C2", c.x), ("C2", c.bob)] {
        w.update(room, call, Some(true), None);
    }
    for cf in [c1, c2] {
        assert_eq!(
            w.voice.conference(cf).map(|c| c.status),
            Some(ConferenceStatus::InProgress)
        );
    }
    for call in [c.alice, c.x, c.bob] {
        assert_eq!(
            w.voice.call(call).map(|c| c.status),
            Some(CallStatus::InProgress)
        );
    }
    for (room, call) in [("C1", c.alice), ("C1", c.x), ("C2", c.x), ("C2", c.bob)] {
        w.update(room, call, Some(false), None);
    }
    assert_eq!(w.heard(), "alice: bob\nbob: alice");
}

#[test]
fn ended_calls_kept_for_the_api_are_not_visited_and_change_nothing() {
    let mut w = World::new();
    let c = internal_call(&mut w);
    let carol = w.agent("carol", "C3");
    let before = w.heard();
    let graph = hearing(&w.voice);
    // A thousand calls that ended every way a call ends: hung up once answered, declined,
    // hung up while ringing.
    for i in 0..1_000 {
        let name = format!("gone{i}");
        let room = format!("old{i}");
        match i % 3 {
            0 => {
                let call = w.agent(&name, &room);
                w.hangup(call);
            }
            1 => {
                let call = w.ringing_agent(&name, &room);
                let now = w.tick();
                w.voice.decline(now, call).expect("decline");
                w.drain();
            }
            _ => {
                let call = w.ringing_agent(&name, &room);
                w.hangup(call);
            }
        }
    }
    let live = [c.alice, c.x, c.bob, carol];
    assert_eq!(w.voice.calls().count(), live.len() + 1_000, "all kept");
    assert!(w
        .voice
        .calls()
        .filter(|r| !live.contains(&r.sid))
        .all(|r| r.status.is_final()));
    let walked: Vec<Sid<Call>> = w.voice.live_calls().map(|r| r.sid).collect();
    let mut expected = live.to_vec();
    expected.sort();
    assert_eq!(walked, expected, "only the live calls are walked");
    assert_eq!(w.voice.live_conferences().count(), 3, "C1, C2, C3");
    assert_eq!(w.heard(), before);
    assert_eq!(hearing(&w.voice), graph);

    // Forgetting ended calls (one through the API, the rest pruned) leaves the live ones.
    let ended = w
        .voice
        .calls()
        .find(|r| r.status.is_final())
        .map(|r| r.sid)
        .expect("an ended call");
    w.voice.forget_call(ended).expect("forget");
    w.voice.check_live_indexes().unwrap();
    let now = w.tick();
    w.voice.prune(now);
    w.voice.check_live_indexes().unwrap();
    assert_eq!(w.voice.calls().count(), live.len());
    assert_eq!(w.voice.live_calls().count(), live.len());
    assert_eq!(hearing(&w.voice), graph);

    // The live ones still end as before, and leave the index.
    w.hangup(carol);
    w.hangup(c.alice);
    assert_eq!(w.voice.live_calls().count(), 0);
    assert_eq!(w.voice.live_conferences().count(), 0);
    assert_eq!(w.heard(), "");
}
