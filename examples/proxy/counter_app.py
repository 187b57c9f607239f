#!/usr/bin/python3
"""A proxied backend under "SessionRequire On": an application server that
httpd reaches through mod_proxy. It reads the shared session from the
request headers the module adds (X-Remote-Session: the items as one JSON
object; X-Remote-Session-Id; X-Remote-Session-New) and changes it with an
X-Remote-Session-Update response header, which httpd applies and never
passes on to the browser.

    python3 counter_app.py 8081

    <Location /app/>
        SessionRequire On
        ProxyPass http://127.0.0.1:8081/
    </Location>

Only httpd may reach the app (here: it listens on 127.0.0.1): the module
removes those headers from what browsers send, but a client that reached
the app directly could send its own.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Counter(BaseHTTPRequestHandler):
    def do_GET(self):
        session = json.loads(self.headers.get("X-Remote-Session", "{}"))
        visits = session.get("visits", 0) + 1
        body = (f"session {self.headers.get('X-Remote-Session-Id')}: "
                f"visit {visits}\n"
                f"new session: {self.headers.get('X-Remote-Session-New') == '1'}\n"
                f"session before this visit: {json.dumps(session)}\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Remote-Session-Update",
                         json.dumps({"set": {"visits": visits}}))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8081
    server = ThreadingHTTPServer(("127.0.0.1", port), Counter)
    print(f"READY {port}", flush=True)
    server.serve_forever()
