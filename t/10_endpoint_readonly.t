# The session endpoint, read-only GET (PROTOCOL.md "Read-only: one GET",
# "Session ID and cookie", "Header X-SystemWebAdapter-RemoteAppSession-
# ReadOnly"): the new-session answer byte for byte, an existing session,
# the read-only header parsed like .NET bool.TryParse, cookies that are not
# an ID of ours or name no session (fresh ID, nothing stored under the
# presented value), and the sliding expiration of a read.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use RS::Test qw(:all);
use Time::HiRes ();

my @ro_true  = ('true', 'True', 'TRUE', ' true ', 'tRuE');
my @ro_false = ('false', '', 'yes', '1', 'truee', undef);
my @bad_cookies = (
    [ '23 characters',            'a' x 23 ],
    [ '25 characters',            'a' x 25 ],
    [ 'upper case',               'ABCDEFGHIJKLMNOPQRSTUVWX' ],
    [ 'one upper-case character', ('a' x 23) . 'B' ],
    [ 'digit 6 (outside a-z0-5)', ('a' x 23) . '6' ],
    [ 'a dash',                   ('a' x 12) . '-' . ('a' x 11) ],
    [ 'percent-encoded',          ('a' x 21) . '%61' ],
    [ '1000 bytes',               'b' x 1000 ],
);

# a held writeable GET and a read-only GET of the same session at once; a
# closed holder still in the server (until its next heartbeat) while the
# next writeable GET waits for its lock
need_workers(2);

plan tests => 1 + 16 + 3 + 7 + 2 * @ro_true + 3 * @ro_false
            + 6 * @bad_cookies + 6 + 4;

