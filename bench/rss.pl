#!/usr/bin/perl
# The work of bench/rss.sh (see there).
use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/../t/lib";
use RS::Test qw(start_httpd stop_httpd start_memcached stop_memcached
                httpd_children rss_kb log_crashes slurp item_of
                API_KEY KEY_HEADER READONLY_HEADER ENDPOINT COOKIE_NAME new_session endpoint_cycle);
use File::Spec ();
use POSIX ();
use Time::HiRes ();

my $total = shift || 100_000;
my $root = File::Spec->rel2abs("$FindBin::Bin/..");
my $dir = "/tmp/rs-bench-rss-$$";
my ($mc, $h);
my $owner = $$;
$SIG{INT} = $SIG{TERM} = sub { exit 1 };
END {
    if ($$ == $owner) {
        stop_httpd($h) if $h;
        stop_memcached($mc) if $mc;
        system('rm', '-rf', $dir) if -d $dir && !$ENV{RS_KEEP};
    }
}

# the CGI must be readable by the user httpd runs CGIs as (nobody)
my $cgi = "$dir/cgi-bin";
system('mkdir', '-p', $cgi) == 0 or die;
system('cp', "$root/t/cgi-bin/hostile_counter.cgi", $cgi) == 0 or die;
chmod 0755, $dir, $cgi, "$cgi/hostile_counter.cgi";

$mc = start_memcached(mb => 256);
$h = start_httpd(mpm => 'event', modules => [qw(authz_core alias mime)],
                 suite_lock => 0, cgi => 1,
                 config => "KeepAlive On\nMaxKeepAliveRequests 0\nTimeout 60",
                 dir => "$dir/httpd",
                 memcached_port => $mc->{port}, cgi_dir => $cgi,
                 log_level => 'warn',
                 mpm_conf => <<'MPM');
StartServers 1
ServerLimit 1
ThreadsPerChild 32
MaxRequestWorkers 32
MinSpareThreads 1
MaxSpareThreads 32
MaxConnectionsPerChild 0
MPM
my $port = $h->{port};

# the one worker child (the cgid daemon is a child too, single-threaded)
sub worker {
    my @w = grep { (slurp("/proc/$_/status") =~ /^Threads:\s+(\d+)/m)[0] > 1 }
            httpd_children($h->{pid});
    die "expected one worker child, found: @w\n" unless @w == 1;
    return $w[0];
}

my $url = "http://127.0.0.1:$port";
my @ro_sessions = map { new_session(port => $port) } 1 .. 4;
my @rw_sessions = map { new_session(port => $port) } 1 .. 4;
my @sr_sessions = map { new_session(port => $port) } 1 .. 4;
my $done = 0;
my $non2xx = 0;

# ab_start(n, concurrency, path, options...) -> a handle on ab's output;
# ab_end(handle) counts what it did
sub ab_start {
    my ($n, $c, $path, @h) = @_;
    $c = $n if $c > $n;
    open my $fh, '-|', "ab -q -n $n -c $c -k @h '$url$path' 2>&1"
        or die "ab: $!\n";
    return $fh;
}
sub ab_end {
    my $fh = shift;
    local $/;
    my $out = <$fh>;
    close $fh or die "ab failed: $out";
    my ($done_n) = $out =~ /^Complete requests:\s+(\d+)/m;
    my ($bad) = $out =~ /^Non-2xx responses:\s+(\d+)/m;
    $non2xx += $bad // 0;
    $done += $done_n // 0;
}

# writeable GET + PUT cycles, $n in all, 4 processes in parallel
sub cycles {
    my $n = shift;
    my @pids;
    for my $k (0 .. 3) {
        my $m = int($n / 4) + ($k < $n % 4 ? 1 : 0);
        next unless $m;
        my $pid = fork // die "fork: $!\n";
        if (!$pid) {
            my $c = RS::Client->new(port => $port);
            my $bad = 0;
            for my $i (1 .. $m) {
                my $r = endpoint_cycle($port, $rw_sessions[$k], sub {
                    my $st = shift;
                    my $v = item_of($st, 'n') // 0;
                    return +{ %$st, items => [['n', $v + 1],
                                              ['blob', '"' . ('x' x (100 + $i % 400)) . '"']] };
                }, client => $c);
                $bad++ unless ($r->{put} // 0) == 200 && $r->{ended};
            }
            POSIX::_exit($bad > 255 ? 255 : $bad);
        }
        push @pids, $pid;
    }
    for (@pids) {
        waitpid($_, 0);
        $non2xx += $? >> 8;
    }
    $done += 2 * $n;
}

# one batch of 1,000 requests, all kinds at once: 600 read-only GETs with
# a cookie and 100 without (new sessions), 100 GET+PUT cycles (200
# requests, 4 sessions in parallel), 100 SessionRequire On requests (4
# sessions in parallel, each serialized by its lock)
my $KH = "-H '" . KEY_HEADER . ': ' . API_KEY . "'";
my $RH = "-H '" . READONLY_HEADER . ": true'";
my $batch = 0;
sub batch {
    my $ro = $ro_sessions[$batch % 4];
    my @ab = (ab_start(600, 8, ENDPOINT, $KH, $RH, "-C '" . COOKIE_NAME . "=$ro'"),
              ab_start(100, 2, ENDPOINT, $KH, $RH),
              map { ab_start(25, 1, '/req/hostile_counter.cgi',
                             "-C '" . COOKIE_NAME . "=$_'") } @sr_sessions);
    cycles(100);
    ab_end($_) for @ab;
    $batch++;
}

my $t0 = Time::HiRes::time();
batch();
my $pid = worker();
my $rss1 = rss_kb($pid);
printf "after %6d requests: worker child %d RSS %d kB\n", $done, $pid, $rss1;
while ($done + 1000 <= $total) {
    batch();
    printf "after %6d requests: RSS %d kB (%.0f s)\n", $done, rss_kb($pid),
        Time::HiRes::time() - $t0 if $batch % 10 == 0;
}
my $pid2 = worker();
my $rss2 = rss_kb($pid2);
printf "after %6d requests: worker child %d RSS %d kB\n", $done, $pid2, $rss2;
die "the worker child changed ($pid -> $pid2): crashed or recycled?\n"
    unless $pid == $pid2;
printf "RSS growth: %+d kB over %d requests (%.0f s); non-2xx answers or "
    . "failed cycles: %d\n", $rss2 - $rss1, $done - 1000,
    Time::HiRes::time() - $t0, $non2xx;
# stopped first, so that a crash at child exit shows too
my $log = $h->{error_log};
stop_httpd($h);
undef $h;
my @crash = log_crashes(slurp($log));
print "error_log (after the stop): ",
    (@crash ? join("\n", @crash) : 'no crash'), "\n";
