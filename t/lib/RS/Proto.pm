package RS::Proto;

# The wire protocol of PROTOCOL.md, from the client's side, for the endpoint
# tests (t/1[0-5]_*.t):
#   - enc7/dec7, encode_state/decode_state: the binary session state
#     (version 1, .NET BinaryWriter encoding), written independently of the
#     module's C codec
#   - RS::Proto::Conn: a raw HTTP/1.1 connection with its own buffering
#     (sysread), for responses that stay open (writeable GET, POST) and for
#     requests LWP cannot make (pipelined PUTs, streamed chunked bodies,
#     odd methods and headers)
#   - small wrappers for the usual requests: ro_get, hold_get, put_state
#
#   use lib 't/lib';
#   use RS::Proto qw(:all);

use strict;
use warnings;

use Exporter 'import';
use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes ();

use Apache::Test ();
use Apache::TestRequest ();
use RS::Test qw(API_KEY KEY_HEADER READONLY_HEADER ENDPOINT COOKIE_NAME
                endpoint_request send_request mc_command
                decode_state session_key ID_RE);

our @EXPORT_OK = qw(
    suite_port vhost_port ro_get stored_items hold_get put_state new_session_id
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);


# ---------------------------------------------------------------------------
# ports, keys

sub suite_port {
    my (undef, $port) = split /:/, Apache::TestRequest::hostport(
        Apache::Test::config());
    return $port;
}

# The port Apache::Test gave <VirtualHost $name> of t/conf/*.conf.in.
sub vhost_port {
    my $name = shift;
    my $v = Apache::Test::config()->{vhosts}->{$name}
        or die "RS::Proto: no vhost '$name' in the test config\n";
    return $v->{port};
}

# ---------------------------------------------------------------------------
# requests

# ro_get($id, %endpoint_request options) -> (response, decoded state or undef)
sub ro_get {
    my ($id, %o) = @_;
    my $r = send_request(endpoint_request('GET', readonly => 'true',
                                          (defined $id ? (session => $id) : ()),
                                          %o));
    my $st = $r->code == 200 ? eval { decode_state($r->content) } : undef;
    return ($r, $st);
}

# stored_items($id, %ro_get options) -> the session's items as a read-only
# GET sees them ([[key, value], ...]), or 'no state'.
sub stored_items {
    my (undef, $st) = ro_get(@_);
    return $st ? $st->{items} : 'no state';
}

# A new session (read-only GET without a cookie); its ID.
sub new_session_id {
    my %o = @_;
    my ($r, $st) = ro_get(undef, %o);
    die "RS::Proto::new_session_id: " . $r->status_line . "\n"
        unless $st && $st->{id} =~ ID_RE;
    return $st->{id};
}

# put_state($id, state bytes, %endpoint_request options) -> response
sub put_state {
    my ($id, $body, %o) = @_;
    return send_request(endpoint_request('PUT', session => $id, body => $body,
                                         %o));
}

# hold_get($id, %opt) -> RS::Proto::Conn with the writeable GET's head read
# and its state (plus the newline) awaited: {code}, {headers}, {state}
# (decoded, or undef), {after} (the body bytes after the state). Options:
# port, timeout (default 5), headers => [...] (more headers), key.
sub hold_get {
    my ($id, %o) = @_;
    my $c = RS::Proto::Conn->new(port => $o{port});
    my @h = (KEY_HEADER, exists $o{key} ? $o{key} : API_KEY);
    push @h, Cookie => COOKIE_NAME . "=$id" if defined $id;
    push @h, @{ $o{headers} || [] };
    $c->request('GET', ENDPOINT, headers => \@h);
    $c->read_head($o{timeout} || 5) or return $c;
    return $c unless $c->{code} == 200;
    $c->read_state($o{timeout} || 5);
    return $c;
}

# ---------------------------------------------------------------------------
package RS::Proto::Conn;

