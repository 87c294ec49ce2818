//! Event sequences for each task and reservation lifecycle, as snapshots.
//!
//! Each scenario drives the engine on simulated time and compares the event log with the
//! expected one; `UPDATE_EXPECT=1 cargo test` rewrites the snapshots after a deliberate change.

mod common;

use common::*;
use expect_test::expect;
use switchboard_routing::*;

const SALES_WF: &str = r#"{"task_routing":{"filters":[
  {"filter_friendly_name":"Sales","expression":"type == 'sales'","targets":[{"queue":"${Sales}"}]}
]}}"#;

fn sales_team(h: &mut H) {
    h.worker("alice", r#"{"skills":["sales"]}"#);
    h.at(1.0);
    h.worker("bob", r#"{"skills":["sales"]}"#);
    h.at(2.0);
    h.worker("carol", r#"{"skills":["sales"]}"#);
    h.queue("Sales", "skills HAS 'sales'");
}

#[test]
fn accept_wrap_complete() {
    let mut h = H::new();
    sales_team(&mut h);
    h.workflow("Sales", SALES_WF, 30);
    h.log();
    h.at(10.0);
    let t = h.task(r#"{"type":"sales"}"#);
    h.at(12.0);
    h.accept(t, "alice");
    h.at(40.0);
    h.act(t, "alice", ReservationAction::Wrap);
    h.at(50.0);
    h.act(t, "alice", ReservationAction::Complete);
    expect![[r#"
        [  10.0s] task.created task=#106 status=pending
        [  10.0s] workflow.entered task=#106 status=pending
        [  10.0s] workflow.target-matched task=#106 status=pending queue=Sales filter="Sales"
        [  10.0s] task-queue.entered task=#106 status=pending queue=Sales
        [  10.0s] reservation.created task=#106 status=reserved worker=alice activity=Available queue=Sales
        [  12.0s] reservation.accepted task=#106 status=assigned worker=alice activity=Available queue=Sales
        [  40.0s] task.wrapup task=#106 status=wrapping queue=Sales
        [  40.0s] reservation.wrapup task=#106 status=wrapping worker=alice activity=Available queue=Sales
        [  50.0s] task.completed task=#106 status=completed reason="completed" queue=Sales
        [  50.0s] reservation.completed task=#106 status=completed reason="completed" worker=alice activity=Available queue=Sales
    "#]]
    .assert_eq(&h.log());
    assert_eq!(h.status(t), "gone", "completed tasks leave the engine");
}

#[test]
fn reject_then_next_worker() {
    let mut h = H::new();
    sales_team(&mut h);
    h.workflow("Sales", SALES_WF, 30);
    h.log();
    h.at(10.0);
    let t = h.task(r#"{"type":"sales"}"#);
    h.at(11.0);
    h.reject(t, "alice");
    h.at(12.0);
    h.reject(t, "bob");
    h.at(13.0);
    h.accept(t, "carol");
    expect![[r#"
        [  10.0s] task.created task=#106 status=pending
        [  10.0s] workflow.entered task=#106 status=pending
        [  10.0s] workflow.target-matched task=#106 status=pending queue=Sales filter="Sales"
        [  10.0s] task-queue.entered task=#106 status=pending queue=Sales
        [  10.0s] reservation.created task=#106 status=reserved worker=alice activity=Available queue=Sales
        [  11.0s] reservation.rejected task=#106 status=pending worker=alice activity=Available queue=Sales
        [  11.0s] reservation.created task=#106 status=reserved worker=bob activity=Available queue=Sales
        [  12.0s] reservation.rejected task=#106 status=pending worker=bob activity=Available queue=Sales
        [  12.0s] reservation.created task=#106 status=reserved worker=carol activity=Available queue=Sales
        [  13.0s] reservation.accepted task=#106 status=assigned worker=carol activity=Available queue=Sales
    "#]]
    .assert_eq(&h.log());
}

#[test]
fn reject_with_activity_moves_the_worker() {
    let mut h = H::new();
    sales_team(&mut h);
    h.workflow("Sales", SALES_WF, 30);
    h.log();
    h.at(10.0);
    let t = h.task(r#"{"type":"sales"}"#);
    h.act(
        t,
        "alice",
        ReservationAction::Reject {
            worker_activity_sid: Some(BREAK),
        },
    );
    expect![[r#"
        [  10.0s] task.created task=#106 status=pending
        [  10.0s] workflow.entered task=#106 status=pending
        [  10.0s] workflow.target-matched task=#106 status=pending queue=Sales filter="Sales"
        [  10.0s] task-queue.entered task=#106 status=pending queue=Sales
        [  10.0s] reservation.created task=#106 status=reserved worker=alice activity=Available queue=Sales
        [  10.0s] reservation.rejected task=#106 status=pending worker=alice activity=Available queue=Sales
        [  10.0s] worker.activity.update worker=alice activity=Break previous=Available
        [  10.0s] reservation.created task=#106 status=reserved worker=bob activity=Available queue=Sales
    "#]]
    .assert_eq(&h.log());
}

#[test]
fn reservation_timeout_then_next_worker_and_timeout_activity() {
    let mut h = H::new();
    sales_team(&mut h);
    h.workflow("Sales", SALES_WF, 30);
    h.log();
    h.at(10.0);
    let t = h.task(r#"{"type":"sales"}"#);
    assert_eq!(h.ws.poll_timeout(), Some(Timestamp(40_000)));
    h.at(45.0);
    h.accept(t, "bob");
    expect![[r#"
        [  10.0s] task.created task=#106 status=pending
        [  10.0s] workflow.entered task=#106 status=pending
        [  10.0s] workflow.target-matched task=#106 status=pending queue=Sales filter="Sales"
        [  10.0s] task-queue.entered task=#106 status=pending queue=Sales
        [  10.0s] reservation.created task=#106 status=reserved worker=alice activity=Available queue=Sales
        [  40.0s] reservation.timeout task=#106 status=pending worker=alice activity=Available queue=Sales
        [  40.0s] worker.activity.update worker=alice activity=Offline previous=Available
        [  40.0s] reservation.created task=#106 status=reserved worker=bob activity=Available queue=Sales
        [  45.0s] reservation.accepted task=#106 status=assigned worker=bob activity=Available queue=Sales
    "#]]
    .assert_eq(&h.log());
    let alice = h.worker_sid("alice");
    assert_eq!(h.ws.worker(alice).map(|w| w.activity_sid), Some(OFFLINE));
}

#[test]
fn target_timeout_cascades_to_next_target_then_next_filter_then_cancels() {
    let mut h = H::new();
    h.worker("dave", r#"{"skills":["billing"]}"#);
    h.set_activity("dave", OFFLINE);
    h.queue("Tier1", "skills HAS 'tier1'");
    h.queue("Tier2", "skills HAS 'tier2'");
    h.queue("Billing", "skills HAS 'billing'");
    h.workflow(
        "Support",
        r#"{"task_routing":{"filters":[
          {"filter_friendly_name":"Support","expression":"type == 'support'","targets":[
            {"queue":"${Tier1}","timeout":10},
            {"queue":"${Tier2}","priority":5,"timeout":20}
          ]},
          {"filter_friendly_name":"Anything","expression":"1 == 1","targets":[
            {"queue":"${Billing}","timeout":60}
          ]}
        ]}}"#,
        30,
    );
    h.log();
    let t = h.task(r#"{"type":"support"}"#);
    h.at(200.0);
    expect![[r#"
        [   0.0s] task.created task=#106 status=pending
        [   0.0s] workflow.entered task=#106 status=pending
        [   0.0s] workflow.target-matched task=#106 status=pending queue=Tier1 filter="Support"
        [   0.0s] task-queue.entered task=#106 status=pending queue=Tier1
        [  10.0s] task-queue.timeout task=#106 status=pending queue=Tier1
        [  10.0s] workflow.target-matched task=#106 status=pending priority=5 queue=Tier2 filter="Support"
        [  10.0s] task-queue.moved task=#106 status=pending priority=5 queue=Tier2
        [  30.0s] task-queue.timeout task=#106 status=pending priority=5 queue=Tier2
        [  30.0s] workflow.target-matched task=#106 status=pending priority=5 queue=Billing filter="Anything"
        [  30.0s] task-queue.moved task=#106 status=pending priority=5 queue=Billing
        [  60.0s] task-queue.timeout task=#106 status=pending priority=5 queue=Billing
        [  60.0s] workflow.timeout task=#106 status=canceled priority=5 reason="Workflow Timeout" queue=Billing
        [  60.0s] task.canceled task=#106 status=canceled priority=5 reason="Workflow Timeout" queue=Billing
    "#]]
    .assert_eq(&h.log());
    assert_eq!(h.status(t), "gone");
}

#[test]
fn cascade_keeps_counting_from_task_creation() {
    // Timeouts are cumulative over a filter's targets and measured from the task's creation: the
    // second target's 20 s run from t=0, so the task leaves it at 30 s even though it arrived at 10 s.
    let mut h = H::new();
    h.queue("A", "skills HAS 'a'");
    h.queue("B", "skills HAS 'b'");
    h.workflow(
        "WF",
        r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[
            {"queue":"${A}","timeout":10},{"queue":"${B}","timeout":20}]}]}}"#,
        30,
    );
    h.log();
    h.task("{}");
    h.at(29.9);
    h.at(30.0);
    expect![[r#"
        [   0.0s] task.created task=#104 status=pending
        [   0.0s] workflow.entered task=#104 status=pending
        [   0.0s] workflow.target-matched task=#104 status=pending queue=A
        [   0.0s] task-queue.entered task=#104 status=pending queue=A
        [  10.0s] task-queue.timeout task=#104 status=pending queue=A
        [  10.0s] workflow.target-matched task=#104 status=pending queue=B
        [  10.0s] task-queue.moved task=#104 status=pending queue=B
        [  30.0s] task-queue.timeout task=#104 status=pending queue=B
        [  30.0s] workflow.timeout task=#104 status=canceled reason="Workflow Timeout" queue=B
        [  30.0s] task.canceled task=#104 status=canceled reason="Workflow Timeout" queue=B
    "#]]
    .assert_eq(&h.log());
}

#[test]
fn skip_if_goes_to_default_filter() {
    let mut h = H::new();
    h.worker("erin", r#"{"skills":["general"]}"#);
    h.worker("frank", r#"{"skills":["vip"]}"#);
    h.set_activity("frank", BREAK);
    h.queue("VIP", "skills HAS 'vip'");
    h.queue("General", "skills HAS 'general'");
    h.workflow(
        "WF",
        r#"{"task_routing":{"filters":[
            {"filter_friendly_name":"VIP","expression":"vip == true","targets":[
              {"queue":"${VIP}","skip_if":"workers.available == 0","timeout":300}]}
          ],
          "default_filter":{"queue":"${General}"}}}"#,
        30,
    );
    h.log();
    h.task(r#"{"vip":true}"#);
    expect![[r#"
        [   0.0s] task.created task=#106 status=pending
        [   0.0s] workflow.entered task=#106 status=pending
        [   0.0s] workflow.target-matched task=#106 status=pending queue=VIP filter="VIP"
        [   0.0s] task-queue.entered task=#106 status=pending queue=VIP
        [   0.0s] workflow.target-matched task=#106 status=pending queue=General filter="Default Filter"
        [   0.0s] task-queue.moved task=#106 status=pending queue=General
        [   0.0s] reservation.created task=#106 status=reserved worker=erin activity=Available queue=General
    "#]]
    .assert_eq(&h.log());
}

#[test]
fn skip_if_on_last_target_without_default_cancels() {
    let mut h = H::new();
    h.queue("VIP", "skills HAS 'vip'");
    h.workflow(
        "WF",
        r#"{"task_routing":{"filters":[
            {"expression":"1==1","targets":[{"queue":"${VIP}","skip_if":"1==1"}]}]}}"#,
        30,
    );
    h.log();
    let t = h.task("{}");
    expect![[r#"
        [   0.0s] task.created task=#103 status=pending
        [   0.0s] workflow.entered task=#103 status=pending
        [   0.0s] workflow.target-matched task=#103 status=pending queue=VIP
        [   0.0s] task-queue.entered task=#103 status=pending queue=VIP
        [   0.0s] workflow.skipped task=#103 status=canceled reason="Workflow Skipped" queue=VIP
        [   0.0s] task.canceled task=#103 status=canceled reason="Workflow Skipped" queue=VIP
    "#]]
    .assert_eq(&h.log());
    assert_eq!(h.status(t), "gone");
}

#[test]
fn timeout_does_not_fall_into_default_filter() {
    let mut h = H::new();
    h.queue("A", "skills HAS 'a'");
    h.queue("General", "1==1");
    h.workflow(
        "WF",
        r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"${A}","timeout":5}]}],
            "default_filter":{"queue":"${General}"}}}"#,
        30,
    );
    h.log();
    h.task("{}");
    h.at(5.0);
    expect![[r#"
        [   0.0s] task.created task=#104 status=pending
        [   0.0s] workflow.entered task=#104 status=pending
        [   0.0s] workflow.target-matched task=#104 status=pending queue=A
        [   0.0s] task-queue.entered task=#104 status=pending queue=A
        [   5.0s] task-queue.timeout task=#104 status=pending queue=A
        [   5.0s] workflow.timeout task=#104 status=canceled reason="Workflow Timeout" queue=A
        [   5.0s] task.canceled task=#104 status=canceled reason="Workflow Timeout" queue=A
    "#]]
    .assert_eq(&h.log());
}

#[test]
fn worker_goes_offline_while_reserved() {
    let mut h = H::new();
    sales_team(&mut h);
    h.workflow("Sales", SALES_WF, 30);
    h.log();
    h.at(10.0);
    let t = h.task(r#"{"type":"sales"}"#);
    h.at(11.0);
    h.set_activity("alice", OFFLINE);
    expect![[r#"
        [  10.0s] task.created task=#106 status=pending
        [  10.0s] workflow.entered task=#106 status=pending
        [  10.0s] workflow.target-matched task=#106 status=pending queue=Sales filter="Sales"
        [  10.0s] task-queue.entered task=#106 status=pending queue=Sales
        [  10.0s] reservation.created task=#106 status=reserved worker=alice activity=Available queue=Sales
        [  11.0s] worker.activity.update worker=alice activity=Offline previous=Available
        [  11.0s] reservation.canceled task=#106 status=pending worker=alice activity=Offline queue=Sales
        [  11.0s] reservation.created task=#106 status=reserved worker=bob activity=Available queue=Sales
    "#]]
    .assert_eq(&h.log());
    assert_eq!(h.status(t), "reserved");
}

#[test]
fn reject_pending_reservations_when_going_unavailable() {
    let mut h = H::new();
    sales_team(&mut h);
    h.workflow("Sales", SALES_WF, 30);
    h.log();
    h.at(10.0);
    h.task(r#"{"type":"sales"}"#);
    let alice = h.worker_sid("alice");
    h.ok(Command::UpdateWorker {
        sid: alice,
        update: WorkerUpdate {
            activity_sid: Some(BREAK),
            reject_pending_reservations: true,
            ..Default::default()
        },
    });
    expect![[r#"
        [  10.0s] task.created task=#106 status=pending
        [  10.0s] workflow.entered task=#106 status=pending
        [  10.0s] workflow.target-matched task=#106 status=pending queue=Sales filter="Sales"
        [  10.0s] task-queue.entered task=#106 status=pending queue=Sales
        [  10.0s] reservation.created task=#106 status=reserved worker=alice activity=Available queue=Sales
        [  10.0s] worker.activity.update worker=alice activity=Break previous=Available
        [  10.0s] reservation.rejected task=#106 status=pending worker=alice activity=Break queue=Sales
        [  10.0s] reservation.created task=#106 status=reserved worker=bob activity=Available queue=Sales
    "#]]
    .assert_eq(&h.log());
    let err = h
        .cmd(Command::UpdateWorker {
            sid: alice,
            update: WorkerUpdate {
                activity_sid: Some(AVAILABLE),
                reject_pending_reservations: true,
                ..Default::default()
            },
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "RejectPendingReservations can only be used when moving the worker to an unavailable activity"
    );
}

#[test]
fn task_canceled_while_reserved() {
    let mut h = H::new();
    sales_team(&mut h);
    h.workflow("Sales", SALES_WF, 30);
    h.log();
    h.at(10.0);
    let t = h.task(r#"{"type":"sales"}"#);
    h.at(11.0);
    h.ok(Command::UpdateTask {
        sid: t,
        update: TaskUpdate {
            assignment_status: Some(TaskStatusChange::Canceled),
            reason: Some("caller hung up".into()),
            ..Default::default()
        },
    });
    expect![[r#"
        [  10.0s] task.created task=#106 status=pending
        [  10.0s] workflow.entered task=#106 status=pending
        [  10.0s] workflow.target-matched task=#106 status=pending queue=Sales filter="Sales"
        [  10.0s] task-queue.entered task=#106 status=pending queue=Sales
        [  10.0s] reservation.created task=#106 status=reserved worker=alice activity=Available queue=Sales
        [  11.0s] reservation.canceled task=#106 status=canceled reason="caller hung up" worker=alice activity=Available queue=Sales
        [  11.0s] task.canceled task=#106 status=canceled reason="caller hung up" queue=Sales
    "#]]
    .assert_eq(&h.log());
    // Alice is free again and takes the next task.
    h.task(r#"{"type":"sales"}"#);
    assert!(h.log().contains("reservation.created"));
}

#[test]
fn multi_reservation_first_accept_wins() {
    let mut h = H::new();
    h.worker("alice", r#"{"skills":["sales"]}"#);
    h.at(1.0);
    h.worker("bob", r#"{"skills":["sales"]}"#);
    h.at(2.0);
    h.worker("carol", r#"{"skills":["sales"]}"#);
    h.queue_with("Sales", "skills HAS 'sales'", |q| {
        q.max_reserved_workers = Some(2)
    });
    h.workflow("Sales", SALES_WF, 30);
    h.log();
    h.at(10.0);
    let t = h.task(r#"{"type":"sales"}"#);
    h.at(11.0);
    h.accept(t, "bob");
    let alice = h.worker_sid("alice");
    let rescinded =
        h.ws.reservations()
            .find(|r| r.worker_sid == alice)
            .map(|r| r.sid)
            .unwrap();
    let err = h
        .cmd(Command::UpdateReservation {
            sid: rescinded,
            action: ReservationAction::Accept,
        })
        .unwrap_err();
    assert!(matches!(err, EngineError::Gone { .. }), "{err}");
    expect![[r#"
        [  10.0s] task.created task=#106 status=pending
        [  10.0s] workflow.entered task=#106 status=pending
        [  10.0s] workflow.target-matched task=#106 status=pending queue=Sales filter="Sales"
        [  10.0s] task-queue.entered task=#106 status=pending queue=Sales
        [  10.0s] reservation.created task=#106 status=reserved worker=alice activity=Available queue=Sales
        [  10.0s] reservation.created task=#106 status=reserved worker=bob activity=Available queue=Sales
        [  11.0s] reservation.accepted task=#106 status=assigned worker=bob activity=Available queue=Sales
        [  11.0s] reservation.rescinded task=#106 status=assigned worker=alice activity=Available queue=Sales
    "#]]
    .assert_eq(&h.log());
}

#[test]
fn multi_reservation_rejects_refill_up_to_the_maximum() {
    let mut h = H::new();
    sales_team(&mut h);
    let sales = h.ws.queues().next().unwrap().sid;
    h.ok(Command::UpdateTaskQueue {
        sid: sales,
        update: TaskQueueUpdate {
            max_reserved_workers: Some(2),
            ..Default::default()
        },
    });
    h.workflow("Sales", SALES_WF, 30);
    h.log();
    h.at(10.0);
    let t = h.task(r#"{"type":"sales"}"#);
    h.at(11.0);
    h.reject(t, "alice");
    expect![[r#"
        [  10.0s] task.created task=#106 status=pending
        [  10.0s] workflow.entered task=#106 status=pending
        [  10.0s] workflow.target-matched task=#106 status=pending queue=Sales filter="Sales"
        [  10.0s] task-queue.entered task=#106 status=pending queue=Sales
        [  10.0s] reservation.created task=#106 status=reserved worker=alice activity=Available queue=Sales
        [  10.0s] reservation.created task=#106 status=reserved worker=bob activity=Available queue=Sales
        [  11.0s] reservation.rejected task=#106 status=reserved worker=alice activity=Available queue=Sales
        [  11.0s] reservation.created task=#106 status=reserved worker=carol activity=Available queue=Sales
    "#]]
    .assert_eq(&h.log());
    assert_eq!(h.ws.task(t).unwrap().pending_reservations(), 2);
}

#[test]
fn fifo_serves_priority_then_age_and_lifo_serves_newest() {
    for (order, name) in [(TaskOrder::Fifo, "fifo"), (TaskOrder::Lifo, "lifo")] {
        let mut h = H::new();
        h.worker("alice", r#"{"skills":["sales"]}"#);
        h.set_activity("alice", OFFLINE);
        h.queue_with("Sales", "skills HAS 'sales'", |q| {
            q.task_order = Some(order)
        });
        h.workflow("Sales", SALES_WF, 30);
        let mut tasks = Vec::new();
        for (i, priority) in [0, 5, 0, 5].into_iter().enumerate() {
            h.at(10.0 + i as f64);
            let mut t = h.new_task(r#"{"type":"sales"}"#);
            t.priority = Some(priority);
            tasks.push(t.sid);
            h.ok(Command::CreateTask(t));
        }
        let mut served = Vec::new();
        for i in 0..4 {
            h.at(20.0 + i as f64);
            h.set_activity("alice", AVAILABLE);
            let r = h.reservation_of("alice");
            served.push(tasks.iter().position(|t| *t == r).unwrap());
            h.accept(r, "alice");
            h.act(r, "alice", ReservationAction::Complete);
            h.set_activity("alice", OFFLINE);
        }
        let want = match order {
            // priority 5 first (oldest of them first), then priority 0 oldest first
            TaskOrder::Fifo => vec![1, 3, 0, 2],
            // newest first, priority ignored
            TaskOrder::Lifo => vec![3, 2, 1, 0],
        };
        assert_eq!(served, want, "{name}");
    }
}

#[test]
fn longest_idle_worker_goes_first_then_round_robin() {
    let mut h = H::new();
    sales_team(&mut h);
    h.workflow("Sales", SALES_WF, 30);
    let mut order = Vec::new();
    for i in 0..6 {
        h.at(10.0 + i as f64);
        let t = h.task(r#"{"type":"sales"}"#);
        let w = h.reserved_worker(t);
        order.push(w.clone());
        h.accept(t, &w);
        h.act(t, &w, ReservationAction::Complete);
    }
    assert_eq!(order, ["alice", "bob", "carol", "alice", "bob", "carol"]);
}

#[test]
fn order_by_prefers_the_attribute_then_longest_idle() {
    let mut h = H::new();
    h.worker("junior", r#"{"skills":["sales"],"level":1}"#);
    h.worker("senior", r#"{"skills":["sales"],"level":9}"#);
    h.worker("unrated", r#"{"skills":["sales"]}"#);
    h.worker("mid", r#"{"skills":["sales"],"level":5}"#);
    h.queue("Sales", "skills HAS 'sales'");
    h.workflow(
        "WF",
        r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[
            {"queue":"${Sales}","order_by":"worker.level DESC"}]}]}}"#,
        30,
    );
    let mut order = Vec::new();
    for i in 0..4 {
        h.at(10.0 + i as f64);
        let t = h.task("{}");
        let w = h.reserved_worker(t);
        order.push(w.clone());
        h.accept(t, &w);
    }
    // Missing attributes sort last whatever the direction.
    assert_eq!(order, ["senior", "mid", "junior", "unrated"]);
}

#[test]
fn target_expression_matches_task_to_worker() {
    let mut h = H::new();
    h.worker("ana", r#"{"languages":["es","en"]}"#);
    h.worker("bea", r#"{"languages":["fr"]}"#);
    h.queue("All", "1==1");
    h.workflow(
        "WF",
        r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[
            {"queue":"${All}","expression":"task.language IN worker.languages"}]}]}}"#,
        30,
    );
    let t = h.task(r#"{"language":"fr"}"#);
    assert_eq!(h.reserved_worker(t), "bea");
    let t = h.task(r#"{"language":"es"}"#);
    assert_eq!(h.reserved_worker(t), "ana");
    let t = h.task(r#"{"language":"de"}"#);
    assert_eq!(h.status(t), "pending");
}

#[test]
fn known_worker_waits_for_that_worker_only() {
    let mut h = H::new();
    h.worker("alice", "{}");
    h.worker("bob", "{}");
    h.set_activity("bob", BREAK);
    h.queue("Everyone", "1==1");
    h.workflow(
        "WF",
        r#"{"task_routing":{"filters":[{"expression":"agent != null","targets":[
            {"queue":"${Everyone}","known_worker_sid":"task.agent","priority":1000}]}]}}"#,
        30,
    );
    h.log();
    h.at(5.0);
    let t = h.task(r#"{"agent":"${bob}"}"#);
    h.at(60.0);
    h.set_activity("bob", AVAILABLE);
    expect![[r#"
        [   5.0s] task.created task=#105 status=pending
        [   5.0s] workflow.entered task=#105 status=pending
        [   5.0s] workflow.target-matched task=#105 status=pending priority=1000 queue=Everyone
        [   5.0s] task-queue.entered task=#105 status=pending priority=1000 queue=Everyone
        [  60.0s] worker.activity.update worker=bob activity=Available previous=Break
        [  60.0s] reservation.created task=#105 status=reserved priority=1000 worker=bob activity=Available queue=Everyone
    "#]]
    .assert_eq(&h.log());
    assert_eq!(h.reserved_worker(t), "bob");
}

#[test]
fn known_worker_by_friendly_name_and_unknown_names_wait() {
    let mut h = H::new();
    h.worker("Zoë Ortega", "{}");
    h.queue("Everyone", "1==1");
    h.workflow(
        "WF",
        r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[
            {"queue":"${Everyone}","known_worker_friendly_name":"task.to"}]}]}}"#,
        30,
    );
    let t = h.task(r#"{"to":"zoë ortega"}"#);
    assert_eq!(h.reserved_worker(t), "Zoë Ortega");
    let nobody = h.task(r#"{"to":"nobody"}"#);
    let null = h.task(r#"{"to":null}"#);
    assert_eq!((h.status(nobody), h.status(null)), ("pending", "pending"));
    // A worker created later under that name gets the waiting task.
    h.worker("Nobody", "{}");
    assert_eq!(h.reserved_worker(nobody), "Nobody");
}

#[test]
fn task_ttl_cancels() {
    let mut h = H::new();
    h.queue("Sales", "skills HAS 'sales'");
    h.workflow("Sales", SALES_WF, 30);
    h.log();
    let mut t = h.new_task(r#"{"type":"sales"}"#);
    t.timeout = Some(60);
    h.ok(Command::CreateTask(t));
    h.at(60.0);
    expect![[r#"
        [   0.0s] task.created task=#103 status=pending
        [   0.0s] workflow.entered task=#103 status=pending
        [   0.0s] workflow.target-matched task=#103 status=pending queue=Sales filter="Sales"
        [   0.0s] task-queue.entered task=#103 status=pending queue=Sales
        [  60.0s] task.canceled task=#103 status=canceled reason="Task TTL Exceeded" queue=Sales
    "#]]
    .assert_eq(&h.log());
}

#[test]
fn channel_capacity_is_respected() {
    let mut h = H::new();
    let alice = h.worker("alice", r#"{"skills":["sales"]}"#);
    h.queue("Sales", "skills HAS 'sales'");
    h.workflow("Sales", SALES_WF, 30);
    h.ok(Command::UpdateWorkerChannel {
        worker_sid: alice,
        channel: ChannelRef::UniqueName("chat".into()),
        capacity: Some(2),
        available: None,
    });
    let voice1 = h.task(r#"{"type":"sales"}"#);
    let voice2 = h.task(r#"{"type":"sales"}"#);
    let mut chats = Vec::new();
    for _ in 0..3 {
        let mut t = h.new_task(r#"{"type":"sales"}"#);
        t.task_channel = Some(ChannelRef::UniqueName("chat".into()));
        chats.push(t.sid);
        h.ok(Command::CreateTask(t));
    }
    let statuses: Vec<_> = [voice1, voice2]
        .iter()
        .chain(&chats)
        .map(|t| h.status(*t))
        .collect();
    assert_eq!(
        statuses,
        ["reserved", "pending", "reserved", "reserved", "pending"]
    );
    // Completing the voice task frees voice capacity only.
    h.accept(voice1, "alice");
    h.act(voice1, "alice", ReservationAction::Complete);
    assert_eq!(
        (h.status(voice2), h.status(chats[2])),
        ("reserved", "pending")
    );
}

#[test]
fn single_tasking_uses_reservation_and_assignment_activities() {
    let mut h = H::single_tasking();
    let reserved = switchboard_sid::Sid::from_u128(5);
    let busy = switchboard_sid::Sid::from_u128(6);
    for (sid, name) in [(reserved, "Reserved"), (busy, "Busy")] {
        h.ok(Command::CreateActivity {
            sid,
            friendly_name: name.into(),
            available: false,
        });
    }
    h.worker("alice", r#"{"skills":["sales"]}"#);
    h.queue_with("Sales", "skills HAS 'sales'", |q| {
        q.reservation_activity_sid = Some(reserved);
        q.assignment_activity_sid = Some(busy);
    });
    h.workflow("Sales", SALES_WF, 30);
    h.log();
    let t1 = h.task(r#"{"type":"sales"}"#);
    let t2 = h.task(r#"{"type":"sales"}"#);
    h.accept(t1, "alice");
    expect![[r#"
        [   0.0s] task.created task=#104 status=pending
        [   0.0s] workflow.entered task=#104 status=pending
        [   0.0s] workflow.target-matched task=#104 status=pending queue=Sales filter="Sales"
        [   0.0s] task-queue.entered task=#104 status=pending queue=Sales
        [   0.0s] reservation.created task=#104 status=reserved worker=alice activity=Available queue=Sales
        [   0.0s] worker.activity.update worker=alice activity=Reserved previous=Available
        [   0.0s] task.created task=#105 status=pending
        [   0.0s] workflow.entered task=#105 status=pending
        [   0.0s] workflow.target-matched task=#105 status=pending queue=Sales filter="Sales"
        [   0.0s] task-queue.entered task=#105 status=pending queue=Sales
        [   0.0s] reservation.accepted task=#104 status=assigned worker=alice activity=Reserved queue=Sales
        [   0.0s] worker.activity.update worker=alice activity=Busy previous=Reserved
    "#]]
    .assert_eq(&h.log());
    assert_eq!(h.status(t2), "pending");
}

#[test]
fn attribute_change_moves_a_worker_between_queues() {
    let mut h = H::new();
    let w = h.worker("alice", r#"{"skills":["sales"]}"#);
    let sales = h.queue("Sales", "skills HAS 'sales'");
    let support = h.queue("Support", "skills HAS 'support'");
    h.ok(Command::UpdateWorker {
        sid: w,
        update: WorkerUpdate {
            attributes: Some(r#"{"skills":["support"]}"#.into()),
            ..Default::default()
        },
    });
    assert!(!h.ws.queue(sales).unwrap().has_member(w));
    assert!(h.ws.queue(support).unwrap().has_member(w));
    assert_eq!(h.ws.worker(w).unwrap().queues(), [support]);
}

#[test]
fn time_of_day_target_waits_for_opening_hours() {
    let mut h = H::new();
    h.worker("alice", "{}");
    h.queue("All", "1==1");
    h.workflow(
        "WF",
        r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[
            {"queue":"${All}","expression":"taskrouter.currentHour >= 9"}]}]}}"#,
        30,
    );
    // 2026-11-26T08:59:00Z
    let start = 1_795_683_540.0;
    h.at(start);
    let t = h.task("{}");
    assert_eq!(h.status(t), "pending");
    h.at(start + 59.0);
    assert_eq!(h.status(t), "pending");
    h.at(start + 60.0);
    assert_eq!(h.status(t), "reserved");
}

#[test]
fn validation_errors_name_the_place_and_change_nothing() {
    let mut h = H::new();
    let q = h.queue("Sales", "1==1");
    let wf = h.workflow("WF", SALES_WF, 30);
    let table: &[(&str, &str)] = &[
        (
            r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"${Sales}"}]},
               {"expression":"1==1","targets":[{"queue":"${Sales}","expression":"task.a IN"}]}]}}"#,
            "Configuration is invalid: filters[1].targets[0].expression: expected a value after IN at column 10",
        ),
        (
            r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[{"priority":1}]}]}}"#,
            "Configuration is invalid: filters[0].targets[0].queue: is required on the first target of a filter",
        ),
        (
            r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"WQ00000000000000000000000000000999"}]}]}}"#,
            "Configuration is invalid: filters[0].targets[0].queue: names WQ00000000000000000000000000000999, which is not a task queue of this workspace",
        ),
        (
            r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"${Sales}","timeout":"ten"}]}]}}"#,
            "Configuration is invalid: filters[0].targets[0].timeout: must be an integer, got \"ten\"",
        ),
        (
            r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"${Sales}",
               "known_worker_sid":"task.a","known_worker_friendly_name":"task.b"}]}]}}"#,
            "Configuration is invalid: filters[0].targets[0]: sets both known_worker_sid and known_worker_friendly_name; use one",
        ),
        (
            r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[]}]}}"#,
            "Configuration is invalid: filters[0].targets: must list at least one target",
        ),
        (r#"{"task_routing":"#, "Configuration is not valid JSON: EOF while parsing a value at line 1 column 16"),
    ];
    for (config, want) in table {
        let configuration = h.fill(config);
        let err = h
            .cmd(Command::UpdateWorkflow {
                sid: wf,
                update: WorkflowUpdate {
                    configuration: Some(configuration),
                    ..Default::default()
                },
            })
            .unwrap_err();
        assert_eq!(&err.to_string(), want);
    }
    // Numeric strings are accepted where TaskRouter's own examples use them.
    let ok = h.fill(
        r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"${Sales}","priority":"10","timeout":"10"}]}]}}"#,
    );
    h.ok(Command::UpdateWorkflow {
        sid: wf,
        update: WorkflowUpdate {
            configuration: Some(ok.clone()),
            ..Default::default()
        },
    });
    assert_eq!(&*h.ws.workflow(wf).unwrap().configuration, ok);
    let target = &h.ws.workflow(wf).unwrap().config.filters[0].targets[0];
    assert_eq!(
        (target.queue, target.priority, target.timeout),
        (q, Some(10), Some(10))
    );
}

#[test]
fn a_task_matching_no_filter_is_not_created() {
    let mut h = H::new();
    h.queue("Sales", "1==1");
    h.workflow("Sales", SALES_WF, 30);
    let t = h.new_task(r#"{"type":"other"}"#);
    let sid = t.sid;
    let err = h.cmd(Command::CreateTask(t)).unwrap_err();
    assert!(matches!(err, EngineError::NoMatchingFilter { .. }), "{err}");
    assert!(h.ws.task(sid).is_none());
}

#[test]
fn routing_target_worker_ignores_availability_by_default() {
    let mut h = H::new();
    let alice = h.worker("alice", "{}");
    h.set_activity("alice", OFFLINE);
    let q = h.queue("Outbound", "1==1");
    h.workflow("WF", r#"{"task_routing":{"filters":[]}}"#, 30);
    h.log();
    let mut t = h.new_task(r#"{"to":"client:bob"}"#);
    t.routing_target = Some(RoutingTarget::Worker(alice));
    t.task_queue_sid = Some(q);
    let sid = t.sid;
    h.ok(Command::CreateTask(t));
    h.accept(sid, "alice");
    expect![[r#"
        [   0.0s] task.created task=#104 status=pending queue=Outbound
        [   0.0s] reservation.created task=#104 status=reserved worker=alice activity=Offline queue=Outbound
        [   0.0s] reservation.accepted task=#104 status=assigned worker=alice activity=Offline queue=Outbound
    "#]]
    .assert_eq(&h.log());
}

#[test]
fn same_commands_give_same_events() {
    fn run() -> String {
        let mut h = H::new();
        sales_team(&mut h);
        h.workflow("Sales", SALES_WF, 30);
        let mut out = String::new();
        for i in 0..5 {
            h.at(10.0 * f64::from(i));
            let t = h.task(r#"{"type":"sales"}"#);
            let holder =
                h.ws.reservations()
                    .find(|r| r.task_sid == t && r.status == ReservationStatus::Pending)
                    .map(|r| r.worker_sid);
            if let (0, Some(w)) = (i % 2, holder) {
                let name = h.ws.worker(w).unwrap().friendly_name.to_string();
                h.reject(t, &name);
            }
        }
        h.at(500.0);
        out.push_str(&h.log());
        out
    }
    let first = run();
    assert!(first.contains("reservation.timeout"));
    assert_eq!(first, run());
}

impl H {
    fn reserved_worker(&self, task: switchboard_sid::Sid<switchboard_sid::Task>) -> String {
        let r = self
            .ws
            .reservations()
            .find(|r| r.task_sid == task && r.status == ReservationStatus::Pending)
            .unwrap_or_else(|| panic!("task {task} has no pending reservation"));
        self.ws
            .worker(r.worker_sid)
            .unwrap()
            .friendly_name
            .to_string()
    }

    fn reservation_of(&self, name: &str) -> switchboard_sid::Sid<switchboard_sid::Task> {
        let w = self.worker_sid(name);
        self.ws
            .reservations()
            .find(|r| r.worker_sid == w && r.status == ReservationStatus::Pending)
            .map(|r| r.task_sid)
            .unwrap_or_else(|| panic!("{name} has no pending reservation"))
    }
}
