"""Fixtures for the integration suite: a real Switchboard server and the official Twilio client.

Every server runs the real binary (SWITCHBOARD_BIN, default target/debug/switchboard) on
127.0.0.1 with a free port and a temporary SQLite database. The `twilio` Client reaches it through
an http_client that rewrites the scheme and host of every URL (taskrouter.twilio.com,
api.twilio.com, flex-api.twilio.com, and the absolute next_page_url links the server returns).
"""

import json
import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("SWITCHBOARD_BIN", REPO / "target" / "debug" / "switchboard"))
READY_LINE = re.compile(r"Switchboard (?:is listening|demo is running) at (http://\S+)")
START_DEADLINE = 30.0


def poll(predicate, timeout, interval=0.05, what="condition"):
    """Calls `predicate` until it returns something truthy, or fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


class Server:
    """One running switchboard process."""

    def __init__(self, workdir, account_sid=None, auth_token=None, database=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.database = database or f"sqlite://{self.workdir / 's.db'}"
        self.proc = None
        self.url = None
        self.runs = 0

    @property
    def port(self):
        return urlsplit(self.url).port

    def start(self, command="serve", extra=()):
        if not BIN.exists():
            raise RuntimeError(f"{BIN} does not exist: build it with `cargo build -p switchboard`")
        self.runs += 1
        self.log = self.workdir / f"server-{self.runs}.log"
        env = dict(os.environ)
        env.update(
            TWILIO_ACCOUNT_SID=self.account_sid,
            TWILIO_AUTH_TOKEN=self.auth_token,
            RUST_LOG=env.get("RUST_LOG", "info"),
            NO_COLOR="1",
        )
        for k in ("SWITCHBOARD_LISTEN", "SWITCHBOARD_DATABASE", "SWITCHBOARD_PUBLIC_URL"):
            env.pop(k, None)
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(BIN), command, "--listen", "127.0.0.1:0", "--database", self.database, *extra],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
            )

        def ready_url():
            if self.proc.poll() is not None:
                raise AssertionError(f"switchboard exited with {self.proc.returncode}:\n{self.log_text()}")
            m = READY_LINE.search(self.log_text())
            return m and m.group(1)

        def healthy():
            try:
                return requests.get(self.url + "/healthz", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        try:
            self.url = poll(ready_url, START_DEADLINE, what="the server's ready line")
            poll(healthy, START_DEADLINE, what="/healthz")
        except BaseException:
            self.kill()  # never leave a half-started server behind
            raise
        return self

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def kill(self):
        """SIGKILL: no chance to flush or shut down cleanly."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    # -- clients

    def client(self, username=None, password=None, account_sid=None):
        return Client(
            username or self.account_sid,
            password or self.auth_token,
            account_sid=account_sid,
            http_client=LocalHttpClient(self),
        )

    def raw(self, auth="default"):
        return Raw(self, auth)


class LocalHttpClient(TwilioHttpClient):
    """Sends every request the library makes to our server instead of Twilio's hosts."""

    def __init__(self, server, **kwargs):
        super().__init__(**kwargs)
        self.server = server

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False):
        parts = urlsplit(url)
        target = urlsplit(self.server.url)
        url = urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))
        if timeout is None:
            timeout = 30
        return super().request(method, url, params=params, data=data, headers=headers, auth=auth, timeout=timeout, allow_redirects=allow_redirects)


class Raw:
    """Plain `requests` for what the library cannot express: status codes, headers, raw bodies."""

    def __init__(self, server, auth="default"):
        self.server = server
        self.auth = (server.account_sid, server.auth_token) if auth == "default" else auth

    def request(self, method, path, **kw):
        kw.setdefault("auth", self.auth)
        kw.setdefault("timeout", 30)
        kw.setdefault("allow_redirects", False)
        return requests.request(method, self.server.url + path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def assert_twilio_error(response, status, code=None):
    """The response carries Twilio's error body: exactly code, message, more_info, status."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}, body
    assert body["status"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["code"], int)
    if code is not None:
        assert body["code"] == code, body
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}", body
    return body


# ------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("server")).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(server):
    return server.client()


@pytest.fixture(scope="module")
def tr(client):
    """client.taskrouter.v1"""
    return client.taskrouter.v1


@pytest.fixture(scope="module")
def raw(server):
    return server.raw()


@pytest.fixture
def make_server(tmp_path):
    """Starts extra servers for one test (own database, own credentials); all stopped after."""
    started = []

    def make(command="serve", extra=(), **kw):
        s = Server(tmp_path / f"srv{len(started)}", **kw)
        started.append(s)
        return s.start(command, extra)

    yield make
    for s in started:
        s.stop()


class Ws:
    """A fresh workspace and shortcuts to its resources."""

    def __init__(self, tr, ws, server):
        self.tr = tr
        self.ws = ws
        self.sid = ws.sid
        self.ctx = tr.workspaces(ws.sid)
        self.server = server
        acts = {a.friendly_name: a.sid for a in self.ctx.activities.list()}
        self.activities = acts
        self.available = acts["Available"]
        self.offline = acts["Offline"]
        self.unavailable = acts["Unavailable"]

    def worker(self, name, attributes=None, available=True, **kw):
        return self.ctx.workers.create(
            friendly_name=name,
            attributes=json.dumps(attributes or {}),
            activity_sid=self.available if available else self.offline,
            **kw,
        )

    def queue(self, name, target_workers="1==1", **kw):
        return self.ctx.task_queues.create(friendly_name=name, target_workers=target_workers, **kw)

    def workflow(self, name, queue_sid, expression=None, **kw):
        filters = []
        if expression is not None:
            filters.append({"filter_friendly_name": "f", "expression": expression, "targets": [{"queue": queue_sid}]})
        config = {"task_routing": {"filters": filters, "default_filter": {"queue": queue_sid}}}
        return self.ctx.workflows.create(friendly_name=name, configuration=json.dumps(config), **kw)

    def task(self, workflow_sid, attributes=None, **kw):
        return self.ctx.tasks.create(workflow_sid=workflow_sid, attributes=json.dumps(attributes or {}), **kw)


@pytest.fixture
def ws(tr, server, request):
    """A new workspace per test (isolation without restarting the server)."""
    w = tr.workspaces.create(friendly_name=f"t-{request.node.name}"[:64])
    return Ws(tr, w, server)
