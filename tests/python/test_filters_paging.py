"""List filters and paging, as the library sends them."""

import json

import pytest


def names(items):
    return sorted(x.friendly_name for x in items)


@pytest.fixture
def staffed(ws):
    """Workers in different activities with skills, and queues over them."""
    ws.worker("ann", {"skills": ["sales"], "level": 5, "region": "eu"})
    ws.worker("ben", {"skills": ["support"], "level": 2, "region": "us"})
    ws.worker("cat", {"skills": ["sales", "support"], "level": 3, "region": "us"}, available=False)
    ws.ctx.workers.create(friendly_name="dan", attributes=json.dumps({"skills": []}), activity_sid=ws.unavailable)
    ws.sales = ws.queue("Sales", "skills HAS 'sales'")
    ws.support = ws.queue("Support", "skills HAS 'support'")
    ws.senior = ws.queue("Senior", "level >= 3")
    return ws


def test_worker_filters(staffed):
    w = staffed.ctx.workers
    assert names(w.list(activity_name="Available")) == ["ann", "ben"]
    assert names(w.list(activity_name="Offline")) == ["cat"]
    assert names(w.list(activity_sid=staffed.unavailable)) == ["dan"]
    assert names(w.list(available=True)) == ["ann", "ben"]
    assert names(w.list(available=False)) == ["cat", "dan"]
    assert names(w.list(friendly_name="ben")) == ["ben"]
    assert w.list(friendly_name="nobody") == []
    assert names(w.list(target_workers_expression="skills HAS 'support'")) == ["ben", "cat"]
    assert names(w.list(target_workers_expression="level > 2 AND region == 'us'")) == ["cat"]
    assert names(w.list(task_queue_name="Sales")) == ["ann", "cat"]
    assert names(w.list(task_queue_sid=staffed.support.sid)) == ["ben", "cat"]
    assert names(w.list(task_queue_sid=staffed.senior.sid, available=True)) == ["ann"]


def test_queue_filters(staffed):
    q = staffed.ctx.task_queues
    assert names(q.list()) == ["Sales", "Senior", "Support"]
    assert names(q.list(friendly_name="Support")) == ["Support"]
    assert names(q.list(evaluate_worker_attributes=json.dumps({"skills": ["sales"], "level": 1}))) == ["Sales"]
    assert names(q.list(evaluate_worker_attributes=json.dumps({"skills": ["support"], "level": 4}))) == ["Senior", "Support"]
    ben = staffed.ctx.workers.list(friendly_name="ben")[0]
    assert names(q.list(worker_sid=ben.sid)) == ["Support"]
    cat = staffed.ctx.workers.list(friendly_name="cat")[0]
    assert names(q.list(worker_sid=cat.sid)) == ["Sales", "Senior", "Support"]


def test_activity_filters(ws):
    ws.ctx.activities.create(friendly_name="Ready", available=True)
    assert names(ws.ctx.activities.list(available=True)) == ["Available", "Ready"]
    assert names(ws.ctx.activities.list(available=False)) == ["Offline", "Unavailable"]
    assert names(ws.ctx.activities.list(friendly_name="Ready")) == ["Ready"]


def test_task_filters(ws):
    sales = ws.queue("Sales", "skills HAS 'sales'")
    support = ws.queue("Support", "skills HAS 'support'")
    cfg = {"task_routing": {"filters": [
        {"filter_friendly_name": "sales", "expression": "type == 'sales'", "targets": [{"queue": sales.sid}]},
    ], "default_filter": {"queue": support.sid}}}
    wf1 = ws.ctx.workflows.create(friendly_name="WF1", configuration=json.dumps(cfg))
    wf2 = ws.workflow("WF2", support.sid)
    ws.worker("ann", {"skills": ["sales"]})  # takes exactly one sales task

    t1 = ws.task(wf1.sid, {"type": "sales", "n": 1}, priority=1)
    t2 = ws.task(wf1.sid, {"type": "sales", "n": 2}, priority=3)
    t3 = ws.task(wf1.sid, {"type": "other", "n": 3}, priority=2)
    t4 = ws.task(wf2.sid, {"type": "other", "n": 4}, priority=2)
    assert ws.ctx.tasks(t1.sid).fetch().assignment_status == "reserved"
    ws.ctx.tasks(t4.sid).update(assignment_status="canceled", reason="test")

    t = ws.ctx.tasks
    sids = lambda items: sorted(x.sid for x in items)  # noqa: E731
    assert sids(t.list(assignment_status=["reserved"])) == [t1.sid]
    assert sids(t.list(assignment_status=["pending"])) == sorted([t2.sid, t3.sid])
    assert sids(t.list(assignment_status=["pending", "reserved"])) == sorted([t1.sid, t2.sid, t3.sid])
    assert sids(t.list(assignment_status=["canceled"])) == [t4.sid]
    assert sids(t.list(workflow_sid=wf2.sid)) == [t4.sid]
    assert sids(t.list(workflow_name="WF1")) == sorted([t1.sid, t2.sid, t3.sid])
    assert sids(t.list(task_queue_name="Sales")) == sorted([t1.sid, t2.sid])
    assert sids(t.list(task_queue_sid=support.sid)) == sorted([t3.sid, t4.sid])
    assert sids(t.list(evaluate_task_attributes="n >= 3")) == sorted([t3.sid, t4.sid])
    assert sids(t.list(evaluate_task_attributes="type == 'sales' AND n == 2")) == [t2.sid]
    assert sids(t.list(priority=2)) == sorted([t3.sid, t4.sid])

    # tasks created within one millisecond may tie on DateCreated; the orders must still agree
    asc = t.list(ordering="DateCreated:asc")
    assert [x.date_created for x in asc] == sorted(x.date_created for x in asc)
    assert sorted(x.sid for x in asc) == sorted([t1.sid, t2.sid, t3.sid, t4.sid])
    desc = t.list(ordering="DateCreated:desc")
    assert [x.date_created for x in desc] == sorted((x.date_created for x in desc), reverse=True)
    assert [x.priority for x in t.list(ordering="Priority:desc")] == [3, 2, 2, 1]
    assert [x.priority for x in t.list(ordering="Priority:asc")] == [1, 2, 2, 3]
    assert [x.sid for x in t.list(ordering="Priority:asc,DateCreated:asc")][0] == t1.sid
    assert [x.sid for x in t.list(ordering="Priority:desc")][0] == t2.sid
    # default order is DateCreated ascending
    assert [x.sid for x in t.list()] == [x.sid for x in asc]


