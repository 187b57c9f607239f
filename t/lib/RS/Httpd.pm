package RS::Httpd;

# Every httpd a test (or a bench/ script) starts besides the suite's own:
# one launcher, start_httpd(), with a generated config, and stop_httpd().
# Each runs in the foreground as our child, in a process group of its own
# (setsid: prefork's parent signals its whole group when it stops, which
# must not reach the test, prove or make), and is stopped by its pid only.
# Loopback only. Also the /proc views of such a server: httpd_children,
# children_rss_kb, log_crashes; and graceful().
#
# Loaded by RS::Test, which re-exports it.

use strict;
use warnings;

use Exporter 'import';
use Cwd ();
use File::Path ();
use File::Spec ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes ();

our @EXPORT_OK = qw(
    start_backend
    start_httpd stop_httpd spawn_httpd httpd_children children_rss_kb rss_kb
    graceful log_crashes slurp
);

my @started;            # see END below
my $owner = $$;

# slurp($file, $offset = 0) -> its text from byte $offset ('' if absent):
# an httpd's error log since a mark.
sub slurp {
    my ($file, $offset) = @_;
    open my $fh, '<', $file or return '';
    seek $fh, $offset, 0 if $offset;
    local $/;
    return <$fh> // '';
}

sub _apxs_q {
    my $q = shift;
    my $apxs = $ENV{APXS} || (grep { -x } map { ("$_/apxs2", "$_/apxs") }
                              split /:/, $ENV{PATH} // '')[0]
        || die "RS::Httpd: apxs not found\n";
    chomp(my $v = `"$apxs" -q $q`);
    return $v;
}

# (httpd binary, its modules directory): Apache::Test's, or, for a server
# that does not use the suite's modules (modules => [...]), apxs's (bench/
# scripts run without an Apache::Test config).
sub _httpd_paths {
    my $own = shift;
    return ($ENV{HTTPD} || _apxs_q('SBINDIR') . '/' . _apxs_q('TARGET'),
            _apxs_q('LIBEXECDIR')) if $own;
    my $vars = Apache::Test::vars();
    return ($vars->{httpd} || die("RS::Httpd: Apache::Test knows no httpd\n"),
            $vars->{rs_modulesdir} || Apache::Test::config()->apxs('LIBEXECDIR'));
}

# The suite's modules as t/conf/httpd.conf loads them (its MPM included)
# and those t/conf/extra.conf.in adds: ([name, file], ...).
sub _suite_modules {
    my $moddir = shift;
    my $vars = Apache::Test::vars();
    my (%load, @order);
    my $conf = File::Spec->catfile($vars->{t_conf}, 'httpd.conf');
    if (open my $fh, '<', $conf) {
        while (<$fh>) {
            next unless /^\s*LoadModule\s+(\w+)\s+"?([^"\s]+)"?/;
            push @order, $1 unless $load{$1};
            $load{$1} = $2;
        }
    }
    for my $m (qw(alias dir env mime headers rewrite setenvif proxy
                  proxy_http http2)) {
        my $name = "${m}_module";
        next if $load{$name} || !-e "$moddir/mod_$m.so";
        push @order, $name;
        $load{$name} = "$moddir/mod_$m.so";
    }
    delete $load{perl_module};
    return map { [$_, $load{$_}] } grep { $load{$_} } @order;
}

