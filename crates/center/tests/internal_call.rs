//! The internal call on simulated time: agents call agents and queues through the demo's
//! Internal Call application, exactly as the desktop does, and every outcome is checked against
//! snapshots of the routing events and of what each desktop shows.

mod support;

use expect_test::expect;
use support::*;
use switchboard_center::protocol::{Action, ActionData, CallOutcome, CallState, ReservationState};
use switchboard_center::{ConferenceOptions, Input, VoiceRequest};
use switchboard_routing::{Command, WorkflowUpdate};
use switchboard_voice::{End, FetchFailure, FetchResponse};

#[test]
fn agent_calls_agent_connects_then_both_wrap_up_and_complete() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    sim.take_timeline();

    // Alice finds Bob by part of his name; she is not listed herself.
    let ActionData::Agents { agents } = sim
        .act(
            alice,
            Action::DirectoryAgents {
                query: "bro".into(),
            },
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].full_name.as_deref(), Some("Bob Brown"));

    let t1 = sim.call_agent(alice, "bob").unwrap();
    let offer = sim
        .task_named(bob, "Alice Anders")
        .expect("bob is offered alice's call");
    assert_eq!(offer.reservation_status, ReservationState::Pending);
    assert_eq!(offer.queue.as_deref(), Some("Internal Calls"));
    assert_eq!(
        offer.attributes["worker_sid"],
        sim.worker("bob").to_string()
    );
    expect![[r#"
        alice [Available] T1:Accepted/Assigned Outbound Ringing
        bob [Available] T2:Pending/Reserved Inbound Ringing"#]]
    .assert_eq(&sim.summaries(&[alice, bob]));

    sim.accept(bob, &offer);
    expect![[r#"
        alice [Available] T1:Accepted/Assigned Outbound Connected
        bob [Available] T2:Accepted/Assigned Inbound Connected"#]]
    .assert_eq(&sim.summaries(&[alice, bob]));
    // Both tasks share the conversation.
    assert_eq!(
        sim.task_attributes(t1)["conversations"],
        sim.task_attributes(offer.task_sid)["conversations"]
    );
    // Bob's leg cannot use the task's `to` (an application SID) as caller ID: it uses the
    // outbound flow's caller_id, as the internal-call feature's AcceptTask hook does.
    let bob_leg = sim
        .center
        .voice()
        .calls()
        .find(|c| c.to == "client:bob")
        .unwrap();
    assert_eq!(bob_leg.from, "+15005550006");
    assert_eq!(bob_leg.status.as_str(), "in-progress");

    sim.advance(30_000);
    sim.act(
        bob,
        Action::Hangup {
            task_sid: offer.task_sid,
        },
    )
    .unwrap();
    expect![[r#"
        alice [Available] T1:Wrapping/Wrapping Outbound Ended completed
        bob [Available] T2:Wrapping/Wrapping Inbound Ended"#]]
    .assert_eq(&sim.summaries(&[alice, bob]));

    sim.act(
        alice,
        Action::Complete {
            task_sid: t1,
            reason: None,
        },
    )
    .unwrap();
    sim.act(
        bob,
        Action::Complete {
            task_sid: offer.task_sid,
            reason: None,
        },
    )
    .unwrap();
    assert!(sim.state(alice).tasks.is_empty() && sim.state(bob).tasks.is_empty());
    expect![[r#"
        000000 task.created T1
        000000 reservation.created T1 R1 alice
        000000 reservation.accepted T1 R1 alice
        000000 task.created T2
        000000 workflow.entered T2
        000000 workflow.target-matched T2
        000000 task-queue.entered T2
        000000 reservation.created T2 R2 bob
        000000 reservation.accepted T2 R2 bob
        030000 task.wrapup T2
        030000 reservation.wrapup T2 R2 bob
        030000 task.wrapup T1
        030000 reservation.wrapup T1 R1 alice
        030000 task.completed T1
        030000 reservation.completed T1 R1 alice
        030000 task.completed T2
        030000 reservation.completed T2 R2 bob"#]]
    .assert_eq(&sim.take_timeline());
}

#[test]
fn agent_calls_a_queue_and_a_member_answers_after_another_declines() {
    let mut sim = Sim::demo();
    // Support members: bob, carol, eva, zoe. Carol and Eva sign in; the others stay Offline.
    let alice = sim.sign_in("alice");
    let carol = sim.sign_in("carol");
    sim.advance(1_000);
    let eva = sim.sign_in("eva");

    let ActionData::Queues { queues } = sim
        .act(alice, Action::DirectoryQueues { prefix: "".into() })
        .unwrap()
    else {
        panic!()
    };
    let names: Vec<_> = queues.iter().map(|q| q.friendly_name.as_str()).collect();
    assert_eq!(
        names,
        ["Everyone", "Sales", "Support"],
        "sorted, without Internal Calls"
    );

    let t1 = sim.call_queue(alice, "Support").unwrap();
    assert_eq!(sim.call_state(alice, t1), Some(CallState::Ringing));
    // The longest-idle available member rings (carol signed in first); she declines, eva rings.
    let offer = sim.only_task(carol);
    assert_eq!(offer.queue.as_deref(), Some("Support"));
    assert!(sim.state(eva).tasks.is_empty());
    sim.act(
        carol,
        Action::Reject {
            reservation_sid: offer.reservation_sid,
        },
    )
    .unwrap();
    assert!(sim.state(carol).tasks.is_empty());
    let offer = sim.only_task(eva);
    assert_eq!(
        sim.call_state(alice, t1),
        Some(CallState::Ringing),
        "a queue call goes on"
    );
    sim.accept(eva, &offer);
    expect![[r#"
        alice [Available] T1:Accepted/Assigned Outbound Connected
        carol [Available]
        eva [Available] T2:Accepted/Assigned Inbound Connected"#]]
    .assert_eq(&sim.summaries(&[alice, carol, eva]));
    sim.act(alice, Action::Hangup { task_sid: t1 }).unwrap();
    expect![[r#"
        alice [Available] T1:Wrapping/Wrapping Outbound Ended completed
        eva [Available] T2:Wrapping/Wrapping Inbound Ended"#]]
    .assert_eq(&sim.summaries(&[alice, eva]));
}

#[test]
fn a_declined_call_tells_the_caller_and_leaves_nothing_pending() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    let t1 = sim.call_agent(alice, "bob").unwrap();
    let offer = sim.only_task(bob);
    sim.act(
        bob,
        Action::Reject {
            reservation_sid: offer.reservation_sid,
        },
    )
    .unwrap();
    let call = sim.only_task(alice).call.unwrap();
    assert_eq!(call.state, CallState::Ended);
    assert_eq!(call.outcome, Some(CallOutcome::Declined));
    assert!(sim.state(bob).tasks.is_empty());
    assert_eq!(
        sim.task_status(offer.task_sid),
        None,
        "the callee's task is canceled"
    );
    assert_eq!(sim.task_status(t1), Some("wrapping"));
    // Declining one call is not a reason to stop the others.
    assert_eq!(sim.activity_of("bob"), "Available");
}

#[test]
fn an_unanswered_call_times_out_and_the_caller_hears_no_answer() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    let t1 = sim.call_agent(alice, "bob").unwrap();
    assert_eq!(sim.state(bob).tasks.len(), 1);
    // The Internal Call workflow's reservations time out after 30 s.
    sim.advance(29_999);
    assert_eq!(sim.call_state(alice, t1), Some(CallState::Ringing));
    sim.advance(1);
    let call = sim.only_task(alice).call.unwrap();
    assert_eq!(
        (call.state, call.outcome),
        (CallState::Ended, Some(CallOutcome::NoAnswer))
    );
    // TaskRouter moves a worker who lets a reservation time out to the timeout activity.
    assert_eq!(sim.activity_of("bob"), "Offline");
    assert!(sim.state(bob).tasks.is_empty());
}

#[test]
fn calling_an_offline_agent_or_a_busy_one_says_so_at_once() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let carol = sim.sign_in("carol");
    let bob = sim.sign_in("bob");
    // Dmitri never signed in: Offline, so the directory does not list him.
    let ActionData::Agents { agents } = sim
        .act(
            alice,
            Action::DirectoryAgents {
                query: "dmitri".into(),
            },
        )
        .unwrap()
    else {
        panic!()
    };
    assert!(agents.is_empty());
    // Calling him anyway (an old screen) is answered "unavailable", not left ringing.
    let t = sim.call_agent(alice, "dmitri").unwrap();
    assert_eq!(
        sim.only_task(alice).call.unwrap().outcome,
        Some(CallOutcome::Unavailable)
    );
    sim.act(
        alice,
        Action::Complete {
            task_sid: t,
            reason: None,
        },
    )
    .unwrap();

    // Two callers to one agent at once: the first rings, the second hears busy.
    let first = sim.call_agent(alice, "bob").unwrap();
    let second = sim.call_agent(carol, "bob").unwrap();
    assert_eq!(
        sim.only_task(carol).call.unwrap().outcome,
        Some(CallOutcome::Busy)
    );
    assert_eq!(sim.call_state(alice, first), Some(CallState::Ringing));
    assert_eq!(
        sim.state(bob).tasks.len(),
        1,
        "bob is offered one call only"
    );
    let _ = second;
}

#[test]
fn the_caller_hanging_up_while_it_rings_withdraws_the_offer() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    let t1 = sim.call_agent(alice, "bob").unwrap();
    let t2 = sim.only_task(bob).task_sid;
    sim.act(alice, Action::Hangup { task_sid: t1 }).unwrap();
    assert_eq!(
        sim.only_task(alice).call.unwrap().outcome,
        Some(CallOutcome::Canceled)
    );
    assert!(sim.state(bob).tasks.is_empty(), "the offer is withdrawn");
    assert_eq!(sim.task_status(t2), None);
}

#[test]
fn hanging_up_through_the_voice_api_is_the_same_as_from_the_desktop() {
    // One rule for "hang-up before answer = canceled", whichever path hangs up.
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    sim.call_agent(alice, "bob").unwrap();
    let leg = sim.only_task(alice).call.unwrap().call_sid.unwrap();
    sim.handle(Input::Voice(VoiceRequest::Hangup { call: leg }))
        .unwrap();
    assert_eq!(
        sim.only_task(alice).call.unwrap().outcome,
        Some(CallOutcome::Canceled)
    );
    assert!(sim.state(bob).tasks.is_empty());

    // After an answer, either path gives "completed".
    sim.act(
        alice,
        Action::Complete {
            task_sid: sim.only_task(alice).task_sid,
            reason: None,
        },
    )
    .unwrap();
    sim.call_agent(alice, "bob").unwrap();
    let offer = sim.only_task(bob);
    sim.accept(bob, &offer);
    let leg = sim.only_task(alice).call.unwrap().call_sid.unwrap();
    sim.handle(Input::Voice(VoiceRequest::Hangup { call: leg }))
        .unwrap();
    assert_eq!(
        sim.only_task(alice).call.unwrap().outcome,
        Some(CallOutcome::Completed)
    );
}

#[test]
fn hold_and_mute_for_both_agents() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    let t1 = sim.call_agent(alice, "bob").unwrap();
    let offer = sim.only_task(bob);
    let t2 = offer.task_sid;
    sim.accept(bob, &offer);

    sim.hold(alice, t1, true);
    expect![[r#"
        alice [Available] T1:Accepted/Assigned Outbound Connected held
        bob [Available] T2:Accepted/Assigned Inbound Connected"#]]
    .assert_eq(&sim.summaries(&[alice, bob]));
    sim.hold(alice, t1, false);
    sim.hold(bob, t2, true);
    sim.act(
        bob,
        Action::Mute {
            task_sid: t2,
            muted: true,
        },
    )
    .unwrap();
    expect![[r#"
        alice [Available] T1:Accepted/Assigned Outbound Connected
        bob [Available] T2:Accepted/Assigned Inbound Connected muted held"#]]
    .assert_eq(&sim.summaries(&[alice, bob]));
    sim.act(
        bob,
        Action::Mute {
            task_sid: t2,
            muted: false,
        },
    )
    .unwrap();
    sim.hold(bob, t2, false);
    expect![[r#"
        alice [Available] T1:Accepted/Assigned Outbound Connected
        bob [Available] T2:Accepted/Assigned Inbound Connected"#]]
    .assert_eq(&sim.summaries(&[alice, bob]));
    // Nobody acts on someone else's call.
    for action in [
        Action::Mute {
            task_sid: t2,
            muted: true,
        },
        Action::Hangup { task_sid: t2 },
        Action::Hold {
            task_sid: t2,
            hold: true,
        },
    ] {
        let err = sim.act(alice, action).unwrap_err();
        assert_eq!(err.code, 20404, "{err}");
    }
}

#[test]
fn names_with_delimiters_and_accents_survive_the_whole_path() {
    let mut sim = Sim::demo();
    let odd = "Zoë \"Z\" & O=Neil + 李";
    let zoe = sim.worker("zoe");
    let attrs =
        serde_json::json!({"full_name": odd, "contact_uri": "client:zoe", "skills": ["support"]});
    sim.commands(vec![Command::UpdateWorker {
        sid: zoe,
        update: switchboard_routing::WorkerUpdate {
            attributes: Some(attrs.to_string()),
            ..Default::default()
        },
    }])
    .unwrap();
    let alice = sim.sign_in("alice");
    let zoe_s = sim.sign_in("zoe");
    for q in ["zoë", "& o=", "李"] {
        let ActionData::Agents { agents } = sim
            .act(alice, Action::DirectoryAgents { query: q.into() })
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            agents
                .iter()
                .filter(|a| a.full_name.as_deref() == Some(odd))
                .count(),
            1,
            "{q:?}"
        );
    }
    // The caller's name goes through the app: target, the function and the task.
    let caller = "Ann & \"Bo\" = Ça+va?";
    let app = sim.demo.application;
    let destination = format!(
        "app:{app}?worker_sid={zoe}&from={}&conversation_id=c",
        enc(caller)
    );
    sim.act(
        alice,
        Action::StartOutboundCall {
            destination,
            queue_sid: None,
            caller_id: None,
            task_attributes: Some(
                serde_json::json!({"name": odd})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        },
    )
    .unwrap();
    let offer = sim
        .task_named(zoe_s, caller)
        .expect("the name arrives whole");
    sim.accept(zoe_s, &offer);
    let t1 = sim.only_task(alice);
    assert_eq!(t1.call.unwrap().state, CallState::Connected);
    assert_eq!(t1.attributes["name"], odd);
}

#[test]
fn a_queue_nobody_answers_tells_the_caller_after_its_timeout() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let t1 = sim.call_queue(alice, "Support").unwrap();
    sim.advance(QUEUE_CALL_TIMEOUT_SECS as i64 * 1000 - 1);
    assert_eq!(sim.call_state(alice, t1), Some(CallState::Ringing));
    sim.advance(1);
    let call = sim.only_task(alice).call.unwrap();
    assert_eq!(
        (call.state, call.outcome),
        (CallState::Ended, Some(CallOutcome::NoAnswer))
    );
    assert_eq!(sim.task_status(t1), Some("wrapping"));
}

#[test]
fn a_rest_conference_instruction_rings_the_worker_and_connects_on_answer() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let carol = sim.sign_in("carol");
    let t1 = sim.call_queue(alice, "Support").unwrap();
    let offer = sim.only_task(carol);
    // An application (not the desktop) answers the reservation with the conference instruction.
    sim.handle(Input::ConferenceInstruction {
        workspace: sim.demo.workspace,
        reservation: offer.reservation_sid,
        options: ConferenceOptions {
            timeout: Some(20),
            ..Default::default()
        },
    })
    .unwrap();
    assert_eq!(
        sim.only_task(carol).reservation_status,
        ReservationState::Pending
    );
    let ringing = sim.state(carol).incoming_calls.clone();
    assert_eq!(ringing.len(), 1, "the worker's browser rings");
    // Nobody else may answer it.
    let err = sim
        .act(
            alice,
            Action::AnswerCall {
                call_sid: ringing[0].call_sid,
            },
        )
        .unwrap_err();
    assert_eq!(err.code, 20404);
    sim.act(
        carol,
        Action::AnswerCall {
            call_sid: ringing[0].call_sid,
        },
    )
    .unwrap();
    assert_eq!(sim.call_state(alice, t1), Some(CallState::Connected));
    assert_eq!(sim.task_status(offer.task_sid), Some("assigned"));
    assert!(sim.state(carol).incoming_calls.is_empty());
}

#[test]
fn an_unanswered_rest_conference_instruction_rejects_the_reservation() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let carol = sim.sign_in("carol");
    sim.call_queue(alice, "Support").unwrap();
    let offer = sim.only_task(carol);
    sim.handle(Input::ConferenceInstruction {
        workspace: sim.demo.workspace,
        reservation: offer.reservation_sid,
        options: ConferenceOptions {
            timeout: Some(20),
            ..Default::default()
        },
    })
    .unwrap();
    sim.advance(20_000);
    assert!(sim.state(carol).incoming_calls.is_empty());
    assert!(
        sim.state(carol).tasks.is_empty(),
        "the reservation was rejected"
    );
}

#[test]
fn a_conference_instruction_needs_a_pending_reservation_of_a_call_task() {
    let mut sim = Sim::demo();
    let carol = sim.sign_in("carol");
    let alice = sim.sign_in("alice");
    // An ordinary task, even with a call_sid attribute of a live call, is not a call task.
    sim.call_queue(alice, "Support").unwrap();
    let live_call = sim.only_task(carol).attributes["call_sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let task = sim.center.new_sid();
    sim.commands(vec![Command::CreateTask(switchboard_routing::NewTask {
        sid: task,
        attributes: Some(serde_json::json!({"call_sid": live_call}).to_string()),
        workflow_sid: Some(sim.demo.workflows[0]),
        priority: None,
        timeout: None,
        task_channel: None,
        virtual_start_time: None,
        routing_target: None,
        ignore_capacity: None,
        task_queue_sid: None,
    })])
    .unwrap();
    let state = sim.center.model().workspace(sim.demo.workspace).unwrap();
    let r = state.engine.task(task).unwrap().reservations[0];
    let err = sim
        .handle(Input::ConferenceInstruction {
            workspace: sim.demo.workspace,
            reservation: r,
            options: ConferenceOptions::default(),
        })
        .unwrap_err();
    assert_eq!(err.code, 40140, "{err}");
    // A reservation already accepted cannot take the instruction again.
    let offer = sim.task_named(carol, "Alice Anders").unwrap();
    sim.accept(carol, &offer);
    let err = sim
        .handle(Input::ConferenceInstruction {
            workspace: sim.demo.workspace,
            reservation: offer.reservation_sid,
            options: ConferenceOptions::default(),
        })
        .unwrap_err();
    assert_eq!(err.code, 40136, "{err}");
}

#[test]
fn a_dropped_desktop_makes_its_agent_unroutable_after_the_grace_period() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    let t1 = sim.call_agent(alice, "bob").unwrap();
    sim.handle(Input::Disconnect { session: bob }).unwrap();
    sim.advance(2_999);
    assert_eq!(sim.activity_of("bob"), "Available");
    sim.advance(1);
    assert_eq!(sim.activity_of("bob"), "Offline");
    let call = sim.only_task(alice).call.unwrap();
    assert_eq!(
        (call.state, call.outcome),
        (CallState::Ended, Some(CallOutcome::Unavailable))
    );
    let _ = t1;
}

#[test]
fn a_desktop_that_comes_back_within_the_grace_period_keeps_its_agent() {
    let mut sim = Sim::demo();
    let bob = sim.sign_in("bob");
    sim.handle(Input::Disconnect { session: bob }).unwrap();
    sim.advance(2_000);
    let again = sim.connect("bob");
    sim.advance(10_000);
    assert_eq!(sim.activity_of("bob"), "Available");
    assert_eq!(sim.state(again).worker.activity_name, "Available");
}

/// The demo's application pointed at an external voice URL answered by `hook`.
fn external_app(sim: &mut Sim, hook: Webhook) {
    let mut app = sim.center.model().applications()[&sim.demo.application].clone();
    app.voice_url = Some("http://hooks.test/voice".into());
    sim.handle(Input::Changes(vec![
        switchboard_center::Entry::PutApplication { application: app },
    ]))
    .unwrap();
    sim.external = Some(hook);
}

#[test]
fn a_webhook_that_fails_or_answers_garbage_ends_the_call_with_a_reason() {
    for (answer, want) in [
        (
            Err(FetchFailure {
                code: 11205,
                message: "HTTP connection failure: timed out".into(),
            }),
            (Some(11205), "HTTP connection failure: timed out"),
        ),
        (
            Ok(FetchResponse {
                status: 500,
                content_type: None,
                body: "oops".into(),
            }),
            (
                Some(11200),
                "HTTP retrieval failure: http://hooks.test/voice answered 500",
            ),
        ),
        (
            Ok(FetchResponse {
                status: 200,
                content_type: Some("text/xml".into()),
                body: "<Response><Bogus/>".into(),
            }),
            (Some(12100), ""),
        ),
    ] {
        let mut sim = Sim::demo();
        let alice = sim.sign_in("alice");
        sim.sign_in("bob");
        let mut answer = Some(answer);
        external_app(&mut sim, Box::new(move |_, _| answer.take().unwrap()));
        sim.call_agent(alice, "bob").unwrap();
        let call = sim.only_task(alice).call.unwrap();
        assert_eq!(call.state, CallState::Ended);
        let Some(CallOutcome::Failed {
            error_code,
            message,
        }) = call.outcome
        else {
            panic!("{call:?}")
        };
        assert_eq!(error_code, want.0);
        assert!(message.starts_with(want.1), "{message}");
    }
}

#[test]
fn an_external_application_that_enqueues_routes_the_call() {
    // Any voice URL may run the internal call: this one answers the same TwiML the built-in
    // function does, as a customer's own function would.
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    let workflow = switchboard_center::functions::internal_call_workflow(sim.center.model());
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen2 = seen.clone();
    external_app(
        &mut sim,
        Box::new(move |url, params| {
            seen2.borrow_mut().push((url.to_owned(), params.to_vec()));
            let doc = switchboard_center::functions::internal_call_enqueue(params, workflow, 60);
            Ok(FetchResponse {
                status: 200,
                content_type: Some("text/xml".into()),
                body: switchboard_twiml::render(&doc),
            })
        }),
    );
    sim.call_agent(alice, "bob").unwrap();
    let params = &seen.borrow()[0].1;
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("worker_sid"), Some(sim.worker("bob").to_string()));
    assert_eq!(get("from").as_deref(), Some("Alice Anders"));
    assert_eq!(get("Direction").as_deref(), Some("inbound"));
    let offer = sim.only_task(bob);
    sim.accept(bob, &offer);
    assert_eq!(
        sim.only_task(alice).call.unwrap().state,
        CallState::Connected
    );
}

#[test]
fn the_enqueue_function_without_a_destination_ends_the_call() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let app = sim.demo.application;
    sim.act(
        alice,
        Action::StartOutboundCall {
            destination: format!("app:{app}?from=Alice"),
            queue_sid: None,
            caller_id: None,
            task_attributes: None,
        },
    )
    .unwrap();
    let call = sim.only_task(alice).call.unwrap();
    assert_eq!(call.state, CallState::Ended);
    // The far leg ran the function's <Say><Hangup/>: nothing is left ringing.
    assert!(sim.center.voice().calls().all(|c| c.status.is_final()));
    assert!(!sim
        .center
        .voice()
        .calls()
        .any(|c| matches!(c.callee, End::Queued { .. })));
}

#[test]
fn a_workflow_change_applies_to_the_next_call() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    sim.commands(vec![Command::UpdateWorkflow {
        sid: sim.demo.workflows[1],
        update: WorkflowUpdate {
            task_reservation_timeout: Some(1),
            ..Default::default()
        },
    }])
    .unwrap();
    let t1 = sim.call_agent(alice, "bob").unwrap();
    sim.advance(1_000);
    assert!(sim.state(bob).tasks.is_empty());
    assert_eq!(
        sim.only_task(alice).call.unwrap().outcome,
        Some(CallOutcome::NoAnswer)
    );
    let _ = t1;
}
