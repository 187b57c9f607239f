# The session endpoint, writeable mode over two connections (PROTOCOL.md
# "Writeable, two connections: GET held open, then PUT"): the held GET's
# answer and heartbeats, the PUT that commits and ends it, values kept byte
# for byte, PUT replacing the whole contents, abandon, a new session through
# a writeable GET, and a second writer waiting for the first.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use RS::Test qw(:all);
use Time::HiRes ();

# writer A holding, writer B waiting and A's PUT, all at once
need_workers(3);

plan tests => 1 + 11 + 9 + 3 + 7 + 4 + 7 + 6 + 7;



# --- memcached answers meta commands (the TTL check below needs them) -------
{
    my ($t, $line) = mc_meta_probe();
    ok(defined $t && $t > 990 && $t <= 1000,
       "memcached's meta get shows a fresh item's TTL (set 1000 s: '$line')");
}

my $cookie_re = qr/\AASP\.NET_SessionId=([a-z0-5]{24}); path=\/; HttpOnly; SameSite=Lax\z/;

# values as System.Text.Json writes them, plus a few a byte-for-byte store
# must not touch (spacing, a number's spelling, member order, raw UTF-8)
my @items = (
    [ 'count',   '42' ],
    [ 'name',    '"caf\u00e9 \u00fcber \ud83d\ude00"' ],
    [ 'cart',    '{"Items":[{"Sku":"A-1","Qty":2}],"Total":12.50,"Owner":null}' ],
    [ 'nothing', 'null' ],
    [ 'spaced',  "{ \"B\" : 1 ,\n \"A\" : [ 1e2, -0.0 ] }" ],
    [ 'big',     '123456789012345678901234567890' ],
    [ "cl\xc3\xa9", "\"\xc3\xa9t\xc3\xa9\"" ],
);
# (a zero-length value, the client's mark of one it could not serialize,
# is never stored: t/18_endpoint_interop.t)

# --- writeable GET: the state at once, then heartbeats -----------------------
my $id = new_session();
my $t0 = Time::HiRes::time();
my $g = hold_get($id);
diag(sprintf 'writeable GET: state and newline after %.3f s',
             Time::HiRes::time() - $t0);
is($g->{code}, 200, 'writeable GET: 200');
is($g->{headers}{'content-type'}, 'text/event-stream',
   'writeable GET: Content-Type text/event-stream');
