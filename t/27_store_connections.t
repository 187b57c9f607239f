# A request gives its memcached connection back as soon as its store work
# is done, and the lease thread has a connection of its own (issue 11,
# item 2). An httpd of our own with ONE pooled connection per child
# (RemoteSessionStore ... --POOL-MAX=1) and, under mpm_event, one child:
#   - a SessionRequire page whose handler runs long no longer keeps the
#     connection once its session is loaded: another request is served
#     meanwhile (it used to wait 1 s for the pool and get 503, RS00010);
#   - while a held GET keeps the one pooled connection, a SessionRequire On
#     request whose handler runs longer than the lease keeps its lock: the
#     lease thread renews it on its own connection (it used to find the
#     pool empty, and a writer on another server took the lock over,
#     RS00025), and its update commits once the pool has a connection again.
# Under mpm_prefork each child has its own pool, so the same sequences
# pass there with or without the fix; the mpm_event pass is the one that
# tells.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use IO::Handle ();
use POSIX ();
use Time::HiRes ();
use RS::Test qw(:all);
use RS::Require qw(rq_get env_of upd);

need_workers(3);
plan tests => 6;

my ($mpm) = server_mpm();
my $t = t_dir();
my $mc = mc_port();
my $workers = $mpm eq 'prefork' ? <<'P' : <<'E';
<IfModule mpm_prefork_module>
    StartServers 4
    MinSpareServers 2
    MaxSpareServers 8
    MaxRequestWorkers 8
</IfModule>
P
<IfModule mpm_event_module>
    ServerLimit 1
    StartServers 1
    ThreadsPerChild 8
    MinSpareThreads 1
    MaxSpareThreads 8
    MaxRequestWorkers 8
</IfModule>
E
my $h = start_httpd(cgi => 1, store => "--SERVER=127.0.0.1:$mc --POOL-MAX=1",
                     config => <<"EOC");
$workers
ScriptAlias /slow "$t/bin/lock_slow.cgi"
<Location /slow>
    SessionRequire On
</Location>
ScriptAlias /slowro "$t/bin/lock_slow.cgi"
<Location /slowro>
    SessionRequire ReadOnly
</Location>
EOC
my $port = $h->{port};

# --- a handler that runs long ----------------------------------------------------
# A SessionRequire ReadOnly page whose handler takes a second: its store
# work ended when its session was loaded.
my ($slow_id, $other_id) = map { new_session(port => $port) } 1 .. 2;
my $ro_req = RS::Client->new(port => $port);
$ro_req->send_request('GET', '/slowro?sleep=1500', cookie => $slow_id);
Time::HiRes::sleep(0.5);    # loaded, and in its handler now
my $from = -s $h->{error_log};
my ($r, $st) = ro_get($other_id, port => $port);
is($r->code, 200, 'meanwhile another request gets the store connection');
unlike(slurp($h->{error_log}, $from), qr/RS00010/,
       '... no "no memcached connection free" (RS00010)');
is($ro_req->read_head(5), 200, 'the long handler answers in the end');
$ro_req->close;

# --- the lease thread's own connection -----------------------------------------------
# S holds its lock in /slow for 2.5 leases; a held GET on another session
# keeps the one pooled connection meanwhile; a writer on the suite's server
# waits for S (RemoteSessionLockTimeout 3 s, less than the handler's run).
my $s_id = new_session(port => $port);
my $sleep_ms = int(LOCK_LEASE * 2500);
my $slowreq = RS::Client->new(port => $port);
$slowreq->send_request('GET', '/slow' . upd('{"set":{"by":"slow"}}')
                       . "&sleep=$sleep_ms", cookie => $s_id);
Time::HiRes::sleep(0.5);    # S has its lock, and gave the connection back
my $hold = hold_get(new_session(port => $port), port => $port);
my $log_from = error_log_since();
my $w = rq_get('/req/env.cgi', sid => $s_id);    # the suite's server
$hold->close;    # the pool's connection back, for S's commit
my $code = $slowreq->read_head($sleep_ms / 1000 + 5) // '';
$slowreq->close;
is($w->code, 503, 'a writer elsewhere waits and times out: the lock '
   . 'stayed its holder\'s while the pool was empty');
ok(error_log_since($log_from) !~ /RS00025.*\Q$s_id\E/
   && slurp($h->{error_log}, 0) !~ /RS0005[02].*\Q$s_id\E/,
   '... no takeover, no failed renewal');
is($code, 200, 'the slow handler\'s update committed');
stop_httpd($h);

