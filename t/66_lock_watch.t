# A writer waiting on a big session's lock held on another server of a
# farm reads the lock's small companion item ("<key>.w", the record's
# lock fields), not the whole record, and still takes the lock as soon as the
# holder's PUT frees it; the holder's held GET polls that item too (issue
# 15; docs/DESIGN.md, "Watched locks").
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use Time::HiRes ();
use RS::Test qw(:all);

need_workers(3);

plan tests => 13;

use constant WATCHED => 0x04;       # RS_REC_WATCHED in src/record.h
use constant BIG     => 60_000;     # bytes of the big value: watched

my (undef, $p1) = split /:/, Apache::TestRequest::hostport();
my $h2 = eval { start_httpd() };
END { stop_httpd($h2) if $h2 }
ok($h2, 'a second httpd on the same memcached') or diag($@);
my $p2 = $h2 ? $h2->{port} : $p1;

my $big = '"' . ('y' x BIG) . '"';
my $id = new_session(port => $p1, items => { x => '0', big => $big });
ok($id, "a session of about 60 KB: $id");

# memcached's bytes sent per second, over $secs
sub bytes_sent {
    my $secs = shift;
    my $a = mc_stats();
    Time::HiRes::sleep($secs);
    my $b = mc_stats();
    return ($b->{bytes_written} - $a->{bytes_written}) / $secs;
}

my $a = open_stream($id, port => $p1);
my $sa = $a->state(10);
ok($sa && item_of($sa, 'x') eq '0', 'server 1: writer A holds the lock')
    or diag($a->describe);
Time::HiRes::sleep(0.3);    # past its first poll, which marks it watched
my $alone = bytes_sent(1);
# a held GET polls every 100 ms; reading the record, that was 10 reads a
# second; now its first poll marks the record watched, the next ones read
# the companion, and only a renewal (every third of the 2 s lease) reads
# the record
ok($alone < 5 * BIG, sprintf('the held GET alone costs memcached %.0f B/s '
                             . '(one read of the record: %d B)', $alone, BIG));

my $b = open_stream($id, port => $p2);
ok($b->quiet(0.5), 'server 2: writer B waits') or diag($b->describe);
my $rec = read_record($id);
ok($rec && $rec->{lock} == LOCK_HELD && ($rec->{flags} & WATCHED),
   'the record is marked watched, still held by A')
    or diag(explain($rec && { lock => $rec->{lock}, flags => $rec->{flags} }));
# the companion (src/record.h, rs_record_watch_pack): lock, kind, owner
# (16 bytes), renewed (8), lease (2), flags
my $comp = mc_get(store_key($id) . '.w');
ok(defined $comp && length $comp == 29 && ord($comp) == LOCK_HELD
       && substr($comp, 2, 16) eq $rec->{owner},
   'the companion item (29 bytes) says: held, by the same owner');

# B's share of
# what memcached sends is the difference. Reading the record each time, B
# sent about 40 records a second; watching, a few bytes per check.
my $both = bytes_sent(1);
my $share = $both - $alone;
ok($share < 3 * BIG,
   sprintf('B costs memcached %.0f B/s while it waits (A alone: %.0f B/s; '
           . 'one read of the record: %d B)', $share, $alone, BIG))
    or diag("reading the record itself would be about " . 40 * BIG . " B/s");

my $put = put_state($id, { %{ $sa || {} }, items => { x => '1', big => $big } },
                    port => $p1);
is($put->code, 200, "server 1: A's PUT (x=1)") or diag($put->as_string);
my $sb = $b->state(LOCK_TIMEOUT + LOCK_LEASE);
ok($sb && (item_of($sb, 'x') // '') eq '1'
       && (item_of($sb, 'big') // '') eq $big,
   "server 2: B takes the lock freed on server 1, with A's state")
    or diag($b->describe);
is($a->finish(5), 'end', "server 1: A's GET completes");
$a->close;

$put = put_state($id, { %{ $sb || {} }, items => { x => '2', big => $big } },
                 port => $p2);
is($put->code, 200, "server 2: B's PUT (x=2)");
is($b->finish(5), 'end', "server 2: B's GET completes");
$b->close;
