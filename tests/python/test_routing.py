"""A task's whole life through a workflow, driven by the library: reserve, accept, wrap, complete;
reject; rescind."""

import json

import pytest
from twilio.base.exceptions import TwilioRestException


@pytest.fixture
def sales(ws):
    q = ws.queue("Sales", "skills HAS 'sales'")
    other = ws.queue("Other", "1==1")
    cfg = {"task_routing": {"filters": [
        {"filter_friendly_name": "Sales", "expression": "type == 'sales'", "targets": [{"queue": q.sid}]},
    ], "default_filter": {"queue": other.sid}}}
    ws.wf = ws.ctx.workflows.create(friendly_name="Sales WF", configuration=json.dumps(cfg))
    ws.q = q
    return ws


def test_accept_wrap_complete(sales):
    ws = sales
    nobody = ws.worker("support-only", {"skills": ["support"]})
    alice = ws.worker("alice", {"skills": ["sales"]})
    t = ws.task(ws.wf.sid, {"type": "sales", "customer": "ACME"})
    assert t.task_queue_sid == ws.q.sid

    task = ws.ctx.tasks(t.sid).fetch()
    assert task.assignment_status == "reserved"
    res = ws.ctx.tasks(t.sid).reservations.list()
    assert len(res) == 1
    r = res[0]
    assert r.sid.startswith("WR")
    assert r.worker_sid == alice.sid and r.worker_name == "alice"
    assert r.reservation_status == "pending" and r.task_sid == t.sid
    assert ws.ctx.workers(nobody.sid).reservations.list() == []

    # the same reservation seen from the worker's side
    wr = ws.ctx.workers(alice.sid).reservations(r.sid).fetch()
    assert wr.sid == r.sid and wr.reservation_status == "pending" and wr.task_sid == t.sid
    assert ws.ctx.tasks(t.sid).reservations(r.sid).fetch().worker_sid == alice.sid

    accepted = ws.ctx.tasks(t.sid).reservations(r.sid).update(reservation_status="accepted")
    assert accepted.reservation_status == "accepted"
    assert ws.ctx.tasks(t.sid).fetch().assignment_status == "assigned"
    assert ws.ctx.workers(alice.sid).reservations(r.sid).fetch().reservation_status == "accepted"

    wrapping = ws.ctx.tasks(t.sid).update(assignment_status="wrapping", reason="call ended")
    assert wrapping.assignment_status == "wrapping"
    assert ws.ctx.tasks(t.sid).fetch().assignment_status == "wrapping"

    done = ws.ctx.tasks(t.sid).update(assignment_status="completed", reason="resolved")
    assert done.assignment_status == "completed"
    f = ws.ctx.tasks(t.sid).fetch()
    assert f.assignment_status == "completed" and f.reason == "resolved"
    assert json.loads(f.attributes)["customer"] == "ACME"
    # the reservation is finished with its task, and still readable from both sides
    assert ws.ctx.tasks(t.sid).reservations(r.sid).fetch().reservation_status == "completed"
    assert [x.sid for x in ws.ctx.workers(alice.sid).reservations.list(reservation_status="completed")] == [r.sid]


def test_worker_side_reservation_update(sales):
    ws = sales
    alice = ws.worker("alice", {"skills": ["sales"]})
    t = ws.task(ws.wf.sid, {"type": "sales"})
    r = ws.ctx.workers(alice.sid).reservations.list(reservation_status="pending")[0]
    assert r.task_sid == t.sid
    u = ws.ctx.workers(alice.sid).reservations(r.sid).update(reservation_status="accepted")
    assert u.reservation_status == "accepted" and u.worker_sid == alice.sid
    assert ws.ctx.tasks(t.sid).fetch().assignment_status == "assigned"


def test_reject_moves_worker_and_offers_next(sales):
    ws = sales
    a = ws.worker("a", {"skills": ["sales"]})
    b = ws.worker("b", {"skills": ["sales"]})
    t = ws.task(ws.wf.sid, {"type": "sales"})
    first = ws.ctx.tasks(t.sid).reservations.list(reservation_status="pending")
    assert len(first) == 1
    first = first[0]
    other = b if first.worker_sid == a.sid else a

    rejected = ws.ctx.tasks(t.sid).reservations(first.sid).update(reservation_status="rejected", worker_activity_sid=ws.unavailable)
    assert rejected.reservation_status == "rejected"
    moved = ws.ctx.workers(first.worker_sid).fetch()
    assert moved.activity_sid == ws.unavailable and moved.available is False

    pending = ws.ctx.tasks(t.sid).reservations.list(reservation_status="pending")
    assert [p.worker_sid for p in pending] == [other.sid]
    assert ws.ctx.tasks(t.sid).fetch().assignment_status == "reserved"
    statuses = sorted(r.reservation_status for r in ws.ctx.tasks(t.sid).reservations.list())
    assert statuses == ["pending", "rejected"]


def test_rescinded_reservation_cannot_be_accepted(ws):
    q = ws.queue("Multi", "1==1", max_reserved_workers=2)
    wf = ws.workflow("WF", q.sid)
    ws.worker("a")
    ws.worker("b")
    t = ws.task(wf.sid, {})
    res = ws.ctx.tasks(t.sid).reservations.list()
    assert len(res) == 2 and all(r.reservation_status == "pending" for r in res)
    winner, loser = res
    ws.ctx.tasks(t.sid).reservations(winner.sid).update(reservation_status="accepted")
    assert ws.ctx.tasks(t.sid).reservations(loser.sid).fetch().reservation_status == "rescinded"

    with pytest.raises(TwilioRestException) as e:
        ws.ctx.tasks(t.sid).reservations(loser.sid).update(reservation_status="accepted")
    assert e.value.status == 410
    assert ws.ctx.tasks(t.sid).fetch().assignment_status == "assigned"
    assert ws.ctx.tasks(t.sid).reservations(winner.sid).fetch().reservation_status == "accepted"
