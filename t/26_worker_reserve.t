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

plan tests => 13;

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
my $h = start_httpd(cgi => 1, config => <<"EOC");
$workers
KeepAlive Off
RemoteSessionWorkerReserve 2
EOC
my $port = $h->{port};

# A worker that has just answered may still count as busy for a moment
# (its status is updated after the last byte left), so a writer at the
# edge of the reserve may be refused once: as a client would, try again
# after Retry-After. Returns the last attempt and how many were refused.
sub hold_admitted {
    my $id = shift;
    my ($g, $refused) = (undef, 0);
    for (1 .. 20) {
        $g = hold_get($id, port => $port);
        last unless $g->{code} == 503;
        $refused++;
        $g->close;
        Time::HiRes::sleep(0.2);
    }
    return ($g, $refused);
}

my @ids = map { new_session(port => $port) } 1 .. 5;
my @held = map { (hold_admitted($ids[$_]))[0] } 0 .. 3;
is_deeply([ map { $_->{code} } @held ], [ 200, 200, 200, 200 ],
          'four held GETs on 6 workers with a reserve of 2');

# four holders and the fifth writer's own worker: at most 1 left, always
my $log_from = -s $h->{error_log};
my $fifth = hold_get($ids[4], port => $port);
is($fifth->{code}, 503, 'a fifth writeable GET would leave 1 free: 503');
is($fifth->{headers}{'retry-after'}, '1', '... with Retry-After');
my $log = slurp($h->{error_log}, $log_from);
like($log, qr/RS00070: session \Q$ids[4]\E: [56] of 6 workers busy/,
     '... logged as RS00070, naming the session and the count');
$fifth->close;
my @counts = slurp($h->{error_log}, 0) =~ /RS00070: .*?: (\d+) of 6/g;
ok(@counts && !grep({ 6 - $_ >= 2 } @counts),
   'no writer was refused while 2 workers were free (busy when refused: '
   . "@counts)");

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
$held[0]->close;

my ($again) = hold_admitted($ids[4]);
is($again->{code}, 200, 'with a worker back, the fifth writer is served');
push @held, $again;

for my $i (1 .. 4) {
    put_state($ids[$i], encode_state(id => $ids[$i]), port => $port);
}
ok(!grep({ !$_->read_body(5) } @held[1 .. 4]), 'every hold ended by its PUT');
ok(slurp($h->{error_log}, 0) !~ /exit signal|AH00161/,
   'no child crashed, MaxRequestWorkers never reached');
stop_httpd($h);

