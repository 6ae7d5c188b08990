"""A webhook receiver for the tests, verifying every delivery with the Standard Webhooks reference library
(`standardwebhooks` from PyPI), written by people who never saw our code.

    receiver.py PORT SECRET OUT_FILE [CERT KEY]

Serves HTTPS when CERT and KEY are given. Prints "listening PORT" once bound (PORT 0 picks one). Each verified
delivery appends one JSON line to OUT_FILE: {"id", "seq", "type", "reference", "data"}. A delivery whose
signature does not verify is answered 401 and recorded as {"bad": reason}. If OUT_FILE + ".fail" exists, it
lists event sequence numbers (one per line, or "*") to answer 500 to.
"""

import json
import os
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

PORT, SECRET, OUT = int(sys.argv[1]), sys.argv[2], sys.argv[3]
CERT_KEY = sys.argv[4:6] if len(sys.argv) >= 6 else None
LOCK = threading.Lock()
HOOK = Webhook(SECRET)


def record(entry):
    with LOCK, open(OUT, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()


def failing():
    try:
        with open(OUT + ".fail", encoding="utf-8") as f:
            return {line.strip() for line in f if line.strip()}
    except FileNotFoundError:
        return set()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode("utf-8")
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            payload = HOOK.verify(body, headers)
        except Exception as e:  # any verification failure
            record({"bad": f"{type(e).__name__}: {e}"})
            self.send_response(401)
            self.end_headers()
            return
        seq = payload["data"].get("event_seq")
        fail = failing()
        if "*" in fail or str(seq) in fail:
            self.send_response(500)
            self.end_headers()
            return
        record({"id": headers["webhook-id"], "seq": seq, "type": payload["type"],
                "reference": payload["data"].get("reference"), "data": payload["data"]})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
if CERT_KEY:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CERT_KEY[0], CERT_KEY[1])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