sub session_ttl { return mc_meta_ttl(session_key(shift // 'x')) }

# --- memcached answers meta commands (the TTL checks below need them) -------
{
    my ($t, $line) = mc_meta_probe();
    ok(defined $t && $t > 990 && $t <= 1000,
       "memcached's meta get shows a fresh item's TTL (set 1000 s: '$line')");
}

my $cookie_re = qr/\AASP\.NET_SessionId=([a-z0-5]{24}); path=\/; HttpOnly; SameSite=Lax\z/;

sub expected_body {
    my ($id, $new) = @_;
    return "\x01\x18" . $id . ($new ? "\x01" : "\x00") . "\x00\x01\x14\x00\x00";
}

# --- a new session: no cookie ----------------------------------------------
my @before = mc_keys('remote-session:');
my ($r, $st) = ro_get(undef);
is($r->code, 200, 'new session: 200');
is($r->header('Content-Type'), 'application/json; charset=utf-8',
   'new session: Content-Type exactly application/json; charset=utf-8');
my @cookies = $r->header('Set-Cookie');
is(scalar @cookies, 1, 'new session: one Set-Cookie');
like($cookies[0] // '', $cookie_re,
     'Set-Cookie: ASP.NET_SessionId=<24 of a-z0-5>; path=/; HttpOnly; '
     . 'SameSite=Lax, exactly');
my ($id) = ($cookies[0] // '') =~ $cookie_re;
$id //= 'x' x 24;
is(hexdump($r->content), hexdump(expected_body($id, 1)),
   'new session: body is 1, 24, <id>, new 1, abandoned 0, read-only 1, '
   . 'timeout 20, 0 items, 0 unknown');
is($r->header('Content-Length'), 32, 'new session: Content-Length 32');
ok($st && $st->{new}, 'new session: IsNewSession');
ok($st && $st->{readonly}, 'new session: IsReadOnly');
is($st && $st->{timeout}, 20, 'new session: Timeout 20 (the default)');
my @after = mc_keys('remote-session:');
is_deeply([grep { my $k = $_; !grep { $_ eq $k } @before } @after],
          ["remote-session:$id"],
          'new session: exactly one item added to memcached, under its ID');

# a second new session gets another ID
my ($r2, $st2) = ro_get(undef);
ok($st2 && $st2->{id} =~ ID_RE && $st2->{id} ne $id,
   'another request without a cookie gets another new ID');

# --- an existing session -----------------------------------------------------
($r, $st) = ro_get($id);
is($r->code, 200, 'existing session: 200');
is(hexdump($r->content), hexdump(expected_body($id, 0)),
   'existing session: same ID, IsNewSession 0, byte for byte');
ok(!defined $r->header('Set-Cookie'), 'existing session: no Set-Cookie');

# the cookie among others
($r, $st) = ro_get(undef, cookie => "a=b; ASP.NET_SessionId=$id; c=d");
is($st && $st->{id}, $id, 'the session cookie among other cookies is found');
ok($st && !$st->{new}, '... and the session is not new');

# --- a read-only GET neither takes nor waits for the lock ---------------------
# "Did not wait" is judged by the lock, not by a clock: the answer comes
# while the writer still holds the lock (record held, same owner, its GET
# open), which a request waiting for that lock could not get (it would end
# in 503 after RemoteSessionLockTimeout, RS00026, or take the lock over
# after the lease, RS00025).
{
    my $holder = hold_get($id);
    is($holder->{code}, 200, 'a writeable GET holds the session');
    my $held = read_record($id);
    my $mark = error_log_since();
    my $t0 = Time::HiRes::time();
    my ($r, $st) = ro_get($id);
    my $took = Time::HiRes::time() - $t0;
    my $rec = read_record($id);
    my @waits = grep { /\bRS0002[56]\b/ && /\Q$id\E/ }
                split /\n/, error_log_since($mark);
    is($st && $st->{id}, $id, 'read-only GET while the lock is held: the state');
    ok($held && $rec && $held->{lock} == LOCK_HELD
           && $rec->{lock} == LOCK_HELD
           && $rec->{owner} eq $held->{owner}
           && !$holder->read_body(0.1) && !$holder->{eof} && !@waits,
       sprintf('... answered while the writer still held the lock (same '
               . 'owner, its GET open, no lock wait logged): it did not wait '
               . '(%.3f s)', $took))
        or diag('record before: ', explain($held),
                'record after: ', explain($rec), join("\n", @waits));
    $holder->close;
}

# --- the read-only header: .NET bool.TryParse --------------------------------
for my $v (@ro_true) {
    my $c = RS::Client->new;
    $c->send_request('GET', ENDPOINT, headers => [
        KEY_HEADER, API_KEY, Cookie => COOKIE_NAME . "=$id",
        READONLY_HEADER, $v, Connection => 'close']);
    $c->response(5);
    is($c->{headers}{'content-type'}, 'application/json; charset=utf-8',
       "read-only header '$v': read-only answer (Content-Type)");
    my $s = eval { decode_state($c->{body}) };
    ok($s && $s->{readonly} && $s->{id} eq $id && !$s->{new},
       "read-only header '$v': IsReadOnly 1, same session")
        or diag(state_dump($s) . " $@");
}
for my $v (@ro_false) {
    my $name = defined $v ? "'$v'" : 'missing';
    my $c = hold_get($id, headers => [defined $v ? (READONLY_HEADER, $v)
                                                 : ()]);
    is($c->{code}, 200, "read-only header $name: 200");
    is($c->{headers}{'content-type'}, 'text/event-stream',
       "read-only header $name: writeable answer (text/event-stream)");
    ok($c->{state} && !$c->{state}{readonly} && $c->{state}{id} eq $id,
       "read-only header $name: IsReadOnly 0, same session")
        or diag(state_dump($c->{state}) . ' ' . ($c->{state_error} // ''));
    $c->close;    # the server notices at its next heartbeat and unlocks
}

# --- cookies that are not ours, or name no session ---------------------------
for my $case (@bad_cookies) {
    my ($what, $val) = @$case;
    my @k0 = mc_keys('remote-session:');
    my ($r, $st) = ro_get(undef, cookie => COOKIE_NAME . "=$val");
    is($r->code, 200, "cookie $what: 200");
    ok($st && $st->{new}, "cookie $what: a new session");
    ok($st && $st->{id} =~ ID_RE && $st->{id} ne $val,
       "cookie $what: a fresh, well-formed ID");
    my ($set) = ($r->header('Set-Cookie') // '') =~ $cookie_re;
    is($set, $st && $st->{id}, "cookie $what: Set-Cookie with the fresh ID");
    my @k1 = mc_keys('remote-session:');
    my @added = grep { my $k = $_; !grep { $_ eq $k } @k0 } @k1;
    is_deeply(\@added, [ 'remote-session:' . ($st ? $st->{id} : '?') ],
              "cookie $what: only the fresh ID's item is added");
    ok(!grep({ index($_, substr($val, 0, 20)) >= 0 } mc_keys()),
       "cookie $what: no memcached key holds the presented value");
}

# a well-formed ID that names no session
my $unknown = 'abcdefghijklmnopqrstuvwx';
mc_delete("remote-session:$unknown");
($r, $st) = ro_get($unknown);
is($r->code, 200, 'unknown ID: 200');
ok($st && $st->{new}, 'unknown ID: a new session');
ok($st && $st->{id} =~ ID_RE && $st->{id} ne $unknown,
   'unknown ID: a fresh ID, not the presented one (no session fixation)');
my ($set) = ($r->header('Set-Cookie') // '') =~ $cookie_re;
is($set, $st && $st->{id}, 'unknown ID: Set-Cookie with the fresh ID');
is(scalar mc_get("remote-session:$unknown"), undef,
   'unknown ID: nothing stored under the presented ID');
ok(defined mc_get('remote-session:' . ($st ? $st->{id} : '?')),
   'unknown ID: the new session is stored under its fresh ID');

# --- vhost rs_cookie: RemoteSessionCookieName MySession,
#     RemoteSessionCookieSecure On, RemoteSessionTimeout 45 ----------------------
{
    my $port = vhost_port('rs_cookie');
    my ($r, $st) = ro_get(undef, port => $port);
    my $set = $r->header('Set-Cookie') // '';
    like($set, qr/\AMySession=[a-z0-5]{24}; path=\/; HttpOnly; SameSite=Lax; Secure\z/,
         'RemoteSessionCookieName/Secure: Set-Cookie MySession=<id>; path=/; '
         . 'HttpOnly; SameSite=Lax; Secure');
    my ($cid) = $set =~ /\AMySession=([a-z0-5]{24})/;
    is($st && $st->{id}, $cid, '... the ID of the state');
    is($st && $st->{timeout}, 45, 'RemoteSessionTimeout 45: a new session\'s Timeout');
    my ($ttl, $line) = session_ttl($cid);
    ok(defined $ttl && $ttl > 2600 && $ttl <= 2700,
       "... and its item's TTL is 45 min ('$line')");
    ($r, $st) = ro_get(undef, port => $port, cookie => "MySession=$cid");
    ok($st && $st->{id} eq ($cid // '') && !$st->{new},
       'the session is found through the MySession cookie');
    ($r, $st) = ro_get(undef, port => $port, cookie => COOKIE_NAME . "=$cid");
    ok($st && $st->{new} && $st->{id} ne ($cid // ''),
       'there, an ASP.NET_SessionId cookie is not the session cookie');
    ($r, $st) = ro_get($cid);
    ok($st && $st->{id} eq ($cid // '') && !$st->{new},
       'the main server (same store) finds it by ASP.NET_SessionId');
}

# --- sliding expiration: a read-only GET resets the item's TTL, unless this
# server reset it less than a tenth of the timeout (at most a minute) ago:
# then it is one get and no touch (t/22 waits out that window) ------------
{
    # The writeable GETs above were closed by their clients; the last one's
    # release (a write, which sets the item's expiry) comes at the server's
    # next heartbeat but one, and must not land after the TTL is shortened
    # below (seen under ASan, whose server is slower).
    wait_record($id, sub { $_[0]{lock} != LOCK_HELD }, 10);
    my ($ttl, $line) = session_ttl($id);
    ok(defined $ttl && $ttl > 1100 && $ttl <= 1200,
       "the session item expires in its timeout (20 min): '$line'");
    # a read right before: this server has reset the expiry just now (its
    # shared slot says so, whatever other sessions hashed there since)
    ro_get($id);
    is(mc_command("touch remote-session:$id 100"), 'TOUCHED',
       'item TTL shortened to 100 s directly in memcached');
    ($r, $st) = ro_get($id);
    is($st && $st->{id}, $id, 'read-only GET of the session');
    ($ttl, $line) = session_ttl($id);
    ok(defined $ttl && $ttl <= 100,
       "this server reset its expiry a moment ago: the read left the TTL "
       . "alone: '$line'");
}
