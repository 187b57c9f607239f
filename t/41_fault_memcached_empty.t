# Fault: memcached restarted EMPTY (SIGKILL, then a new one on the same
# port: every session lost) while a writeable GET holds a session's lock.
#
# Must hold:
#   - the held GET ends within 2 s of the kill (its poll finds the record
#     gone, or memcached down);
#   - the PUT that follows gets `400 Could not find session`, in the reason
#     phrase and as a text/plain body. Right after the restart a request may
#     still meet the short window in which libmemcached keeps a failed server
#     marked down (RETRY-TIMEOUT 1 s): that answer is 503 + Retry-After, and
#     the client retries; so the PUT is repeated while it gets 503, for at
#     most 5 s, and must never get anything but 503 or that 400;
#   - nothing hangs: every answer within 2 s;
#   - a read-only GET with the old cookie gets a new session under a fresh ID
#     (Set-Cookie with another ID, IsNewSession set, no items), and the old
#     ID stays unknown to memcached;
#   - a SessionRequire On request holding another session's lock when
#     memcached restarts answers 500 or 503 when it commits its update (the
#     update cannot be stored; a 200 would drop it silently), within 2 s, and
#     does not recreate the session;
#   - a writeable GET + PUT on the new session works (503s allowed within 5 s
#     of the restart, as for the PUT).
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep);
use RS::Test qw(:all);

# a die outside an eval shows in the TAP output (Apache::Test's harness
# does not show our stderr)
$SIG{__DIE__} = sub { Test::More::diag("died: $_[0]") unless $^S };
use RS::Memcached ();

# at most at once: the held GET, another session's GET and its PUT
need_workers(3);

plan tests => 21;

# a memcached restart by the test before may still disable pooled
# connections for up to 2 s
settle_suite_memcached();

my $MAX = 2.0;
my $port = mc_port();
my $log0 = error_log_since();

END { settle_suite_memcached() }    # for the next test file

# a session with committed data
my $g = held_get();
my $id = $g->{id};
my ($code) = raw_put($id, encode_state(id => $id, items => [[cart => '{"Items":3}']]));
my ($how) = $g->{conn}->read_to_end(5);
ok($g->{code} == 200 && $code == 200 && $how eq 'complete',
   'setup: a session with committed data') or diag("GET $g->{code} PUT $code $how");

