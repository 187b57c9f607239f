package RS::Require;

# Helpers of the SessionRequire tests (t/30_*.t .. t/39_*.t), on top of
# RS::Test (which has the endpoint's requests, sid_of and timed):
#   - rq_get(): a plain GET on the suite's server (or one of the virtual
#     hosts of t/conf/require.conf.in), with an optional session cookie, no
#     cookie jar, no redirects followed, the time it took kept (timed())
#   - cookie_line()/set_cookies(): the session cookie a response sets
#   - env_of(): the JSON object /req/env.cgi and friends print
#   - upd(): a query string of ?update=<JSON> parameters for env.cgi
#   - raw_members(): a JSON object's members with each value's text as is
#   - counter_example_tests(): the checks t/37 and t/38 run on the examples
#   - log_mark()/log_since()/count_rs(): the error log since a mark
#   - require_conf_value(): a value from the generated t/conf/require.conf
# Loading it also makes Apache::Test's config load faster (see below).
#
#   use lib 't/lib';
#   use RS::Require qw(:all);

use strict;
use warnings;

use Exporter 'import';
use File::Spec ();
use HTTP::Request ();
use JSON::PP ();
use LWP::UserAgent ();
use Time::HiRes ();
use Test::More ();
use URI::Escape ();

use Apache::Test ();
use Apache::TestRequest ();
use RS::Test qw(:all);

our @EXPORT_OK = qw(
    rq_url rq_get rq_request set_cookies cookie_line env_of
    json_text raw_members upd
    log_mark log_since count_rs
    require_conf_value COUNTER_TESTS counter_example_tests
    rq_new_session
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);


my $JSON = JSON::PP->new->canonical->latin1;

# ---------------------------------------------------------------------------
# HTTP

# Absolute URL of $path on the main server, or on virtual host $o{vhost},
# or on port $o{port}.
sub rq_url {
    my ($path, %o) = @_;
    my $port = $o{port} || ($o{vhost} ? vhost_port($o{vhost}) : undef);
    unless ($port) {
        (undef, $port) = split /:/, Apache::TestRequest::hostport();
    }
    return "http://127.0.0.1:$port$path";
}

my $UA;
sub _ua {
    return $UA ||= LWP::UserAgent->new(timeout => 90, max_redirect => 0,
                                       keep_alive => 0);
}

# rq_request($method, $path, %o) -> HTTP::Request. Options:
#   sid     => session ID sent as Cookie: ASP.NET_SessionId=<sid>
#   cookie  => a whole Cookie header instead
#   headers => [ name => value, ... ] (names sent as given, "_" too)
#   body    => request body;  vhost / port => as rq_url
sub rq_request {
    my ($method, $path, %o) = @_;
    my $req = HTTP::Request->new($method => rq_url($path, %o));
    if (defined $o{cookie}) {
        $req->header(Cookie => $o{cookie});
    }
    elsif (defined $o{sid}) {
        $req->header(Cookie => COOKIE_NAME . "=$o{sid}");
    }
    my @h = @{ $o{headers} || [] };
    while (my ($n, $v) = splice @h, 0, 2) {
        # HTTP::Headers turns "_" into "-" unless the name starts with ":"
        $req->push_header(($n =~ /_/ ? ":$n" : $n) => $v);
    }
    if (defined $o{body}) {
        $req->content($o{body});
        $req->header('Content-Length' => length $o{body});
    }
    return $req;
}

# rq_get($path, %o) -> HTTP::Response (options as rq_request); the time it
# took, in seconds, is in $res->{rq_elapsed} (see timed()).
sub rq_get {
    my ($path, %o) = @_;
    my $req = rq_request('GET', $path, %o);
    my $t0 = Time::HiRes::time();
    my $res = _ua()->request($req);
    $res->{rq_elapsed} = Time::HiRes::time() - $t0;
    return $res;
}


