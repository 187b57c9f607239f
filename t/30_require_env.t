# SessionRequire: what a request sees. The first request under On creates
# the session and sets the cookie; the CGI gets REMOTE_SESSION* in its
# environment and X-Remote-Session* as request headers; the second request
# with the cookie finds the same session; ReadOnly says so; client-sent
# X-Remote-Session* headers never reach a backend; error responses of a
# request that created a session carry its cookie.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use RS::Test qw(:all);
use RS::Require qw(:all);

plan tests => 76;

my $cookie_re = qr/\AASP\.NET_SessionId=([a-z0-5]{24}); path=\/; HttpOnly; SameSite=Lax\z/;

# --- the first request creates the session (its update, even an empty one,
# stores it: a session is stored once something is written) -----------------
my $r = rq_get('/req/env.cgi?update=%7B%7D');
is($r->code, 200, 'first request under On: 200') or diag($r->as_string);
my @cookies = $r->headers->header('Set-Cookie');
is(scalar @cookies, 1, 'one Set-Cookie');
like($cookies[0] // '', $cookie_re,
     'Set-Cookie: ASP.NET_SessionId=<24 chars>; path=/; HttpOnly; SameSite=Lax');
my $sid = sid_of($r);
my $env = env_of($r) || {};
is($env->{REMOTE_SESSION_ID}, $sid, 'REMOTE_SESSION_ID is the cookie\'s ID');
is($env->{REMOTE_SESSION}, '{}', 'REMOTE_SESSION is {}');
is($env->{REMOTE_SESSION_NEW}, '1', 'REMOTE_SESSION_NEW is 1');
is($env->{REMOTE_SESSION_READONLY}, '0', 'REMOTE_SESSION_READONLY is 0');
is($env->{HTTP_X_REMOTE_SESSION_ID}, $sid,
   'the CGI sees the X-Remote-Session-Id request header');
is($env->{HTTP_X_REMOTE_SESSION}, '{}',
   'the CGI sees the X-Remote-Session request header');
is($env->{HTTP_X_REMOTE_SESSION_NEW}, '1',
   'the CGI sees the X-Remote-Session-New request header (1)');

# --- the second request with the cookie ---------------------------------------
$r = rq_get('/req/env.cgi', sid => $sid);
is($r->code, 200, 'second request with the cookie: 200');
$env = env_of($r) || {};
is($env->{REMOTE_SESSION_ID}, $sid, 'same session ID');
is($env->{REMOTE_SESSION_NEW}, '0', 'REMOTE_SESSION_NEW is 0');
is($env->{HTTP_X_REMOTE_SESSION_NEW}, '0', 'X-Remote-Session-New is 0');
is($env->{REMOTE_SESSION}, '{}', 'REMOTE_SESSION still {}');
ok(!defined $r->header('Set-Cookie'), 'no Set-Cookie for a known session')
    or diag($r->header('Set-Cookie'));
ok(timed($r) < 2, 'the first request released the lock (no wait)')
    or diag(timed($r));

# --- ReadOnly --------------------------------------------------------------------
$r = rq_get('/ro/env.cgi', sid => $sid);
is($r->code, 200, 'ReadOnly with the cookie: 200');
$env = env_of($r) || {};
is($env->{REMOTE_SESSION_READONLY}, '1', 'ReadOnly: REMOTE_SESSION_READONLY is 1');
is($env->{REMOTE_SESSION_ID}, $sid, 'ReadOnly: same session ID');
is($env->{REMOTE_SESSION_NEW}, '0', 'ReadOnly: REMOTE_SESSION_NEW is 0');
is($env->{HTTP_X_REMOTE_SESSION_ID}, $sid, 'ReadOnly: X-Remote-Session-Id header');
ok(!defined $r->header('Set-Cookie'), 'ReadOnly with a known session: no Set-Cookie');

