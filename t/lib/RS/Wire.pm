package RS::Wire;

# What the lock tests (t/2x_*.t) need on top of RS::Test:
#
#   - the session state's binary format, version 1 (PROTOCOL.md), in Perl:
#     encode_state / decode_state / decode_state_prefix, wrappers of
#     RS::Proto's codec, written from the protocol text (not from the
#     module's C code), so the tests check the module against the protocol
#     rather than against itself
#   - the memcached record of docs/DESIGN.md: pack_record / unpack_record /
#     read_record, for looking at the lock and for planting records
#   - the protocol's requests: new_session, ro_get, put_state, and
#     RS::Wire::Stream, a raw HTTP/1.1 request whose response is read
#     incrementally (de-chunked) with timeouts and arrival times, which a
#     writeable GET held open needs
#
# A state is a hash:
#   { id => '...', is_new => 0|1, is_abandoned => 0|1, is_readonly => 0|1,
#     timeout => minutes, items => [ [key, json-bytes], ... ],
#     unknown => [ key, ... ] }
# encode_state also takes items as a hash ref (encoded in key order).
#
#   use lib 't/lib';
#   use RS::Wire qw(:all);

use strict;
use warnings;

use Exporter 'import';
use Errno ();
use IO::Select ();
use Time::HiRes ();

use RS::Test qw(:all);