# start_httpd(%opt) -> { pid, port, dir, conf, error_log, url, httpd }.
# Writes a config, starts httpd and returns once it answers HTTP on
# 127.0.0.1:port; dies (with its logs) when it does not. Options:
#   name      => a word for its directory t/logs/<name>-<port> (default
#                'httpd2');  dir => that directory instead
#   port      => (default: a free one)
#   mpm       => 'event' | 'prefork' | 'worker' (default: the suite's MPM,
#                with mod_http2 and h2c as the suite has them)
#   mpm_conf  => MPM directives (worker limits)
#   modules   => [names]: only these of httpd's modules (and apxs's httpd,
#                no Apache::Test needed); default: the suite's modules
#   module    => mod_remote_session.so (default: the checkout's)
#   store     => RemoteSessionStore value; memcached_port => the suite's
#                memcached (default) or another
#   defaults  => 0: no RemoteSession* lines and no endpoint, only config
#   suite_lock => 0: the module's own lock timeout and lease, not the
#                suite's (LOCK_TIMEOUT, LOCK_LEASE)
#   cgi       => 1: mod_cgi (prefork) or mod_cgid, and cgi_dir (default
#                t/cgi-bin) at /cgi-bin/, at /req/ (SessionRequire On) and
#                at /ro/ (SessionRequire ReadOnly)
#   config    => more httpd.conf text, appended
#   log_level => LogLevel (default 'info remote_session:trace8')
#   timeout   => seconds to wait for it (default 30)
sub start_httpd {
    my %o = @_;
    my ($httpd, $moddir) = _httpd_paths($o{modules});
    my $t = RS::Memcached::t_dir();
    my $port = $o{port} || RS::Memcached::free_port();
    my $dir = $o{dir}
        || File::Spec->catdir($t, 'logs', ($o{name} || 'httpd2') . "-$port");
    File::Path::remove_tree($dir);
    File::Path::make_path($dir);
    chmod 0755, $dir;
    my $conf = "$dir/httpd.conf";
    my $store = $o{store}
        // '--SERVER=127.0.0.1:' . ($o{memcached_port} || RS::Test::mc_port());
    my $so = Cwd::abs_path($o{module}
        || File::Spec->catfile($t, File::Spec->updir, 'mod_remote_session.so'));
    my $level = $o{log_level} || 'info remote_session:trace8';

    my @mods = $o{modules}
        ? map { ["${_}_module", "$moddir/mod_$_.so"] } @{ $o{modules} }
        : _suite_modules($moddir);
    if ($o{mpm}) {
        @mods = grep { $_->[0] !~ /^(?:mpm_\w+|cgid?|http2)_module$/ } @mods;
        unshift @mods, ["mpm_$o{mpm}_module", "$moddir/mod_mpm_$o{mpm}.so"];
    }
    my $prefork = grep { $_->[0] eq 'mpm_prefork_module' } @mods;
    @mods = grep { $_->[0] !~ /^cgid?_module$/ } @mods;
    if ($o{cgi}) {
        my $cgi = $prefork ? 'cgi' : 'cgid';
        push @mods, ["${cgi}_module", "$moddir/mod_$cgi.so"];
    }
    push @mods, ['remote_session_module', $so];

    my $text = <<"EOC";
# generated by RS::Httpd::start_httpd
ServerRoot "$dir"
DefaultRuntimeDir "$dir"
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error_log"
LogLevel $level
Listen 127.0.0.1:$port
ServerName 127.0.0.1:$port
EOC
    if ($> == 0) {
        my ($u, $g) = $o{modules} ? ('nobody', 'nogroup')
            : @{ Apache::Test::vars() }{qw(user group)};
        $text .= "User \"$u\"\nGroup \"$g\"\n";
    }
    $text .= "<IfModule !$_->[0]>\n    LoadModule $_->[0] \"$_->[1]\"\n"
           . "</IfModule>\n" for @mods;
    $text .= $o{mpm_conf} // '';
    $text .= <<"EOC";
<IfModule mime_module>
    TypesConfig /etc/mime.types
</IfModule>
<IfModule http2_module>
    Protocols h2c http/1.1
</IfModule>
<IfModule cgid_module>
    ScriptSock "$dir/cgisock"
</IfModule>
DocumentRoot "$t/htdocs"
<Directory />
    AllowOverride None
</Directory>
EOC
    if ($o{cgi}) {
        my $cgi = $o{cgi_dir} || "$t/cgi-bin";
        $text .= <<"EOC";
ScriptAlias /cgi-bin/ "$cgi/"
ScriptAlias /req/ "$cgi/"
ScriptAlias /ro/ "$cgi/"
<Directory "$cgi">
    Options +ExecCGI
    Require all granted
</Directory>
<Location /req/>
    SessionRequire On
</Location>
<Location /ro/>
    SessionRequire ReadOnly
</Location>
EOC
    }
    unless (defined $o{defaults} && !$o{defaults}) {
        $text .= sprintf "RemoteSessionStore \"%s\"\nRemoteSessionApiKey %s\n"
            . "<Location %s>\n    SetHandler remote-session\n</Location>\n",
            $store, RS::Test::API_KEY(), RS::Test::ENDPOINT();
        $text .= sprintf "RemoteSessionLockTimeout %d\nRemoteSessionLockLease %d\n",
            RS::Test::LOCK_TIMEOUT(), RS::Test::LOCK_LEASE()
            unless defined $o{suite_lock} && !$o{suite_lock};
    }
    $text .= "$o{config}\n" if defined $o{config};
    open my $fh, '>', $conf or die "RS::Httpd: $conf: $!\n";
    print $fh $text;
    close $fh or die "RS::Httpd: $conf: $!\n";

    my $h = { pid => spawn_httpd($httpd, $conf), port => $port, dir => $dir,
              conf => $conf, error_log => "$dir/error_log", httpd => $httpd,
              url => "http://127.0.0.1:$port" };
    push @started, $h;
    my $deadline = Time::HiRes::time() + ($o{timeout} || 30);
    while (Time::HiRes::time() < $deadline) {
        return $h if _http_answers($port);
        if (waitpid($h->{pid}, POSIX::WNOHANG()) == $h->{pid}) {
            delete $h->{pid};
            die "RS::Httpd: httpd exited with status " . ($? >> 8) . ":\n"
                . slurp("$dir/stderr.log") . slurp("$dir/error_log");
        }
        Time::HiRes::sleep(0.05);
    }
    stop_httpd($h);
    die "RS::Httpd: httpd did not answer on 127.0.0.1:$port:\n"
        . slurp("$dir/stderr.log") . slurp("$dir/error_log");
}

