"""The internal call with a voice URL written with the official twilio library.

A TwiML webhook checks our X-Twilio-Signature with the library's RequestValidator and answers
with TwiML built by the library's VoiceResponse (Enqueue with a Task); two demo agents on the
desktop WebSocket place and take the call. What the core decides in every case is tested on
simulated time in crates/center; this shows Switchboard runs TwiML it did not write.
"""

import json
import threading
from http.server import ThreadingHTTPServer
from urllib.parse import quote

import pytest
import websocket

from conftest import poll
from twiml_webhook import make_handler


class Desktop:
    """One agent's desktop WebSocket: keeps the latest state, sends actions."""

    def __init__(self, server, name):
        agents = server.raw(auth=None).get("/demo/agents").json()["agents"]
        self.sid = next(a["sid"] for a in agents if a["friendly_name"] == name)
        token = server.raw(auth=None).post("/demo/sign-in", data={"WorkerSid": self.sid}).json()["token"]
        self.ws = websocket.create_connection(server.url.replace("http://", "ws://") + "/v1/Desktop?token=" + token, timeout=10)
        self.state = None
        self.next_id = 0
        self.wait(lambda s: True, "the first state")

    def read(self):
        msg = json.loads(self.ws.recv())
        if msg["type"] == "state":
            self.state = msg
        return msg

    def wait(self, check, what):
        def seen():
            if self.state is not None and check(self.state):
                return True
            self.read()
            return self.state is not None and check(self.state)

        return poll(seen, 10, interval=0, what=what)

    def act(self, **action):
        self.next_id += 1
        self.ws.send(json.dumps({**action, "id": self.next_id}))
        while True:
            msg = self.read()
            if msg["type"] == "result" and msg["id"] == self.next_id:
                assert msg["ok"], msg
                return msg.get("data", {})

    def close(self):
        self.ws.close()


@pytest.fixture
def webhook(make_server):
    server = make_server("demo", extra=("--fresh",))
    tr = server.client().taskrouter.v1
    ws = tr.workspaces.list(friendly_name="Flex Task Assignment")[0]
    workflow = tr.workspaces(ws.sid).workflows.list(friendly_name="Internal Call")[0].sid
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(workflow, server.auth_token, "enqueue"))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{httpd.server_address[1]}/voice"
    httpd.shutdown()


def test_an_external_application_built_with_the_twilio_library_routes_the_call(webhook):
    server, url = webhook
    app = server.client().applications.create(friendly_name="External Internal Call", voice_url=url, voice_method="POST")
    alice, bob = Desktop(server, "alice"), Desktop(server, "bob")
    try:
        queue = alice.state["internal_call"]["outbound_queue_sid"]
        destination = f"app:{app.sid}?worker_sid={bob.sid}&from={quote('Alice Anders')}&conversation_id=ext-1"
        t1 = alice.act(type="start_outbound_call", destination=destination, queue_sid=queue,
                       task_attributes={"name": "Bob Brown"})["task_sid"]
        offered = lambda s: [t for t in s["tasks"] if t["reservation_status"] == "pending"]
        bob.wait(lambda s: offered(s), "the call offered to Bob")
        offer = offered(bob.state)[0]
        # The webhook validated our signature and its TwiML routed the call to Bob, with the
        # application SID as `to` on the application's side.
        assert offer["attributes"]["name"] == "Alice Anders"
        assert offer["attributes"]["to"] == app.sid
        bob.act(type="accept", reservation_sid=offer["reservation_sid"])
        connected = lambda s: any(t["task_sid"] == t1 and t["call"]["state"] == "connected" for t in s["tasks"])
        alice.wait(connected, "Alice connected")
    finally:
        alice.close()
        bob.close()
