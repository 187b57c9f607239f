#!/bin/sh
# make install: the module through apxs, and the Debian layout's load and
# conf files so that "a2enmod remote_session" works. CONFDIR and
# LIBEXECDIR (default: apxs's) install elsewhere, as scripts/test-install.sh
# does into a scratch copy of /etc/apache2.
set -e
APXS=${1:-apxs}
confdir=${CONFDIR:-$($APXS -q SYSCONFDIR)}
libexec=${LIBEXECDIR:-$($APXS -q LIBEXECDIR)}
$APXS -i -S LIBEXECDIR="$libexec" -n remote_session mod_remote_session.la
if [ -d "$confdir/mods-available" ]; then
    sed "s|/usr/lib/apache2/modules|$libexec|" conf/remote_session.load \
        > "$confdir/mods-available/remote_session.load"
    cp conf/remote_session.conf "$confdir/mods-available/remote_session.conf"
    echo "installed; enable with: a2enmod remote_session"
fi
