# The session endpoint's API key and methods (PROTOCOL.md "Endpoint and
# authentication"): anything but the exact key is 401 with an empty body
# and leaves memcached alone (no item added, no get, set or touch); method
# names are compared without regard to case; other methods are 405 with an
# Allow header; the key (and session values) never reach the error log,
# which the suite writes at remote_session:trace8.
#
# httpd itself strips leading and trailing blanks (SP, HTAB) from a header
# value (RFC 9110 5.5: they are not part of the value), so "the key with a
# trailing space" arrives as the key and must be accepted; a trailing
# non-ASCII space (U+00A0) is not stripped and must be refused. httpd lets
# lower-case method names ("get", "put", "post") through to the module.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use RS::Test qw(:all);

my $key = API_KEY;
my @bad_keys = (
    [ 'a wrong key',           '6f9619ff-8b86-d011-b42d-00c04fc964ff' ],
    [ 'the key in upper case', uc $key ],
    [ 'one byte short',        substr($key, 0, -1) ],
    [ 'one byte more',         $key . '0' ],
    [ 'first byte changed',    'a' . substr($key, 1) ],
    [ 'last byte changed',     substr($key, 0, -1) . '0' ],
    [ 'in braces',             "{$key}" ],
    [ 'without dashes',        join '', split /-/, $key ],
    [ 'a trailing U+00A0',     "$key\xc2\xa0" ],
    [ 'an empty value',        '' ],
    [ 'the key twice, comma-joined', "$key, $key" ],
);
my @methods405 = qw(DELETE PATCH OPTIONS HEAD FOO);

# a held writeable GET and its PUT at once
need_workers(2);

plan tests => 4 * @bad_keys + 2 + 2 + 3 + 4 + 8 + 4 * @methods405 + 1 + 2
            + 4;

my $marker = 'rs-secret-marker-14-' . $$;
my $log_from = error_log_since();

# Sends one request on a fresh connection; the Conn (response read).
sub raw {
    my ($method, @headers) = @_;
    my $body;
    $body = pop @headers if @headers % 2;
    my $c = RS::Client->new;
    $c->send_request($method, ENDPOINT, headers => [ @headers, Connection => 'close' ],
                (defined $body ? (body => $body) : ()));
    $c->response(5);
    return $c;
}

# a session with a value, its TTL cut short directly in memcached
my $id = new_session();
{
    my $g = hold_get($id);
    put_state($id, encode_state(id => $id, items => [[ 'm', "\"$marker\"" ]]));
    $g->read_body(3) or BAIL_OUT('setup: GET + PUT does not commit');
}
mc_command("touch remote-session:$id 100");
my @keys0 = mc_keys('remote-session:');
my $stats0 = mc_stats();
my $ck = COOKIE_NAME . "=$id";
my $put_body = encode_state(id => $id, items => [[ 'm', '"overwritten"' ]]);
my $n401 = 0;

# --- wrong keys: 401, empty body ----------------------------------------------
for my $case (@bad_keys) {
    my ($what, $k) = @$case;
    my $c = raw('GET', KEY_HEADER, $k, Cookie => $ck, READONLY_HEADER, 'true');
    is($c->{code}, 401, "read-only GET, $what: 401");
    is($c->{body}, '', "read-only GET, $what: empty body");
    $c = raw('GET', KEY_HEADER, $k, Cookie => $ck);
    is($c->{code}, 401, "writeable GET, $what: 401");
    $c = raw('PUT', KEY_HEADER, $k, Cookie => $ck, $put_body);
    is($c->{code}, 401, "PUT, $what: 401");
    $n401 += 3;
}
{
    my $c = raw('GET', Cookie => $ck, READONLY_HEADER, 'true');
    is($c->{code} . '/' . $c->{body}, '401/', 'no key header: 401, empty body');
    $c = raw('GET', KEY_HEADER, $key, KEY_HEADER, $key, Cookie => $ck,
             READONLY_HEADER, 'true');
    is($c->{code} . '/' . $c->{body}, '401/',
       'two key headers (both the key): 401, empty body');
    $n401 += 2;
}
{
    my $c = raw('POST', KEY_HEADER, uc $key, Cookie => $ck, $put_body);
    is($c->{code} . '/' . $c->{body}, '401/', 'POST with a wrong key: 401, '
       . 'empty body');
    $c = raw('GET', KEY_HEADER, 'x', READONLY_HEADER, 'true');
    is($c->{code}, 401, 'wrong key and no cookie: 401 (no session is created)');
    $n401 += 2;
}

my $stats1 = mc_stats();
is_deeply([mc_keys_added('remote-session:', @keys0)], [],
          'after the 401s: no item added to memcached');
