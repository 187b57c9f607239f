package RS::Hostile;

# Helpers of the contention, hostile-input and memory tests (t/5x_*.t) and
# of bench/:
#   - the binary session state (PROTOCOL.md, version 1): enc_state(),
#     dec_state(), enc_7bit(), ..., wrappers of RS::Proto's encoder/decoder
#     (independent of the module's C codec)
#   - a raw keep-alive HTTP/1.1 client that sends exactly the bytes it is
#     given (hostile headers, chunked bodies) and reads any answer:
#     RS::Hostile::Client
#   - a held writeable GET: hold_get() / $hold->finish
#   - /proc helpers: the RSS of an httpd's children
#   - own_httpd(): an httpd of our own (prefork or event, any settings) with
#     the module, mod_cgi(d) and the suite's (or any) memcached, in a
#     session of its own (prefork signals its whole process group when it
#     stops); start_memcached() for bench/
#   - mc_stats(): memcached's counters (to prove a request touched nothing)
#   - log_crashes(): "exit signal" / "Segmentation" lines of an error log
#
#   use lib 't/lib';
#   use RS::Hostile qw(:all);
#
# bench/ scripts use it too (RS::Proto loads Apache::Test but needs no test
# configuration to encode or decode).

use strict;
use warnings;

use Exporter 'import';
use IO::Select ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes ();
use File::Path ();
use File::Spec ();
use Cwd ();

use RS::Codec qw(encode_state dec_state);

use constant API_KEY     => '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
use constant KEY_HEADER  => 'X-SystemWebAdapter-RemoteAppAuthentication-Key';
use constant RO_HEADER   => 'X-SystemWebAdapter-RemoteAppSession-ReadOnly';
use constant ENDPOINT    => '/systemweb-adapters/session';
use constant COOKIE_NAME => 'ASP.NET_SessionId';
use constant MSG_DESER   => 'Failed to deserialize session state';

our @EXPORT_OK = qw(
    API_KEY KEY_HEADER RO_HEADER ENDPOINT COOKIE_NAME MSG_DESER
    hold_get new_session read_state endpoint_cycle set_cookie_id
    children_of rss_kb children_rss_kb log_crashes slurp
    own_httpd stop_own_httpd free_port start_memcached stop_memcached
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

# ---------------------------------------------------------------------------
# a raw HTTP/1.1 client

package RS::Hostile::Client;

# RS::Hostile::Client->new($port, timeout => 30)
sub new {
    my ($class, $port, %o) = @_;
    return bless { port => $port, timeout => $o{timeout} || 30,
                   s => undef, buf => '' }, $class;
}

sub _connect {
    my $self = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $self->{port}, Proto => 'tcp',
                                  Timeout => 10)
        or die "RS::Hostile: connect 127.0.0.1:$self->{port}: $!\n";
    binmode $s;
    $s->autoflush(1);
    $self->{s} = $s;
    $self->{buf} = '';
    $self->{used} = 0;
    return $s;
}

sub close {
    my $self = shift;
    CORE::close($self->{s}) if $self->{s};
    $self->{s} = undef;
    $self->{buf} = '';
}

sub socket { $_[0]{s} }

# more bytes into the buffer; false on EOF/timeout
sub _fill {
    my ($self, $deadline) = @_;
    my $s = $self->{s} or return 0;
    my $left = $deadline - Time::HiRes::time();
    return 0 if $left <= 0;
    my $sel = IO::Select->new($s);
    return 0 unless $sel->can_read($left);
    my $n = sysread($s, $self->{buf}, 65536, length $self->{buf});
    return $n ? 1 : 0;
}

sub _line {
    my ($self, $deadline) = @_;
    while (1) {
        my $i = index($self->{buf}, "\n");
        if ($i >= 0) {
            my $l = substr($self->{buf}, 0, $i + 1, '');
            $l =~ s/\r?\n\z//;
            return $l;
        }
        return unless $self->_fill($deadline);
    }
}

sub _bytes {
    my ($self, $n, $deadline) = @_;
    while (length $self->{buf} < $n) {
        return unless $self->_fill($deadline);
    }
    return substr($self->{buf}, 0, $n, '');
}

