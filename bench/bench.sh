#!/bin/sh
# make bench: the performance figures of issue 15, each printed beside a
# baseline measured in the same run (writeable cycle and lock hand-off
# percentiles, memcached operations per request, read-only GET and
# SessionRequire PHP throughput against static files and php-memcached
# sessions, big sessions, what a waiting writer costs memcached). Starts
# its own memcached and httpds on free loopback ports under
# /tmp/rs-bench-<pid> and stops them (by pid) when done. About 1-3 minutes;
# BENCH_QUICK=1 for a smoke run of ~20 s. Not run by make test.
#
#   sh bench/bench.sh            (or: make bench)
#   BENCH_QUICK=1 sh bench/bench.sh
#
# Needs ab (apache2-utils), mod_php (libapache2-mod-php) and php-memcached
# for the PHP figure; ab and php-memcached are installed when missing and
# we are root. Exits non-zero only when a figure could not be measured.
set -eu
cd "$(dirname "$0")/.."
[ -e mod_remote_session.so ] || { echo "bench.sh: run make first" >&2; exit 1; }

install_pkg() {
    [ "$(id -u)" = 0 ] || return 1
    echo "bench.sh: installing $1" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1 && return 0
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1
}

if ! command -v ab >/dev/null 2>&1; then
    install_pkg apache2-utils || { echo "bench.sh: ab (apache2-utils) is missing" >&2; exit 1; }
fi
# php-memcached only when missing; when it cannot be had, the PHP figure
# says why (BENCH_PHPMC_WHY) and the others are measured all the same
if ! php -m 2>/dev/null | grep -qx memcached; then
    if [ "$(id -u)" != 0 ]; then
        BENCH_PHPMC_WHY="not installed, and not root to install it"
    elif ! install_pkg php-memcached; then
        BENCH_PHPMC_WHY="apt-get install php-memcached failed"
    fi
fi
export BENCH_PHPMC_WHY="${BENCH_PHPMC_WHY:-}"
exec perl bench/bench.pl
