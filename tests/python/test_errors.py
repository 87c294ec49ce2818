"""Twilio's error bodies for bad input, unknown SIDs and limits."""

import json
import re

import pytest
from twilio.base.exceptions import TwilioRestException

from conftest import assert_twilio_error

UNKNOWN_WK = "WK" + "0" * 32


def test_invalid_workflow_expression(ws, raw):
    q = ws.queue("Q")
    cfg = {"task_routing": {"filters": [
        {"filter_friendly_name": "bad", "expression": "1==1", "targets": [{"queue": q.sid, "expression": "worker.level >= "}]},
    ]}}
    with pytest.raises(TwilioRestException) as e:
        ws.ctx.workflows.create(friendly_name="Bad", configuration=json.dumps(cfg))
    assert e.value.status == 400
    assert e.value.code == 20001
    assert "filters[0].targets[0].expression" in e.value.msg
    assert re.search(r"column \d+", e.value.msg), e.value.msg
    assert ws.ctx.workflows.list() == []  # a refused command changes nothing

    r = raw.post(f"/v1/Workspaces/{ws.sid}/Workflows", data={"FriendlyName": "Bad", "Configuration": json.dumps(cfg)})
    body = assert_twilio_error(r, 400, 20001)
    assert "filters[0].targets[0].expression" in body["message"]


def test_invalid_filter_expression_names_the_filter(ws):
    q = ws.queue("Q")
    cfg = {"task_routing": {"filters": [
        {"filter_friendly_name": "ok", "expression": "1==1", "targets": [{"queue": q.sid}]},
        {"filter_friendly_name": "bad", "expression": "type IN", "targets": [{"queue": q.sid}]},
    ]}}
    with pytest.raises(TwilioRestException) as e:
        ws.ctx.workflows.create(friendly_name="Bad", configuration=json.dumps(cfg))
    assert e.value.status == 400 and e.value.code == 20001
    assert "filters[1].expression" in e.value.msg
    assert re.search(r"column \d+", e.value.msg), e.value.msg


def test_missing_friendly_name(ws, raw):
    r = raw.post(f"/v1/Workspaces/{ws.sid}/Workers", data={"Attributes": "{}"})
    body = assert_twilio_error(r, 400, 20001)
    assert body["message"] == "Required parameter FriendlyName missing."
    r = raw.post("/v1/Workspaces", data={})
    assert assert_twilio_error(r, 400, 20001)["message"] == "Required parameter FriendlyName missing."
    r = raw.post(f"/v1/Workspaces/{ws.sid}/TaskQueues", data={"TargetWorkers": "1==1"})
    assert assert_twilio_error(r, 400, 20001)["message"] == "Required parameter FriendlyName missing."


def test_unknown_sid_is_404(ws, raw, tr):
    with pytest.raises(TwilioRestException) as e:
        ws.ctx.workers(UNKNOWN_WK).fetch()
    assert e.value.status == 404 and e.value.code == 20404
    with pytest.raises(TwilioRestException) as e:
        tr.workspaces("WS" + "f" * 32).fetch()
    assert e.value.status == 404 and e.value.code == 20404

    for path in [
        f"/v1/Workspaces/{ws.sid}/Workers/{UNKNOWN_WK}",
        f"/v1/Workspaces/{ws.sid}/Tasks/WT{'1' * 32}",
        f"/v1/Workspaces/{ws.sid}/TaskQueues/WQ{'1' * 32}",
        f"/v1/Workspaces/{ws.sid}/Workflows/WW{'1' * 32}",
        f"/v1/Workspaces/{ws.sid}/Activities/WA{'1' * 32}",
        f"/v1/Workspaces/WS{'2' * 32}/Workers",
        f"/v1/Workspaces/{ws.sid}/Workers/not-a-sid",
        "/v1/NoSuchThing",
    ]:
        assert_twilio_error(raw.get(path), 404, 20404)
    assert_twilio_error(raw.delete(f"/v1/Workspaces/{ws.sid}/Workers/{UNKNOWN_WK}"), 404, 20404)


def test_bad_parameters(ws, raw):
    body = assert_twilio_error(raw.get(f"/v1/Workspaces/{ws.sid}/Tasks", params={"AssignmentStatus": "bogus"}), 400, 20001)
    assert "AssignmentStatus" in body["message"]
    body = assert_twilio_error(raw.get(f"/v1/Workspaces/{ws.sid}/Workers", params={"TargetWorkersExpression": "skills HAS"}), 400, 20001)
    assert "TargetWorkersExpression" in body["message"]
    assert_twilio_error(raw.get(f"/v1/Workspaces/{ws.sid}/Workers", params={"PageSize": "0"}), 400, 20001)
    assert_twilio_error(raw.post(f"/v1/Workspaces/{ws.sid}/TaskQueues", data={"FriendlyName": "Q", "TargetWorkers": "level >"}), 400, 20001)


def test_attributes_limit(ws, raw):
    q = ws.queue("Q")
    wf = ws.workflow("WF", q.sid)
    big = json.dumps({"blob": "x" * 4100})
    assert len(big) > 4096
    fits = json.dumps({"blob": "x" * (4096 - len('{"blob": ""}'))})
    assert len(fits) == 4096

    with pytest.raises(TwilioRestException) as e:
        ws.ctx.tasks.create(workflow_sid=wf.sid, attributes=big)
    assert e.value.status == 400
    assert ws.ctx.tasks.list() == []
    t = ws.ctx.tasks.create(workflow_sid=wf.sid, attributes=fits)
    assert len(t.attributes) == 4096

    with pytest.raises(TwilioRestException) as e:
        ws.ctx.workers.create(friendly_name="big", attributes=big)
    assert e.value.status == 400
    assert ws.ctx.workers.list() == []
    w = ws.ctx.workers.create(friendly_name="small", attributes="{}")
    with pytest.raises(TwilioRestException) as e:
        ws.ctx.workers(w.sid).update(attributes=big)
    assert e.value.status == 400
    assert ws.ctx.workers(w.sid).fetch().attributes == "{}"
    with pytest.raises(TwilioRestException) as e:
        ws.ctx.tasks(t.sid).update(attributes=big)
    assert e.value.status == 400

    assert_twilio_error(raw.post(f"/v1/Workspaces/{ws.sid}/Tasks", data={"WorkflowSid": wf.sid, "Attributes": big}), 400)
