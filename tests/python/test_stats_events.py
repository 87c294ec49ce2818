"""Statistics and Events, in Twilio's shapes, read through the library."""

import json

import pytest
from twilio.base.exceptions import TwilioRestException

from conftest import assert_twilio_error

RESERVATION_COUNTS = {
    "reservations_created", "reservations_accepted", "reservations_rejected",
    "reservations_timed_out", "reservations_canceled", "reservations_rescinded",
}
DURATION_KEYS = {"avg", "min", "max", "total"}


@pytest.fixture(scope="module")
def scene(tr, server):
    """One available worker, one offline; t1 accepted and completed, t2 waiting, t3 canceled."""
    ws = tr.workspaces.create(friendly_name="stats")
    ctx = tr.workspaces(ws.sid)
    acts = {a.friendly_name: a.sid for a in ctx.activities.list()}
    a = ctx.workers.create(friendly_name="ava", activity_sid=acts["Available"], attributes=json.dumps({"skills": ["x"]}))
    b = ctx.workers.create(friendly_name="bo", activity_sid=acts["Offline"], attributes=json.dumps({"skills": ["x"]}))
    q = ctx.task_queues.create(friendly_name="XQ", target_workers="skills HAS 'x'")
    q2 = ctx.task_queues.create(friendly_name="Empty", target_workers="skills HAS 'nothing'")
    cfg = {"task_routing": {"filters": [], "default_filter": {"queue": q.sid}}}
    wf = ctx.workflows.create(friendly_name="WF", configuration=json.dumps(cfg))
    t1 = ctx.tasks.create(workflow_sid=wf.sid, attributes=json.dumps({"n": 1}))
    r1 = ctx.tasks(t1.sid).reservations.list()[0]
    assert r1.worker_sid == a.sid
    ctx.tasks(t1.sid).reservations(r1.sid).update(reservation_status="accepted")
    t2 = ctx.tasks.create(workflow_sid=wf.sid, attributes=json.dumps({"n": 2}), priority=5)
    t3 = ctx.tasks.create(workflow_sid=wf.sid, attributes=json.dumps({"n": 3}))
    ctx.tasks(t3.sid).update(assignment_status="canceled", reason="gave up")
    ctx.tasks(t1.sid).update(assignment_status="wrapping")
    ctx.tasks(t1.sid).update(assignment_status="completed", reason="done")
    # t1's worker is free again: t2 is offered to her
    r2 = ctx.tasks(t2.sid).reservations.list()[0]
    ns = type("Scene", (), {})()
    ns.__dict__.update(ws=ws, ctx=ctx, acts=acts, a=a, b=b, q=q, q2=q2, wf=wf, t1=t1, t2=t2, t3=t3, r1=r1, r2=r2, server=server)
    return ns


def check_realtime(rt):
    assert {"activity_statistics", "longest_task_waiting_age", "longest_task_waiting_sid", "tasks_by_priority",
            "tasks_by_status", "total_tasks"} <= set(rt), rt
    assert set(rt["tasks_by_status"]) >= {"pending", "reserved", "assigned", "wrapping"}
    for a in rt["activity_statistics"]:
        assert set(a) >= {"sid", "friendly_name", "workers"}


def check_cumulative(c):
    assert RESERVATION_COUNTS <= set(c), c
    assert {"avg_task_acceptance_time", "start_time", "end_time", "tasks_canceled", "tasks_completed",
            "tasks_deleted", "tasks_moved", "wait_duration_until_accepted", "wait_duration_until_canceled"} <= set(c), c
    assert DURATION_KEYS <= set(c["wait_duration_until_accepted"])
    assert DURATION_KEYS <= set(c["wait_duration_until_canceled"])


def activity_counts(rt):
    return {a["friendly_name"]: a["workers"] for a in rt["activity_statistics"]}


def test_workspace_statistics(scene):
    s = scene.ctx.statistics().fetch()
    assert s.workspace_sid == scene.ws.sid and s.account_sid == scene.server.account_sid
    assert s.url.endswith(f"/v1/Workspaces/{scene.ws.sid}/Statistics")
    check_realtime(s.realtime)
    check_cumulative(s.cumulative)
    rt = s.realtime
    assert rt["total_workers"] == 2
    assert activity_counts(rt) == {"Available": 1, "Offline": 1, "Unavailable": 0}
    assert rt["total_tasks"] == 1  # t2, reserved to ava
    assert rt["tasks_by_status"]["reserved"] == 1
    assert rt["tasks_by_status"]["pending"] == 0 and rt["tasks_by_status"]["assigned"] == 0
    c = s.cumulative
    assert c["tasks_created"] == 3
    assert c["tasks_completed"] == 1 and c["tasks_canceled"] == 1
    assert c["reservations_created"] == 2 and c["reservations_accepted"] == 1