# A raw HTTP/1.1 client connection.
#   my $c = RS::Proto::Conn->new(port => $port);
#   $c->request('GET', $path, headers => [n => v, ...], body => $bytes,
#               chunked => 1);       # chunked: Transfer-Encoding, no body
#   $c->read_head($timeout)          # {code} {reason} {headers} {header_list}
#   $c->read_body($timeout, $until)  # decoded body so far in {body}
#   $c->write_chunk($data); $c->end_chunks;

use strict;
use warnings;
use Errno ();

sub new {
    my ($class, %o) = @_;
    my $port = $o{port} || RS::Proto::suite_port();
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "RS::Proto::Conn: 127.0.0.1:$port: $!\n";
    binmode $s;
    return bless { sock => $s, port => $port, in => '', body => '',
                   eof => 0, done => 0 }, $class;
}

sub sock { $_[0]{sock} }

sub write {
    my ($self, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($self->{sock}, $data, length($data) - $off, $off);
        die "RS::Proto::Conn: write: $!\n" unless defined $n;
        $off += $n;
    }
    return 1;
}

# Sends one request. headers: a list of name => value pairs, in order, as
# given (no Host unless listed: one is added). body: sent with
# Content-Length (unless headers name one); chunked => 1: announces a
# chunked body, to be sent with write_chunk/end_chunks.
sub request {
    my ($self, $method, $path, %o) = @_;
    my @h = @{ $o{headers} || [] };
    my $head = "$method $path HTTP/1.1\r\n";
    my %seen;
    while (my ($n, $v) = splice @h, 0, 2) {
        $head .= "$n: $v\r\n";
        $seen{lc $n} = 1;
    }
    $head = "$method $path HTTP/1.1\r\nHost: 127.0.0.1:$self->{port}\r\n"
        . substr($head, length "$method $path HTTP/1.1\r\n")
        unless $seen{host};
    if ($o{chunked}) {
        $head .= "Transfer-Encoding: chunked\r\n";
    }
    elsif (defined $o{body} && !$seen{'content-length'}) {
        $head .= 'Content-Length: ' . length($o{body}) . "\r\n";
    }
    $self->write($head . "\r\n" . ($o{chunked} ? '' : $o{body} // ''));
    $self->{method} = uc $method;
    return $self;
}

sub write_chunk {
    my ($self, $data) = @_;
    return $self->write(sprintf("%x\r\n", length $data) . $data . "\r\n");
}

sub end_chunks { $_[0]->write("0\r\n\r\n") }

# Reads more bytes into {in}; waits at most $timeout seconds. 1 when bytes
# came, 0 on EOF or timeout (then {eof} tells which).
sub _fill {
    my ($self, $timeout) = @_;
    return 0 if $self->{eof};
    my $sel = IO::Select->new($self->{sock});
    return 0 unless $sel->can_read($timeout < 0 ? 0 : $timeout);
    my $n = sysread($self->{sock}, $self->{in}, 65536, length $self->{in});
    if (!$n) {
        $self->{eof} = 1;
        $self->{error} = $! unless defined $n;
        return 0;
    }
    return 1;
}

# Reads the status line and headers. Returns the code, or undef on timeout
# or EOF. {headers}: lower-case name => value (repeated ones joined by
# ", "); {header_list}: [name, value] pairs as received.
sub read_head {
    my ($self, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout || 5);
    while (1) {
        # skip interim 1xx answers
        while ($self->{in} =~ s/\AHTTP\/1\.\d 1\d\d[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n//) {}
        last if $self->{in} =~ /\r\n\r\n/;
        my $left = $deadline - Time::HiRes::time();
        return if $left <= 0 || !$self->_fill($left);
    }
    my $i = index($self->{in}, "\r\n\r\n");
    my $head = substr($self->{in}, 0, $i);
    substr($self->{in}, 0, $i + 4) = '';
    my ($status, @lines) = split /\r\n/, $head;
    my ($code, $reason) = $status =~ m{^HTTP/\d\.\d (\d{3})(?: ([^\r\n]*))?}
        or die "RS::Proto::Conn: bad status line '$status'\n";
    my (%h, @list);
    for (@lines) {
        my ($n, $v) = /^([^:]+):[ \t]*(.*?)[ \t]*\z/ or next;
        push @list, [$n, $v];
        $n = lc $n;
        $h{$n} = exists $h{$n} ? "$h{$n}, $v" : $v;
    }
    @$self{qw(code reason headers header_list)} = ($code, $reason // '',
                                                   \%h, \@list);
    $self->{body} = '';
    $self->{done} = 0;
    $self->{chunk_left} = undef;
    if ($self->{method} eq 'HEAD' || $code == 204 || $code == 304) {
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
    return $code;
}

# Moves the decoded body bytes from {in} to {body}; sets {done} at the end.
sub _decode {
    my $self = shift;
    my $f = $self->{framing};
    if ($f eq 'length') {
        my $take = substr($self->{in}, 0, $self->{length_left}, '');
        $self->{body} .= $take;
        $self->{length_left} -= length $take;
        $self->{done} = 1 if $self->{length_left} == 0;
    }
    elsif ($f eq 'close') {
        $self->{body} .= $self->{in};
        $self->{in} = '';
        $self->{done} = 1 if $self->{eof};
    }
    elsif ($f eq 'chunked') {
        while (!$self->{done}) {
            if (!defined $self->{chunk_left}) {
                last unless $self->{in} =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//;
                $self->{chunk_left} = hex $1;
                $self->{chunks}++;
                if ($self->{chunk_left} == 0) {
                    $self->{chunk_left} = -1;    # trailers follow
                }
            }
            if ($self->{chunk_left} == -1) {
                # trailers, then an empty line
                last unless $self->{in} =~ s/\A(?:[^\r\n]+\r\n)*\r\n//;
                $self->{done} = 1;
                last;
            }
            if ($self->{chunk_left} > 0) {
                my $take = substr($self->{in}, 0, $self->{chunk_left}, '');
                $self->{body} .= $take;
                $self->{chunk_left} -= length $take;
            }
            last if $self->{chunk_left} > 0;
            last unless $self->{in} =~ s/\A\r\n//;
            $self->{chunk_left} = undef;
        }
    }
    return;
}

# Reads body bytes for at most $timeout seconds, or until $until->($self)
# is true, or the body is complete, or EOF. Returns {done}.
sub read_body {
    my ($self, $timeout, $until) = @_;
    my $deadline = Time::HiRes::time() + $timeout;
    while (1) {
        $self->_decode;
        return $self->{done} if $self->{done};
        return 0 if $until && $until->($self);
        return 0 if $self->{eof};
        my $left = $deadline - Time::HiRes::time();
        return 0 if $left <= 0;
        $self->_fill($left);
    }
}

# Reads until the body begins with a whole state and, unless $no_more is
# true, at least one byte after it (the writeable GET's newline); sets
# {state} (or {state_error}) and {after}: the body bytes after the state.
sub read_state {
    my ($self, $timeout, $no_more) = @_;
    my $st;
    $self->read_body($timeout, sub {
        my $c = shift;
        $st = eval { RS::Codec::decode_state($c->{body}, 1) };
        $c->{state_error} = $@ unless $st;
        return $st && ($no_more || length($c->{body}) > $st->{length});
    });
    $st ||= eval { RS::Codec::decode_state($self->{body}, 1) };
    $self->{state} = $st;
    $self->{after} = $st ? substr($self->{body}, $st->{length}) : undef;
    return $st;
}

# The body bytes that arrived after the state so far.
sub after_state {
    my $self = shift;
    return unless $self->{state};
    return substr($self->{body}, $self->{state}{length});
}

# A complete response (head and body), with a timeout; the code.
sub response {
    my ($self, $timeout) = @_;
    $timeout ||= 5;
    my $code = $self->read_head($timeout) // return;
    $self->read_body($timeout);
    return $code;
}

sub close {
    my $self = shift;
    CORE::close($self->{sock}) if $self->{sock};
    delete $self->{sock};
    return;
}

sub DESTROY { $_[0]->close }

1;
