# Leases: a lock whose holder stopped renewing it is taken over once the
# waiter has seen it unchanged for the holder's whole lease (2 s, from the
# record), on the waiter's own clock; a lock its holder keeps
# renewing is not, however long it is held (the waiter gets 503 after
# RemoteSessionLockTimeout, 3 s); a live writeable GET renews its own lease.
# And a record not of the module's format is never replaced: 500, logged
# with the session ID, left in place.
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use POSIX ();
use Time::HiRes ();
use RS::Test qw(:all);

# Apache::Test reads its configuration on first use, which takes seconds:
# do it now, not between planting a record and the request that meets it
endpoint_url();

# a holder and a writer waiting for it (or its PUT) at once
need_workers(2);

plan tests => 74;


sub plant {
    my ($id, %r) = @_;
    return mc_set(store_key($id),
                  pack_record(kind => KIND_ENDPOINT, timeout => 20,
                              state => { id => $id, timeout => 20,
                                         items => { x => '1' } },
                              %r), 600);
}

sub elapsed { my $t = shift; return sprintf '%.2f s', $t }

# --- 1. stale lease: taken over after one lease of watching -------------------
{
    my $id = random_id();
    my $foreign = random_owner();
    my $log0 = error_log_since();
    ok(plant($id, lock => LOCK_HELD, owner => $foreign,
             renewed => now_usec() - 10_000_000),
       'planted a record held by a foreign owner, renewed 10 s ago');
    my $w = open_stream($id);
    my $st = $w->state(LOCK_TIMEOUT + 5);
    my $dt = $w->t_first_body ? $w->t_first_body - $w->t_sent : undef;
    ok($st, 'writeable GET on the stale lock gets the state') or diag($w->describe);
    # By the server's own account: RS00025 says how long it saw the lock
    # unchanged (a whole holder's lease, 2 s, and less than the lock
    # timeout) and names that lease; the planted renewal time 10 s back is
    # not what decides (another server's clock may be that far off).
    my ($took, $lease) = map { /took over a lock unchanged for (\d+) ms \(its holder's lease: (\d+) s\)/ ? ($1, $2) : () }
                         logged($log0, $id, 'RS00025');
    ok(defined $took && $took >= 2000 && $took < LOCK_TIMEOUT * 1000
       && $lease == 2,
       'taken over after one lease: RS00025 says unchanged for '
       . ($took // '?') . ' ms, its holder\'s lease ' . ($lease // '?')
       . ' s; ' . (defined $dt ? elapsed($dt) : 'never'));
    ok($st && $st->{id} eq $id && !$st->{new} && item_of($st, 'x') eq '1',
       'the planted session\'s state (same ID, not new, x=1)')
        or diag(explain($st));
    is($w->header('Set-Cookie'), undef, 'no new session cookie');
    my $rec = read_record($id);
    ok($rec && $rec->{lock} == LOCK_HELD && $rec->{owner} ne $foreign
           && $rec->{owner} ne "\0" x 16,
       'record: held by a new owner');
    ok($rec && abs($rec->{renewed} - now_usec()) < LOCK_LEASE * 1_000_000,
       'record: renewed is now (within a lease)');
    like(error_log_since($log0), qr/\Q$id\E.*took over|took over.*\Q$id\E/,
         'the takeover is logged with the session ID');
    my $put = put_state($id, { %{ $st || {} }, items => { x => '5' } });
    is($put->code, 200, 'PUT into the taken-over lock: 200') or diag($put->as_string);
    is($w->finish(5), 'end', 'the held GET completes');
    my ($res, $ro) = ro_get($id);
    is($ro && item_of($ro, 'x'), '5', 'read-only GET shows the commit (x=5)');
    mc_delete(store_key($id));
}

# --- 1b. a holder with a longer lease than ours, renewed "long ago" by our
# clock: the record's lease and our own watching decide, so a server with a
# shorter RemoteSessionLockLease or a clock ahead cannot steal it (issue 11)
{
    my $id = random_id();
    my $foreign = random_owner();
    my $log0 = error_log_since();
    plant($id, lock => LOCK_HELD, owner => $foreign, lease => 30,
          renewed => now_usec() - 600_000_000);
    my $w = open_stream($id);
    my $code = $w->head(LOCK_TIMEOUT + 5);
    is($code, 503, 'a holder whose lease is 30 s, renewed 10 min ago by our '
       . 'clock: the writer gets 503 after the lock timeout (3 s), no takeover');
    ok(!logged($log0, $id, 'RS00025')
       && (read_record($id) || {})->{owner} eq $foreign,
       '... no RS00025, the holder keeps its lock');
    $w->close;
}

# --- 2. a lock renewed just now is not taken over before the lease runs out -
{
    my $id = random_id();
    my $t_plant = Time::HiRes::time();
    ok(plant($id, lock => LOCK_HELD, owner => random_owner(),
             renewed => now_usec()),
       'planted a record held by a foreign owner, renewed now, never again');
    my $w = open_stream($id);
    my $code = $w->head(LOCK_LEASE + LOCK_TIMEOUT + 5);
    my $dt = defined $code ? $w->t_head - $t_plant : undef;
    diag('a foreign lock left unrenewed was taken over after '
         . elapsed($dt)) if defined $dt;
    ok(defined $dt && $dt >= LOCK_LEASE - 0.3,
       'not taken over before the lease (2 s) ran out');
    is($code, 200, 'taken over once the lease ran out, within the lock timeout')
        or diag($w->describe);
    $w->close;
    mc_delete(store_key($id));
}

# --- 3. a foreign holder that keeps renewing: the writer gets 503 ------------
{
    my $id = random_id();
    my $foreign = random_owner();
    ok(plant($id, lock => LOCK_HELD, owner => $foreign, renewed => now_usec()),
       'planted a record held by a foreign owner, renewed now');
    # the foreign holder (another server's writer) renews every 300 ms
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        my $end = Time::HiRes::time() + 30;
        while (Time::HiRes::time() < $end) {
            Time::HiRes::sleep(0.3);
            eval { plant($id, lock => LOCK_HELD, owner => $foreign,
                         renewed => now_usec()) };
        }
        POSIX::_exit(0);
    }
    my $w = open_stream($id);
    my $code = $w->head(LOCK_TIMEOUT + 10);
    my $dt = defined $code ? $w->t_head - $w->t_sent : undef;
    kill TERM => $pid;
    waitpid $pid, 0;
    is($code, 503, 'writer against a renewed foreign lock: 503')
        or diag($w->describe);
    ok(defined $w->header('Retry-After'), '... with Retry-After');
    ok(defined $dt && $dt >= LOCK_TIMEOUT - 0.5 && $dt < LOCK_TIMEOUT + 3,
       '... after about RemoteSessionLockTimeout ('
       . (defined $dt ? elapsed($dt) : 'no answer') . ')');
    my $rec = read_record($id);
    ok($rec && $rec->{lock} == LOCK_HELD && $rec->{owner} eq $foreign,
       'record: still the foreign owner\'s');
    $w->close;
    mc_delete(store_key($id));
}

# --- 4. the holder renews its own lease -------------------------------------------
{
    my $id = new_session(items => { x => '1' });
    my $a = open_stream($id);
    my $sa = $a->state(10);
    ok($sa, 'writer A holds the lock') or diag($a->describe);
    my $rec0 = read_record($id);
    my $owner = $rec0 && $rec0->{owner};
    my $t_held = Time::HiRes::time();
    Time::HiRes::sleep(0.5);
    my $b = open_stream($id);
    my $code = $b->head(LOCK_TIMEOUT + 10);
    my $dt = defined $code ? $b->t_head - $b->t_sent : undef;
    is($code, 503, 'writer B, while A holds beyond the lease: 503 (no takeover)')
        or diag($b->describe);
    ok(defined $dt && $dt >= LOCK_TIMEOUT - 0.5,
       'B waited the lock timeout (' . (defined $dt ? elapsed($dt) : '-')
       . '), longer than the lease');
    $b->close;
    # keep A until about 5 s after it took the lock
    my $left = $t_held + 5 - Time::HiRes::time();
    $a->finish($left) if $left > 0;    # returns early only if A's GET ended
    ok(!$a->is_done && !$a->is_eof,
       sprintf('A\'s GET still open after %.1f s', Time::HiRes::time() - $t_held));
    my $rec = read_record($id);
    ok($rec && $rec->{lock} == LOCK_HELD && $rec->{owner} eq $owner,
       'record: still A\'s lock');
    ok($rec && $rec->{renewed} > $rec0->{renewed},
       'record: renewed has moved on since A took the lock');
    ok($rec && now_usec() - $rec->{renewed} < LOCK_LEASE * 1_000_000,
       sprintf('record: renewed %.2f s ago (< lease)',
               $rec ? (now_usec() - $rec->{renewed}) / 1e6 : -1));
    my $body = $a->body;
    my $beats = $body =~ tr/\n//;
    ok($beats > 50, "A received heartbeats ($beats newlines in ~5 s)");
    my $put = put_state($id, { %{ $sa || {} }, items => { x => '6' } });
    is($put->code, 200, 'A\'s PUT after ~5 s: 200') or diag($put->as_string);
    is($a->finish(5), 'end', 'A\'s GET completes');
    my ($res, $ro) = ro_get($id);
    is($ro && item_of($ro, 'x'), '6', 'read-only GET shows x=6');
}

# --- 4b. a POST renews its lease while it waits for its body ----------------
{
    my $id = new_session(items => { x => '1' });
    my $p = open_stream($id, method => 'POST', stream_body => 1);
    my $sp = $p->state(10);
    ok($sp, 'a POST holds the lock, its body not sent yet') or diag($p->describe);
    my $owner = (read_record($id) || {})->{owner} // '';
    Time::HiRes::sleep(0.5);
    my $b = open_stream($id);
    my $code = $b->head(LOCK_TIMEOUT + 10);
    is($code, 503, 'a writeable GET meanwhile: 503 after the lock timeout '
                   . '(the POST\'s lease was renewed, not taken over)')
        or diag($b->describe);
    $b->close;
    my $rec = read_record($id);
    ok($rec && $rec->{lock} == LOCK_HELD && $rec->{owner} eq $owner
           && now_usec() - $rec->{renewed} < LOCK_LEASE * 1_000_000,
       'record: still the POST\'s lock, renewed within the lease');
    $p->send_body(encode_state(id => $id, timeout => 20, items => { x => '2' }));
    $p->send_body('');
    is($p->finish(5) && $p->rest, '{"s":true}',
       'the POST, body sent after ~4 s, commits: {"s":true}')
        or diag($p->describe);
    my ($res, $ro) = ro_get($id);
    is($ro && item_of($ro, 'x'), '2', 'read-only GET shows x=2');
}

# --- 6. the other lock states, planted as another server would leave them ---
{
    # committed by a PUT, its GET not yet gone: a second PUT is refused, a
    # writer may take it at once
    my $id = random_id();
    plant($id, lock => LOCK_COMMITTED, owner => random_owner(),
          renewed => now_usec());
    my $bytes = mc_get(store_key($id));
    my $put = put_state($id, { id => $id, timeout => 20, items => { x => '8' } });
    is($put->code . ' ' . $put->message, '400 Session has already been updated',
       'PUT into a committed lock: 400 Session has already been updated');
    is(scalar mc_get(store_key($id)), $bytes, '... and the record is unchanged');
    # a committed lock is never stale (only a held one is): a writer that
    # did not take it at once would wait and get 503 (RS00026)
    my $log0 = error_log_since();
    my $w = open_stream($id);
    my $st = $w->state(LOCK_TIMEOUT + 5);
    my $dt = $w->t_first_body ? $w->t_first_body - $w->t_sent : undef;
    my @waits = logged($log0, $id, qw(RS00025 RS00026));
    ok($st && (item_of($st, 'x') // '') eq '1' && !@waits,
       'a writer takes a committed lock at once (no lock timeout or '
       . 'takeover logged; ' . (defined $dt ? elapsed($dt) : 'never')
       . ') and sees its state')
        or diag(join "\n", $w->describe, @waits);
    $put = put_state($id, { %{ $st || {} }, items => { x => '9' } });
    is($put->code, 200, '... and commits') or diag($put->as_string);
    is($w->finish(5), 'end', '... its GET completes');
    mc_delete(store_key($id));

    # held by an exclusive holder (POST, SessionRequire On): no PUT may
    # commit into it
    $id = random_id();
    plant($id, lock => LOCK_HELD, kind => KIND_EXCLUSIVE,
          owner => random_owner(), renewed => now_usec());
    $bytes = mc_get(store_key($id));
    $put = put_state($id, { id => $id, timeout => 20, items => { x => '8' } });
    is($put->code . ' ' . $put->message, '400 Could not find session',
       'PUT into an exclusive (POST/SessionRequire) lock: 400 Could not find session');
    is(scalar mc_get(store_key($id)), $bytes, '... and the record is unchanged');
    mc_delete(store_key($id));

    # a tombstone (abandoned): a new session under a fresh ID
    $id = random_id();
    plant($id, lock => LOCK_GONE, kind => KIND_NONE, owner => "\0" x 16,
          state => { id => $id, timeout => 0 });
    $bytes = mc_get(store_key($id));
    my ($res, $ro) = ro_get($id);
    my $new = sid_of($res);
    ok($res->code == 200 && $new && $new ne $id && $ro && $ro->{new}
           && $ro->{id} eq $new,
       'read-only GET of an abandoned session: a new session, fresh ID')
        or diag($res->as_string);
    $w = open_stream($id);
    $st = $w->state(5);
    my $new2 = $w->header('Set-Cookie') // '';
    ok($st && $st->{new} && $st->{id} ne $id && $new2 =~ /\Q$st->{id}\E/,
       'writeable GET of an abandoned session: a new session, fresh ID, cookie')
        or diag($w->describe);
    $w->close;
    $put = put_state($id, { id => $id, timeout => 20, items => { x => '8' } });
    is($put->code . ' ' . $put->message, '400 Could not find session',
       'PUT for an abandoned session: 400 Could not find session');
    is(scalar mc_get(store_key($id)), $bytes, '... the tombstone is unchanged');
    mc_delete(store_key($id));
}

# --- 7. a holder that lost its lock cannot commit -------------------------------
{
    my $id = new_session(items => { x => '1' });
    my $a = open_stream($id);
    my $sa = $a->state(10);
    ok($sa, 'writer A holds the lock') or diag($a->describe);
    # another server's exclusive request takes the session over (as after a
    # lease that ran out)
    my $foreign = random_owner();
    plant($id, lock => LOCK_HELD, kind => KIND_EXCLUSIVE, owner => $foreign,
          renewed => now_usec(),
          state => { id => $id, timeout => 20, items => { x => '100' } });
    my $bytes = mc_get(store_key($id));
    my $log0 = error_log_since();
    my $t0 = Time::HiRes::time();
    # noticed by its next poll; unnoticed, it would stay open until the
    # session timeout (20 min). A's lease was fresh, so to A this looks like
    # the normal hand-off of a committed lock (RS00063, debug): a real
    # takeover of a fresh lock (clock skew) is logged by its taker (RS00025)
    my $end = $a->finish(LOCK_LEASE + LOCK_TIMEOUT);
    my @lost = logged($log0, $id, 'RS00063');
    ok($end && @lost == 1 && !logged($log0, $id, 'RS00061'),
       sprintf('A\'s GET ends when its lock is no longer its own (RS00063 '
               . 'logged; %.2f s)', Time::HiRes::time() - $t0))
        or diag(join "\n", $a->describe, @lost);
    my $put = put_state($id, { %{ $sa || {} }, items => { x => '2' } });
    is($put->code . ' ' . $put->message, '400 Could not find session',
       'A\'s PUT after losing the lock: 400 Could not find session');
    is(scalar mc_get(store_key($id)), $bytes,
       'the new holder\'s record is untouched (no release, no commit by A)');
    mc_delete(store_key($id));
}

# --- 8. a SessionRequire On handler that outlives the lease -----------------
# Two designs keep the guarantee: either the handler's lease is renewed
# while it runs (the writer waits and gets 503, the handler commits), or it
# is not (DESIGN.md so far: the writer takes the lock over after the lease,
# and the handler's commit must then fail with 500, logged, storing
# nothing). Never may both commit, nor the late handler overwrite the
# new holder's work.
{
    my $id = new_session(items => { x => '1' });
    my $log0 = error_log_since();
    (my $upd = '{"set":{"x":"late"}}') =~ s/([^A-Za-z0-9])/sprintf '%%%02X', ord $1/ge;
    my $ms = int((LOCK_LEASE + 1.5) * 1000);
    my $slow = open_stream($id, path => "/lock-req/lock_slow.cgi?sleep=$ms&update=$upd");
    my (undef, $ready) = wait_record($id, sub {
        $_[0]{lock} == LOCK_HELD && $_[0]{kind} == KIND_EXCLUSIVE }, 5);
    ok(defined $ready, "a SessionRequire On request holds the lock for $ms ms")
        or diag($slow->describe);
    my $w = open_stream($id);
    my $wcode = $w->head(LOCK_TIMEOUT + 5) // 'none';
    my $st = $wcode eq '200' ? $w->state(5) : undef;
    my $wdt = $w->t_head ? $w->t_head - $w->t_sent : 99;
    my $scode = $slow->head(LOCK_LEASE + 5) // 'none';
    diag(sprintf 'writer: %s after %.2f s; slow handler: %s', $wcode, $wdt, $scode);
    my $taken = $wcode eq '200' && $scode eq '500';
    my $kept = $wcode eq '503' && $scode eq '200';
    ok($taken || $kept,
       'exactly one of them holds the lock to the end: writer took over and '
       . 'the handler got 500, or the handler kept it and the writer got 503')
        or diag("writer $wcode, handler $scode");
    if ($taken) {
        diag('the handler\'s lease was taken over (it is not renewed while it runs)');
        like(error_log_since($log0), qr/\Q$id\E/,
             'the error log names the session');
        my $rec = read_record($id);
        ok($rec && $rec->{lock} == LOCK_HELD && $rec->{kind} == KIND_ENDPOINT
               && $rec->{state} && item_of($rec->{state}, 'x') eq '1',
           'record: the writer\'s lock, x=1 (not "late")')
            or diag(explain($rec));
        my $put = put_state($id, { %{ $st || {} }, items => { x => '2' } });
        is($put->code, 200, 'the new holder\'s PUT (x=2): 200') or diag($put->as_string);
        $w->finish(5);
        my ($res, $ro) = ro_get($id);
        is($ro && item_of($ro, 'x'), '2',
           'read-only GET: x=2 (no lost update, no late overwrite)');
    }
    else {
        diag('the handler\'s lease was renewed while it ran');
        ok(defined $w->header('Retry-After'), 'the writer\'s 503 has Retry-After');
        ok($wdt >= LOCK_TIMEOUT - 0.5, sprintf 'the writer waited the lock '
           . 'timeout (%.2f s), longer than the lease', $wdt);
        my ($rec) = wait_record($id, sub { $_[0]{lock} == LOCK_FREE }, 3);
        ok($rec && $rec->{lock} == LOCK_FREE, 'record: free after the handler');
        my ($res, $ro) = ro_get($id);
        is($ro && item_of($ro, 'x'), '"late"', 'read-only GET: the handler\'s x="late"');
    }
    $w->close;
}

# --- 5. records not of the module's format: 500, logged, never replaced ----
my @bad = (
    [ 'plain garbage' => "this is not a session record \x00\xff" ],
    [ 'another record format version' =>
          sub { pack_record(magic => "RS\x03", lock => LOCK_FREE,
                            state => { id => $_[0], timeout => 20 }) } ],
    [ 'an unknown lock state' =>
          sub { pack_record(lock => 7, state => { id => $_[0] }) } ],
    [ 'a valid header over an undecodable state' =>
          sub { pack_record(lock => LOCK_FREE, kind => KIND_NONE,
                            state => "\x01\x05ab") } ],
);
for my $case (@bad) {
    my ($what, $make) = @$case;
    my $id = random_id();
    my $bytes = ref $make ? $make->($id) : $make;
    mc_set(store_key($id), $bytes, 600) or die "mc_set failed";
    my $log0 = error_log_since();

    my ($res) = ro_get($id);
    my $ro_code = $res->code;
    my $w = open_stream($id);
    my $w_code = $w->head(LOCK_TIMEOUT + 5);
    $w->close;
    my $put = put_state($id, { id => $id, timeout => 20, items => { x => '7' } });
    my $put_code = $put->code;

    my $valid_header = $what =~ /valid header/;
    is("$ro_code/" . ($w_code // 'none'), '500/500',
       "$what: read-only GET and writeable GET answer 500");
    if ($valid_header) {
        # its lock is free: no writeable GET holds it, the PUT may say so
        ok($put_code == 500 || $put_code == 400,
           "$what: PUT answers 500 (or 400 Could not find session), got $put_code");
    }
    else {
        is($put_code, 500, "$what: PUT answers 500")
            or diag('PUT: ' . $put->status_line);
    }
    my $log = error_log_since($log0);
    like($log, qr/\Q$id\E/, "$what: the error log names the session");
    is(scalar mc_get(store_key($id)), $bytes, "$what: the item is untouched");
    mc_delete(store_key($id));
}
