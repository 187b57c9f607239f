#!/bin/sh
# Installs the Debian packages the build and the tests need, only those that
# are missing, so that repeated runs cost nothing and need no network.
set -e
PKGS="apache2 apache2-dev libmemcached-dev libjansson-dev memcached
      libapache2-mod-perl2 libwww-perl libjson-pp-perl libhttp-daemon-perl
      python3-h2 curl clang libclang-rt-dev php-cgi openssl"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "missing packages:$missing (run as root, or install them)" >&2
    exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
