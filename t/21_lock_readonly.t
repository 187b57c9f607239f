# A read-only GET takes no lock and waits for none: while a writeable GET
# holds the session, it answers at once with the last committed state
# (IsReadOnly 1), and it leaves the holder's lock as it was.
#
# "Did not wait" is judged by what can be seen, not by how long it took: a
# 200 that comes while the writer still holds the lock (record HELD, same
# owner, the writeable GET still open), which a request waiting for that
# lock could not get (it would end in 503 after RemoteSessionLockTimeout, or
# take the lock over and log RS00025), and no RS00025/RS00026 logged for the
# session. Times are only reported (diag).
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use Time::HiRes ();
use RS::Test qw(:all);

# Apache::Test reads its configuration on first use, which takes seconds:
# do it now, not between planting a record and the request that meets it
endpoint_url();

# a held writeable GET and five read-only GETs at once
need_workers(6);

plan tests => 23;

my $id = new_session(items => { x => '1', name => '"first"' });
ok($id, "a session with x=1 committed: $id");

my $w = open_stream($id);
my $sw = $w->state(10);
ok($sw, 'a writeable GET holds the lock') or diag($w->describe);
is($sw && item_of($sw, 'x'), '1', 'the holder sees x=1');
my $held = read_record($id);
ok($held && $held->{lock} == LOCK_HELD, 'record: held');

# Error log lines since $mark about session $id that show a request waiting
# on its lock: RS00025 (taken over after the lease) or RS00026 (not obtained
# within RemoteSessionLockTimeout).
sub lock_waits {
    my ($mark, $id) = @_;
    return grep { /\bRS0002[56]\b/ && /session \Q$id\E\b/ }
           split /\n/, error_log_since($mark);
}

# The record $rec still is the lock $held: held, same kind, same owner.
sub same_lock {
    my ($rec, $held) = @_;
    return $rec && $held && $rec->{lock} == LOCK_HELD
        && $rec->{kind} == $held->{kind} && $rec->{owner} eq $held->{owner};
}

# read-only GETs while the lock is held
my $mark = error_log_since();
for my $hdr ('true', 'True', ' TRUE ') {
    my $t0 = Time::HiRes::time();
    my $res = send_request(endpoint_request('GET', session => $id,
                                            readonly => $hdr));
    my $dt = Time::HiRes::time() - $t0;
    my $rec = read_record($id);
    diag(sprintf "read-only GET (header '%s') while held: %d in %.0f ms",
                 $hdr, $res->code, $dt * 1000);
    ok($res->code == 200 && same_lock($rec, $held)
           && !lock_waits($mark, $id),
       sprintf("read-only GET (header '%s') while held: 200 while the writer "
               . 'still held the lock (it did not wait)', $hdr))
        or diag($res->as_string . join("\n", '', lock_waits($mark, $id)));
    my $st = eval { decode_state($res->content) };
    ok($st && $st->{readonly} && item_of($st, 'x') eq '1'
           && item_of($st, 'name') eq '"first"' && $st->{id} eq $id
           && !$st->{new},
       "... the last committed state, IsReadOnly 1, IsNewSession 0")
        or diag(explain($st) . ($@ // ''));
}

my ($res) = ro_get($id);
like($res->header('Content-Type') // '', qr{^application/json; charset=utf-8},
     'read-only GET: Content-Type application/json; charset=utf-8');
is($res->header('Set-Cookie'), undef, 'read-only GET of a live session: no Set-Cookie');

# several at once, all answered promptly
my @s = map { open_stream($id, readonly => 'true') } 1 .. 5;
my $t0 = $s[0]->t_sent;
my $all = 1;
my $last = 0;
for my $s (@s) {
    my $st = $s->state(5);
    $all &&= $st && $s->code == 200 && $st->{readonly} && item_of($st, 'x') eq '1';
    diag('read-only: ' . $s->describe) unless $st;
    $last = $s->t_first_body if $st && $s->t_first_body > $last;
}
my $dt = $last - $t0;
diag(sprintf '5 concurrent read-only GETs while held: answered within %.0f ms',
             $dt * 1000);
my $after = read_record($id);
ok($all && same_lock($after, $held),
   '5 concurrent read-only GETs while held: all 200 with x=1, while the '
   . 'writer still held the lock (none waited)');
$_->close for @s;

# the read-only GETs left the lock alone
my $rec = read_record($id);
ok($rec && $rec->{lock} == LOCK_HELD && $rec->{owner} eq $held->{owner}
       && $rec->{kind} == KIND_ENDPOINT && !lock_waits($mark, $id),
   'record: still held by the writer, same owner, after the read-only GETs '
   . '(no lock wait or takeover logged)')
    or diag(join "\n", lock_waits($mark, $id));
ok(!$w->is_done && !$w->is_eof, 'the writeable GET is still open');

# the writer commits; read-only now sees the commit
my $put = put_state($id, { %$sw, items => [ [ x => '2' ] ] });
is($put->code, 200, 'the holder\'s PUT (x=2): 200') or diag($put->as_string);
is($w->finish(5), 'end', 'the held GET completes');
my $st;
($res, $st) = ro_get($id);
is($st && item_of($st, 'x'), '2', 'read-only GET after the commit: x=2');
is($st && item_of($st, 'name'), undef, 'name removed (the PUT replaced all items)');

# a read-only GET while a foreign, live lock sits on a record (another
# server's writer): also at once
# Nobody renews it: a request that waited for it would take it over once
# the lease (2 s) passed, and change its owner.
my $id2 = random_id();
my %foreign = (lock => LOCK_HELD, kind => KIND_ENDPOINT,
               owner => random_owner(), renewed => now_usec());
ok(mc_set(store_key($id2),
          pack_record(%foreign, timeout => 20,
                      state => { id => $id2, timeout => 20,
                                 items => { y => '"planted"' } }), 300),
   'planted a record held by a foreign writer');
$mark = error_log_since();
$t0 = Time::HiRes::time();
($res, $st) = ro_get($id2);
$dt = Time::HiRes::time() - $t0;
$rec = read_record($id2);
diag(sprintf 'read-only GET of a foreign-held session: %d in %.0f ms',
             $res->code, $dt * 1000);
ok($res->code == 200 && same_lock($rec, \%foreign) && !lock_waits($mark, $id2),
   'read-only GET of a foreign-held session: 200 while the foreign lock '
   . 'still stood (it did not wait)')
    or diag($res->as_string . join("\n", '', lock_waits($mark, $id2)));
is($st && item_of($st, 'y'), '"planted"', '... with its committed state');
ok($rec && $rec->{lock} == LOCK_HELD && $rec->{owner} eq $foreign{owner}
       && $rec->{renewed} == $foreign{renewed},
   '... and the foreign lock is untouched (same owner, not renewed)');
mc_delete(store_key($id2));
