# memcached goes away (SIGKILL: every item lost) and comes back on the same
# port: while it is down every kind of endpoint request answers 503 with
# Retry-After within about a second and no worker hangs (a held writeable
# GET ends too); once it is back, service resumes within a few seconds
# without restarting httpd.
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use IO::Socket::INET ();
use Time::HiRes ();
use RS::Memcached ();
use RS::Test qw(:all);

# 12, then 24 requests sent at once
need_workers(24);

plan tests => 36;

my $mc_port = mc_port();

# memcached must be running when this file ends, whatever happened here:
# the other tests need it (a restart on the same port, where httpd looks)
sub ensure_memcached {
    return if defined RS::Memcached::version($mc_port, 1);
    my $ok = eval { RS::Memcached::start($mc_port); 1 };
    warn "t/25_store_down.t: could not restart memcached: $@" unless $ok;
}
END { ensure_memcached() }
$SIG{INT} = $SIG{TERM} = sub { ensure_memcached(); exit 1 };

sub timed_request {
    my $req = shift;
    my $t0 = Time::HiRes::time();
    my $res = send_request($req);
    return ($res, Time::HiRes::time() - $t0);
}

my $id = new_session(items => { x => '1' });
ok($id, "a session with x=1: $id");
my $held = open_stream($id);
ok($held->state(10), 'a writeable GET holds the session') or diag($held->describe);

my $log0 = error_log_since();
ok(RS::Memcached::kill9(), 'memcached killed (SIGKILL)');
ok(!defined RS::Memcached::version($mc_port, 1), 'nothing answers on its port');
my $t_kill = Time::HiRes::time();

