"""The Voice REST API (2010-04-01): Applications, Calls, Conferences and Participants, through the
official twilio library and raw HTTP: the resources and their errors on a server without calls,
and calls and participants created with the library and answered on demo agents' desktops."""

import datetime
from email.utils import parsedate_to_datetime

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException

from conftest import assert_twilio_error, poll

APP_FIELDS = {
    "sid", "account_sid", "friendly_name", "api_version", "voice_url", "voice_method",
    "voice_fallback_url", "voice_fallback_method", "status_callback", "status_callback_method",
    "voice_caller_id_lookup", "sms_url", "sms_method", "sms_fallback_url", "sms_fallback_method",
    "sms_status_callback", "message_status_callback", "public_application_connect_enabled",
    "date_created", "date_updated", "uri",
}
LIST_META = {"first_page_uri", "next_page_uri", "previous_page_uri", "page", "page_size", "start", "end", "uri"}


def base(server):
    return f"/2010-04-01/Accounts/{server.account_sid}"


@pytest.fixture(scope="module")
def apps(client):
    return client.applications


def test_create_fetch_update_delete_application(server, client, apps, raw):
    app = apps.create(
        friendly_name="Internal Call",
        voice_url="https://example.com/features/internal-call/common/enqueue",
        voice_method="POST",
        status_callback="http://127.0.0.1:9/status",
        status_callback_method="GET",
    )
    assert app.sid.startswith("AP") and len(app.sid) == 34
    assert app.account_sid == server.account_sid
    assert app.friendly_name == "Internal Call"
    assert app.voice_url == "https://example.com/features/internal-call/common/enqueue"
    assert app.voice_method == "POST"
    assert app.voice_fallback_url is None
    assert app.voice_fallback_method == "POST"
    assert app.status_callback == "http://127.0.0.1:9/status"
    assert app.status_callback_method == "GET"
    assert app.api_version == "2010-04-01"
    # the library parses RFC 2822 dates into datetimes
    assert isinstance(app.date_created, datetime.datetime)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((app.date_created - now).total_seconds()) < 120

    # the raw JSON: every field, RFC 2822 dates, a relative uri
    r = raw.get(f"{base(server)}/Applications/{app.sid}.json")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == APP_FIELDS, set(body) ^ APP_FIELDS
    assert body["uri"] == f"{base(server)}/Applications/{app.sid}.json"
    assert body["voice_caller_id_lookup"] is False
    assert body["public_application_connect_enabled"] is False
    assert body["sms_url"] is None
    assert body["date_created"].endswith("+0000")
    assert parsedate_to_datetime(body["date_created"]).tzinfo is not None

    fetched = apps(app.sid).fetch()
    assert fetched.sid == app.sid and fetched.voice_url == app.voice_url

    updated = apps(app.sid).update(voice_method="GET", voice_fallback_url="https://fallback.example.com/x")
    assert updated.voice_method == "GET"
    assert updated.voice_fallback_url == "https://fallback.example.com/x"
    # what was not given stays
    assert updated.friendly_name == "Internal Call"
    assert updated.voice_url == app.voice_url
    assert updated.date_created == app.date_created

    # an empty URL clears it
    cleared = apps(app.sid).update(voice_fallback_url="")
    assert cleared.voice_fallback_url is None

    assert apps(app.sid).delete() is True
    with pytest.raises(TwilioRestException) as e:
        apps(app.sid).fetch()
    assert e.value.status == 404 and e.value.code == 20404
    r = raw.delete(f"{base(server)}/Applications/{app.sid}.json")
    assert_twilio_error(r, 404, 20404)


def test_delete_answers_204(server, apps, raw):
    app = apps.create(friendly_name="to delete", voice_url="https://example.com/v")
    r = raw.delete(f"{base(server)}/Applications/{app.sid}.json")
    assert r.status_code == 204 and r.text == ""


