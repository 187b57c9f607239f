# A farm: two httpd servers sharing the one memcached. The lock lives in
# memcached, so a PUT may reach the other server than the writeable GET it
# commits, the held GET sees the commit, the other server reads it, and a
# writer on one server waits for a holder on the other.
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use POSIX ();
use Time::HiRes ();
use RS::Test qw(:all);

# the contention part: on the suite's server up to two clients' writeable
# GETs (a holder and a waiter) and two clients' PUTs at once
need_workers(4);

plan tests => 30;


my (undef, $p1) = split /:/, Apache::TestRequest::hostport();
my $h2 = eval { start_httpd(cgi => 1) };
END { stop_httpd($h2) if $h2 }
ok($h2, 'a second httpd on the same memcached') or diag($@);
my $p2 = $h2 ? $h2->{port} : $p1;
diag("server 1 on port $p1, server 2 on port $p2");

my $id = new_session(port => $p1, items => { x => '0' });
ok($id, "a session made on server 1: $id");

# --- held on server 1, PUT to server 2 ------------------------------------------
{
    my $g = open_stream($id, port => $p1);
    my $st = $g->state(10);
    ok($st && item_of($st, 'x') eq '0', 'server 1: writeable GET holds the lock (x=0)')
        or diag($g->describe);
    my $mark = error_log_since();
    my $put = put_state($id, { %{ $st || {} }, items => { x => '1' } }, port => $p2);
    is($put->code, 200, 'server 2: PUT (x=1) commits the lock held on server 1')
        or diag($put->as_string);
    my $t0 = Time::HiRes::time();
    is($g->finish(LOCK_TIMEOUT + LOCK_LEASE), 'end',
       'server 1: the held GET completes');
    # seen by its own poll of memcached (every heartbeat), not by a lease:
    # within one, with no lost lock, vanished client or timeout logged
    my $dt = $g->t_done ? $g->t_done - $t0 : 99;
    my @why = logged($mark, $id, qw(RS00030 RS00031 RS00061));
    ok($dt < LOCK_LEASE && !@why,
       sprintf('... because of the commit on server 2: %.0f ms after the PUT '
               . '(within a lease), nothing else logged', $dt * 1000))
        or diag(join "\n", @why);
    my ($res, $ro) = ro_get($id, port => $p2);
    is($ro && item_of($ro, 'x'), '1', 'server 2: read-only GET sees x=1');
    ($res, $ro) = ro_get($id, port => $p1);
    is($ro && item_of($ro, 'x'), '1', 'server 1: read-only GET sees x=1');
    my $rec = read_record($id);
    ok($rec && $rec->{lock} == LOCK_FREE, 'record: free');
}

# --- held on server 2, PUT to server 1 ------------------------------------------
{
    my $g = open_stream($id, port => $p2);
    my $st = $g->state(10);
    ok($st && item_of($st, 'x') eq '1', 'server 2: writeable GET holds the lock (x=1)')
        or diag($g->describe);
    my $put = put_state($id, { %{ $st || {} }, items => { x => '2' } }, port => $p1);
    is($put->code, 200, 'server 1: PUT (x=2) commits the lock held on server 2')
        or diag($put->as_string);
    is($g->finish(5), 'end', 'server 2: the held GET completes');
    my ($res, $ro) = ro_get($id, port => $p1);
    is($ro && item_of($ro, 'x'), '2', 'server 1: read-only GET sees x=2');
    ($res, $ro) = ro_get($id, port => $p2);
    is($ro && item_of($ro, 'x'), '2', 'server 2: read-only GET sees x=2');
}

