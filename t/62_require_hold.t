# RemoteSessionRequireHold (issue 11, item 1): a SessionRequire On request
# keeps the session's lock at most that long. One that runs longer (a slow
# CGI here; a body trickled in would do the same) loses it: the lock is
# freed (RS00053), a waiting writer gets the session, and the slow
# request's update is refused (500, RS00041) so it cannot overwrite what
# the next writer did. Our own httpd: hold 2 s, lock timeout 20 s (so the
# writer cannot time out first), the CGI sleeps 5 s.
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use RS::Test qw(:all);

plan tests => 7;

my $mpm = $ENV{RS_MPM} || 'event';
my $h = start_httpd(name => 'reqhold', mpm => $mpm, cgi => 1,
                    suite_lock => 0,
                    config => "RemoteSessionRequireHold 2\n"
                            . "RemoteSessionLockTimeout 20\n"
                            . "RemoteSessionLockLease 2\n");
END { stop_httpd($h) if $h }
my $port = $h->{port};
my $mark = -s $h->{error_log};

my $id = new_session(port => $port, items => { count => '1' });
my $a = RS::Client->new(port => $port);
$a->send_request('GET', '/req/req_counter.cgi?sleep=5000',
                 headers => [Cookie => COOKIE_NAME . "=$id"]);
my (undef, $held) = wait_record($id, sub { $_[0]{lock} == LOCK_HELD }, 5);
ok($held, 'the slow SessionRequire On request holds the lock');

my $b = open_stream($id, port => $port);
my $st = $b->state(15);
ok($st, 'a waiting writer gets the session after the hold of 2 s')
    or diag($b->describe);
ok(!defined $a->head(0.01),
   '... while the slow request still runs');
is(item_of($st, 'count'), '1', '... with the last committed count');

is($a->head(15), 500, "the slow request's update is refused: 500");
my $log = slurp($h->{error_log}, $mark);
ok($log =~ /RS00053: remote-session:\Q$id\E: a SessionRequire On request held the lock for 2 s/
   && $log =~ /RS00041: session \Q$id\E: .*RemoteSessionRequireHold/,
   '... logged: the lock freed (RS00053), the update refused (RS00041)')
    or diag($log);

my $put = put_state($id, { %$st, items => { count => '7' } }, port => $port);
$b->finish(5);
is(item_of((ro_get($id, port => $port))[1], 'count'), '7',
   "the writer's commit stands; the slow request changed nothing");
$a->close;
$b->close;
