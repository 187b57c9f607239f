# A read-only GET takes no lock and waits for none: while a writeable GET
# holds the session, it answers at once with the last committed state
# (IsReadOnly 1), and it leaves the holder's lock as it was.
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use Time::HiRes ();
use RS::Test qw(:all);
use RS::Wire qw(:all);

# Apache::Test reads its configuration on first use, which takes seconds:
# do it now, not between planting a record and the request that meets it
endpoint_url();

plan tests => 23;

my $id = new_session(items => { x => '1', name => '"first"' });
ok($id, "a session with x=1 committed: $id");

my $w = open_stream($id);
my $sw = $w->state(10);
ok($sw, 'a writeable GET holds the lock') or diag($w->describe);
is($sw && item_of($sw, 'x'), '1', 'the holder sees x=1');
my $held = read_record($id);
ok($held && $held->{lock} == LOCK_HELD, 'record: held');

# read-only GETs while the lock is held
for my $hdr ('true', 'True', ' TRUE ') {
    my $t0 = Time::HiRes::time();
    my $res = send_request(endpoint_request('GET', session => $id,
                                            readonly => $hdr));
    my $dt = Time::HiRes::time() - $t0;
    ok($res->code == 200 && $dt < 0.5,
       sprintf("read-only GET (header '%s') while held: 200 in %.0f ms (< 500)",
               $hdr, $dt * 1000))
        or diag($res->as_string);
    my $st = eval { decode_state($res->content) };
    ok($st && $st->{is_readonly} && item_of($st, 'x') eq '1'
           && item_of($st, 'name') eq '"first"' && $st->{id} eq $id
           && !$st->{is_new},
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
    $all &&= $st && $s->code == 200 && $st->{is_readonly} && item_of($st, 'x') eq '1';
    diag('read-only: ' . $s->describe) unless $st;
    $last = $s->t_first_body if $st && $s->t_first_body > $last;
}
my $dt = $last - $t0;
ok($all && $dt < 1, sprintf('5 concurrent read-only GETs while held: all 200 '
                            . 'with x=1, within %.0f ms (< 1000)', $dt * 1000));
$_->close for @s;

# the read-only GETs left the lock alone
my $rec = read_record($id);
ok($rec && $rec->{lock} == LOCK_HELD && $rec->{owner} eq $held->{owner}
       && $rec->{kind} == KIND_ENDPOINT,
   'record: still held by the writer, same owner, after the read-only GETs');
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
my $id2 = random_id();
ok(mc_set(store_key($id2),
          pack_record(lock => LOCK_HELD, kind => KIND_ENDPOINT,
                      owner => random_owner(), renewed => now_usec(),
                      timeout => 20,
                      state => { id => $id2, timeout => 20,
                                 items => { y => '"planted"' } }), 300),
   'planted a record held by a foreign writer');
$t0 = Time::HiRes::time();
($res, $st) = ro_get($id2);
$dt = Time::HiRes::time() - $t0;
ok($res->code == 200 && $dt < 0.5,
   sprintf('read-only GET of a foreign-held session: 200 in %.0f ms', $dt * 1000))
    or diag($res->as_string);
is($st && item_of($st, 'y'), '"planted"', '... with its committed state');
$rec = read_record($id2);
ok($rec && $rec->{lock} == LOCK_HELD, '... and the foreign lock is untouched');
mc_delete(store_key($id2));
