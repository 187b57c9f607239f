package RS::Test;

# The helpers of the t/*.t tests of mod_remote_session, one module per job,
# all re-exported here so that a test says `use RS::Test qw(...)`:
#   - RS::Test itself: the API key and header names the suite's config
#     uses; endpoint_request()/send_request() (HTTP::Request through
#     Apache::Test's agent); suite_port, vhost_port;
#     mc_*: the suite's memcached over the text protocol; the error log;
#     server_mpm()/need_workers(): the suite's server's capacity
#   - RS::Codec: the binary session state and the memcached record
#   - RS::Client: the raw HTTP/1.1 client class (RS::Client->new)
#   - RS::Httpd: every other httpd a test starts (start_httpd/stop_httpd)
#   - RS::Memcached: every memcached (the suite's, and start_memcached)
#
#   use lib 't/lib';            # Apache::Test runs tests from the top dir
#   use RS::Test qw(:all);

use strict;
use warnings;

use Exporter 'import';
use Cwd ();
use File::Basename ();
use File::Path ();
use File::Spec ();
use HTTP::Request ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes ();

use Apache::Test ();
use Apache::TestRequest ();
use RS::Memcached ();
use RS::Codec ();
use RS::Httpd ();
use RS::Client ();
BEGIN {
    no strict 'refs';
    $_->import(@{"${_}::EXPORT_OK"}) for qw(RS::Codec RS::Httpd RS::Memcached);
}

# Speed: Debian's apxs answers "" to `apxs -q PREFIX`, and Apache::TestConfig
# caches only non-empty answers, so building the config in each test process
# runs apxs some 20 times (4-5 s per test file). Cache empty answers too.
{
    no warnings 'redefine';
    my $apxs = \&Apache::TestConfig::apxs;
    *Apache::TestConfig::apxs = sub {
        my ($self, $q) = @_;
        my $v = $apxs->(@_);
        $self->{_apxs}{$q} = '' if defined $v && $v eq '';
        return $v;
    };
}

use constant API_KEY         => '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
use constant KEY_HEADER      => 'X-SystemWebAdapter-RemoteAppAuthentication-Key';
use constant READONLY_HEADER => 'X-SystemWebAdapter-RemoteAppSession-ReadOnly';
use constant ENDPOINT        => '/systemweb-adapters/session';
use constant COOKIE_NAME     => 'ASP.NET_SessionId';
use constant LOCK_TIMEOUT    => 3;    # RemoteSessionLockTimeout in extra.conf.in
use constant LOCK_LEASE      => 2;    # RemoteSessionLockLease in extra.conf.in

our @EXPORT_OK = (qw(
    API_KEY KEY_HEADER READONLY_HEADER ENDPOINT COOKIE_NAME
    LOCK_TIMEOUT LOCK_LEASE
    api_key endpoint_url endpoint_request send_request
    suite_port vhost_port
    mc_port mc_command mc_get mc_gets mc_set mc_delete mc_keys mc_keys_added
    mc_flush_all
    free_port t_dir error_log_since
    server_mpm need_workers mc_meta_ttl mc_meta_probe mc_ttl
    mc_stats
), @RS::Codec::EXPORT_OK, @RS::Httpd::EXPORT_OK,
    @RS::Memcached::EXPORT_OK);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

sub api_key { API_KEY }

sub t_dir { RS::Memcached::t_dir() }

sub free_port { RS::Memcached::free_port() }

# The suite's server port. Cached: Apache::Test works it out from its config
# (which takes seconds on a busy machine); call it before forking clients.
my $SUITE_PORT;
sub suite_port {
    return $SUITE_PORT ||= (split /:/, Apache::TestRequest::hostport(
        Apache::Test::config()))[1];
}

# The port Apache::Test gave <VirtualHost $name> of t/conf/*.conf.in.
sub vhost_port {
    my $name = shift;
    my $v = Apache::Test::config()->{vhosts}->{$name}
        or die "RS::Test: no vhost '$name' in the test config\n";
    return $v->{port};
}

# ---------------------------------------------------------------------------
# the server's capacity

# (mpm, workers) of the suite's server, as the running MPM reports them
# (t/c-modules/rs_api, op=workers): workers is how many requests it serves
# at once, held GETs and lock waiters included.
sub server_mpm {
    my $res = send_request(HTTP::Request->new(
        GET => endpoint_url('/rs_api_none?op=workers')));
    my ($mpm, $workers) = $res->is_success
        ? $res->decoded_content =~ /^(\S+) (\d+)$/m : ();
    die "RS::Test::server_mpm: /rs_api_none?op=workers answered "
        . $res->status_line . "\n" unless defined $workers;
    return ($mpm, $workers);
}