def test_reservation_status_filters(ws):
    q = ws.queue("Q")
    wf = ws.workflow("WF", q.sid)
    ann = ws.worker("ann")
    ws.ctx.workers(ann.sid).worker_channels("default").update(capacity=2)
    t1 = ws.task(wf.sid, {"n": 1})
    t2 = ws.task(wf.sid, {"n": 2})
    r1 = ws.ctx.tasks(t1.sid).reservations.list()[0]
    r2 = ws.ctx.tasks(t2.sid).reservations.list()[0]
    ws.ctx.tasks(t1.sid).reservations(r1.sid).update(reservation_status="accepted")

    res = ws.ctx.workers(ann.sid).reservations
    assert [r.sid for r in res.list(reservation_status="accepted")] == [r1.sid]
    assert [r.sid for r in res.list(reservation_status="pending")] == [r2.sid]
    assert sorted(r.sid for r in res.list()) == sorted([r1.sid, r2.sid])
    assert res.list(reservation_status="rejected") == []
    assert [r.sid for r in ws.ctx.tasks(t2.sid).reservations.list(reservation_status="pending")] == [r2.sid]
    assert ws.ctx.tasks(t2.sid).reservations.list(reservation_status="accepted") == []


def test_paging_over_many_pages(ws):
    made = []
    for i in range(7):
        made.append(ws.ctx.workers.create(friendly_name=f"w{i}").sid)

    listed = [w.sid for w in ws.ctx.workers.list(page_size=3)]
    assert len(listed) == 7 and len(set(listed)) == 7
    assert sorted(listed) == sorted(made)

    streamed = [w.sid for w in ws.ctx.workers.stream(page_size=3)]
    assert streamed == listed
    limited = [w.sid for w in ws.ctx.workers.stream(page_size=3, limit=5)]
    assert limited == listed[:5]

    page = ws.ctx.workers.page(page_size=3)
    seen = []
    pages = 0
    while page is not None:
        records = list(page)
        pages += 1
        assert len(records) == (3 if pages < 3 else 1)
        seen += [w.sid for w in records]
        page = page.next_page()
    assert pages == 3
    assert seen == listed

    # a second page fetched directly, by number
    second = ws.ctx.workers.page(page_size=3, page_number=1)
    assert [w.sid for w in second] == listed[3:6]


def test_paging_meta_raw(ws, raw):
    for i in range(5):
        ws.ctx.workers.create(friendly_name=f"m{i}")
    r = raw.get(f"/v1/Workspaces/{ws.sid}/Workers", params={"PageSize": 2})
    assert r.status_code == 200
    body = r.json()
    meta = body["meta"]
    assert meta["key"] == "workers" and meta["page"] == 0 and meta["page_size"] == 2
    assert len(body["workers"]) == 2
    assert meta["previous_page_url"] is None
    assert meta["next_page_url"].startswith(raw.server.url + f"/v1/Workspaces/{ws.sid}/Workers?")
    last = raw.get(meta["next_page_url"][len(raw.server.url):])
    last = raw.get(last.json()["meta"]["next_page_url"][len(raw.server.url):]).json()
    assert len(last["workers"]) == 1 and last["meta"]["next_page_url"] is None