def test_application_defaults(apps):
    app = apps.create(friendly_name="defaults")
    assert app.voice_url is None
    assert app.voice_method == "POST"
    assert app.status_callback_method == "POST"
    apps(app.sid).delete()


def test_applications_survive_a_restart(make_server):
    s = make_server()
    c = s.client()
    app = c.applications.create(friendly_name="durable", voice_url="https://example.com/d")
    c.applications(app.sid).update(voice_method="GET")
    gone = c.applications.create(friendly_name="gone")
    c.applications(gone.sid).delete()
    s.stop()
    s.start()
    c = s.client()
    back = c.applications(app.sid).fetch()
    assert back.friendly_name == "durable" and back.voice_method == "GET"
    assert [a.sid for a in c.applications.list()] == [app.sid]


def test_list_filter_and_paging(server, apps, raw):
    made = [apps.create(friendly_name=f"pager {i}", voice_url=f"https://example.com/{i}") for i in range(5)]
    other = apps.create(friendly_name="lonely", voice_url="https://example.com/lonely")
    try:
        listed = apps.list(friendly_name="lonely")
        assert [a.sid for a in listed] == [other.sid]
        assert apps.list(friendly_name="nobody has this name") == []

        # the library follows next_page_uri across pages
        everything = [a.sid for a in apps.list(page_size=2)]
        for a in made + [other]:
            assert a.sid in everything
        assert len(everything) == len(set(everything))
        # oldest first, stable across pages
        mine = [s for s in everything if s in {a.sid for a in made}]
        assert mine == [a.sid for a in made]

        page = apps.page(page_size=2)
        assert len(page._payload["applications"]) == 2
        assert page.next_page_url is not None
        second = page.next_page()
        assert len(second._payload["applications"]) == 2

        # the 2010 list shape, with relative URIs
        r = raw.get(f"{base(server)}/Applications.json", params={"PageSize": 2})
        body = r.json()
        assert set(body) == {"applications"} | LIST_META, set(body)
        assert body["page"] == 0 and body["page_size"] == 2
        assert body["start"] == 0 and body["end"] == 1
        assert body["previous_page_uri"] is None
        assert body["first_page_uri"].startswith(f"{base(server)}/Applications.json?")
        assert body["next_page_uri"].startswith(f"{base(server)}/Applications.json?")
        assert body["uri"].startswith(f"{base(server)}/Applications.json?")
        r2 = raw.get(body["next_page_uri"])
        body2 = r2.json()
        assert body2["page"] == 1 and body2["start"] == 2 and body2["end"] == 3
        assert body2["previous_page_uri"] is not None
        assert not {a["sid"] for a in body["applications"]} & {a["sid"] for a in body2["applications"]}

        # the filter is kept in page links
        r = raw.get(f"{base(server)}/Applications.json", params={"FriendlyName": "pager 3", "PageSize": 1})
        body = r.json()
        assert [a["sid"] for a in body["applications"]] == [made[3].sid]
        assert "FriendlyName=pager+3" in body["uri"]
        assert body["next_page_uri"] is None
    finally:
        for a in made + [other]:
            apps(a.sid).delete()


@pytest.mark.parametrize(
    "params, field",
    [
        ({"VoiceUrl": "not a url"}, "VoiceUrl"),
        ({"VoiceUrl": "ftp://example.com/x"}, "VoiceUrl"),
        ({"VoiceUrl": "/relative/path"}, "VoiceUrl"),
        ({"VoiceFallbackUrl": "example.com"}, "VoiceFallbackUrl"),
        ({"StatusCallback": "mailto:x@example.com"}, "StatusCallback"),
        ({"VoiceMethod": "PUT"}, "VoiceMethod"),
        ({"VoiceFallbackMethod": "DELETE"}, "VoiceFallbackMethod"),
        ({"StatusCallbackMethod": "x"}, "StatusCallbackMethod"),
        ({"FriendlyName": "x" * 65}, "FriendlyName"),
        ({"ApiVersion": "2099-01-01"}, "ApiVersion"),
    ],
)
def test_invalid_application_parameters(server, raw, params, field):
    r = raw.post(f"{base(server)}/Applications.json", data={"FriendlyName": "bad", **params})
    body = assert_twilio_error(r, 400)
    assert field in body["message"]


