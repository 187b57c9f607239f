package RS::Fault;

# Helpers of the fault-injection tests (t/4x_fault_*.t):
#   - encode_state/decode_state: the binary session state of PROTOCOL.md
#     (wrappers of RS::Proto's codec);
#     decode_record: the memcached record of docs/DESIGN.md (header + state)
#   - RS::Fault::Conn: a raw HTTP/1.1 connection read with sysread and
#     deadlines (response heads, chunked bodies), for requests that stay open
#     (writeable GET, POST) or that a test abandons halfway
#   - held_get(): a writeable GET that holds the session's lock
#   - spawn_memcached/kill_memcached: memcached instances of our own (pool
#     tests), our children, signalled by pid only
#   - start_own_httpd/stop_own_httpd/httpd_children/graceful: an httpd of our
#     own with a generated config (choice of MPM, store, process limits),
#     for tests that kill or restart httpd processes
#   - ensure_suite_memcached(): restarts the suite's memcached on its port
#     when a test left it dead
#
#   use lib 't/lib';
#   use RS::Fault qw(:all);

use strict;
use warnings;

use Exporter 'import';
use File::Path ();
use File::Spec ();
use IO::Select ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes ();

use Apache::Test ();
use RS::Test ();
use RS::Memcached ();
use RS::Codec qw(decode_state);

our @EXPORT_OK = qw(
    now suite_port
    held_get put_state readonly_get raw_request cookie_id timed
    spawn_memcached kill_memcached
    start_own_httpd stop_own_httpd httpd_children graceful access_log
    ensure_suite_memcached settle_suite_memcached slurp
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

sub now { Time::HiRes::time() }

# The suite's server port. Cached: Apache::Test works it out from its config
# (which takes seconds on a busy machine); call it before forking clients.
my $SUITE_PORT;
sub suite_port {
    $SUITE_PORT ||= (split /:/, Apache::TestRequest::hostport())[1];
    return $SUITE_PORT;
}

# ---------------------------------------------------------------------------
# HTTP over a raw socket, with deadlines

package RS::Fault::Conn;

use Time::HiRes ();

sub new {
    my ($class, $port, $timeout) = @_;
    $port ||= RS::Fault::suite_port();
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => $timeout || 5)
        or die "RS::Fault::Conn: 127.0.0.1:$port: $!\n";
    binmode $s;
    return bless { sock => $s, buf => '', port => $port, eof => 0 }, $class;
}

sub sock { $_[0]{sock} }

sub send {
    my ($self, $data) = @_;
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($self->{sock}, $data, length($data) - $off, $off);
        return 0 unless defined $n;
        $off += $n;
    }
    return 1;
}

# send_request($method, $path, [headers], $body, %o): the request line,
# Host, the headers, Content-Length unless o{no_length}, and $body (which may
# be only a part of what Content-Length announces when o{length} says more).
sub send_request {
    my ($self, $method, $path, $headers, $body, %o) = @_;
    $body //= '';
    my $head = "$method $path HTTP/1.1\r\nHost: 127.0.0.1:$self->{port}\r\n";
    my @h = @{ $headers || [] };
    while (my ($n, $v) = splice @h, 0, 2) {
        $head .= "$n: $v\r\n";
    }
    unless ($o{no_length}) {
        my $len = $o{length} // length $body;
        $head .= "Content-Length: $len\r\n"
            if $len || $method =~ /^(?:PUT|POST)$/i;
    }
    return $self->send("$head\r\n$body");
}

# More bytes into the buffer before the deadline: 1, 0 on EOF or error,
# undef on timeout.
sub fill {
    my ($self, $deadline) = @_;
    return 0 if $self->{eof};
    my $left = $deadline - Time::HiRes::time();
    return undef if $left <= 0;
    my $sel = IO::Select->new($self->{sock});
    return undef unless $sel->can_read($left);
    my $n = sysread($self->{sock}, $self->{buf}, 65536, length $self->{buf});
    if (!$n) {
        $self->{eof} = 1;
        $self->{error} = $! unless defined $n;
        return 0;
    }
    return 1;
}

