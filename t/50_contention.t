# No lost update (issue 5, "Contention"): 50 concurrent clients (forked
# processes) on one session, each running write cycles of two kinds, mixed
# at random:
#   - endpoint: writeable GET held, read "counter" from the state, PUT the
#     state with counter+1 on a second connection; the GET then completes;
#   - SessionRequire: GET /req/hostile_counter.cgi (SessionRequire On), a
#     CGI that reads REMOTE_SESSION and answers
#     X-Remote-Session-Update: {"set":{"counter":counter+1}}.
# With RemoteSessionLockTimeout 120 a writer waits for the lock, it is never
# refused: every cycle must succeed (PUT 200 / CGI 200); a 503 (lock not
# obtained) or any other answer fails the test. The final counter
# (read-only GET on the endpoint, state decoded) must equal the number of
# cycles, and the values the cycles wrote must be 1..N, each once (every
# commit saw the one before it). The longest cycle is printed, to compare
# with the 120 s.
#
# Workers: every client keeps up to two connections, its writeable GET (or
# CGI request) and a kept-alive one for PUTs and CGI requests. Under the
# event MPM an idle kept-alive connection holds no worker, so at most
# clients + 1 requests are in a worker at once (each client waits in one
# request; the lock holder also sends its PUT): 51. Under prefork an idle
# kept-alive connection keeps its process (KeepAliveTimeout), so it needs a
# process per connection: 2 x 50 = 100. Too few workers and the holder's
# PUT queues behind waiters that cannot get the lock: 503s after 120 s.
#
# Run against both MPMs:
#   - event: the suite's own server, vhost hostile_contention of
#     t/conf/hostile.conf.in (RemoteSessionLockTimeout 120, so nothing times
#     out; RemoteSessionLockLease 10, so a CGI slowed down by a loaded
#     machine keeps its lease);
#   - prefork: an httpd of our own (RS::Httpd::start_httpd: mpm_prefork,
#     mod_cgi, our module, the suite's memcached, the same settings), with
#     MaxRequestWorkers 150 (100 needed, see below) and all of them started
#     at once.
#
# SCALE: the issue asks for 2,000 cycles per MPM. That takes about two
# minutes on a 2-core machine, too long for the suite, so the suite runs
# 1,000 cycles per MPM (2,000 in all, split over both MPMs).
# bench/contention.sh runs this same file with RS_CONTENTION_CYCLES=2000:
# the full 2,000 cycles against each MPM.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use RS::Test qw(error_log_since t_dir server_mpm need_workers
                item_of
                log_crashes slurp start_httpd stop_httpd
                new_session read_state endpoint_cycle);
use File::Path ();
use File::Spec ();
use POSIX ();
use Time::HiRes ();

my $CLIENTS = 50;
my $CYCLES = $ENV{RS_CONTENTION_CYCLES} || 1000;    # per MPM
my $DEADLINE = $ENV{RS_CONTENTION_DEADLINE} || 600; # s, per MPM, then fail

# the suite's server (event pass) serves all 50 clients at once
{
    my ($mpm) = server_mpm();
    need_workers($mpm eq 'prefork' ? 2 * $CLIENTS : $CLIENTS + 1);
}
# our prefork server: a process per client connection, and a margin for
# connections a client has closed and the server has not yet seen closed
my $PREFORK_WORKERS = 2 * $CLIENTS + 50;

my $t = t_dir();
my $work = File::Spec->catdir($t, 'logs', 'hostile_contention');
File::Path::remove_tree($work);
File::Path::make_path($work);

plan tests => 2 * 10 + 1;

