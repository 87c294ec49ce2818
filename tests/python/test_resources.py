"""Create / fetch / list / update / delete of every TaskRouter resource through the official library."""

import json

import pytest
from twilio.base.exceptions import TwilioRestException


def assert_gone(fetch):
    with pytest.raises(TwilioRestException) as e:
        fetch()
    assert e.value.status == 404
    assert e.value.code == 20404


def test_workspace_crud(tr, server):
    ws = tr.workspaces.create(friendly_name="CRUD workspace", event_callback_url="http://127.0.0.1:9/cb", multi_task_enabled=True)
    assert ws.sid.startswith("WS") and len(ws.sid) == 34
    assert ws.account_sid == server.account_sid
    assert ws.friendly_name == "CRUD workspace"
    assert ws.event_callback_url == "http://127.0.0.1:9/cb"
    assert ws.multi_task_enabled is True
    assert ws.default_activity_name == "Offline" and ws.timeout_activity_name == "Offline"

    fetched = tr.workspaces(ws.sid).fetch()
    assert fetched.sid == ws.sid and fetched.friendly_name == "CRUD workspace"

    assert ws.sid in [w.sid for w in tr.workspaces.list()]
    named = tr.workspaces.list(friendly_name="CRUD workspace")
    assert [w.sid for w in named] == [ws.sid]

    acts = {a.friendly_name: a for a in tr.workspaces(ws.sid).activities.list()}
    assert set(acts) == {"Offline", "Available", "Unavailable"}
    assert acts["Available"].available is True and acts["Offline"].available is False
    channels = {c.unique_name for c in tr.workspaces(ws.sid).task_channels.list()}
    assert channels == {"default", "voice", "chat", "sms", "video"}

    updated = tr.workspaces(ws.sid).update(friendly_name="Renamed", timeout_activity_sid=acts["Unavailable"].sid)
    assert updated.friendly_name == "Renamed"
    assert updated.timeout_activity_sid == acts["Unavailable"].sid
    assert updated.timeout_activity_name == "Unavailable"
    assert tr.workspaces(ws.sid).fetch().friendly_name == "Renamed"

    assert tr.workspaces(ws.sid).delete() is True
    assert_gone(tr.workspaces(ws.sid).fetch)
    assert ws.sid not in [w.sid for w in tr.workspaces.list()]


def test_activity_crud(ws):
    a = ws.ctx.activities.create(friendly_name="Lunch", available=False)
    assert a.sid.startswith("WA") and a.friendly_name == "Lunch" and a.available is False
    assert a.workspace_sid == ws.sid
    b = ws.ctx.activities.create(friendly_name="Ready", available=True)
    assert b.available is True

    assert ws.ctx.activities(a.sid).fetch().friendly_name == "Lunch"
    names = [x.friendly_name for x in ws.ctx.activities.list()]
    assert sorted(names) == sorted(["Offline", "Available", "Unavailable", "Lunch", "Ready"])

    assert ws.ctx.activities(a.sid).update(friendly_name="Long lunch").friendly_name == "Long lunch"
    assert ws.ctx.activities(a.sid).fetch().friendly_name == "Long lunch"

    assert ws.ctx.activities(a.sid).delete() is True
    assert_gone(ws.ctx.activities(a.sid).fetch)
    assert "Long lunch" not in [x.friendly_name for x in ws.ctx.activities.list()]


def test_task_channel_crud(ws):
    c = ws.ctx.task_channels.create(friendly_name="Email", unique_name="email")
    assert c.sid.startswith("TC") and c.unique_name == "email" and c.friendly_name == "Email"
    assert ws.ctx.task_channels(c.sid).fetch().unique_name == "email"
    # TaskRouter also addresses a channel by its unique name
    assert ws.ctx.task_channels("email").fetch().sid == c.sid
    assert "email" in [x.unique_name for x in ws.ctx.task_channels.list()]

    u = ws.ctx.task_channels(c.sid).update(friendly_name="E-mail", channel_optimized_routing=True)
    assert u.friendly_name == "E-mail"
    assert u.channel_optimized_routing is True
    assert ws.ctx.task_channels(c.sid).fetch().friendly_name == "E-mail"

    assert ws.ctx.task_channels(c.sid).delete() is True
    assert_gone(ws.ctx.task_channels(c.sid).fetch)


