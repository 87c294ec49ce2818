//! Scenario tests for the voice state machine.
//!
//! A small [`Driver`] feeds inputs to [`Voice`], answers webhook fetches from a table of canned
//! responses per URL, and records everything as a readable log (SIDs replaced by short aliases
//! such as `CA1`, `CF1`, `WT1`, numbered in order of appearance) for expect-test snapshots.

use std::collections::BTreeMap;

use expect_test::{expect, Expect};
use switchboard_sid::{Application, Call, Conference, Sid, Task};
use switchboard_twiml::Method;
use switchboard_voice::{
    CallStatus, Callee, DialRequest, FetchFailure, FetchResponse, JoinSpec, Millis, Output,
    ParticipantUpdate, Voice,
};

const ACCOUNT: &str = "AC00000000000000000000000000000001";
const APP: &str = "AP0123456789abcdef0123456789abcdef";
const BASE: &str = "https://app.example.com";

/// A canned answer to a fetch.
#[derive(Clone)]
enum Reply {
    /// 200 `text/xml` with this body.
    Twiml(&'static str),
    /// Any status and body.
    Http(u16, &'static str),
    /// No response at all.
    Fail(u32, &'static str),
    /// Leave the fetch pending: the test answers it with [`Driver::answer`].
    Hold,
}

struct Driver {
    voice: Voice,
    now: Millis,
    replies: BTreeMap<String, Reply>,
    log: Vec<String>,
    aliases: BTreeMap<String, String>,
    counts: BTreeMap<&'static str, usize>,
    /// Fetches left pending (`Reply::Hold`, or no reply for the URL): id, call, URL.
    pending: Vec<(u64, Sid<Call>, String)>,
    /// Every output, unrendered.
    outputs: Vec<Output>,
    /// Show Twilio's standard webhook parameters too (otherwise only the others).
    all_params: bool,
}

const STANDARD: &[&str] = &[
    "CallSid",
    "AccountSid",
    "From",
    "To",
    "Caller",
    "Called",
    "CallStatus",
    "Direction",
    "ApiVersion",
    "ApplicationSid",
    "ParentCallSid",
];

impl Driver {
    fn new() -> Driver {
        Driver::with_seed(7)
    }

    fn with_seed(seed: u128) -> Driver {
        Driver {
            voice: Voice::new(ACCOUNT.into(), seed),
            now: 1_000_000,
            replies: BTreeMap::new(),
            log: Vec::new(),
            aliases: BTreeMap::new(),
            counts: BTreeMap::new(),
            pending: Vec::new(),
            outputs: Vec::new(),
            all_params: false,
        }
    }

    /// Answers fetches of `path` (relative to [`BASE`]) with `reply`.
    fn reply(&mut self, path: &str, reply: Reply) -> &mut Self {
        self.replies.insert(format!("{BASE}{path}"), reply);
        self
    }

    fn alias(&mut self, sid: String) -> String {
        if let Some(a) = self.aliases.get(&sid) {
            return a.clone();
        }
        let prefix: &'static str = match &sid[..2] {
            "CA" => "CA",
            "CF" => "CF",
            "WT" => "WT",
            "AP" => "AP",
            "AC" => "AC",
            _ => "??",
        };
        let n = self.counts.entry(prefix).or_insert(0);
        *n += 1;
        let a = format!("{prefix}{n}");
        self.aliases.insert(sid, a.clone());
        a
    }

    /// Replaces every known SID in `s` by its alias.
    fn clean(&self, s: &str) -> String {
        let mut s = s.to_owned();
        for (sid, alias) in &self.aliases {
            s = s.replace(sid.as_str(), alias);
        }
        s
    }

    fn note(&mut self, line: String) {
        let line = self.clean(&line);
        self.log.push(line);
    }

    fn advance(&mut self, ms: Millis) {
        self.now += ms;
    }

    /// Drains the outputs, logging them and answering the fetches that have a canned reply.
    fn pump(&mut self) {
        loop {
            self.voice.check_live_indexes().unwrap();
            let outs = self.voice.take_outputs();
            if outs.is_empty() {
                return;
            }
            // Log the whole batch first, then answer its fetches: the log shows outputs in the
            // order the state machine produced them.
            let mut answers = Vec::new();
            for out in outs {
                self.outputs.push(out.clone());
                self.record(&out);
                if let Output::Fetch { id, call, url, .. } = out {
                    match self.replies.get(&url).cloned() {
                        Some(Reply::Hold) | None => self.pending.push((id, call, url)),
                        Some(r) => answers.push((id, r)),
                    }
                }
            }
            for (id, r) in answers {
                self.respond(id, r);
            }
        }
    }

    fn respond(&mut self, id: u64, reply: Reply) {
        let result = match reply {
            Reply::Twiml(body) => Ok(FetchResponse {
                status: 200,
                content_type: Some("text/xml".into()),
                body: body.into(),
            }),
            Reply::Http(status, body) => Ok(FetchResponse {
                status,
                content_type: Some("text/html".into()),
                body: body.into(),
            }),
            Reply::Fail(code, message) => Err(FetchFailure {
                code,
                message: message.into(),
            }),
            Reply::Hold => return,
        };
        let line = match &result {
            Ok(r) => format!("  <- #{id} {} {}", r.status, r.body),
            Err(f) => format!("  <- #{id} failure {} {}", f.code, f.message),
        };
        self.note(line);
        self.voice.fetched(self.now, id, result);
    }

    /// Answers a pending fetch (the oldest one) with `reply`.
    fn answer(&mut self, reply: Reply) {
        assert!(!self.pending.is_empty(), "no fetch is pending");
        let (id, _, _) = self.pending.remove(0);
        self.respond(id, reply);
        self.pump();
    }

    fn record(&mut self, out: &Output) {
        let line = match out {
            Output::Fetch {
                id,
                call,
                url,
                method,
                params,
            } => {
                self.alias(call.to_string());
                let shown: Vec<String> = params
                    .iter()
                    .filter(|(k, _)| self.all_params || !STANDARD.contains(&k.as_str()))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let url = url.strip_prefix(BASE).unwrap_or(url);
                if self.all_params {
                    format!(
                        "  fetch #{id} {call} {} {url}\n      {}",
                        method.as_str(),
                        shown.join("\n      ")
                    )
                } else if shown.is_empty() {
                    format!("  fetch #{id} {call} {} {url}", method.as_str())
                } else {
                    format!(
                        "  fetch #{id} {call} {} {url} [{}]",
                        method.as_str(),
                        shown.join(", ")
                    )
                }
            }
            Output::Ring {
                call,
                identity,
                from,
            } => {
                self.alias(call.to_string());
                format!("  ring {call} {identity} from {from}")
            }
            Output::StopRinging { call, identity } => format!("  stop-ringing {call} {identity}"),
            Output::AgentConnected { call, identity } => {
                format!("  agent-connected {call} {identity}")
            }
            Output::AgentDisconnected { call, identity } => {
                format!("  agent-disconnected {call} {identity}")
            }
            Output::CreateTask {
                call,
                task,
                workflow_sid,
                attributes,
                priority,
                timeout,
            } => {
                self.alias(task.to_string());
                format!(
                    "  create-task {task} for {call} workflow={workflow_sid} priority={priority:?} timeout={timeout:?} {}",
                    serde_json::Value::Object(attributes.clone())
                )
            }
            Output::CancelTask { task, reason } => format!("  cancel-task {task} {reason}"),
            Output::CallStatus { call, status } => {
                self.alias(call.to_string());
                format!("  status {call} {}", status.as_str())
            }
            Output::ConferenceEvent {
                conference,
                event,
                call,
            } => {
                self.alias(conference.to_string());
                match call {
                    Some(c) => format!("  conf {conference} {event} {c}"),
                    None => format!("  conf {conference} {event}"),
                }
            }
        };
        self.note(line);
    }

    fn step(&mut self, what: &str) {
        self.note(format!("> {what}"));
    }

    /// Dials `callee` with the caller end joining `conference`.
    fn dial(&mut self, callee: Callee, conference: &str, end_on_exit: bool) -> Sid<Call> {
        let to = match &callee {
            Callee::Agent { identity, .. } => format!("client:{identity}"),
            Callee::App { sid, .. } => format!("app:{sid}"),
            Callee::External(to) => to.clone(),
        };
        let req = DialRequest {
            from: "client:caller".into(),
            to: to.clone(),
            callee,
            join: JoinSpec {
                conference: conference.into(),
                start_on_enter: true,
                end_on_exit,
                ..JoinSpec::default()
            },
            ring_timeout: 30,
        };
        let sid = self.voice.dial(self.now, req).expect("dial");
        let alias = self.alias(sid.to_string());
        self.step(&format!("dial {to} from {conference} -> {alias}"));
        self.pump();
        sid
    }

    fn dial_agent(&mut self, identity: &str, auto_answer: bool, conference: &str) -> Sid<Call> {
        self.dial(
            Callee::Agent {
                identity: identity.into(),
                auto_answer,
            },
            conference,
            false,
        )
    }

    fn dial_app(&mut self, path: &str, params: &[(&str, &str)], conference: &str) -> Sid<Call> {
        self.dial(
            Callee::App {
                sid: app(),
                voice_url: format!("{BASE}{path}"),
                method: Method::Post,
                params: params
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            },
            conference,
            false,
        )
    }

    fn answer_call(&mut self, call: Sid<Call>) {
        self.step(&format!("answer {call}"));
        self.voice.answer(self.now, call).expect("answer");
        self.pump();
    }

    fn decline_call(&mut self, call: Sid<Call>) {
        self.step(&format!("decline {call}"));
        if let Err(e) = self.voice.decline(self.now, call) {
            self.note(format!("  error: {e}"));
        }
        self.pump();
    }

    fn hangup(&mut self, call: Sid<Call>) {
        self.step(&format!("hangup {call}"));
        self.voice
            .hangup(self.now, call, "hung up")
            .expect("hangup");
        self.pump();
    }

    fn timeout(&mut self) {
        let at = self.voice.poll_timeout().expect("a timer");
        self.now = self.now.max(at);
        self.step(&format!("timeout at +{}ms", at - 1_000_000));
        self.voice.handle_timeout(self.now);
        self.pump();
    }

    fn move_to(&mut self, call: Sid<Call>, conference: &str, end_on_exit: bool) -> Sid<Conference> {
        self.step(&format!("move {call} to {conference}"));
        let cf = self
            .voice
            .move_to_conference(
                self.now,
                call,
                JoinSpec {
                    conference: conference.into(),
                    start_on_enter: true,
                    end_on_exit,
                    ..JoinSpec::default()
                },
            )
            .expect("move");
        self.pump();
        cf
    }

    fn task_ended(&mut self, task: Sid<Task>) {
        self.step(&format!("task ended {task}"));
        self.voice.task_ended(self.now, task);
        self.pump();
    }

    fn task_refused(&mut self, call: Sid<Call>) {
        self.step(&format!("task refused for {call}"));
        self.voice
            .task_refused(self.now, call, "the workflow does not exist");
        self.pump();
    }

    fn conference(&self, name: &str) -> Sid<Conference> {
        self.voice
            .conferences()
            .find(|c| c.friendly_name == name)
            .expect("conference")
            .sid
    }

    fn tasks(&self) -> Vec<Sid<Task>> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::CreateTask { task, .. } => Some(*task),
                _ => None,
            })
            .collect()
    }

    /// Child calls rung by `<Dial><Client>`, in order.
    fn rung(&self) -> Vec<Sid<Call>> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Ring { call, .. } => Some(*call),
                _ => None,
            })
            .collect()
    }

    /// Every call's status and end reason, and every conference's status.
    fn summary(&self) -> String {
        let mut lines = Vec::new();
        let mut calls: Vec<_> = self.voice.calls().collect();
        calls.sort_by_key(|c| self.clean(&c.sid.to_string()));
        for c in calls {
            let reason = match &c.end_reason {
                Some(r) => match r.code {
                    Some(code) => format!(" ({code}: {})", r.message),
                    None => format!(" ({})", r.message),
                },
                None => String::new(),
            };
            lines.push(format!(
                "{} {} -> {} {}{reason}",
                c.sid,
                c.from,
                c.to,
                c.status.as_str()
            ));
        }
        let mut confs: Vec<_> = self.voice.conferences().collect();
        confs.sort_by_key(|c| self.clean(&c.sid.to_string()));
        for c in confs {
            lines.push(format!(
                "{} {:?} {}{}",
                c.sid,
                c.friendly_name,
                c.status.as_str(),
                c.end_reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ));
        }
        self.clean(&lines.join("\n"))
    }

    fn check(&self, expect: Expect) {
        let mut text = self.log.join("\n");
        text.push_str("\n---\n");
        text.push_str(&self.summary());
        text.push('\n');
        expect.assert_eq(&text);
    }

    fn status(&self, call: Sid<Call>) -> CallStatus {
        self.voice.call(call).expect("call").status
    }
}