def test_invalid_update_changes_nothing(server, apps, raw):
    app = apps.create(friendly_name="keep", voice_url="https://example.com/keep")
    try:
        r = raw.post(f"{base(server)}/Applications/{app.sid}.json", data={"VoiceUrl": "nope", "FriendlyName": "changed"})
        assert_twilio_error(r, 400)
        again = apps(app.sid).fetch()
        assert again.voice_url == "https://example.com/keep" and again.friendly_name == "keep"
    finally:
        apps(app.sid).delete()


def test_library_sees_400_for_a_bad_voice_url(apps):
    with pytest.raises(TwilioRestException) as e:
        apps.create(friendly_name="bad", voice_url="nope")
    assert e.value.status == 400
    assert "VoiceUrl" in e.value.msg


def test_friendly_name_of_64_characters_is_fine(apps):
    app = apps.create(friendly_name="n" * 64)
    assert app.friendly_name == "n" * 64
    apps(app.sid).delete()


def test_unknown_application_is_404(server, apps, raw):
    sid = "AP" + "0" * 32
    with pytest.raises(TwilioRestException) as e:
        apps(sid).fetch()
    assert e.value.status == 404 and e.value.code == 20404
    with pytest.raises(TwilioRestException) as e:
        apps(sid).update(friendly_name="x")
    assert e.value.status == 404
    assert_twilio_error(raw.delete(f"{base(server)}/Applications/{sid}.json"), 404, 20404)
    # not even a SID
    assert_twilio_error(raw.get(f"{base(server)}/Applications/nope.json"), 404, 20404)


def test_other_account_in_path_is_404(server, raw):
    other = "AC" + "1" * 32
    assert_twilio_error(raw.get(f"/2010-04-01/Accounts/{other}/Applications.json"), 404, 20404)
    assert_twilio_error(raw.get(f"/2010-04-01/Accounts/{other}/Calls.json"), 404, 20404)
    assert_twilio_error(raw.get(f"/2010-04-01/Accounts/{other}/Conferences.json"), 404, 20404)


# ------------------------------------------------------------------------------------------------
# Calls and conferences on a server without calls


def test_calls_list_is_empty(server, client, raw):
    assert client.calls.list() == []
    assert client.calls.list(status="in-progress", to="client:bob") == []
    body = raw.get(f"{base(server)}/Calls.json").json()
    assert body["calls"] == [] and set(body) == {"calls"} | LIST_META
    assert body["next_page_uri"] is None


def test_unknown_call_is_404(server, client, raw):
    sid = "CA" + "0" * 32
    with pytest.raises(TwilioRestException) as e:
        client.calls(sid).fetch()
    assert e.value.status == 404 and e.value.code == 20404
    with pytest.raises(TwilioRestException) as e:
        client.calls(sid).update(status="completed")
    assert e.value.status == 404
    assert_twilio_error(raw.get(f"{base(server)}/Calls/garbage.json"), 404, 20404)


def test_bad_call_update_is_400(server, raw):
    sid = "CA" + "0" * 32
    assert_twilio_error(raw.post(f"{base(server)}/Calls/{sid}.json", data={"Status": "ringing"}), 400, 20001)
    body = assert_twilio_error(raw.post(f"{base(server)}/Calls/{sid}.json", data={}), 400, 20001)
    assert "Status" in body["message"]
    # a redirect of a call that does not exist is a 404, a malformed Url a 400 naming it
    assert_twilio_error(raw.post(f"{base(server)}/Calls/{sid}.json", data={"Url": "https://example.com"}), 404, 20404)
    body = assert_twilio_error(raw.post(f"{base(server)}/Calls/{sid}.json", data={"Url": "nope"}), 400, 21205)
    assert "Url" in body["message"]
    assert_twilio_error(raw.delete(f"{base(server)}/Calls/{sid}.json"), 404, 20404)


