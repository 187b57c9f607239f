# Fault: memcached restarts (SIGKILL, a new empty one on the same port)
# while httpd is idle: no request touches memcached during the outage, so
# every pooled memcached connection in every httpd child still points at the
# dead server's socket. Once the restart is over (and more than
# RETRY-TIMEOUT, 1 s, has passed), no request may fail: a stale pooled
# connection must be noticed and replaced without a 503 (the module retries
# a read once on a stale connection, src/store.c mc_get).
#
# Before the restart, bursts of concurrent writeable GETs + PUTs make every
# child hold several pooled connections. After it: sequential requests of
# each kind, then concurrent bursts (which reach the connections deeper in
# each child's pool): read-only GET and writeable GET + PUT on sessions
# created after the restart, new sessions through the endpoint and through
# SessionRequire. Every answer must be 200 (and the data right).
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use POSIX ();
use Time::HiRes qw(sleep);
use RS::Test qw(:all);

# a die outside an eval shows in the TAP output (Apache::Test's harness
# does not show our stderr)
$SIG{__DIE__} = sub { Test::More::diag("died: $_[0]") unless $^S };
use RS::Memcached ();

# a burst: $BURST writeable GETs held at once, each with its PUT
my $BURST = 8;
need_workers(2 * $BURST);

plan tests => 7;

# a memcached restart by the test before may still disable pooled
# connections for up to 2 s
settle_suite_memcached();

my $port = mc_port();
suite_port();    # before the client processes fork
END { settle_suite_memcached() }    # for the next test file

my @key = (KEY_HEADER, API_KEY);

# $n concurrent writeable GET + PUT cycles on new sessions, each in its own
# client process; returns the list of "GET/PUT/end" outcomes.
sub burst {
    my ($n, $tag) = @_;
    my $dir = t_dir() . '/logs';
    my @pids;
    for my $i (1 .. $n) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            my $out = "$dir/fault47-$tag-$i.txt";
            my $res = eval {
                my $g = held_get(timeout => 5);
                my $r = $g->{code} // 'none';
                if (($g->{code} // 0) == 200) {
                    sleep 0.2;    # all held at once
                    my ($c) = raw_put($g->{id}, encode_state(id => $g->{id},
                                        items => [[i => $i]]), timeout => 5);
                    my ($how) = ($c // 0) == 200 ? $g->{conn}->read_to_end(5) : ('-');
                    $r .= '/' . ($c // 'none') . "/$how";
                }
                $r;
            } // "error:$@";
            $res =~ s/\s+/_/g;
            if (open my $fh, ">", $out) { print $fh $res; close $fh }
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid($_, 0) for @pids;
    return map { slurp("$dir/fault47-$tag-$_.txt") } 1 .. $n;
}

my $T0 = now();
my @warm = (burst($BURST, 'warm1'), burst($BURST, 'warm2'));
diag(sprintf 'warm-up %.3f s', now() - $T0); $T0 = now();
ok(!grep({ $_ ne '200/200/complete' } @warm),
   "warm-up: 2 bursts of $BURST concurrent GET + PUT cycles") or diag("@warm");

# the restart, with httpd idle
my $log0 = error_log_since();
RS::Memcached::kill9();
my $mc = eval { RS::Memcached::start($port) };
ok($mc, 'memcached restarted empty on the same port, no request meanwhile')
    or diag($@);
sleep 1.5;    # past RETRY-TIMEOUT, so no failed-server window can be open

# sequential requests
my @seq;
for my $i (1 .. 5) {
    my ($c, $st, $h) = readonly_get(undef, timeout => 5);
    push @seq, "new-ro:" . ($c // 'none');
    my $id = sid_of($h);
    ($c) = raw_request(GET => '/req/env.cgi', timeout => 5);
    push @seq, "req-new:" . ($c // 'none');
    next unless $id;
    my $g = held_get(session => $id, timeout => 5);
    my ($pc) = ($g->{code} // 0) == 200
        ? raw_put($id, encode_state(id => $id, items => [[i => $i]]), timeout => 5)
        : ();
    $g->{conn}->close;
    push @seq, "cycle:" . ($g->{code} // 'none') . '/' . ($pc // '-');
    ($c, $st) = readonly_get($id, timeout => 5);
    push @seq, "ro:" . ($c // 'none')
        . (($c // 0) == 200 && ($st->{item}{i} // '') ne $i ? '(wrong data)' : '');
}
diag(sprintf 'sequential %.3f s', now() - $T0); $T0 = now();
my @bad = grep { !/:200(?:\/200)?$/ } @seq;
ok(!@bad, 'after the restart, sequential requests: all 200')
    or diag("@seq");
diag("sequential: @seq") if @bad;

# concurrent bursts reach the deeper pooled connections
my @after = (burst($BURST, 'after1'), burst($BURST, 'after2'), burst($BURST, 'after3'));
diag(sprintf 'bursts %.3f s', now() - $T0); $T0 = now();
my @failed = grep { $_ ne '200/200/complete' } @after;
ok(!@failed, "after the restart, 3 bursts of $BURST concurrent GET + PUT: all succeed")
    or diag(scalar(@failed) . " failed: @failed");

# and SessionRequire in bursts
my @req;
my @pids;
my $dir = t_dir() . '/logs';
for my $i (1 .. $BURST) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        my @c;
        for (1 .. 3) {
            my ($c) = raw_request(GET => '/req/env.cgi', timeout => 5);
            push @c, $c // 'none';
        }
        if (open my $fh, ">", "$dir/fault47-req-$i.txt") { print $fh "@c"; close $fh }
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
waitpid($_, 0) for @pids;
@req = map { split ' ', slurp("$dir/fault47-req-$_.txt") } 1 .. $BURST;
diag(sprintf 'req bursts %.3f s', now() - $T0); $T0 = now();
my @rbad = grep { $_ ne '200' } @req;
ok(!@rbad, "after the restart, $BURST concurrent clients x 3 SessionRequire requests: all 200")
    or diag(scalar(@rbad) . " of " . scalar(@req) . " failed: @rbad");

my $log = error_log_since($log0);
diag(sprintf 'log read %.3f s, %d bytes', now() - $T0, length $log);
unlike($log, qr/exit signal|segfault/i, 'no httpd child died of a signal');
unlike($log, qr/RS00020/, 'no memcached failure was even logged (stale '
       . 'connections are replaced transparently)');
