#!/bin/sh
# The full "no lost update" run of issue 5: t/50_contention.t with 2,000
# cycles against EACH MPM (event: the suite's server; prefork: an httpd of
# the test's own), 50 concurrent clients on one session. The suite runs the
# same file with 1,000 cycles per MPM (2,000 in all) to stay quick; this is
# the 2,000-per-MPM run (about a minute on 2 cores).
#
#   sh bench/contention.sh [cycles per MPM, default 2000]
#
# Uses the Apache::Test harness (t/run-suite.sh) on its own port base
# (APACHE_TEST_PORT, default 9340). Not run by make test.
set -eu
cd "$(dirname "$0")/.."
[ -e mod_remote_session.so ] || { echo "contention.sh: run make first" >&2; exit 1; }
RS_CONTENTION_CYCLES=${1:-2000} APACHE_TEST_PORT=${APACHE_TEST_PORT:-9340} \
    exec sh t/run-suite.sh -verbose t/50_contention.t
