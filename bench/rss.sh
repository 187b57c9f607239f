#!/bin/sh
# Memory over a long run (issue 5, "Memory"): one httpd with exactly one
# child process (event MPM, ServerLimit 1), its own memcached, 100,000
# mixed requests: read-only GETs (ab -k, with a session cookie and
# without, so new sessions are made too), writeable GET + PUT cycles (a
# Perl keep-alive client, several sessions in parallel) and SessionRequire
# On requests (ab on t/cgi-bin/hostile_counter.cgi, which updates the
# session). Prints the child's RSS after the first 1,000 requests and after
# all 100,000. Stops what it started (by pid) on exit.
#
#   sh bench/rss.sh [total requests, default 100000]
#
# Needs ab (apache2-utils: installed when missing) and a built module
# (make). Not run by make test.
set -eu
cd "$(dirname "$0")/.."
if ! command -v ab >/dev/null 2>&1; then
    echo "rss.sh: installing apache2-utils (ab)" >&2
    apt-get install -y apache2-utils >/dev/null
fi
[ -e mod_remote_session.so ] || { echo "rss.sh: run make first" >&2; exit 1; }
exec perl bench/rss.pl "$@"
