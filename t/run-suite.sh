#!/bin/sh
# Runs the Apache::Test suite: t/TEST.PL starts a memcached and an httpd
# (Debian's apache2, found through apxs) with ../mod_remote_session.so loaded,
# runs t/*.t and stops both. Exits non-zero when a test fails or the servers
# do not start. Extra arguments go to t/TEST.PL, e.g.
#   sh t/run-suite.sh -verbose t/01_loaded.t
# Logs: t/logs/error_log, t/logs/memcached.log.
set -eu

T=$(cd "$(dirname "$0")" && pwd)
umask 022

APXS=${APXS:-$(command -v apxs2 || command -v apxs || true)}
if [ -z "$APXS" ]; then
    echo "run-suite: apxs not found (install apache2-dev)" >&2
    exit 1
fi
HTTPD=${HTTPD:-$("$APXS" -q SBINDIR)/$("$APXS" -q TARGET)}
if [ ! -e "$T/../mod_remote_session.so" ]; then
    echo "run-suite: $T/../mod_remote_session.so is missing (run make)" >&2
    exit 1
fi

# As root, Apache::Test makes httpd run as User nobody, which must be able to
# read t/ (htdocs, the CGI). If this checkout is somewhere nobody cannot reach
# (a clone under /root, a umask 077 checkout), run from a readable copy.
work=
if [ "$(id -u)" = 0 ] &&
   ! runuser -u nobody -- test -x "$T/cgi-bin/env.cgi" 2>/dev/null; then
    work=$(mktemp -d /tmp/rs-suite.XXXXXX)
    cp -R "$T" "$work/t"
    cp "$T/../mod_remote_session.so" "$work/"
    chmod -R a+rX "$work"
    echo "run-suite: user nobody cannot read $T; running from a copy in $work"
    T="$work/t"
fi

cd "$T"
rm -rf logs/httpd2-* logs/memcached.log
perl TEST.PL -clean >/dev/null 2>&1
rc=0
perl TEST.PL -apxs "$APXS" -httpd "$HTTPD" -port select "$@" || rc=$?
if [ -n "$work" ]; then
    if [ "$rc" = 0 ]; then rm -rf "$work"; else echo "run-suite: logs in $T/logs"; fi
fi
exit "$rc"