def test_workspace_real_time_and_cumulative(scene):
    rt = scene.ctx.real_time_statistics().fetch()
    assert rt.workspace_sid == scene.ws.sid
    assert rt.total_workers == 2
    assert rt.total_tasks == 1
    assert rt.tasks_by_status["reserved"] == 1
    assert {a["friendly_name"]: a["workers"] for a in rt.activity_statistics}["Available"] == 1
    assert rt.longest_task_waiting_sid == scene.t2.sid
    assert rt.longest_task_waiting_age >= 0

    c = scene.ctx.cumulative_statistics().fetch()
    assert c.workspace_sid == scene.ws.sid
    assert c.tasks_created == 3 and c.tasks_completed == 1 and c.tasks_canceled == 1
    assert c.reservations_accepted == 1 and c.reservations_created == 2
    assert c.start_time is not None and c.end_time is not None and c.start_time <= c.end_time
    assert DURATION_KEYS <= set(c.wait_duration_until_accepted)
    # a window before anything happened counts nothing
    empty = scene.ctx.cumulative_statistics().fetch(end_date=c.start_time)
    assert empty.tasks_created == 0


def test_task_queue_statistics(scene):
    s = scene.ctx.task_queues(scene.q.sid).statistics().fetch()
    assert s.task_queue_sid == scene.q.sid and s.workspace_sid == scene.ws.sid
    check_realtime(s.realtime)
    check_cumulative(s.cumulative)
    assert s.realtime["total_eligible_workers"] == 2
    assert s.realtime["total_available_workers"] == 1
    assert s.cumulative["tasks_entered"] == 3

    rt = scene.ctx.task_queues(scene.q.sid).real_time_statistics().fetch()
    assert rt.task_queue_sid == scene.q.sid
    assert rt.total_eligible_workers == 2 and rt.total_available_workers == 1
    assert rt.total_tasks == 1 and rt.tasks_by_status["reserved"] == 1

    c = scene.ctx.task_queues(scene.q.sid).cumulative_statistics().fetch()
    assert c.task_queue_sid == scene.q.sid
    assert c.tasks_entered == 3 and c.tasks_completed == 1 and c.tasks_canceled == 1
    assert c.reservations_accepted == 1
    assert DURATION_KEYS <= set(c.wait_duration_in_queue_until_accepted)

    e = scene.ctx.task_queues(scene.q2.sid).real_time_statistics().fetch()
    assert e.total_eligible_workers == 0 and e.total_tasks == 0


def test_task_queues_statistics_list(scene):
    rows = scene.ctx.task_queues.statistics.list()
    by_queue = {r.task_queue_sid: r for r in rows}
    assert set(by_queue) == {scene.q.sid, scene.q2.sid}
    assert by_queue[scene.q.sid].cumulative["tasks_entered"] == 3
    assert by_queue[scene.q.sid].realtime["total_eligible_workers"] == 2
    assert by_queue[scene.q2.sid].cumulative["tasks_entered"] == 0
    named = scene.ctx.task_queues.statistics.list(friendly_name="Empty")
    assert [r.task_queue_sid for r in named] == [scene.q2.sid]
    paged = list(scene.ctx.task_queues.statistics.stream(page_size=1))
    assert sorted(r.task_queue_sid for r in paged) == sorted(by_queue)


def test_workers_statistics(scene):
    s = scene.ctx.workers.statistics().fetch()
    assert s.workspace_sid == scene.ws.sid
    assert s.realtime["total_workers"] == 2
    assert activity_counts(s.realtime) == {"Available": 1, "Offline": 1, "Unavailable": 0}
    assert RESERVATION_COUNTS <= set(s.cumulative)
    assert s.cumulative["reservations_accepted"] == 1
    assert s.cumulative["reservations_created"] == 2
    only_queue = scene.ctx.workers.statistics().fetch(task_queue_sid=scene.q2.sid)
    assert only_queue.realtime["total_workers"] == 0

    rt = scene.ctx.workers.real_time_statistics().fetch()
    assert rt.total_workers == 2
    c = scene.ctx.workers.cumulative_statistics().fetch()
    assert c.reservations_accepted == 1
    assert {a["friendly_name"] for a in c.activity_durations} >= {"Available", "Offline"}


