"""The whole Flex Configuration document through the official library: every key, defaults,
Twilio's merge, read-only keys, and the SIDs it names checked."""

import pytest
from twilio.base.exceptions import TwilioRestException

from conftest import assert_twilio_error

# The 49 properties of `flex.v1.configuration` in Twilio's OpenAPI description
# (github.com/twilio/twilio-oai, spec/json/twilio_flex_v1.json), in its order.
SPEC_KEYS = [
    "account_sid", "date_created", "date_updated", "attributes", "status",
    "taskrouter_workspace_sid", "taskrouter_target_workflow_sid", "taskrouter_target_taskqueue_sid",
    "taskrouter_taskqueues", "taskrouter_skills", "taskrouter_worker_channels",
    "taskrouter_worker_attributes", "taskrouter_offline_activity_sid", "runtime_domain",
    "messaging_service_instance_sid", "chat_service_instance_sid", "flex_service_instance_sid",
    "flex_instance_sid", "ui_language", "ui_attributes", "ui_dependencies", "ui_version",
    "service_version", "call_recording_enabled", "call_recording_webhook_url", "crm_enabled",
    "crm_type", "crm_callback_url", "crm_fallback_url", "crm_attributes", "public_attributes",
    "plugin_service_enabled", "plugin_service_attributes", "integrations", "outbound_call_flows",
    "serverless_service_sids", "queue_stats_configuration", "notifications", "markdown", "url",
    "flex_insights_hr", "flex_insights_drilldown", "flex_url", "channel_configs",
    "debugger_integration", "flex_ui_status_report", "agent_conv_end_methods", "citrix_voice_vdi",
    "offline_config",
]


class JsonBody:
    """What twilio 9's ConfigurationContext.update(body=...) expects: an object with to_dict()."""

    def __init__(self, doc):
        self.doc = doc

    def to_dict(self):
        return self.doc


def refused(conf, body):
    """The library's exception for an update that must be refused (400, 20001)."""
    with pytest.raises(TwilioRestException) as e:
        conf.update(body=JsonBody(body))
    assert e.value.status == 400 and e.value.code == 20001, e.value
    # The library puts its own words before the server's message.
    prefix = "Unable to update record: "
    assert e.value.msg.startswith(prefix), e.value.msg
    return e.value.msg[len(prefix):]


def reset(raw):
    """Forgets every SID the configuration names (the server is shared by this module's tests).
    Raw JSON: the library leaves out every None of a body (copy_non_none_values), so it cannot
    send null."""
    keys = ["taskrouter_workspace_sid", "taskrouter_target_workflow_sid", "taskrouter_target_taskqueue_sid",
            "taskrouter_offline_activity_sid", "taskrouter_taskqueues", "outbound_call_flows", "ui_attributes"]
    r = raw.post("/v1/Configuration", json={k: None for k in keys})
    assert r.status_code == 200, r.text


def test_an_unconfigured_account_has_every_key_of_twilio_s_document(client, server, raw):
    # First in this module: the server has never been configured.
    doc = raw.get("/v1/Configuration").json()
    assert len(SPEC_KEYS) == 49 and set(doc) == set(SPEC_KEYS)
    assert doc["account_sid"] == server.account_sid
    assert doc["url"] == server.url + "/v1/Configuration"
    assert doc["status"] == "ok"
    assert doc["runtime_domain"] == server.url
    assert isinstance(doc["service_version"], str) and doc["service_version"]
    assert doc["date_created"] is None and doc["date_updated"] is None
    assert doc["ui_language"] == "en"
    assert doc["taskrouter_workspace_sid"] is None and doc["outbound_call_flows"] is None
    assert doc["integrations"] == [] and doc["serverless_service_sids"] == []
    assert doc["ui_attributes"] == {} and doc["attributes"] == {}
    assert doc["call_recording_enabled"] is False and doc["crm_enabled"] is False

    # The library reads every key it knows, and it knows the spec's.
    conf = client.flex_api.v1.configuration().fetch()
    known = {k for k in vars(conf) if not k.startswith("_")}
    assert set(SPEC_KEYS) <= known, set(SPEC_KEYS) - known
    for k in SPEC_KEYS:
        assert getattr(conf, k) == doc[k], k
    assert conf.status == "ok"


