package RS::Client;

# The raw HTTP/1.1 client of the tests: one connection to 127.0.0.1, read
# with sysread into its own buffer (never buffered reads), so a test can
# send exactly the bytes it wants (odd methods and headers, pipelined
# requests, chunked bodies sent piece by piece, bodies shorter than their
# Content-Length) and wait for "the head", "a whole state", "the next
# piece", "the end" with deadlines, knowing when each arrived.
#
#   my $c = RS::Client->new(port => $port);       # the suite's by default
#   $c->send_request('GET', $path, headers => [n => v, ...], body => $b);
#   $c->read_head($timeout)    # the code; {code} {reason} {headers}
#                              # {header_list}, or undef ({why})
#   $c->read_body($timeout)    # {body} (de-chunked), {done} at its end
#   $c->read_state($timeout)   # {state}: the session state the body starts with
#   my $res = $c->request('GET', $path, %opt)   # keep-alive exchange:
#                              # { code, reason, headers, list, body }
#
# Fields: {code} {reason} {headers} (lower-case name => value, repeated
# ones joined by ", ") {header_list} ([name, value] as received) {body}
# {done} {eof} {why} {state} {state_error} {after} (the body after the
# state) {chunks}; times t_sent t_first_byte t_head t_first_body t_done
# t_eof (Time::HiRes).

use strict;
use warnings;

use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes ();

sub _now { Time::HiRes::time() }

# new(port => (default the suite's), timeout => connect timeout / request()'s
# default (default 30)). Connects at once; dies when it cannot.
sub new {
    my ($class, %o) = @_;
    my $self = bless { port => $o{port} || RS::Test::suite_port(),
                       timeout => $o{timeout} || 30, in => '', body => '',
                       eof => 0, done => 0, taken => 0 }, $class;
    $self->_connect;
    return $self;
}

sub _connect {
    my $self = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $self->{port}, Proto => 'tcp',
                                  Timeout => 10)
        or die "RS::Client: 127.0.0.1:$self->{port}: $!\n";
    binmode $s;
    $s->autoflush(1);
    @$self{qw(sock in eof used)} = ($s, '', 0, 0);
    return $s;
}

sub sock { $_[0]{sock} }
BEGIN { *socket = \&sock }

# send($bytes) -> 1, or 0 when the server closed the connection first (a
# 413 does). send_raw: the same on a connection opened again if closed.
sub send {
    my ($self, $data) = @_;
    my $s = $self->{sock} or return 0;
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($s, $data, length($data) - $off, $off);
        return 0 unless defined $n;
        $off += $n;
    }
    return 1;
}

sub write { $_[0]->send($_[1]) or die "RS::Client: write: $!\n" }

sub send_raw {
    my $self = shift;
    $self->_connect unless $self->{sock};
    return $self->send(@_);
}

