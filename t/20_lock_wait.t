# Two writers on one session: the second writeable GET waits while the
# first holds the lock, gets it as soon as the first one's PUT commits, and
# sees what that PUT committed (no lost update). A writer that cannot get
# the lock within RemoteSessionLockTimeout (3 s in the suite) gets 503 with
# Retry-After, and the lock stays with its holder.
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use Time::HiRes ();
use RS::Test qw(:all);

# a holder, a waiting writer and the holder's PUT at once
need_workers(3);

plan tests => 66;


my $id = new_session();
ok($id, "a new session: $id");

# --- writer A takes the lock -------------------------------------------------
my $a = open_stream($id);
my $sa = $a->state(10);
ok($sa, 'writer A: writeable GET sends the state') or diag($a->describe);
is($a->code, 200, 'writer A: 200');
like($a->header('Content-Type') // '', qr{^text/event-stream},
     'writer A: text/event-stream');
is($sa && $sa->{id}, $id, 'writer A: state of the cookie\'s session');
ok($sa && !$sa->{readonly}, 'writer A: IsReadOnly 0');
is($sa && item_of($sa, 'x'), undef, 'writer A: no x yet');

my $rec_a = read_record($id);
ok($rec_a && $rec_a->{lock} == LOCK_HELD && $rec_a->{kind} == KIND_ENDPOINT,
   'record: held, kind endpoint GET')
    or diag(explain($rec_a));
my $owner_a = $rec_a && $rec_a->{owner};

# --- writer B waits -------------------------------------------------------------
my $mark = error_log_since();
my $b = open_stream($id);
ok($b->quiet(0.3), 'writer B: nothing arrives within 300 ms while A holds')
    or diag('B: ' . $b->describe);
my $rec = read_record($id);
ok($rec && $rec->{lock} == LOCK_HELD && $rec->{owner} eq $owner_a,
   'record: still held by A while B waits');

# --- A commits x=1 ----------------------------------------------------------------
my $put = put_state($id, { %{ $sa || {} }, items => [ [ x => '1' ] ] });
my $t_put = Time::HiRes::time();
is($put->code, 200, "A's PUT (x=1): 200") or diag($put->as_string);

is($a->finish(5), 'end', "A's held GET completes after its PUT")
    or diag('A: ' . $a->describe);
like($a->rest // '', qr/\A\n+\z/,
     "A's GET: the state, then only newlines (one after the state, heartbeats)")
    or diag('A: ' . $a->describe);
$a->close;    # a finished response kept alive would hold a prefork child

# --- B gets the lock, with A's commit ------------------------------------------
# B, waiting since before A's PUT, times out RemoteSessionLockTimeout after
# its request; the hand-off is judged by what the server did, not by a
# clock: B got the lock with A's commit, and no takeover (RS00025) or lock
# timeout (RS00026) was logged for the session.
my $sb = $b->state(LOCK_TIMEOUT + LOCK_LEASE);
ok($sb, 'writer B: gets the lock and the state after A\'s PUT')
    or diag('B: ' . $b->describe);
is($b->code, 200, 'writer B: 200');
is($sb && item_of($sb, 'x'), '1', 'writer B sees x=1 (no lost update)');
ok($sb && !$sb->{new}, 'writer B: IsNewSession 0');
my $handoff = $b->t_first_body ? $b->t_first_body - $t_put : undef;
diag(sprintf "hand-off from A's PUT response to B's first state byte: %.1f ms",
     $handoff * 1000) if defined $handoff;
# A's GET may see B holding the lock before it sees its own commit: that
# hand-off is no lost lock (RS00061), only RS00063 at debug level
my @waits = logged($mark, $id, qw(RS00025 RS00026 RS00061));
ok($sb && !@waits,
   'B got the lock from A\'s commit: no takeover, lock timeout or lost '
   . 'lock logged')
    or diag(join "\n", @waits);

$rec = read_record($id);
ok($rec && $rec->{lock} == LOCK_HELD && $rec->{owner} ne $owner_a,
   'record: held by B (another owner)');

$put = put_state($id, { %{ $sb || {} }, items => [ [ x => '2' ] ] });
is($put->code, 200, "B's PUT (x=2): 200") or diag($put->as_string);
is($b->finish(5), 'end', "B's held GET completes") or diag('B: ' . $b->describe);
$b->close;

my ($res, $st) = ro_get($id);
is($res->code, 200, 'read-only GET: 200');
is($st && item_of($st, 'x'), '2', 'read-only GET shows x=2');
is(join(',', sort keys %{ items_of($st || {}) }), 'x', 'and only x');