our @EXPORT_OK = qw(
    session_of_response new_session ro_get put_state open_stream
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

# ---------------------------------------------------------------------------
# the protocol's requests

# The session ID a response's Set-Cookie carries, or undef.
sub session_of_response {
    my $res = shift;
    my $name = COOKIE_NAME;
    for my $c ($res->header('Set-Cookie')) {
        return $1 if defined $c && $c =~ /(?:^|[;,]\s*)\Q$name\E=([a-z0-5]{24})\b/;
    }
    return;
}

# ro_get($id, %opt) -> ($response, $state or undef). $id undef: no cookie.
# Options: port => another server.
sub ro_get {
    my ($id, %o) = @_;
    my $res = send_request(endpoint_request('GET', readonly => 'true',
                                            session => $id, %o));
    my $st;
    $st = eval { decode_state($res->content) } if $res->code == 200;
    return ($res, $st);
}

# new_session(%opt) -> a new session's ID (made by a read-only GET with no
# cookie), optionally committed with items (hash ref) by a writeable GET +
# PUT. Dies when that does not work.
sub new_session {
    my %o = @_;
    my ($res) = ro_get(undef, port => $o{port});
    my $id = session_of_response($res)
        or die "RS::Wire::new_session: no session cookie in:\n"
               . $res->as_string;
    if ($o{items}) {
        my $g = open_stream($id, port => $o{port});
        my $st = $g->state(10)
            or die "RS::Wire::new_session: writeable GET gave no state: "
                   . $g->describe . "\n";
        my $put = put_state($id, { %$st, items => $o{items} },
                            port => $o{port});
        $put->code == 200
            or die "RS::Wire::new_session: PUT: " . $put->as_string;
        $g->finish(10)
            or die "RS::Wire::new_session: the writeable GET did not end\n";
        $g->close;
    }
    return $id;
}

# put_state($id, $state_hash_or_bytes, %opt) -> response of a PUT with that
# body (flags cleared, id defaulting to $id). Options: port.
sub put_state {
    my ($id, $st, %o) = @_;
    my $body = $st;
    if (ref $st) {
        $body = encode_state(%$st, id => $st->{id} // $id, new => 0,
                             readonly => 0);
    }
    return send_request(endpoint_request('PUT', session => $id,
                                         body => $body, %o));
}

# open_stream($id, %opt) -> RS::Wire::Stream: a writeable GET (no read-only
# header) sent on a new connection. Options: port, readonly, method, body,
# headers, path (another path and query than the endpoint's), stream_body
# (1: a chunked request body, sent later with send_body).
sub open_stream { return RS::Wire::Stream->new(@_) }

# ---------------------------------------------------------------------------

package RS::Wire::Stream;

# One raw HTTP/1.1 request whose response is read with sysread (never
# buffered reads), so a test can wait for "some bytes", "the head", "a whole
# state", "the end" with timeouts and know when each arrived.

use strict;
use warnings;
use Errno ();
use IO::Select ();
use Time::HiRes ();
use RS::Test qw(:all);

sub new {
    my ($class, $id, %o) = @_;
    my $self = bless { raw => '', body => '', head => undef, done => 0,
                       eof => 0, chunk_left => undef, id => $id }, $class;
    $self->{sock} = raw_connect($o{port});
    my @stream = $o{stream_body}
        ? (headers => [ @{ $o{headers} || [] },
                        'Transfer-Encoding' => 'chunked' ])
        : ();
    my $req = endpoint_request($o{method} || 'GET', session => $id,
                               (defined $o{readonly}
                                    ? (readonly => $o{readonly}) : ()),
                               (defined $o{body} ? (body => $o{body}) : ()),
                               headers => $o{headers} || [],
                               @stream,
                               (defined $o{path} ? (path => $o{path}) : ()),
                               (defined $o{port} ? (port => $o{port}) : ()));
    $req->remove_header('Content-Length') if $o{stream_body};
    $self->{t_sent} = Time::HiRes::time();
    raw_send($self->{sock}, $req);
    return $self;
}

# With stream_body => 1: sends one chunk of the request body; with no
# argument (or ''), the last chunk, which ends the body.
sub send_body {
    my ($self, $bytes) = @_;
    my $s = $self->{sock} or return;
    if (defined $bytes && length $bytes) {
        printf $s "%x\r\n%s\r\n", length $bytes, $bytes;
    }
    else {
        print $s "0\r\n\r\n";
    }
    return 1;
}

# Reads what the socket has within $timeout seconds (at most one read).
# Returns the number of bytes read, 0 on EOF (sets eof), undef on timeout.
sub _read_some {
    my ($self, $timeout) = @_;
    return 0 if $self->{eof} || !$self->{sock};
    $timeout = 0 if $timeout < 0;
    my $sel = IO::Select->new($self->{sock});
    return unless $sel->can_read($timeout);
    my $n = sysread($self->{sock}, my $buf, 65536);
    if (!defined $n) {
        return if $! == Errno::EINTR || $! == Errno::EAGAIN;
        $self->{eof} = 1;
        $self->{error} = "$!";
        return 0;
    }
    if ($n == 0) {
        $self->{eof} = 1;
        $self->{t_eof} = Time::HiRes::time();
        return 0;
    }
    $self->{t_first_byte} //= Time::HiRes::time();
    $self->{raw} .= $buf;
    $self->_parse;
    return $n;
}

# Moves what arrived from raw into head and body (de-chunked).
sub _parse {
    my $self = shift;
    unless ($self->{head}) {
        my $i = index($self->{raw}, "\r\n\r\n");
        return if $i < 0;
        my $head = substr($self->{raw}, 0, $i + 4, '');
        my @lines = split /\r\n/, $head;
        my $status = shift @lines;
        my ($code, $reason) = $status =~ m{^HTTP/\d\.\d (\d{3}) ?(.*)$}
            or die "RS::Wire::Stream: bad status line '$status'\n";
        my %h;
        for (@lines) {
            my ($n, $v) = split /:\s*/, $_, 2;
            $n = lc $n;
            $h{$n} = exists $h{$n} ? "$h{$n}, $v" : $v;
        }
        $self->{head} = { code => $code, reason => $reason, headers => \%h };
        $self->{t_head} = Time::HiRes::time();
        $self->{chunked} = ($h{'transfer-encoding'} // '') =~ /chunked/i;
        $self->{length} = $h{'content-length'};
        $self->{done} = 1 if !$self->{chunked} && defined $self->{length}
                             && $self->{length} == 0;
    }
    return if $self->{done};
    my $before = length $self->{body};
    if ($self->{chunked}) {
        while (length $self->{raw}) {
            if (!defined $self->{chunk_left}) {
                my $i = index($self->{raw}, "\r\n");
                last if $i < 0;
                my $line = substr($self->{raw}, 0, $i + 2, '');
                my ($hex) = $line =~ /^([0-9a-fA-F]+)/
                    or die "RS::Wire::Stream: bad chunk line '$line'\n";
                $self->{chunk_left} = hex $hex;
                $self->{chunks}++;
                if ($self->{chunk_left} == 0) {
                    # the last chunk (no trailers are expected)
                    $self->{done} = 1;
                    $self->{t_done} = Time::HiRes::time();
                    last;
                }
            }
            if ($self->{chunk_left} > 0) {
                my $n = $self->{chunk_left} < length $self->{raw}
                      ? $self->{chunk_left} : length $self->{raw};
                $self->{body} .= substr($self->{raw}, 0, $n, '');
                $self->{chunk_left} -= $n;
            }
            if ($self->{chunk_left} == 0) {
                last if length $self->{raw} < 2;
                substr($self->{raw}, 0, 2, '') eq "\r\n"
                    or die "RS::Wire::Stream: no CRLF after a chunk\n";
                $self->{chunk_left} = undef;
            }
        }
    }
    else {
        $self->{body} .= $self->{raw};
        $self->{raw} = '';
        if (defined $self->{length} && length $self->{body} >= $self->{length}) {
            $self->{done} = 1;
            $self->{t_done} = Time::HiRes::time();
        }
    }
    $self->{t_first_body} //= Time::HiRes::time()
        if length $self->{body} > $before;
}

# Reads until $cond->() holds or $timeout seconds pass or EOF; the last
# value of $cond->().
sub _until {
    my ($self, $timeout, $cond) = @_;
    my $deadline = Time::HiRes::time() + $timeout;
    while (1) {
        my $v = $cond->();
        return $v if $v;
        return $v if $self->{eof};
        my $left = $deadline - Time::HiRes::time();
        return $v if $left <= 0;
        $self->_read_some($left);
    }
}

# quiet($seconds) -> true when not a single byte arrives within $seconds.
sub quiet {
    my ($self, $t) = @_;
    return 0 if length $self->{raw} || $self->{head};
    return !$self->_until($t, sub { length $self->{raw} || $self->{head} })
           && !$self->{eof};
}

# head($timeout) -> the status code once the head arrived, undef otherwise.
sub head {
    my ($self, $timeout) = @_;
    $self->_until($timeout // 10, sub { $self->{head} });
    return $self->{head} ? $self->{head}{code} : undef;
}

sub code    { my $h = $_[0]{head}; return $h ? $h->{code} : undef }
sub reason  { my $h = $_[0]{head}; return $h ? $h->{reason} : undef }
sub header  { my $h = $_[0]{head}; return $h ? $h->{headers}{lc $_[1]} : undef }
sub body    { return $_[0]{body} }
sub is_done { return $_[0]{done} }
sub is_eof  { return $_[0]{eof} }
sub t_sent       { return $_[0]{t_sent} }
sub t_head       { return $_[0]{t_head} }
sub t_first_byte { return $_[0]{t_first_byte} }
sub t_first_body { return $_[0]{t_first_body} }
sub t_done       { return $_[0]{t_done} }
sub t_eof        { return $_[0]{t_eof} }

# state($timeout) -> the decoded state once a whole state arrived in a 200
# response body (remembered; rest() is what followed it), undef otherwise.
sub state {
    my ($self, $timeout) = @_;
    return $self->{state} if $self->{state};
    $self->_until($timeout // 10, sub {
        return 0 unless $self->{head};
        return 1 if $self->{head}{code} != 200;
        my ($st, $used) = eval { RS::Codec::decode_state_prefix($self->{body}) };
        if ($@) {
            $self->{state_error} = $@;
            return 1;
        }
        return 0 unless $st;
        $self->{state} = $st;
        $self->{state_len} = $used;
        return 1;
    });
    return $self->{state};
}

# The body bytes after the state (heartbeat newlines in a writeable GET).
sub rest {
    my $self = shift;
    return unless defined $self->{state_len};
    return substr($self->{body}, $self->{state_len});
}

# finish($timeout) -> 'end' once the response ended as HTTP says (last
# chunk, or Content-Length reached), 'eof' when the connection closed
# before that, undef when neither happened within $timeout seconds.
sub finish {
    my ($self, $timeout) = @_;
    $self->_until($timeout // 10, sub { $self->{done} });
    return 'end' if $self->{done};
    return 'eof' if $self->{eof};
    return;
}

# A one-line account of what arrived, for diagnostics.
sub describe {
    my $self = shift;
    my $h = $self->{head};
    my $s = $h ? "$h->{code} $h->{reason}" : 'no response head';
    my $b = $self->{body};
    $s .= sprintf ', %d body bytes (%s)', length $b,
        join ' ', map { ord } split //, substr($b, 0, 48);
    $s .= ', ended' if $self->{done};
    $s .= ', connection closed' if $self->{eof};
    $s .= ", state error: $self->{state_error}" if $self->{state_error};
    return $s;
}

# Closes the connection (the client "vanishes"); with $reset, with an RST
# (SO_LINGER 0) instead of a FIN.
sub close {
    my ($self, $reset) = @_;
    my $s = delete $self->{sock} or return;
    if ($reset) {
        require Socket;
        setsockopt($s, Socket::SOL_SOCKET(), Socket::SO_LINGER(),
                   pack('ii', 1, 0));
    }
    CORE::close($s);
    $self->{eof} = 1;
}

sub DESTROY { $_[0]->close }

1;
