# What the shared-memory wake-ups (src/shared.c) and the commit that frees
# the lock in its own write change, counted in memcached's own stats on a
# memcached and an httpd of this test's own (nothing else talks to them):
#   - a writeable GET + PUT cycle writes twice (take, commit): the PUT's
#     commit frees the lock, the held GET writes nothing after it;
#   - read-only GETs of a session this server just wrote or touched are one
#     get each, no touch;
#   - a second PUT after the held GET ended finds no lock (as the peer);
#   - a writer waiting in one process takes the lock a PUT in another
#     process committed, with the PUT's value, and the held GET ends.
# Runs under event and under prefork (t/run-suite.sh), where every
# connection is its own process: the wake-ups cross processes.
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use RS::Test qw(:all);

plan tests => 16;

my $mpm = $ENV{RS_MPM} || 'event';
my $mc = start_memcached();
my $h = start_httpd(name => 'notify', mpm => $mpm,
                    memcached_port => $mc->{port},
                    mpm_conf => $mpm eq 'prefork'
                        ? "StartServers 8\nMinSpareServers 8\n"
                          . "MaxRequestWorkers 32\nServerLimit 32\n" : '');
END {
    stop_httpd($h) if $h;
    stop_memcached($mc) if $mc;
}
my $port = $h->{port};
my $mcp = $mc->{port};

sub ops {
    my $s = mc_stats($mcp);
    return { get => $s->{cmd_get}, touch => $s->{cmd_touch},
             cas => $s->{cas_hits} + $s->{cas_badval} + $s->{cas_misses},
             set => $s->{cmd_set} };
}

sub delta {
    my ($a, $b) = @_;
    return { map { $_ => $b->{$_} - $a->{$_} } keys %$a };
}

my $id = new_session(port => $port, items => { x => '0' });
ok($id, "a session with x=0 on our own httpd ($mpm)");

# --- one writeable cycle: two writes ------------------------------------------
{
    my $before = ops();
    my $g = hold_get($id, port => $port);
    ok($g->{state}, 'writeable GET: the state');
    my $put = put_state($id, { %{ $g->{state} || {} }, items => { x => '1' } },
                        port => $port);
    is($put->code, 200, 'PUT commits x=1');
    is($g->finish(10), 'end', 'the held GET ends');
    my $d = delta($before, ops());
    is($d->{cas}, 2, 'the cycle wrote twice: take and commit (no release)')
        or diag(explain($d));
    is($d->{set}, 2, '... and nothing else');
    my $rec = read_record($id, $mcp);
    ok($rec && $rec->{lock} == LOCK_FREE, 'record: free after the PUT alone')
        or diag(explain($rec));

    my $again = put_state($id, { %{ $g->{state} || {} }, items => { x => '2' } },
                          port => $port);
    is($again->code . ' ' . ($again->message // ''),
       '400 Could not find session',
       'a second PUT after the held GET ended: no lock');
    is(item_of((ro_get($id, port => $port))[1], 'x'), '1', '... x stays 1');
}

# --- read-only GETs: one get each ---------------------------------------------
{
    my $before = ops();
    my @x = map { item_of((ro_get($id, port => $port))[1], 'x') } 1 .. 5;
    my $d = delta($before, ops());
    is("@x", '1 1 1 1 1', 'five read-only GETs read x=1');
    is($d->{get}, 5, '... with one get each');
    is($d->{touch}, 0, '... and no touch: this server wrote it just now')
        or diag(explain($d));
}

# --- a hand-off across connections (processes under prefork) ------------------
{
    my $a = hold_get($id, port => $port);
    ok($a->{state}, 'holder A');
    my $b = open_stream($id, port => $port);    # waits in the server
    my $put = put_state($id, { %{ $a->{state} || {} }, items => { x => '7' } },
                        port => $port);
    is($put->code, 200, "A's PUT commits x=7");
    my $st = $b->state(LOCK_TIMEOUT + 5);
    is($st && item_of($st, 'x'), '7', 'waiting writer B takes the lock with x=7')
        or diag($b->describe);
    is($a->finish(10), 'end', "A's held GET ends");
    $b->close;
}