# the held GET notices the store is gone and ends instead of hanging
my $end = $held->finish(3);
ok($end, sprintf('the held writeable GET ends once memcached is gone (%s, %.2f s)',
                 $end // 'still open', Time::HiRes::time() - $t_kill))
    or diag($held->describe);
$held->close;

my @cases = (
    [ 'read-only GET' => endpoint_request('GET', session => $id, readonly => 'true') ],
    [ 'writeable GET' => undef ],    # raw: its answer would otherwise stream
    [ 'PUT' => endpoint_request('PUT', session => $id,
                                body => encode_state(id => $id, timeout => 20,
                                                     items => { x => '2' })) ],
    [ 'read-only GET, no cookie (new session)' =>
          endpoint_request('GET', readonly => 'true') ],
);
for my $c (@cases) {
    my ($what, $req) = @$c;
    my ($code, $retry, $dt);
    if ($req) {
        my ($res, $t) = timed_request($req);
        ($code, $retry, $dt) = ($res->code, $res->header('Retry-After'), $t);
    }
    else {
        my $s = open_stream($id);
        $code = $s->head(10);
        $retry = $s->header('Retry-After');
        $dt = defined $code ? $s->t_head - $s->t_sent : 99;
        $s->close;
    }
    ok(defined $code && $code == 503 && defined $retry && $retry =~ /^\d+$/,
       "memcached down: $what: 503 with Retry-After")
        or diag("got " . ($code // 'no answer') . ', Retry-After '
                . ($retry // 'none'));
    ok($dt < 2, sprintf("... answered in %.2f s (< 2 s)", $dt));
}

# a writeable GET that would make a new session
{
    my $s = open_stream(undef);
    my $code = $s->head(10);
    my $dt = defined $code ? $s->t_head - $s->t_sent : 99;
    ok(defined $code && $code == 503 && $dt < 2,
       sprintf('memcached down: writeable GET, no cookie: %s in %.2f s',
               $code // 'no answer', $dt));
    $s->close;
}

# many at once: every one answered, none hangs a worker
# Each connection is closed as soon as its answer is read: under prefork a
# connection the client keeps (alive, or in httpd's lingering close) holds
# its child, and later answers would wait for prefork to start more
# children (about one more a second, doubling), which is not what this
# measures.
{
    my @s = map { open_stream($id, ($_ % 2 ? (readonly => 'true') : ())) } 1 .. 12;
    my $n503 = grep { my $c = $_->head(5) // 0; $_->close; $c == 503 } @s;
    my ($last) = sort { $b <=> $a } map { $_->t_head // 99 } @s;
    my $dt = $last - $s[0]->t_sent;
    is($n503, 12, '12 concurrent requests while down: all 503');
    ok($dt < 3, sprintf('... all answered within %.2f s (< 3 s)', $dt));
    my $t = Time::HiRes::time();
    my $r = GET '/';
    is($r->code, 200, sprintf('a static page is still served (%.2f s)',
                              Time::HiRes::time() - $t));
}

my $log = error_log_since($log0);
like($log, qr/memcached .* failed/, 'the store failure is in the error log');
unlike($log, qr/\Q${\ API_KEY}\E/, 'the error log does not contain the API key');

# --- memcached comes back on the same port --------------------------------------
my $mc = eval { RS::Memcached::restart() };
ok($mc && defined RS::Memcached::version($mc_port, 1),
   "memcached restarted on the same port $mc_port") or diag($@);
my $t_up = Time::HiRes::time();
my ($res, $st, $dt);
while (1) {
    ($res, $st) = ro_get($id);
    $dt = Time::HiRes::time() - $t_up;
    last if $res->code == 200 || $dt > 5;
    Time::HiRes::sleep(0.1);
}
is($res->code, 200, 'read-only GET answers 200 again without an httpd restart')
    or diag($res->as_string);
diag(sprintf 'service resumed %.2f s after memcached was back', $dt);
ok($dt <= 5, 'within 5 s');
my $new = sid_of($res);
ok($st && $st->{new} && $new && $new ne $id,
   'the old session is gone with the killed memcached: a new session, fresh ID');

# the lock works again: a full writeable GET + PUT + read-only GET cycle,
# within 5 s of the restart (a pooled connection that failed during the
# outage stays disabled for RETRY-TIMEOUT, 1 s: early tries may get 503)
{
    my ($cycle, $why, $tries) = (0, '', 0);
    while (!$cycle && Time::HiRes::time() - $t_up < 5) {
        $tries++;
        my $w = open_stream($new);
        my $sw = $w->state(5);
        if ($sw) {
            my $put = put_state($new, { %$sw, items => { x => '10' } });
            if ($put->code == 200 && ($w->finish(5) // '') eq 'end') {
                my ($r, $s) = ro_get($new);
                $cycle = $s && (item_of($s, 'x') // '') eq '10';
                $why = 'read-only GET: ' . $r->status_line unless $cycle;
            }
            else {
                $why = 'PUT: ' . $put->status_line;
            }
        }
        else {
            $why = 'writeable GET: ' . $w->describe;
        }
        $w->close;
        Time::HiRes::sleep(0.1) unless $cycle;
    }
    ok($cycle, sprintf('writeable GET + PUT (x=10) + read-only GET work again '
                       . 'within 5 s of the restart (%d tries)', $tries))
        or diag("last failure: $why");
}

# --- a quick restart: nothing asked memcached while it was down -----------------
# Every pooled connection httpd holds still points at the old memcached.
# Each must find the new one by itself: once service is back, no request
# may fail because it drew a connection that was idle during the restart.
{
    # Each child (prefork) or process (event) that failed during the first
    # outage refuses for RETRY-TIMEOUT (1 s), which libmemcached counts in
    # whole seconds (up to 2 s): start from a server that has surely
    # recovered, not from one still in those windows.
    my $settle = $t_up + 3 - Time::HiRes::time();
    Time::HiRes::sleep($settle) if $settle > 0;
    my $sid = new_session(items => { x => '1' });
    # put many pooled connections in use at once; each closed once
    # answered (see above)
    my @warm = map { open_stream($sid, readonly => 'true') } 1 .. 24;
    my $warm = grep { my $st = $_->state(5); $_->close; $st } @warm;
    is($warm, 24, '24 concurrent read-only GETs (pooled connections in use)');
    RS::Memcached::kill9();
    my $mc2 = eval { RS::Memcached::restart() };
    ok($mc2 && defined RS::Memcached::version($mc_port, 1),
       'memcached killed and at once restarted on the same port') or diag($@);
    my $t_back = Time::HiRes::time();
    my ($r, $dt2);
    do {
        Time::HiRes::sleep(0.1);
        ($r) = ro_get(undef);
        $dt2 = Time::HiRes::time() - $t_back;
    } until $r->code == 200 || $dt2 > 5;
    ok($r->code == 200, sprintf('service back %.2f s after the restart', $dt2));
    # well past RETRY-TIMEOUT (1 s) and "within a few seconds"
    Time::HiRes::sleep(2);
    my (%codes, @failed);
    for my $round (1 .. 10) {
        my @s = ((map { open_stream(undef, readonly => 'true') } 1 .. 4),
                 open_stream(undef), open_stream($sid));
        for my $s (@s) {
            my $c = $s->head(5) // 'none';
            $codes{$c}++;
            push @failed, $c unless $c eq '200';
        }
        $_->close for @s;
    }
    is(scalar @failed, 0,
       '3 s after the restart: 60 requests (new sessions read-only and '
       . 'writeable, and an existing one), none fails')
        or diag('answers: ' . join ', ', map { "$_ x$codes{$_}" } sort keys %codes);
}

# --- a memcached that accepts connections but never answers (hung host) ----
# A listening socket nobody accepts on: the kernel completes the TCP
# handshake, then nothing. A second httpd uses it as its store.
{
    my $hole = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                     Proto => 'tcp', Listen => 128,
                                     ReuseAddr => 1)
        or die "listen: $!";
    my $h2 = eval { start_httpd(cgi => 1, memcached_port => $hole->sockport) };
    ok($h2, 'a second httpd whose memcached never answers') or diag($@);
    my $port = $h2 ? $h2->{port} : undef;
    my $hid = random_id();
    my @hung = (
        [ 'read-only GET' =>
              endpoint_request('GET', session => $hid, readonly => 'true',
                               port => $port) ],
        [ 'PUT' =>
              endpoint_request('PUT', session => $hid, port => $port,
                               body => encode_state(id => $hid, timeout => 20)) ],
        [ 'read-only GET, no cookie' =>
              endpoint_request('GET', readonly => 'true', port => $port) ],
    );
    for my $c (@hung) {
        my ($what, $req) = @$c;
        my ($res, $t) = $port ? timed_request($req) : (undef, 99);
        ok($res && $res->code == 503 && defined $res->header('Retry-After'),
           "memcached hung: $what: 503 with Retry-After")
            or diag($res ? $res->status_line : 'no server');
        ok($t < 2, sprintf('... answered in %.2f s (< 2 s)', $t));
    }
    my $s = $port ? open_stream($hid, port => $port) : undef;
    my $code = $s ? $s->head(10) : undef;
    my $t = defined $code ? $s->t_head - $s->t_sent : 99;
    ok(defined $code && $code == 503 && $t < 2,
       sprintf('memcached hung: writeable GET: %s in %.2f s (< 2 s)',
               $code // 'no answer', $t));
    $s->close if $s;
    stop_httpd($h2) if $h2;
}
