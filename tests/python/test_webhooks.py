"""Event webhooks reach a receiver the test runs, form-encoded and signed, and are retried."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
from twilio.request_validator import RequestValidator

from conftest import poll


class Receiver:
    """A small HTTP server on 127.0.0.1 that records every POST; it can refuse the first ones."""

    def __init__(self, fail_first=0):
        self.received = []
        self.fail_first = fail_first
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                with outer.lock:
                    outer.received.append({
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "params": dict(parse_qsl(body, keep_blank_values=True)),
                    })
                    refuse = len(outer.received) <= outer.fail_first
                self.send_response(500 if refuse else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/events"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def events(self, event_type=None):
        with self.lock:
            return [r for r in self.received if event_type is None or r["params"].get("EventType") == event_type]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_task_and_reservation_events_are_posted_and_signed(tr, server, receiver):
    ws = tr.workspaces.create(friendly_name="hooks", event_callback_url=receiver.url)
    assert ws.event_callback_url == receiver.url
    ctx = tr.workspaces(ws.sid)
    available = ctx.activities.list(friendly_name="Available")[0].sid
    worker = ctx.workers.create(friendly_name="ann", activity_sid=available)
    q = ctx.task_queues.create(friendly_name="Q", target_workers="1==1")
    wf = ctx.workflows.create(friendly_name="WF", configuration=json.dumps({"task_routing": {"filters": [], "default_filter": {"queue": q.sid}}}))
    task = ctx.tasks.create(workflow_sid=wf.sid, attributes=json.dumps({"type": "hook", "n": 7}))

    created = poll(lambda: receiver.events("task.created"), 10, what="task.created")
    reserved = poll(lambda: receiver.events("reservation.created"), 10, what="reservation.created")
    assert len(created) == 1 and len(reserved) == 1

    hit = created[0]
    p = hit["params"]
    assert hit["path"] == "/events"
    assert hit["headers"]["content-type"].startswith("application/x-www-form-urlencoded")
    assert p["TaskSid"] == task.sid
    assert p["WorkspaceSid"] == ws.sid
    assert p["AccountSid"] == server.account_sid
    assert p["WorkspaceName"] == "hooks"
    assert p["ResourceType"] == "task" and p["ResourceSid"] == task.sid
    assert p["Sid"].startswith("EV")
    assert json.loads(p["TaskAttributes"]) == {"type": "hook", "n": 7}
    assert p["Timestamp"].isdigit()

    r = reserved[0]["params"]
    assert r["TaskSid"] == task.sid and r["WorkerSid"] == worker.sid
    assert r["ReservationSid"].startswith("WR") and r["WorkspaceSid"] == ws.sid

    validator = RequestValidator(server.auth_token)
    for hit in receiver.events():
        sig = hit["headers"].get("x-twilio-signature")
        assert sig, hit
        assert validator.validate(receiver.url, hit["params"], sig), hit["params"]
        # and a tampered body would not validate
        forged = dict(hit["params"], EventType="task.forged")
        assert not validator.validate(receiver.url, forged, sig)
    assert not RequestValidator("not-the-token").validate(receiver.url, created[0]["params"], created[0]["headers"]["x-twilio-signature"])


def test_refused_webhook_is_retried(tr):
    receiver = Receiver(fail_first=1)
    try:
        ws = tr.workspaces.create(friendly_name="retry", event_callback_url=receiver.url, events_filter="task.created")
        ctx = tr.workspaces(ws.sid)
        q = ctx.task_queues.create(friendly_name="Q", target_workers="1==1")
        wf = ctx.workflows.create(friendly_name="WF", configuration=json.dumps({"task_routing": {"filters": [], "default_filter": {"queue": q.sid}}}))
        task = ctx.tasks.create(workflow_sid=wf.sid, attributes="{}")
        hits = poll(lambda: len(receiver.events()) >= 2 and receiver.events(), 15, what="the retry")
        assert hits[0]["params"]["EventType"] == "task.created" and hits[0]["params"]["TaskSid"] == task.sid
        # the retry is the same event (same Sid), not a new one
        assert hits[1]["params"] == hits[0]["params"]
        # events_filter: only task.created was sent
        assert {h["params"]["EventType"] for h in receiver.events()} == {"task.created"}
    finally:
        receiver.close()
