package RS::Test;

# The helpers of the t/*.t tests of mod_remote_session, one module per job,
# all re-exported here so that a test says `use RS::Test qw(...)`:
#   - RS::Test itself: the suite's server -- the API key and header names
#     its config uses, suite_port/vhost_port, server_mpm()/need_workers()
#     (its capacity), endpoint_request()/send_request() (HTTP::Request
#     through Apache::Test's agent), the endpoint's requests (ro_get,
#     put_state, new_session, hold_get, open_stream, held_get, raw_put,
#     readonly_get, raw_request, read_state, endpoint_cycle, sid_of), its
#     memcached over the text protocol (mc_*), its error log (logged)
#   - RS::Codec: the binary session state and the memcached record
#   - RS::Client: the raw HTTP/1.1 client class (RS::Client->new)
#   - RS::Httpd: every other httpd a test starts (start_httpd/stop_httpd)
#   - RS::Memcached: every memcached (the suite's, and start_memcached)
# RS::Require adds the SessionRequire pages' helpers, RS::H2 the HTTP/2
# client, RS::NoSkip the skip log (t/run-suite.sh loads it).
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
use Scalar::Util ();
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
use constant MSG_DESER       => 'Failed to deserialize session state';

our @EXPORT_OK = (qw(
    API_KEY KEY_HEADER READONLY_HEADER ENDPOINT COOKIE_NAME
    LOCK_TIMEOUT LOCK_LEASE
    endpoint_url endpoint_request send_request
    suite_port vhost_port MSG_DESER now timed sid_of
    ro_get stored_items put_state new_session open_stream hold_get held_get
    read_state endpoint_cycle raw_put readonly_get raw_request
    mc_port mc_command mc_get mc_set mc_delete mc_keys mc_keys_added
    free_port t_dir error_log_since logged
    server_mpm need_workers mc_meta_ttl mc_meta_probe mc_ttl
    mc_stats
), @RS::Codec::EXPORT_OK, @RS::Httpd::EXPORT_OK,
    @RS::Memcached::EXPORT_OK);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

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
# the endpoint's requests, through LWP or RS::Client

sub now { Time::HiRes::time() }

# timed(sub { ... }) -> (seconds, results of the sub); timed($response of
# rq_get) -> the seconds that request took.
sub timed {
    my $x = shift;
    return $x->{rq_elapsed} unless ref $x eq 'CODE';
    my $t0 = now();
    my @r = $x->();
    return (now() - $t0, @r);
}

# sid_of($x) -> the value of the first session cookie a Set-Cookie of $x
# sets (up to its first ';'), or undef. $x: an HTTP::Response, an RS::Client or request() answer, a hash
# of lower-case headers, or a Set-Cookie value.
sub sid_of {
    my $x = shift // return;
    my @v = !ref $x ? ($x)
          : Scalar::Util::blessed($x) && $x->isa('HTTP::Response')
          ? $x->headers->header('Set-Cookie')
          : ($x->{header_list} || $x->{list})
          ? map { lc $_->[0] eq 'set-cookie' ? $_->[1] : () }
                @{ $x->{header_list} || $x->{list} }
          : $x->{headers} ? $x->{headers}{'set-cookie'} : $x->{'set-cookie'};
    my $name = COOKIE_NAME;
    for (map { split /\n/ } grep { defined } @v) {
        return $1 if /(?:^|,\s*)\Q$name\E=([^;]*)/;
    }
    return;
}

# ro_get($id, %endpoint_request options) -> (response, decoded state or
# undef): a read-only GET ($id undef: no cookie).
sub ro_get {
    my ($id, %o) = @_;
    my $r = send_request(endpoint_request('GET', readonly => 'true',
                                          session => $id, %o));
    my $st = $r->code == 200 ? eval { decode_state($r->content) } : undef;
    return ($r, $st);
}

# stored_items($id, %ro_get options) -> the session's items as a read-only
# GET sees them ([[key, value], ...]), or 'no state'.
sub stored_items {
    my (undef, $st) = ro_get(@_);
    return $st ? $st->{items} : 'no state';
}

