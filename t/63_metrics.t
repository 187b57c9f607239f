# Live counters (issue 10): after known request sequences the counters of
# SetHandler remote-session-metrics (Prometheus text) and of mod_status's
# server-status?auto move by exactly what happened, summed over all the
# children of a prefork httpd (each connection its own process): requests
# by kind, sessions created and abandoned, a lock wait handed off, a lock
# timeout, a takeover of a stale lease, refused bodies, the gauges of held
# GETs and waiting writers, and a memcached outage. Our own memcached and
# httpd, so nothing else moves the numbers.
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use RS::Test qw(:all);
use List::Util qw(first);

plan tests => 25;

my $mc = start_memcached();
my $h = start_httpd(name => 'metrics', mpm => 'prefork', cgi => 1,
                    memcached_port => $mc->{port}, suite_lock => 0,
                    mpm_conf => "StartServers 6\nMinSpareServers 6\n"
                              . "MaxRequestWorkers 32\nServerLimit 32\n",
                    config => <<'CONF');
RemoteSessionLockTimeout 2
RemoteSessionLockLease 2
RemoteSessionMaxSize 4096
<Location /rs-metrics>
    SetHandler remote-session-metrics
</Location>
<Location /server-status>
    SetHandler server-status
</Location>
CONF
END {
    stop_httpd($h) if $h;
    stop_memcached($mc) if $mc;
}
my $port = $h->{port};

