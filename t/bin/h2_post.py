#!/usr/bin/python3
"""The protocol's one-connection POST over HTTP/2, driven by a test
(t/13_endpoint_post.t, t/17_endpoint_tls.t) through stdin/stdout: over
cleartext HTTP/2 with prior knowledge, or, with --tls CAFILE, as the
ASP.NET Core client does it: TLS, h2 chosen by ALPN (--alpn, default "h2",
the only protocol that client offers for its POST), the certificate
checked against CAFILE for the name localhost. Needs Debian's python3-h2:
run it with /usr/bin/python3.

    /usr/bin/python3 h2_post.py --port N [--path P] [--key K]
                                [--key-header NAME] [--cookie 'name=value']
                                [--linger S] [--tls CAFILE] [--alpn h2,...]

With --tls, when the server picks no h2 (or ends the handshake because
none of the offered protocols fits) the script prints one line
{"error": "ALPN ...", "alpn": <what it picked or null>} and exits 2.

1. Opens the stream: POST with the key header (and the cookie), request
   body left open.
2. Reads the response head and DATA until a whole serialized session state
   has arrived, then keeps reading --linger seconds more (anything arriving
   then came before the client sent a byte of its body), and prints one JSON
   line: {"status", "headers": [[name, value], ...], "state_hex",
   "extra_hex", "ended", "reset", "error"}.
3. Reads one JSON line from stdin: {"body_hex": ..., "pieces": n,
   "delay": seconds} and sends the body in n DATA frames, delay seconds
   apart, the last one ending the stream ({"abort": true} resets the
   stream instead). With "vanish": "close" | "reset" | "goaway" it sends
   the body without ending the stream, then vanishes that way (closes the
   connection; RST_STREAM(CANCEL), then closes; GOAWAY, then closes), prints
   {"vanished": mode} and exits.
4. Reads the rest of the response until the stream ends and prints
   {"rest_hex", "ended", "reset", "error"}.
"""
import argparse
import json
import select
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.errors
import h2.events


class Truncated(Exception):
    pass


def state_length(buf):
    """Length of the serialized state at the start of buf (Truncated when
    more bytes are needed)."""
    pos = 0

    def byte():
        nonlocal pos
        if pos >= len(buf):
            raise Truncated()
        pos += 1
        return buf[pos - 1]

    def int7():
        value, shift = 0, 0
        while True:
            b = byte()
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
            if shift > 28:
                raise ValueError("7-bit int too long")

    def skip_bytes():
        nonlocal pos
        n = int7()
        if pos + n > len(buf):
            raise Truncated()
        pos += n

    if byte() != 1:
        raise ValueError("not version 1")
    skip_bytes()                # session ID
    byte(); byte(); byte()      # IsNewSession, IsAbandoned, IsReadOnly
    int7()                      # Timeout
    for _ in range(int7()):
        skip_bytes()
        skip_bytes()
    for _ in range(int7()):
        skip_bytes()
    return pos


def tls_wrap(sock, cafile, alpn):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    ctx.set_alpn_protocols(alpn)
    try:
        tls = ctx.wrap_socket(sock, server_hostname="localhost")
    except ssl.SSLError as e:
        # OpenSSL servers end the handshake when no offered protocol fits
        emit({"error": "ALPN: no h2, the TLS handshake failed: %s" % e,
              "alpn": None})
        sys.exit(2)
    chosen = tls.selected_alpn_protocol()
    if chosen != "h2":
        emit({"error": "ALPN: the server chose %s, not h2" % chosen,
              "alpn": chosen})
        sys.exit(2)
    return tls


