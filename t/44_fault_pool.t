# Fault: a pool of two memcached servers, one of which dies.
#
# An httpd of our own (event MPM) with
#   RemoteSessionStore "--SERVER=127.0.0.1:P1 --SERVER=127.0.0.1:P2"
# on two memcached instances of our own. libmemcached spreads the session
# keys over the two servers; a dead server is NOT ejected from the
# distribution, it is retried after RETRY-TIMEOUT, 1 s. The test asks for
# the modula distribution (hash of the key modulo the number of servers):
# the module's default, consistent hashing, gives each server a share that
# depends on its address and port (55/45 is common), which would make the
# exact tail below depend on the ports drawn (t/49 tests consistent).
#
# Behaviour this test checks (and which we observed):
#   - 40 sessions created and committed through the endpoint are spread over
#     both servers (each item on exactly one; each server holds >= 5);
#   - P2 killed (SIGKILL): every session stored on P1 keeps working: its
#     read-only GET answers 200 with its data, a writeable GET + PUT commits;
#   - every session stored on the dead P2 answers 503 + Retry-After (read-only
#     and writeable GET), within 2 s: the module does NOT silently give such a
#     request a new, empty session -- its data may come back with the server,
#     and a client retrying after Retry-After must not have lost it to a
#     fresh session. This is the documented choice (README: 503 + Retry-After
#     when memcached is unreachable);
#   - new sessions are still created: a new session whose fresh ID hashes to
#     the dead server is retried under another fresh ID, up to 4 tries in all
#     (src/lock.c RS_CREATE_TRIES). A random ID hashes to either server with
#     probability 1/2 (checked: libmemcached's one-at-a-time hash modulo 2
#     over 200,000 random IDs gives 0.4996), so a request fails with
#     probability 1/2^4 = 1/16. Of 2,000 such requests at least 1,820 must
#     succeed (binomial, exact tails):
#       4 tries: 1,875 expected (sd 10.8); fewer than 1,820 by chance
#                6.5e-7 of the runs (the false-failure rate);
#       3 tries: 1,750 expected (sd 14.8); 1,820 or more 4.7e-7 of the runs;
#       2 tries: 1,500 expected; never passes (1e-75); 1 try: 1,000.
#     So the bound proves at least 4 tries, not merely some retry (400
#     requests and 350, as before, let a 3-try module pass half the time).
#     More tries than 4 also pass: the bound is one-sided. Every one that
#     succeeds is stored on P1; every one that fails is 503 + Retry-After,
#     within 2 s;
#   - P2 restarted empty on its port: within 5 s, a request presenting a
#     cookie of a session lost with P2 gets a new, empty session under a
#     fresh ID (the old ID is never adopted).
# Not covered here: a pool member that hangs instead of refusing
# connections. Since b6b98e9 a timed-out add is not retried under a fresh
# ID (each try would cost the whole timeout), so during such a hang the
# new sessions whose first ID hashes to the hung member answer 503.
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

plan tests => 14;

my $MAX = 2.0;
my $NSESS = 40;
# Half the fresh IDs map to the dead server, and a new session is tried
# under up to 4 IDs: 1/16 of the requests are expected to fail. At least
# 1,820 successes of 2,000: a 4-try module fails it 6.5e-7 of the runs, a
# 3-try module passes it 4.7e-7 of the runs (the header has the figures).
my $NNEW = 2000;
my $MIN_NEW = 1820;

my ($m1, $m2, $own);
END {
    stop_httpd($own) if $own;
    stop_memcached($_, 'KILL') for grep { $_ } $m1, $m2;
}
$m1 = start_memcached();
$m2 = start_memcached();
my ($p1, $p2) = ($m1->{port}, $m2->{port});
# requests one at a time, a held GET and its PUT at most: 2 workers needed
$own = start_httpd(name => 'fault-pool', log_level => 'info remote_session:debug', config => "Timeout 30",
                       store => "--SERVER=127.0.0.1:$p1 --SERVER=127.0.0.1:$p2"
                              . ' --DISTRIBUTION=modula',   # see above
                       mpm => 'event', mpm_conf => <<'E');
StartServers 1
ServerLimit 4
ThreadsPerChild 10
MaxRequestWorkers 20
MinSpareThreads 5
MaxSpareThreads 20
E
my $port = $own->{port};
ok($own->{pid}, "own httpd on $port with a pool of memcached $p1 and $p2");