ok(!defined $g->{headers}{'set-cookie'}, 'existing session: no Set-Cookie');
my $st = $g->{state};
ok($st, 'writeable GET: the body starts with a serialized state')
    or diag($g->{state_error} // 'no state');
is($st && $st->{id}, $id, 'writeable GET: the session ID');
ok($st && !$st->{readonly} && !$st->{new} && !$st->{abandoned},
   'writeable GET: IsReadOnly 0, IsNewSession 0, IsAbandoned 0');
is($st && $st->{timeout}, 20, 'writeable GET: Timeout 20');
is(substr($g->{after} // '', 0, 1), "\n",
   'writeable GET: the state is followed by a newline');
ok(!$g->{done}, 'writeable GET: the response stays open');

# "about every 20 ms": 50 a second; at least 10 in one second (a fifth)
my $before = length $g->after_state;
$g->read_body(1);
my $beats = $g->after_state;
my $n = length($beats) - $before;
ok($n >= 10, "heartbeats: $n in 1 s (at least 10; one per ~20 ms is 50)");
is($beats, "\n" x length $beats,
   'heartbeats: nothing but newline bytes after the state');

# --- PUT commits; the held GET ends ------------------------------------------
# The held GET sees the commit on its next poll (every heartbeat): it
# ends normally, with no lock lost (RS00061), client gone (RS00030) or
# session timeout (RS00031) logged, and well within a lease (the poll is
# not a lease mechanism; the lease is 2 s, the poll 20 ms).
my $body = encode_state(id => $id, timeout => 35, items => \@items);
my $mark = error_log_since();
my $r = put_state($id, $body);
is($r->code, 200, 'PUT with the new state: 200') or diag($r->as_string);
$t0 = Time::HiRes::time();
my $ended = $g->read_body(LOCK_TIMEOUT + LOCK_LEASE);
my $took = Time::HiRes::time() - $t0;
ok($ended, 'the held GET completes after the PUT');
my @ended_why = logged($mark, $id, qw(RS00030 RS00031 RS00061));
ok($ended && $took < LOCK_LEASE && !@ended_why,
   sprintf('... because of the commit: within a lease (%.3f s), nothing '
           . 'else logged for the session', $took))
    or diag(join "\n", @ended_why);
$g->close;
is($g->after_state, "\n" x length $g->after_state,
   'the held GET sent nothing but newlines after the state');

my ($ro, $rst) = ro_get($id);
is(hexdump($ro->content),
   hexdump(encode_state(id => $id, readonly => 1, timeout => 35,
                        items => \@items)),
   'read-only GET after the PUT: the whole state byte for byte');
is_deeply($rst && $rst->{items}, \@items,
          'the items as PUT: same keys, same value bytes, same order');
is($rst && $rst->{timeout}, 35, 'Timeout as the PUT sent it (35)');
ok($rst && !$rst->{new}, 'the session is not new');
{
    my ($ttl, $line) = mc_meta_ttl(session_key($id));
    ok(defined $ttl && $ttl > 2000 && $ttl <= 2100,
       "the item now expires after 35 minutes: '$line'");
}

# --- a client that vanishes: the lock is released, the state unchanged ------
# Judged by the error log, not by a clock: the holder logs that its client
# went away and it released the lock (RS00030), and the next writer gets
# the lock neither by taking it over after the lease (RS00025) nor not at
# all (RS00026).
{
    my $g = hold_get($id);
    is($g->{code}, 200, 'a writeable GET takes the lock');
    my $mark = error_log_since();
    $g->close;
    my $t0 = Time::HiRes::time();
    my $g2 = hold_get($id, timeout => LOCK_TIMEOUT + LOCK_LEASE);
    my $took = Time::HiRes::time() - $t0;
    my @released = logged($mark, $id, 'RS00030');
    my @waits = logged($mark, $id, qw(RS00025 RS00026));
    ok(($g2->{code} // 0) == 200 && @released == 1 && !@waits,
       sprintf('after its client vanished the holder released the lock '
               . '(RS00030) and the next writer got it without a takeover '
               . '(%.3f s)', $took))
        or diag(join "\n", 'code: ' . ($g2->{code} // 'none'), @released,
                @waits);
    is_deeply($g2->{state} && $g2->{state}{items}, \@items,
              '... and the state is as committed');
    $g2->close;
}

# --- the next writeable GET sees the committed state --------------------------
$g = hold_get($id);
is($g->{code}, 200, 'second writeable GET: 200');
is_deeply($g->{state} && $g->{state}{items}, \@items,
          'second writeable GET: the committed items');
is($g->{state} && $g->{state}{timeout}, 35, 'second writeable GET: Timeout 35');

# --- PUT replaces the whole contents ----------------------------------------
my @items2 = ([ 'added', '"new"' ], [ 'count', '43' ]);
$r = put_state($id, encode_state(id => $id, timeout => 20, items => \@items2));
is($r->code, 200, 'PUT with fewer items: 200');
ok($g->read_body(3), 'the held GET completes');
($ro, $rst) = ro_get($id);
is_deeply($rst && $rst->{items}, \@items2,
          'only the items of the last PUT remain, in its order');
is($rst && $rst->{timeout}, 20, 'Timeout back to 20');

# an empty PUT empties the session
$g = hold_get($id);
$r = put_state($id, encode_state(id => $id, timeout => 20));
is($r->code, 200, 'PUT with no items: 200');
ok($g->read_body(3), 'the held GET completes');
($ro, $rst) = ro_get($id);
is_deeply($rst && $rst->{items}, [], 'no items remain');
ok($rst && $rst->{id} eq $id && !$rst->{new}, 'the session itself remains');

# --- abandon ----------------------------------------------------------------
$g = hold_get($id);
put_state($id, encode_state(id => $id, items => [[ 'x', '1' ]]));
ok($g->read_body(3), 'setup: x=1 committed');
$g = hold_get($id);
$r = put_state($id, encode_state(id => $id, abandoned => 1,
                                 items => [[ 'x', '2' ]]));
is($r->code, 200, 'PUT with IsAbandoned: 200');
ok($g->read_body(3), 'the held GET completes');
($ro, $rst) = ro_get($id);
ok($rst && $rst->{new}, 'read-only GET with the abandoned ID: a new session');
ok($rst && $rst->{id} =~ ID_RE && $rst->{id} ne $id,
   '... under a fresh ID');
my ($set) = ($ro->header('Set-Cookie') // '') =~ $cookie_re;
is($set, $rst && $rst->{id}, '... announced in Set-Cookie');
is_deeply($rst && $rst->{items}, [], '... and empty');

# --- a new session through a writeable GET ----------------------------------
$g = hold_get(undef);
is($g->{code}, 200, 'writeable GET without a cookie: 200');
my ($nid) = ($g->{headers}{'set-cookie'} // '') =~ $cookie_re;
ok($nid, 'writeable GET without a cookie: Set-Cookie with a new ID')
    or diag($g->{headers}{'set-cookie'});
$nid //= 'x' x 24;
ok($g->{state} && $g->{state}{new} && $g->{state}{id} eq $nid,
   'writeable GET without a cookie: IsNewSession 1, the cookie\'s ID');
$r = put_state($nid, encode_state(id => $nid, items => [[ 'n', '1' ]]));
is($r->code, 200, 'PUT on the new session: 200');
ok($g->read_body(3), 'the held GET completes');
$g->close;    # a finished response kept alive would hold a prefork child
($ro, $rst) = ro_get($nid);
is_deeply($rst && $rst->{items}, [[ 'n', '1' ]], 'the item is stored');

# --- a second writer waits for the first ------------------------------------
# B waits in the server for at most RemoteSessionLockTimeout from its
# request; A's PUT comes well before that, so B's answer must be the lock
# (200), never the lock timeout's 503 (RS00026), nor a takeover (RS00025).
my $a = hold_get($nid);
is($a->{code}, 200, 'writer A holds the session');
$mark = error_log_since();
my $b = RS::Client->new;
$b->send_request('GET', ENDPOINT, headers => [KEY_HEADER, API_KEY,
                                         Cookie => COOKIE_NAME . "=$nid"]);
ok(!defined $b->read_head(0.4),
   'writer B gets no answer while A holds the lock');
$r = put_state($nid, encode_state(id => $nid, items => [[ 'n', '2' ]]));
is($r->code, 200, 'A\'s PUT: 200');
is($b->read_head(LOCK_TIMEOUT + LOCK_LEASE), 200,
   'then writer B gets the lock: 200')
    or diag(join "\n", "B: " . ($b->{code} // "no answer"),
            logged($mark, $nid, qw(RS00025 RS00026)));
$b->read_state(LOCK_TIMEOUT);
is_deeply($b->{state} && $b->{state}{items}, [[ 'n', '2' ]],
          'writer B sees A\'s committed state');
$r = put_state($nid, encode_state(id => $nid, items => [[ 'n', '3' ]]));
is($r->code, 200, 'B\'s PUT: 200');
ok($b->read_body(3), 'B\'s GET completes');
