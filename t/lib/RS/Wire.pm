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

# open_stream($id, %opt) -> RS::Client: a writeable GET (no read-only
# header) sent on a new connection. Options: port, readonly, method, body,
# headers, path (another path and query than the endpoint's), stream_body
# (1: a chunked request body, sent later with send_body).
sub open_stream {
    my ($id, %o) = @_;
    my $method = $o{method} || 'GET';
    my $c = RS::Client->new(port => $o{port});
    my $ro = $o{readonly};
    $ro = 'true' if defined $ro && $ro eq '1';
    $c->send_request($method, $o{path} // ENDPOINT, key => API_KEY,
                     cookie => $id,
                     headers => [ (defined $ro ? (READONLY_HEADER, $ro) : ()),
                                  @{ $o{headers} || [] } ],
                     chunked => $o{stream_body},
                     body => $o{body} // ($method =~ /^(?:PUT|POST)$/i
                                          && !$o{stream_body} ? '' : undef));
    return $c;
}

1;
