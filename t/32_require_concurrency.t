# SessionRequire On serializes writers: 20 parallel clients each incrementing
# one session's counter 10 times end at exactly 200, every request answered
# 200 (virtual host rq_lock60: RemoteSessionLockTimeout 60). ReadOnly never
# waits on a held lock, while On waits for it, gets the holder's commit when
# it comes in time, and 503 + Retry-After after RemoteSessionLockTimeout (3 s
# in the main server) when it does not.
#
# "Did not wait", "was freed" and "was not taken over" are judged by what can
# be seen, not by how long a request took: the lock record in memcached (the
# update filter frees or commits it before the response's first byte leaves,
# so it is FREE right after a 200), a response that comes while another
# request still holds the lock (a request waiting for that lock cannot get a
# 200 then), and the RS00025 line a takeover always logs. Times are only
# reported (diag).
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use IO::Handle ();
use POSIX ();
use Time::HiRes ();
use RS::Test qw(:all);
use RS::Require qw(:all);

use constant CLIENTS => 20;
use constant ROUNDS  => 10;

# the clients wait in workers, beside the RemoteSessionWorkerReserve (2)
# and a request of this process
need_workers(CLIENTS + 3);
plan tests => 39;

# --- 20 clients x 10 increments -------------------------------------------------
my %v = (vhost => 'rq_lock60');
my $r = rq_get('/req/req_counter.cgi', %v);
my $sid = sid_of($r);
like($sid // '', ID_RE, 'counter: a session') or diag($r->as_string);
is($r->content, "1\n", 'counter: the first increment answers 1');
# back to zero so that the clients make exactly 200 increments
rq_get('/req/env.cgi' . upd('{"set":{"count":0}}'), sid => $sid, %v);
is((env_of(rq_get('/req/env.cgi', sid => $sid, %v)) || {})->{REMOTE_SESSION},
   '{"count":0}', 'counter: reset to 0');

pipe(my $rd, my $wr) or die "pipe: $!";
my @pids;
my $t0 = Time::HiRes::time();
for my $c (1 .. CLIENTS) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        close $rd;
        $wr->autoflush(1);
        for my $i (1 .. ROUNDS) {
            my $res = eval { rq_get('/req/req_counter.cgi', sid => $sid, %v) };
            my $code = $res ? $res->code : 0;
            my $body = $res ? $res->content : '';
            $body =~ s/\s+//g;
            printf $wr "%d %d %s %.3f\n", $c, $code, $body || '-',
                $res ? timed($res) : -1;
        }
        close $wr;
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
close $wr;
my @lines = <$rd>;
close $rd;
waitpid($_, 0) for @pids;
my $took = Time::HiRes::time() - $t0;
diag(sprintf '%d requests in %.1f s', scalar @lines, $took);

my (%codes, %seen, $max_t);
for (@lines) {
    my ($c, $code, $n, $t) = split;
    $codes{$code}++;
    $seen{$n}++ if $code == 200;
    $max_t = $t if !defined $max_t || $t > $max_t;
}
is(scalar @lines, CLIENTS * ROUNDS, 'counter: 200 requests made');
is_deeply(\%codes, { 200 => CLIENTS * ROUNDS }, 'counter: every response was 200')
    or diag(explain \%codes);
is_deeply([sort { $a <=> $b } keys %seen], [1 .. CLIENTS * ROUNDS],
          'counter: each request saw a different count, 1 to 200 (no two '
          . 'held the session at once)')
    or diag(join ' ', grep { $seen{$_} > 1 } sort { $a <=> $b } keys %seen);
$r = rq_get('/req/env.cgi', sid => $sid, %v);
is((env_of($r) || {})->{REMOTE_SESSION}, '{"count":200}', 'counter: ends at exactly 200');
my $st = (ro_get($sid, port => vhost_port('rq_lock60')))[1];
is($st && $st->{item}{count}, '200', 'counter: the endpoint sees 200');

# --- ReadOnly does not wait, On does --------------------------------------------------
$r = rq_get('/req/env.cgi' . upd('{"set":{"held":"before"}}'));
$sid = sid_of($r);
my $hold = hold_get($sid, timeout => 10);
is($hold->{code}, 200, 'the endpoint\'s writeable GET holds the lock');
is_deeply(items_of($hold->{state} || {}), { held => '"before"' },
          'the writeable GET sent the state');
my $held = read_record($sid);
ok(held_like($held, { lock => LOCK_HELD, kind => KIND_ENDPOINT }),
   'record: held by the writeable GET') or diag(rec_text($held));

my $mark = log_mark();
$r = rq_get('/ro/env.cgi', sid => $sid);
my $rec = read_record($sid);
diag(sprintf 'ReadOnly while the lock is held: answered in %.3f s', timed($r));
ok($r->code == 200 && held_like($rec, $held) && !takeovers($mark, $sid),
   'ReadOnly while the lock is held: answered while the writeable GET still '
   . 'held the lock, same owner, no takeover (it did not wait)')
    or diag($r->code . '; record after it: ' . rec_text($rec)
            . join("\n", '', takeovers($mark, $sid)));
is($r->code, 200, 'ReadOnly while the lock is held: 200');
is((env_of($r) || {})->{REMOTE_SESSION}, '{"held":"before"}',
   'ReadOnly while the lock is held: the committed state');

$r = rq_get('/req/env.cgi', sid => $sid);
is($r->code, 503, 'On while the lock is held: 503 after RemoteSessionLockTimeout')
    or diag($r->as_string);
ok(defined $r->header('Retry-After'), 'On while the lock is held: Retry-After')
    or diag($r->as_string);
ok(timed($r) >= LOCK_TIMEOUT - 0.5 && timed($r) < LOCK_TIMEOUT + 2,
   'On while the lock is held: it waited about RemoteSessionLockTimeout (3 s)')
    or diag(timed($r));
ok(!defined cookie_line($r), 'On while the lock is held: no new session cookie')
    or diag($r->as_string);

# The endpoint gives the lock back when its client goes away. Left to the
# lease instead, the On request would take it over (RS00025) after 2 s.
$mark = log_mark();
$hold->close;
$r = rq_get('/req/env.cgi', sid => $sid);
$rec = read_record($sid);
diag(sprintf 'after the holder went away: On answered in %.3f s', timed($r));
is($r->code, 200, 'after the holder went away: On answers 200');
ok(!takeovers($mark, $sid) && held_like($rec, { lock => LOCK_FREE }),
   'after the holder went away: the lock was given back, not taken over '
   . '(no RS00025), and is free after the On response')
    or diag(rec_text($rec) . join("\n", '', takeovers($mark, $sid)));

# --- On waits for a holder that commits in time, and sees its commit -----------------
# The child says when it sends its request; the PUT goes out while the lock
# is still the holder's, and the child's answer must come after it (one
# clock: both read Time::HiRes::time on this host) with the PUT's state.
$hold = hold_get($sid, timeout => 10);
is($hold->{code}, 200, 'held again');
$held = read_record($sid);
pipe($rd, $wr) or die "pipe: $!";
my $pid = fork;
die "fork: $!" unless defined $pid;
if (!$pid) {
    close $rd;
    $wr->autoflush(1);
    printf $wr "sent %.6f\n", Time::HiRes::time();
    my $res = rq_get('/req/env.cgi', sid => $sid);
    my $back = Time::HiRes::time();
    my $env = env_of($res) || {};
    printf $wr "%d %.6f %.3f %s\n", $res->code, $back, timed($res),
        $env->{REMOTE_SESSION} // '-';
    close $wr;
    POSIX::_exit(0);
}
close $wr;
my ($t_sent) = (<$rd> // '') =~ /^sent (\S+)/;
Time::HiRes::sleep(0.5);    # its request is in, waiting for the lock
my $before_put = read_record($sid);
my $t_put = Time::HiRes::time();
my $state = { id => $sid, timeout => 20, items => [[held => '"after the PUT"']] };
my $put = put_state($sid, encode_state($state));
is($put->code, 200, 'the holder commits with a PUT while the On request waits')
    or diag($put->as_string);
my $line = <$rd> // '';
waitpid($pid, 0);
$hold->close;
chomp $line;
my ($code, $t_back, $t, $seen) = split / /, $line, 4;
diag(sprintf 'the waiting On request: sent %.3f s before the PUT, answered '
             . '%.3f s after it (%s s in all)', $t_put - ($t_sent // 0),
             ($t_back // 0) - $t_put, $t // '?');
is($code, 200, 'the waiting On request: 200 once the holder committed (not '
               . 'the 503 of the lock timeout)') or diag($line);
ok(defined $t_sent && $t_sent < $t_put && held_like($before_put, $held)
       && defined $t_back && $t_back > $t_put,
   'the waiting On request was sent before the PUT, the lock was still the '
   . 'holder\'s when the PUT went out, and the answer came after it')
    or diag("sent $t_sent, PUT $t_put, record before the PUT: "
            . rec_text($before_put) . "; child: $line");
is($seen, '{"held":"after the PUT"}', 'the waiting On request sees the committed state');

# --- the lock is released on the other paths ------------------------------------------
# A client that goes away while its CGI (1 s) runs: the lock is freed when
# the CGI ends. Were it left held, nothing would free it but a takeover after
# the lease (RS00025); the 10 s wait is only there so that such a hang fails.
$sid = rq_new_session();
$mark = log_mark();
my $s = RS::Client->new;
$s->send_request('GET', '/req/req_gen.cgi?sleep=1000', cookie => $sid);
my ($taken, $take_wait) = wait_record($sid, \&exclusive, 5);
ok(defined $take_wait, 'aborted connection: its request took the lock')
    or diag(rec_text($taken));
$s->close;
my ($freed, $waited) = wait_record($sid, sub { $_[0]{lock} == LOCK_FREE }, 10);
diag(sprintf 'aborted connection: the lock was free %.3f s after the close',
             $waited // -1);
ok(defined $waited && !takeovers($mark, $sid),
   'after an aborted connection: the lock was freed when its CGI ended (no takeover)')
    or diag(rec_text($freed) . join("\n", '', takeovers($mark, $sid)));
$r = rq_get('/req/env.cgi', sid => $sid);
is($r->code, 200, 'after an aborted connection: the next On request gets the session');

# a CGI that produces no output at all (httpd answers 500)
$mark = log_mark();
$r = rq_get('/req/req_gen.cgi?silent=1', sid => $sid);
$rec = read_record($sid);
is($r->code, 500, 'a CGI without any output: 500');
ok(held_like($rec, { lock => LOCK_FREE }),
   'a CGI without any output: the lock is free right after the 500')
    or diag(rec_text($rec));
$r = rq_get('/req/env.cgi', sid => $sid);
diag(sprintf 'a CGI without any output: the next On request answered in %.3f s',
             timed($r));
ok($r->code == 200 && !takeovers($mark, $sid),
   'a CGI without any output: the next On request gets the session, no takeover')
    or diag($r->code . join("\n", '', takeovers($mark, $sid)));

# --- a live holder keeps its lock longer than RemoteSessionLockLease -------------------
# INTERFACE.md: "a live lock holder renews its lock at least this often; a lock
# not renewed for this long (its holder crashed or hung) may be taken over".
# A CGI that takes 2.6 s (lease 2 s) is alive: a second On request sent as
# soon as the slow one holds the lock waits for it instead of taking the
# lock over. In rq_lock60 (lock timeout 60 s, lease 2 s as in the main
# server), so that its wait never races the lock timeout.
%v = (vhost => 'rq_lock60');
$sid = rq_new_session(%v);
$mark = log_mark();
pipe($rd, $wr) or die "pipe: $!";
$pid = fork;
die "fork: $!" unless defined $pid;
if (!$pid) {
    close $rd;
    $wr->autoflush(1);
    printf $wr "sent %.6f\n", Time::HiRes::time();
    my $res = rq_get('/req/req_counter.cgi?sleep=2600', sid => $sid, %v);
    (my $body = $res->content) =~ s/\s+//g;
    printf $wr "%d %s %.3f\n", $res->code, $body || '-', timed($res);
    close $wr;
    POSIX::_exit(0);
}
close $wr;
($taken, $take_wait) = wait_record($sid, \&exclusive, 5);
ok(defined $take_wait, 'the slow request took the lock') or diag(rec_text($taken));
my $t_behind = Time::HiRes::time();
$r = rq_get('/req/req_counter.cgi', sid => $sid, %v);
my @slow = <$rd>;
waitpid($pid, 0);
chomp @slow;
my ($slow_sent) = map { /^sent (\S+)/ ? $1 : () } @slow;
my ($slow) = grep { !/^sent / } @slow;
my ($slow_code, $slow_body, $slow_t) = split / /, $slow // '';
(my $behind_body = $r->content) =~ s/\s+//g;
diag(sprintf 'slow request: %s s; the one behind it: sent %.3f s after it, '
             . 'answered in %.3f s', $slow_t // '?',
             $t_behind - ($slow_sent // 0), timed($r));
# the lock was taken after $slow_sent; sent before $slow_sent + lease, the
# second request was waiting when an unrenewed lock would have gone stale
ok(defined $slow_sent && $t_behind < $slow_sent + LOCK_LEASE,
   'the request behind it was sent within a lease of the slow one (so it '
   . 'waited past the lease)')
    or diag("slow sent at $slow_sent, the other at $t_behind");
is($slow_code, 200, 'a handler slower than the lease: 200, its update committed (BUGS.txt 5)')
    or diag('slow request: ' . join(' | ', @slow));
is($slow_body, '1', 'a handler slower than the lease: it counted 1');
is($r->code, 200, 'the request behind it: 200');
is($behind_body, '2', 'the request behind it ran after the slow one committed '
                      . '(it counted 2; BUGS.txt 5)');
my @took_over = takeovers($mark, $sid);
ok(!@took_over, 'the live holder\'s lock was not taken over (no RS00025 for '
                . 'the session; BUGS.txt 5)') or diag(join "\n", @took_over);
is((env_of(rq_get('/req/env.cgi', sid => $sid, %v)) || {})->{REMOTE_SESSION},
   '{"count":2}', 'both increments counted (BUGS.txt 5)');

# --- helpers ------------------------------------------------------------------------

# RS00025 lines (a lock taken over after its lease) about session $sid
# logged since $mark.
sub takeovers {
    my ($mark, $sid) = @_;
    return grep { /\bRS00025\b/ && /session \Q$sid\E\b/ }
           split /\n/, error_log_since($mark);
}

# A lock record held by an On request (SessionRequire's exclusive lock).
sub exclusive { return $_[0]{lock} == LOCK_HELD && $_[0]{kind} == KIND_EXCLUSIVE }

# held_like($rec, $want): $rec has $want's lock, and kind and owner when
# $want has them.
sub held_like {
    my ($rec, $want) = @_;
    return 0 unless $rec && $want;
    for my $f (qw(lock kind owner)) {
        next unless defined $want->{$f};
        return 0 unless defined $rec->{$f} && $rec->{$f} eq $want->{$f};
    }
    return 1;
}

sub rec_text {
    my $rec = shift;
    return 'no record' unless $rec;
    return sprintf 'lock %d kind %d owner %s renewed %.3f', $rec->{lock},
        $rec->{kind}, unpack('H*', $rec->{owner}), $rec->{renewed} / 1e6;
}