# A line (without CRLF) before the deadline; undef on timeout/EOF.
sub line {
    my ($self, $deadline) = @_;
    while (1) {
        my $i = index($self->{buf}, "\n");
        if ($i >= 0) {
            my $l = substr($self->{buf}, 0, $i + 1, '');
            $l =~ s/\r?\n\z//;
            return $l;
        }
        my $r = $self->fill($deadline);
        return undef unless $r;
    }
}

sub bytes {
    my ($self, $n, $deadline) = @_;
    while (length $self->{buf} < $n) {
        my $r = $self->fill($deadline);
        return undef unless $r;
    }
    return substr($self->{buf}, 0, $n, '');
}

# read_head($timeout) -> (code, {lc name => value}, reason) or () on
# timeout/EOF ($self->{why} says which). Interim 1xx answers are skipped.
sub read_head {
    my ($self, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 10);
    while (1) {
        my $status = $self->line($deadline);
        unless (defined $status) {
            $self->{why} = $self->{eof} ? 'eof' : 'timeout';
            return;
        }
        my ($code, $reason) = $status =~ m{^HTTP/\d\.\d (\d{3}) ?(.*)$}
            or do { $self->{why} = "bad status line '$status'"; return };
        my %h;
        while (1) {
            my $l = $self->line($deadline);
            unless (defined $l) {
                $self->{why} = $self->{eof} ? 'eof' : 'timeout';
                return;
            }
            last if $l eq '';
            my ($n, $v) = split /:\s*/, $l, 2;
            $n = lc $n;
            $h{$n} = exists $h{$n} ? "$h{$n}, $v" : $v;
        }
        next if $code =~ /^1/;
        $self->{head} = \%h;
        $self->{chunked} = ($h{'transfer-encoding'} // '') =~ /chunked/i;
        $self->{left} = $h{'content-length'};
        return ($code, \%h, $reason);
    }
}

# The next piece of body: for chunked, one chunk's data ('' for the last
# chunk, after which {done} is set); for Content-Length, what arrives, up to
# the length; without either, what arrives until EOF. undef on timeout or
# EOF ({why}).
sub read_piece {
    my ($self, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 10);
    return '' if $self->{done};
    if ($self->{chunked}) {
        my $l = $self->line($deadline);
        unless (defined $l) {
            $self->{why} = $self->{eof} ? 'eof' : 'timeout';
            return undef;
        }
        my ($hex) = $l =~ /^([0-9A-Fa-f]+)/
            or do { $self->{why} = "bad chunk line '$l'"; return undef };
        my $n = hex $hex;
        if ($n == 0) {
            while (1) {    # trailers
                my $t = $self->line($deadline);
                unless (defined $t) {
                    $self->{why} = $self->{eof} ? 'eof' : 'timeout';
                    return undef;
                }
                last if $t eq '';
            }
            $self->{done} = 1;
            return '';
        }
        my $d = $self->bytes($n + 2, $deadline);
        unless (defined $d) {
            $self->{why} = $self->{eof} ? 'eof' : 'timeout';
            return undef;
        }
        return substr($d, 0, $n);
    }
    if (defined $self->{left}) {
        if ($self->{left} == 0) {
            $self->{done} = 1;
            return '';
        }
        unless (length $self->{buf}) {
            my $r = $self->fill($deadline);
            unless ($r) {
                $self->{why} = $self->{eof} ? 'eof' : 'timeout';
                return undef;
            }
        }
        my $take = length $self->{buf} < $self->{left}
                 ? length $self->{buf} : $self->{left};
        $self->{left} -= $take;
        $self->{done} = 1 if $self->{left} == 0;
        return substr($self->{buf}, 0, $take, '');
    }
    unless (length $self->{buf}) {
        my $r = $self->fill($deadline);
        unless ($r) {
            if ($self->{eof}) { $self->{done} = 1; return '' }
            $self->{why} = 'timeout';
            return undef;
        }
    }
    return substr($self->{buf}, 0, length $self->{buf}, '');
}

# Body bytes until at least $n have arrived (or the body ends); returns
# them, or undef on timeout/EOF.
sub read_at_least {
    my ($self, $n, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 10);
    my $got = '';
    while (length $got < $n && !$self->{done}) {
        my $p = $self->read_piece($deadline - Time::HiRes::time());
        return undef unless defined $p;
        $got .= $p;
    }
    return $got;
}

# read_to_end($timeout) -> ('complete'|'eof'|'timeout', body bytes): reads
# until the response ends (last chunk / full length), the connection closes,
# or the time runs out.
sub read_to_end {
    my ($self, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 10);
    my $body = '';
    while (!$self->{done}) {
        my $left = $deadline - Time::HiRes::time();
        return ('timeout', $body) if $left <= 0;
        my $p = $self->read_piece($left);
        unless (defined $p) {
            return ($self->{eof} ? 'eof' : 'timeout', $body);
        }
        $body .= $p;
    }
    return ('complete', $body);
}

# A whole response: (code, headers, reason, body) or () ({why}).
sub response {
    my ($self, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 10);
    my ($code, $h, $reason) = $self->read_head($timeout) or return;
    my ($how, $body) = $self->read_to_end($deadline - Time::HiRes::time());
    if ($how ne 'complete' && !($how eq 'eof' && !$self->{chunked}
                                && !defined $self->{left})) {
        $self->{why} = "body: $how";
        return;
    }
    return ($code, $h, $reason, $body);
}

sub close {
    my $self = shift;
    close $self->{sock} if $self->{sock};
    delete $self->{sock};
}

package RS::Fault;

# cookie_id($headers_hashref or Set-Cookie value) -> the session ID the
# Set-Cookie names, or undef.
sub cookie_id {
    my $h = shift;
    my $v = ref $h ? $h->{'set-cookie'} : $h;
    return unless defined $v;
    my $name = RS::Test::COOKIE_NAME;
    return $v =~ /\Q$name\E=([a-z0-5]+)/ ? $1 : undef;
}

sub _endpoint_headers {
    my %o = @_;
    my @h = (RS::Test::KEY_HEADER, RS::Test::API_KEY);
    push @h, Cookie => RS::Test::COOKIE_NAME . "=$o{session}"
        if defined $o{session};
    push @h, RS::Test::READONLY_HEADER, 'true' if $o{readonly};
    push @h, @{ $o{headers} || [] };
    return @h;
}

# held_get(session => id|undef, port => ..., timeout => s) -> a hashref
#   { conn, code, headers, reason, state (decoded), id, t0, t_head }
# The writeable GET's head and the state (and its newline) have been read;
# the connection stays open. code != 200: no state, {conn} has the rest.
sub held_get {
    my %o = @_;
    my $c = RS::Fault::Conn->new($o{port});
    my $t0 = now();
    $c->send_request('GET', RS::Test::ENDPOINT, [_endpoint_headers(%o)]);
    my ($code, $h, $reason) = $c->read_head($o{timeout} // 10);
    my $res = { conn => $c, code => $code, headers => $h, reason => $reason,
                t0 => $t0, t_head => now() };
    return $res unless defined $code && $code == 200;
    # the state, then one newline; heartbeats follow
    my $buf = '';
    my $deadline = now() + ($o{timeout} // 10);
    while (1) {
        my $p = $c->read_piece($deadline - now());
        last unless defined $p && length $p;
        $buf .= $p;
        my $st = eval { decode_state($buf, 1) };
        if ($st && length $st->{rest}) {
            $res->{state} = $st;
            $res->{id} = $st->{id};
            last;
        }
    }
    $res->{raw} = $buf;
    return $res;
}

# put_state($id, $bytes, port => ...) -> (code, reason, body, headers)
# over a fresh connection.
sub put_state {
    my ($id, $bytes, %o) = @_;
    my $c = RS::Fault::Conn->new($o{port});
    $c->send_request('PUT', RS::Test::ENDPOINT,
                     [_endpoint_headers(session => $id), Connection => 'close'],
                     $bytes);
    my ($code, $h, $reason, $body) = $c->response($o{timeout} // 10);
    $c->close;
    return ($code, $reason, $body, $h);
}

# readonly_get($id, port => ...) -> (code, state or undef, headers, body)
sub readonly_get {
    my ($id, %o) = @_;
    my $c = RS::Fault::Conn->new($o{port});
    $c->send_request('GET', $o{path} // RS::Test::ENDPOINT,
                     [_endpoint_headers(session => $id, readonly => 1,
                                        headers => $o{headers}),
                      Connection => 'close']);
    my ($code, $h, $reason, $body) = $c->response($o{timeout} // 10);
    $c->close;
    my $st = defined $code && $code == 200 ? eval { decode_state($body, 1) }
                                           : undef;
    return ($code, $st, $h, $body);
}

# raw_request($method, $path, headers => [...], body => ..., port => ...,
#             timeout => s) -> (code, headers, reason, body), or () with
# $@ set to why, over a fresh connection (Connection: close).
sub raw_request {
    my ($method, $path, %o) = @_;
    my $c = eval { RS::Fault::Conn->new($o{port}) } or return;
    $c->send_request($method, $path,
                     [@{ $o{headers} || [] }, Connection => 'close'],
                     $o{body});
    my @r = $c->response($o{timeout} // 10);
    $@ = $c->{why} // '' unless @r;
    $c->close;
    return @r;
}

# timed(sub { ... }) -> (seconds, results of the sub)
sub timed {
    my $code = shift;
    my $t0 = now();
    my @r = $code->();
    return (now() - $t0, @r);
}

# ---------------------------------------------------------------------------
# memcached instances of our own

# spawn_memcached($port?) -> { pid, port, log }: our child; dies when it
# does not answer within 10 s.
sub spawn_memcached {
    my $want = shift;
    my $bin = $RS::Memcached::BIN;
    for my $try (1 .. ($want ? 1 : 5)) {
        my $port = $want || RS::Test::free_port();
        my $log = File::Spec->catfile(RS::Test::t_dir(), 'logs',
                                      "memcached-fault-$port.log");
        my @cmd = ($bin, '-l', '127.0.0.1', '-p', $port, '-U', '0',
                   '-m', '64', '-t', '2');
        push @cmd, '-u', 'root' if $> == 0;
        my $pid = fork;
        die "spawn_memcached: fork: $!\n" unless defined $pid;
        if ($pid == 0) {
            POSIX::setsid();    # a process group of its own, as httpd's
            open STDIN, '<', '/dev/null';
            open STDOUT, '>>', $log;
            open STDERR, '>&', \*STDOUT;
            { no warnings 'exec'; exec { $cmd[0] } @cmd; }
            POSIX::_exit(127);
        }
        return { pid => $pid, port => $port, log => $log }
            if RS::Memcached::wait_ready($port, 10, $pid);
        kill_memcached({ pid => $pid, port => $port });
    }
    die "spawn_memcached: no memcached came up\n";
}

# kill_memcached($h, $sig = 'KILL'): signals our memcached child and reaps
# it; returns once nothing answers on its port.
sub kill_memcached {
    my ($h, $sig) = @_;
    local $?;
    my $pid = delete $h->{pid} or return;
    kill($sig || 'KILL', $pid);
    my $deadline = now() + 10;
    while (now() < $deadline) {
        last if waitpid($pid, POSIX::WNOHANG()) == $pid;
        Time::HiRes::sleep(0.01);
    }
    while (defined RS::Memcached::version($h->{port}, 1) && now() < $deadline) {
        Time::HiRes::sleep(0.01);
    }
}

# The suite's memcached: running again on its port (a test that killed it
# calls this at the end, whatever happened).
sub ensure_suite_memcached {
    local $?;
    my $port = RS::Test::mc_port();
    return 1 if defined RS::Memcached::version($port, 1);
    my $h = eval { RS::Memcached::start($port) };
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
    my $file = RS::Memcached::pidfile();
    my $mtime = (Time::HiRes::stat($file))[9];
    return unless $mtime;
    my $wait = $mtime + 2.5 - now();
    Time::HiRes::sleep($wait) if $wait > 0 && $wait < 4;
}

# ---------------------------------------------------------------------------
# an httpd of our own

sub slurp {
    open my $fh, '<', shift or return '';
    local $/;
    return <$fh> // '';
}

# start_own_httpd(%o) -> { pid, port, dir, conf, error_log, url, httpd }
# httpd (the suite's binary) in the foreground as our child, with the
# suite's modules except the MPM and CGI, our module, the endpoint at
# ENDPOINT, the suite's API key, lock timeout and lease. Options:
#   mpm     => 'event' (default) | 'prefork' | 'worker'
#   mpm_conf => text of MPM directives (default: a small server)
#   store   => RemoteSessionStore value (default: the suite's memcached)
#   config  => more text, appended
#   name    => a word for the directory (default 'own')
#   cgi     => 1: t/cgi-bin/ at /req/ under SessionRequire On (mod_cgid, or
#              mod_cgi with prefork)
#   log_level => LogLevel (default 'info remote_session:debug')
sub start_own_httpd {
    my %o = @_;
    my $vars = Apache::Test::vars();
    my $httpd = $vars->{httpd} or die "start_own_httpd: no httpd\n";
    my $moddir = $vars->{rs_modulesdir}
        || Apache::Test::config()->apxs('LIBEXECDIR');
    my $mpm = $o{mpm} || 'event';
    my $port = RS::Test::free_port();
    my $t = RS::Test::t_dir();
    my $dir = File::Spec->catdir($t, 'logs',
                                 'fault-' . ($o{name} || 'own') . "-$port");
    File::Path::remove_tree($dir);
    File::Path::make_path($dir);
    chmod 0755, $dir;
    my $conf = "$dir/httpd.conf";
    my $store = $o{store} // '--SERVER=127.0.0.1:' . RS::Test::mc_port();
    my $level = $o{log_level} || 'info remote_session:debug';

    my $text = <<"EOC";
# generated by RS::Fault::start_own_httpd
ServerRoot "$dir"
DefaultRuntimeDir "$dir"
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error_log"
LogLevel $level
Listen 127.0.0.1:$port
ServerName 127.0.0.1:$port
Timeout 30
KeepAlive On
EOC
    $text .= "User \"$vars->{user}\"\nGroup \"$vars->{group}\"\n" if $> == 0;
    $text .= "LoadModule mpm_${mpm}_module \"$moddir/mod_mpm_$mpm.so\"\n";
    for my $m (RS::Test::_suite_modules()) {
        next if $m->[0] =~ /^(?:mpm_\w+|cgid?|http2)_module$/;
        $text .= "<IfModule !$m->[0]>\n    LoadModule $m->[0] \"$m->[1]\"\n"
               . "</IfModule>\n";
    }
    my $mpm_conf = $o{mpm_conf} // ($mpm eq 'prefork' ? <<'P' : <<'E');
StartServers 2
MinSpareServers 1
MaxSpareServers 4
MaxRequestWorkers 10
ServerLimit 10
P
StartServers 1
ServerLimit 4
ThreadsPerChild 10
MaxRequestWorkers 20
MinSpareThreads 5
MaxSpareThreads 20
E
    $text .= $mpm_conf;
    # the access log names the process that served each request
    $text .= "<IfModule log_config_module>\n"
           . "    LogFormat \"%P %m %U %>s\" fault\n"
           . "    CustomLog \"$dir/access_log\" fault\n</IfModule>\n";
    $text .= "DocumentRoot \"$dir\"\n"
           . "<IfModule mime_module>\n    TypesConfig /etc/mime.types\n</IfModule>\n";
    $text .= sprintf <<'EOC', $store, RS::Test::API_KEY, RS::Test::LOCK_TIMEOUT, RS::Test::LOCK_LEASE, RS::Test::ENDPOINT;
RemoteSessionStore "%1$s"
RemoteSessionApiKey %2$s
RemoteSessionLockTimeout %3$d
RemoteSessionLockLease %4$d
<Location %5$s>
    SetHandler remote-session
</Location>
EOC
    if ($o{cgi}) {
        # t/cgi-bin/env.cgi under SessionRequire On at /req/, as in the suite
        my $cgi = $mpm eq 'prefork' ? 'cgi' : 'cgid';
        $text .= "LoadModule ${cgi}_module \"$moddir/mod_$cgi.so\"\n"
               . "<IfModule cgid_module>\n    ScriptSock \"$dir/cgisock\"\n</IfModule>\n"
               . "ScriptAlias /req/ \"$t/cgi-bin/\"\n"
               . "<Directory \"$t/cgi-bin\">\n    Options +ExecCGI\n"
               . "    Require all granted\n</Directory>\n"
               . "<Location /req>\n    SessionRequire On\n</Location>\n";
    }
    $text .= "$o{config}\n" if defined $o{config};
    open my $fh, '>', $conf or die "start_own_httpd: $conf: $!\n";
    print $fh $text;
    close $fh or die "start_own_httpd: $conf: $!\n";

    my $pid = fork;
    die "start_own_httpd: fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        # its own process group: prefork's parent signals its whole group
        # (killpg) when it stops, which must not reach the test
        POSIX::setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$dir/stderr.log";
        open STDERR, '>&', \*STDOUT;
        { no warnings 'exec'; exec $httpd, '-d', $dir, '-f', $conf, '-DFOREGROUND'; }
        POSIX::_exit(127);
    }
    my $h = { pid => $pid, port => $port, dir => $dir, conf => $conf,
              error_log => "$dir/error_log", httpd => $httpd,
              access_log => "$dir/access_log",
              url => "http://127.0.0.1:$port" };
    my $deadline = now() + 30;
    while (now() < $deadline) {
        return $h if RS::Test::_http_answers($port);
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
            delete $h->{pid};
            die "start_own_httpd: httpd exited ($?):\n"
                . slurp("$dir/stderr.log") . slurp("$dir/error_log");
        }
        Time::HiRes::sleep(0.05);
    }
    stop_own_httpd($h);
    die "start_own_httpd: httpd did not answer on $port:\n"
        . slurp("$dir/stderr.log") . slurp("$dir/error_log");
}

# stop_own_httpd($h): SIGTERM to its parent, SIGKILL after 10 s, reaped.
# Leaves $? alone.
sub stop_own_httpd {
    my $h = shift;
    local $?;    # called from END blocks: keep the test's exit status
    my $pid = delete $h->{pid} or return;
    my @kids = httpd_children({ pid => $pid });
    kill TERM => $pid;
    my $deadline = now() + 10;
    my $reaped = 0;
    while (now() < $deadline) {
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) { $reaped = 1; last }
        Time::HiRes::sleep(0.05);
    }
    unless ($reaped) {
        kill KILL => $pid;
        waitpid($pid, 0);
    }
    # children of ours that outlived their parent (they exit on their own
    # once the parent is gone; make sure, by their pids)
    for my $k (@kids) {
        kill KILL => $k if _is_httpd_of($k, $h->{conf});
    }
    return;
}

sub _is_httpd_of {
    my ($pid, $conf) = @_;
    open my $fh, '<', "/proc/$pid/cmdline" or return 0;
    local $/;
    my $cmd = <$fh> // '';
    return index($cmd, $conf) >= 0;
}

# httpd_children($h) -> pids of the processes whose parent is $h's httpd
sub httpd_children {
    my $h = shift;
    my $ppid = $h->{pid} or return;
    my @kids;
    opendir my $d, '/proc' or return;
    for my $p (grep { /^\d+$/ } readdir $d) {
        open my $fh, '<', "/proc/$p/stat" or next;
        my $stat = <$fh> // next;
        # pid (comm) state ppid ...
        my ($state, $pp) = $stat =~ /\)\s+(\S)\s+(\d+)/ or next;
        push @kids, $p if $pp == $ppid && $state ne 'Z';
    }
    return sort { $a <=> $b } @kids;
}

# access_log($h) -> ([pid, method, path, status], ...) of the requests our
# httpd has logged so far
sub access_log {
    my $h = shift;
    return map { [split ' ', $_, 4] } grep { /\S/ } split /\n/,
        slurp($h->{access_log});
}

# graceful($h, $how = 'graceful') -> exit status of
# `httpd -d <dir> -f <conf> -k graceful` (or -k $how)
sub graceful {
    my ($h, $how) = @_;
    $how ||= 'graceful';    # or 'restart'
    my $out = `$h->{httpd} -d $h->{dir} -f $h->{conf} -k $how 2>&1`;
    $h->{graceful_output} = $out;
    return $? >> 8;
}

1;