def test_an_update_replaces_the_top_level_keys_it_names(client, server, raw, ws):
    q = ws.queue("Everyone")
    wf = ws.workflow("Assign to Anyone", q.sid)
    conf = client.flex_api.v1.configuration()
    flows = {"default": {"enabled": True, "workflow_sid": wf.sid, "queue_sid": q.sid, "caller_id": "+15005550006", "location": "US"}}
    ui = {"theme": "dark", "custom_data": {"features": {"other": {"enabled": True}}}}
    first = conf.update(body=JsonBody({
        "account_sid": server.account_sid,
        "taskrouter_workspace_sid": ws.sid,
        "taskrouter_offline_activity_sid": ws.offline,
        "taskrouter_taskqueues": [{"sid": q.sid, "targettable": True}],
        "outbound_call_flows": flows,
        "ui_attributes": ui,
        "call_recording_enabled": True,
        "serverless_service_sids": ["ZS" + "0" * 32],
    }))
    assert first.outbound_call_flows == flows
    assert first.taskrouter_workspace_sid == ws.sid
    assert first.call_recording_enabled is True
    assert first.date_created is not None

    # ui_attributes is replaced whole, as Twilio documents it, and the other keys are kept.
    second = conf.update(body=JsonBody({"ui_attributes": {"theme": "light"}}))
    assert second.ui_attributes == {"theme": "light"}
    assert second.outbound_call_flows == flows
    assert second.taskrouter_offline_activity_sid == ws.offline

    # Read-only keys are ignored, so a fetched document can be posted back as it is.
    whole = raw.get("/v1/Configuration").json()
    whole.update(status="notstarted", url="https://example.com/x", service_version="0.0", ui_language="es-ES")
    r = raw.post("/v1/Configuration", json=whole)
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["status"] == "ok" and after["url"] == server.url + "/v1/Configuration"
    assert after["service_version"] != "0.0" and after["ui_language"] == "es-ES"
    assert set(after) == set(SPEC_KEYS)

    # null removes a stored value: the key reads as its default again (raw JSON: the library
    # leaves None out of a body).
    third = raw.post("/v1/Configuration", json={"ui_language": None, "call_recording_enabled": None}).json()
    assert third["ui_language"] == "en" and third["call_recording_enabled"] is False
    assert conf.fetch().outbound_call_flows == flows


