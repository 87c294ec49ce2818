"""Every route the server defines refuses missing and wrong credentials. The only exceptions are
named here: health checks, the desktop's static pages (no data), and the desktop WebSocket, which
authenticates with an access token instead."""

import base64
import re

import pytest
from twilio.base.exceptions import TwilioRestException

from conftest import REPO, assert_twilio_error

API_DIR = REPO / "crates" / "server" / "src" / "api"
DUMMY = {
    "Workspaces": "WS", "Activities": "WA", "TaskChannels": "TC", "Workers": "WK", "TaskQueues": "WQ",
    "Workflows": "WW", "Tasks": "WT", "Reservations": "WR", "Channels": "WC", "Keys": "SK", "Events": "EV",
}


def declared_routes():
    """(path template, methods) for every `.route(...)` in crates/server/src/api/*.rs."""
    routes = []
    for f in sorted(API_DIR.glob("*.rs")):
        src = f.read_text()
        consts = dict(re.findall(r'let\s+(\w+)\s*=\s*"([^"]*)"\s*;', src))
        consts.update(re.findall(r'const\s+(\w+)\s*:\s*&str\s*=\s*"([^"]*)"\s*;', src))
        for chunk in src.split(".route(")[1:]:
            m = re.match(r'\s*(?:&\s*format!\(\s*)?"([^"]+)"', chunk)
            if not m:
                continue
            path = m.group(1)
            for name, value in consts.items():
                path = path.replace("{" + name + "}", value)
            path = path.replace("{{", "{").replace("}}", "}")
            # the method router is the rest of this .route(...) call
            depth, end = 1, len(chunk)
            for i, ch in enumerate(chunk):
                depth += ch == "("
                depth -= ch == ")"
                if depth == 0:
                    end = i
                    break
            methods = sorted({x.upper() for x in re.findall(r"\b(get|post|delete|put|patch)\s*\(", chunk[m.end():end])})
            routes.append((path, methods, f.name))
    return routes


def concrete(path, real):
    """Fills `{param}` segments: real SIDs where we have them, well-formed dummies otherwise."""
    parts = path.split("/")
    out = []
    for i, seg in enumerate(parts):
        if seg.startswith("{") and seg.endswith("}"):
            name = seg[1:-1]
            prev = parts[i - 1] if i else ""
            if name in real:
                seg = real[name]
            elif prev in real:
                seg = real[prev]
            else:
                seg = DUMMY.get(prev, "XX") + "0123456789abcdef" * 2
        out.append(seg)
    return "/".join(out)


ROUTES = declared_routes()
HEALTH = {"/healthz", "/readyz"}
# The agent desktop's static files: the app itself, which holds no data and signs agents in.
DESKTOP_PAGES = {"/", "/desktop", "/desktop/{*path}", "/assets/{*path}", "/favicon.svg"}
# Authenticated by a desktop access token, not by account credentials.
TOKEN_AUTH = {"/v1/Desktop"}
OPEN = HEALTH | DESKTOP_PAGES | TOKEN_AUTH


def test_route_table_was_read():
    paths = {p for p, _, _ in ROUTES}
    # a sanity floor, so a parser that finds nothing cannot make the walk below pass vacuously
    assert len(ROUTES) >= 25, ROUTES
    assert "/v1/Workspaces" in paths
    assert "/v1/Workspaces/{ws}/Tasks/{sid}/Reservations/{reservation}" in paths
    assert "/v1/Configuration" in paths
    assert any(p.startswith("/2010-04-01/Accounts/") for p in paths)
    assert all(methods for _, methods, _ in ROUTES), ROUTES


@pytest.fixture(scope="module")
def real(server, client):
    ws = client.taskrouter.v1.workspaces.create(friendly_name="auth walk")
    return {"ws": ws.sid, "account": server.account_sid, "Workspaces": ws.sid}


def test_every_route_requires_credentials(server, real):
    wrong_password = (server.account_sid, "not-the-token")
    wrong_account = ("AC" + "9" * 32, server.auth_token)
    failures = []
    checked = 0
    for template, methods, source in ROUTES:
        if template in OPEN:
            continue
        path = concrete(template, real)
        for method in methods:
            for label, auth in [("none", None), ("wrong token", wrong_password), ("wrong account", wrong_account)]:
                r = server.raw(auth).request(method, path, data={"FriendlyName": "x"} if method == "POST" else None)
                checked += 1
                try:
                    assert_twilio_error(r, 401, 20003)
                    assert "Basic" in r.headers.get("www-authenticate", "")
                except AssertionError as e:
                    failures.append(f"{method} {path} ({source}, {label}): {e}")
            # a bearer token or garbage header is not Basic auth either
            r = server.raw(None).request(method, path, headers={"Authorization": "Bearer " + server.auth_token})
            checked += 1
            if r.status_code != 401:
                failures.append(f"{method} {path} (bearer): {r.status_code}")
    assert not failures, "\n".join(failures)
    assert checked >= 100


def test_unknown_paths_require_credentials_too(server):
    for path in ["/v1/Nope", "/v1/Workspaces/WS0/Nope", "/2010-04-01/Accounts", "/nope", "/v1"]:
        assert_twilio_error(server.raw(None).get(path), 401, 20003)


def test_desktop_pages_are_static_and_hold_no_data(server):
    for path in ["/", "/desktop", "/desktop/anything"]:
        r = server.raw(None).get(path)
        assert r.status_code == 200, (path, r.status_code)
        assert r.headers["content-type"].startswith("text/html"), (path, r.headers)
        assert "account_sid" not in r.text and server.auth_token not in r.text
    r = server.raw(None).get("/assets/does-not-exist.js")
    assert r.status_code == 404


def test_the_desktop_socket_needs_an_access_token(server):
    for headers in [{}, {"Authorization": "Basic " + base64.b64encode(f"{server.account_sid}:{server.auth_token}".encode()).decode()}]:
        for query in ["", "?token=", "?token=a.b.c"]:
            r = server.raw(None).get("/v1/Desktop" + query, headers=headers)
            assert_twilio_error(r, 401, 20003)


def test_health_is_open(server):
    for path in sorted(HEALTH):
        r = server.raw(None).get(path)
        assert r.status_code == 200, (path, r.status_code, r.text)
        # and credentials do not hurt
        assert server.raw().get(path).status_code == 200
    # they are declared where the route walk above sees them, and skipped only by name
    declared = {p for p, _, _ in ROUTES}
    assert OPEN <= declared


def test_right_credentials_pass(server):
    r = server.raw().get("/v1/Workspaces")
    assert r.status_code == 200
    token = base64.b64encode(f"{server.account_sid}:{server.auth_token}".encode()).decode()
    r = server.raw(None).get("/v1/Workspaces", headers={"Authorization": "Basic " + token})
    assert r.status_code == 200


def test_library_sees_401(server):
    c = server.client(server.account_sid, "wrong")
    with pytest.raises(TwilioRestException) as e:
        c.taskrouter.v1.workspaces("WS" + "0" * 32).fetch()
    assert e.value.status == 401 and e.value.code == 20003