class Client:
    def __init__(self, port, cafile=None, alpn=("h2",)):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if cafile:
            self.sock = tls_wrap(self.sock, cafile, list(alpn))
        cfg = h2.config.H2Configuration(client_side=True,
                                        header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        self.flush()
        self.status = None
        self.headers = []
        self.data = b""
        self.ended = False
        self.reset = None
        self.error = None
        self.stream = None

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def pump(self, timeout):
        """Reads and handles what arrives within timeout seconds."""
        pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()
        ready, _, _ = select.select([self.sock], [], [], max(timeout, 0))
        if not ready and not pending:
            return False
        try:
            chunk = self.sock.recv(65536)
        except ssl.SSLWantReadError:
            return True     # a TLS record not whole yet
        if not chunk:
            self.error = self.error or "connection closed"
            self.ended = True
            return False
        for ev in self.conn.receive_data(chunk):
            if isinstance(ev, h2.events.ResponseReceived):
                self.headers = [[n, v] for n, v in ev.headers]
                for n, v in ev.headers:
                    if n == ":status":
                        self.status = int(v)
            elif isinstance(ev, h2.events.DataReceived):
                self.data += ev.data
                self.conn.acknowledge_received_data(
                    ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                self.ended = True
            elif isinstance(ev, h2.events.StreamReset):
                self.reset = ev.error_code
                self.ended = True
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.error = "GOAWAY %s" % ev.error_code
                self.ended = True
        self.flush()
        return True


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def vanish(c, sid, body, mode):
    """Sends body without ending the stream, then goes away by mode."""
    if body:
        c.conn.send_data(sid, body, end_stream=False)
        c.flush()
    if mode == "reset":
        c.conn.reset_stream(sid, error_code=h2.errors.ErrorCodes.CANCEL)
    elif mode == "goaway":
        c.conn.close_connection()
    c.flush()
    c.sock.close()
    emit({"vanished": mode})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/systemweb-adapters/session")
    ap.add_argument("--key", default=None)
    ap.add_argument("--cookie", default=None)
    ap.add_argument("--linger", type=float, default=0.3)
    ap.add_argument("--timeout", type=float, default=5)
    ap.add_argument("--key-header",
                    default="x-systemwebadapter-remoteappauthentication-key")
    ap.add_argument("--tls", default=None, metavar="CAFILE")
    ap.add_argument("--alpn", default="h2")
    a = ap.parse_args()

    c = Client(a.port, a.tls, a.alpn.split(","))
    headers = [(":method", "POST"), (":scheme", "https" if a.tls else "http"),
               (":authority", ("localhost:%d" if a.tls else "127.0.0.1:%d")
                % a.port), (":path", a.path),
               ("content-type", "application/octet-stream")]
    if a.key is not None:
        headers.append((a.key_header.lower(), a.key))
    if a.cookie is not None:
        headers.append(("cookie", a.cookie))
    sid = c.conn.get_next_available_stream_id()
    c.stream = sid
    c.conn.send_headers(sid, headers, end_stream=False)
    c.flush()

    # the state
    deadline = time.time() + a.timeout
    state_len = None
    while not c.ended and time.time() < deadline:
        try:
            state_len = state_length(c.data)
            break
        except Truncated:
            pass
        except ValueError as e:
            c.error = "no state: %s" % e
            break
        c.pump(deadline - time.time())
    # whatever else comes before the client sends its body
    linger_end = time.time() + a.linger
    while state_len is not None and not c.ended and time.time() < linger_end:
        c.pump(linger_end - time.time())
    state = c.data[:state_len] if state_len is not None else b""
    extra = c.data[state_len:] if state_len is not None else c.data
    emit({"status": c.status, "headers": c.headers, "state_hex": state.hex(),
          "extra_hex": extra.hex(), "ended": c.ended, "reset": c.reset,
          "error": c.error})
    c.data = b""

    # the body, from the test
    line = sys.stdin.readline()
    cmd = json.loads(line) if line.strip() else {"abort": True}
    if cmd.get("vanish") and not c.ended:
        vanish(c, sid, bytes.fromhex(cmd.get("body_hex", "")), cmd["vanish"])
        return
    if not c.ended:
        if cmd.get("abort"):
            c.conn.reset_stream(sid)
            c.flush()
        else:
            body = bytes.fromhex(cmd.get("body_hex", ""))
            pieces = max(1, int(cmd.get("pieces", 1)))
            size = -(-len(body) // pieces) if body else 0
            parts = [body[i:i + size] for i in range(0, len(body), size)] \
                if size else [b""]
            for i, part in enumerate(parts):
                last = i == len(parts) - 1
                c.conn.send_data(sid, part, end_stream=last)
                c.flush()
                if not last:
                    # keep reading meanwhile (flow control, early answers)
                    end = time.time() + float(cmd.get("delay", 0))
                    while time.time() < end:
                        c.pump(end - time.time())

    # the rest of the response
    deadline = time.time() + a.timeout
    while not c.ended and time.time() < deadline:
        c.pump(deadline - time.time())
    emit({"rest_hex": c.data.hex(), "ended": c.ended, "reset": c.reset,
          "error": c.error})
    try:
        c.conn.close_connection()
        c.flush()
    except Exception:
        pass
    c.sock.close()


if __name__ == "__main__":
    main()