# send_raw($raw) writes bytes on the connection (opening it when needed);
# false when the server closed it first (a 413 does).
sub send_raw {
    my ($self, $raw) = @_;
    $self->_connect unless $self->{s};
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $raw) {
        my $n = syswrite($self->{s}, $raw, 65536, $off);
        return 0 unless defined $n;    # the server closed (413 & co.)
        $off += $n;
    }
    return 1;
}

# build($method, $path, headers => [n, v, ...], body => bytes,
#       chunked => 1, host => 1 (default), key => API key or undef,
#       cookie => session id) -> raw request bytes
sub build {
    my ($self, $method, $path, %o) = @_;
    my $h = "$method $path HTTP/1.1\r\n";
    $h .= "Host: 127.0.0.1:$self->{port}\r\n" unless defined $o{host} && !$o{host};
    $h .= RS::Hostile::KEY_HEADER() . ": $o{key}\r\n" if defined $o{key};
    $h .= "Cookie: " . RS::Hostile::COOKIE_NAME() . "=$o{cookie}\r\n"
        if defined $o{cookie};
    my @h = @{ $o{headers} || [] };
    while (my ($n, $v) = splice @h, 0, 2) {
        $h .= "$n: $v\r\n";
    }
    my $body = $o{body};
    if (defined $body && $o{chunked}) {
        $h .= "Transfer-Encoding: chunked\r\n\r\n";
        my $step = $o{chunk} || 7;
        for (my $i = 0; $i < length $body; $i += $step) {
            my $c = substr($body, $i, $step);
            $h .= sprintf("%x\r\n", length $c) . $c . "\r\n";
        }
        return $h . "0\r\n\r\n";
    }
    if (defined $body || $method =~ /^(?:PUT|POST)$/) {
        $body //= '';
        $h .= "Content-Length: " . length($body) . "\r\n";
    }
    return $h . "\r\n" . ($body // '');
}

# read_head() -> { code, reason, headers => { lc name => value (joined
# with ', ') }, list => [[name, value], ...] } or undef
sub read_head {
    my ($self, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout || $self->{timeout});
    my $status;
    do {
        $status = $self->_line($deadline);
        return unless defined $status;
    } while ($status eq '');
    my ($code, $reason) = $status =~ m{^HTTP/\d\.\d (\d{3}) ?(.*)\z}
        or return { code => 0, reason => "bad status line: $status",
                    headers => {}, list => [] };
    my (%h, @list);
    while (defined(my $l = $self->_line($deadline))) {
        last if $l eq '';
        my ($n, $v) = split /:[ \t]*/, $l, 2;
        push @list, [$n, $v];
        $n = lc $n;
        $h{$n} = exists $h{$n} ? "$h{$n}, $v" : $v;
    }
    return { code => $code, reason => $reason, headers => \%h,
             list => \@list };
}

# read_body($res, $method) fills $res->{body}; closes the connection when
# the server will (Connection: close, or a body delimited by close).
sub read_body {
    my ($self, $res, $method, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout || $self->{timeout});
    my $h = $res->{headers};
    my $body = '';
    if ($method eq 'HEAD' || $res->{code} =~ /^(?:1..|204|304)$/) {
        # no body
    }
    elsif (($h->{'transfer-encoding'} // '') =~ /chunked/i) {
        while (1) {
            my $l = $self->_line($deadline);
            return $res->{incomplete} = 1 unless defined $l;
            my $n = hex(($l =~ /^([0-9A-Fa-f]+)/)[0] // 0);
            if ($n == 0) {
                while (defined(my $t = $self->_line($deadline))) {
                    last if $t eq '';
                }
                last;
            }
            my $c = $self->_bytes($n + 2, $deadline);
            return $res->{incomplete} = 1 unless defined $c;
            $body .= substr($c, 0, $n);
        }
    }
    elsif (defined $h->{'content-length'}) {
        my $c = $self->_bytes($h->{'content-length'}, $deadline);
        $res->{incomplete} = 1 unless defined $c;
        $body = $c // '';
    }
    else {
        1 while $self->_fill($deadline);
        $body = $self->{buf};
        $self->{buf} = '';
        $self->close;
    }
    $res->{body} = $body;
    $self->close if ($h->{connection} // '') =~ /close/i;
    return $res;
}

# request($method, $path, %opt as build()) -> response hash (code 0 and
# reason 'no answer' when the server closed without one). Reconnects once
# when a kept-alive connection turns out closed.
sub request {
    my ($self, $method, $path, %o) = @_;
    my $raw = exists $o{raw} ? $o{raw} : $self->build($method, $path, %o);
    for my $try (1, 2) {
        my $reused = $self->{s} && $self->{used};
        $self->_connect unless $self->{s};
        $self->{used} = 1;
        my $sent = $self->send_raw($raw);
        my $res = $self->read_head($o{timeout});
        if (!$res) {
            $self->close;
            next if $reused && $try == 1;
            return { code => 0, reason => 'no answer', headers => {},
                     list => [], body => '' };
        }
        return $self->read_body($res, $method, $o{timeout});
    }
}

# ---------------------------------------------------------------------------
# a held writeable GET

package RS::Hostile::Hold;

# RS::Hostile::hold_get($port, cookie => id, headers => [...]) -> a hold:
# { code, headers, state (decoded), raw (state bytes), id } with the
# connection still open, or { code => ... } when the answer was not 200.
sub RS::Hostile::hold_get {
    my ($port, %o) = @_;
    my $c = RS::Hostile::Client->new($port, timeout => $o{timeout} || 30);
    my $raw = $c->build('GET', $o{path} || RS::Hostile::ENDPOINT(),
                        key => RS::Hostile::API_KEY(), %o);
    $c->send_raw($raw);
    my $res = $c->read_head($o{timeout} || 30)
        or return bless { code => 0, reason => 'no answer', c => $c }, __PACKAGE__;
    my $self = bless { %$res, c => $c, data => '' }, __PACKAGE__;
    if ($res->{code} != 200) {
        $c->read_body($res, 'GET');
        $self->{body} = $res->{body};
        $c->close;
        return $self;
    }
    my $deadline = Time::HiRes::time() + ($o{timeout} || 30);
    while (1) {
        my ($st, $err) = RS::Codec::dec_state($self->{data}, prefix => 1);
        if ($st && length($self->{data}) > $st->{length}) {
            $self->{state} = $st;
            $self->{raw} = substr($self->{data}, 0, $st->{length});
            $self->{newline} = substr($self->{data}, $st->{length}, 1);
            $self->{id} = $st->{id};
            last;
        }
        if (!$st && $err !~ /^truncated/) {
            $self->{error} = "undecodable state: $err";
            last;
        }
        last unless $self->_chunk($deadline);
    }
    return $self;
}

# one chunk of the streamed body into data; false at the end or timeout
sub _chunk {
    my ($self, $deadline) = @_;
    my $c = $self->{c};
    my $l = $c->_line($deadline);
    return 0 unless defined $l;
    my $n = hex(($l =~ /^([0-9A-Fa-f]+)/)[0] // 0);
    if ($n == 0) {
        while (defined(my $t = $c->_line($deadline))) { last if $t eq '' }
        $self->{ended} = 1;
        return 0;
    }
    my $d = $c->_bytes($n + 2, $deadline);
    return 0 unless defined $d;
    $self->{data} .= substr($d, 0, $n);
    return 1;
}

# drain(): reads what heartbeats arrived, without waiting; true while open
sub drain {
    my $self = shift;
    return 0 if $self->{ended};
    my $c = $self->{c};
    while (IO::Select->new($c->socket)->can_read(0) || length $c->{buf}) {
        last unless $self->_chunk(Time::HiRes::time() + 2);
    }
    return !$self->{ended};
}

# finish($timeout) -> true when the response ended normally (0-chunk)
# within $timeout seconds; the connection is closed either way.
sub finish {
    my ($self, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 10);
    1 while !$self->{ended} && $self->_chunk($deadline);
    $self->{c}->close;
    return $self->{ended} ? 1 : 0;
}

sub abort { $_[0]{c}->close }

package RS::Hostile;

# new_session($port) -> a fresh session's ID (read-only GET without cookie)
sub new_session {
    my $port = shift;
    my $c = RS::Hostile::Client->new($port);
    my $res = $c->request('GET', ENDPOINT, key => API_KEY,
                          headers => [RO_HEADER, 'true']);
    $c->close;
    return set_cookie_id($res);
}

# set_cookie_id($res) -> the session ID of a Set-Cookie of the answer
sub set_cookie_id {
    my $res = shift;
    for (@{ $res->{list} || [] }) {
        next unless lc $_->[0] eq 'set-cookie';
        return $1 if $_->[1] =~ /^\Q${\COOKIE_NAME}\E=([^;]*)/;
    }
    return;
}

# read_state($port, $id) -> (decoded state or undef, response)
sub read_state {
    my ($port, $id, $c) = @_;
    my $own = !$c;
    $c ||= RS::Hostile::Client->new($port);
    my $res = $c->request('GET', ENDPOINT, key => API_KEY, cookie => $id,
                          headers => [RO_HEADER, 'true']);
    $c->close if $own;
    return (undef, $res) unless $res->{code} == 200;
    my ($st) = dec_state($res->{body});
    return ($st, $res);
}

# endpoint_cycle($port, $id, sub { my $state = shift; ...; return $new }):
# writeable GET, the callback turns the state into the state to PUT (a
# hash for enc_state, or raw bytes), PUT, then waits for the GET to end.
# Returns { get => code, put => code, put_reason, ended => 0/1, state }.
sub endpoint_cycle {
    my ($port, $id, $cb, %o) = @_;
    my $hold = hold_get($port, cookie => $id, timeout => $o{timeout});
    my %r = (get => $hold->{code});
    unless ($hold->{code} == 200 && $hold->{state}) {
        $r{error} = $hold->{error} // "GET answered $hold->{code}";
        $hold->abort;
        return \%r;
    }
    $r{state} = $hold->{state};
    my $new = $cb->($hold->{state});
    my $body = ref $new ? encode_state($new) : $new;
    my $c = $o{client} || RS::Hostile::Client->new($port);
    my $sid = set_cookie_id($hold) // $id;
    my $res = $c->request('PUT', ENDPOINT, key => API_KEY,
                          cookie => $sid, body => $body,
                          timeout => $o{timeout});
    $c->close unless $o{client};
    @r{qw(put put_reason put_body)} = @$res{qw(code reason body)};
    $r{ended} = $hold->finish($o{finish_timeout} // 10);
    return \%r;
}

# ---------------------------------------------------------------------------
# /proc

sub slurp {
    my $f = shift;
    open my $fh, '<', $f or return '';
    local $/;
    return scalar(<$fh>) // '';
}

# children_of($pid) -> pids whose parent is $pid
sub children_of {
    my $ppid = shift;
    my @kids;
    opendir my $d, '/proc' or return;
    for my $p (grep { /^\d+\z/ } readdir $d) {
        my $stat = slurp("/proc/$p/stat");
        next unless $stat =~ /\)\s+\S+\s+(\d+)/;
        push @kids, $p if $1 == $ppid;
    }
    return sort { $a <=> $b } @kids;
}

# rss_kb($pid) -> VmRSS in kB (0 when gone)
sub rss_kb {
    my $pid = shift;
    my ($kb) = slurp("/proc/$pid/status") =~ /^VmRSS:\s+(\d+)/m;
    return $kb // 0;
}

# children_rss_kb($parent_pid) -> (total kB, { pid => kB })
sub children_rss_kb {
    my $ppid = shift;
    my %rss = map { $_ => rss_kb($_) } children_of($ppid);
    my $sum = 0;
    $sum += $_ for values %rss;
    return ($sum, \%rss);
}

# log_crashes($text) -> lines that tell of a child that died of a signal
# ("exit signal ...", AH00052), "Segmentation", sanitizer reports. Callers
# pass only the log written during their own test.
sub log_crashes {
    my $text = shift // '';
    return grep { /exit signal|Segmentation|SIGSEGV|SIGABRT|SIGBUS|
                   core dumped|AddressSanitizer|runtime error:/x }
           split /\n/, $text;
}

# ---------------------------------------------------------------------------
# an httpd of our own

sub free_port {
    for (1 .. 50) {
        my $port = 20000 + int rand 30000;
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $port, Proto => 'tcp',
                                      ReuseAddr => 0, Listen => 1) or next;
        CORE::close $s;
        return $port;
    }
    die "RS::Hostile: no free port\n";
}

sub _apxs {
    my $apxs = $ENV{APXS} || (grep { -x } map { ("$_/apxs2", "$_/apxs") }
                              split /:/, $ENV{PATH} // '')[0]
        || die "RS::Hostile: apxs not found\n";
    return $apxs;
}

# own_httpd(%opt) -> { pid, port, dir, conf, error_log }
# Starts httpd (foreground, our child) with a generated config:
#   dir      => where config and logs go (created; required)
#   module   => path of mod_remote_session.so (required)
#   mpm      => 'prefork' | 'event' (default prefork)
#   mpm_conf => MPM directives (default: enough workers for 100 clients)
#   memcached_port => the store (required); store => a whole spec instead
#   cgi_dir  => directory served at /cgi-bin/ (plain) and /req/
#               (SessionRequire On) and /ro/ (ReadOnly)
#   config   => more config text;  log_level => LogLevel
#   user     => 'nobody' when root (default), httpd drops to it
sub own_httpd {
    my %o = @_;
    my $apxs = _apxs();
    chomp(my $sbin = `"$apxs" -q SBINDIR`);
    chomp(my $target = `"$apxs" -q TARGET`);
    chomp(my $moddir = `"$apxs" -q LIBEXECDIR`);
    my $httpd = $ENV{HTTPD} || "$sbin/$target";
    my $dir = $o{dir} or die "own_httpd: dir\n";
    File::Path::remove_tree($dir);
    File::Path::make_path($dir);
    chmod 0755, $dir;
    my $port = $o{port} || free_port();
    my $mpm = $o{mpm} || 'prefork';
    my $store = $o{store} // "--SERVER=127.0.0.1:$o{memcached_port}";
    my $cgi = $o{cgi_dir};
    my $module = Cwd::abs_path($o{module}) or die "own_httpd: module\n";
    my $mpm_conf = $o{mpm_conf} // ($mpm eq 'prefork' ? <<'P' : <<'E');
StartServers 60
MinSpareServers 10
MaxSpareServers 120
ServerLimit 150
MaxRequestWorkers 150
MaxConnectionsPerChild 0
P
StartServers 2
ServerLimit 8
ThreadsPerChild 64
MaxRequestWorkers 256
MinSpareThreads 16
MaxSpareThreads 256
MaxConnectionsPerChild 0
E
    my $cgimod = $mpm eq 'prefork' ? 'cgi' : 'cgid';
    my $text = <<"EOC";
# generated by RS::Hostile::own_httpd
ServerRoot "$dir"
DefaultRuntimeDir "$dir"
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error_log"
LogLevel ${\ ($o{log_level} || 'notice remote_session:info')}
Listen 127.0.0.1:$port
ServerName 127.0.0.1:$port
LoadModule mpm_${mpm}_module "$moddir/mod_mpm_$mpm.so"
LoadModule authz_core_module "$moddir/mod_authz_core.so"
LoadModule alias_module "$moddir/mod_alias.so"
LoadModule mime_module "$moddir/mod_mime.so"
LoadModule ${cgimod}_module "$moddir/mod_$cgimod.so"
LoadModule remote_session_module "$module"
TypesConfig /etc/mime.types
KeepAlive On
MaxKeepAliveRequests 0
Timeout 60
$mpm_conf
EOC
    $text .= "ScriptSock \"$dir/cgisock\"\n" if $cgimod eq 'cgid';
    $text .= "User nobody\nGroup nogroup\n" if $> == 0;
    $text .= "DocumentRoot \"$dir\"\n<Directory />\n    AllowOverride None\n"
           . "    Require all granted\n</Directory>\n";
    $text .= <<"EOC";
RemoteSessionStore "$store"
RemoteSessionApiKey ${\ API_KEY}
<Location ${\ ENDPOINT}>
    SetHandler remote-session
</Location>
EOC
    if ($cgi) {
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
    $text .= "$o{config}\n" if defined $o{config};
    my $conf = "$dir/httpd.conf";
    open my $fh, '>', $conf or die "own_httpd: $conf: $!\n";
    print $fh $text;
    CORE::close $fh;

    my $pid = fork;
    die "own_httpd: fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        # a session of its own: prefork's shutdown signals its whole
        # process group (killpg), which would otherwise include us
        POSIX::setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$dir/stderr.log";
        open STDERR, '>&', \*STDOUT;
        { no warnings 'exec'; exec $httpd, '-d', $dir, '-f', $conf, '-DFOREGROUND'; }
        POSIX::_exit(127);
    }
    my $h = { pid => $pid, port => $port, dir => $dir, conf => $conf,
              error_log => "$dir/error_log" };
    my $deadline = Time::HiRes::time() + ($o{timeout} || 30);
    while (Time::HiRes::time() < $deadline) {
        if (my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                          PeerPort => $port, Timeout => 1)) {
            CORE::close $s;
            return $h;
        }
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
            delete $h->{pid};
            die "own_httpd: httpd exited: " . slurp("$dir/stderr.log")
                . slurp("$dir/error_log");
        }
        Time::HiRes::sleep(0.05);
    }
    stop_own_httpd($h);
    die "own_httpd: httpd did not listen on $port: " . slurp("$dir/error_log");
}

# start_memcached(dir => $dir) -> { pid, port }: a memcached of our own on
# a free loopback port, in the foreground as our child (bench/ scripts).
sub start_memcached {
    my %o = @_;
    my $port = $o{port} || free_port();
    my @cmd = ('memcached', '-l', '127.0.0.1', '-p', $port, '-U', '0',
               '-m', $o{mb} || 256, '-t', '2');
    push @cmd, '-u', 'root' if $> == 0;
    my $pid = fork;
    die "start_memcached: fork: $!\n" unless defined $pid;
    if (!$pid) {
        POSIX::setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', ($o{log} || '/dev/null');
        open STDERR, '>&', \*STDOUT;
        { no warnings 'exec'; exec @cmd; }
        POSIX::_exit(127);
    }
    my $deadline = Time::HiRes::time() + 10;
    while (Time::HiRes::time() < $deadline) {
        if (my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                          PeerPort => $port, Timeout => 1)) {
            print $s "version\r\n";
            my $l = <$s>;
            return { pid => $pid, port => $port } if $l && $l =~ /^VERSION/;
        }
        die "start_memcached: memcached exited\n"
            if waitpid($pid, POSIX::WNOHANG()) == $pid;
        Time::HiRes::sleep(0.05);
    }
    kill KILL => $pid;
    waitpid($pid, 0);
    die "start_memcached: no answer on $port\n";
}

sub stop_memcached {
    my $m = shift;
    my $pid = delete $m->{pid} or return;
    kill TERM => $pid;
    my $deadline = Time::HiRes::time() + 5;
    while (Time::HiRes::time() < $deadline) {
        return if waitpid($pid, POSIX::WNOHANG()) == $pid;
        Time::HiRes::sleep(0.05);
    }
    kill KILL => $pid;
    waitpid($pid, 0);
}

# stop_own_httpd($h): SIGTERM to the parent we started, SIGKILL after 15 s.
sub stop_own_httpd {
    my $h = shift;
    my $pid = delete $h->{pid} or return;
    kill TERM => $pid;
    my $deadline = Time::HiRes::time() + 15;
    while (Time::HiRes::time() < $deadline) {
        return $? >> 8 if waitpid($pid, POSIX::WNOHANG()) == $pid;
        Time::HiRes::sleep(0.05);
    }
    kill KILL => $pid;
    waitpid($pid, 0);
    return $? >> 8;
}

1;