def test_worker_crud(ws):
    w = ws.ctx.workers.create(friendly_name="alice", attributes=json.dumps({"skills": ["sales"], "level": 3}))
    assert w.sid.startswith("WK") and w.friendly_name == "alice"
    assert json.loads(w.attributes) == {"skills": ["sales"], "level": 3}
    # a new worker starts in the workspace's default activity
    assert w.activity_sid == ws.offline and w.activity_name == "Offline" and w.available is False

    f = ws.ctx.workers(w.sid).fetch()
    assert f.sid == w.sid and json.loads(f.attributes)["level"] == 3

    assert [x.sid for x in ws.ctx.workers.list()] == [w.sid]

    u = ws.ctx.workers(w.sid).update(activity_sid=ws.available, attributes=json.dumps({"skills": ["support"]}), friendly_name="alice2")
    assert u.activity_sid == ws.available and u.activity_name == "Available" and u.available is True
    assert json.loads(u.attributes) == {"skills": ["support"]}
    assert u.friendly_name == "alice2"
    f = ws.ctx.workers(w.sid).fetch()
    assert f.available is True and f.friendly_name == "alice2"

    assert ws.ctx.workers(w.sid).delete() is True
    assert_gone(ws.ctx.workers(w.sid).fetch)
    assert ws.ctx.workers.list() == []


def test_worker_channels(ws):
    w = ws.worker("bob")
    chans = ws.ctx.workers(w.sid).worker_channels.list()
    by_name = {c.task_channel_unique_name: c for c in chans}
    assert set(by_name) == {"default", "voice", "chat", "sms", "video"}
    voice = by_name["voice"]
    assert voice.worker_sid == w.sid and voice.configured_capacity == 1 and voice.available is True

    f = ws.ctx.workers(w.sid).worker_channels(voice.sid).fetch()
    assert f.sid == voice.sid and f.task_channel_unique_name == "voice"
    # the channel's unique name works in place of the WorkerChannel SID
    assert ws.ctx.workers(w.sid).worker_channels("voice").fetch().sid == voice.sid

    u = ws.ctx.workers(w.sid).worker_channels("chat").update(capacity=3)
    assert u.configured_capacity == 3
    assert ws.ctx.workers(w.sid).worker_channels("chat").fetch().configured_capacity == 3

    u = ws.ctx.workers(w.sid).worker_channels("voice").update(available=False)
    assert u.available is False
    assert ws.ctx.workers(w.sid).worker_channels("voice").fetch().available is False
    u = ws.ctx.workers(w.sid).worker_channels("voice").update(available=True)
    assert u.available is True


def test_task_queue_crud(ws):
    q = ws.ctx.task_queues.create(friendly_name="Sales", target_workers="skills HAS 'sales'", max_reserved_workers=2, task_order="LIFO")
    assert q.sid.startswith("WQ") and q.friendly_name == "Sales"
    assert q.target_workers == "skills HAS 'sales'"
    assert q.max_reserved_workers == 2
    assert q.task_order == "LIFO"

    f = ws.ctx.task_queues(q.sid).fetch()
    assert f.sid == q.sid and f.max_reserved_workers == 2
    assert [x.sid for x in ws.ctx.task_queues.list()] == [q.sid]

    u = ws.ctx.task_queues(q.sid).update(friendly_name="Sales EU", target_workers="region == 'eu'", max_reserved_workers=5, task_order="FIFO")
    assert u.friendly_name == "Sales EU" and u.target_workers == "region == 'eu'"
    assert u.max_reserved_workers == 5 and u.task_order == "FIFO"
    assert ws.ctx.task_queues(q.sid).fetch().target_workers == "region == 'eu'"

    assert ws.ctx.task_queues(q.sid).delete() is True
    assert_gone(ws.ctx.task_queues(q.sid).fetch)