fn app() -> Sid<Application> {
    APP.parse().expect("app sid")
}

// ---------------------------------------------------------------------------------------------
// Agents

#[test]
fn agent_with_auto_answer_joins_a_conference() {
    let mut d = Driver::new();
    d.dial_agent("bob", true, "room");
    d.check(expect![[r#"
        > dial client:bob from room -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          status CA1 in-progress
          agent-connected CA1 bob
        ---
        CA1 client:caller -> client:bob in-progress
        CF1 "room" in-progress
    "#]]);
}

#[test]
fn agent_without_auto_answer_rings_then_answers() {
    let mut d = Driver::new();
    let call = d.dial_agent("bob", false, "room");
    assert_eq!(d.status(call), CallStatus::Ringing);
    assert_eq!(d.voice.poll_timeout(), Some(1_000_000 + 30_000));
    d.advance(2_000);
    d.answer_call(call);
    assert_eq!(d.voice.poll_timeout(), None, "the ring timer is gone");
    assert!(d.voice.answer(d.now, call).is_err(), "answering twice");
    d.check(expect![[r#"
        > dial client:bob from room -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          ring CA1 bob from client:caller
        > answer CA1
          status CA1 in-progress
          agent-connected CA1 bob
        ---
        CA1 client:caller -> client:bob in-progress
        CF1 "room" in-progress
    "#]]);
}

#[test]
fn agent_declines() {
    let mut d = Driver::new();
    let call = d.dial_agent("bob", false, "room");
    d.decline_call(call);
    assert!(d.voice.decline(d.now, call).is_err(), "declining twice");
    assert_eq!(d.voice.poll_timeout(), None);
    d.check(expect![[r#"
        > dial client:bob from room -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          ring CA1 bob from client:caller
        > decline CA1
          status CA1 busy
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
          stop-ringing CA1 bob
        ---
        CA1 client:caller -> client:bob busy (declined)
        CF1 "room" completed (last-participant-left)
    "#]]);
}

#[test]
fn agent_does_not_answer_in_time() {
    let mut d = Driver::new();
    let call = d.dial_agent("bob", false, "room");
    d.voice.handle_timeout(d.now + 29_999);
    assert_eq!(d.status(call), CallStatus::Ringing, "not yet");
    d.timeout();
    assert!(d.voice.answer(d.now, call).is_err(), "too late");
    d.check(expect![[r#"
        > dial client:bob from room -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          ring CA1 bob from client:caller
        > timeout at +30000ms
          status CA1 no-answer
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
          stop-ringing CA1 bob
        ---
        CA1 client:caller -> client:bob no-answer (no answer)
        CF1 "room" completed (last-participant-left)
    "#]]);
}

// ---------------------------------------------------------------------------------------------
// Applications, Enqueue and TaskRouter

const ENQUEUE: &str = r#"<Response><Enqueue workflowSid="WW0123456789abcdef0123456789abcdef"><Task priority="5">{"a":1,"call_sid":"spoof"}</Task></Enqueue><Say>Nobody took it</Say><Redirect>/after</Redirect></Response>"#;

#[test]
fn app_callee_is_fetched_with_twilio_parameters_and_enqueued() {
    let mut d = Driver::new();
    d.all_params = true;
    d.reply("/voice", Reply::Twiml(ENQUEUE));
    let x = d.dial_app(
        "/voice",
        &[("worker_sid", "WK1"), ("callToQueue", "Sales & Support")],
        "C1",
    );
    assert_eq!(d.tasks().len(), 1);
    let Some(Output::CreateTask {
        attributes,
        priority,
        ..
    }) = d
        .outputs
        .iter()
        .find(|o| matches!(o, Output::CreateTask { .. }))
    else {
        unreachable!()
    };
    assert_eq!(attributes["call_sid"], x.to_string());
    assert_eq!(attributes["a"], 1);
    assert_eq!(*priority, Some(5));
    // TaskRouter's conference instruction moves the waiting end into the agent's conference.
    d.dial_agent("bob", true, "C2");
    let c2 = d.move_to(x, "C2", false);
    assert_eq!(
        d.voice.participation(c2, x).map(|p| p.end_on_exit),
        Some(false)
    );
    assert!(
        d.voice
            .move_to_conference(
                d.now,
                x,
                JoinSpec {
                    conference: "C3".into(),
                    start_on_enter: true,
                    end_on_exit: false,
                    ..JoinSpec::default()
                }
            )
            .is_err(),
        "no longer queued"
    );
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
              CallSid=CA1
              AccountSid=AC00000000000000000000000000000001
              From=client:caller
              To=AP0123456789abcdef0123456789abcdef
              Caller=client:caller
              Called=AP0123456789abcdef0123456789abcdef
              CallStatus=ringing
              Direction=inbound
              ApiVersion=2010-04-01
              ApplicationSid=AP0123456789abcdef0123456789abcdef
              worker_sid=WK1
              callToQueue=Sales & Support
          <- #3 200 <Response><Enqueue workflowSid="WW0123456789abcdef0123456789abcdef"><Task priority="5">{"a":1,"call_sid":"spoof"}</Task></Enqueue><Say>Nobody took it</Say><Redirect>/after</Redirect></Response>
          status CA1 in-progress
          create-task WT1 for CA1 workflow=WW0123456789abcdef0123456789abcdef priority=Some(5) timeout=None {"a":1,"account_sid":"AC00000000000000000000000000000001","api_version":"2010-04-01","call_sid":"CA1","call_status":"in-progress","called":"AP0123456789abcdef0123456789abcdef","caller":"client:caller","direction":"inbound","from":"client:caller","to":"AP0123456789abcdef0123456789abcdef"}
        > dial client:bob from C2 -> CA2
          conf CF2 participant-join CA2
          conf CF2 conference-start CA2
          status CA2 ringing
          status CA2 in-progress
          agent-connected CA2 bob
        > move CA1 to C2
          conf CF2 participant-join CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef in-progress
        CA2 client:caller -> client:bob in-progress
        CF1 "C1" in-progress
        CF2 "C2" in-progress
    "#]]);
}

#[test]
fn task_ended_while_queued_resumes_the_program() {
    let mut d = Driver::new();
    d.reply("/voice", Reply::Twiml(ENQUEUE))
        .reply("/after", Reply::Twiml("<Response><Hangup/></Response>"));
    let x = d.dial_app("/voice", &[], "C1");
    d.advance(5_000);
    let task = d.tasks()[0];
    d.task_ended(task);
    assert_eq!(d.status(x), CallStatus::Completed);
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Enqueue workflowSid="WW0123456789abcdef0123456789abcdef"><Task priority="5">{"a":1,"call_sid":"spoof"}</Task></Enqueue><Say>Nobody took it</Say><Redirect>/after</Redirect></Response>
          status CA1 in-progress
          create-task WT1 for CA1 workflow=WW0123456789abcdef0123456789abcdef priority=Some(5) timeout=None {"a":1,"account_sid":"AC00000000000000000000000000000001","api_version":"2010-04-01","call_sid":"CA1","call_status":"in-progress","called":"AP0123456789abcdef0123456789abcdef","caller":"client:caller","direction":"inbound","from":"client:caller","to":"AP0123456789abcdef0123456789abcdef"}
        > task ended WT1
          fetch #5 CA1 POST /after
          <- #5 200 <Response><Hangup/></Response>
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (the application hung up)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn task_ended_with_an_enqueue_action_requests_it() {
    let mut d = Driver::new();
    d.reply(
        "/voice",
        Reply::Twiml(r#"<Response><Enqueue workflowSid="WW1" action="/queue-done"/></Response>"#),
    )
    .reply("/queue-done", Reply::Twiml("<Response/>"));
    d.dial_app("/voice", &[], "C1");
    d.advance(12_345);
    let task = d.tasks()[0];
    d.task_ended(task);
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Enqueue workflowSid="WW1" action="/queue-done"/></Response>
          status CA1 in-progress
          create-task WT1 for CA1 workflow=WW1 priority=None timeout=None {"account_sid":"AC00000000000000000000000000000001","api_version":"2010-04-01","call_sid":"CA1","call_status":"in-progress","called":"AP0123456789abcdef0123456789abcdef","caller":"client:caller","direction":"inbound","from":"client:caller","to":"AP0123456789abcdef0123456789abcdef"}
        > task ended WT1
          fetch #5 CA1 POST /queue-done [QueueResult=leave, QueueTime=12]
          <- #5 200 <Response/>
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (the application's TwiML ended)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn task_refused_without_action_fails_the_call() {
    let mut d = Driver::new();
    d.reply("/voice", Reply::Twiml(ENQUEUE));
    let x = d.dial_app("/voice", &[], "C1");
    d.task_refused(x);
    assert_eq!(d.status(x), CallStatus::Failed);
    // Regression: the task was never created, so it must not be canceled.
    assert!(!d
        .outputs
        .iter()
        .any(|o| matches!(o, Output::CancelTask { .. })));
    assert_eq!(
        d.voice
            .call(x)
            .and_then(|c| c.end_reason.as_ref())
            .and_then(|r| r.code),
        Some(14222)
    );
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Enqueue workflowSid="WW0123456789abcdef0123456789abcdef"><Task priority="5">{"a":1,"call_sid":"spoof"}</Task></Enqueue><Say>Nobody took it</Say><Redirect>/after</Redirect></Response>
          status CA1 in-progress
          create-task WT1 for CA1 workflow=WW0123456789abcdef0123456789abcdef priority=Some(5) timeout=None {"a":1,"account_sid":"AC00000000000000000000000000000001","api_version":"2010-04-01","call_sid":"CA1","call_status":"in-progress","called":"AP0123456789abcdef0123456789abcdef","caller":"client:caller","direction":"inbound","from":"client:caller","to":"AP0123456789abcdef0123456789abcdef"}
        > task refused for CA1
          status CA1 failed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef failed (14222: Enqueue could not create the task: the workflow does not exist)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn task_refused_with_action_requests_it_with_system_error() {
    let mut d = Driver::new();
    d.reply(
        "/voice",
        Reply::Twiml(r#"<Response><Enqueue workflowSid="WW1" action="/queue-done"/></Response>"#),
    )
    .reply(
        "/queue-done",
        Reply::Twiml("<Response><Say>Sorry</Say></Response>"),
    );
    let x = d.dial_app("/voice", &[], "C1");
    d.task_refused(x);
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Enqueue workflowSid="WW1" action="/queue-done"/></Response>
          status CA1 in-progress
          create-task WT1 for CA1 workflow=WW1 priority=None timeout=None {"account_sid":"AC00000000000000000000000000000001","api_version":"2010-04-01","call_sid":"CA1","call_status":"in-progress","called":"AP0123456789abcdef0123456789abcdef","caller":"client:caller","direction":"inbound","from":"client:caller","to":"AP0123456789abcdef0123456789abcdef"}
        > task refused for CA1
          fetch #5 CA1 POST /queue-done [QueueResult=system-error, QueueTime=0]
          <- #5 200 <Response><Say>Sorry</Say></Response>
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (the application's TwiML ended)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn enqueue_without_workflow_is_unsupported() {
    let mut d = Driver::new();
    d.reply(
        "/voice",
        Reply::Twiml("<Response><Enqueue>support</Enqueue></Response>"),
    );
    d.dial_app("/voice", &[], "C1");
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Enqueue>support</Enqueue></Response>
          status CA1 in-progress
          status CA1 failed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef failed (12200: <Enqueue> without workflowSid (a named queue) is not supported; use a TaskRouter workflow)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

// ---------------------------------------------------------------------------------------------
// Hangups

/// A ↔ C1 ↔ X ↔ C2 ↔ B: A rings nobody (alice is its callee, auto-answered, caller end in C1
/// with end_on_exit), X's caller end is in C1 and its callee end is enqueued then moved to C2,
/// B's caller end is in C2 and its callee is bob.
fn bridged_conferences(d: &mut Driver) -> [Sid<Call>; 3] {
    d.reply("/voice", Reply::Twiml(ENQUEUE));
    let a = d.dial(
        Callee::Agent {
            identity: "alice".into(),
            auto_answer: true,
        },
        "C1",
        true,
    );
    let x = d.dial_app("/voice", &[], "C1");
    let b = d.dial_agent("bob", true, "C2");
    d.move_to(x, "C2", true);
    [a, x, b]
}

#[test]
fn hangup_cascades_through_bridged_conferences() {
    let mut d = Driver::new();
    let [a, x, b] = bridged_conferences(&mut d);
    d.advance(60_000);
    d.hangup(a);
    for call in [a, x, b] {
        assert_eq!(d.status(call), CallStatus::Completed);
    }
    assert!(d.voice.conferences().all(|c| c.end_reason.is_some()));
    d.check(expect![[r#"
        > dial client:alice from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          status CA1 in-progress
          agent-connected CA1 alice
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA2
          conf CF1 participant-join CA2
          status CA2 ringing
          fetch #4 CA2 POST /voice
          <- #4 200 <Response><Enqueue workflowSid="WW0123456789abcdef0123456789abcdef"><Task priority="5">{"a":1,"call_sid":"spoof"}</Task></Enqueue><Say>Nobody took it</Say><Redirect>/after</Redirect></Response>
          status CA2 in-progress
          create-task WT1 for CA2 workflow=WW0123456789abcdef0123456789abcdef priority=Some(5) timeout=None {"a":1,"account_sid":"AC00000000000000000000000000000001","api_version":"2010-04-01","call_sid":"CA2","call_status":"in-progress","called":"AP0123456789abcdef0123456789abcdef","caller":"client:caller","direction":"inbound","from":"client:caller","to":"AP0123456789abcdef0123456789abcdef"}
        > dial client:bob from C2 -> CA3
          conf CF2 participant-join CA3
          conf CF2 conference-start CA3
          status CA3 ringing
          status CA3 in-progress
          agent-connected CA3 bob
        > move CA2 to C2
          conf CF2 participant-join CA2
        > hangup CA1
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
          conf CF1 participant-leave CA2
          status CA2 completed
          conf CF2 participant-leave CA2
          conf CF2 conference-end CA2
          conf CF2 participant-leave CA3
          status CA3 completed
          agent-disconnected CA3 bob
          agent-disconnected CA1 alice
        ---
        CA1 client:caller -> client:alice completed (hung up)
        CA2 client:caller -> AP0123456789abcdef0123456789abcdef completed (the conference ended)
        CA3 client:caller -> client:bob completed (the conference ended)
        CF1 "C1" completed (participant-with-end-conference-on-exit-left)
        CF2 "C2" completed (participant-with-end-conference-on-exit-left)
    "#]]);
}

#[test]
fn hangup_while_queued_cancels_the_task() {
    let mut d = Driver::new();
    d.reply("/voice", Reply::Twiml(ENQUEUE));
    let x = d.dial_app("/voice", &[], "C1");
    d.hangup(x);
    // Ending the task afterwards changes nothing.
    let task = d.tasks()[0];
    d.task_ended(task);
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Enqueue workflowSid="WW0123456789abcdef0123456789abcdef"><Task priority="5">{"a":1,"call_sid":"spoof"}</Task></Enqueue><Say>Nobody took it</Say><Redirect>/after</Redirect></Response>
          status CA1 in-progress
          create-task WT1 for CA1 workflow=WW0123456789abcdef0123456789abcdef priority=Some(5) timeout=None {"a":1,"account_sid":"AC00000000000000000000000000000001","api_version":"2010-04-01","call_sid":"CA1","call_status":"in-progress","called":"AP0123456789abcdef0123456789abcdef","caller":"client:caller","direction":"inbound","from":"client:caller","to":"AP0123456789abcdef0123456789abcdef"}
        > hangup CA1
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
          cancel-task WT1 hangup
        > task ended WT1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (hung up)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn hangup_is_idempotent_and_unknown_calls_are_refused() {
    let mut d = Driver::new();
    let call = d.dial_agent("bob", true, "room");
    d.hangup(call);
    let before = d.log.len();
    d.voice.hangup(d.now, call, "again").expect("no error");
    d.pump();
    assert_eq!(d.log.len(), before, "nothing more happens");
    let unknown = Sid::<Call>::from_u128(42);
    assert!(d.voice.hangup(d.now, unknown, "x").is_err());
    assert!(d.voice.answer(d.now, unknown).is_err());
    d.check(expect![[r#"
        > dial client:bob from room -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          status CA1 in-progress
          agent-connected CA1 bob
        > hangup CA1
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
          agent-disconnected CA1 bob
        ---
        CA1 client:caller -> client:bob completed (hung up)
        CF1 "room" completed (last-participant-left)
    "#]]);
}

#[test]
fn external_callee_fails_without_a_trunk() {
    let mut d = Driver::new();
    d.dial(Callee::External("+15005550006".into()), "room", false);
    d.check(expect![[r#"
        > dial +15005550006 from room -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 failed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> +15005550006 failed (13227: +15005550006 cannot be dialed: no telephone trunk is configured)
        CF1 "room" completed (last-participant-left)
    "#]]);
}

// ---------------------------------------------------------------------------------------------
// Webhook failures

fn failing(reply: Reply) -> Driver {
    let mut d = Driver::new();
    d.reply("/voice", reply);
    let x = d.dial_app("/voice", &[], "C1");
    assert_eq!(d.status(x), CallStatus::Failed);
    d
}

#[test]
fn webhook_connection_failure() {
    failing(Reply::Fail(11205, "connection refused")).check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 failure 11205 connection refused
          status CA1 failed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef failed (11205: connection refused)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn webhook_http_error() {
    failing(Reply::Http(500, "oops")).check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 500 oops
          status CA1 failed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef failed (11200: HTTP retrieval failure: https://app.example.com/voice answered 500)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn webhook_garbage() {
    failing(Reply::Twiml("this is not xml")).check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 this is not xml
          status CA1 failed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef failed (12100: https://app.example.com/voice did not answer valid TwiML: not an XML document: text before the root element)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn webhook_unsupported_verb() {
    failing(Reply::Twiml("<Response><Gather/></Response>")).check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Gather/></Response>
          status CA1 failed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef failed (12200: https://app.example.com/voice did not answer valid TwiML: Response/Gather[1]: unsupported verb <Gather>)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn stale_fetch_after_hangup_is_ignored() {
    let mut d = Driver::new();
    d.reply("/voice", Reply::Hold);
    let x = d.dial_app("/voice", &[], "C1");
    d.hangup(x);
    d.answer(Reply::Twiml("<Response><Say>late</Say></Response>"));
    assert_eq!(d.status(x), CallStatus::Canceled);
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
        > hangup CA1
          status CA1 canceled
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
          <- #3 200 <Response><Say>late</Say></Response>
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef canceled (hung up)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

// ---------------------------------------------------------------------------------------------
// TwiML verbs

#[test]
fn say_play_pause_then_document_runs_out() {
    let mut d = Driver::new();
    d.reply(
        "/voice",
        Reply::Twiml(r#"<Response><Say>Hi</Say><Play>https://cdn.example.com/a.mp3</Play><Pause length="3"/><Say>Bye</Say></Response>"#),
    );
    let x = d.dial_app("/voice", &[], "C1");
    assert_eq!(d.status(x), CallStatus::InProgress);
    assert_eq!(d.voice.poll_timeout(), Some(d.now + 3_000));
    d.voice.handle_timeout(d.now + 2_999);
    assert_eq!(d.status(x), CallStatus::InProgress, "still paused");
    d.timeout();
    assert_eq!(d.voice.poll_timeout(), None);
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Say>Hi</Say><Play>https://cdn.example.com/a.mp3</Play><Pause length="3"/><Say>Bye</Say></Response>
          status CA1 in-progress
        > timeout at +3000ms
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (the application's TwiML ended)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn hangup_verb_completes() {
    let mut d = Driver::new();
    d.reply(
        "/voice",
        Reply::Twiml("<Response><Say>Hi</Say><Hangup/><Say>never</Say></Response>"),
    );
    d.dial_app("/voice", &[], "C1");
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Say>Hi</Say><Hangup/><Say>never</Say></Response>
          status CA1 in-progress
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (the application hung up)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn reject_busy_never_answers() {
    let mut d = Driver::new();
    d.reply(
        "/voice",
        Reply::Twiml(r#"<Response><Reject reason="busy"/></Response>"#),
    );
    let x = d.dial_app("/voice", &[], "C1");
    assert_eq!(d.voice.call(x).and_then(|c| c.start_time), None);
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Reject reason="busy"/></Response>
          status CA1 busy
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef busy (the application rejected the call)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn redirect_fetches_the_resolved_url() {
    let mut d = Driver::new();
    d.reply(
        "/flows/voice",
        Reply::Twiml(r#"<Response><Redirect method="GET">next?step=2</Redirect></Response>"#),
    )
    .reply(
        "/flows/next?step=2",
        Reply::Twiml("<Response><Say>there</Say></Response>"),
    );
    d.dial_app("/flows/voice", &[], "C1");
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /flows/voice
          <- #3 200 <Response><Redirect method="GET">next?step=2</Redirect></Response>
          status CA1 in-progress
          fetch #4 CA1 GET /flows/next?step=2
          <- #4 200 <Response><Say>there</Say></Response>
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (the application's TwiML ended)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn pause_is_canceled_by_hangup() {
    let mut d = Driver::new();
    d.reply(
        "/voice",
        Reply::Twiml(r#"<Response><Pause length="10"/><Redirect>/never</Redirect></Response>"#),
    );
    let x = d.dial_app("/voice", &[], "C1");
    d.hangup(x);
    assert_eq!(d.voice.poll_timeout(), None, "the pause timer is gone");
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Pause length="10"/><Redirect>/never</Redirect></Response>
          status CA1 in-progress
        > hangup CA1
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (hung up)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn dial_conference_resumes_with_the_next_verb() {
    let mut d = Driver::new();
    d.reply(
        "/voice",
        Reply::Twiml(r#"<Response><Dial><Conference endConferenceOnExit="false">team</Conference></Dial><Say>after</Say><Redirect>/after</Redirect></Response>"#),
    )
    .reply("/after", Reply::Twiml("<Response><Hangup/></Response>"));
    let x = d.dial_app("/voice", &[], "C1");
    let bob = d.dial(
        Callee::Agent {
            identity: "bob".into(),
            auto_answer: true,
        },
        "team",
        true,
    );
    let team = d.conference("team");
    assert_eq!(
        d.voice.conference(team).map(|c| c.participants.len()),
        Some(2)
    );
    d.hangup(bob);
    assert_eq!(d.status(x), CallStatus::Completed);
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Dial><Conference endConferenceOnExit="false">team</Conference></Dial><Say>after</Say><Redirect>/after</Redirect></Response>
          status CA1 in-progress
          conf CF2 participant-join CA1
          conf CF2 conference-start CA1
        > dial client:bob from team -> CA2
          conf CF2 participant-join CA2
          status CA2 ringing
          status CA2 in-progress
          agent-connected CA2 bob
        > hangup CA2
          status CA2 completed
          conf CF2 participant-leave CA2
          conf CF2 conference-end CA2
          conf CF2 participant-leave CA1
          fetch #6 CA1 POST /after
          agent-disconnected CA2 bob
          <- #6 200 <Response><Hangup/></Response>
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (the application hung up)
        CA2 client:caller -> client:bob completed (hung up)
        CF1 "C1" completed (last-participant-left)
        CF2 "team" completed (participant-with-end-conference-on-exit-left)
    "#]]);
}

#[test]
fn dial_conference_action_is_requested_after_it_ends() {
    let mut d = Driver::new();
    d.reply(
        "/voice",
        Reply::Twiml(r#"<Response><Dial action="next"><Conference>team</Conference></Dial><Say>skipped</Say></Response>"#),
    )
    .reply("/next", Reply::Twiml("<Response><Say>done</Say></Response>"));
    d.dial_app("/voice", &[], "C1");
    let team = d.conference("team");
    d.step("end conference team via API");
    d.voice.end_conference_now(d.now, team).expect("end");
    d.pump();
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Dial action="next"><Conference>team</Conference></Dial><Say>skipped</Say></Response>
          status CA1 in-progress
          conf CF2 participant-join CA1
          conf CF2 conference-start CA1
        > end conference team via API
          conf CF2 conference-end
          conf CF2 participant-leave CA1
          fetch #5 CA1 POST /next
          <- #5 200 <Response><Say>done</Say></Response>
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (the application's TwiML ended)
        CF1 "C1" completed (last-participant-left)
        CF2 "team" completed (conference-ended-via-api)
    "#]]);
}

const DIAL_CLIENTS: &str = r#"<Response><Dial action="/dial-done" timeout="20" callerId="client:support"><Client>bob</Client><Client>carol</Client></Dial></Response>"#;

/// Regression: canceling the siblings of the child that answered used to hang up the parent.
#[test]
fn dial_clients_first_to_answer_wins() {
    let mut d = Driver::new();
    d.reply("/voice", Reply::Twiml(DIAL_CLIENTS)).reply(
        "/dial-done",
        Reply::Twiml("<Response><Say>thanks</Say></Response>"),
    );
    let x = d.dial_app("/voice", &[], "C1");
    let [bob, carol] = d.rung()[..] else {
        panic!("two calls rung")
    };
    d.advance(3_000);
    d.answer_call(carol);
    assert_eq!(d.status(bob), CallStatus::Canceled);
    assert_eq!(d.voice.call(carol).and_then(|c| c.parent), Some(x));
    d.advance(10_000);
    d.hangup(carol);
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Dial action="/dial-done" timeout="20" callerId="client:support"><Client>bob</Client><Client>carol</Client></Dial></Response>
          status CA1 in-progress
          status CA2 ringing
          ring CA2 bob from client:support
          status CA3 ringing
          ring CA3 carol from client:support
        > answer CA3
          status CA3 in-progress
          agent-connected CA3 carol
          status CA2 canceled
          stop-ringing CA2 bob
        > hangup CA3
          status CA3 completed
          fetch #6 CA1 POST /dial-done [DialCallStatus=completed, DialCallSid=CA3]
          agent-disconnected CA3 carol
          <- #6 200 <Response><Say>thanks</Say></Response>
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (the application's TwiML ended)
        CA2 client:support -> client:bob canceled (answered elsewhere)
        CA3 client:support -> client:carol completed (hung up)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

/// Regression: the first ring timeout used to hang up the parent.
#[test]
fn dial_clients_nobody_answers() {
    let mut d = Driver::new();
    d.reply("/voice", Reply::Twiml(DIAL_CLIENTS)).reply(
        "/dial-done",
        Reply::Twiml("<Response><Say>nobody</Say></Response>"),
    );
    d.dial_app("/voice", &[], "C1");
    d.timeout();
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Dial action="/dial-done" timeout="20" callerId="client:support"><Client>bob</Client><Client>carol</Client></Dial></Response>
          status CA1 in-progress
          status CA2 ringing
          ring CA2 bob from client:support
          status CA3 ringing
          ring CA3 carol from client:support
        > timeout at +20000ms
          status CA3 no-answer
          stop-ringing CA3 carol
          status CA2 no-answer
          stop-ringing CA2 bob
          fetch #6 CA1 POST /dial-done [DialCallStatus=no-answer, DialCallSid=CA2]
          <- #6 200 <Response><Say>nobody</Say></Response>
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (the application's TwiML ended)
        CA2 client:support -> client:bob no-answer (no answer)
        CA3 client:support -> client:carol no-answer (no answer)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

/// Regression: one child declining used to hang up the parent (and cancel the other child).
#[test]
fn dial_clients_all_decline() {
    let mut d = Driver::new();
    d.reply("/voice", Reply::Twiml(DIAL_CLIENTS))
        .reply("/dial-done", Reply::Twiml("<Response/>"));
    d.dial_app("/voice", &[], "C1");
    let [bob, carol] = d.rung()[..] else {
        panic!("two calls rung")
    };
    d.decline_call(bob);
    d.decline_call(carol);
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Dial action="/dial-done" timeout="20" callerId="client:support"><Client>bob</Client><Client>carol</Client></Dial></Response>
          status CA1 in-progress
          status CA2 ringing
          ring CA2 bob from client:support
          status CA3 ringing
          ring CA3 carol from client:support
        > decline CA2
          status CA2 busy
          stop-ringing CA2 bob
        > decline CA3
          status CA3 busy
          stop-ringing CA3 carol
          fetch #6 CA1 POST /dial-done [DialCallStatus=busy, DialCallSid=CA3]
          <- #6 200 <Response/>
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (the application's TwiML ended)
        CA2 client:support -> client:bob busy (declined)
        CA3 client:support -> client:carol busy (declined)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn dial_clients_canceled_when_the_caller_hangs_up() {
    let mut d = Driver::new();
    d.reply("/voice", Reply::Twiml(DIAL_CLIENTS));
    let x = d.dial_app("/voice", &[], "C1");
    d.hangup(x);
    assert_eq!(d.voice.poll_timeout(), None, "no ring timers left");
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Dial action="/dial-done" timeout="20" callerId="client:support"><Client>bob</Client><Client>carol</Client></Dial></Response>
          status CA1 in-progress
          status CA2 ringing
          ring CA2 bob from client:support
          status CA3 ringing
          ring CA3 carol from client:support
        > hangup CA1
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
          status CA2 canceled
          stop-ringing CA2 bob
          status CA3 canceled
          stop-ringing CA3 carol
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (hung up)
        CA2 client:support -> client:bob canceled (the caller hung up)
        CA3 client:support -> client:carol canceled (the caller hung up)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

/// Regression: when the parent of an answered `<Dial><Client>` hangs up, its program must not
/// resume (no fetch of the `<Dial action>`, no verbs run on an ended call).
#[test]
fn dial_clients_parent_hangs_up_after_the_bridge() {
    let mut d = Driver::new();
    d.reply("/voice", Reply::Twiml(DIAL_CLIENTS)).reply(
        "/dial-done",
        Reply::Twiml("<Response><Say>thanks</Say></Response>"),
    );
    let x = d.dial_app("/voice", &[], "C1");
    let carol = d.rung()[1];
    d.answer_call(carol);
    d.hangup(x);
    assert_eq!(d.status(carol), CallStatus::Completed);
    assert!(
        !d.outputs
            .iter()
            .any(|o| matches!(o, Output::Fetch { url, .. } if url.ends_with("/dial-done"))),
        "the action of an ended call is not requested"
    );
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Dial action="/dial-done" timeout="20" callerId="client:support"><Client>bob</Client><Client>carol</Client></Dial></Response>
          status CA1 in-progress
          status CA2 ringing
          ring CA2 bob from client:support
          status CA3 ringing
          ring CA3 carol from client:support
        > answer CA3
          status CA3 in-progress
          agent-connected CA3 carol
          status CA2 canceled
          stop-ringing CA2 bob
        > hangup CA1
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
          status CA3 completed
          agent-disconnected CA3 carol
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (hung up)
        CA2 client:support -> client:bob canceled (answered elsewhere)
        CA3 client:support -> client:carol completed (the other party hung up)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn dial_number_without_trunk_fails() {
    let mut d = Driver::new();
    d.reply(
        "/voice",
        Reply::Twiml(r#"<Response><Dial action="/dial-done"><Number>+15005550006</Number></Dial></Response>"#),
    )
    .reply("/dial-done", Reply::Twiml("<Response><Hangup/></Response>"));
    d.dial_app("/voice", &[], "C1");
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Dial action="/dial-done"><Number>+15005550006</Number></Dial></Response>
          status CA1 in-progress
          fetch #4 CA1 POST /dial-done [DialCallStatus=failed]
          <- #4 200 <Response><Hangup/></Response>
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (the application hung up)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

#[test]
fn dial_number_without_action_goes_on() {
    let mut d = Driver::new();
    d.reply(
        "/voice",
        Reply::Twiml(
            r#"<Response><Dial>+15005550006</Dial><Pause length="1"/><Say>after</Say></Response>"#,
        ),
    );
    let x = d.dial_app("/voice", &[], "C1");
    assert_eq!(d.status(x), CallStatus::InProgress, "paused after the dial");
    d.timeout();
    d.check(expect![[r#"
        > dial app:AP0123456789abcdef0123456789abcdef from C1 -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          fetch #3 CA1 POST /voice
          <- #3 200 <Response><Dial>+15005550006</Dial><Pause length="1"/><Say>after</Say></Response>
          status CA1 in-progress
        > timeout at +1000ms
          status CA1 completed
          conf CF1 participant-leave CA1
          conf CF1 conference-end CA1
        ---
        CA1 client:caller -> AP0123456789abcdef0123456789abcdef completed (the application's TwiML ended)
        CF1 "C1" completed (last-participant-left)
    "#]]);
}

// ---------------------------------------------------------------------------------------------
// Participants

#[test]
fn participant_hold_and_mute() {
    let mut d = Driver::new();
    let call = d.dial_agent("bob", true, "room");
    let room = d.conference("room");
    for (hold, muted) in [
        (Some(true), None),
        (Some(true), Some(true)),
        (Some(false), Some(false)),
        (None, None),
    ] {
        d.step(&format!("update {call} hold={hold:?} muted={muted:?}"));
        d.voice
            .update_participant(
                d.now,
                room,
                call,
                ParticipantUpdate {
                    hold,
                    muted,
                    ..ParticipantUpdate::default()
                },
            )
            .expect("update");
        d.pump();
    }
    let other = Sid::<Conference>::from_u128(1);
    assert!(d
        .voice
        .update_participant(d.now, other, call, ParticipantUpdate::hold(true))
        .is_err());
    d.check(expect![[r#"
        > dial client:bob from room -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          status CA1 in-progress
          agent-connected CA1 bob
        > update CA1 hold=Some(true) muted=None
          conf CF1 participant-hold CA1
        > update CA1 hold=Some(true) muted=Some(true)
          conf CF1 participant-mute CA1
        > update CA1 hold=Some(false) muted=Some(false)
          conf CF1 participant-unhold CA1
          conf CF1 participant-unmute CA1
        > update CA1 hold=None muted=None
        ---
        CA1 client:caller -> client:bob in-progress
        CF1 "room" in-progress
    "#]]);
}

#[test]
fn remove_participant_hangs_up_its_call() {
    let mut d = Driver::new();
    let a = d.dial_agent("alice", true, "room");
    let b = d.dial_agent("bob", true, "room");
    let room = d.conference("room");
    d.step(&format!("remove {b}"));
    d.voice.remove_participant(d.now, room, b).expect("remove");
    d.pump();
    assert_eq!(d.status(a), CallStatus::InProgress);
    assert!(
        d.voice.remove_participant(d.now, room, b).is_err(),
        "not a participant any more"
    );
    d.check(expect![[r#"
        > dial client:alice from room -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          status CA1 in-progress
          agent-connected CA1 alice
        > dial client:bob from room -> CA2
          conf CF1 participant-join CA2
          status CA2 ringing
          status CA2 in-progress
          agent-connected CA2 bob
        > remove CA2
          status CA2 completed
          conf CF1 participant-leave CA2
          agent-disconnected CA2 bob
        ---
        CA1 client:caller -> client:alice in-progress
        CA2 client:caller -> client:bob completed (removed from the conference)
        CF1 "room" in-progress
    "#]]);
}

#[test]
fn end_conference_now_ends_everyone() {
    let mut d = Driver::new();
    let a = d.dial_agent("alice", true, "room");
    let b = d.dial_agent("bob", false, "room");
    let room = d.conference("room");
    d.step("end room via API");
    d.voice.end_conference_now(d.now, room).expect("end");
    d.pump();
    assert_eq!(d.status(a), CallStatus::Completed);
    // Regression: a call still ringing when its conference ends was "completed".
    assert_eq!(d.status(b), CallStatus::Canceled);
    d.voice
        .end_conference_now(d.now, room)
        .expect("ending twice is fine");
    assert!(d.voice.take_outputs().is_empty());
    d.check(expect![[r#"
        > dial client:alice from room -> CA1
          conf CF1 participant-join CA1
          conf CF1 conference-start CA1
          status CA1 ringing
          status CA1 in-progress
          agent-connected CA1 alice
        > dial client:bob from room -> CA2
          conf CF1 participant-join CA2
          status CA2 ringing
          ring CA2 bob from client:caller
        > end room via API
          conf CF1 conference-end
          conf CF1 participant-leave CA1
          status CA1 completed
          agent-disconnected CA1 alice
          conf CF1 participant-leave CA2
          status CA2 canceled
          stop-ringing CA2 bob
        ---
        CA1 client:caller -> client:alice completed (the conference ended)
        CA2 client:caller -> client:bob canceled (the conference ended)
        CF1 "room" completed (conference-ended-via-api)
    "#]]);
}

// ---------------------------------------------------------------------------------------------
// Determinism

fn busy_day(seed: u128) -> (Vec<String>, String) {
    let mut d = Driver::with_seed(seed);
    d.reply("/voice", Reply::Twiml(ENQUEUE))
        .reply("/clients", Reply::Twiml(DIAL_CLIENTS))
        .reply("/dial-done", Reply::Twiml("<Response/>"));
    let [a, _, _] = bridged_conferences(&mut d);
    d.dial_app("/clients", &[("k", "v")], "C3");
    d.timeout();
    d.hangup(a);
    let raw: Vec<String> = d.outputs.iter().map(|o| format!("{o:?}")).collect();
    (raw, d.log.join("\n"))
}

#[test]
fn same_inputs_same_outputs() {
    let (raw1, log1) = busy_day(99);
    let (raw2, log2) = busy_day(99);
    assert_eq!(raw1, raw2);
    assert_eq!(log1, log2);
    let (raw3, log3) = busy_day(100);
    assert_ne!(raw1, raw3, "SIDs depend on the seed");
    assert_eq!(log1, log3, "but nothing else does");
}

#[test]
fn a_redirect_loop_ends_the_call_instead_of_running_forever() {
    let mut d = Driver::new();
    d.reply(
        "/loop",
        Reply::Twiml("<Response><Redirect>/loop</Redirect></Response>"),
    );
    let x = d.dial_app("/loop", &[], "C1");
    let call = d.voice.call(x).unwrap();
    assert_eq!(call.status, CallStatus::Failed);
    let reason = call.end_reason.clone().unwrap();
    assert_eq!(reason.code, Some(11215));
    assert!(
        reason.message.contains("more than 100 TwiML documents"),
        "{reason:?}"
    );
}
