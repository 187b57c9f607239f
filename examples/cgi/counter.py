#!/usr/bin/python3
# A CGI under "SessionRequire On": reads the shared session from the
# environment (from a file when it is larger than RemoteSessionEnvMax) and
# sends an update back in a response header.
import json, os

if "REMOTE_SESSION_FILE" in os.environ:
    with open(os.environ["REMOTE_SESSION_FILE"]) as f:
        session = json.load(f)
else:
    session = json.loads(os.environ.get("REMOTE_SESSION", "{}"))
visits = session.get("visits", 0) + 1

print("Content-Type: text/plain; charset=utf-8")
print("X-Remote-Session-Update: " + json.dumps({"set": {"visits": visits}}))
print()
print(f"session {os.environ.get('REMOTE_SESSION_ID')}: visit {visits}")
print(f"new session: {os.environ.get('REMOTE_SESSION_NEW') == '1'}")
print(f"session before this visit: {os.environ.get('REMOTE_SESSION')}")