def test_worker_statistics(scene):
    s = scene.ctx.workers(scene.a.sid).statistics().fetch()
    assert s.worker_sid == scene.a.sid and s.workspace_sid == scene.ws.sid
    c = s.cumulative
    assert RESERVATION_COUNTS <= set(c), c
    assert c["reservations_created"] == 2
    assert c["reservations_accepted"] == 1
    assert {"start_time", "end_time", "activity_durations"} <= set(c)
    assert "Available" in {a["friendly_name"] for a in c["activity_durations"]}
    other = scene.ctx.workers(scene.b.sid).statistics().fetch()
    assert other.cumulative["reservations_created"] == 0
    with pytest.raises(TwilioRestException) as e:
        scene.ctx.workers("WK" + "0" * 32).statistics().fetch()
    assert e.value.status == 404


def test_events_list_filters_and_fetch(scene, raw):
    ev = scene.ctx.events
    t1_types = [e.event_type for e in ev.list(task_sid=scene.t1.sid)]
    for want in ["task.created", "reservation.created", "reservation.accepted", "task.wrapup", "task.completed"]:
        assert want in t1_types, t1_types
    assert all(e.event_data.get("task_sid") == scene.t1.sid for e in ev.list(task_sid=scene.t1.sid))

    created = ev.list(event_type="task.created")
    assert sorted(e.resource_sid for e in created) == sorted([scene.t1.sid, scene.t2.sid, scene.t3.sid])
    assert all(e.resource_type == "task" for e in created)
    assert [e.event_type for e in ev.list(event_type="task.canceled")] == ["task.canceled"]

    r1 = ev.list(reservation_sid=scene.r1.sid)
    assert {e.event_type for e in r1} >= {"reservation.created", "reservation.accepted"}
    assert {e.event_type for e in r1} <= {"reservation.created", "reservation.accepted", "reservation.completed", "reservation.wrapup"}

    bo = ev.list(worker_sid=scene.b.sid)
    assert all(e.event_data.get("worker_sid") == scene.b.sid for e in bo)
    assert all(e.event_type not in ("reservation.created",) for e in bo)
    assert {e.event_data.get("workflow_sid") for e in ev.list(workflow_sid=scene.wf.sid)} == {scene.wf.sid}
    # nothing was routed to the Empty queue: only its own lifecycle events mention it
    q2_events = ev.list(task_queue_sid=scene.q2.sid)
    assert all(not e.event_type.startswith(("task.", "reservation.")) for e in q2_events), [e.event_type for e in q2_events]
    assert {e.event_data.get("task_queue_sid") for e in q2_events} <= {scene.q2.sid}
    q_types = {e.event_type for e in ev.list(task_queue_sid=scene.q.sid)}
    assert {"task-queue.entered", "reservation.created"} <= q_types, q_types
    assert {e.event_type for e in ev.list(task_channel="default", event_type="task.created")} == {"task.created"}

    one = created[0]
    assert one.sid.startswith("EV") and one.workspace_sid == scene.ws.sid
    assert one.event_date is not None and isinstance(one.event_date_ms, int)
    fetched = ev(one.sid).fetch()
    assert fetched.sid == one.sid and fetched.event_type == "task.created"
    assert fetched.resource_sid == one.resource_sid
    assert fetched.event_data == one.event_data
    assert [e.sid for e in ev.list(sid=one.sid)] == [one.sid]

    every = ev.list()
    assert len(every) >= 10
    assert [e.sid for e in ev.stream(page_size=3)] == [e.sid for e in every]
    assert len({e.sid for e in every}) == len(every)

    # a window that ends before the workspace existed is empty
    assert ev.list(end_date=scene.ws.date_created.replace(year=2000)) == []

    assert_twilio_error(raw.get(f"/v1/Workspaces/{scene.ws.sid}/Events/EV{'0' * 32}"), 404, 20404)
    r = raw.get(f"/v1/Workspaces/{scene.ws.sid}/Events", params={"EventType": "no.such"})
    assert r.status_code in (200, 400)
    if r.status_code == 200:
        assert r.json()["events"] == []
    body = raw.get(f"/v1/Workspaces/{scene.ws.sid}/Events", params={"PageSize": 2}).json()
    assert body["meta"]["key"] == "events" and len(body["events"]) == 2
