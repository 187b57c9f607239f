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

1;
