# SessionRequire in front of a real proxied backend: t/bin/req_backend.pl (an
# HTTP::Daemon on the loopback port t/conf/require.conf.in reserved) behind
# ProxyPass under On (/rqpx/) and ReadOnly (/rqpxro/). The backend gets the
# session as X-Remote-Session-Id/-Session/-New request headers, never the
# client's own; its X-Remote-Session-Update response headers (one line each)
# are applied in order and never reach the client; invalid ones, or a session
# grown beyond RemoteSessionMaxSize, store nothing and answer 500.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use File::Spec ();
use POSIX ();
use Time::HiRes ();
use RS::Test qw(:all);
use RS::Require qw(:all);

my $port = require_conf_value('Define RS_REQ_BACKEND_PORT');
plan skip_all => 'no RS_REQ_BACKEND_PORT in t/conf/require.conf' unless $port;
plan tests => 67;

my $backend_pid;
END {
    if ($backend_pid) {
        kill TERM => $backend_pid;
        waitpid($backend_pid, 0);
    }
}

# The headers the backend reported (name => [values]); the session's three.
sub seen {
    my $r = shift;
    my $j = env_of($r) || {};
    return $j->{headers} || {};
}

sub session_now {
    my $sid = shift;
    my $r = rq_get('/rqpx/echo', sid => $sid);
    return ((seen($r)->{'X-Remote-Session'} || [])->[0], $r);
}

# --- the backend is down: 503 from mod_proxy, and still the cookie ----------------
my $r = rq_get('/rqpx/echo');
ok($r->code == 502 || $r->code == 503, 'backend not running: mod_proxy answers 502/503')
    or diag($r->as_string);