# --- a writer on server 2 waits for the holder on server 1 ----------------------
{
    my $a = open_stream($id, port => $p1);
    my $sa = $a->state(10);
    ok($sa, 'server 1: writer A holds the lock') or diag($a->describe);
    my $b = open_stream($id, port => $p2);
    ok($b->quiet(0.3), 'server 2: writer B waits (nothing within 300 ms)')
        or diag($b->describe);
    my ($res, $ro) = ro_get($id, port => $p2);
    is($ro && item_of($ro, 'x'), '2',
       'server 2: read-only GET meanwhile answers with the committed x=2');
    my $put = put_state($id, { %{ $sa || {} }, items => { x => '3' } }, port => $p1);
    my $t_put = Time::HiRes::time();
    is($put->code, 200, 'server 1: A\'s PUT (x=3)');
    my $sb = $b->state(LOCK_TIMEOUT + LOCK_LEASE);
    ok($sb && (item_of($sb, "x") // "") eq "3", 'server 2: B gets the lock with x=3')
        or diag($b->describe);
    diag(sprintf 'cross-server hand-off: %.1f ms', ($b->t_first_body - $t_put) * 1000)
        if $b->t_first_body;
    is($a->finish(5), 'end', 'server 1: A\'s GET completes');
    $a->close;    # a finished response kept alive would hold a prefork child
    $put = put_state($id, { %{ $sb || {} }, items => { x => '4' } }, port => $p1);
    is($put->code, 200, 'server 1: PUT (x=4) commits B\'s lock held on server 2');
    is($b->finish(5), 'end', 'server 2: B\'s GET completes');
    $b->close;

    # a writer on server 1 that cannot get the lock held on server 2: 503
    my $c = open_stream($id, port => $p2);
    ok($c->state(10), 'server 2: writer C holds the lock') or diag($c->describe);
    my $d = open_stream($id, port => $p1);
    is($d->head(LOCK_TIMEOUT + 10), 503,
       'server 1: writer D gets 503 after the lock timeout (no takeover of a live lock)');
    $d->close;
    $put = put_state($id, { %{ $c->state(0) || {} }, items => { x => '5' } }, port => $p1);
    is($put->code, 200, 'server 1: PUT commits C\'s lock (C still held it)');
    is($c->finish(5), 'end', 'server 2: C\'s GET completes');
    ($res, $ro) = ro_get($id, port => $p2);
    is($ro && item_of($ro, 'x'), '5', 'server 2: read-only GET sees x=5');
}

# --- no lost update under contention across the farm ---------------------------
# Four clients increment x 5 times each, as the ASP.NET client does (writeable
# GET, PUT of x+1): GET on one server, PUT on the same or the other one.
{
    my $cid = new_session(port => $p1, items => { x => '0' });
    my @pairs = ([ $p1, $p1 ], [ $p1, $p2 ], [ $p2, $p1 ], [ $p2, $p2 ]);
    my $rounds = 5;
    my %kids;
    for my $pair (@pairs) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            my ($done, $tries) = (0, 0);
            while ($done < $rounds && $tries++ < 60) {
                my $ok = eval {
                    my $g = open_stream($cid, port => $pair->[0]);
                    my $st = $g->state(10) or return 0;
                    my $x = item_of($st, 'x') // 'none';
                    $x =~ /^\d+$/ or return 0;
                    my $put = open_stream($cid, port => $pair->[1], method => 'PUT',
                        body => encode_state(id => $cid, timeout => 20,
                                             items => { x => $x + 1 }));
                    my $code = $put->head(10) // 0;
                    $g->finish(5);
                    $code == 200;
                };
                $done++ if $ok;
            }
            POSIX::_exit($done);
        }
        $kids{$pid} = "@$pair";
    }
    my $total = 0;
    for my $pid (keys %kids) {
        waitpid $pid, 0;
        my $n = $? >> 8;
        diag("client GET:$kids{$pid} PUT: $n increments") if $n != $rounds;
        $total += $n;
    }
    is($total, @pairs * $rounds, 'every increment of the 4 clients committed');
    my ($res, $ro) = ro_get($cid, port => $p2);
    is($ro && item_of($ro, 'x'), $total, "x = $total: no update lost");
    my $rec = read_record($cid);
    ok($rec && $rec->{lock} == LOCK_FREE, 'record: free at the end');
}