# --- 40 sessions with data ---------------------------------------------------------
my (@ids, $setup_ok);
$setup_ok = 1;
for my $i (1 .. $NSESS) {
    my $g = held_get(port => $port);
    my ($c) = $g->{id} ? raw_put($g->{id}, encode_state(id => $g->{id},
                                   items => [[v => qq{"s$i"}]]), port => $port) : ();
    my ($how) = $g->{conn}->read_to_end(5);
    $setup_ok = 0 unless $g->{code} == 200 && ($c // 0) == 200 && $how eq 'complete';
    push @ids, [$g->{id}, $i];
}
ok($setup_ok, "$NSESS sessions created and committed");

my %on;    # id => port
my $both = 0;
for my $s (@ids) {
    my $k = store_key($s->[0]);
    my $in1 = defined mc_get($k, $p1);
    my $in2 = defined mc_get($k, $p2);
    $both++ if $in1 && $in2;
    $on{$s->[0]} = $in1 ? $p1 : $in2 ? $p2 : 0;
}
my @on1 = grep { $on{$_->[0]} == $p1 } @ids;
my @on2 = grep { $on{$_->[0]} == $p2 } @ids;
diag(sprintf 'sessions: %d on %d, %d on %d', scalar @on1, $p1, scalar @on2, $p2);
ok(@on1 + @on2 == $NSESS && !$both && @on1 >= 5 && @on2 >= 5,
   'the sessions are spread over both servers, each on exactly one')
    or diag("both: $both, nowhere: " . ($NSESS - @on1 - @on2));

# --- P2 dies ---------------------------------------------------------------------------
stop_memcached($m2, 'KILL');
ok(!defined RS::Memcached::version($p2, 1), "memcached $p2 killed");

# sessions on P1
my (@bad1, $slow1);
$slow1 = 0;
for my $s (@on1) {
    my ($t, $c, $st) = timed(sub { readonly_get($s->[0], port => $port, timeout => 5) });
    $slow1 = $t if $t > $slow1;
    push @bad1, "$s->[0]: " . ($c // 'none')
        unless ($c // 0) == 200 && $st && $st->{id} eq $s->[0]
               && ($st->{item}{v} // '') eq qq{"s$s->[1]"} && $t < $MAX;
}
ok(!@bad1, 'every session on the live server: read-only GET 200 with its data, < 2 s')
    or diag(join "\n", @bad1);
my $s1 = $on1[0][0];
my $g = held_get(session => $s1, port => $port, timeout => 5);
my ($pc) = $g->{code} == 200
    ? raw_put($s1, encode_state(id => $s1, items => [[v => '"changed"']]), port => $port)
    : ();
my ($how) = $g->{conn}->read_to_end(5);
my $rec = eval { mc_record($s1, $p1) };
ok($g->{code} == 200 && ($pc // 0) == 200 && $how eq 'complete'
   && $rec && ($rec->{state}{item}{v} // '') eq '"changed"',
   'a session on the live server: writeable GET + PUT commit')
    or diag("GET $g->{code}, PUT " . ($pc // 'none') . ", end $how");

# sessions on P2
my (@bad2, $slow2);
$slow2 = 0;
for my $s (@on2) {
    my ($t, $c, $st, $h) = timed(sub { readonly_get($s->[0], port => $port, timeout => 5) });
    $slow2 = $t if $t > $slow2;
    push @bad2, sprintf('%s: %s in %.3f s%s', $s->[0], $c // 'none', $t,
                        sid_of($h) ? ' with a new cookie' : '')
        unless ($c // 0) == 503 && defined $h->{'retry-after'} && $t < $MAX;
}
ok(!@bad2, 'every session on the dead server: read-only GET 503 + Retry-After, < 2 s')
    or diag(join "\n", @bad2);
diag(sprintf 'slowest read-only GET: %.3f s (live server), %.3f s (dead server)',
     $slow1, $slow2);
my ($t, $c, $h) = timed(sub { raw_request(GET => ENDPOINT, port => $port, timeout => 5,
    headers => [KEY_HEADER, API_KEY, Cookie => COOKIE_NAME . "=$on2[0][0]"]) });
ok(($c // 0) == 503 && defined $h->{'retry-after'} && !sid_of($h) && $t < $MAX,
   'a session on the dead server: writeable GET 503 + Retry-After, no new cookie')
    or diag(sprintf 'got %s in %.3f s', $c // 'none', $t);

# new sessions
my ($ok, $wrong, $slown, %codes) = (0, 0, 0);
my @not_on_p1;
for (1 .. $NNEW) {
    my ($t, $c, $st, $h) = timed(sub { readonly_get(undef, port => $port, timeout => 5) });
    $slown = $t if $t > $slown;
    $codes{$c // 'none'}++;
    if (($c // 0) == 200 && $st && $st->{new} && sid_of($h)) {
        $ok++;
        push @not_on_p1, $st->{id} unless defined mc_get(store_key($st->{id}), $p1);
    }
    elsif (!(($c // 0) == 503 && defined $h->{'retry-after'})) {
        $wrong++;
    }
}
diag("new sessions with $p2 dead: " . join(', ', map { "$_: $codes{$_}" } sort keys %codes)
     . sprintf(', slowest %.3f s', $slown));
cmp_ok($ok, '>=', $MIN_NEW, "at least $MIN_NEW of $NNEW new-session requests "
       . 'succeed (4 tries under fresh IDs; 3 would give 1,750)');
ok(!$wrong && $slown < $MAX,
   '... the others answer 503 + Retry-After; all within 2 s')
    or diag("$wrong other answers");
ok(!@not_on_p1, '... every new session is stored on the live server')
    or diag("not on $p1: @not_on_p1");

# --- P2 comes back, empty --------------------------------------------------------------
$m2 = eval { start_memcached(port => $p2) };
ok($m2, "memcached restarted on $p2 (empty)") or diag($@);
my $lost = $on2[0][0];
my $t_up = now();
my ($rc, $st, $rh, @seen);
while (now() - $t_up < 8) {
    ($rc, $st, $rh) = readonly_get($lost, port => $port, timeout => 5);
    push @seen, $rc // 'none';
    last if ($rc // 0) == 200;
    sleep 0.1;
}
my $t_back = now() - $t_up;
my $new = sid_of($rh);
diag(sprintf 'a lost session answered %s after %.3f s (%s)', $rc // 'none', $t_back,
     join ' ', @seen);
ok(($rc // 0) == 200 && $t_back < 5 && $new && $new ne $lost && $st
   && $st->{id} eq $new && $st->{new} && !@{ $st->{items} },
   'after the restart: a lost session\'s cookie gets a new, empty session under a fresh ID within 5 s');

stop_httpd($own);
unlike(slurp($own->{error_log}), qr/exit signal|segfault/i,
       'no httpd child of ours died of a signal, up to its stop');
