# Fault: the suite's memcached is killed (SIGKILL) while requests are in
# flight, then restarted on the same port.
#
# In flight at the kill: a writeable GET holding session A's lock, a PUT for
# A with half its body sent, a one-connection POST holding session P's lock
# and waiting for its body, a SessionRequire On POST holding session E's lock
# (its body half sent), writers waiting for A's and E's locks, and three
# client processes looping over short requests (read-only endpoint
# GETs of A, SessionRequire requests with an update on session C, and
# SessionRequire requests creating new sessions).
#
# Must hold:
#   - every request answers: 200 before the kill, 503 + Retry-After after
#     it; nothing else, no connection dropped without an answer; those in
#     flight at the kill, those started after it (memcached down) and every
#     503 within 2 s ("about a second"); the 200s before the kill are only
#     bounded by a liveness limit (10 s: a hang still fails);
#   - the held GET ends (its response completes) within 2 s of the kill;
#   - the PUT in flight answers 503 + Retry-After; the POST in flight ends
#     with {"s":false,"m":...} (its commit cannot be made);
#   - the waiting writers answer 503 + Retry-After within 2 s of the kill;
#   - the SessionRequire request whose lock was taken before the kill cannot
#     commit its update: 503 + Retry-After, not a 200 that drops the update;
#   - fresh requests after the kill (read-only GET, writeable GET, PUT, new
#     session, SessionRequire) answer 503 + Retry-After in < 2 s each;
#   - no httpd child crashes (no "exit signal" in t/logs/error_log);
#   - memcached restarted (empty) on the same port: the endpoint (read-only
#     GET, writeable GET + PUT) and SessionRequire serve again, every request
#     succeeding from less than 5 s after the restart on (each 503 before
#     that within 2 s), without an httpd restart.
# memcached is always restarted at the end, whatever happened.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use IO::Select ();
use POSIX ();
use Time::HiRes qw(sleep);
use URI::Escape qw(uri_escape);
use RS::Test qw(:all);

# a die outside an eval shows in the TAP output (Apache::Test's harness
# does not show our stderr)
$SIG{__DIE__} = sub { Test::More::diag("died: $_[0]") unless $^S };
use RS::Memcached ();

# in flight at once at the kill: the held GET, the half PUT, the POST, the
# SessionRequire POST, two waiting writers and the three looping clients
need_workers(9);

plan tests => 33;

# a memcached restart by the test before may still disable pooled
# connections for up to 2 s
settle_suite_memcached();

my $MAX = 2.0;            # seconds any answer may take while memcached is down
my $RESUME = 5.0;         # seconds for service to come back after the restart
my $LIVE = 10.0;          # seconds any other answer (a 200) may take: liveness
my $port = mc_port();
suite_port();    # before the client processes fork
my $log0 = error_log_since();
my @kids;
my $dir = t_dir() . '/logs';

END {
    # other test files need the suite's memcached
    kill KILL => $_ for grep { $_ } @kids;
    settle_suite_memcached();    # for the next test file
}

my @key = (KEY_HEADER, API_KEY);
sub cookie { return (Cookie => COOKIE_NAME . "=$_[0]") }
sub req_path { return '/req/env.cgi?update=' . uri_escape($_[0]) }

# fork_loops(\%subs, $stop, $tag): one client process per sub, calling it
# in a loop until $stop->(\@rows) (the calls so far) is true; each call's
# (start, end, code, RA|-, why) goes to t/logs/fault40-<tag>-<name>.txt.
# wait_loops(\%subs, $tag) waits for them and returns
# (name => [[start, end, code, RA|-, why], ...]).
sub loop_file { return "$dir/fault40-$_[0]-$_[1].txt" }

