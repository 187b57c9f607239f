# SessionRequire when the store fails (INTERFACE.md "Errors a user can
# meet"): a record that does not decode answers 500 and is left as it is;
# memcached unreachable answers 503 + Retry-After within about a second, for
# On and ReadOnly, logged; after memcached is back new sessions work again.
# Runs last of the SessionRequire tests: it kills and restarts the suite's
# memcached (every session is lost).
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes ();
use RS::Memcached ();
use RS::Test qw(:all);
use RS::Require qw(:all);

plan tests => 24 + 4;

# --- no X-Remote-Session-Update ever reaches a client (issue 11) ------------------------
{
    my $u = upd('{"clear":true}');
    my @where = (['outside SessionRequire', "/cgi-bin/env.cgi$u", 200],
                 ['a proxied backend outside it', "/px-off/env.cgi$u", 200],
                 ['an ErrorDocument outside it', '/errdoc-off/missing', 404],
                 ['under ReadOnly, refused', "/ro/env.cgi$u", 500]);
    for my $w (@where) {
        my ($what, $path, $code) = @$w;
        my $res = rq_get($path);
        ok($res->code == $code && !defined $res->header('X-Remote-Session-Update'),
           "$what: $code, no X-Remote-Session-Update in the answer")
            or diag($res->as_string);
    }
}

# --- a record that does not decode ----------------------------------------------------
my $r;
my $sid = rq_new_session();
like($sid // '', ID_RE, 'a session');
my $key = "remote-session:$sid";
ok(defined mc_get($key), "its record is memcached item $key");
ok(mc_set($key, "not a session record", 600), 'the record overwritten with garbage');

for my $path ('/req/env.cgi', '/ro/env.cgi') {
    my $mark = log_mark();
    $r = rq_get($path, sid => $sid);
    is($r->code, 500, "$path on a record that does not decode: 500") or diag($r->as_string);
    ok(!defined cookie_line($r), "$path: no new session in its place");
    like(log_since($mark), qr/\Q$sid\E/, "$path: the error log names the session");
}
is(scalar mc_get($key), 'not a session record', 'the record is left as it was');
mc_delete($key);

# --- memcached unreachable ---------------------------------------------------------------
$sid = rq_new_session();
my $port = mc_port();
RS::Memcached::kill9();
# (without a cookie, a page that writes: a page that writes nothing needs
# no store for a new session, t/30)
for my $case (['On, with the cookie', '/req/env.cgi', $sid],
              ['On, without a cookie, writing', '/req/env.cgi?update=%7B%7D', undef],
              ['ReadOnly, with the cookie', '/ro/env.cgi', $sid]) {
    my ($what, $path, $id) = @$case;
    my $mark = log_mark();
    $r = rq_get($path, defined $id ? (sid => $id) : ());
    is($r->code, 503, "memcached down, $what: 503") or diag($r->as_string);
    ok(defined $r->header('Retry-After'), "memcached down, $what: Retry-After");
    ok(timed($r) < 1.5, "memcached down, $what: within about a second") or diag(timed($r));
    like(log_since($mark), qr/remote_session:(?:error|crit|alert|emerg)/,
         "memcached down, $what: logged");
}

# --- back again ------------------------------------------------------------------------------
RS::Memcached::start($port);
my ($code, $t0) = (0, Time::HiRes::time());
while (Time::HiRes::time() - $t0 < 5) {
    $r = rq_get('/req/env.cgi?update=%7B%7D');
    $code = $r->code;
    last if $code == 200;
    Time::HiRes::sleep(0.1);
}
is($code, 200, 'memcached back: SessionRequire works again');
ok(Time::HiRes::time() - $t0 < 3, 'memcached back: within a few seconds')
    or diag(Time::HiRes::time() - $t0);
