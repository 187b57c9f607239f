#!/bin/sh
# make test-install: "make install", "a2enmod remote_session" and
# "apache2ctl configtest" as a Debian admin runs them, against a scratch
# copy of this machine's /etc/apache2 and a scratch modules directory, so
# that the system is left as it was (checked: /etc/apache2 and httpd's
# modules directory are compared before and after). Then the same with an
# endpoint and SessionRequire configured, and with a mistake httpd must
# refuse (the endpoint without an API key).
set -eu
top=$(pwd)
APXS=${APXS:-$(command -v apxs2 || command -v apxs)}
real_libexec=$($APXS -q LIBEXECDIR)
work=$(mktemp -d /tmp/rs-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
fingerprint() {
    find /etc/apache2 "$real_libexec" -xdev -printf '%p %s %T@ %l\n' 2>/dev/null | sort
}
fingerprint > "$work/before"

cp -a /etc/apache2 "$work/etc"
mkdir "$work/modules"
export APACHE_CONFDIR="$work/etc"
# the scratch ServerRoot: envvars takes its name from APACHE_CONFDIR
make -s install CONFDIR="$work/etc" LIBEXECDIR="$work/modules" >/dev/null
test -f "$work/modules/mod_remote_session.so"
grep -q "$work/modules/mod_remote_session.so" "$work/etc/mods-available/remote_session.load"
a2enmod -q remote_session
test -L "$work/etc/mods-enabled/remote_session.load"
apache2ctl configtest 2>&1 | tee "$work/out1" | grep -q "Syntax OK" \
    || { cat "$work/out1" >&2; echo "test-install: configtest failed" >&2; exit 1; }
apache2ctl -M 2>/dev/null | grep -q "remote_session_module" \
    || { echo "test-install: the module is not loaded" >&2; exit 1; }

# a site that uses it: the endpoint and a SessionRequire location
cat > "$work/etc/conf-enabled/rs-test.conf" <<CONF
RemoteSessionStore "--SERVER=127.0.0.1:11211"
RemoteSessionApiKey 3f2504e0-4f89-11d3-9a0c-0305e82c3301
<Location /systemweb-adapters/session>
    SetHandler remote-session
</Location>
<Location /app>
    SessionRequire On
</Location>
CONF
apache2ctl configtest 2>&1 | tee "$work/out2" | grep -q "Syntax OK" \
    || { cat "$work/out2" >&2; echo "test-install: configtest with the endpoint failed" >&2; exit 1; }
# the same without the key: refused, with a message that says why
sed -i '/RemoteSessionApiKey/d' "$work/etc/conf-enabled/rs-test.conf"
if apache2ctl configtest > "$work/out3" 2>&1; then
    echo "test-install: configtest accepted an endpoint without an API key" >&2
    exit 1
fi
grep -q "RemoteSessionApiKey" "$work/out3" \
    || { cat "$work/out3" >&2; echo "test-install: no word of the missing key" >&2; exit 1; }
a2dismod -q remote_session
test ! -e "$work/etc/mods-enabled/remote_session.load"

cd "$top"
fingerprint > "$work/after"
if ! cmp -s "$work/before" "$work/after"; then
    echo "test-install: the system's apache2 files changed:" >&2
    diff "$work/before" "$work/after" >&2 || true
    exit 1
fi
echo "test-install: make install, a2enmod, configtest: OK (system untouched)"