my $sid = sid_of($r);
like($sid // '', ID_RE, 'backend not running: Set-Cookie of the new session');
ok(!defined mc_get(store_key($sid // 'x')),
   'backend not running: nothing stored (nothing was written)');
my $n = rq_get('/req/env.cgi', sid => $sid);
ok(timed($n) < 1, 'backend not running: no lock left behind') or diag(timed($n));

# --- start it --------------------------------------------------------------------------
$backend_pid = start_backend($port);
ok($backend_pid, "backend started on 127.0.0.1:$port");
BAIL_OUT("backend did not start on 127.0.0.1:$port") unless $backend_pid;

# --- the request headers --------------------------------------------------------------
# (an empty update: a session is stored once something is written)
$r = rq_get('/rqpx/echo?update=%7B%7D');
is($r->code, 200, 'new session through the proxy: 200') or diag($r->as_string);
$sid = sid_of($r);
like($sid // '', ID_RE, 'new session: Set-Cookie');
my $h = seen($r);
is_deeply($h->{'X-Remote-Session-Id'}, [$sid], 'backend: X-Remote-Session-Id is the ID');
is_deeply($h->{'X-Remote-Session'}, ['{}'], 'backend: X-Remote-Session is {}');
is_deeply($h->{'X-Remote-Session-New'}, ['1'], 'backend: X-Remote-Session-New is 1');

$r = rq_get('/rqpx/echo', sid => $sid);
$h = seen($r);
is_deeply($h->{'X-Remote-Session-Id'}, [$sid], 'with the cookie: same ID');
is_deeply($h->{'X-Remote-Session-New'}, ['0'], 'with the cookie: X-Remote-Session-New is 0');
ok(!defined cookie_line($r), 'with the cookie: no Set-Cookie');

# --- spoofing ------------------------------------------------------------------------------
my $victim = rq_new_session();
$r = rq_get('/rqpx/echo', sid => $sid,
            headers => ['X-Remote-Session-Id' => $victim,
                        'X-Remote-Session' => '{"admin":true}',
                        'X-Remote-Session-New' => '1',
                        'x-remote-session-id' => $victim]);
$h = seen($r);
is_deeply($h->{'X-Remote-Session-Id'}, [$sid], 'spoof: the backend sees only the real ID');
is_deeply($h->{'X-Remote-Session'}, ['{}'], 'spoof: the backend sees only the real session');
is_deeply($h->{'X-Remote-Session-New'}, ['0'], 'spoof: the backend sees only the real flag');

$r = rq_get('/rqpx/echo',
            headers => ['X-Remote-Session-Id' => $victim]);
$h = seen($r);
my $fresh = sid_of($r);
ok($fresh && $fresh ne $victim, 'spoof without a cookie: a fresh session, not the named one');
is_deeply($h->{'X-Remote-Session-Id'}, [$fresh], 'spoof without a cookie: the backend sees the fresh ID only');

# names with underscores: HTTP::Headers (and CGI-style environments: PSGI,
# WSGI, Rack, PHP's HTTP_* variables) read X_Remote_Session_Id as the same
# field as X-Remote-Session-Id
$r = rq_get('/rqpx/echo', sid => $sid,
            headers => ['X_Remote_Session_Id' => $victim,
                        'X_Remote_Session' => '{"admin":true}',
                        'X_Remote_Session_New' => '1']);
$h = seen($r);
is_deeply($h->{'X-Remote-Session-Id'}, [$sid],
          'underscore spoof: the backend sees only the real ID (BUGS.txt 3)');
is_deeply($h->{'X-Remote-Session'}, ['{}'],
          'underscore spoof: the backend sees only the real session (BUGS.txt 3)');
is_deeply($h->{'X-Remote-Session-New'}, ['0'],
          'underscore spoof: the backend sees only the real flag (BUGS.txt 3)');

# --- updates ----------------------------------------------------------------------------------
$r = rq_get('/rqpx/echo' . upd('{"set":{"p":1,"q":1}}', '{"remove":["p"],"set":{"q":2,"r":[1]}}'),
            sid => $sid);
is($r->code, 200, 'two update headers from the backend: 200') or diag($r->as_string);
ok(!grep({ /^x-remote-session-update$/i } $r->headers->header_field_names),
   'the update headers do not reach the client') or diag($r->as_string);
my ($text, $r2) = session_now($sid);
is_deeply(json_text($text // ''), { q => 2, r => [1] },
          'both updates applied in order (the backend sees them next time)') or diag($text);
ok(timed($r2) < 1, 'the lock was released with the commit') or diag(timed($r2));
is((env_of(rq_get('/req/env.cgi', sid => $sid)) || {})->{REMOTE_SESSION}, $text,
   'a CGI sees the same session');

for my $code (404, 500) {
    $r = rq_get("/rqpx/echo?status=$code&" . substr(upd(qq({"set":{"s$code":$code}})), 1),
                sid => $sid);
    is($r->code, $code, "backend status $code with an update: $code");
    ok(!defined $r->header('X-Remote-Session-Update'), "status $code: the update header is removed");
    ($text) = session_now($sid);
    is((json_text($text // '') || {})->{"s$code"}, $code, "status $code: the update was applied");
}
rq_get('/rqpx/echo' . upd('{"remove":["s404","s500"]}'), sid => $sid);
my ($base) = session_now($sid);
is_deeply(json_text($base // ''), { q => 2, r => [1] }, 'the base state for the refusals');

# refused($what, $r, $mark, $code, $log_id, $problem_re)
sub refused {
    my ($what, $r, $mark, $code, $id, $problem) = @_;
    is($r->code, $code, "$what: $code") or diag($r->as_string);
    ok(!defined $r->header('X-Remote-Session-Update'), "$what: the update header is removed");
    my ($text, $next) = session_now($sid);
    is($text, $base, "$what: the state is unchanged");
    ok(timed($next) < 1, "$what: the lock was released") or diag(timed($next));
    my @lines = count_rs(log_since($mark), $id);
    is(scalar @lines, 1, "$what: one $id line") or diag(join "\n", @lines);
    like($lines[0] // '', $problem, "$what: the log line names the problem");
}

my $mark = log_mark();
$r = rq_get('/rqpx/echo' . upd('{"set":{"ok":1}}', '{"set":{"x":1},"nope":2}'), sid => $sid);
refused('a valid and an invalid update header', $r, $mark, 500, 'RS00041', qr/unknown member "nope"/);

# header lines beyond 8 KB reach the module (responsefieldsize)
$mark = log_mark();
$r = rq_get('/rqpx/echo?deep=5000', sid => $sid);
refused('5000 nested arrays', $r, $mark, 500, 'RS00041', qr/depth/);

$mark = log_mark();
$r = rq_get('/rqpx/echo?big=1100000', sid => $sid);
refused('a session beyond RemoteSessionMaxSize (1.1 MB string)', $r, $mark, 500,
        'RS00027', qr/RemoteSessionMaxSize/);

# a 100 KB string is no problem for the module
$r = rq_get('/rqpx/echo?big=100000', sid => $sid);
is($r->code, 200, 'a 100 KB string: 200') or diag($r->as_string);
my $st = (ro_get($sid))[1] || {};
is(length($st->{item}{big} // ''), 100002, 'a 100 KB string: stored');
rq_get('/req/env.cgi' . upd('{"remove":["big"]}'), sid => $sid);
is((session_now($sid))[0], $base, 'removed again');

# --- ReadOnly -----------------------------------------------------------------------------------
$r = rq_get('/rqpxro/echo', sid => $sid);
is($r->code, 200, 'ReadOnly through the proxy: 200');
$h = seen($r);
is_deeply($h->{'X-Remote-Session-Id'}, [$sid], 'ReadOnly: X-Remote-Session-Id');
is_deeply($h->{'X-Remote-Session'}, [$base], 'ReadOnly: X-Remote-Session');
is_deeply($h->{'X-Remote-Session-New'}, ['0'], 'ReadOnly: X-Remote-Session-New');

$mark = log_mark();
$r = rq_get('/rqpxro/echo' . upd('{"set":{"ro":1}}'), sid => $sid);
refused('an update from a ReadOnly backend', $r, $mark, 500, 'RS00041', qr/ReadOnly/);

# the lock is not held by ReadOnly: an endpoint writeable GET holds it, the
# ReadOnly proxy answers at once
my $hold = hold_get($sid, timeout => 10);
is($hold->{code}, 200, 'the endpoint holds the lock');
$r = rq_get('/rqpxro/echo', sid => $sid);
ok($r->code == 200 && timed($r) < 1, 'ReadOnly proxy while the lock is held: 200 at once')
    or diag($r->code . ' after ' . timed($r));
$hold->close;

# --- stop it ---------------------------------------------------------------------------------------
kill TERM => $backend_pid;
is(waitpid($backend_pid, 0), $backend_pid, 'backend stopped');
undef $backend_pid;
