#!/usr/bin/python3
# A client of the protocol's one-connection POST mode over cleartext HTTP/2
# (prior knowledge) that vanishes halfway, for t/42_fault_client_vanish.t.
# Needs Debian's python3-h2 (run it with /usr/bin/python3).
#
#   fault_h2_post.py PORT PATH API_KEY SESSION_ID PARTIAL_BODY_HEX MODE
#
# Opens the stream (POST, no END_STREAM), reads the response head and the
# serialized state, sends PARTIAL_BODY_HEX as DATA without END_STREAM, then
#   MODE close:  closes the TCP connection (no GOAWAY, no RST_STREAM)
#   MODE reset:  sends RST_STREAM(CANCEL) and keeps the connection open
#                until its stdin reaches EOF
#   MODE goaway: sends GOAWAY, then closes the TCP connection
# Prints, one per line: "STATUS <code>", "STATE <hex>", "VANISHED <mode>",
# and "ERROR <text>" when something else happened (exit status 1).
import socket
import sys
import time

import h2.config
import h2.connection
import h2.errors
import h2.events


def out(*words):
    print(*words, flush=True)


def read7(b, i):
    v, shift = 0, 0
    for _ in range(5):
        if i >= len(b):
            raise IndexError
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if not c & 0x80:
            return v, i
        shift += 7
    raise ValueError("7-bit int too long")


def state_length(b):
    """Length of the complete state at the start of b; IndexError if short."""
    i = 1
    n, i = read7(b, i)
    i += n + 3
    _, i = read7(b, i)          # timeout
    count, i = read7(b, i)
    for _ in range(count):
        n, i = read7(b, i)
        i += n
        n, i = read7(b, i)
        i += n
    unknown, i = read7(b, i)
    for _ in range(unknown):
        n, i = read7(b, i)
        i += n
    if i > len(b):
        raise IndexError
    return i


def main():
    port, path, key, sid, partial_hex, mode = sys.argv[1:7]
    sock = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True,
                                         header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    stream = conn.get_next_available_stream_id()
    headers = [(":method", "POST"), (":path", path), (":scheme", "http"),
               (":authority", "127.0.0.1:" + port),
               ("x-systemwebadapter-remoteappauthentication-key", key)]
    if sid:
        headers.append(("cookie", "ASP.NET_SessionId=" + sid))
    conn.send_headers(stream, headers, end_stream=False)
    sock.sendall(conn.data_to_send())

    status, body = None, b""
    deadline = time.time() + 10
    while True:
        if time.time() > deadline:
            out("ERROR timeout waiting for the state")
            return 1
        data = sock.recv(65536)
        if not data:
            out("ERROR connection closed before the state")
            return 1
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                status = dict(ev.headers).get(":status")
                out("STATUS", status)
            elif isinstance(ev, h2.events.DataReceived):
                body += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length,
                                               ev.stream_id)
            elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset,
                                 h2.events.ConnectionTerminated)):
                out("ERROR", type(ev).__name__, "before the state",
                    body.hex())
                return 1
        pending = conn.data_to_send()
        if pending:
            sock.sendall(pending)
        if status is not None and status != "200":
            out("ERROR status", status)
            return 1
        try:
            n = state_length(body)
        except IndexError:
            continue
        out("STATE", body[:n].hex())
        break

    partial = bytes.fromhex(partial_hex)
    if partial:
        conn.send_data(stream, partial, end_stream=False)
        sock.sendall(conn.data_to_send())
    time.sleep(0.05)
    if mode == "close":
        sock.close()
        out("VANISHED close")
        return 0
    if mode == "goaway":
        conn.close_connection()
        sock.sendall(conn.data_to_send())
        sock.close()
        out("VANISHED goaway")
        return 0
    if mode == "reset":
        conn.reset_stream(stream, error_code=h2.errors.ErrorCodes.CANCEL)
        sock.sendall(conn.data_to_send())
        out("VANISHED reset")
        # keep the connection, answering pings and window updates, until
        # our stdin ends
        sock.setblocking(False)
        import select
        while True:
            r, _, _ = select.select([sock, sys.stdin], [], [], 1.0)
            if sys.stdin in r:
                if not sys.stdin.readline():
                    break
            if sock in r:
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    break
                try:
                    conn.receive_data(data)
                except Exception:
                    pass
                pending = conn.data_to_send()
                if pending:
                    sock.sendall(pending)
        sock.close()
        return 0
    out("ERROR unknown mode", mode)
    return 1


if __name__ == "__main__":
    sys.exit(main())
