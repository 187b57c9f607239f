package RS::Memcached;

# Every memcached the tests start, with one launcher (_spawn): in a process
# group of its own (setsid), on 127.0.0.1, signalled by its pid only.
#
# The suite's memcached: t/TEST.PL starts one before httpd (start()) and
# stops it when the run ends; a test can kill it (to see the module answer
# 503) and restart it on the same port, because httpd's config names that
# port. It is described by two environment variables, which start() sets
# and which every test inherits from t/TEST.PL:
#   RS_MEMCACHED_PORT     its TCP port on 127.0.0.1
#   RS_MEMCACHED_PIDFILE  a file holding its pid (rewritten on restart, removed
#                         on stop), so whichever process restarted it last,
#                         the next stop() finds the right one
# Before a signal, the pid's command line must be a memcached listening on
# our port.
#
# Others (pool tests, bench/): start_memcached() -> { pid, port, log }, our
# child; stop_memcached($m, $sig).

use strict;
use warnings;

use Cwd ();
use Errno ();
use File::Basename ();
use File::Path ();
use File::Spec ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes ();

use Exporter 'import';
our @EXPORT_OK = qw(start_memcached stop_memcached ensure_suite_memcached
                    settle_suite_memcached);

our $BIN = $ENV{RS_MEMCACHED_BIN} || 'memcached';
our $READY_TIMEOUT = 10;    # seconds to wait for a new memcached to answer

# t/ of this checkout (this file is t/lib/RS/Memcached.pm)
sub t_dir {
    my $dir = File::Basename::dirname(Cwd::abs_path(__FILE__));
    return Cwd::abs_path(File::Spec->catdir($dir, File::Spec->updir,
                                            File::Spec->updir));
}

sub logs_dir {
    my $dir = File::Spec->catdir(t_dir(), 'logs');
    File::Path::make_path($dir) unless -d $dir;
    return $dir;
}

sub pidfile {
    return $ENV{RS_MEMCACHED_PIDFILE}
        || File::Spec->catfile(logs_dir(), 'memcached.pid');
}

sub port { return $ENV{RS_MEMCACHED_PORT} }

# A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's
# choice for an ephemeral bind; a caller that loses the race retries).
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "RS::Memcached: cannot probe for a free port: $!\n";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# The server's answer to "version", or undef when nothing answers.
sub version {
    my ($port, $timeout) = @_;
    $port ||= port() or return;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => $timeout || 1)
        or return;
    $s->autoflush(1);
    print $s "version\r\n" or return;
    my $line;
    eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm($timeout || 1);
        $line = <$s>;
        alarm 0;
    };
    alarm 0;
    close $s;
    return unless defined $line && $line =~ /^VERSION (\S+)/;
    return $1;
}

# Waits until a memcached on $port answers "version" (a ready wait: it
# returns as soon as the server answers). With $pid, gives up early when
# that process has died. Returns true when ready.
sub wait_ready {
    my ($port, $timeout, $pid) = @_;
    $port ||= port() or die "RS::Memcached::wait_ready: no port\n";
    my $deadline = Time::HiRes::time() + ($timeout || $READY_TIMEOUT);
    while (Time::HiRes::time() < $deadline) {
        return 1 if defined version($port, 1);
        return 0 if $pid && !alive($pid);
        Time::HiRes::sleep(0.02);
    }
    return 0;
}

# True while $pid runs (a zombie, dead but not yet reaped, counts as dead).
sub alive {
    my $pid = shift;
    return 0 unless $pid && $pid > 0;
    waitpid($pid, POSIX::WNOHANG());    # reaps it if it is our own child
    return 0 unless kill(0, $pid) || $! == Errno::EPERM();
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $stat = <$fh> // '';
        return 0 if $stat =~ /^\d+ \(.*\) Z/s;
    }
    return 1;
}

