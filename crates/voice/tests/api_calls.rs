//! Calls placed, redirected and forgotten through the API ([`Voice::place`], [`Voice::redirect`],
//! [`Voice::forget_call`]) and their status callbacks.

use switchboard_sid::{Application, Call, Sid};
use switchboard_twiml::Method;
use switchboard_voice::{
    hearing, CallProgress, CallStatus, Callee, DialRequest, End, FetchResponse, Instructions,
    JoinSpec, Output, PlaceRequest, Source, StatusCallback, Voice,
};

const ACCOUNT: &str = "AC00000000000000000000000000000001";
const APP: &str = "AP0123456789abcdef0123456789abcdef";

fn voice() -> Voice {
    Voice::new(ACCOUNT.into(), 7)
}

fn twiml(xml: &str) -> Instructions {
    Instructions::Twiml(switchboard_twiml::parse(xml, None).unwrap())
}

fn to_agent(identity: &str, instructions: Instructions) -> PlaceRequest {
    PlaceRequest {
        from: "client:api".into(),
        to: format!("client:{identity}"),
        callee: Callee::Agent {
            identity: identity.into(),
            auto_answer: false,
        },
        instructions,
        application: None,
        ring_timeout: 30,
        status_callback: None,
    }
}

/// The outputs so far, once the indexes of live calls and conferences are checked.
fn take(v: &mut Voice) -> Vec<Output> {
    v.check_live_indexes().unwrap();
    v.take_outputs()
}

/// A fetch: its id, URL and parameters.
type Fetch = (u64, String, Vec<(String, String)>);

fn fetches(outputs: &[Output]) -> Vec<Fetch> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Fetch {
                id, url, params, ..
            } => Some((*id, url.clone(), params.clone())),
            _ => None,
        })
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn ok(body: &str) -> Result<FetchResponse, switchboard_voice::FetchFailure> {
    Ok(FetchResponse {
        status: 200,
        content_type: Some("text/xml".into()),
        body: body.into(),
    })
}

#[test]
fn a_placed_call_rings_the_agent_and_runs_its_url_once_answered() {
    let mut v = voice();
    let call = v
        .place(
            1_000,
            to_agent(
                "alice",
                Instructions::Fetch {
                    url: "https://example.com/answered".into(),
                    method: Method::Post,
                },
            ),
        )
        .unwrap();
    let out = take(&mut v);
    assert!(out.iter().any(
        |o| matches!(o, Output::Ring { call: c, identity, .. } if *c == call && identity == "alice")
    ));
    assert!(
        fetches(&out).is_empty(),
        "nothing is fetched before the answer"
    );
    let c = v.call(call).unwrap();
    assert_eq!(c.status, CallStatus::Ringing);
    assert_eq!(c.direction.as_str(), "outbound-api");
    assert!(c.awaits_answer());

    v.answer(2_000, call).unwrap();
    let out = take(&mut v);
    let f = fetches(&out);
    assert_eq!(f.len(), 1, "{out:?}");
    assert_eq!(f[0].1, "https://example.com/answered");
    assert_eq!(param(&f[0].2, "CallStatus"), Some("in-progress"));
    assert_eq!(param(&f[0].2, "Direction"), Some("outbound-api"));
    assert_eq!(param(&f[0].2, "To"), Some("client:alice"));
    assert!(!v.call(call).unwrap().awaits_answer());

    // The TwiML runs on the call: it pauses, then ends, and the call completes.
    v.fetched(
        2_100,
        f[0].0,
        ok("<Response><Pause length=\"5\"/></Response>"),
    );
    assert_eq!(v.call(call).unwrap().status, CallStatus::InProgress);
    v.handle_timeout(7_100);
    let c = v.call(call).unwrap();
    assert_eq!(c.status, CallStatus::Completed);
    assert_eq!(c.start_time, Some(2_000));
}

