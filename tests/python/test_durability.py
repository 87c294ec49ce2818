"""SIGKILL the server and restart it on the same database: everything acknowledged is still there,
and pending deadlines still fire."""

import json
import time

from conftest import poll


def test_state_and_timers_survive_sigkill(make_server):
    s = make_server("serve")
    tr = s.client().taskrouter.v1
    ws = tr.workspaces.create(friendly_name="durable")
    ctx = tr.workspaces(ws.sid)
    acts = {a.friendly_name: a.sid for a in ctx.activities.list()}
    alice = ctx.workers.create(friendly_name="alice", activity_sid=acts["Available"], attributes=json.dumps({"skills": ["sales"], "n": 1}))
    bob = ctx.workers.create(friendly_name="bob", attributes=json.dumps({"skills": ["support"]}))
    q = ctx.task_queues.create(friendly_name="Sales", target_workers="skills HAS 'sales'", max_reserved_workers=1)
    cfg = {"task_routing": {"filters": [{"filter_friendly_name": "s", "expression": "type == 'sales'", "targets": [{"queue": q.sid}]}],
                            "default_filter": {"queue": q.sid}}}
    wf = ctx.workflows.create(friendly_name="WF", configuration=json.dumps(cfg), task_reservation_timeout=10)
    t = ctx.tasks.create(workflow_sid=wf.sid, attributes=json.dumps({"type": "sales", "customer": "ACME"}))
    reserved_at = time.monotonic()
    r = ctx.tasks(t.sid).reservations.list()[0]
    assert r.reservation_status == "pending" and r.worker_sid == alice.sid
    # the last acknowledged write before the crash
    ctx.workers(bob.sid).update(attributes=json.dumps({"skills": ["support"], "n": 2}))
    ch = ctx.task_channels.create(friendly_name="Email", unique_name="email")

    s.kill()
    s.start("serve")
    tr = s.client().taskrouter.v1
    ctx = tr.workspaces(ws.sid)

    assert tr.workspaces(ws.sid).fetch().friendly_name == "durable"
    assert {a.friendly_name: a.sid for a in ctx.activities.list()} == acts
    a2 = ctx.workers(alice.sid).fetch()
    assert json.loads(a2.attributes) == {"skills": ["sales"], "n": 1}
    assert a2.activity_sid == acts["Available"]
    assert json.loads(ctx.workers(bob.sid).fetch().attributes) == {"skills": ["support"], "n": 2}
    assert ctx.task_channels(ch.sid).fetch().unique_name == "email"
    q2 = ctx.task_queues(q.sid).fetch()
    assert q2.target_workers == "skills HAS 'sales'" and q2.max_reserved_workers == 1
    w2 = ctx.workflows(wf.sid).fetch()
    assert w2.task_reservation_timeout == 10 and json.loads(w2.configuration) == json.loads(wf.configuration)
    t2 = ctx.tasks(t.sid).fetch()
    assert json.loads(t2.attributes) == {"type": "sales", "customer": "ACME"}
    assert t2.task_queue_sid == q.sid and t2.workflow_sid == wf.sid

    # the reservation came back pending (unless the restart took longer than its timeout)
    if time.monotonic() - reserved_at < 9:
        assert t2.assignment_status == "reserved"
        r2 = ctx.tasks(t.sid).reservations(r.sid).fetch()
        assert r2.reservation_status == "pending" and r2.worker_sid == alice.sid

    # and its timer still runs: it times out about 10 s after it was created
    def timed_out():
        return ctx.tasks(t.sid).reservations(r.sid).fetch().reservation_status == "timeout"

    poll(timed_out, timeout=max(1.0, reserved_at + 20 - time.monotonic()), interval=0.2, what="the reservation to time out")
    elapsed = time.monotonic() - reserved_at
    assert elapsed >= 9.0, f"timed out after only {elapsed:.1f}s"
    a3 = ctx.workers(alice.sid).fetch()
    assert a3.activity_sid == acts["Offline"] and a3.activity_name == "Offline" and a3.available is False
    assert ctx.tasks(t.sid).fetch().assignment_status == "pending"


def test_demo_restart_keeps_seeded_workspace(make_server):
    s = make_server("demo", extra=("--fresh",))
    tr = s.client().taskrouter.v1
    wss = tr.workspaces.list(friendly_name="Flex Task Assignment")
    assert len(wss) == 1
    ctx = tr.workspaces(wss[0].sid)
    workers = {w.friendly_name: w for w in ctx.workers.list()}
    assert set(workers) == {"alice", "bob", "carol", "dmitri", "eva", "zoe"}
    # Demo agents start Offline: no call rings an agent nobody has signed in as.
    assert all(w.activity_name == "Offline" for w in workers.values())
    assert {q.friendly_name for q in ctx.task_queues.list()} == {"Everyone", "Sales", "Support", "Internal Calls"}
    assert {w.friendly_name for w in ctx.workflows.list()} == {"Assign to Anyone", "Internal Call"}
    assert {a.friendly_name for a in ctx.activities.list()} == {"Offline", "Available", "Unavailable", "Break"}
    ctx.workers(workers["zoe"].sid).update(attributes=json.dumps({"note": "kept"}))

    s.kill()
    s.start("demo")  # without --fresh: the same workspace, not a second one
    tr = s.client().taskrouter.v1
    again = tr.workspaces.list(friendly_name="Flex Task Assignment")
    assert [w.sid for w in again] == [wss[0].sid]
    ctx = tr.workspaces(wss[0].sid)
    assert json.loads(ctx.workers(workers["zoe"].sid).fetch().attributes) == {"note": "kept"}
    assert len(ctx.workers.list()) == 6