# Is $pid a memcached of ours, i.e. one listening on $port?
sub _is_ours {
    my ($pid, $port) = @_;
    open my $fh, '<', "/proc/$pid/cmdline" or return 0;
    local $/;
    my @argv = split /\0/, (<$fh> // '');
    return 0 unless @argv && $argv[0] =~ /memcached/;
    return 1 unless $port;
    for my $i (0 .. $#argv - 1) {
        return 1 if $argv[$i] eq '-p' && $argv[$i + 1] eq $port;
    }
    return 0;
}

sub _read_pidfile {
    my $file = shift || pidfile();
    open my $fh, '<', $file or return;
    my $line = <$fh> // '';
    my ($pid, $port) = $line =~ /^(\d+)(?:\s+(\d+))?/ or return;
    return ($pid, $port);
}

sub _write_pidfile {
    my ($pid, $port) = @_;
    my $file = pidfile();
    my $tmp = "$file.$$";
    open my $fh, '>', $tmp or die "RS::Memcached: cannot write $tmp: $!\n";
    print $fh "$pid $port\n";
    close $fh or die "RS::Memcached: cannot write $tmp: $!\n";
    rename $tmp, $file or die "RS::Memcached: cannot rename $tmp: $!\n";
}

sub _log_tail {
    my $file = shift;
    open my $fh, '<', $file or return '';
    my @lines = <$fh>;
    splice @lines, 0, @lines - 20 if @lines > 20;
    return join '', map { "    $_" } @lines;
}

# Forks memcached in a process group of its own, like every server the
# suite starts; returns its pid. With $detach, it is not our child (init
# reaps it, wherever it is killed from: the suite's, which t/TEST.PL stops
# by its pid, also on INT and TERM).
sub _spawn {
    my ($port, $log, $detach, $mb) = @_;
    my @cmd = ($BIN, '-l', '127.0.0.1', '-p', $port, '-U', '0',
               '-m', $mb || 64, '-t', '2');
    push @cmd, '-u', 'root' if $> == 0;    # memcached refuses root otherwise

    pipe(my $r, my $w) or die "RS::Memcached: pipe: $!\n";
    my $child = fork;
    die "RS::Memcached: fork: $!\n" unless defined $child;
    if ($child == 0) {
        close $r;
        my $grandchild = $detach ? fork : 0;
        if (!defined $grandchild) {
            syswrite $w, "fork: $!\n";
            POSIX::_exit(1);
        }
        if ($grandchild == 0) {
            POSIX::setsid();
            open STDIN, '<', '/dev/null';
            open STDOUT, '>>', $log;
            open STDERR, '>&', \*STDOUT;
            { no warnings 'exec'; exec { $cmd[0] } @cmd; }
            syswrite $w, "exec $cmd[0]: $!\n";
            POSIX::_exit(127);
        }
        syswrite $w, "$grandchild\n";
        POSIX::_exit(0);
    }
    close $w;
    local $/;
    my $out = <$r> // '';    # EOF once exec succeeded (close-on-exec)
    close $r;
    if ($detach) {
        waitpid($child, 0);
    }
    else {
        $out = "$child\n$out";
    }
    my ($pid) = $out =~ /^(\d+)\n/;
    die "RS::Memcached: cannot start memcached: $out" unless $pid;
    die "RS::Memcached: cannot start memcached: $1" if $out =~ /\n(.+)/s;
    return $pid;
}

# start(port?) -> { pid => ..., port => ... }
# Starts a memcached on 127.0.0.1:$port (default: a free port found by a
# probe), waits until it answers, records it in the pid file and exports
# RS_MEMCACHED_PORT and RS_MEMCACHED_PIDFILE. Dies when it does not come up.
sub start {
    my ($want_port) = @_;
    my $pidfile = pidfile();
    if (my ($old, $old_port) = _read_pidfile($pidfile)) {
        die "RS::Memcached: memcached $old (port $old_port) is still running"
            . " per $pidfile; stop it first\n"
            if alive($old) && _is_ours($old, $old_port);
    }
    my $log = File::Spec->catfile(File::Basename::dirname($pidfile),
                                  'memcached.log');
    my $tries = $want_port ? 1 : 5;    # a probed port may be taken meanwhile
    my $last = '';
    for (1 .. $tries) {
        my $port = $want_port || free_port();
        my $pid = _spawn($port, $log, 1);
        if (wait_ready($port, $READY_TIMEOUT, $pid)) {
            _write_pidfile($pid, $port);
            $ENV{RS_MEMCACHED_PORT} = $port;
            $ENV{RS_MEMCACHED_PIDFILE} = $pidfile;
            return { pid => $pid, port => $port };
        }
        $last = "memcached (pid $pid) did not answer on 127.0.0.1:$port";
        _signal_and_wait($pid, 'KILL', 5) if alive($pid);
    }
    die "RS::Memcached: $last; $log says:\n" . _log_tail($log);
}

# Returns once nothing answers on $port (5 s at most).
sub _wait_silent {
    my $port = shift or return;
    my $deadline = Time::HiRes::time() + 5;
    Time::HiRes::sleep(0.02)
        while defined version($port, 1) && Time::HiRes::time() < $deadline;
}

sub _signal_and_wait {
    my ($pid, $sig, $timeout) = @_;
    kill $sig, $pid;
    my $deadline = Time::HiRes::time() + $timeout;
    while (alive($pid)) {
        return 0 if Time::HiRes::time() >= $deadline;
        Time::HiRes::sleep(0.02);
    }
    return 1;
}

# The instance to act on: an explicit {pid,port}, else the pid file's.
sub _target {
    my $h = shift;
    return ($h->{pid}, $h->{port}) if ref $h && $h->{pid};
    return _read_pidfile();
}

sub _end {
    my ($sig, $h) = @_;
    my ($pid, $port) = _target($h);
    return 0 unless $pid;
    my $stopped = 0;
    if (alive($pid) && _is_ours($pid, $port)) {
        $stopped = _signal_and_wait($pid, $sig, 5)
            || _signal_and_wait($pid, 'KILL', 5);
    }
    # nothing listens there any more (a zombie's sockets are closed already)
    _wait_silent($port);
    my ($file_pid) = _read_pidfile();
    unlink pidfile() if $file_pid && $file_pid == $pid;
    return $stopped;
}

# stop(handle?): SIGTERM, then waits until it is gone (SIGKILL after 5 s).
sub stop { return _end('TERM', @_) }

# kill9(handle?): SIGKILL, as if the machine running memcached had died:
# every item is lost. Returns once it is gone.
sub kill9 { return _end('KILL', @_) }

# restart(handle?): stops the running memcached (if any) and starts a new,
# empty one on the same port, so that httpd finds it again.
sub restart {
    my $h = shift;
    my ($pid, $port) = _target($h);
    $port ||= port();
    die "RS::Memcached::restart: no port known\n" unless $port;
    stop($h) if $pid;
    return start($port);
}

# start_memcached(port => , mb => 64, log => file) -> { pid, port, log }:
# a memcached of our own (our child) on a free loopback port; dies when it
# does not answer within 10 s.
# A memcached start_memcached started that the test left running (it died
# before stop_memcached) is stopped when the test process ends. The
# suite's own memcached (start) is t/TEST.PL's to stop.
my @started;
my $started_by = $$;
END {
    if ($$ == $started_by) {
        stop_memcached($_) for grep { $_->{pid} } @started;
    }
}

sub start_memcached {
    my %o = @_;
    for my $try (1 .. ($o{port} ? 1 : 5)) {
        my $port = $o{port} || free_port();
        my $log = $o{log}
            || File::Spec->catfile(logs_dir(), "memcached-$port.log");
        my $pid = _spawn($port, $log, 0, $o{mb});
        if (wait_ready($port, 10, $pid)) {
            push @started, { pid => $pid, port => $port, log => $log };
            return $started[-1];
        }
        stop_memcached({ pid => $pid, port => $port }, 'KILL');
    }
    die "RS::Memcached::start_memcached: no memcached came up\n";
}

# stop_memcached($m, $sig = 'TERM'): signals our memcached child (SIGKILL
# after 5 s), reaps it and returns once nothing answers on its port.
sub stop_memcached {
    my ($m, $sig) = @_;
    local $?;
    my $pid = delete $m->{pid} or return;
    _signal_and_wait($pid, $sig || 'TERM', 5) || _signal_and_wait($pid, 'KILL', 5);
    _wait_silent($m->{port});
}

# The suite's memcached: running again on its port (a test that killed it
# calls this at the end, whatever happened).
sub ensure_suite_memcached {
    local $?;
    return 1 if defined version(port(), 1);
    my $h = eval { start(port()) };
    warn "ensure_suite_memcached: $@" unless $h;
    return $h ? 1 : 0;
}

# settle_suite_memcached(): returns once the suite's memcached answers and
# its last (re)start is 2.5 s old. libmemcached keeps a server that failed
# on a pooled connection disabled until the wall-clock second after
# RETRY-TIMEOUT (1 s) has passed -- up to 2 s --, so right after a restart
# (by this test or the one before) a request may still get 503. Tests call
# this before they start and after they restart memcached.
sub settle_suite_memcached {
    local $?;
    ensure_suite_memcached();
    my $mtime = (Time::HiRes::stat(pidfile()))[9] or return;
    my $wait = $mtime + 2.5 - Time::HiRes::time();
    Time::HiRes::sleep($wait) if $wait > 0 && $wait < 4;
}

1;