# Every httpd start_httpd started (@started): one a test left running (it
# died before its stop_httpd) is stopped when the test process ends, never
# later by chance. Forked children of the test do not stop their parent's.
END {
    if ($$ == $owner) {
        stop_httpd($_) for grep { $_->{pid} } @started;
    }
}

# spawn_httpd($httpd, $conf) -> pid: `httpd -d <conf's dir> -f $conf
# -DFOREGROUND` as our child in a process group of its own, its stdout and
# stderr in stderr.log beside the config.
sub spawn_httpd {
    my ($httpd, $conf) = @_;
    (my $dir = $conf) =~ s{/[^/]+\z}{};
    my $pid = fork;
    die "RS::Httpd: fork: $!\n" unless defined $pid;
    return $pid if $pid;
    POSIX::setsid();
    open STDIN, '<', '/dev/null';
    open STDOUT, '>', "$dir/stderr.log";
    open STDERR, '>&', \*STDOUT;
    { no warnings 'exec'; exec $httpd, '-d', $dir, '-f', $conf, '-DFOREGROUND'; }
    print STDERR "exec $httpd: $!\n";
    POSIX::_exit(127);
}

# _line_within($fh, $secs) -> the next line read from $fh, or undef when
# none comes within $secs.
sub _line_within {
    my ($fh, $secs) = @_;
    my $line;
    eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm $secs;
        $line = <$fh>;
        alarm 0;
    };
    alarm 0;
    return $line;
}

sub _http_answers {
    my $port = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1) or return 0;
    $s->autoflush(1);
    print $s "HEAD / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    my $line = _line_within($s, 2);
    return defined $line && $line =~ m{^HTTP/};
}

