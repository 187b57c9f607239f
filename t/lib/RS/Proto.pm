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
use RS::Test qw(API_KEY KEY_HEADER READONLY_HEADER ENDPOINT COOKIE_NAME
                endpoint_request send_request mc_command
                decode_state session_key ID_RE);

our @EXPORT_OK = qw(
    ro_get stored_items hold_get put_state new_session_id
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);


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

# hold_get($id, %opt) -> RS::Client with the writeable GET's head read
# and its state (plus the newline) awaited: {code}, {headers}, {state}
# (decoded, or undef), {after} (the body bytes after the state). Options:
# port, timeout (default 5), headers => [...] (more headers), key.
sub hold_get {
    my ($id, %o) = @_;
    my $c = RS::Client->new(port => $o{port});
    my @h = (KEY_HEADER, exists $o{key} ? $o{key} : API_KEY);
    push @h, Cookie => COOKIE_NAME . "=$id" if defined $id;
    push @h, @{ $o{headers} || [] };
    $c->send_request('GET', ENDPOINT, headers => \@h);
    $c->read_head($o{timeout} || 5) or return $c;
    return $c unless $c->{code} == 200;
    $c->read_state($o{timeout} || 5);
    return $c;
}

1;