def test_calling_a_number_is_refused_clearly(client):
    for to in ["+15005550006", "sip:bob@example.com"]:
        with pytest.raises(TwilioRestException) as e:
            client.calls.create(to=to, from_="client:alice", url="https://example.com/twiml")
        assert e.value.status == 400 and e.value.code == 21214, e.value
        assert "trunk" in e.value.msg and "To" in e.value.msg


@pytest.mark.parametrize(
    "params, code, named",
    [
        ({"From": "client:a", "Url": "https://example.com/t"}, 21201, "To"),
        ({"To": "client:bob", "Url": "https://example.com/t"}, 21213, "From"),
        ({"To": "client:bob", "From": "client:a"}, 21205, "Url"),
        ({"To": "client:", "From": "client:a", "Url": "https://example.com/t"}, 21211, "To"),
        ({"To": "client:bob", "From": "client:a", "ApplicationSid": "AP1"}, 21218, "ApplicationSid"),
        ({"To": "client:bob", "From": "client:a", "ApplicationSid": "AP" + "0" * 32}, 21218, "ApplicationSid"),
        ({"To": "client:bob", "From": "client:a", "Twiml": "<Say>no response</Say>"}, 12100, "Twiml"),
        ({"To": "client:bob", "From": "client:a", "Twiml": "<Response/>", "Timeout": "601"}, 20001, "Timeout"),
        ({"To": "client:bob", "From": "client:a", "Twiml": "<Response/>", "StatusCallback": "x"}, 20001, "StatusCallback"),
        ({"To": "client:bob", "From": "client:a", "Twiml": "<Response/>", "Record": "often"}, 20001, "Record"),
    ],
)
def test_bad_call_parameters_are_named(server, raw, params, code, named):
    body = assert_twilio_error(raw.post(f"{base(server)}/Calls.json", data=params), 400, code)
    assert named in body["message"], body


def test_adding_a_participant_to_an_unknown_conference_is_404(client, server, raw):
    with pytest.raises(TwilioRestException) as e:
        client.conferences("CF" + "0" * 32).participants.create(from_="client:alice", to="client:bob")
    assert e.value.status == 404 and e.value.code == 20404
    url = f"{base(server)}/Conferences/somewhere/Participants.json"
    assert_twilio_error(raw.post(url, data={"From": "a"}), 400, 21201)
    assert_twilio_error(raw.post(url, data={"To": "client:bob"}), 400, 21213)
    assert_twilio_error(raw.post(url, data={"To": "+15005550006", "From": "a"}), 400, 21214)
    body = assert_twilio_error(raw.post(url, data={"To": "client:bob", "From": "a", "Coaching": "true"}), 400, 20001)
    assert "CallSidToCoach" in body["message"]


# ------------------------------------------------------------------------------------------------
# Calls and participants made through the API, answered on agents' desktops


class Webhooks:
    """A local TwiML application: POST /room answers <Dial><Conference>; /status and any other
    path record the request (path and form) and answer an empty document."""

    def __init__(self, room="py-room"):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qsl

        from twilio.twiml.voice_response import Dial, VoiceResponse

        hooks = self
        self.seen = []
        self.room = room

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                hooks.seen.append((self.path, form, self.headers.get("X-Twilio-Signature")))
                if self.path.startswith("/room"):
                    r = VoiceResponse()
                    d = Dial()
                    d.conference(hooks.room, record="record-from-start")
                    r.append(d)
                    body = str(r).encode()
                else:
                    body = b"<Response/>"
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def at(self, path):
        return [(form, sig) for p, form, sig in self.seen if p.startswith(path)]

    def close(self):
        self.httpd.shutdown()


