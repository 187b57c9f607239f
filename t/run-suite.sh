#!/bin/sh
# Runs the Apache::Test suite: t/TEST.PL starts a memcached and an httpd
# (Debian's apache2, found through apxs) with ../mod_remote_session.so loaded,
# runs the tests and stops both.
#
# The suite never depends on the system's httpd configuration: it writes
# t/conf/system.conf, which Apache::Test inherits instead of
# /etc/apache2/apache2.conf, with the MPM and the modules it needs, and
# t/conf/extra.conf.in sets the worker limits. With no test named it runs
# twice: every test under mpm_event, then the endpoint and lock tests
# (t/1*.t, t/2*.t) and the shared-memory tests (t/6*.t) under mpm_prefork,
# whatever MPM Debian has enabled.
#
#   sh t/run-suite.sh                             both passes
#   sh t/run-suite.sh -verbose t/01_loaded.t      one pass, mpm_event
#   RS_MPM=prefork sh t/run-suite.sh t/20_lock_wait.t
#
# Exits non-zero when a test fails, the servers do not start, or a test
# was skipped (make test installs everything the suite needs, so a skip
# means something is missing). Logs: t/logs/ (a failed pass keeps its own
# in t/logs-<mpm>/).
set -eu

T=$(cd "$(dirname "$0")" && pwd)
umask 022

APXS=${APXS:-$(command -v apxs2 || command -v apxs || true)}
if [ -z "$APXS" ]; then
    echo "run-suite: apxs not found (install apache2-dev)" >&2
    exit 1
fi
HTTPD=${HTTPD:-$("$APXS" -q SBINDIR)/$("$APXS" -q TARGET)}
MODDIR=$("$APXS" -q LIBEXECDIR)
if [ ! -e "$T/../mod_remote_session.so" ]; then
    echo "run-suite: $T/../mod_remote_session.so is missing (run make)" >&2
    exit 1
fi

# As root, Apache::Test makes httpd run as User nobody, which must be able to
# read t/ (htdocs, the CGI) and the examples. If this checkout is somewhere
# nobody cannot reach (a clone under /root or in a mode-0700 directory, a
# umask 077 checkout), run from a readable copy with the same layout: t/,
# beside it include/ (the consumer module t/c-modules/rs_api) and examples/
# (t/37, t/38), and the module.
work=
if [ "$(id -u)" = 0 ] &&
   ! runuser -u nobody -- test -r "$T/../examples/cgi/counter.py" 2>/dev/null; then
    work=$(mktemp -d /tmp/rs-suite.XXXXXX)
    top="$T/.."
    cp -R "$T" "$work/t"
    cp -R "$top/include" "$top/examples" "$work/"
    cp "$top/mod_remote_session.so" "$work/"
    chmod -R a+rX "$work"
    echo "run-suite: user nobody cannot read $T; running from a copy in $work"
    T="$work/t"
fi
cd "$T"

# What Apache::Test inherits as "the system's httpd config": the MPM of this
# pass and the modules the suite needs, from httpd's own modules directory.
write_system_conf() {
    {
        echo "# Written by t/run-suite.sh for the mpm_$1 pass; Apache::Test"
        echo "# inherits these LoadModule lines (t/TEST.PL -httpd_conf)."
        for m in "mpm_$1" authz_core authz_host authn_core access_compat \
                 mime alias dir env headers setenvif status filter \
                 socache_shmcb ssl; do
            echo "LoadModule ${m}_module $MODDIR/mod_$m.so"
        done
    } > conf/system.conf
}

# Test::Builder records every skip in $RS_SKIP_LOG (t/lib/RS/NoSkip.pm).
skips="$T/logs-skips"
rm -f "$skips"

run_pass() {
    mpm=$1
    shift
    write_system_conf "$mpm"
    rm -rf "logs-$mpm" logs/httpd2-* logs/memcached.log
    perl TEST.PL -clean >/dev/null 2>&1
    echo "run-suite: Apache::Test under mpm_$mpm"
    prc=0
    # The harness's output is kept too: CI shows only the end of a long
    # run, so a failed pass's summary is printed again at the very end.
    { RS_MPM=$mpm RS_SKIP_LOG=$skips PERL5LIB="$T/lib${PERL5LIB:+:$PERL5LIB}" \
        HARNESS_PERL_SWITCHES="${HARNESS_PERL_SWITCHES:+$HARNESS_PERL_SWITCHES }-MRS::NoSkip" \
        perl TEST.PL -apxs "$APXS" -httpd "$HTTPD" \
            -httpd_conf "$T/conf/system.conf" -port select "$@" 2>&1 \
        || echo "run-suite: exit $?" > "out-$mpm.rc"; } | tee "out-$mpm.txt"
    if [ -e "out-$mpm.rc" ]; then
        prc=1
        rm -f "out-$mpm.rc"
        cp -R logs "logs-$mpm"
        mv "out-$mpm.txt" "logs-$mpm/harness.txt"
        failed="$failed $mpm"
        echo "run-suite: mpm_$mpm pass failed; its logs are in $T/logs-$mpm" >&2
    fi
    rm -f "out-$mpm.txt"
    return "$prc"
}

# Every failed test line and the harness's summary of each failed pass.
report_failures() {
    for mpm in $failed; do
        echo "run-suite: what failed under mpm_$mpm:" >&2
        grep -E '^(not ok|#|t/.*(Failed|Dubious|Wstat))|^Failed|Failed tests?:|Non-zero|Parse errors' \
            "logs-$mpm/harness.txt" | grep -v '^# *$' | tail -60 >&2
    done
}
failed=

rc=0
if [ -n "${RS_MPM:-}" ] || [ $# -gt 0 ]; then
    run_pass "${RS_MPM:-event}" "$@" || rc=$?
else
    run_pass event || rc=$?
    # (in t/ already: the names as Apache::Test takes them)
    run_pass prefork $(for f in 1*.t 2*.t 6*.t; do echo "t/$f"; done) || rc=$?
fi

report_failures
if [ -s "$skips" ]; then
    echo "run-suite: tests were skipped; make test's setup should need none:" >&2
    sed 's/^/    /' "$skips" >&2
    rc=1
fi
if [ -n "$work" ]; then
    if [ "$rc" = 0 ]; then rm -rf "$work"; else echo "run-suite: logs in $T"; fi
fi
exit "$rc"