def test_workflow_crud(ws):
    q = ws.queue("Q")
    cfg = {"task_routing": {"filters": [{"filter_friendly_name": "vip", "expression": "vip == true", "targets": [{"queue": q.sid, "priority": 10}]}], "default_filter": {"queue": q.sid}}}
    wf = ws.ctx.workflows.create(friendly_name="Main", configuration=json.dumps(cfg), task_reservation_timeout=45)
    assert wf.sid.startswith("WW") and wf.friendly_name == "Main"
    assert wf.task_reservation_timeout == 45
    got = json.loads(wf.configuration)
    assert got["task_routing"]["filters"][0]["expression"] == "vip == true"
    assert got["task_routing"]["default_filter"]["queue"] == q.sid

    assert ws.ctx.workflows(wf.sid).fetch().task_reservation_timeout == 45
    assert [x.sid for x in ws.ctx.workflows.list()] == [wf.sid]
    assert [x.sid for x in ws.ctx.workflows.list(friendly_name="Main")] == [wf.sid]
    assert ws.ctx.workflows.list(friendly_name="Other") == []

    cfg["task_routing"]["filters"][0]["expression"] = "vip == false"
    u = ws.ctx.workflows(wf.sid).update(friendly_name="Main 2", configuration=json.dumps(cfg), task_reservation_timeout=60)
    assert u.friendly_name == "Main 2" and u.task_reservation_timeout == 60
    assert json.loads(u.configuration)["task_routing"]["filters"][0]["expression"] == "vip == false"
    assert json.loads(ws.ctx.workflows(wf.sid).fetch().configuration)["task_routing"]["filters"][0]["expression"] == "vip == false"

    assert ws.ctx.workflows(wf.sid).delete() is True
    assert_gone(ws.ctx.workflows(wf.sid).fetch)


def test_task_crud(ws):
    q = ws.queue("Q")
    wf = ws.workflow("WF", q.sid)
    t = ws.ctx.tasks.create(workflow_sid=wf.sid, attributes=json.dumps({"type": "support", "n": 1}), priority=5, timeout=600, task_channel="chat")
    assert t.sid.startswith("WT")
    assert json.loads(t.attributes) == {"type": "support", "n": 1}
    assert t.priority == 5 and t.timeout == 600
    assert t.assignment_status == "pending"  # nobody is available
    assert t.workflow_sid == wf.sid and t.task_queue_sid == q.sid
    assert t.task_channel_unique_name == "chat"

    f = ws.ctx.tasks(t.sid).fetch()
    assert f.sid == t.sid and f.task_queue_friendly_name == "Q" and f.workflow_friendly_name == "WF"
    assert [x.sid for x in ws.ctx.tasks.list()] == [t.sid]

    u = ws.ctx.tasks(t.sid).update(attributes=json.dumps({"type": "support", "n": 2}), priority=9)
    assert json.loads(u.attributes)["n"] == 2 and u.priority == 9
    assert ws.ctx.tasks(t.sid).fetch().priority == 9

    c = ws.ctx.tasks(t.sid).update(assignment_status="canceled", reason="caller hung up")
    assert c.assignment_status == "canceled" and c.reason == "caller hung up"
    # a finished task can still be fetched (history)
    assert ws.ctx.tasks(t.sid).fetch().assignment_status == "canceled"

    t2 = ws.ctx.tasks.create(workflow_sid=wf.sid, attributes="{}")
    assert ws.ctx.tasks(t2.sid).delete() is True
    assert_gone(ws.ctx.tasks(t2.sid).fetch)
    assert ws.ctx.tasks(t.sid).delete() is True
    assert_gone(ws.ctx.tasks(t.sid).fetch)
