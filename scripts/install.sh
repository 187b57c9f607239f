#!/bin/sh
# make install: the module through apxs, and the Debian layout's load and
# conf files so that "a2enmod remote_session" works.
set -e
APXS=${1:-apxs}
$APXS -i -n remote_session mod_remote_session.la
confdir=$($APXS -q SYSCONFDIR)
libexec=$($APXS -q LIBEXECDIR)
if [ -d "$confdir/mods-available" ]; then
    sed "s|/usr/lib/apache2/modules|$libexec|" conf/remote_session.load \
        > "$confdir/mods-available/remote_session.load"
    cp conf/remote_session.conf "$confdir/mods-available/remote_session.conf"
    echo "installed; enable with: a2enmod remote_session"
fi