# need_workers($n): a test that keeps $n requests open at once says so
# before its plan; when the server cannot serve that many, the test file
# stops here with the reason, not later with a lock timeout.
sub need_workers {
    my $n = shift;
    my ($mpm, $workers) = server_mpm();
    return $workers if $workers >= $n;
    die "$0 needs $n concurrent workers; the suite's server ($mpm) has "
        . "$workers (worker limits: t/conf/extra.conf.in)\n";
}

# ---------------------------------------------------------------------------
# the session endpoint

# Absolute URL of $path (default: the endpoint) on the suite's server, or on
# the server on $port.
sub endpoint_url {
    my ($path, $port) = @_;
    $path //= ENDPOINT;
    return "http://127.0.0.1:$port$path" if $port;
    return Apache::TestRequest::resolve_url($path);
}

# endpoint_request($method, %opt) -> HTTP::Request for the endpoint, with the
# API key header. Options:
#   key      => the key to send (default API_KEY; undef: no key header)
#   session  => a session ID, sent as Cookie: ASP.NET_SessionId=<id>
#   cookie   => a whole Cookie header instead
#   readonly => value of the read-only header ('true', 'True', 1 => 'true')
#   body     => request body (bytes); Content-Length is set
#   headers  => [ name => value, ... ] more headers
#   path     => another path than ENDPOINT;  port => another server's port
sub endpoint_request {
    my ($method, %o) = @_;
    my $req = HTTP::Request->new($method => endpoint_url($o{path}, $o{port}));
    my $key = exists $o{key} ? $o{key} : API_KEY;
    $req->header(KEY_HEADER, $key) if defined $key;
    if (defined $o{cookie}) {
        $req->header(Cookie => $o{cookie});
    }
    elsif (defined $o{session}) {
        $req->header(Cookie => COOKIE_NAME . "=$o{session}");
    }
    if (defined $o{readonly}) {
        my $v = $o{readonly};
        $v = 'true' if $v eq '1';
        $req->header(READONLY_HEADER, $v);
    }
    my @h = @{ $o{headers} || [] };
    while (my ($n, $v) = splice @h, 0, 2) {
        $req->push_header($n => $v);
    }
    if (defined $o{body}) {
        $req->content($o{body});
        $req->header('Content-Length' => length $o{body});
    }
    elsif ($method =~ /^(?:PUT|POST)$/i) {
        $req->header('Content-Length' => 0);
    }
    return $req;
}

# Sends an HTTP::Request with Apache::Test's user agent; the response.
sub send_request {
    my $req = shift;
    return Apache::TestRequest::user_agent()->request($req);
}

# ---------------------------------------------------------------------------
# the suite's memcached, over the text protocol

sub mc_port {
    return $ENV{RS_MEMCACHED_PORT}
        || die "RS_MEMCACHED_PORT is not set (run the tests through t/TEST.PL)\n";
}

sub _mc_connect {
    my $port = shift || mc_port();
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 3)
        or die "RS::Test: memcached on 127.0.0.1:$port: $!\n";
    $s->autoflush(1);
    binmode $s;
    return $s;
}

sub _mc_key {
    my $key = shift;
    die "RS::Test: bad memcached key '$key'\n"
        if !defined $key || $key eq '' || length $key > 250
        || $key =~ /[\x00-\x20\x7f]/;
    return $key;
}

sub _mc_line {
    my $s = shift;
    my $line = <$s>;
    die "RS::Test: memcached closed the connection\n" unless defined $line;
    $line =~ s/\r\n\z//;
    return $line;
}

# mc_command("stats") etc.: sends one command line, returns the first line of
# the answer (use it for one-line answers only).
sub mc_command {
    my ($cmd, $port) = @_;
    my $s = _mc_connect($port);
    print $s "$cmd\r\n";
    return _mc_line($s);
}

# mc_stats($port) -> { name => value } of memcached's `stats` (cmd_get,
# cmd_set, cmd_touch, get_hits, curr_items, ...); the suite's by default.
sub mc_stats {
    my $s = _mc_connect(shift);
    print $s "stats\r\n";
    my %st;
    while ((my $line = _mc_line($s)) ne 'END') {
        $st{$1} = $2 if $line =~ /^STAT (\S+) (.*)$/;
    }
    return \%st;
}

sub _mc_retrieve {
    my ($verb, $key, $port) = @_;
    my $s = _mc_connect($port);
    print $s "$verb " . _mc_key($key) . "\r\n";
    my $line = _mc_line($s);
    return if $line eq 'END';
    my ($flags, $len, $cas) = $line =~ /^VALUE \S+ (\d+) (\d+)(?: (\d+))?$/
        or die "RS::Test: memcached answered '$line' to $verb\n";
    my $data = '';
    while (length $data < $len + 2) {
        my $n = read($s, $data, $len + 2 - length $data, length $data);
        die "RS::Test: memcached: short read\n" unless $n;
    }
    substr($data, $len) = '';
    _mc_line($s) eq 'END' or die "RS::Test: memcached: no END after value\n";
    return ($data, $flags, $cas);
}

