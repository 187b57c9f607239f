# RemoteSessionWorkerReserve: a writeable request (held GET, POST,
# SessionRequire On) that would leave fewer than the reserve of workers
# free is refused at once with 503 + Retry-After (RS00070), so that
# read-only GETs and the PUTs that end the holds always find a worker.
# An httpd of our own, under the MPM of this pass (event or prefork), with
# 6 workers and a reserve of 2: four held GETs fit, a fifth writer does not.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes ();
use RS::Test qw(:all);
use RS::Proto qw(:all);

plan tests => 14;

my ($mpm) = server_mpm();
my $t = t_dir();
my $workers = $mpm eq 'prefork' ? <<'P' : <<'E';
<IfModule mpm_prefork_module>
    ServerLimit 6
    StartServers 6
    MinSpareServers 1
    MaxSpareServers 6
    MaxRequestWorkers 6
</IfModule>
P
<IfModule mpm_event_module>
    ServerLimit 2
    StartServers 2
    ThreadsPerChild 3
    MinSpareThreads 1
    MaxSpareThreads 6
    MaxRequestWorkers 6
</IfModule>
E
my $h = start_httpd2(config => <<"EOC");
$workers
KeepAlive Off
RemoteSessionWorkerReserve 2
<Location /server-status>
    SetHandler server-status
</Location>
ScriptAlias /req/ "$t/cgi-bin/"
<Location /req>
    SessionRequire On
</Location>
ScriptAlias /ro/ "$t/cgi-bin/"
<Location /ro>
    SessionRequire ReadOnly
</Location>
EOC
my $port = $h->{port};

# Busy workers on the scoreboard, the status request itself included.
sub busy {
    my $r = send_request(HTTP::Request->new(
        GET => "http://127.0.0.1:$port/server-status?auto"));
    my ($n) = $r->decoded_content =~ /^BusyWorkers: (\d+)$/m;
    return $n // -1;
}

# Waits until the held GETs (and the status request) are all that is busy:
# connections of earlier requests still closing would count too.
sub settle {
    my $want = shift;
    my $deadline = Time::HiRes::time() + 10;
    while (Time::HiRes::time() < $deadline) {
        return 1 if busy() == $want + 1;
        Time::HiRes::sleep(0.1);
    }
    return 0;
}

my @ids = map { new_session_id(port => $port) } 1 .. 5;
my (@held, @settled);
for my $i (0 .. 3) {
    push @settled, settle($i);
    push @held, hold_get($ids[$i], port => $port);
}
is_deeply([ map { $_->{code} } @held ], [ 200, 200, 200, 200 ],
          'four held GETs on 6 workers with a reserve of 2');
ok(settle(4) && !grep({ !$_ } @settled),
   'the scoreboard shows the holders busy, and nothing else');

my $log_from = -s $h->{error_log};
my $fifth = hold_get($ids[4], port => $port);
is($fifth->{code}, 503, 'a fifth writeable GET would leave 1 free: 503');
is($fifth->{headers}{'retry-after'}, '1', '... with Retry-After');
my $log = slurp_from($h->{error_log}, $log_from);
like($log, qr/RS00070: session \Q$ids[4]\E: 5 of 6 workers busy/,
     '... logged as RS00070, naming the session and the count');
$fifth->close;

my $rq = send_request(HTTP::Request->new(
    GET => "http://127.0.0.1:$port/req/env.cgi",
    [ Cookie => COOKIE_NAME . "=$ids[4]" ]));
is($rq->code, 503, 'SessionRequire On is a writer too: 503');

my ($ro, $st) = ro_get($ids[4], port => $port);
is($ro->code, 200, 'a read-only GET still finds a worker');
$rq = send_request(HTTP::Request->new(
    GET => "http://127.0.0.1:$port/ro/env.cgi",
    [ Cookie => COOKIE_NAME . "=$ids[4]" ]));
is($rq->code, 200, 'so does SessionRequire ReadOnly');

my $put = put_state($ids[0], encode_state(id => $ids[0],
                                          items => [[ 'k', '1' ]]),
                    port => $port);
is($put->code, 200, 'the PUT that ends a hold finds a worker');
ok($held[0]->read_body(5), '... and its held GET completes');
ok(settle(3), 'three holders left');

my $again = hold_get($ids[4], port => $port);
is($again->{code}, 200, 'with a worker back, the fifth writer is served');
push @held, $again;

for my $i (1 .. 4) {
    put_state($ids[$i], encode_state(id => $ids[$i]), port => $port);
}
ok(!grep({ !$_->read_body(5) } @held[1 .. 4]), 'every hold ended by its PUT');
ok(slurp_from($h->{error_log}, 0) !~ /exit signal|AH00161/,
   'no child crashed, MaxRequestWorkers never reached');
stop_httpd2($h);

sub slurp_from {
    my ($file, $offset) = @_;
    open my $fh, '<', $file or return '';
    seek $fh, $offset, 0;
    local $/;
    return <$fh> // '';
}
