#!/bin/sh
# make run: a memcached and an httpd on loopback with the module, the
# session endpoint over http and over https (h2 by ALPN, as the ASP.NET
# Core client needs it; a self-signed certificate for localhost made here)
# and a sample page under SessionRequire. Ctrl-C stops both.
set -e
top=$(pwd)
dir="$top/run"
mkdir -p "$dir/logs" "$dir/cgi-bin" "$dir/tls"
cp examples/cgi/counter.py "$dir/cgi-bin/counter.py"
free_port() {
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1,
        LocalAddr => "127.0.0.1", LocalPort => 0)->sockport'
}
mc_port=$(free_port)
http_port=$(free_port)
https_port=$(free_port)
[ -s "$dir/tls/server.crt" ] || openssl req -x509 -newkey rsa:2048 -nodes \
    -days 365 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -addext basicConstraints=critical,CA:FALSE \
    -keyout "$dir/tls/server.key" -out "$dir/tls/server.crt" 2>/dev/null
key=$(cat /proc/sys/kernel/random/uuid)
mods=$(apxs -q LIBEXECDIR)
httpd=$(command -v apache2 || echo /usr/sbin/apache2)
[ -x "$httpd" ] || httpd=$(apxs -q SBINDIR)/$(apxs -q TARGET)

cat > "$dir/httpd.conf" <<CONF
ServerRoot "$dir"
ServerName 127.0.0.1
Listen 127.0.0.1:$http_port
PidFile "$dir/httpd.pid"
ErrorLog "$dir/logs/error_log"
LogLevel warn remote_session:info
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule alias_module $mods/mod_alias.so
LoadModule cgid_module $mods/mod_cgid.so
LoadModule http2_module $mods/mod_http2.so
LoadModule socache_shmcb_module $mods/mod_socache_shmcb.so
LoadModule ssl_module $mods/mod_ssl.so
LoadModule remote_session_module $top/mod_remote_session.so
$( [ "$(id -u)" = 0 ] && echo "User nobody" && echo "Group nogroup" )
Protocols h2c http/1.1
ScriptSock "$dir/cgid.sock"
RemoteSessionStore "--SERVER=127.0.0.1:$mc_port"
RemoteSessionApiKey $key
# the sample page's key: the Apache side's, so that the ASP.NET Core
# client (which throws on keys it cannot read) never receives it
RemoteSessionKey visits int apache
<Location /systemweb-adapters/session>
    SetHandler remote-session
</Location>
Listen 127.0.0.1:$https_port
SSLSessionCache "shmcb:$dir/logs/ssl_scache(512000)"
<VirtualHost 127.0.0.1:$https_port>
    SSLEngine on
    SSLCertificateFile "$dir/tls/server.crt"
    SSLCertificateKeyFile "$dir/tls/server.key"
    Protocols h2 http/1.1
    <Location /systemweb-adapters/session>
        SetHandler remote-session
    </Location>
</VirtualHost>
ScriptAlias /app/ "$dir/cgi-bin/"
<Location /app>
    SessionRequire On
</Location>
CONF

memcached -l 127.0.0.1 -p "$mc_port" -U 0 -u nobody &
mc_pid=$!
trap 'kill $mc_pid 2>/dev/null' EXIT INT TERM
base="http://127.0.0.1:$http_port"
cat <<INFO

mod_remote_session is running (Ctrl-C stops it; logs in run/logs/).

  session endpoint : https://localhost:$https_port/systemweb-adapters/session
                     (h2 by ALPN; certificate: run/tls/server.crt)
                     $base/systemweb-adapters/session (GET + PUT)
  API key          : $key
  sample page      : $base/app/counter.py   (SessionRequire On, counts visits)

Read a session through the endpoint, as the ASP.NET Core client does:
  curl -s -c run/jar -b run/jar -H 'X-SystemWebAdapter-RemoteAppAuthentication-Key: $key' \\
       -H 'X-SystemWebAdapter-RemoteAppSession-ReadOnly: true' $base/systemweb-adapters/session | od -c

Both share one session through the cookie jar: visit the page, then read
the endpoint again and see "visits" in the state:
  curl -s -c run/jar -b run/jar $base/app/counter.py

The ASP.NET Core side (it must trust run/tls/server.crt):
  .AddRemoteAppClient(o => {
      o.RemoteAppUrl = new("https://localhost:$https_port");
      o.ApiKey = "$key"; })
  .AddSessionClient();

INFO
"$httpd" -f "$dir/httpd.conf" -DFOREGROUND