#[test]
fn inline_twiml_dials_the_agent_into_a_conference_with_another() {
    let mut v = voice();
    // Bob already waits in conference "room" (an agent leg joined by the API).
    let bob = v
        .dial(
            0,
            DialRequest {
                from: "client:api".into(),
                to: "client:bob".into(),
                callee: Callee::Agent {
                    identity: "bob".into(),
                    auto_answer: true,
                },
                join: JoinSpec {
                    conference: "room".into(),
                    ..JoinSpec::default()
                },
                ring_timeout: 30,
            },
        )
        .unwrap();
    let alice = v
        .place(
            10,
            to_agent(
                "alice",
                twiml("<Response><Dial><Conference>room</Conference></Dial></Response>"),
            ),
        )
        .unwrap();
    v.answer(20, alice).unwrap();
    let conf = v.conference_named("room").unwrap().sid;
    assert!(v.participation(conf, alice).is_some());
    let h = hearing(&v);
    assert!(h.hears(alice).unwrap().contains(&Source::Leg(bob)));
    assert!(h.hears(bob).unwrap().contains(&Source::Leg(alice)));
}

#[test]
fn declined_and_unanswered_calls_never_run_their_instructions() {
    let mut v = voice();
    let call = v
        .place(
            0,
            to_agent("alice", twiml("<Response><Hangup/></Response>")),
        )
        .unwrap();
    v.decline(5, call).unwrap();
    assert_eq!(v.call(call).unwrap().status, CallStatus::Busy);
    let call = v
        .place(
            10,
            to_agent("alice", twiml("<Response><Hangup/></Response>")),
        )
        .unwrap();
    v.handle_timeout(40_010);
    assert_eq!(v.call(call).unwrap().status, CallStatus::NoAnswer);
}

#[test]
fn numbers_cannot_be_placed() {
    let mut v = voice();
    let mut req = to_agent("x", twiml("<Response/>"));
    req.callee = Callee::External("+15005550006".into());
    assert!(v.place(0, req).is_err());
    assert_eq!(v.calls().count(), 0);
}

#[test]
fn an_application_callee_runs_and_the_instructions_start_when_it_answers() {
    let mut v = voice();
    let sid: Sid<Application> = APP.parse().unwrap();
    let call = v
        .place(
            0,
            PlaceRequest {
                from: "client:alice".into(),
                to: format!("app:{APP}"),
                callee: Callee::App {
                    sid,
                    voice_url: "https://example.com/app".into(),
                    method: Method::Post,
                    params: vec![("worker_sid".into(), "WK1".into())],
                },
                instructions: Instructions::Fetch {
                    url: "https://example.com/caller".into(),
                    method: Method::Get,
                },
                application: None,
                ring_timeout: 30,
                status_callback: None,
            },
        )
        .unwrap();
    let f = fetches(&take(&mut v));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].1, "https://example.com/app");
    assert_eq!(param(&f[0].2, "worker_sid"), Some("WK1"));
    assert_eq!(param(&f[0].2, "ApplicationSid"), Some(APP));
    v.fetched(5, f[0].0, ok("<Response><Pause length=\"30\"/></Response>"));
    let f = fetches(&take(&mut v));
    assert_eq!(
        f.len(),
        1,
        "the caller's instructions are fetched once answered"
    );
    assert_eq!(f[0].1, "https://example.com/caller");
    assert_eq!(v.call(call).unwrap().status, CallStatus::InProgress);
}

