# A client that vanishes during a held writeable GET releases the lock at
# once (the heartbeat write fails): the next writer gets it from that
# release, not by a stale-lease takeover, with the last committed state,
# and the record says free. A PUT after the GET's client vanished finds no
# lock: 400 Could not find session.
#
# "Released, not taken over" is judged by what the server did, not by a
# clock: the holder logs RS00030 (client went away; lock released), no
# RS00025 (taken over after the lease) or RS00026 (lock timeout) is logged,
# and the record turns free (a lock whose holder stopped renewing it stays
# held until a writer takes it over; only a release makes it free). Waits
# are bounded by the lease and lock timeout settings. Times are reported.
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use Time::HiRes ();
use RS::Test qw(:all);

# a holder, a waiting writer and the holder's PUT at once (part 4: the
# writer whose client left is still in the server meanwhile)
need_workers(3);

plan tests => 49;


# How long the suite waits for something the server does at once: well
# past the point where a lease takeover (LOCK_LEASE) or a lock timeout
# (LOCK_TIMEOUT) would have happened instead.
use constant PATIENCE => LOCK_LEASE + LOCK_TIMEOUT + 2;

my $id = new_session(items => { x => '1' });
ok($id, "a session with x=1 committed: $id");
my $log0 = error_log_since();

# --- 1. the holder closes its connection; the next writer gets the lock ---------
my $a = open_stream($id);
my $sa = $a->state(10);
ok($sa && item_of($sa, 'x') eq '1', 'writer A holds the lock (x=1)')
    or diag($a->describe);
my $rec = read_record($id);
ok($rec && $rec->{lock} == LOCK_HELD, 'record: held');

my $b = open_stream($id);
ok($b->quiet(0.3), 'writer B waits while A holds') or diag($b->describe);

$a->close;
my $t_close = Time::HiRes::time();
my $sb = $b->state(PATIENCE);
my $dt = $b->t_first_body ? $b->t_first_body - $t_close : undef;
ok($sb, 'writer B gets the lock after A vanished') or diag($b->describe);
diag(sprintf 'from A\'s close to B\'s state: %.0f ms', $dt * 1000) if defined $dt;
my @released = logged($log0, $id, 'RS00030');
ok(@released == 1, 'A\'s handler logged once that its client went away and '
   . 'it released the lock (RS00030)') or diag(join "\n", @released);
is($sb && item_of($sb, 'x'), '1', 'B sees the last committed state (x=1)');
my @waits = logged($log0, $id, qw(RS00025 RS00026));
ok(!@waits && error_log_since($log0) !~ /\Q$id\E.*took over/,
   'no stale-lock takeover (or lock timeout) was logged for the session '
   . '(A released it)') or diag(join "\n", @waits);

# B holds the lock now and commits x=2 (the PUT of a vanished client is
# checked in part 2, with no other writer holding the session).
my $put = put_state($id, { %{ $sb || {} }, items => { x => '2' } });
is($put->code, 200, 'B\'s PUT (x=2): 200') or diag($put->as_string);
is($b->finish(5), 'end', 'B\'s GET completes');
$b->close;    # a finished response kept alive would hold a prefork child

# --- 2. the holder closes; the record becomes free -------------------------------
my $c = open_stream($id);
my $sc = $c->state(10);
ok($sc && item_of($sc, 'x') eq '2', 'writer C holds the lock (x=2)')
    or diag($c->describe);
my $held = read_record($id);
ok($held && $held->{lock} == LOCK_HELD && $held->{kind} == KIND_ENDPOINT,
   'record: held, kind endpoint');
my $log2 = error_log_since();
$c->close;
my ($free, $waited) = wait_record($id, sub { $_[0]{lock} == LOCK_FREE },
                                  PATIENCE);
diag(sprintf 'record free %.0f ms after C closed', $waited * 1000)
    if defined $waited;
ok(defined $waited && logged($log2, $id, 'RS00030') == 1,
   'record: lock state free after C\'s close, released by C\'s handler '
   . '(RS00030 logged)')
    or diag(explain($free));