$rec = read_record($id);
# (B's PUT freed it; the owner of the GET it committed stays, kind 1, for
# a repeated PUT: src/record.h)
ok($rec && $rec->{lock} == LOCK_FREE && $rec->{kind} == 1
   && $rec->{owner} ne "\0" x 16,
   'record: free once both writers are done, freed by the PUT')
    or diag(explain($rec));

# --- a writer that waits too long: 503, lock stays with its holder -----------
my $a2 = open_stream($id);
my $sa2 = $a2->state(10);
ok($sa2 && (item_of($sa2, 'x') // '') eq '2',
   'writer A2 holds the lock (sees x=2)')
    or diag('A2: ' . $a2->describe);
my $owner_a2 = (read_record($id) || {})->{owner} // '';

my $c = open_stream($id);
my $t0 = $c->t_sent;
my $code = $c->head(LOCK_TIMEOUT + 10);
my $waited = defined $code ? $c->t_head - $t0 : undef;
is($code, 503, 'writer C: 503 when the lock is not obtained in time')
    or diag('C: ' . $c->describe);
ok(defined $c->header('Retry-After') && $c->header('Retry-After') =~ /^\d+$/,
   'writer C: Retry-After header (delta seconds)')
    or diag('Retry-After: ' . ($c->header('Retry-After') // 'none'));
diag(sprintf 'writer C answered after %.2f s', $waited) if defined $waited;
# The server gives up RemoteSessionLockTimeout after C's request reached
# it: not before (less 0.5 s of clock granularity), and not a whole lock
# timeout later (which would be a second wait, or C's request waiting for
# a worker).
ok(defined $waited && $waited >= LOCK_TIMEOUT - 0.5,
   'writer C waited about RemoteSessionLockTimeout before giving up');
ok(defined $waited && $waited < 2 * LOCK_TIMEOUT,
   'writer C gave up within twice RemoteSessionLockTimeout');
$c->close;

$rec = read_record($id);
ok($rec && $rec->{lock} == LOCK_HELD && $rec->{owner} eq $owner_a2,
   'record: the lock is still A2\'s after C gave up');
ok(!$a2->is_done && !$a2->is_eof, "A2's GET is still open");

$put = put_state($id, { %{ $sa2 || {} }, items => [ [ x => '3' ] ] });
is($put->code, 200, "A2's PUT (x=3) after C's 503: 200") or diag($put->as_string);
is($a2->finish(5), 'end', "A2's held GET completes") or diag($a2->describe);
$a2->close;
($res, $st) = ro_get($id);
is($st && item_of($st, 'x'), '3', 'read-only GET shows x=3');

# a PUT with no writeable GET holding the lock any more
$put = put_state($id, { %{ $sa2 || {} }, items => [ [ x => '4' ] ] });
is($put->code, 400, 'a second PUT after the lock was released: 400');
is($put->message, 'Could not find session', '... Could not find session');
($res, $st) = ro_get($id);
is($st && item_of($st, 'x'), '3', 'and the state is unchanged (x=3)');

# --- the holder abandons the session while a writer waits ------------------
my $a3 = open_stream($id);
my $sa3 = $a3->state(10);
ok($sa3, 'writer A3 holds the lock') or diag($a3->describe);
my $d = open_stream($id);
ok($d->quiet(0.3), 'writer D waits');
$put = put_state($id, { %{ $sa3 || {} }, abandoned => 1 });
is($put->code, 200, 'A3\'s PUT with IsAbandoned: 200') or diag($put->as_string);
is($a3->finish(5), 'end', 'A3\'s GET completes');
$a3->close;
my $sd = $d->state(LOCK_TIMEOUT + LOCK_LEASE);
ok($sd && $sd->{new} && $sd->{id} ne $id && !@{ $sd->{items} },
   'writer D gets a new, empty session under a fresh ID (not the abandoned one)')
    or diag('D: ' . $d->describe);
like($d->header('Set-Cookie') // '', qr/\Q${\ COOKIE_NAME}\E=\Q${\ ($sd ? $sd->{id} : '-')}\E/,
     'writer D: Set-Cookie with the new ID');
$rec = read_record($id);
ok(!$rec || ($rec->{lock} == LOCK_GONE && $rec->{state}
             && !@{ $rec->{state}{items} }),
   'record of the abandoned session: a tombstone (gone, no items) or nothing')
    or diag(explain($rec));
if ($sd) {
    $put = put_state($sd->{id}, { %$sd, items => { y => '1' } });
    is($put->code, 200, 'D\'s PUT into the new session: 200');
    is($d->finish(5), 'end', 'D\'s GET completes');
}
else {
    fail('D\'s PUT into the new session') for 1 .. 2;
}
$d->close;

# --- writers of the other kinds share the one lock ----------------------------
# POST (one connection) and SessionRequire On (t/bin/lock_slow.cgi, mapped
# by t/conf/locking.conf.in) take the same lock, exclusively.
sub uri_escape { my $s = shift; $s =~ s/([^A-Za-z0-9\-_.~])/sprintf '%%%02X', ord $1/ge; $s }
sub cgi_session {
    my $s = shift;
    my $out = eval { JSON::PP->new->decode($s->body) } || {};
    return eval { JSON::PP->new->decode($out->{REMOTE_SESSION} // '') } || {};
}
use JSON::PP ();
{
    my $id2 = new_session(items => { x => '1' });
    my $p = open_stream($id2, method => 'POST', stream_body => 1);
    my $sp = $p->state(10);
    ok($sp && (item_of($sp, 'x') // '') eq '1',
       'POST (HTTP/1.1, body streamed later) holds the lock')
        or diag('POST: ' . $p->describe);
    my $r = read_record($id2);
    ok($r && $r->{lock} == LOCK_HELD && $r->{kind} == KIND_EXCLUSIVE,
       'record: held, kind exclusive');
    my $w = open_stream($id2);
    ok($w->quiet(0.3), 'a writeable GET waits while the POST holds');
    my $put2 = put_state($id2, { %{ $sp || {} }, items => { x => '99' } });
    is($put2->code . ' ' . $put2->message, '400 Could not find session',
       'a PUT cannot commit the POST\'s lock: 400 Could not find session');
    $p->send_body(encode_state(id => $id2, timeout => 20, items => { x => '2' }));
    $p->send_body('');
    my $t_commit = Time::HiRes::time();
    is($p->finish(5), 'end', 'the POST ends after its body');
    is($p->rest, '{"s":true}', 'the POST committed: {"s":true}');
    $p->close;
    my $sw = $w->state(LOCK_TIMEOUT + LOCK_LEASE);
    ok($sw && (item_of($sw, 'x') // '') eq '2',
       'the waiting writeable GET gets x=2 from the POST')
        or diag($w->describe);
    diag(sprintf 'hand-off POST -> writeable GET: %.1f ms',
         ($w->t_first_body - $t_commit) * 1000) if $w->t_first_body;

    # SessionRequire On waits for the writeable GET, then sees its commit
    my $upd = uri_escape('{"set":{"y":1}}');
    my $q = open_stream($id2, path => "/lock-req/lock_slow.cgi?update=$upd");
    ok($q->quiet(0.3), 'a SessionRequire On request waits while the writeable GET holds')
        or diag($q->describe);
    # (without $sw the writeable GET holds no lock: the PUT fails a test)
    $put2 = put_state($id2, { %{ $sw || {} }, items => { x => '3' } });
    is($put2->code, 200, 'the writeable GET\'s PUT (x=3): 200');
    is($w->finish(5), 'end', 'its GET completes');
    $w->close;
    is($q->finish(LOCK_TIMEOUT + LOCK_LEASE) && $q->code, 200,
       'then the SessionRequire request runs: 200')
        or diag($q->describe);
    $q->close;
    is(cgi_session($q)->{x}, 3, '... and its CGI sees x=3');
    my ($res2, $st2) = ro_get($id2);
    ok($st2 && (item_of($st2, 'x') // '') eq '3'
           && (item_of($st2, 'y') // '') eq '1',
       'read-only GET: x=3 (PUT) and y=1 (SessionRequire update)')
        or diag(explain($st2));

    # a writeable GET waits for a slow SessionRequire holder
    $upd = uri_escape('{"set":{"z":1}}');
    my $slow = open_stream($id2, path => "/lock-req/lock_slow.cgi?sleep=1000&update=$upd");
    my (undef, $ready) = wait_record($id2, sub {
        $_[0]{lock} == LOCK_HELD && $_[0]{kind} == KIND_EXCLUSIVE }, 5);
    ok(defined $ready, 'the slow SessionRequire request holds the lock');
    my $w2 = open_stream($id2);
    ok($w2->quiet(0.3), 'a writeable GET waits for it');
    my $sw2 = $w2->state(LOCK_TIMEOUT + LOCK_LEASE);
    ok($sw2 && (item_of($sw2, 'z') // '') eq '1'
           && (item_of($sw2, 'x') // '') eq '3',
       'and then gets the lock with the update committed (z=1, x=3)')
        or diag($w2->describe);
    is($slow->finish(5) && $slow->code, 200, 'the slow request answered 200');
    $slow->close;
    $put2 = put_state($id2, { %{ $sw2 || {} } });
    is($put2->code, 200, 'PUT: 200');
    is($w2->finish(5), 'end', 'its GET completes');
}