sub fork_loops {
    my ($subs, $stop, $tag) = @_;
    for my $name (sort keys %$subs) {
        unlink loop_file($tag, $name);    # none of an earlier run
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            open my $out, '>', loop_file($tag, $name) or POSIX::_exit(1);
            $out->autoflush(1);
            my @rows;
            until ($stop->(\@rows)) {
                my $t0 = now();
                my ($c, $h) = eval { $subs->{$name}->() };
                my $why = $c ? '' : ($@ || 'no answer');
                $why =~ s/\s+/_/g;
                push @rows, [$t0, now(), $c // 0];
                printf $out "%.4f %.4f %s %s %s\n", $t0, $rows[-1][1], $c // 0,
                    ($h && defined $h->{'retry-after'}) ? 'RA' : '-', $why || '-';
                sleep 0.01;
            }
            close $out;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
}

sub wait_loops {
    my ($subs, $tag) = @_;
    for my $pid (@kids) { waitpid($pid, 0) }
    @kids = ();
    my %rows;
    for my $name (sort keys %$subs) {
        open my $fh, '<', loop_file($tag, $name) or die "$name: $!";
        $rows{$name} = [ map { [split] } <$fh> ];
    }
    return %rows;
}

sub run_loops {
    my ($subs, $stop, $tag) = @_;
    fork_loops($subs, $stop, $tag);
    return wait_loops($subs, $tag);
}

# first_200(\%subs, $tag, $timeout) -> names of the loops that have logged
# no 200 yet when every loop has one or $timeout has passed
sub first_200 {
    my ($subs, $tag, $timeout) = @_;
    my $deadline = now() + $timeout;
    my %left = map { $_ => 1 } keys %$subs;
    while (1) {
        for my $name (keys %left) {
            open my $fh, '<', loop_file($tag, $name) or next;
            # whole lines only
            delete $left{$name} if grep { /\n\z/ && (split)[2] == 200 } <$fh>;
        }
        return sort keys %left if !%left || now() > $deadline;
        sleep 0.02;
    }
}

# slowest(\@rows, $strict) -> (the longest of the rows $strict->($row) picks,
# the longest of the others), -1 when there are none
sub slowest {
    my ($rows, $strict) = @_;
    my ($s, $o) = (-1, -1);
    for my $r (@$rows) {
        my $t = $r->[1] - $r->[0];
        if ($strict->($r)) { $s = $t if $t > $s }
        else               { $o = $t if $t > $o }
    }
    return ($s, $o);
}

# --- setup: sessions with committed state ----------------------------------
my $ga = held_get();
my $A = $ga->{id};
my ($code) = raw_put($A, encode_state(id => $A, items => [[n => '1']]));
my ($how) = $ga->{conn}->read_to_end(5);
ok($ga->{code} == 200 && $code == 200 && $how eq 'complete',
   'setup: session A created and committed through GET + PUT')
    or diag("GET $ga->{code}, PUT $code, GET end $how");

my $gp = held_get();
my $P = $gp->{id};
($code) = raw_put($P, encode_state(id => $P, items => [[n => '1']]));
$gp->{conn}->read_to_end(5);
die "setup of P failed\n" unless $code == 200;

# (an empty update each: SessionRequire stores a session once it is written)
my (@r) = raw_request(GET => '/req/env.cgi?update=%7B%7D');
my $C = sid_of($r[1]);
@r = raw_request(GET => '/req/env.cgi?update=%7B%7D');
my $E = sid_of($r[1]);
ok($C && $E, 'setup: sessions C and E created through SessionRequire')
    or diag("C ", $C // 'none', ", E ", $E // 'none');

# client processes looping over short requests across the kill: started
# before the requests in flight are set up (the writers waiting for locks
# must still wait at the kill), each with a 200 before those; they stop
# 2.5 s after the kill (a time the parent writes to $stop_file then)
my $stop_file = "$dir/fault40-kill.stop";
unlink $stop_file;
my $t_fork = now();
my %workers = (
    readonly => sub {
        my ($c, $h, undef, $b) = raw_request(GET => ENDPOINT, timeout => 5,
            headers => [@key, cookie($A), READONLY_HEADER, 'true']);
        return ($c, $h);
    },
    require => sub {
        my $i = int(rand 1000);
        my ($c, $h) = raw_request(GET => req_path("{\"set\":{\"w\":$i}}"),
                                  timeout => 5, headers => [cookie($C)]);
        return ($c, $h);
    },
    require_new => sub {     # a new session that writes (else no store)
        my ($c, $h) = raw_request(GET => '/req/env.cgi?update=%7B%7D',
                                  timeout => 5);
        return ($c, $h);
    },
);
my $t_loops_stop;
fork_loops(\%workers, sub {
    return 1 if now() > $t_fork + 60;    # the parent is gone
    unless (defined $t_loops_stop) {
        open my $fh, '<', $stop_file or return 0;
        ($t_loops_stop) = <$fh> =~ /^([\d.]+)\n/ or return 0;
    }
    return now() >= $t_loops_stop;
}, 'kill');
my @no200 = first_200(\%workers, 'kill', 10);
diag("no 200 within 10 s from the loop(s): @no200") if @no200;

# --- requests in flight ------------------------------------------------------
# the held writeable GET on A
my $held = held_get(session => $A);
is($held->{code}, 200, 'writeable GET of A holds the lock');

# a SessionRequire On request that has taken E's lock and waits for the
# rest of its body (mod_cgid sends the body to the script before it reads
# the script's output, which is where the update is committed)
my $slow = RS::Client->new;
my $body = 'x' x 64;
$slow->send_request(POST => req_path('{"set":{"late":1}}'),
                    [cookie($E), 'Content-Type' => 'text/plain'],
                    substr($body, 0, 32), length => length $body);
my $rec;
my $deadline = now() + 5;
while (now() < $deadline) {
    $rec = eval { mc_record($E) };
    last if $rec && $rec->{lock} == LOCK_HELD;
    sleep 0.02;
}
ok($rec && $rec->{lock} == LOCK_HELD && $rec->{kind} == KIND_EXCLUSIVE,
   'SessionRequire POST holds E\'s lock, body half sent');

# a PUT for A with half its body sent (A's lock is the held GET's)
my $put_body = encode_state(id => $A, items => [[n => '"lost"']]);
my $put = RS::Client->new;
$put->send_request(PUT => ENDPOINT, [@key, cookie($A)],
                   substr($put_body, 0, 8), length => length $put_body);

# a POST (one-connection mode, HTTP/1.1 chunked) on session P holding P's
# lock and waiting for its body
my $post = RS::Client->new;
$post->send_request(POST => ENDPOINT,
                    [@key, cookie($P), 'Transfer-Encoding' => 'chunked'],
                    '', no_length => 1);
my ($post_code) = $post->read_head(5);
my $post_state = $post->read_piece(5);
ok(($post_code // 0) == 200 && eval { decode_state($post_state, 1)->{id} eq $P },
   'a POST holds P\'s lock and waits for its body');

# writers waiting for those locks (in their acquire loop, up to
# RemoteSessionLockTimeout 3 s)
my $wait_ep = RS::Client->new;
$wait_ep->send_request(GET => ENDPOINT, [@key, cookie($A)]);
my $wait_rq = RS::Client->new;
$wait_rq->send_request(GET => '/req/env.cgi', [cookie($E)]);
sleep 0.3;
my $sel = IO::Select->new($wait_ep->sock, $wait_rq->sock);
ok(!$sel->can_read(0), 'a writeable GET of A and a SessionRequire request '
   . 'of E wait for the locks');

# --- the kill ------------------------------------------------------------------
my $t_kill = now();
RS::Memcached::kill9();
my $t_dead = now();
{
    open my $fh, '>', "$stop_file.tmp" or die "$stop_file.tmp: $!";
    printf $fh "%.4f\n", $t_kill + 2.5;
    close $fh or die "$stop_file.tmp: $!";
    rename "$stop_file.tmp", $stop_file or die "$stop_file: $!";
}
ok(!defined RS::Memcached::version($port, 1), 'memcached killed (SIGKILL)');
diag(sprintf 'memcached gone %.3f s after the signal', $t_dead - $t_kill);

# the held GET ends
($how) = $held->{conn}->read_to_end(5);
my $t_held = now() - $t_kill;
ok($how eq 'complete' || $how eq 'eof', 'the held GET ends')
    or diag("held GET: $how");
cmp_ok($t_held, '<', $MAX, 'the held GET ends within 2 s of the kill');
diag(sprintf 'held GET ended (%s) %.3f s after the kill', $how, $t_held);

# the waiting writers
for my $w ([ 'writeable GET waiting for A', $wait_ep ],
           [ 'SessionRequire request waiting for E', $wait_rq ]) {
    my $c = $w->[1]->read_head(5);
    my $h = $w->[1]{headers};
    my $t = now() - $t_kill;
    ok(defined $c && $c == 503 && defined $h->{'retry-after'} && $t < $MAX,
       "$w->[0]: 503 + Retry-After within 2 s of the kill")
        or diag(sprintf '%s: got %s after %.3f s', $w->[0],
                $c // "nothing ($w->[1]{why})", $t);
    $w->[1]->close;
}

# the PUT in flight finishes its body
my $t0 = now();
$put->send(substr($put_body, 8));
my ($uc, $uh) = $put->response(5);
my $t_put = now() - $t0;
ok(($uc // 0) == 503 && defined $uh->{'retry-after'} && $t_put < $MAX,
   'the PUT in flight at the kill: 503 + Retry-After within 2 s')
    or diag(sprintf 'PUT: %s after %.3f s', $uc // "nothing ($put->{why})", $t_put);
$put->close;

# the POST sends its body: its commit fails, it says so, and ends
$t0 = now();
my $pb = encode_state(id => $P, items => [[n => '"lost"']]);
$post->send(sprintf("%x\r\n%s\r\n0\r\n\r\n", length $pb, $pb));
my ($phow, $presult) = $post->read_to_end(5);
my $t_post = now() - $t0;
ok($phow eq 'complete' && $presult =~ /^\{"s":\s*false,\s*"m":/ && $t_post < $MAX,
   'the POST in flight at the kill: {"s":false,...} and the end, within 2 s')
    or diag(sprintf 'POST: %s "%s" after %.3f s', $phow, $presult, $t_post);
diag("POST result: $presult");
$post->close;

# the SessionRequire request holding E's lock finishes its body: its
# update cannot be stored
$t0 = now();
$slow->send(substr($body, 32));
my ($sc, $sh, $sr, $sb) = $slow->response(5);
my $t_slow = now() - $t0;
is($sc, 503, 'SessionRequire request that held the lock: 503 (update not stored)')
    or diag('got ' . ($sc // "nothing ($slow->{why})") . " $sr");
ok($sh && defined $sh->{'retry-after'}, '... with Retry-After');
cmp_ok($t_slow, '<', $MAX, '... within 2 s');
$slow->close;

# fresh requests while memcached is down
my @fresh = (
    [ 'read-only GET',  GET => ENDPOINT, [@key, cookie($A), READONLY_HEADER, 'true'] ],
    [ 'writeable GET',  GET => ENDPOINT, [@key, cookie($A)] ],
    [ 'PUT',            PUT => ENDPOINT, [@key, cookie($A)],
      encode_state(id => $A, items => [[n => '2']]) ],
    [ 'new session GET', GET => ENDPOINT, [@key] ],
    [ 'SessionRequire with a cookie', GET => '/req/env.cgi', [cookie($C)] ],
    [ 'SessionRequire, new session', GET => '/req/env.cgi?update=%7B%7D', [] ],
);
for my $f (@fresh) {
    my ($name, $m, $path, $hdr, $b) = @$f;
    my ($t, $c, $h) = timed(sub { raw_request($m, $path, headers => $hdr,
                                              body => $b, timeout => 5) });
    ok(defined $c && $c == 503 && defined $h->{'retry-after'} && $t < $MAX,
       "after the kill, $name: 503 + Retry-After in < 2 s")
        or diag(sprintf '%s: got %s in %.3f s', $name, $c // "nothing ($@)", $t);
}

# the loops
my %krows = wait_loops(\%workers, 'kill');
for my $name (sort keys %workers) {
    my @rows = @{ $krows{$name} };
    my @bad = grep { !($_->[2] == 200 || ($_->[2] == 503 && $_->[3] eq 'RA')) } @rows;
    # 2 s: in flight at the kill, started after it, or a 503; the 200s
    # before the kill: liveness only
    my ($max, $max200) = slowest(\@rows, sub { $_[0][1] > $t_kill || $_[0][2] != 200 });
    my $ok_before = grep { $_->[2] == 200 && $_->[1] < $t_kill } @rows;
    my $down_after = grep { $_->[2] == 503 && $_->[0] > $t_dead } @rows;
    my $inflight = grep { $_->[0] < $t_kill && $_->[1] > $t_kill } @rows;
    ok(@rows && !@bad && $ok_before && $down_after && $max < $MAX && $max200 < $LIVE,
       "$name loop: 200 before the kill, 503 + Retry-After after, each < 2 s "
       . "from the kill on")
        or diag("$name: " . scalar(@rows) . " requests, bad: "
                . join('; ', map { "@$_" } @bad[0 .. ($#bad < 4 ? $#bad : 4)])
                . sprintf(", max %.3f s from the kill on, %.3f s before, "
                          . "%d ok before, %d 503 after",
                          $max, $max200, $ok_before, $down_after));
    diag(sprintf '%s: %d requests, %d in flight at the kill, slowest %.3f s '
         . 'from the kill on, %.3f s before', $name, scalar @rows, $inflight,
         $max, $max200);
}

# --- the restart ---------------------------------------------------------------
# Each pooled memcached connection that failed keeps the server disabled for
# RETRY-TIMEOUT (1 s) from its last failure, so right after the restart some
# requests still answer 503 (+ Retry-After), depending on the child and the
# connection they get. Service has resumed once no request fails any more:
# three client processes loop over new-session requests (endpoint read-only
# GET, SessionRequire, a whole writeable GET + PUT cycle) for at least 6 s
# from the restart and until 3 successes follow their last failure (at most
# 10 s); the last 503 must come less than 5 s after it, each within 2 s.
my $mc = eval { RS::Memcached::start($port) };
ok($mc, "memcached restarted on the same port $port") or diag($@);
my $t_up = now();

my %after = (
    readonly_new => sub {
        return raw_request(GET => ENDPOINT, timeout => 5,
                           headers => [@key, READONLY_HEADER, 'true']);
    },
    require_new => sub {
        return raw_request(GET => req_path('{"set":{"back":1}}'), timeout => 5);
    },
    cycle => sub {
        my $g = held_get(timeout => 5);
        return ($g->{code}, $g->{headers}) unless ($g->{code} // 0) == 200;
        my ($c, undef, undef, $h) = raw_put($g->{id},
            encode_state(id => $g->{id}, items => [[k => '"v"']]), timeout => 5);
        # a client whose PUT failed gives up its GET (the module releases
        # the lock when the heartbeat fails)
        my ($how) = ($c // 0) == 200 ? $g->{conn}->read_to_end(5) : ('complete');
        $g->{conn}->close;
        return ($how eq 'complete' ? $c : 0, $h);
    },
);
my %rows = run_loops(\%after, sub {
    my $rows = shift;
    my $t = now();
    return 0 if $t < $t_up + $RESUME + 1;
    return 1 if $t >= $t_up + 10;
    my $n = 0;
    for my $r (reverse @$rows) { last if $r->[2] != 200; $n++ }
    return $n >= 3;
}, 'after');
for my $name (sort keys %after) {
    my @rows = @{ $rows{$name} };
    my @bad = grep { !($_->[2] == 200 || ($_->[2] == 503 && $_->[3] eq 'RA')) } @rows;
    my ($max, $max200) = slowest(\@rows, sub { $_[0][2] != 200 });
    my ($last503) = sort { $b <=> $a } map { $_->[1] } grep { $_->[2] != 200 } @rows;
    my $t_last = defined $last503 ? $last503 - $t_up : 0;
    my $ok_after = grep { $_->[2] == 200 && $_->[0] > ($last503 // 0) } @rows;
    my $n503 = grep { $_->[2] == 503 } @rows;
    ok(@rows && !@bad && $max < $MAX && $max200 < $LIVE && $t_last < $RESUME
       && $ok_after >= 3,
       "$name after the restart: only 200 from less than 5 s on (503 + Retry-After before)")
        or diag("$name: " . scalar(@rows) . " requests, bad: "
                . join('; ', map { "@$_" } @bad[0 .. ($#bad < 4 ? $#bad : 4)])
                . sprintf(", slowest 503 %.3f s, slowest 200 %.3f s, last "
                          . "failure %.3f s after the restart, %d ok after it",
                          $max, $max200, $t_last, $ok_after));
    diag(sprintf '%s after the restart: %d requests, %d answered 503, the last '
         . 'one %.3f s after the restart', $name, scalar @rows, $n503, $t_last);
}

# a whole writeable cycle and a SessionRequire commit work again
my $g = held_get();
my ($pc, $preason) = $g->{id}
    ? raw_put($g->{id}, encode_state(id => $g->{id}, items => [[k => '"v"']]))
    : ();
($how) = $g->{conn}->read_to_end(5);
ok($g->{code} == 200 && ($pc // 0) == 200 && $how eq 'complete',
   'after the restart: writeable GET + PUT commit')
    or diag("GET $g->{code}, PUT " . ($pc // 'none') . ", end $how");
@r = raw_request(GET => req_path('{"set":{"back":true}}'));
my $nid = sid_of($r[1]);
$rec = $nid ? eval { mc_record($nid) } : undef;
ok(($r[0] // 0) == 200 && $rec && ($rec->{state}{item}{back} // '') eq 'true',
   'after the restart: SessionRequire commits an update')
    or diag("answer " . ($r[0] // 'none'));

# --- the error log -------------------------------------------------------------
my $log = error_log_since($log0);
unlike($log, qr/exit signal|segfault|AH00052/i,
       'no httpd child died of a signal');
like($log, qr/RS00020/, 'the memcached failure is logged (RS00020)');