def ringing_call(desktop, sid):
    desktop.wait(lambda s: any(c["call_sid"] == sid for c in s["incoming_calls"]), f"{sid} ringing")


def test_calls_and_participants_made_with_the_library(make_server):
    from twilio.request_validator import RequestValidator

    from test_internal_call import Desktop

    server = make_server("demo", extra=("--fresh",))
    client = server.client()
    hooks = Webhooks()
    alice, bob = Desktop(server, "alice"), Desktop(server, "bob")
    try:
        call = client.calls.create(
            to="client:bob",
            from_="client:api",
            url=hooks.base + "/room",
            status_callback=hooks.base + "/status",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
            timeout=30,
        )
        assert call.sid.startswith("CA") and call.status == "ringing"
        assert call.direction == "outbound-api" and call.to == "client:bob"
        ringing_call(bob, call.sid)
        assert not hooks.at("/room"), "the Url is fetched only once answered"
        bob.act(type="answer_call", call_sid=call.sid)
        poll(lambda: hooks.at("/room"), 10, what="the Url fetched")
        form, signature = hooks.at("/room")[0]
        assert form["CallSid"] == call.sid and form["Direction"] == "outbound-api"
        assert RequestValidator(server.auth_token).validate(hooks.base + "/room", form, signature)
        conf = poll(lambda: client.conferences.list(friendly_name="py-room", status="in-progress"), 10, what="conference")[0]

        # Alice joins as a labelled participant and coaches Bob once she answers.
        p = client.conferences(conf.sid).participants.create(
            from_="client:api", to="client:alice", label="coach", early_media=False, beep="false",
            end_conference_on_exit=False, muted=False, record=False, timeout=20,
        )
        assert p.label == "coach" and p.status == "ringing" and p.conference_sid == conf.sid
        ringing_call(alice, p.call_sid)
        alice.act(type="answer_call", call_sid=p.call_sid)
        poll(lambda: client.conferences(conf.sid).participants("coach").fetch().status == "connected", 10, what="connected")
        p = client.conferences(conf.sid).participants(p.call_sid).update(coaching=True, call_sid_to_coach=call.sid)
        assert p.coaching is True and p.call_sid_to_coach == call.sid
        assert [x.call_sid for x in client.conferences(conf.sid).participants.list(coaching=True)] == [p.call_sid]
        with pytest.raises(TwilioRestException) as e:
            client.conferences(conf.sid).participants(p.call_sid).update(announce_url="https://example.com/a")
        assert e.value.status == 400 and "AnnounceUrl" in e.value.msg

        # A live call is not deleted; a redirect takes Bob out of the conference into new TwiML.
        with pytest.raises(TwilioRestException) as e:
            client.calls(call.sid).delete()
        assert e.value.status == 400 and e.value.code == 21220
        redirected = client.calls(call.sid).update(twiml="<Response><Pause length=\"30\"/></Response>")
        assert redirected.status == "in-progress"
        poll(lambda: len(client.conferences(conf.sid).participants.list()) == 1, 10, what="Bob left the conference")
        done = client.calls(call.sid).update(status="completed")
        assert done.status == "completed" and done.duration is not None
        # Webhooks are posted concurrently, so they may arrive out of order: Twilio's
        # SequenceNumber gives their order.
        posted = poll(lambda: hooks.at("/status") if len(hooks.at("/status")) >= 4 else None, 10, what="status callbacks")
        ordered = sorted(posted, key=lambda fs: int(fs[0]["SequenceNumber"]))
        steps = [f["StatusCallbackEvent"] for f, _ in ordered]
        assert steps == ["initiated", "ringing", "answered", "completed"], steps
        assert [int(f["SequenceNumber"]) for f, _ in ordered] == [0, 1, 2, 3]
        for form, signature in hooks.at("/status"):
            assert RequestValidator(server.auth_token).validate(hooks.base + "/status", form, signature)
        assert client.calls(call.sid).delete() is True
        with pytest.raises(TwilioRestException) as e:
            client.calls(call.sid).fetch()
        assert e.value.status == 404

        # Kicking Alice ends her call (and the conference, now empty).
        assert client.conferences(conf.sid).participants(p.call_sid).delete() is True
        assert client.calls(p.call_sid).fetch().status == "completed"
    finally:
        hooks.close()
        alice.close()
        bob.close()