# put_state($id, $state_hash_or_bytes, %endpoint_request options) -> the
# response of a PUT with that body (a hash is encoded with its flags
# cleared, its id defaulting to $id).
sub put_state {
    my ($id, $st, %o) = @_;
    my $body = ref $st ? encode_state(%$st, id => $st->{id} // $id, new => 0,
                                      readonly => 0)
                       : $st;
    return send_request(endpoint_request('PUT', session => $id,
                                         body => $body, %o));
}

# new_session(port => , items => { k => v }) -> a new session's ID, made by
# a read-only GET with no cookie (its state and its Set-Cookie agree), and,
# with items, committed by a writeable GET + PUT. Dies when that fails.
sub new_session {
    my %o = @_;
    my ($res, $st) = ro_get(undef, port => $o{port});
    my $id = $st && $st->{id};
    die "RS::Test::new_session: no new session:\n" . $res->as_string
        unless $id && $id =~ ID_RE && (sid_of($res) // '') eq $id;
    return $id unless $o{items};
    my $g = hold_get($id, port => $o{port}, timeout => 10);
    $g->{state} or die "RS::Test::new_session: writeable GET gave no state: "
                       . $g->describe . "\n";
    my $put = put_state($id, { %{ $g->{state} }, items => $o{items} },
                        port => $o{port});
    $put->code == 200
        or die "RS::Test::new_session: PUT: " . $put->as_string;
    $g->finish(10)
        or die "RS::Test::new_session: the writeable GET did not end\n";
    return $id;
}

# open_stream($id, %opt) -> RS::Client: an endpoint request (a writeable GET
# unless told otherwise) sent on a new connection, nothing read yet.
# Options: port, key (default API_KEY; undef: none), readonly, method,
# body, headers, path (another path and query than the endpoint's),
# stream_body (1: a chunked request body, sent later with send_body).
sub open_stream {
    my ($id, %o) = @_;
    my $method = $o{method} || 'GET';
    my $c = RS::Client->new(port => $o{port});
    my $ro = $o{readonly};
    $ro = 'true' if defined $ro && $ro eq '1';
    $c->send_request($method, $o{path} // ENDPOINT,
                     key => exists $o{key} ? $o{key} : API_KEY, cookie => $id,
                     headers => [ (defined $ro ? (READONLY_HEADER, $ro) : ()),
                                  @{ $o{headers} || [] } ],
                     chunked => $o{stream_body},
                     body => $o{body} // ($method =~ /^(?:PUT|POST)$/i
                                          && !$o{stream_body} ? '' : undef));
    return $c;
}