# start_backend($port, @command) -> pid of a proxied backend on
# 127.0.0.1:$port, once it listens (it prints "READY $port" on stdout);
# undef when it does not start within 10 s. Stop it by its pid. @command
# (default: perl t/bin/req_backend.pl, which answers with the
# X-Remote-Session* request headers it got) gets the port as last argument.
sub start_backend {
    my ($port, @cmd) = @_;
    @cmd = ($^X, File::Spec->catfile(RS::Memcached::t_dir(), 'bin',
                                     'req_backend.pl')) unless @cmd;
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        close $rd;
        open STDOUT, '>&', $wr or POSIX::_exit(126);
        open STDIN, '<', '/dev/null';
        { no warnings 'exec'; exec @cmd, $port; }
        POSIX::_exit(127);
    }
    close $wr;
    my $line = _line_within($rd, 10);
    close $rd;
    return $pid if defined $line && $line =~ /^READY $port$/;
    kill KILL => $pid;
    waitpid($pid, 0);
    return;
}

# stop_httpd($h, $grace = 15): SIGTERM to the parent we started, SIGKILL
# after $grace seconds, reaped; then SIGKILL to any of its children (by
# pid, when their command line names our config) that outlived it. Returns
# its exit status; leaves $? alone (END blocks call it).
sub stop_httpd {
    my ($h, $grace) = @_;
    local $?;
    my $pid = delete $h->{pid} or return;
    my @kids = httpd_children($pid);
    kill TERM => $pid;
    my $deadline = Time::HiRes::time() + ($grace || 15);
    my $reaped;
    while (Time::HiRes::time() < $deadline) {
        last if $reaped = waitpid($pid, POSIX::WNOHANG()) == $pid;
        Time::HiRes::sleep(0.05);
    }
    unless ($reaped) {
        kill KILL => $pid;
        waitpid($pid, 0);
    }
    my $status = $? >> 8;
    for my $k ($h->{conf} ? @kids : ()) {
        kill KILL => $k if index(slurp("/proc/$k/cmdline"), $h->{conf}) >= 0;
    }
    return $status;
}

# httpd_children($h or $pid) -> the pids (sorted) of the live processes
# whose parent is that httpd.
sub httpd_children {
    my $ppid = ref $_[0] ? $_[0]{pid} : $_[0];
    return unless $ppid;
    opendir my $d, '/proc' or return;
    my @kids;
    for my $p (grep { /^\d+\z/ } readdir $d) {
        # pid (comm) state ppid ...
        my ($state, $pp) = slurp("/proc/$p/stat") =~ /\)\s+(\S)\s+(\d+)/
            or next;
        push @kids, $p if $pp == $ppid && $state ne 'Z';
    }
    return sort { $a <=> $b } @kids;
}

# rss_kb($pid) -> VmRSS in kB (0 when gone)
sub rss_kb {
    my ($kb) = slurp("/proc/$_[0]/status") =~ /^VmRSS:\s+(\d+)/m;
    return $kb // 0;
}

# children_rss_kb($h or $pid) -> (total kB, { pid => kB })
sub children_rss_kb {
    my %rss = map { $_ => rss_kb($_) } httpd_children(@_);
    my $sum = 0;
    $sum += $_ for values %rss;
    return ($sum, \%rss);
}

# graceful($h, $how = 'graceful') -> exit status of
# `httpd -d <dir> -f <conf> -k $how` (graceful, restart, ...)
sub graceful {
    my ($h, $how) = @_;
    my $out = `$h->{httpd} -d $h->{dir} -f $h->{conf} -k ${\($how || 'graceful')} 2>&1`;
    $h->{graceful_output} = $out;
    return $? >> 8;
}

# log_crashes($text) -> lines that tell of a child that died of a signal
# ("exit signal ...", AH00052), "Segmentation", sanitizer reports. Callers
# pass only the log written during their own test.
sub log_crashes {
    return grep { /exit signal|Segmentation|SIGSEGV|SIGABRT|SIGBUS|
                   core dumped|AddressSanitizer|runtime error:/x }
           split /\n/, shift // '';
}

1;