def test_conferences_list_is_empty(server, client, raw):
    assert client.conferences.list() == []
    assert client.conferences.list(status="in-progress") == []
    assert client.conferences.list(friendly_name="WT" + "0" * 32) == []
    body = raw.get(f"{base(server)}/Conferences.json").json()
    assert body["conferences"] == [] and set(body) == {"conferences"} | LIST_META
    assert_twilio_error(raw.get(f"{base(server)}/Conferences.json", params={"Status": "ringing"}), 400, 20001)


def test_unknown_conference_and_participants_are_404(server, client, raw):
    cf = "CF" + "0" * 32
    ca = "CA" + "0" * 32
    with pytest.raises(TwilioRestException) as e:
        client.conferences(cf).fetch()
    assert e.value.status == 404
    with pytest.raises(TwilioRestException) as e:
        client.conferences(cf).update(status="completed")
    assert e.value.status == 404
    # list pages surface errors as a plain TwilioException in the library: check the body raw
    with pytest.raises(TwilioException):
        client.conferences(cf).participants.list()
    assert_twilio_error(raw.get(f"{base(server)}/Conferences/{cf}/Participants.json"), 404, 20404)
    with pytest.raises(TwilioRestException) as e:
        client.conferences(cf).participants(ca).fetch()
    assert e.value.status == 404
    with pytest.raises(TwilioRestException) as e:
        client.conferences(cf).participants(ca).update(hold=True)
    assert e.value.status == 404
    assert_twilio_error(raw.delete(f"{base(server)}/Conferences/{cf}/Participants/{ca}.json"), 404, 20404)


def test_bad_conference_update_is_400(server, raw):
    cf = "CF" + "0" * 32
    assert_twilio_error(raw.post(f"{base(server)}/Conferences/{cf}.json", data={"Status": "init"}), 400, 20001)


def test_voice_routes_require_credentials(server):
    ca, cf = "CA" + "0" * 32, "CF" + "0" * 32
    paths = [
        ("GET", "/Applications.json"), ("POST", "/Applications.json"),
        ("GET", "/Calls.json"), ("POST", "/Calls.json"), ("GET", f"/Calls/{ca}.json"),
        ("POST", f"/Calls/{ca}.json"), ("GET", "/Conferences.json"), ("GET", f"/Conferences/{cf}.json"),
        ("POST", f"/Conferences/{cf}.json"), ("GET", f"/Conferences/{cf}/Participants.json"),
        ("POST", f"/Conferences/{cf}/Participants.json"), ("GET", f"/Conferences/{cf}/Participants/{ca}.json"),
        ("POST", f"/Conferences/{cf}/Participants/{ca}.json"),
        ("DELETE", f"/Conferences/{cf}/Participants/{ca}.json"), ("DELETE", f"/Calls/{ca}.json"),
    ]
    for method, path in paths:
        for auth in [None, (server.account_sid, "wrong"), ("AC" + "9" * 32, server.auth_token)]:
            r = server.raw(auth).request(method, base(server) + path)
            assert_twilio_error(r, 401, 20003)
    c = server.client(server.account_sid, "wrong")
    with pytest.raises(TwilioRestException) as e:
        c.applications("AP" + "0" * 32).fetch()
    assert e.value.status == 401 and e.value.code == 20003
    with pytest.raises(TwilioException):
        c.applications.list()