# rq_new_session(%rq_get options) -> the ID of a new session under
# SessionRequire On, stored by an empty update (a session is stored only
# once something is written); dies when there is none.
sub rq_new_session {
    my %o = @_;
    my $r = rq_get('/req/env.cgi?update=%7B%7D', %o);
    my $sid = RS::Test::sid_of($r)
        or die "rq_new_session: no session cookie:\n" . $r->as_string;
    return $sid;
}

# All Set-Cookie values of a response.
sub set_cookies { return $_[0]->headers->header('Set-Cookie') }

# The session cookie's whole Set-Cookie value, or undef.
sub cookie_line {
    my $res = shift;
    my $name = quotemeta COOKIE_NAME;
    my @c = grep { /^$name=/ } map { split /\n/ } $res->headers->header('Set-Cookie');
    return $c[0];
}


# The JSON object a response's body holds (undef when it is not one).
# Strings come back as the bytes env.cgi printed (latin1 mode both ways).
sub env_of {
    my $res = shift;
    my $v = eval { $JSON->decode($res->content) };
    return ref $v eq 'HASH' ? $v : undef;
}

# Parses JSON text (bytes) into Perl data (bytes kept as latin1 characters).
sub json_text { return eval { $JSON->decode($_[0]) } }

# raw_members($json_object_text) -> ([key, value text], ...): the members of
# a JSON object with each value's text exactly as it stands in the input
# (keys decoded). Dies on text that is not an object.
sub raw_members {
    my $t = shift;
    my $p = 0;
    my $ws = sub { $p++ while $p < length $t && substr($t, $p, 1) =~ /[ \t\r\n]/ };
    my $str = sub {    # a JSON string at $p; returns its text
        my $s = $p;
        die "RS::Require: string expected at $p\n" unless substr($t, $p, 1) eq '"';
        $p++;
        while ($p < length $t) {
            my $c = substr($t, $p++, 1);
            return substr($t, $s, $p - $s) if $c eq '"';
            $p++ if $c eq '\\';
        }
        die "RS::Require: unterminated string\n";
    };
    my $value;
    $value = sub {     # skips one value; returns its text
        $ws->();
        my $s = $p;
        my $c = substr($t, $p, 1);
        if ($c eq '"') {
            $str->();
        }
        elsif ($c eq '{' || $c eq '[') {
            my $close = $c eq '{' ? '}' : ']';
            $p++;
            $ws->();
            if (substr($t, $p, 1) eq $close) {
                $p++;
            }
            else {
                while (1) {
                    if ($c eq '{') {
                        $ws->(); $str->(); $ws->();
                        die "RS::Require: ':' expected at $p\n" unless substr($t, $p++, 1) eq ':';
                    }
                    $value->();
                    $ws->();
                    my $d = substr($t, $p++, 1);
                    last if $d eq $close;
                    die "RS::Require: ',' expected at " . ($p - 1) . "\n" unless $d eq ',';
                }
            }
        }
        else {
            $p++ while $p < length $t && substr($t, $p, 1) !~ /[,\]\} \t\r\n]/;
            die "RS::Require: value expected at $s\n" if $p == $s;
        }
        return substr($t, $s, $p - $s);
    };
    my @out;
    $ws->();
    die "RS::Require: object expected\n" unless substr($t, $p++, 1) eq '{';
    $ws->();
    if (substr($t, $p, 1) eq '}') {
        $p++;
    }
    else {
        while (1) {
            $ws->();
            my $k = $JSON->allow_nonref->decode($str->());
            $ws->();
            die "RS::Require: ':' expected at $p\n" unless substr($t, $p++, 1) eq ':';
            $ws->();
            my $v = $value->();
            push @out, [$k, $v];
            $ws->();
            my $d = substr($t, $p++, 1);
            last if $d eq '}';
            die "RS::Require: ',' expected\n" unless $d eq ',';
        }
    }
    $ws->();
    die "RS::Require: trailing text after the object\n" if $p < length $t;
    return @out;
}