# hold_get($id, %opt) -> RS::Client of a writeable GET ($id undef: a new
# session) whose head was read and, when 200, its state and the newline
# after it: {code} {headers} {state} {after} {raw} (the state's bytes) {id};
# {error} when the state did not decode. The lock stays held until a PUT
# or close. Options as open_stream, and timeout (default 5); strict => 1:
# decode as hostile input (dec_state's checks).
sub hold_get {
    my ($id, %o) = @_;
    my $c = open_stream($id, %o);
    my $t = $o{timeout} || 5;
    ($c->read_head($t) // 0) == 200 or return $c;
    my $st = $c->read_state($t, 0, $o{strict} ? (utf8 => 1, max => 1_000_000,
                                                 count_check => 1) : ());
    if ($st) {
        $c->{raw} = substr($c->{body}, 0, $st->{length});
        $c->{id} = $st->{id};
    }
    elsif (($c->{state_error} // "truncated\n") ne "truncated\n") {
        ($c->{error} = "undecodable state: $c->{state_error}") =~ s/\n\z//;
    }
    return $c;
}

# held_get(session => id|undef, port, timeout => 10) -> { conn (the
# RS::Client), code, headers, reason, state, id, raw, t0, t_head }: hold_get
# for the fault tests; conn's pieces start after the state and newline.
sub held_get {
    my %o = @_;
    my $t0 = now();
    my $c = hold_get($o{session}, port => $o{port}, timeout => $o{timeout} // 10);
    $c->{taken} = length $c->{body} if $c->{state};
    return { conn => $c, t0 => $t0, raw => $c->{body},
             map { $_ => $c->{$_} } qw(code headers reason state id t_head) };
}

# read_state($port, $id, $client) -> (state or undef, request() answer): a
# read-only GET over RS::Client (the given keep-alive one, or a new one),
# the state decoded as hostile input (dec_state).
sub read_state {
    my ($port, $id, $c) = @_;
    my $own = !$c;
    $c ||= RS::Client->new(port => $port);
    my $res = $c->request('GET', ENDPOINT, key => API_KEY, cookie => $id,
                          headers => [READONLY_HEADER, 'true']);
    $c->close if $own;
    return (undef, $res) unless $res->{code} == 200;
    my ($st) = dec_state($res->{body});
    return ($st, $res);
}

# endpoint_cycle($port, $id, sub { my $state = shift; ...; return $new },
# client => RS::Client, timeout, finish_timeout): writeable GET, the
# callback turns the state into the state to PUT (a hash for encode_state,
# or bytes), PUT, then waits for the GET to end. Returns { get => code,
# put => code, put_reason, put_body, ended => 0/1, state, error }.
sub endpoint_cycle {
    my ($port, $id, $cb, %o) = @_;
    my $hold = hold_get($id, port => $port, strict => 1,
                        timeout => $o{timeout} || 30);
    my %r = (get => $hold->{code} // 0);
    unless ($r{get} == 200 && $hold->{state}) {
        $r{error} = $hold->{error} // "GET answered $r{get}";
        return \%r;
    }
    $r{state} = $hold->{state};
    my $new = $cb->($hold->{state});
    my $c = $o{client} || RS::Client->new(port => $port);
    my $res = $c->request('PUT', ENDPOINT, key => API_KEY,
                          cookie => sid_of($hold) // $id,
                          body => ref $new ? encode_state($new) : $new,
                          timeout => $o{timeout});
    $c->close unless $o{client};
    @r{qw(put put_reason put_body)} = @$res{qw(code reason body)};
    $r{ended} = ($hold->finish($o{finish_timeout} // 10) // '') eq 'end' ? 1 : 0;
    return \%r;
}

# raw_put($id, $bytes, port, timeout) -> (code, reason, body, headers) of
# a PUT over a fresh connection (Connection: close).
sub raw_put {
    my ($id, $bytes, %o) = @_;
    my ($code, $h, $reason, $body) = raw_request('PUT', ENDPOINT, %o,
        headers => [_key_cookie($id)],
        body => $bytes);
    return ($code, $reason, $body, $h);
}

sub _key_cookie {
    return (KEY_HEADER, API_KEY,
            defined $_[0] ? (Cookie => COOKIE_NAME . "=$_[0]") : ());
}

# readonly_get($id, port, path, headers, timeout) -> (code, state or undef,
# headers, body) of a read-only GET over a fresh connection.
sub readonly_get {
    my ($id, %o) = @_;
    my ($code, $h, undef, $body) = raw_request('GET', $o{path} // ENDPOINT,
        %o, headers => [_key_cookie($id), READONLY_HEADER, 'true',
                        @{ $o{headers} || [] }]);
    my $st = ($code // 0) == 200 ? eval { decode_state($body, 1) } : undef;
    return ($code, $st, $h, $body);
}

# raw_request($method, $path, headers => [...], body => ..., port => ...,
# timeout => s) -> (code, headers, reason, body), or () with $@ set to why,
# over a fresh connection (Connection: close).
sub raw_request {
    my ($method, $path, %o) = @_;
    my $c = eval { RS::Client->new(port => $o{port}) } or return;
    $c->send_request($method, $path,
                     [@{ $o{headers} || [] }, Connection => 'close'], $o{body});
    my @r = $c->response($o{timeout} // 10);
    $@ = $c->{why} // '' unless @r;
    $c->close;
    return @r;
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

# logged($mark, $id, @codes) -> the error log lines since $mark about
# session $id with one of the message codes (RS00025, ...).
sub logged {
    my ($mark, $id, @codes) = @_;
    my $codes = join '|', @codes;
    return grep { /\b(?:$codes)\b/ && /session \Q$id\E\b/ }
           split /\n/, error_log_since($mark);
}

1;