# build($method, $path, %opt) -> the bytes of a request:
#   headers => [n, v, ...]  in order, as given; key => API key header;
#   cookie => session ID (Cookie: ASP.NET_SessionId=...); host => 0: no
#   Host (default: Host: 127.0.0.1:<port> unless headers name one)
#   body => bytes, with Content-Length (unless headers name one, or
#   no_length => 1; length => n announces another length than the body's)
#   chunked => 1: Transfer-Encoding: chunked; the body (if any) follows in
#   chunks of chunk => n bytes (default 7) and the last chunk; without a
#   body, send_body sends it later.
sub build {
    my ($self, $method, $path, %o) = @_;
    my @h = @{ $o{headers} || [] };
    my %seen = map { lc $h[2 * $_] => 1 } 0 .. @h / 2 - 1;
    my $head = "$method $path HTTP/1.1\r\n";
    $head .= "Host: 127.0.0.1:$self->{port}\r\n"
        unless $seen{host} || (defined $o{host} && !$o{host});
    $head .= RS::Test::KEY_HEADER() . ": $o{key}\r\n" if defined $o{key};
    $head .= 'Cookie: ' . RS::Test::COOKIE_NAME() . "=$o{cookie}\r\n"
        if defined $o{cookie};
    while (my ($n, $v) = splice @h, 0, 2) {
        $head .= "$n: $v\r\n";
    }
    my $body = $o{body};
    if ($o{chunked}) {
        $head .= "Transfer-Encoding: chunked\r\n\r\n";
        return $head unless defined $body;
        my $step = $o{chunk} || 7;
        for (my $i = 0; $i < length $body; $i += $step) {
            my $c = substr($body, $i, $step);
            $head .= sprintf("%x\r\n", length $c) . "$c\r\n";
        }
        return "${head}0\r\n\r\n";
    }
    $head .= 'Content-Length: ' . ($o{length} // length $body) . "\r\n"
        if (defined $body || defined $o{length}) && !$o{no_length}
           && !$seen{'content-length'};
    return "$head\r\n" . ($body // '');
}

# send_request($method, $path, %opt as build) -> 1, or 0 when the server
# closed first. Also send_request($method, $path, [headers], $body, %opt):
# then an empty body of a method other than PUT and POST is no body.
sub send_request {
    my ($self, $method, $path, @a) = @_;
    if (ref $a[0] eq 'ARRAY') {
        my ($h, $b) = splice @a, 0, 2;
        $b = undef unless length($b // '') || $method =~ /^(?:PUT|POST)$/i;
        @a = (headers => $h, body => $b, @a);
    }
    $self->{method} = uc $method;
    $self->{t_sent} = _now();
    return $self->send($self->build($method, $path, @a));
}

# send_body($bytes): one chunk of a chunked request body; with no bytes,
# the last chunk.
sub send_body {
    my ($self, $data) = @_;
    return $self->write(sprintf("%x\r\n", length $data) . "$data\r\n")
        if defined $data && length $data;
    return $self->write("0\r\n\r\n");
}

# Reads more bytes into the buffer, waiting at most $timeout seconds: 1
# when bytes came, 0 on EOF ({eof}) or timeout.
sub _fill {
    my ($self, $timeout) = @_;
    return 0 if $self->{eof} || !$self->{sock};
    return 0 unless IO::Select->new($self->{sock})
                      ->can_read($timeout < 0 ? 0 : $timeout);
    my $n = sysread($self->{sock}, $self->{in}, 65536, length $self->{in});
    return 0 if !defined $n && ($!{EINTR} || $!{EAGAIN});
    if (!$n) {
        $self->{eof} = 1;
        $self->{t_eof} = _now();
        $self->{error} = "$!" unless defined $n;
        return 0;
    }
    $self->{t_first_byte} //= _now();
    return 1;
}

# Reads until $cond->() holds, EOF, or $timeout seconds pass; $cond's value.
sub _until {
    my ($self, $timeout, $cond) = @_;
    my $deadline = _now() + $timeout;
    while (1) {
        $self->_decode if $self->{framing};
        my $v = $cond->();
        return $v if $v || $self->{eof};
        my $left = $deadline - _now();
        return $v if $left <= 0;
        $self->_fill($left);
    }
}

# read_head($timeout = 5) -> the status code of the next response (interim
# 1xx answers skipped), or undef on timeout or EOF ({why} says which).
sub read_head {
    my ($self, $timeout) = @_;
    my $re = qr/\A(?:\r\n)*(?:HTTP\/1\.\d 1\d\d[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n(?:\r\n)*)*/;
    $self->{framing} = undef;
    $self->_until($timeout || 5, sub {
        $self->{in} =~ s/$re//;
        return $self->{in} =~ /\r\n\r\n/;
    }) or do { $self->{why} = $self->{eof} ? 'eof' : 'timeout'; return };
    my $i = index($self->{in}, "\r\n\r\n");
    my ($status, @lines) = split /\r\n/, substr($self->{in}, 0, $i + 4, '');
    my ($code, $reason) = $status =~ m{^HTTP/\d\.\d (\d{3})(?: ([^\r\n]*))?}
        or die "RS::Client: bad status line '$status'\n";
    my (%h, @list);
    for (@lines) {
        my ($n, $v) = /^([^:]+):[ \t]*(.*?)[ \t]*\z/ or next;
        push @list, [$n, $v];
        $n = lc $n;
        $h{$n} = exists $h{$n} ? "$h{$n}, $v" : $v;
    }
    @$self{qw(code reason headers header_list body done taken chunk_left
              state state_error after)}
        = ($code, $reason // '', \%h, \@list, '', 0, 0);
    $self->{t_head} = _now();
    $self->{used} = 1;
    if (($self->{method} // '') eq 'HEAD' || $code == 204 || $code == 304) {
        $self->{framing} = 'none';
        $self->{done} = 1;
    }
    elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        $self->{framing} = 'chunked';
    }
    elsif (defined $h{'content-length'}) {
        $self->{framing} = 'length';
        $self->{length_left} = $h{'content-length'};
        $self->{done} = 1 if $self->{length_left} == 0;
    }
    else {
        $self->{framing} = 'close';
    }
    $self->_decode;
    return $code;
}

# head($timeout) -> the code, reading the head unless it is read already.
sub head {
    my ($self, $timeout) = @_;
    return $self->{code} if defined $self->{code};
    return $self->read_head($timeout // 10);
}

# Moves the decoded body bytes from the buffer to {body}; {done} at the end.
sub _decode {
    my $self = shift;
    my $f = $self->{framing} // return;
    my $before = length $self->{body};
    if ($f eq 'length') {
        my $take = substr($self->{in}, 0, $self->{length_left}, '');
        $self->{body} .= $take;
        $self->{length_left} -= length $take;
        $self->{done} ||= $self->{length_left} == 0;
    }
    elsif ($f eq 'close') {
        $self->{body} .= $self->{in};
        $self->{in} = '';
        $self->{done} ||= $self->{eof};
    }
    elsif ($f eq 'chunked') {
        while (!$self->{done}) {
            if (!defined $self->{chunk_left}) {
                last unless $self->{in} =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//;
                $self->{chunk_left} = hex $1;
                $self->{chunks}++;
                $self->{chunk_left} = -1 if $self->{chunk_left} == 0;
            }
            if ($self->{chunk_left} == -1) {
                # trailers, then an empty line
                last unless $self->{in} =~ s/\A(?:[^\r\n]+\r\n)*\r\n//;
                $self->{done} = 1;
                last;
            }
            my $take = substr($self->{in}, 0, $self->{chunk_left}, '');
            $self->{body} .= $take;
            $self->{chunk_left} -= length $take;
            last if $self->{chunk_left} > 0
                 || $self->{in} !~ s/\A\r\n//;
            $self->{chunk_left} = undef;
        }
    }
    $self->{t_first_body} //= _now() if length $self->{body} > $before;
    $self->{t_done} //= _now() if $self->{done};
}

# read_body($timeout, $until) -> {done}: reads body bytes for at most
# $timeout seconds, until $until->($self) is true, the body is complete, or
# EOF.
sub read_body {
    my ($self, $timeout, $until) = @_;
    $self->_until($timeout, sub { ($until && $until->($self)) || $self->{done} });
    return $self->{done} ? 1 : 0;
}

# drain(): reads what arrived (heartbeats), without waiting; true while the
# response has not ended.
sub drain { $_[0]->read_body(0); return !$_[0]{done} }

# finish($timeout) -> 'end' once the response ended as HTTP says, 'eof'
# when the connection closed before, undef when neither came in time.
sub finish {
    my ($self, $timeout) = @_;
    return unless defined $self->head($timeout // 10);
    $self->read_body($timeout // 10);
    return $self->{done} ? 'end' : $self->{eof} ? 'eof' : undef;
}

# read_state($timeout, $no_more, %decode_state options) -> the session
# state a 200 body starts with ({state}; {state_error} when it does not
# decode), once it is whole and, unless $no_more, one more byte (the
# writeable GET's newline) came; {after}: the body bytes after it.
sub read_state {
    my ($self, $timeout, $no_more, %o) = @_;
    my $st;
    $self->read_body($timeout, sub {
        $st = eval { RS::Codec::decode_state($self->{body}, 1, %o) };
        $self->{state_error} = $st ? undef : $@;
        return 1 if !$st && $@ ne "truncated\n";
        return $st && ($no_more || length($self->{body}) > $st->{length});
    });
    $self->{state} = $st;
    $self->{after} = $st ? substr($self->{body}, $st->{length}) : undef;
    return $st;
}

# state($timeout) -> the decoded state once a whole one arrived in a 200
# response (remembered; rest() is what followed it), undef otherwise.
sub state {
    my ($self, $timeout) = @_;
    return $self->{state} if $self->{state};
    my $code = $self->head($timeout) // return;
    return $code == 200 ? $self->read_state($timeout // 10, 1) : undef;
}

# The body bytes after the state so far.
sub rest {
    my $st = $_[0]{state} or return;
    return substr($_[0]{body}, $st->{length});
}
BEGIN { *after_state = \&rest }

# read_piece($timeout) -> the body bytes that came since the last piece
# (a whole chunk at least when chunked), '' once the body ended; undef on
# timeout or EOF ({why}).
sub read_piece {
    my ($self, $timeout) = @_;
    my $new = sub { length($self->{body}) > $self->{taken}
                    && !($self->{chunk_left} // 0) };
    $self->_until($timeout // 10, sub { $self->{done} || $new->() });
    if ($new->() || $self->{done}) {
        my $p = substr($self->{body}, $self->{taken});
        $self->{taken} = length $self->{body};
        return $p;
    }
    $self->{why} = $self->{eof} ? 'eof' : 'timeout';
    return undef;
}

# read_at_least($n, $timeout) -> the next body bytes once at least $n came
# (or the body ended), undef on timeout or EOF.
sub read_at_least {
    my ($self, $n, $timeout) = @_;
    my $start = $self->{taken};
    $self->_until($timeout // 10, sub {
        $self->{done} || length($self->{body}) - $start >= $n });
    return undef unless $self->{done} || length($self->{body}) - $start >= $n;
    $self->{taken} = length $self->{body};
    return substr($self->{body}, $start);
}

# read_to_end($timeout) -> ('complete' | 'eof' | 'timeout', the body bytes
# not read as pieces before).
sub read_to_end {
    my ($self, $timeout) = @_;
    $self->read_body($timeout // 10);
    my $p = substr($self->{body}, $self->{taken});
    $self->{taken} = length $self->{body};
    return ($self->{done} ? 'complete' : $self->{eof} ? 'eof' : 'timeout', $p);
}

# response($timeout) -> (code, headers, reason, body) of a whole response
# (a body delimited by the connection's end counts as whole), or () with
# {why}; the fields are set either way.
sub response {
    my ($self, $timeout) = @_;
    my $deadline = _now() + ($timeout //= 10);
    defined $self->read_head($timeout) or return;
    my ($how, $body) = $self->read_to_end($deadline - _now());
    unless ($how eq 'complete') {
        $self->{why} = "body: $how";
        return;
    }
    return @$self{qw(code headers reason)}, $body;
}

# request($method, $path, %opt as build, timeout => s, raw => bytes) ->
# { code, reason, headers, list, body, incomplete } of a keep-alive
# exchange; code 0 and reason 'no answer' when the server closed without
# one. Reconnects when the connection is closed, and once more when a
# connection used before turns out closed. PUT and POST get a
# Content-Length (0 without a body).
sub request {
    my ($self, $method, $path, %o) = @_;
    $o{body} //= '' if $method =~ /^(?:PUT|POST)$/;
    my $raw = exists $o{raw} ? $o{raw} : $self->build($method, $path, %o);
    for my $try (1, 2) {
        my $reused = $self->{sock} && $self->{used};
        $self->_connect unless $self->{sock};
        $self->{method} = $method;
        $self->send($raw);
        my $code = $self->read_head($o{timeout} || $self->{timeout});
        unless (defined $code) {
            $self->close;
            next if $reused && $try == 1;
            return { code => 0, reason => 'no answer', headers => {},
                     list => [], body => '' };
        }
        my %res = (code => $code, reason => $self->{reason},
                   headers => $self->{headers}, list => $self->{header_list});
        $res{incomplete} = 1
            unless $self->read_body($o{timeout} || $self->{timeout});
        $res{body} = $self->{body};
        $self->close if $self->{framing} eq 'close'
            || ($self->{headers}{connection} // '') =~ /close/i;
        return \%res;
    }
}

# quiet($seconds) -> true when not a single byte arrives within $seconds.
sub quiet {
    my ($self, $t) = @_;
    return 0 if length $self->{in} || defined $self->{code};
    return !$self->_until($t, sub { length $self->{in} }) && !$self->{eof};
}

sub code    { $_[0]{code} }
sub reason  { $_[0]{reason} }
sub header  { defined $_[0]{code} ? $_[0]{headers}{lc $_[1]} : undef }
sub body    { $_[0]{body} }
sub is_done { $_[0]{done} }
sub is_eof  { $_[0]{eof} }
for my $t (qw(t_sent t_head t_first_byte t_first_body t_done t_eof)) {
    no strict 'refs';
    *$t = sub { $_[0]{$t} };
}

# A one-line account of what arrived, for diagnostics.
sub describe {
    my $self = shift;
    my $s = defined $self->{code} ? "$self->{code} $self->{reason}"
                                  : 'no response head';
    $s .= sprintf ', %d body bytes (%s)', length $self->{body},
        join ' ', map { ord } split //, substr($self->{body}, 0, 48);
    $s .= ', ended' if $self->{done};
    $s .= ', connection closed' if $self->{eof};
    $s .= ", state error: $self->{state_error}" if $self->{state_error};
    return $s;
}

# close($reset): closes the connection (the client "vanishes"); with
# $reset, with an RST (SO_LINGER 0) instead of a FIN.
sub close {
    my ($self, $reset) = @_;
    my $s = delete $self->{sock} or return;
    setsockopt($s, Socket::SOL_SOCKET(), Socket::SO_LINGER(), pack('ii', 1, 0))
        if $reset;
    CORE::close($s);
    $self->{eof} = 1;
    $self->{in} = '';
    return;
}
BEGIN { *abort = \&close }

sub DESTROY { $_[0]->close }

1;
