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

1;
