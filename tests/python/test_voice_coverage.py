"""Voice REST coverage: the 30 in-scope operations of Twilio's 2010-04-01 Voice API (Calls,
Conferences, Participants, Applications, Recordings), each called once with the official
library on a live call between demo agents' desktops.

An operation "works" when the library's call returns without an error. Every failure is
reported by name, with the status and message the server gave. The 18 operations on Calls,
Conferences, Participants and Applications must all work; the whole set must reach 27 of 30.
The recording operations (account, call and conference recordings) must all work too.
"""

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException

from conftest import poll
from test_internal_call import Desktop
from test_voice_rest import Webhooks, ringing_call

ROOM = "coverage-room"

NON_RECORDING = [
    "applications.create", "applications.list", "applications.fetch", "applications.update",
    "applications.delete",
    "calls.create", "calls.list", "calls.fetch", "calls.update", "calls.delete",
    "conferences.list", "conferences.fetch", "conferences.update",
    "participants.create", "participants.list", "participants.fetch", "participants.update",
    "participants.delete",
]
RECORDING = [
    "call_recordings.create", "call_recordings.list", "call_recordings.fetch",
    "call_recordings.update", "call_recordings.delete",
    "conference_recordings.list", "conference_recordings.fetch", "conference_recordings.update",
    "conference_recordings.delete",
    "recordings.list", "recordings.fetch", "recordings.delete",
]
ALL = NON_RECORDING + RECORDING
assert len(ALL) == 30 and len(set(ALL)) == 30


class Tally:
    def __init__(self):
        self.results = {}

    def run(self, name, fn):
        """Calls `fn`; records whether it worked. Returns its result, or None when it failed."""
        assert name in ALL, name
        try:
            out = fn()
        except TwilioRestException as e:
            self.results[name] = f"HTTP {e.status}, code {e.code}: {e.msg}"
            return None
        except (TwilioException, AssertionError, KeyError, IndexError, TypeError) as e:
            self.results[name] = f"{type(e).__name__}: {e}"
            return None
        self.results[name] = None
        return out

    def skip(self, name, why):
        self.results.setdefault(name, f"not reached: {why}")

    def failed(self, names):
        return {n: self.results.get(n, "not run") for n in names if self.results.get(n, "not run")}

    def report(self):
        worked = [n for n in ALL if n in self.results and self.results[n] is None]
        lines = [f"Voice REST coverage: {len(worked)}/{len(ALL)} operations work"]
        for n in ALL:
            why = self.results.get(n, "not run")
            lines.append(f"  {'ok  ' if why is None else 'FAIL'} {n}" + ("" if why is None else f": {why}"))
        return len(worked), "\n".join(lines)


@pytest.fixture(scope="module")
def tally(tmp_path_factory):
    from conftest import Server

    server = Server(tmp_path_factory.mktemp("coverage")).start("demo", extra=("--fresh",))
    client = server.client()
    hooks = Webhooks(room=ROOM)
    alice, bob = Desktop(server, "alice"), Desktop(server, "bob")
    t = Tally()
    try:
        walk(t, client, hooks, alice, bob)
    finally:
        hooks.close()
        alice.close()
        bob.close()
        server.stop()
    worked, report = t.report()
    print("\n" + report)
    return t