# upd(@json_texts) -> "?update=...&update=..." for env.cgi.
sub upd {
    return '?' . join '&', map { 'update=' . URI::Escape::uri_escape($_) } @_;
}

# ---------------------------------------------------------------------------
# the counter examples (examples/php/counter.php, examples/cgi/counter.py)

use constant COUNTER_TESTS => 14;

# counter_example_tests($path, $what): COUNTER_TESTS assertions (Test::More)
# on a page that counts "visits" in the session and prints "session <id>:
# visit <n>": two visits count 1 then 2, the endpoint sees 2, a value the
# endpoint commits is what the page counts on from.
sub counter_example_tests {
    my ($path, $what) = @_;
    my $tb = Test::More->builder;

    my $r = rq_get($path);
    $tb->is_eq($r->code, 200, "$what, visit 1: 200") or $tb->diag($r->as_string);
    my $sid = sid_of($r);
    my $qsid = quotemeta($sid // '?');
    $tb->like($sid // '', ID_RE, "$what, visit 1: Set-Cookie of a new session");
    $tb->like($r->content, qr/^session $qsid: visit 1$/m,
              "$what, visit 1: counts 1 and sees REMOTE_SESSION_ID");
    $tb->ok(!defined $r->header('X-Remote-Session-Update'),
            "$what, visit 1: the update header does not reach the client");

    $r = rq_get($path, sid => $sid);
    $tb->is_eq($r->code, 200, "$what, visit 2: 200");
    $tb->like($r->content, qr/^session $qsid: visit 2$/m,
              "$what, visit 2: counts 2");
    $tb->ok(!defined cookie_line($r), "$what, visit 2: no new cookie");

    my $st = (ro_get($sid))[1];
    $tb->ok($st, "$what: the endpoint reads the session");
    $tb->is_eq($st && $st->{item}{visits}, '2', "$what: the endpoint sees visits=2");

    # the endpoint commits visits=41; the page counts on from there
    my $hold = hold_get($sid, timeout => 10);
    $tb->is_eq($hold->{code}, 200, "$what: the endpoint's writeable GET");
    my $put = put_state($sid, encode_state({ id => $sid, timeout => 20,
                                          items => [[visits => '41']] }));
    $tb->is_eq($put->code, 200, "$what: the endpoint's PUT of visits=41");
    $hold->close;
    $r = rq_get($path, sid => $sid);
    $tb->like($r->content, qr/: visit 42$/m, "$what: after the PUT it counts 42")
        or $tb->diag($r->as_string);
    $tb->ok(timed($r) < 1.5, "$what: not delayed after the PUT") or $tb->diag(timed($r));
    $st = (ro_get($sid))[1];
    $tb->is_eq($st && $st->{item}{visits}, '42', "$what: the endpoint sees visits=42");
}

# ---------------------------------------------------------------------------
# the error log

sub log_mark { return error_log_since() }

# The error log text since a mark; waits a little for lines still being
# written by the request that just answered.
sub log_since {
    my ($mark, $wait) = @_;
    Time::HiRes::sleep($wait // 0.1);
    return error_log_since($mark);
}

# count_rs($text, 'RS00041') -> number of lines carrying that message ID.
sub count_rs {
    my ($text, $id) = @_;
    my @l = grep { /\b\Q$id\E\b/ } split /\n/, $text;
    return wantarray ? @l : scalar @l;
}

# ---------------------------------------------------------------------------
# the generated config

# require_conf_value('Define RS_REQ_BACKEND_PORT') -> the rest of that line
# of t/conf/require.conf.
sub require_conf_value {
    my $prefix = shift;
    my $file = File::Spec->catfile(t_dir(), 'conf', 'require.conf');
    open my $fh, '<', $file or die "RS::Require: $file: $!\n";
    while (<$fh>) {
        return $1 if /^\s*\Q$prefix\E\s+(\S+)/;
    }
    return;
}

1;