#[test]
fn redirecting_moves_the_call_out_of_its_conference_into_new_twiml() {
    let mut v = voice();
    let leg = v
        .dial(
            0,
            DialRequest {
                from: "client:api".into(),
                to: "client:bob".into(),
                callee: Callee::Agent {
                    identity: "bob".into(),
                    auto_answer: true,
                },
                join: JoinSpec {
                    conference: "room".into(),
                    ..JoinSpec::default()
                },
                ring_timeout: 30,
            },
        )
        .unwrap();
    let conf = v.conference_named("room").unwrap().sid;
    take(&mut v);
    v.redirect(
        10,
        leg,
        Instructions::Fetch {
            url: "https://example.com/next".into(),
            method: Method::Post,
        },
    )
    .unwrap();
    let out = take(&mut v);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::ConferenceEvent {
            event: "participant-leave",
            ..
        }
    )));
    assert_eq!(fetches(&out).len(), 1);
    assert!(v.participation(conf, leg).is_none());
    assert_eq!(v.call(leg).unwrap().status, CallStatus::InProgress);
    assert!(matches!(v.call(leg).unwrap().caller, End::Program(_)));

    // Inline TwiML replaces it again, and runs at once.
    v.redirect(20, leg, twiml("<Response><Hangup/></Response>"))
        .unwrap();
    assert_eq!(v.call(leg).unwrap().status, CallStatus::Completed);
    // An ended call cannot be redirected, but it can be forgotten.
    assert!(v.redirect(30, leg, twiml("<Response/>")).is_err());
    v.forget_call(leg).unwrap();
    v.check_live_indexes().unwrap();
    assert!(v.call(leg).is_none());
}

#[test]
fn a_ringing_placed_call_gets_new_instructions_and_live_calls_are_not_forgotten() {
    let mut v = voice();
    let call = v
        .place(
            0,
            to_agent(
                "alice",
                Instructions::Fetch {
                    url: "https://example.com/old".into(),
                    method: Method::Post,
                },
            ),
        )
        .unwrap();
    v.redirect(
        1,
        call,
        Instructions::Fetch {
            url: "https://example.com/new".into(),
            method: Method::Post,
        },
    )
    .unwrap();
    assert!(v.forget_call(call).is_err());
    take(&mut v);
    v.answer(2, call).unwrap();
    let f = fetches(&take(&mut v));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].1, "https://example.com/new");
    let missing: Sid<Call> = "CA00000000000000000000000000000000".parse().unwrap();
    assert!(v.forget_call(missing).is_err());
}

#[test]
fn status_callbacks_post_the_steps_asked_for() {
    let mut v = voice();
    let mut req = to_agent("alice", twiml("<Response><Hangup/></Response>"));
    req.status_callback = Some(StatusCallback {
        url: "https://example.com/status".into(),
        method: Method::Post,
        events: vec![
            CallProgress::Initiated,
            CallProgress::Ringing,
            CallProgress::Answered,
            CallProgress::Completed,
        ],
    });
    let call = v.place(0, req).unwrap();
    v.answer(3_000, call).unwrap();
    let steps: Vec<(String, String, String)> = fetches(&take(&mut v))
        .into_iter()
        .filter(|(_, url, _)| url == "https://example.com/status")
        .map(|(_, _, p)| {
            (
                param(&p, "StatusCallbackEvent").unwrap_or("").to_owned(),
                param(&p, "CallStatus").unwrap_or("").to_owned(),
                param(&p, "SequenceNumber").unwrap_or("").to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("initiated", "queued", "0"),
        ("ringing", "ringing", "1"),
        ("answered", "in-progress", "2"),
        ("completed", "completed", "3"),
    ]
    .iter()
    .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
    .collect();
    assert_eq!(steps, want);

    // Without StatusCallbackEvent only `completed` is posted.
    let mut req = to_agent("bob", twiml("<Response/>"));
    req.status_callback = Some(StatusCallback {
        url: "https://example.com/done".into(),
        method: Method::Get,
        events: Vec::new(),
    });
    let call = v.place(10, req).unwrap();
    v.decline(20, call).unwrap();
    let done: Vec<_> = fetches(&take(&mut v))
        .into_iter()
        .filter(|(_, url, _)| url == "https://example.com/done")
        .collect();
    assert_eq!(done.len(), 1);
    assert_eq!(param(&done[0].2, "CallStatus"), Some("busy"));
    assert_eq!(param(&done[0].2, "CallDuration"), Some("0"));
}