def walk(t, client, hooks, alice, bob):
    # Applications.
    app = t.run("applications.create", lambda: client.applications.create(
        friendly_name="Coverage", voice_url=hooks.base + "/room"))
    if app:
        t.run("applications.list", lambda: [a for a in client.applications.list(friendly_name="Coverage")][0])
        t.run("applications.fetch", lambda: client.applications(app.sid).fetch())
        t.run("applications.update", lambda: client.applications(app.sid).update(voice_method="POST"))

    # A call to Bob through the application; he answers and joins the conference.
    call = t.run("calls.create", lambda: client.calls.create(
        to="client:bob", from_="client:coverage",
        **({"application_sid": app.sid} if app else {"url": hooks.base + "/room"})))
    if call is None:
        return
    ringing_call(bob, call.sid)
    bob.act(type="answer_call", call_sid=call.sid)
    t.run("calls.list", lambda: [c for c in client.calls.list(to="client:bob") if c.sid == call.sid][0])
    t.run("calls.fetch", lambda: client.calls(call.sid).fetch())
    conf = None
    try:
        conf = poll(lambda: client.conferences.list(friendly_name=ROOM, status="in-progress"), 10, what="conference")[0]
        t.results["conferences.list"] = None
    except AssertionError as e:
        t.results["conferences.list"] = str(e)
    if conf is None:
        return
    t.run("conferences.fetch", lambda: client.conferences(conf.sid).fetch())

    # Alice joins as a participant.
    p = t.run("participants.create", lambda: client.conferences(conf.sid).participants.create(
        from_="client:coverage", to="client:alice", label="alice"))
    if p:
        ringing_call(alice, p.call_sid)
        alice.act(type="answer_call", call_sid=p.call_sid)
        t.run("participants.list", lambda: client.conferences(conf.sid).participants.list()[0])
        t.run("participants.fetch", lambda: client.conferences(conf.sid).participants(p.call_sid).fetch())
        t.run("participants.update", lambda: client.conferences(conf.sid).participants(p.call_sid).update(muted=True))

    # Recordings of Bob's call.
    rec = t.run("call_recordings.create", lambda: client.calls(call.sid).recordings.create())
    if rec:
        t.run("call_recordings.list", lambda: [r for r in client.calls(call.sid).recordings.list() if r.sid == rec.sid][0])
        t.run("call_recordings.fetch", lambda: client.calls(call.sid).recordings(rec.sid).fetch())
        t.run("call_recordings.update", lambda: client.calls(call.sid).recordings(rec.sid).update(status="stopped"))
        t.run("recordings.list", lambda: [r for r in client.recordings.list() if r.sid == rec.sid][0])
        t.run("recordings.fetch", lambda: client.recordings(rec.sid).fetch())
        rec2 = None
        try:
            rec2 = client.calls(call.sid).recordings.create()
            client.calls(call.sid).recordings(rec2.sid).update(status="stopped")
        except TwilioException:
            pass
        if rec2:
            t.run("call_recordings.delete", lambda: client.calls(call.sid).recordings(rec2.sid).delete())
        else:
            t.skip("call_recordings.delete", "a second recording of the call could not be made")
        t.run("recordings.delete", lambda: client.recordings(rec.sid).delete())
    else:
        for n in ["call_recordings.list", "call_recordings.fetch", "call_recordings.update",
                  "call_recordings.delete", "recordings.fetch", "recordings.delete"]:
            t.skip(n, "no call recording was made")
        t.run("recordings.list", lambda: client.recordings.list())

    # Recordings of the conference (its TwiML asks for record-from-start).
    # The recording starts once the conference is in progress with media to record: wait for it.
    crecs = t.run("conference_recordings.list", lambda: poll(
        lambda: client.conferences(conf.sid).recordings.list(), 10, what="conference recording"))
    if crecs:
        cr = crecs[0]
        t.run("conference_recordings.fetch", lambda: client.conferences(conf.sid).recordings(cr.sid).fetch())
        t.run("conference_recordings.update", lambda: client.conferences(conf.sid).recordings(cr.sid).update(status="stopped"))
        t.run("conference_recordings.delete", lambda: client.conferences(conf.sid).recordings(cr.sid).delete())
    else:
        for n in ["conference_recordings.fetch", "conference_recordings.update", "conference_recordings.delete"]:
            t.skip(n, "the conference has no recording")

    # Endings: kick Alice, end the conference, hang Bob up, delete his call's record.
    if p:
        t.run("participants.delete", lambda: client.conferences(conf.sid).participants(p.call_sid).delete())
    t.run("conferences.update", lambda: client.conferences(conf.sid).update(status="completed"))
    t.run("calls.update", lambda: client.calls(call.sid).update(status="completed"))
    t.run("calls.delete", lambda: client.calls(call.sid).delete())
    if app:
        t.run("applications.delete", lambda: client.applications(app.sid).delete())


def test_every_call_conference_participant_and_application_operation_works(tally):
    assert tally.failed(NON_RECORDING) == {}, tally.report()[1]


def test_at_least_27_of_the_30_in_scope_operations_work(tally):
    worked, report = tally.report()
    assert worked >= 27, report


def test_every_recording_operation_works(tally):
    assert tally.failed(RECORDING) == {}, tally.report()[1]
