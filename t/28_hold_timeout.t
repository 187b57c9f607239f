# RemoteSessionHoldTimeout (issue 11, item 5): a held GET whose PUT never
# comes, and a POST whose body never comes, end after the hold timeout
# instead of the session timeout (which a PUT may set to a year), and free
# the lock. An httpd of our own with a hold timeout of 2 s; sessions of the
# default 20 minutes.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes ();
use RS::Test qw(:all);

need_workers(2);
plan tests => 7;

use constant HOLD => 2;
my $h = start_httpd(config => 'RemoteSessionHoldTimeout ' . HOLD);
my $port = $h->{port};

# --- a held GET without its PUT ----------------------------------------------------
my $id = new_session(port => $port);
my $from = -s $h->{error_log};
my $t0 = Time::HiRes::time();
my $g = hold_get($id, port => $port);
is($g->{code}, 200, 'a writeable GET holds the session');
my $ended = $g->read_body(HOLD + LOCK_LEASE + 5);
my $took = Time::HiRes::time() - $t0;
ok($ended && $took >= HOLD - 0.2,
   sprintf('... and ends after the hold timeout, not the session\'s '
           . '(%.1f s, RemoteSessionHoldTimeout %d s)', $took, HOLD));
$g->close;
like(slurp($h->{error_log}, $from), qr/RS00031: session \Q$id\E/,
     '... logged (RS00031)');
my ($rec) = wait_record($id, sub { $_[0]{lock} == LOCK_FREE }, LOCK_TIMEOUT);
ok($rec && $rec->{lock} == LOCK_FREE, '... and the lock is free');

# --- a POST whose body never comes ---------------------------------------------------
$id = new_session(port => $port);
my $c = RS::Client->new(port => $port);
$c->send_request('POST', ENDPOINT, chunked => 1, key => API_KEY,
                 cookie => $id);
is($c->read_head(5), 200, 'a POST holds the session, its body not sent');
$c->read_state(5, 1);
ok($c->read_body(HOLD + LOCK_LEASE + 5)
   && $c->after_state =~ /\A\{"s":false,"m":"[^"]+"\}\z/,
   '... and ends after the hold timeout with {"s":false,...}')
    or diag($c->after_state);
$c->close;
($rec) = wait_record($id, sub { $_[0]{lock} == LOCK_FREE }, LOCK_TIMEOUT);
ok($rec && $rec->{lock} == LOCK_FREE, '... the lock freed');
stop_httpd($h);