# name => value of the Prometheus page
sub metrics {
    my ($code, undef, undef, $body) = raw_request('GET', '/rs-metrics',
                                                  port => $port);
    die "metrics: $code\n" unless ($code // 0) == 200;
    return { map { /^remote_session_(\S+) (\S+)$/ ? ($1, $2) : () }
             split /\n/, $body };
}

sub delta {
    my ($before, @names) = @_;
    my $now = metrics();
    return join ' ', map { "$_=" . (($now->{$_} // 0) - ($before->{$_} // 0)) }
                     @names;
}

sub wait_metric {
    my ($name, $want) = @_;
    for (1 .. 200) {
        return 1 if (metrics()->{$name} // -1) == $want;
        Time::HiRes::sleep(0.025);
    }
    return 0;
}

my $id = new_session(port => $port, items => { n => '1' });

# --- the page itself --------------------------------------------------------
{
    my ($code, $hd, undef, $body) = raw_request('GET', '/rs-metrics',
                                                port => $port);
    is($code, 200, 'remote-session-metrics: 200');
    like($hd->{'content-type'} // '', qr{^text/plain; version=0\.0\.4},
         '... in the Prometheus text format');
    like($body, qr/^# TYPE remote_session_put_total counter$/m,
         '... counters typed');
    like($body, qr/^remote_session_lock_wait_seconds_bucket\{le="\+Inf"\} \d+$/m,
         '... lock waits as a histogram');
}

# --- requests by kind, sessions ---------------------------------------------
{
    my $m0 = metrics();
    ro_get($id, port => $port) for 1 .. 3;
    my $g = hold_get($id, port => $port);
    put_state($id, { %{ $g->{state} }, items => { n => '2' } }, port => $port);
    $g->finish(5);
    ro_get(undef, port => $port);
    raw_request('GET', '/req/env.cgi', port => $port,
                headers => [Cookie => COOKIE_NAME . "=$id"]);
    raw_request('GET', '/ro/env.cgi', port => $port,
                headers => [Cookie => COOKIE_NAME . "=$id"]);
    is(delta($m0, qw(readonly_get_total writeable_get_total put_total
                     require_on_total require_readonly_total
                     sessions_created_total)),
       'readonly_get_total=4 writeable_get_total=1 put_total=1 '
       . 'require_on_total=1 require_readonly_total=1 sessions_created_total=1',
       'four read-only GETs (one new session), a cycle, On and ReadOnly');
}

# --- a lock wait handed off, and the gauges ---------------------------------
{
    my $m0 = metrics();
    my $a = hold_get($id, port => $port);
    ok(wait_metric('held_gets', 1), 'held_gets is 1 while A holds');
    my $b = open_stream($id, port => $port);
    ok(wait_metric('waiting_writers', 1), 'waiting_writers is 1 while B waits');
    put_state($id, { %{ $a->{state} }, items => { n => '3' } }, port => $port);
    ok($b->state(5), "B gets the lock A's PUT freed");
    $a->finish(5);
    is(metrics()->{waiting_writers}, 0, 'waiting_writers back to 0');
    is(delta($m0, qw(lock_wait_seconds_count handoffs_total)),
       'lock_wait_seconds_count=1 handoffs_total=1',
       'one lock wait, one hand-off');
    my $m1 = metrics();
    ok($m1->{lock_wait_seconds_sum} > 0 && $m1->{lock_wait_max_seconds} > 0,
       'the wait is in the sum and the maximum');
    put_state($id, { %{ $b->{state} }, items => { n => '4' } }, port => $port);
    $b->finish(5);
    ok(wait_metric('held_gets', 0), 'held_gets back to 0');
}

# --- a lock timeout ------------------------------------------------------------
{
    my $m0 = metrics();
    my $a = hold_get($id, port => $port);
    my $b = open_stream($id, port => $port);
    is($b->head(10), 503, 'B waits 2 s (RemoteSessionLockTimeout): 503');
    is(delta($m0, qw(lock_timeouts_total lock_wait_seconds_count handoffs_total)),
       'lock_timeouts_total=1 lock_wait_seconds_count=1 handoffs_total=0',
       'one lock timeout (a wait, no hand-off)');
    is(delta($m0, 'lock_wait_seconds_bucket{le="1"}',
             'lock_wait_seconds_bucket{le="10"}'),
       'lock_wait_seconds_bucket{le="1"}=0 lock_wait_seconds_bucket{le="10"}=1',
       '... of between 1 and 10 s in the histogram');
    put_state($id, { %{ $a->{state} }, items => { n => '5' } }, port => $port);
    $a->finish(5);
    $b->close;
}

# --- refused bodies ----------------------------------------------------------------
{
    my $m0 = metrics();
    my $a = hold_get($id, port => $port);
    my $bad = put_state($id, "\x01not a state", port => $port);
    my $big = put_state($id, { %{ $a->{state} }, items => { n => '"' . ('x' x 5000) . '"' } },
                        port => $port);
    is($bad->code . ' ' . $big->code, '400 413', 'a malformed PUT, a PUT too large');
    is(delta($m0, qw(refused_400_total refused_413_total)),
       'refused_400_total=1 refused_413_total=1', '... counted');
    put_state($id, { %{ $a->{state} }, abandoned => 1 }, port => $port);
    $a->finish(5);
    is(delta($m0, qw(sessions_abandoned_total)), 'sessions_abandoned_total=1',
       'an abandoned session');
}

# --- a takeover of a stale lease ------------------------------------------------
{
    my $sid = random_id();
    mc_set(store_key($sid), pack_record(lock => LOCK_HELD, kind => KIND_ENDPOINT,
                                        owner => random_owner(), lease => 1,
                                        state => { id => $sid, timeout => 20 }),
           600, 0, $mc->{port}) or die "mc_set";
    my $m0 = metrics();
    my $w = open_stream($sid, port => $port);
    ok($w->state(10), 'a writer takes over a lock left by a dead holder (lease 1 s)');
    is(delta($m0, qw(takeovers_total handoffs_total)),
       'takeovers_total=1 handoffs_total=0', 'one takeover, not a hand-off');
    $w->close;
}

# --- mod_status ------------------------------------------------------------------------
{
    my $m = metrics();
    my ($code, undef, undef, $body) = raw_request('GET', '/server-status?auto',
                                                  port => $port);
    is($code, 200, 'server-status?auto: 200');
    like($body, qr/^RemoteSessionPutTotal: \Q$m->{put_total}\E$/m,
         '... RemoteSessionPutTotal as the metrics page says');
    ($code, undef, undef, $body) = raw_request('GET', '/server-status',
                                               port => $port);
    like($body, qr{<h2>mod_remote_session</h2>.*readonly_get_total}s,
         'server-status (HTML): a mod_remote_session section');
}

# --- a memcached outage ------------------------------------------------------------
{
    my $m0 = metrics();
    stop_memcached($mc);
    undef $mc;
    my ($code) = readonly_get($id, port => $port);
    is($code, 503, 'memcached stopped: a read-only GET answers 503');
    my $now = metrics();
    my $errors = 0;
    $errors += ($now->{$_} // 0) - ($m0->{$_} // 0)
        for qw(store_lost_total store_timeout_total store_error_total);
    is($errors, 1, 'one store error counted (lost, timeout or error)');
}