def test_sids_that_do_not_exist_are_refused_and_change_nothing(client, raw, ws, tr):
    q = ws.queue("Everyone")
    wf = ws.workflow("Assign to Anyone", q.sid)
    conf = client.flex_api.v1.configuration()
    reset(raw)
    conf.update(body=JsonBody({"taskrouter_workspace_sid": ws.sid}))
    before = raw.get("/v1/Configuration").json()

    missing_wf = "WW" + "0" * 31 + "1"
    missing_q = "WQ" + "0" * 31 + "1"
    missing_ws = "WS" + "0" * 31 + "1"
    flows = lambda w, queue: {"outbound_call_flows": {"default": {"enabled": True, "workflow_sid": w, "queue_sid": queue}}}
    assert refused(conf, flows(missing_wf, q.sid)) == (
        f"outbound_call_flows.default.workflow_sid: workflow {missing_wf} does not exist in workspace {ws.sid}"
    )
    assert refused(conf, flows(wf.sid, missing_q)) == (
        f"outbound_call_flows.default.queue_sid: task queue {missing_q} does not exist in workspace {ws.sid}"
    )
    assert refused(conf, {"taskrouter_workspace_sid": missing_ws}) == (
        f"taskrouter_workspace_sid: workspace {missing_ws} does not exist"
    )
    assert refused(conf, {"taskrouter_target_workflow_sid": missing_wf}) == (
        f"taskrouter_target_workflow_sid: workflow {missing_wf} does not exist in workspace {ws.sid}"
    )
    feature = {"ui_attributes": {"custom_data": {"features": {"internal_call": {
        "enabled": True, "application_sid": "AP" + "0" * 31 + "1", "outbound_queue_sid": q.sid}}}}}
    assert refused(conf, feature) == (
        "ui_attributes.custom_data.features.internal_call.application_sid: application "
        f"AP{'0' * 31}1 does not exist"
    )
    # A queue of another workspace is not this one's.
    other = tr.workspaces.create(friendly_name="another")
    other_q = tr.workspaces(other.sid).task_queues.create(friendly_name="Elsewhere", target_workers="1==1")
    assert refused(conf, {"taskrouter_target_taskqueue_sid": other_q.sid}) == (
        f"taskrouter_target_taskqueue_sid: task queue {other_q.sid} does not exist in workspace {ws.sid}"
    )
    # Malformed SIDs, wrong types and unknown keys are refused with the key path.
    assert refused(conf, flows(5, q.sid)) == "outbound_call_flows.default.workflow_sid: expected a string"
    assert refused(conf, flows("WWnope", q.sid)) == (
        "outbound_call_flows.default.workflow_sid: expected a WW… SID, not \"WWnope\""
    )
    assert refused(conf, {"integrations": {"a": 1}}) == "integrations: expected an array"
    assert refused(conf, {"ui_atributes": {}}).startswith("ui_atributes: is not a key of the Flex Configuration")
    r = raw.post("/v1/Configuration", json={"account_sid": "AC" + "0" * 32})
    assert "account_sid" in assert_twilio_error(r, 400, 20001)["message"]
    # Nothing of any refused update was stored.
    assert raw.get("/v1/Configuration").json() == before


def test_a_deleted_workflow_stays_named_until_the_configuration_is_written_again(client, raw, ws):
    q = ws.queue("Everyone")
    wf = ws.workflow("Going away", q.sid)
    conf = client.flex_api.v1.configuration()
    flows = {"default": {"enabled": True, "workflow_sid": wf.sid, "queue_sid": q.sid}}
    reset(raw)
    conf.update(body=JsonBody({"taskrouter_workspace_sid": ws.sid, "outbound_call_flows": flows}))
    assert ws.ctx.workflows(wf.sid).delete() is True
    # Nothing cascades: the configuration still names it, and unrelated updates go through.
    assert conf.fetch().outbound_call_flows == flows
    assert conf.update(body=JsonBody({"ui_language": "th"})).ui_language == "th"
    # Writing it again is refused until it names a workflow that exists.
    assert refused(conf, {"outbound_call_flows": flows}) == (
        f"outbound_call_flows.default.workflow_sid: workflow {wf.sid} does not exist in workspace {ws.sid}"
    )
    wf2 = ws.workflow("Replacement", q.sid)
    flows["default"]["workflow_sid"] = wf2.sid
    assert conf.update(body=JsonBody({"outbound_call_flows": flows})).outbound_call_flows == flows


def test_the_document_survives_a_restart(make_server):
    s = make_server()
    c = s.client()
    ws = c.taskrouter.v1.workspaces.create(friendly_name="kept")
    conf = c.flex_api.v1.configuration()
    written = conf.update(body=JsonBody({
        "taskrouter_workspace_sid": ws.sid,
        "ui_attributes": {"colorTheme": {"baseName": "GreyDark"}},
        "crm_enabled": True,
        "plugin_service_attributes": {"agent-logger": "^3.10.5"},
    }))
    s.stop()
    s.start()
    again = s.client().flex_api.v1.configuration().fetch()
    for k in SPEC_KEYS:
        if k not in ("url", "runtime_domain"):  # the port changes with the restart
            assert getattr(again, k) == getattr(written, k), k
