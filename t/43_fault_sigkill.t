# Fault: the httpd child process holding a session's lock is killed with
# SIGKILL (no cleanup runs, the lock stays in memcached as held).
#
# The holder runs in an httpd of our own (prefork, one child process:
# StartServers 1, MaxRequestWorkers 1) on the suite's memcached, so the
# process serving the held request is the only child of that httpd's parent.
# The next writer and the commit go to the suite's main server.
#
# Twice: (1) the holder is a writeable GET (lock kind "endpoint"), (2) the
# holder is a POST (HTTP/1.1, chunked body pending; lock kind "exclusive").
# Must hold, each time:
#   - the killed child's connection ends (EOF) and the record still shows
#     the lock held (nothing released it);
#   - the next writer gets the lock within the lease (2 s) plus a little:
#     < 4 s after the kill; and not before the lease has run out since the
#     holder's last renewal (>= 2 s after the record's "renewed" time);
#   - its commit (PUT) succeeds and the state is the committed one;
#   - t/logs/error_log shows the takeover warning RS00025 for the session;
# and our httpd serves again from a new child, and none of its children died
# of another signal up to its stop.
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

# on the suite's server: a writeable GET and its PUT (the holder runs on our
# own one-process httpd)
need_workers(2);

plan tests => 1 + 2 * 8 + 3;

# a memcached restart by the test before may still disable pooled
# connections for up to 2 s
settle_suite_memcached();

my $BOUND = 4.0;    # lease (2 s) plus a little
my $log0 = error_log_since();
my @key = (KEY_HEADER, API_KEY);

my $own = start_httpd(name => 'fault-sigkill', mpm => 'prefork',
                      log_level => 'info remote_session:debug', config => "Timeout 30",
                          mpm_conf => <<'EOC');
StartServers 1
MinSpareServers 1
MaxSpareServers 1
MaxRequestWorkers 1
ServerLimit 1
EOC
END { stop_httpd($own) if $own }
ok($own && $own->{pid}, "own httpd (prefork, one child) on port $own->{port}");

# The one live child of our httpd (waits for the parent to have one).
sub the_child {
    my $deadline = now() + 10;
    while (now() < $deadline) {
        my @kids = httpd_children($own);
        return $kids[0] if @kids == 1;
        sleep 0.05;
    }
    return;
}

sub gone {
    my $pid = shift;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    my $stat = <$fh> // '';
    return $stat =~ /^\d+ \(.*\) [ZX]/s;
}

# A session committed through the suite's server; its ID.
sub committed_session {
    my $label = shift;
    my $g = held_get();
    my ($c) = raw_put($g->{id}, encode_state(id => $g->{id},
                                               items => [[v => qq{"$label"}]]));
    my ($how) = $g->{conn}->read_to_end(5);
    die "setup failed: GET $g->{code} PUT $c $how\n"
        unless $g->{code} == 200 && $c == 200 && $how eq 'complete';
    return $g->{id};
}

my %took;    # session ID => 1, for the log check
my %killed;  # case => pid

for my $kind (qw(GET POST)) {
    my $case = $kind eq 'GET' ? '(1) writeable GET' : '(2) POST';
    my $id = committed_session("before-$kind");

    # the holder, on our httpd
    my $holder;
    if ($kind eq 'GET') {
        $holder = held_get(session => $id, port => $own->{port})->{conn};
    }
    else {
        $holder = RS::Client->new(port => $own->{port});
        $holder->send_request(POST => ENDPOINT,
            [@key, Cookie => COOKIE_NAME . "=$id",
             'Transfer-Encoding' => 'chunked'], '', no_length => 1);
        $holder->read_head(5);
        $holder->read_piece(5);
    }
    my $child = the_child();
    sleep 0.9;    # the holder renews its lease (every lease/3) meanwhile
    my $rec = mc_record($id);
    my $want_kind = $kind eq 'GET' ? KIND_ENDPOINT : KIND_EXCLUSIVE;
    ok($child && $rec && $rec->{lock} == LOCK_HELD && $rec->{kind} == $want_kind,
       "$case: our httpd's only child ($child) holds the lock")
        or diag("$case: child " . ($child // 'none') . ", lock "
                . ($rec ? "$rec->{lock} kind $rec->{kind}" : 'no record'));

    # SIGKILL
    my $t_kill = now();
    kill KILL => $child if $child;
    $killed{$kind} = $child;
    my $deadline = now() + 5;
    sleep 0.01 until gone($child) || now() > $deadline;
    my ($how) = $holder->read_to_end(3);
    ok(gone($child) && $how eq 'eof', "$case: the child is killed, its connection ends")
        or diag("$case: child gone " . (gone($child) ? 1 : 0) . ", connection $how");
    $holder->close;
    $rec = mc_record($id);
    ok($rec && $rec->{lock} == LOCK_HELD, "$case: the lock stays held in memcached");
    my $renewed = $rec ? $rec->{renewed} / 1e6 : $t_kill;
    diag(sprintf '%s: last renewal %.3f s before the kill', $case,
         $t_kill - $renewed);

    # the next writer, on the suite's server
    my $w = held_get(session => $id, timeout => 8);
    my $t = $w->{t_head} - $t_kill;
    ok(($w->{code} // 0) == 200 && $t < $BOUND,
       "$case: the next writer gets the lock within $BOUND s of the kill")
        or diag(sprintf '%s: got %s after %.3f s', $case, $w->{code} // 'nothing', $t);
    cmp_ok($w->{t_head} - $renewed, '>=', RS::Test::LOCK_LEASE - 0.05,
           "$case: ... not before the lease ran out since the last renewal");
    diag(sprintf '%s: lock taken over %.3f s after the kill, %.3f s after '
         . 'the last renewal', $case, $t, $w->{t_head} - $renewed);
    is_deeply($w->{state} ? $w->{state}{items} : undef,
              [[v => qq{"before-$kind"}]],
              "$case: the next writer sees the last committed state");

    # its commit
    my ($c, $reason) = raw_put($id, encode_state(id => $id,
                                                   items => [[v => qq{"after-$kind"}]]));
    ($how) = $w->{conn}->read_to_end(3);
    $rec = mc_record($id);
    ok($c == 200 && $how eq 'complete' && $rec->{lock} == LOCK_FREE,
       "$case: its PUT commits, the GET ends, the lock is free")
        or diag("$case: PUT $c $reason, GET $how, lock $rec->{lock}");
    is_deeply($rec->{state}{items}, [[v => qq{"after-$kind"}]],
              "$case: memcached holds the committed state");
    $took{$id} = 1;
}

# the log of the suite's server: the takeovers
my $log = error_log_since($log0);
my @warn = grep { /RS00025/ } split /\n/, $log;
ok(!grep({ my $id = $_; !grep { /\Q$id\E/ } @warn } keys %took),
   'the error log shows the takeover warning (RS00025) for each session')
    or diag("RS00025 lines:\n" . join "\n", @warn);
diag($_) for @warn;

# our httpd serves again, from a new child (prefork does not log a child
# killed by SIGKILL)
my $id = (keys %took)[0];
my ($c, $st) = readonly_get($id, port => $own->{port});
my $child = the_child();
ok(($c // 0) == 200 && $st && $child && !grep({ $_ == $child } values %killed),
   'our httpd serves again from a new child')
    or diag("read-only GET " . ($c // 'none') . ", child " . ($child // 'none'));

# no child crashed (prefork does not log the SIGKILLs we sent), up to the
# stop of our httpd
stop_httpd($own);
unlike(slurp($own->{error_log}), qr/exit signal|segfault/i,
       'no child of our httpd died of another signal, up to its stop');
