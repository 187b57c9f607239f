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

# hold_get($port, cookie => id, headers => [...], path, timeout) -> an
# RS::Client whose writeable GET's head and state (and its newline) have
# been read: {code}, {headers}, {state} (decoded as hostile input: dec_state),
# {raw} (the state bytes), {newline}, {id}, {error}; the connection stays
# open. When the answer is not 200, its body has been read, the connection
# closed. $hold->finish, ->drain (reads what heartbeats arrived, without
# waiting; true while open), ->abort.
sub hold_get {
    my ($port, %o) = @_;
    my $c = RS::Client->new(port => $port, timeout => $o{timeout} || 30);
    $c->send_request('GET', $o{path} || ENDPOINT, key => API_KEY, %o);
    my $code = $c->read_head($o{timeout} || 30);
    unless (defined $code) {
        $c->{code} = 0;
        $c->{reason} = 'no answer';
        return $c;
    }
    if ($code != 200) {
        $c->read_body($o{timeout} || 30);
        $c->close;
        return $c;
    }
    if (my $st = $c->read_state($o{timeout} || 30, 0, utf8 => 1,
                                max => 1_000_000, count_check => 1)) {
        $c->{raw} = substr($c->{body}, 0, $st->{length});
        $c->{newline} = substr($c->{body}, $st->{length}, 1);
        $c->{id} = $st->{id};
    }
    elsif ($c->{state_error} && $c->{state_error} ne "truncated\n") {
        ($c->{error} = "undecodable state: $c->{state_error}") =~ s/\n\z//;
    }
    return $c;
}

# new_session($port) -> a fresh session's ID (read-only GET without cookie)
sub new_session {
    my $port = shift;
    my $c = RS::Client->new(port => $port);
    my $res = $c->request('GET', ENDPOINT, key => API_KEY,
                          headers => [RO_HEADER, 'true']);
    $c->close;
    return set_cookie_id($res);
}

# set_cookie_id($res) -> the session ID of a Set-Cookie of the answer
sub set_cookie_id {
    my $res = shift;
    for (@{ $res->{list} || $res->{header_list} || [] }) {
        next unless lc $_->[0] eq 'set-cookie';
        return $1 if $_->[1] =~ /^\Q${\COOKIE_NAME}\E=([^;]*)/;
    }
    return;
}

# read_state($port, $id) -> (decoded state or undef, response)
sub read_state {
    my ($port, $id, $c) = @_;
    my $own = !$c;
    $c ||= RS::Client->new(port => $port);
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
    my $c = $o{client} || RS::Client->new(port => $port);
    my $sid = set_cookie_id($hold) // $id;
    my $res = $c->request('PUT', ENDPOINT, key => API_KEY,
                          cookie => $sid, body => $body,
                          timeout => $o{timeout});
    $c->close unless $o{client};
    @r{qw(put put_reason put_body)} = @$res{qw(code reason body)};
    $r{ended} = ($hold->finish($o{finish_timeout} // 10) // '') eq 'end' ? 1 : 0;
    $hold->close;
    return \%r;
}

1;