is(join(' ', map { $stats1->{$_} - $stats0->{$_} }
                 qw(cmd_get cmd_set cmd_touch)), '0 0 0',
   'after the 401s: memcached saw no get, set (incl. add, cas) or touch');
my $ttl = (mc_meta_ttl(session_key($id)))[0] // 0;
ok($ttl > 0 && $ttl <= 100,
   "after the 401s: the session's TTL was not reset ($ttl s)");

# leading/trailing blanks are not part of a header value
for my $k (" $key", "$key ", "\t$key\t") {
    (my $shown = $k) =~ s/\t/\\t/g;
    my $c = raw('GET', KEY_HEADER, $k, READONLY_HEADER, 'true', Cookie => $ck);
    is($c->{code}, 200, "key with blanks around it ('$shown'): httpd strips "
       . 'them, the key is accepted');
}
my ($r, $st) = ro_get($id);
is_deeply($st && $st->{items}, [[ 'm', "\"$marker\"" ]],
          'the refused PUTs and POSTs changed nothing');

# --- method names without regard to case --------------------------------------
for my $m (qw(get Get gET)) {
    my $c = raw($m, KEY_HEADER, $key, Cookie => $ck, READONLY_HEADER, 'true');
    my $s = eval { decode_state($c->{body}) };
    ok($c->{code} == 200 && $s && $s->{id} eq $id && $s->{readonly},
       "method '$m': a read-only GET") or diag("$c->{code} $c->{reason}");
}
{
    my $g = hold_get($id);
    my $c = raw('put', KEY_HEADER, $key, Cookie => $ck,
                encode_state(id => $id, items => [[ 'm', "\"$marker\"" ],
                                                  [ 'via', '"put"' ]]));
    is($c->{code}, 200, "method 'put': a PUT that commits")
        or diag("$c->{code} $c->{reason}");
    ok($g->read_body(3), "method 'put': the held GET completes");
}
{
    my $c = raw('Post', KEY_HEADER, $key, Cookie => $ck,
                encode_state(id => $id, items => [[ 'm', "\"$marker\"" ],
                                                  [ 'via', '"post"' ]]));
    my $s = eval { decode_state($c->{body}, 1) };
    is($c->{code}, 200, "method 'Post': 200");
    is($s && substr($c->{body}, $s->{length}), '{"s":true}',
       "method 'Post': a POST that commits");
    my (undef, $st) = ro_get($id);
    is_deeply($st && $st->{items}, [[ 'm', "\"$marker\"" ], [ 'via', '"post"' ]],
              "... the items of the 'Post'");
}

# --- other methods: 405 with Allow ---------------------------------------------
my @keys1 = mc_keys('remote-session:');
for my $m (@methods405) {
    my $c = raw($m, KEY_HEADER, $key, Cookie => $ck);
    is($c->{code}, 405, "$m: 405");
    my $allow = $c->{headers}{allow} // '';
    my %allow = map { uc($_) => 1 } split /\s*,\s*/, $allow;
    ok($allow{GET} && $allow{PUT} && $allow{POST},
       "$m: Allow lists GET, PUT, POST (got '$allow')");
    ok(!$allow{DELETE} && !$allow{PATCH} && !$allow{FOO},
       "$m: Allow lists no method the endpoint refuses");
    ok(!$c->{headers}{'set-cookie'}, "$m: no session cookie");
}
is_deeply([mc_keys_added('remote-session:', @keys1)], [],
          '405 answers create no session');
# httpd's core answers TRACE itself, before any handler (map_to_storage):
# the documented setting is TraceEnable off (t/conf/extra.conf.in), which
# makes core answer 405 without echoing the request.
{
    my $c = raw('TRACE', KEY_HEADER, $key);
    is($c->{code}, 405, 'TRACE: 405 like any other method');
    unlike($c->{body}, qr/\Q$key\E/, 'TRACE: the key is not echoed');
}

# --- the error log -------------------------------------------------------------
# every refusal was logged once; the key and the session value never are
my $log = error_log_since($log_from);
my $refusals = () = $log =~ /wrong API key/g;
is($refusals, $n401, "each 401 is logged once ($n401 refusals)");
my $whole = error_log_since(0);
my $prefix = substr($key, 0, 30);
unlike($whole, qr/\Q$prefix\E/i,
       'the API key (or a 30-character prefix of it, any case) is nowhere in '
       . 't/logs/error_log');
unlike($whole, qr/\Q$marker\E/, 'the session value is not in the error log');
unlike($log, qr/6f9619ff-8b86/i,
       'a wrong key that was presented is not logged either');
