# MergeTrailers On (issue 11, item 12): httpd merges a chunked request's
# trailers into its headers once the body is read, after the module has
# removed the client's X-Remote-Session* headers and set its own. A client
# must not get its own X-Remote-Session* to a backend that way. Checked:
# it does not (mod_proxy_http sends the headers it had before the body's
# trailers, and does not pass request trailers on); this test keeps it so.
# The backend
# (here t/bin/req_backend.pl behind mod_proxy) must see the module's
# values, or none.
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use JSON::PP ();
use RS::Test qw(:all);

plan tests => 6;

# t/bin/req_backend.pl: answers with the X-Remote-Session* headers it got
my $bport = free_port();
my $bpid = start_backend($bport) or die "t/bin/req_backend.pl did not start\n";
END { local $?; if ($bpid) { kill KILL => $bpid; waitpid($bpid, 0) } }   # ours, by pid

my $port = free_port();
my $h = start_httpd(name => 'trailers', port => $port, config => <<"CONF");
MergeTrailers On
<Location /px/>
    SessionRequire On
    ProxyPass http://127.0.0.1:$bport/
</Location>
<Location /pxro/>
    SessionRequire ReadOnly
    ProxyPass http://127.0.0.1:$bport/
</Location>
<Location /pxoff/>
    ProxyPass http://127.0.0.1:$bport/
</Location>
CONF
END { stop_httpd($h) if $h }

my $id = new_session(port => $port, items => { who => '"real"' });

# a chunked POST whose trailer names the session headers
sub with_trailers {
    my ($path) = @_;
    my $c = RS::Client->new(port => $port);
    $c->send("POST $path HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             . 'Cookie: ' . COOKIE_NAME . "=$id\r\n"
             . "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
             . "Trailer: X-Remote-Session, X-Remote-Session-Id\r\n\r\n"
             . "5\r\nhello\r\n0\r\n"
             . "X-Remote-Session: {\"who\":\"forged\"}\r\n"
             . "X-Remote-Session-Id: forgedforgedforgedforged\r\n"
             . "Connection: close\r\n\r\n");
    my $code = $c->read_head(10);
    $c->read_body(10);
    my $got = eval { JSON::PP->new->decode($c->{body}) } || {};
    # the backend's view: header name -> its first value
    my $env = { map { (my $n = uc "HTTP_$_") =~ tr/-/_/; ($n => $got->{headers}{$_}[0]) }
                keys %{ $got->{headers} || {} } };
    $c->close;
    return ($code, $env);
}

for my $case (['/px/x', 'On'], ['/pxro/x', 'ReadOnly']) {
    my ($path, $mode) = @$case;
    my ($code, $env) = with_trailers($path);
    is($code, 200, "$mode, proxied: a chunked POST with trailers: 200");
    ok(($env->{HTTP_X_REMOTE_SESSION} // '') eq '{"who":"real"}'
       && ($env->{HTTP_X_REMOTE_SESSION_ID} // '') eq $id,
       "$mode: the backend sees the module's session, not the trailers'")
        or diag(explain($env));
}
my ($code, $env) = with_trailers('/pxoff/x');
is($code, 200, 'SessionRequire Off, proxied: 200');
ok(!defined $env->{HTTP_X_REMOTE_SESSION}
   && !defined $env->{HTTP_X_REMOTE_SESSION_ID},
   'Off: the backend sees no X-Remote-Session* at all')
    or diag(explain($env));
