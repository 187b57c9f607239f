# One failed poll no longer ends a held GET (issue 11, item 11): the
# suite's memcached hangs for 0.8 s (SIGSTOP, then SIGCONT) while a
# writeable GET holds its session; the GET's polls fail (RS00020, the poll
# timeout is 0.5 s) and are tried again, less often, for up to half a
# lease; the hold goes on, and the client's PUT then commits and ends it.
# It used to end the GET at the first failure and leave the lock to its
# lease.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes ();
use RS::Memcached ();
use RS::Test qw(:all);

need_workers(2);
plan tests => 5;

my ($mc_pid) = RS::Memcached::_read_pidfile();
die "t/29: no pid of the suite's memcached\n" unless $mc_pid;

my $id = new_session();
my $g = hold_get($id);
is($g->{code}, 200, 'a writeable GET holds the session');
my $mark = error_log_since();
kill STOP => $mc_pid;
Time::HiRes::sleep(0.8);
kill CONT => $mc_pid;
Time::HiRes::sleep(0.3);
like(error_log_since($mark), qr/RS00020: session \Q$id\E/,
     'its polls failed while memcached hung (RS00020)');
ok(!$g->read_body(0.3) && !$g->{eof} && !$g->{done},
   '... and the GET still holds: no end, the connection open');
my $r = put_state($id, encode_state(id => $id, items => [[ 'x', '1' ]]));
is($r->code, 200, 'the PUT commits');
ok($g->read_body(5), '... and the held GET ends');
$g->close;
