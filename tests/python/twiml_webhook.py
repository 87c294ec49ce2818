"""A tiny TwiML webhook server for Switchboard's end-to-end tests.

    python twiml_webhook.py PORT_FILE WORKFLOW_SID AUTH_TOKEN MODE

Binds 127.0.0.1 on a free port, writes the port number to PORT_FILE (atomically: a reader never
sees a half-written file), then answers webhook requests until killed:

* MODE=enqueue: checks X-Twilio-Signature with the official library's RequestValidator against
  http://127.0.0.1:PORT/<path> (403 when it does not match), then answers TwiML built with the
  library: <Enqueue workflowSid=WORKFLOW_SID><Task>{attributes}</Task></Enqueue>, the task
  attributes taken from the request like the Flex template's enqueue function does: `name` from
  the custom `from` parameter, `worker_sid` or `callToQueue` when given, and
  `conversations.conversation_id`.
* MODE=slow: sleeps 30 seconds before answering (to exercise webhook timeouts).
* MODE=garbage: answers 200 with `<html>oops</html>` (not TwiML).

POST parameters come from the form body, GET parameters from the query string. Each request is
logged to stderr as one JSON line. Only the `twilio` package is needed beyond the standard library.
"""

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.twiml.voice_response import VoiceResponse

MODES = ("enqueue", "slow", "garbage")
SLOW_SECONDS = 30


class Params:
    """Form parameters in order, repeated names kept; `getall` is what RequestValidator reads."""

    def __init__(self, pairs):
        self.pairs = pairs

    def __iter__(self):
        return iter({k for k, _ in self.pairs})

    def __bool__(self):
        return bool(self.pairs)

    def __getitem__(self, name):
        return self.getall(name)[-1]

    def getall(self, name):
        values = [v for k, v in self.pairs if k == name]
        if not values:
            raise KeyError(name)
        return values

    def get(self, name, default=None):
        values = [v for k, v in self.pairs if k == name]
        return values[-1] if values else default

    def as_dict(self):
        return {k: self.getall(k) for k in self}


def enqueue_twiml(params, workflow_sid):
    attributes = {"name": params.get("from")}
    for key in ("worker_sid", "callToQueue"):
        if params.get(key) is not None:
            attributes[key] = params.get(key)
    attributes["conversations"] = {"conversation_id": params.get("conversation_id")}
    response = VoiceResponse()
    enqueue = response.enqueue(None, workflow_sid=workflow_sid)
    enqueue.task(json.dumps(attributes))
    return str(response)


def make_handler(workflow_sid, auth_token, mode):
    validator = RequestValidator(auth_token)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # the JSON line below replaces the default log
            pass

        def _params(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
            if self.command == "POST":
                return Params(parse_qsl(body, keep_blank_values=True))
            return Params([])

        def _answer(self, status, body, content_type="text/xml"):
            data = body.encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the caller gave up (a timeout test): nothing to do

        def _handle(self):
            params = self._params()
            port = self.server.server_address[1]
            url = f"http://127.0.0.1:{port}{self.path}"
            signature = self.headers.get("X-Twilio-Signature", "")
            query = Params(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            record = {"method": self.command, "path": self.path, "params": params.as_dict(), "mode": mode}
            if mode == "enqueue":
                algorithm = get_signature_algorithm(self.headers.get("X-Twilio-Webhooks-Signature-Settings"))
                try:
                    valid = validator.validate(url, params if params else {}, signature, algorithm)
                except ValueError:
                    valid = False
                record["signature_valid"] = valid
                print(json.dumps(record), file=sys.stderr, flush=True)
                if not valid:
                    self._answer(403, "invalid X-Twilio-Signature", "text/plain")
                    return
                source = params if self.command == "POST" else query
                self._answer(200, enqueue_twiml(source, workflow_sid))
            elif mode == "slow":
                print(json.dumps(record), file=sys.stderr, flush=True)
                time.sleep(SLOW_SECONDS)
                self._answer(200, str(VoiceResponse()))
            else:
                print(json.dumps(record), file=sys.stderr, flush=True)
                self._answer(200, "<html>oops</html>", "text/html")

        def do_POST(self):  # noqa: N802 (http.server's naming)
            self._handle()

        def do_GET(self):  # noqa: N802
            self._handle()

    return Handler


def main(argv):
    if len(argv) != 5 or argv[4] not in MODES:
        print(f"usage: {argv[0]} PORT_FILE WORKFLOW_SID AUTH_TOKEN {{{'|'.join(MODES)}}}", file=sys.stderr)
        return 2
    port_file, workflow_sid, auth_token, mode = argv[1:]
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(workflow_sid, auth_token, mode))
    server.daemon_threads = True
    port = server.server_address[1]
    tmp = f"{port_file}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.replace(tmp, port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