$r = rq_get('/ro/env.cgi');
$env = env_of($r) || {};
my $ro_sid = sid_of($r);
like($ro_sid // '', ID_RE, 'ReadOnly without a cookie: a new session and its cookie');
is($env->{REMOTE_SESSION_ID}, $ro_sid, 'ReadOnly, new: REMOTE_SESSION_ID is the cookie\'s');
is($env->{REMOTE_SESSION_NEW}, '1', 'ReadOnly, new: REMOTE_SESSION_NEW is 1');
is($env->{REMOTE_SESSION_READONLY}, '1', 'ReadOnly, new: REMOTE_SESSION_READONLY is 1');
# issue 11, item 8: a session is stored when something is written, so a
# flood of cookieless requests costs memcached nothing
ok(!defined mc_get(store_key($ro_sid // 'x')),
   'ReadOnly, new: nothing stored (nothing was written)');
$r = rq_get('/req/env.cgi', sid => $ro_sid);
my $after = (env_of($r) || {})->{REMOTE_SESSION_ID} // '';
ok($after ne $ro_sid && $after =~ ID_RE,
   'its cookie names no session: the next request gets a fresh one');

# --- a flood of cookieless requests (issue 11, item 8): no item, no write --
{
    my $before = mc_stats();
    my %codes;
    $codes{ rq_get($_ % 2 ? '/req/env.cgi' : '/ro/env.cgi')->code }++
        for 1 .. 50;
    my $after = mc_stats();
    is_deeply(\%codes, { 200 => 50 }, '50 cookieless requests, On and ReadOnly: 200');
    is(($after->{cmd_set} - $before->{cmd_set}) . ' '
       . ($after->{curr_items} - $before->{curr_items}), '0 0',
       '... not one write to memcached, not one item more');
}

# --- cookies the module does not take ----------------------------------------------
for my $case (['not of the ID form', 'ABCDEFGHIJKLMNOPQRSTUVWX'],
              ['well-formed, naming no session', 'aaaaaaaaaaaaaaaaaaaaaaaa']) {
    my ($what, $bad) = @$case;
    $r = rq_get('/req/env.cgi', sid => $bad);
    $env = env_of($r) || {};
    my $new = sid_of($r);
    ok(defined $new && $new ne $bad && $new =~ ID_RE,
       "a cookie $what: a fresh ID in Set-Cookie") or diag($r->as_string);
    is($env->{REMOTE_SESSION_ID}, $new, "a cookie $what: the CGI sees the fresh ID");
}

# --- Off: nothing at all ------------------------------------------------------------
$r = rq_get('/cgi-bin/env.cgi', sid => $sid);
$env = env_of($r) || {};
ok(!grep({ /REMOTE_SESSION/ } keys %$env), 'Off: no REMOTE_SESSION* and no X-Remote-Session* in the CGI')
    or diag(explain $env);
ok(!defined $r->header('Set-Cookie'), 'Off: no Set-Cookie');

# --- spoofing ----------------------------------------------------------------------
# The values a client would like a backend to believe.
my $victim = $ro_sid;
my %spoof = ('X-Remote-Session'     => '{"admin":true}',
             'X-Remote-Session-Id'  => $victim,
             'X-Remote-Session-New' => '7');
my @spoof = (%spoof,
             # the same names again, in other letter cases
             'x-remote-session'     => '{"admin":"lower"}',
             'X-REMOTE-SESSION-ID'  => $victim,
             'x-Remote-session-NEW' => '8');
my @spoofed_values = ('{"admin":true}', '{"admin":"lower"}', $victim, '7', '8');

sub spoofed_in {
    my $env = shift;
    my @hits;
    for my $k (grep { /^HTTP_X_REMOTE_SESSION/ } keys %$env) {
        my $v = $env->{$k} // '';
        push @hits, "$k=$v" if grep { index($v, $_) >= 0 } @spoofed_values;
    }
    return @hits;
}

# Off
$r = rq_get('/cgi-bin/env.cgi', headers => \@spoof);
$env = env_of($r) || {};
is($r->code, 200, 'spoof on Off: 200');
ok(!grep({ /^HTTP_X_REMOTE_SESSION/ } keys %$env),
   'spoof on Off: no X-Remote-Session* header reaches the CGI')
    or diag(explain $env);

# On, with the client's own cookie
$r = rq_get('/req/env.cgi', sid => $sid, headers => \@spoof);
$env = env_of($r) || {};
is($r->code, 200, 'spoof on On: 200');
is($env->{HTTP_X_REMOTE_SESSION_ID}, $sid, 'spoof on On: X-Remote-Session-Id is the real ID');
is($env->{HTTP_X_REMOTE_SESSION}, '{}', 'spoof on On: X-Remote-Session is the real session');
is($env->{HTTP_X_REMOTE_SESSION_NEW}, '0', 'spoof on On: X-Remote-Session-New is the real flag');
is($env->{REMOTE_SESSION_ID}, $sid, 'spoof on On: REMOTE_SESSION_ID is the real ID');
is_deeply([spoofed_in($env)], [], 'spoof on On: none of the client\'s values reach the CGI');

# On, without a cookie: the header does not choose the session
$r = rq_get('/req/env.cgi', headers => \@spoof);
$env = env_of($r) || {};
my $fresh = sid_of($r);
ok(defined $fresh && $fresh ne $victim, 'spoof on On, no cookie: a fresh session, not the one named in the header');
is($env->{HTTP_X_REMOTE_SESSION_ID}, $fresh, 'spoof on On, no cookie: X-Remote-Session-Id is the fresh ID');
is($env->{HTTP_X_REMOTE_SESSION_NEW}, '1', 'spoof on On, no cookie: X-Remote-Session-New is 1');
is_deeply([spoofed_in($env)], [], 'spoof on On, no cookie: none of the client\'s values reach the CGI');

# ReadOnly
$r = rq_get('/ro/env.cgi', sid => $sid, headers => \@spoof);
$env = env_of($r) || {};
is($env->{HTTP_X_REMOTE_SESSION_ID}, $sid, 'spoof on ReadOnly: X-Remote-Session-Id is the real ID');
is_deeply([spoofed_in($env)], [], 'spoof on ReadOnly: none of the client\'s values reach the CGI');

# through mod_proxy (/px/ -> this server's /cgi-bin/, which is Off)
$r = rq_get('/px/env.cgi', sid => $sid, headers => \@spoof);
$env = env_of($r) || {};
is($r->code, 200, 'spoof through /px/: 200') or diag($r->as_string);
is_deeply([spoofed_in($env)], [], 'spoof through /px/: none of the client\'s values reach the backend');
ok(!defined $env->{HTTP_X_REMOTE_SESSION_ID} || $env->{HTTP_X_REMOTE_SESSION_ID} eq $sid,
   'spoof through /px/: X-Remote-Session-Id, if any, is the real ID');

# header names with underscores (some gateways map them to the same variable)
my @under = ('X_Remote_Session_Id' => $victim, 'X_Remote_Session' => '{"admin":true}',
             'X_Remote_Session_New' => '7');
$r = rq_get('/cgi-bin/env.cgi', headers => \@under);
$env = env_of($r) || {};
is_deeply([spoofed_in($env)], [], 'X_Remote_Session_* (underscores) on Off: nothing reaches the CGI');
$r = rq_get('/req/env.cgi', sid => $sid, headers => \@under);
$env = env_of($r) || {};
is_deeply([spoofed_in($env)], [], 'X_Remote_Session_* (underscores) on On: nothing reaches the CGI');
is($env->{HTTP_X_REMOTE_SESSION_ID}, $sid, 'X_Remote_Session_* on On: X-Remote-Session-Id is the real ID');

# --- Set-Cookie on error responses -----------------------------------------------------
for my $case (['a CGI answering Status: 404', '/req/env.cgi?status=404', 404],
              ['a CGI answering Status: 500', '/req/env.cgi?status=500', 500],
              ['a missing CGI (404)', '/req/no-such-script.cgi', 404],
              ['ReadOnly, a CGI answering Status: 503', '/ro/env.cgi?status=503', 503]) {
    my ($what, $path, $code) = @$case;
    $r = rq_get($path);
    is($r->code, $code, "$what: $code");
    my $line = cookie_line($r);
    like($line // '', $cookie_re, "$what: Set-Cookie of the new session");
    my $id = sid_of($r);
    ok(defined $id && !defined mc_get(store_key($id)),
       "$what: nothing stored for it (nothing was written)");
}

# --- the server's cookie settings (virtual host rq_cookie: RemoteSessionCookieName
# MySession, RemoteSessionCookieSecure On, RemoteSessionTimeout 45) -----------------
my %ck = (vhost => 'rq_cookie');
$r = rq_get('/req/env.cgi?update=%7B%7D', %ck);
@cookies = $r->headers->header('Set-Cookie');
is(scalar @cookies, 1, 'rq_cookie: one Set-Cookie');
my ($mysid) = ($cookies[0] // '') =~
    /\AMySession=([a-z0-5]{24}); path=\/; HttpOnly; SameSite=Lax; Secure\z/;
ok($mysid, 'rq_cookie: Set-Cookie: MySession=<id>; path=/; HttpOnly; SameSite=Lax; Secure')
    or diag($cookies[0]);
is((env_of($r) || {})->{REMOTE_SESSION_ID}, $mysid, 'rq_cookie: the CGI sees that ID');
$r = rq_get('/req/env.cgi', %ck, cookie => "MySession=$mysid");

is((env_of($r) || {})->{REMOTE_SESSION_ID}, $mysid, 'rq_cookie: the MySession cookie finds the session');
ok(!defined $r->header('Set-Cookie'), 'rq_cookie: no new cookie');
$r = rq_get('/req/env.cgi', %ck, cookie => COOKIE_NAME . "=$mysid");
isnt((env_of($r) || {})->{REMOTE_SESSION_ID}, $mysid,
     'rq_cookie: an ASP.NET_SessionId cookie is not the session cookie there');
my $st = (ro_get($mysid, port => vhost_port('rq_cookie'), cookie => "MySession=$mysid"))[1];
is($st && $st->{timeout}, 45, 'rq_cookie: the session SessionRequire created has Timeout 45');