# mc_get($key) -> value (bytes) or undef when absent;
# in list context (value, flags).
sub mc_get {
    my ($data, $flags) = _mc_retrieve('get', @_);
    return wantarray ? ($data, $flags) : $data;
}

# mc_gets($key) -> (value, flags, cas), or () when absent.
sub mc_gets { return _mc_retrieve('gets', @_) }

# mc_set($key, $value, $exptime = 0, $flags = 0) -> true when STORED.
sub mc_set {
    my ($key, $value, $exptime, $flags, $port) = @_;
    my $s = _mc_connect($port);
    printf $s "set %s %d %d %d\r\n%s\r\n", _mc_key($key), $flags || 0,
        $exptime || 0, length $value, $value;
    return _mc_line($s) eq 'STORED';
}

# mc_delete($key) -> true when it existed.
sub mc_delete {
    my ($key, $port) = @_;
    return mc_command('delete ' . _mc_key($key), $port) eq 'DELETED';
}

# mc_flush_all() -> true on OK: every item is gone.
# mc_meta_ttl($key) -> ($seconds, answer): the item's remaining lifetime
# as memcached's meta get reports it; $seconds undef unless the answer is
# "HD ... t<n>" (EN: the item is missing; anything else: no meta commands,
# which mc_meta_probe tells). A missing item fails the check that asks.
sub mc_meta_ttl {
    my $key = shift;
    my $line = mc_command("mg $key t");
    my ($t) = $line =~ /^HD(?: \S+)*? t(-?\d+)(?: |\z)/;
    return ($t, $line);
}

# mc_ttl($key) -> seconds until memcached expires the item (-1: never), or
# undef when it is absent (meta get, memcached 1.6); dies on other answers.
sub mc_ttl {
    my ($t, $line) = mc_meta_ttl(shift);
    return if $line =~ /^EN/;
    die "RS::Test::mc_ttl: memcached answered '$line'\n" unless defined $t;
    return $t;
}

# mc_meta_probe() -> ($seconds, answer) of an item just set for 1000 s:
# a test of TTLs first checks that memcached answers meta commands at all.
sub mc_meta_probe {
    my $probe = "rs-meta-probe-$$";
    mc_set($probe, 'x', 1000) or die "memcached refused to store $probe\n";
    my @r = mc_meta_ttl($probe);
    mc_delete($probe);
    return @r;
}

sub mc_flush_all { return mc_command('flush_all', $_[0]) eq 'OK' }

# mc_keys() -> the keys memcached holds now (lru_crawler metadump), sorted;
# with $prefix, only those starting with it. memcached answers BUSY while
# its own crawler reclaims expired items: asked again for up to 5 s.
sub mc_keys {
    my ($prefix, $port) = @_;
    my $until = Time::HiRes::time() + 5;
    while (1) {
        my $keys = _mc_metadump($prefix, $port);
        return sort @$keys if $keys;
        die "RS::Test: memcached stayed BUSY for metadump\n"
            if Time::HiRes::time() > $until;
        Time::HiRes::sleep(0.01);
    }
}

# The keys of one metadump, or undef when memcached is BUSY.
sub _mc_metadump {
    my ($prefix, $port) = @_;
    my $s = _mc_connect($port);
    print $s "lru_crawler metadump all\r\n";
    my @keys;
    while (1) {
        my $line = _mc_line($s);
        last if $line eq 'END';
        return undef if $line =~ /^BUSY/;
        die "RS::Test: memcached answered '$line' to metadump\n"
            if $line =~ /^(?:ERROR|CLIENT_ERROR|SERVER_ERROR)/;
        next unless $line =~ /^key=(\S+)/;
        (my $k = $1) =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
        push @keys, $k if !defined $prefix || index($k, $prefix) == 0;
    }
    return \@keys;
}

# mc_keys_added($prefix, @before) -> the keys with $prefix memcached holds
# now that are not in @before. Items of earlier tests expire while a test
# runs, so "nothing was added" must not be judged by comparing whole lists.
sub mc_keys_added {
    my ($prefix, @before) = @_;
    my %before = map { $_ => 1 } @before;
    return grep { !$before{$_} } mc_keys($prefix);
}

# ---------------------------------------------------------------------------
# the suite's error log

# error_log_since($offset) -> the text appended to t/logs/error_log since
# byte $offset; error_log_since() -> its current size (an offset for later).
sub error_log_since {
    my $offset = shift;
    my $file = File::Spec->catfile(t_dir(), 'logs', 'error_log');
    return -s $file // 0 unless defined $offset;
    open my $fh, '<', $file or return '';
    seek $fh, $offset, 0;
    local $/;
    return <$fh> // '';
}

1;
