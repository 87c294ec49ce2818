"""Recordings through the official `twilio` library: what a server's data directory holds is
listed, fetched, refused a status change once finished, served as WAV, and deleted; a WAV cut
short by a killed process (no sidecar, sizes never written) is repaired and listed at start.

Recording a live call needs desktops with audio; that is covered by the Rust test
crates/server/tests/recordings.rs (str0m peers through the real relay)."""

import json
import secrets
import struct
import wave

import pytest
from twilio.base.exceptions import TwilioRestException

from conftest import assert_twilio_error

CALL = "CA" + "1" * 32


def write_wav(path, seconds, finished=True):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x01\x00\x02\x00" * 16000 * seconds)
    if not finished:
        # What a killed writer leaves: the sizes of its start header (0).
        with open(path, "r+b") as f:
            f.seek(4)
            f.write(struct.pack("<I", 0))
            f.seek(40)
            f.write(struct.pack("<I", 0))


def sidecar(path, account, sid, seconds):
    ms = 1_700_000_000_000
    meta = {
        "sid": sid, "account_sid": account, "call_sid": CALL, "conference_sid": None,
        "status": "completed", "channels": 2, "source": "StartCallRecordingAPI", "track": "both",
        "start_time_ms": ms, "date_created_ms": ms, "date_updated_ms": ms + seconds * 1000,
        "duration_s": seconds, "bytes": None, "error_code": None, "status_callback": None,
        "status_callback_events": ["completed"], "base_url": "http://127.0.0.1",
    }
    path.write_text(json.dumps(meta))


@pytest.fixture
def recorded(make_server, tmp_path):
    account = "AC" + secrets.token_hex(16)
    data = tmp_path / "srv0" / "recordings"
    data.mkdir(parents=True)
    done = "RE" + secrets.token_hex(16)
    cut = "RE" + secrets.token_hex(16)
    write_wav(data / f"{done}.wav", 3)
    sidecar(data / f"{done}.json", account, done, 3)
    write_wav(data / f"{cut}.wav", 2, finished=False)
    server = make_server(account_sid=account)
    return server, done, cut


def test_list_fetch_update_delete(recorded):
    server, done, cut = recorded
    client = server.client()
    sids = {r.sid for r in client.recordings.list()}
    assert sids == {done, cut}

    r = client.recordings(done).fetch()
    assert (r.status, r.channels, r.duration, r.call_sid) == ("completed", 2, "3", CALL)
    assert r.source == "StartCallRecordingAPI"
    assert r.uri.endswith(f"/Recordings/{done}.json")

    # The one cut short by a kill: repaired, two seconds kept.
    repaired = client.recordings(cut).fetch()
    assert (repaired.status, repaired.duration) == ("completed", "2")

    assert [x.sid for x in client.calls(CALL).recordings.list()] == [done]

    # A finished recording cannot be paused: 400 naming Status.
    with pytest.raises(TwilioRestException) as e:
        client.calls(CALL).recordings(done).update(status="paused")
    assert e.value.status == 400 and "Status" in e.value.msg

    wav = server.raw().get(f"/2010-04-01/Accounts/{server.account_sid}/Recordings/{done}.wav")
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/x-wav"
    assert wav.content[:4] == b"RIFF" and len(wav.content) == 44 + 3 * 16000 * 4
    mp3 = server.raw().get(f"/2010-04-01/Accounts/{server.account_sid}/Recordings/{done}.mp3")
    assert_twilio_error(mp3, 415)

    assert client.recordings(done).delete() is True
    with pytest.raises(TwilioRestException) as e:
        client.recordings(done).fetch()
    assert e.value.status == 404
    assert {r.sid for r in client.recordings.list()} == {cut}