ok($free && $free->{owner} eq "\0" x 16 && $free->{kind} == KIND_NONE,
   'record: owner zero, kind none');
is($free && $free->{state} && item_of($free->{state}, 'x'), '2',
   'record: the state is the last committed one (x=2)');
is($free && $free->{state_bytes}, $held && $held->{state_bytes},
   'record: state bytes unchanged by the release');

# the vanished client's PUT
$put = put_state($id, { %{ $sc || {} }, items => { x => '99' } });
is($put->code, 400, 'PUT after the GET\'s client vanished: 400')
    or diag($put->as_string);
is($put->message, 'Could not find session', '... reason Could not find session');
is($put->content, 'Could not find session', '... body Could not find session');
like($put->header('Content-Type') // '', qr{^text/plain}, '... text/plain');
my ($res, $st) = ro_get($id);
is($st && item_of($st, 'x'), '2', 'the state is still x=2');

# --- 3. the same with an abortive close (RST) -------------------------------------
my $d = open_stream($id);
ok($d->state(10), 'writer D holds the lock') or diag($d->describe);
my $log3 = error_log_since();
$d->close('reset');
($free, $waited) = wait_record($id, sub { $_[0]{lock} == LOCK_FREE },
                                PATIENCE);
ok(defined $waited && logged($log3, $id, 'RS00030') == 1,
   sprintf('reset connection: record free, released by D\'s handler '
           . '(RS00030 logged; %s)',
           defined $waited ? sprintf('%.0f ms', $waited * 1000) : 'not free'));

# --- 4. a writer that gives up while waiting does not keep the lock ---------
my $e = open_stream($id);
my $se = $e->state(10);
ok($se, 'writer E holds the lock') or diag($e->describe);
my $f = open_stream($id);
ok($f->quiet(0.3), 'writer F waits');
$f->close;      # F's client goes away while F still waits in the server
my $log4 = error_log_since();
$put = put_state($id, { %{ $se || {} }, items => { x => '3' } });
is($put->code, 200, 'E\'s PUT (x=3): 200');
is($e->finish(5), 'end', 'E\'s GET completes');
$e->close;
# F's handler may now take the lock for a client that is gone; it must
# notice at its first write and let go
($free, $waited) = wait_record($id, sub { $_[0]{lock} == LOCK_FREE },
                                PATIENCE);
ok(defined $waited,
   'the lock is free after E\'s commit (F, whose client left, let go)')
    or diag(explain($free));
# Had F kept the lock, G would get 503 after its lock timeout (RS00026) or
# take the lock over after the lease (RS00025).
my $g = open_stream($id);
my $sg = $g->state(PATIENCE);
my @g_waits = logged($log4, $id, qw(RS00025 RS00026));
ok($sg && (item_of($sg, 'x') // '') eq '3' && !@g_waits,
   'the next writer G gets the lock (no takeover or lock timeout logged) '
   . 'and sees x=3')
    or diag(join "\n", $g->describe, @g_waits);
$put = put_state($id, { %{ $sg || {} }, items => { x => '4' } });
is($put->code, 200, 'G\'s PUT: 200');
$g->finish(5);
$g->close;

# --- 5. the item's expiry follows the session timeout through lock changes --
{
    my $key = store_key($id);
    my $g = open_stream($id);
    my $sg = $g->state(10);
    ok($sg, 'writer H holds the lock') or diag($g->describe);
    my $put = put_state($id, { %{ $sg || {} }, timeout => 7 });
    is($put->code, 200, 'H\'s PUT sets Timeout 7 (minutes)');
    $g->finish(5);
    my $ttl = mc_ttl($key);
    ok(defined $ttl && $ttl > 400 && $ttl <= 420,
       'the item expires in 7 minutes (ttl ' . ($ttl // 'absent') . ')');
    my $rec = read_record($id);
    is($rec && $rec->{timeout}, 7, 'record header: timeout 7');

    # a read-only GET slides the expiry, but not when this server did so
    # less than a tenth of the timeout (at most a minute) ago: H's PUT just
    # did (the sliding-expiry block below waits that out)
    mc_command("touch $key 30");
    my ($res) = ro_get($id);
    $ttl = mc_ttl($key);
    ok(defined $ttl && $ttl <= 30,
       'a read-only GET right after the PUT: one get, the expiry left alone '
       . '(ttl ' . ($ttl // 'absent') . ')');

    # so does taking the lock, and the holder's renewals and release keep it
    mc_command("touch $key 30");
    my $k = open_stream($id);
    ok($k->state(10), 'writer K holds the lock');
    $ttl = mc_ttl($key);
    ok(defined $ttl && $ttl > 400,
       'taking the lock resets the expiry (ttl ' . ($ttl // 'absent') . ')');
    $k->close;
    my ($free) = wait_record($id, sub { $_[0]{lock} == LOCK_FREE }, 5);
    $ttl = mc_ttl($key);
    ok($free && defined $ttl && $ttl > 400,
       'after the release: free, expiry still the timeout (ttl '
       . ($ttl // 'absent') . ')');

    # an abandoned session is a tombstone for two leases, then gone
    my $l = open_stream($id);
    my $sl = $l->state(10);
    $put = put_state($id, { %{ $sl || {} }, abandoned => 1 });
    is($put->code, 200, 'PUT with IsAbandoned: 200');
    $l->finish(5);
    $rec = read_record($id);
    $ttl = mc_ttl($key);
    ok($rec && $rec->{lock} == LOCK_GONE && defined $ttl && $ttl > 0
           && $ttl <= 2 * LOCK_LEASE,
       'a tombstone that expires within two leases (ttl '
       . ($ttl // 'absent') . ')') or diag(explain($rec));
    my $t0 = Time::HiRes::time();
    Time::HiRes::sleep(0.2) while defined mc_get($key)
                                  && Time::HiRes::time() - $t0 < 2 * LOCK_LEASE + 3;
    ok(!defined mc_get($key), sprintf('the tombstone is gone after %.1f s',
                                      Time::HiRes::time() - $t0));
}

# --- sliding expiry: a read resets it once a tenth of the timeout passed ----
{
    my $id = new_session();
    my $key = store_key($id);
    my $g = open_stream($id);
    my $sg = $g->state(10);
    my $put = put_state($id, { %{ $sg || {} }, timeout => 1 });
    is($put->code, 200, 'a session with Timeout 1 (minute): a window of 6 s');
    $g->finish(5);
    Time::HiRes::sleep(6.5);
    mc_command("touch $key 30");
    my ($res, $st) = ro_get($id);
    my $ttl = mc_ttl($key);
    ok($st && defined $ttl && $ttl > 50,
       '6.5 s after the PUT a read-only GET resets the expiry to the '
       . 'timeout (ttl ' . ($ttl // 'absent') . ')');
    mc_command("touch $key 30");
    ro_get($id);
    $ttl = mc_ttl($key);
    ok(defined $ttl && $ttl <= 30,
       '... and the next read, right after, leaves it (ttl '
       . ($ttl // 'absent') . ')');
}

# --- a PUT into a lock taken after a hold ended without a commit (issue 11,
# item 4): the protocol gives a PUT nothing that names its GET, so the
# commit is taken, and logged as possibly the vanished GET's late PUT ---
{
    my $id = new_session(items => { x => '1' });
    my $a = hold_get($id);
    ok($a->{state}, 'writer A holds the lock');
    $a->close;
    my ($rec) = wait_record($id, sub { $_[0]{lock} == LOCK_FREE }, 5);
    is($rec && $rec->{flags}, 1, "A vanished: the record notes an uncommitted end");
    my $b = hold_get($id);
    my $log0 = error_log_since();
    my $put = put_state($id, { %{ $b->{state} }, items => { x => '2' } });
    is($put->code, 200, 'the next PUT commits');
    ok(logged($log0, $id, 'RS00065') == 1,
       '... warned once: it may be A\'s PUT, late (RS00065)');
    $b->finish(5);
    my $c = hold_get($id);
    my $log1 = error_log_since();
    put_state($id, { %{ $c->{state} }, items => { x => '3' } });
    $c->finish(5);
    ok(!logged($log1, $id, 'RS00065'), 'an ordinary cycle after it: no warning');
}