# run_clients($port, $what) -> summary hash; the test assertions follow.
sub run_clients {
    my ($port, $what) = @_;
    my $id = new_session(port => $port) or die "no session on $port\n";
    my $init = endpoint_cycle($port, $id, sub {
        +{ %{ $_[0] }, items => [['counter', '0']] };
    });
    die "cannot set the counter to 0: " . explain($init) . "\n"
        unless ($init->{put} // 0) == 200;

    my @pids;
    my $t0 = Time::HiRes::time();
    for my $k (0 .. $CLIENTS - 1) {
        my $n = int($CYCLES / $CLIENTS) + ($k < $CYCLES % $CLIENTS ? 1 : 0);
        my $pid = fork;
        die "fork: $!\n" unless defined $pid;
        if (!$pid) {
            my $rc = eval { client($port, $id, $k, $n, "$work/$what-$k.txt"); 0 };
            print STDERR "client $k: $@" if $@;
            POSIX::_exit($@ ? 1 : 0);
        }
        push @pids, $pid;
    }
    my %status;
    my $deadline = $t0 + $DEADLINE;
    while (keys %status < @pids) {
        for my $pid (grep { !exists $status{$_} } @pids) {
            $status{$pid} = $? if waitpid($pid, POSIX::WNOHANG()) == $pid;
        }
        last if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.05);
    }
    for my $pid (grep { !exists $status{$_} } @pids) {    # ours, by pid
        kill KILL => $pid;
        waitpid($pid, 0);
        $status{$pid} = -1;
    }
    my $secs = Time::HiRes::time() - $t0;

    my %s = (id => $id, secs => $secs, cycles => 0, ok => 0, busy => 0,
             other => [], values => [], not_ended => 0, wrong_session => 0,
             longest => 0,
             failed_clients => scalar(grep { $_ != 0 } values %status),
             kinds => {});
    for my $k (0 .. $CLIENTS - 1) {
        open my $fh, '<', "$work/$what-$k.txt" or next;
        while (<$fh>) {
            chomp;
            my ($kind, $code, $value, $ended, $sid, $new, $secs) = split / /;
            $s{cycles}++;
            $s{longest} = $secs if ($secs // 0) > $s{longest};
            $s{kinds}{$kind}++;
            if ($code eq '200') {
                $s{ok}++;
                push @{ $s{values} }, $value;
            }
            elsif ($code eq '503') {
                $s{busy}++;
            }
            else {
                push @{ $s{other} }, "$kind: $code";
            }
            $s{not_ended}++ if $kind eq 'E' && $code eq '200' && !$ended;
            # a failed cycle (counted above) carries no session to compare
            $s{wrong_session}++ if $code eq '200'
                && (($sid // '') ne $id || ($new // '') ne '0');
        }
    }
    my ($st, $res) = read_state($port, $id);
    $s{final} = $st ? item_of($st, 'counter') : undef;
    $s{final_res} = $res;
    return \%s;
}

# One client: $n cycles, each endpoint or CGI at random; one line per cycle:
# "E|C code written-value GET-ended session-id is-new seconds"
sub client {
    my ($port, $id, $k, $n, $file) = @_;
    srand($k * 7919 + 1);
    open my $out, '>', $file or die "$file: $!\n";
    my $old = select $out; $| = 1; select $old;
    my $c = RS::Client->new(port => $port, timeout => 180);
    for (1 .. $n) {
        my $t0 = Time::HiRes::time();
        if (rand() < 0.5) {
            my $written;
            my $r = endpoint_cycle($port, $id, sub {
                my $st = shift;
                my $v = item_of($st, 'counter') // 'none';
                die "counter is '$v'\n" unless $v =~ /^\d+\z/;
                $written = $v + 1;
                return +{ %$st, items => [['counter', "$written"]] };
            }, client => $c, timeout => 180, finish_timeout => 30);
            my $code = $r->{get} == 200 ? $r->{put} // 0 : $r->{get};
            my $st = $r->{state} || {};
            print $out join(' ', 'E', $code, $written // '-', $r->{ended} // 0,
                            $st->{id} // '-', $st->{new} // '-',
                            sprintf('%.3f', Time::HiRes::time() - $t0)), "\n";
        }
        else {
            my $r = $c->request('GET', '/req/hostile_counter.cgi',
                                cookie => $id, timeout => 180);
            my ($sid, $new, $v) = split ' ', $r->{body} // '';
            print $out join(' ', 'C', $r->{code},
                            $r->{code} == 200 ? $v // '-' : '-', 1,
                            $sid // '-', $new // '-',
                            sprintf('%.3f', Time::HiRes::time() - $t0)), "\n";
        }
    }
    $c->close;
    close $out;
}

sub check {
    my ($s, $what) = @_;
    diag(sprintf '%s: %d cycles (%d endpoint, %d SessionRequire) by %d '
         . 'clients in %.1f s: %d committed, %d busy (503), %d other; '
         . 'final counter %s; longest cycle %.1f s (lock timeout 120 s)',
         $what, $s->{cycles}, $s->{kinds}{E} // 0,
         $s->{kinds}{C} // 0, $CLIENTS, $s->{secs}, $s->{ok}, $s->{busy},
         scalar @{ $s->{other} }, $s->{final} // 'unreadable', $s->{longest});
    is($s->{failed_clients}, 0, "$what: all $CLIENTS clients finished");
    is($s->{cycles}, $CYCLES, "$what: $CYCLES cycles run");
    ok($s->{kinds}{E} && $s->{kinds}{C}, "$what: both kinds of cycle ran");
    is($s->{final}, $s->{ok},
       "$what: the final counter equals the number of successful cycles");
    my @v = sort { $a <=> $b } grep { /^\d+\z/ } @{ $s->{values} };
    my $seq = @v == $s->{ok} && !grep { $v[$_] != $_ + 1 } 0 .. $#v;
    ok($seq, "$what: the successful cycles wrote 1..$s->{ok}, each once "
       . '(every commit saw the previous one)')
        or diag('first values: ' . join ' ', @v[0 .. ($#v > 20 ? 20 : $#v)]);
    is($s->{busy}, 0, "$what: no cycle got 503 (with LockTimeout 120 every "
       . 'writer waits for the lock)');
    ok(!@{ $s->{other} }, "$what: no cycle got another answer than 200 or 503")
        or diag(join ', ', @{ $s->{other} }[0 .. ($#{ $s->{other} } > 20 ? 20 : $#{ $s->{other} })]);
    is($s->{not_ended}, 0, "$what: every held GET completed after its PUT");
    is($s->{wrong_session}, 0,
       "$what: every cycle saw the one session, never a new one");
    is($s->{ok}, $CYCLES, "$what: every one of the $CYCLES cycles committed");
}

# event MPM: the suite's server
my $log_from = error_log_since();
{
    my $port = Apache::Test::vars('hostile_contention_port');
    check(run_clients($port, 'event'), 'event MPM');
}

# prefork MPM: our own httpd on the suite's memcached
my $prefork_log = '';
my $h;
END { stop_httpd($h) if $h }    # when the test dies half-way
{
    $h = start_httpd(
        mpm => 'prefork', modules => [qw(authz_core alias mime)],
        dir => File::Spec->catdir($t, 'logs', 'hostile_prefork'),
        cgi => 1, suite_lock => 0, log_level => 'notice remote_session:info',
        mpm_conf => <<"P",
StartServers $PREFORK_WORKERS
MinSpareServers 10
MaxSpareServers $PREFORK_WORKERS
ServerLimit $PREFORK_WORKERS
MaxRequestWorkers $PREFORK_WORKERS
MaxConnectionsPerChild 0
P
        config => "KeepAlive On\nMaxKeepAliveRequests 0\nTimeout 60\n"
                . "RemoteSessionLockTimeout 120\nRemoteSessionLockLease 10\n"
                . "RemoteSessionMaxWaiters 64\n",
    );
    my $s = eval { run_clients($h->{port}, 'prefork') };
    my $err = $@;
    stop_httpd($h);
    $prefork_log = slurp($h->{error_log});
    die $err if $err;
    check($s, 'prefork MPM');
}

my @crash = (log_crashes(error_log_since($log_from)), log_crashes($prefork_log));
ok(!@crash, 'no httpd child crashed (suite error_log and the prefork '
   . "server's)") or diag(join "\n", @crash[0 .. ($#crash > 9 ? 9 : $#crash)]);