# the writeable GET holding its lock
my $held = held_get(session => $id);
ok($held->{code} == 200 && $held->{id} eq $id
   && ($held->{state}{item}{cart} // '') eq '{"Items":3}',
   'writeable GET holds the lock and sees the committed data');
my $rec = mc_record($id);
ok($rec && $rec->{lock} == LOCK_HELD && $rec->{kind} == KIND_ENDPOINT,
   'memcached shows the lock held by an endpoint GET');

# a SessionRequire On request holding another session's lock, its body
# half sent (the update is committed after the body, see t/40)
my $g2 = held_get();
my $F = $g2->{id};
raw_put($F, encode_state(id => $F, items => [[f => '1']]));
$g2->{conn}->read_to_end(5);
my $slow = RS::Client->new;
$slow->send_request(POST => '/req/env.cgi?update=%7B%22set%22%3A%7B%22f%22%3A2%7D%7D',
                    [Cookie => COOKIE_NAME . "=$F", 'Content-Type' => 'text/plain'],
                    'x' x 32, length => 64);
my $frec;
my $deadline = now() + 5;
while (now() < $deadline) {
    $frec = mc_record($F);
    last if $frec && $frec->{lock} == LOCK_HELD;
    sleep 0.02;
}
ok($frec && $frec->{lock} == LOCK_HELD && $frec->{kind} == KIND_EXCLUSIVE,
   'a SessionRequire On request holds another session\'s lock');

# memcached restarted empty
my $t_kill = now();
RS::Memcached::kill9();
my $mc = eval { RS::Memcached::start($port) };
my $t_up = now();
ok($mc && !defined mc_get(store_key($id)),
   'memcached restarted empty on the same port') or diag($@);
diag(sprintf 'memcached down for %.3f s', $t_up - $t_kill);

# the held GET ends
($how) = $held->{conn}->read_to_end(5);
my $t_end = now() - $t_kill;
ok($how eq 'complete' || $how eq 'eof', "the held GET ends ($how)");
cmp_ok($t_end, '<', $MAX, 'the held GET ends within 2 s of the kill');
diag(sprintf 'held GET ended (%s) %.3f s after the kill', $how, $t_end);

# Repeats a request while it answers 503 (libmemcached keeps a server that
# failed on a pooled connection disabled for 1 s), for at most 5 s after the
# restart; returns (the last answer's list, [codes], slowest seconds).
sub until_not_503 {
    my $req = shift;
    my (@r, @codes);
    my $slowest = 0;
    while (1) {
        my ($t, @a) = timed($req);
        @r = @a;
        $slowest = $t if $t > $slowest;
        push @codes, $r[0] // 'none';
        last unless defined $r[0] && $r[0] == 503 && now() - $t_up < 5;
        sleep 0.1;
    }
    return (\@r, \@codes, $slowest);
}

# the SessionRequire request finishes its body: its session is gone, so its
# update cannot be committed (500: the lock was lost; or 503 while the
# failed-server window lasts) and must not bring the session back
my $t0 = now();
$slow->send('y' x 32);
my ($sc, $sh, $sr, $sb) = $slow->response(5);
my $t_slow = now() - $t0;
ok(defined $sc && ($sc == 500 || $sc == 503) && $t_slow < $MAX,
   'the SessionRequire request that held a lock: 500 or 503 (update not stored), < 2 s')
    or diag(sprintf 'got %s after %.3f s', $sc // "nothing ($slow->{why})", $t_slow);
diag("SessionRequire request answered " . ($sc // 'nothing') . " $sr");
ok(!defined mc_get(store_key($F)), '... and did not bring its session back');
$slow->close;

# the PUT
my $body = encode_state(id => $id, items => [[cart => '{"Items":4}']]);
my ($r, $answers, $slowest) =
    until_not_503(sub { raw_put($id, $body, timeout => 5) });
my ($pc, $preason, $pbody, $ph) = @$r;
my @answers = @$answers;
diag("PUT answers: @answers");
ok(!grep({ $_ ne '503' } @answers[0 .. $#answers - 1]),
   'PUT: nothing but 503 before its final answer');
is($pc, 400, 'PUT after the restart: 400');
is($preason, 'Could not find session', '... reason phrase "Could not find session"');
is($pbody, 'Could not find session', '... and that text as the body');
like($ph && $ph->{'content-type'} // '', qr{^text/plain}, '... text/plain');
cmp_ok($slowest, '<', $MAX, 'every PUT answered within 2 s');
ok(!defined mc_get(store_key($id)), 'the PUT did not recreate the lost session');

# the old cookie: a new session under a fresh ID
($r, $answers, $slowest) = until_not_503(sub { readonly_get($id, timeout => 5) });
my ($rc, $st, $rh) = @$r;
my $new = sid_of($rh);
diag("read-only GET answers: @$answers");
ok(!grep({ $_ ne '503' } @$answers[0 .. $#$answers - 1]) && $slowest < $MAX,
   'read-only GET: nothing but 503 before its final answer, each within 2 s');
ok($rc == 200 && $new && $new ne $id && $st && $st->{id} eq $new
   && $st->{new} == 1 && !@{ $st->{items} },
   'read-only GET with the old cookie: a new, empty session under a fresh ID')
    or diag("code $rc, cookie " . ($new // 'none') . ", state "
            . ($st ? "id $st->{id} new $st->{new} items " . scalar @{ $st->{items} }
                   : 'none'));
ok(!defined mc_get(store_key($id)), 'the old ID stays unknown to memcached');

# the new session works for a writer (503s allowed as above); without a
# new session (the read-only GET above failed) this fails too
my ($gr, $gcodes) = $new ? until_not_503(sub {
    my $w = held_get(session => $new, timeout => 5);
    return ($w->{code}, $w);
}) : ([], ['no new session to use']);
my $w = $gr->[1];
my ($pr, $pcodes) = ($gr->[0] // 0) == 200
    ? until_not_503(sub { raw_put($new, encode_state(id => $new, items => [[x => '1']]),
                                    timeout => 5) })
    : ([], []);
($how) = $w ? $w->{conn}->read_to_end(5) : ('none');
$rec = $new ? eval { mc_record($new) } : undef;
ok(($gr->[0] // 0) == 200 && ($pr->[0] // 0) == 200 && $how eq 'complete'
   && $rec && $rec->{lock} == LOCK_FREE && ($rec->{state}{item}{x} // '') eq '1',
   'the new session: writeable GET + PUT commit')
    or diag("GET @$gcodes, PUT @$pcodes, end $how");
diag("new session: GET answers @$gcodes, PUT answers @$pcodes");

unlike(error_log_since($log0), qr/exit signal|segfault/i,
       'no httpd child died of a signal');
