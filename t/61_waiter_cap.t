# RemoteSessionMaxWaiters (issue 11, item 1): writers waiting on one
# session in one httpd are capped; one more gets 503 + Retry-After at once
# (RS00064) instead of a worker for RemoteSessionLockTimeout. Our own httpd
# with a cap of 2 and a lock timeout of 60 s, so that only the cap can
# answer 503 while the holder holds. The order in which the three waiters
# reach the server is theirs: exactly one of them is refused, the other
# two take the lock in turn. SessionRequire On counts against the same cap.
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use RS::Test qw(:all);
use List::Util qw(first);

plan tests => 10;

my $mpm = $ENV{RS_MPM} || 'event';
my $h = start_httpd(name => 'waitcap', mpm => $mpm, cgi => 1,
                    suite_lock => 0,
                    config => "RemoteSessionMaxWaiters 2\n"
                            . "RemoteSessionLockTimeout 60\n",
                    mpm_conf => $mpm eq 'prefork'
                        ? "StartServers 10\nMinSpareServers 10\n"
                          . "MaxRequestWorkers 32\nServerLimit 32\n" : '');
END { stop_httpd($h) if $h }
my $port = $h->{port};

my $id = new_session(port => $port, items => { n => '0' });
my $a = hold_get($id, port => $port);
ok($a->{state}, 'holder A has the lock');

my $mark = -s $h->{error_log};
my @w = map { open_stream($id, port => $port) } 1 .. 3;

# The refused one answers at once; the others wait for A (60 s at most).
my $refused = first { defined $_->head(0.05) } map { @w } 1 .. 200;
ok($refused, 'one of three waiting writers is answered while A holds');
is($refused && $refused->{code}, 503, '... 503');
ok($refused && ($refused->{headers}{'retry-after'} // '') =~ /^\d+$/,
   '... with Retry-After');
like(slurp($h->{error_log}, $mark), qr/RS00064: session \Q$id\E: 2 writers/,
     '... logged (RS00064, RemoteSessionMaxWaiters)');

my $put = put_state($id, { %{ $a->{state} }, items => { n => '1' } },
                    port => $port);
is($put->code, 200, "A's PUT commits n=1");
$a->close;

my @rest = grep { $_ != ($refused // 0) } @w;
my $n = 1;
for my $k (0 .. 1) {
    my $next = first { $_->state(0.05) } map { @rest } 1 .. 400;
    ok($next && item_of($next->{state}, 'n') eq $n,
       "waiter " . ($k + 1) . " takes the lock in turn (n=$n)")
        or last;
    $n++;
    my $p = put_state($id, { %{ $next->{state} }, items => { n => $n } },
                      port => $port);
    $p->code == 200 or diag($p->as_string);
    $next->close;
    @rest = grep { $_ != $next } @rest;
}
$_->close for @w;

# SessionRequire On: the same cap, the same 503
{
    my $b = hold_get($id, port => $port);
    my @c = map { open_stream($id, port => $port) } 1 .. 2;
    my $in = first { defined $_->head(0.05) } map { @c } 1 .. 20;
    ok(!$in, 'two writers wait on a held session');
    my ($code) = raw_request('GET', '/req/req_counter.cgi',
        headers => [Cookie => COOKIE_NAME . "=$id"], port => $port,
        timeout => 10);
    is($code, 503, 'a SessionRequire On request beyond the cap: 503 at once');
    $b->close;
    $_->close for @c;
}
