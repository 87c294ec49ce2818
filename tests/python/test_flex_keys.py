"""Flex Configuration and API keys through the library."""

import pytest
from twilio.base.exceptions import TwilioRestException

from conftest import assert_twilio_error


class JsonBody:
    """What twilio 9's ConfigurationContext.update(body=...) expects: an object with to_dict()."""

    def __init__(self, doc):
        self.doc = doc

    def to_dict(self):
        return self.doc


def test_flex_configuration_fetch_and_merge(client, server, raw, ws):
    conf = client.flex_api.v1.configuration()
    first = conf.fetch()
    assert first.account_sid == server.account_sid
    assert first.url.endswith("/v1/Configuration")

    # The SIDs it names must exist (test_flex_configuration.py has the refusals).
    queue = ws.queue("Everyone")
    workflow = ws.workflow("Assign to Anyone", queue.sid)
    flows = {"default": {"criteria": {}, "enabled": True, "queue_sid": queue.sid, "workflow_sid": workflow.sid}}
    updated = conf.update(body=JsonBody({"outbound_call_flows": flows, "ui_attributes": {"theme": "dark"}}))
    assert updated.outbound_call_flows == flows
    assert updated.ui_attributes == {"theme": "dark"}

    # updating one top-level key keeps the others
    updated = conf.update(body=JsonBody({"ui_attributes": {"theme": "light", "colorTheme": {"baseName": "x"}}}))
    assert updated.ui_attributes == {"theme": "light", "colorTheme": {"baseName": "x"}}
    assert updated.outbound_call_flows == flows

    again = conf.fetch()
    assert again.outbound_call_flows == flows
    assert again.ui_attributes["theme"] == "light"
    assert again.date_updated is not None

    # the raw wire: a JSON body is required, and type errors are Twilio errors
    r = raw.post("/v1/Configuration", json={"ui_attributes": "not an object"})
    assert "ui_attributes" in assert_twilio_error(r, 400, 20001)["message"]
    r = raw.post("/v1/Configuration", data={"ui_attributes": "x"})
    assert_twilio_error(r, 400, 20001)
    assert conf.fetch().ui_attributes["theme"] == "light"


def test_api_key_authenticates_a_second_client(client, server, raw):
    key = client.api.v2010.accounts(server.account_sid).new_keys.create(friendly_name="ci key")
    assert key.sid.startswith("SK") and len(key.sid) == 34
    assert key.friendly_name == "ci key"
    assert key.secret and len(key.secret) >= 16

    keyed = server.client(key.sid, key.secret, account_sid=server.account_sid)
    ws = keyed.taskrouter.v1.workspaces.create(friendly_name="made with an API key")
    assert ws.account_sid == server.account_sid
    assert client.taskrouter.v1.workspaces(ws.sid).fetch().friendly_name == "made with an API key"

    # the key is listed and fetchable, and its secret is never shown again
    listed = client.api.v2010.accounts(server.account_sid).keys.list()
    assert key.sid in [k.sid for k in listed]
    fetched = client.api.v2010.accounts(server.account_sid).keys(key.sid).fetch()
    assert fetched.friendly_name == "ci key"
    r = raw.get(f"/2010-04-01/Accounts/{server.account_sid}/Keys/{key.sid}.json")
    assert r.status_code == 200 and "secret" not in r.json()

    # the library's default form, client.new_keys, works too
    k2 = client.new_keys.create(friendly_name="second")
    assert k2.sid != key.sid
    renamed = client.api.v2010.accounts(server.account_sid).keys(k2.sid).update(friendly_name="renamed")
    assert renamed.friendly_name == "renamed"

    # a wrong secret is refused; a deleted key stops working
    bad = server.client(key.sid, "wrong" + key.secret, account_sid=server.account_sid)
    with pytest.raises(TwilioRestException) as e:
        bad.taskrouter.v1.workspaces(ws.sid).fetch()
    assert e.value.status == 401
    assert client.api.v2010.accounts(server.account_sid).keys(key.sid).delete() is True
    with pytest.raises(TwilioRestException) as e:
        keyed.taskrouter.v1.workspaces(ws.sid).fetch()
    assert e.value.status == 401
