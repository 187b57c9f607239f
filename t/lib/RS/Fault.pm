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
    now
    held_get put_state readonly_get raw_request cookie_id timed
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

sub now { Time::HiRes::time() }

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
    my $c = RS::Client->new(port => $o{port});
    my $t0 = now();
    $c->send_request('GET', RS::Test::ENDPOINT, [_endpoint_headers(%o)]);
    my $code = $c->read_head($o{timeout} // 10);
    my $res = { conn => $c, code => $code, headers => $c->{headers},
                reason => $c->{reason}, t0 => $t0, t_head => now() };
    return $res unless defined $code && $code == 200;
    # the state, then one newline; heartbeats follow
    if (my $st = $c->read_state($o{timeout} // 10)) {
        $res->{state} = $st;
        $res->{id} = $st->{id};
    }
    $res->{raw} = $c->{body};
    $c->{taken} = length $c->{body};
    return $res;
}

# put_state($id, $bytes, port => ...) -> (code, reason, body, headers)
# over a fresh connection.
sub put_state {
    my ($id, $bytes, %o) = @_;
    my $c = RS::Client->new(port => $o{port});
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
    my $c = RS::Client->new(port => $o{port});
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
    my $c = eval { RS::Client->new(port => $o{port}) } or return;
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
