# The suite's server is up with mod_remote_session loaded and the harness
# around it works: the endpoint answers (401 without the API key, which only
# the module's handler does), the test CGI runs, HTTP/2 cleartext is on, and
# the suite's memcached is reachable for direct checks.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use JSON::PP ();
use RS::Test qw(:all);

plan tests => 12;

# the server is up
my $r = GET '/';
is($r->code, 200, 'GET / answers 200');

# the module answers on the endpoint, and only there
$r = send_request(endpoint_request('GET', key => undef));
is($r->code, 401, 'endpoint without the API key: 401');
$r = send_request(endpoint_request('GET', key => 'wrong-key'));
is($r->code, 401, 'endpoint with a wrong API key: 401');
$r = send_request(endpoint_request('GET', key => undef, path => '/'));
isnt($r->code, 401, 'a page outside the endpoint is not refused');

# the test CGI
$r = GET '/cgi-bin/env.cgi';
is($r->code, 200, 'GET /cgi-bin/env.cgi answers 200') or diag($r->as_string);
my $env = eval { JSON::PP->new->decode($r->content) };
is(ref $env, 'HASH', 'env.cgi prints a JSON object') or diag($r->content);
ok(!exists $env->{REMOTE_SESSION_ID},
   'no REMOTE_SESSION_ID outside SessionRequire');

# update= is echoed as an X-Remote-Session-Update header; outside
# SessionRequire nothing takes it out
# (env.cgi?update= sends X-Remote-Session-Update; no client sees it, even
# outside SessionRequire: t/39)

# HTTP/2 cleartext with prior knowledge (the protocol's POST mode needs it)
{
    my ($curl) = grep { -x } map { "$_/curl" } split /:/, $ENV{PATH};
    $curl //= 'curl';    # not found: the test fails, saying so
    my $url = endpoint_url('/');
    my $v = `"$curl" -s -o /dev/null -w '%{http_version}' --http2-prior-knowledge "$url"`;
    is($v, '2', 'h2c with prior knowledge works');
}

# memcached, directly
my $k = "rs-test-01-$$";
ok(mc_set($k, "a b\r\nc", 60), 'memcached: set');
is(scalar mc_get($k), "a b\r\nc", 'memcached: get returns the bytes set');
ok(mc_delete($k), 'memcached: delete');
is(scalar mc_get($k), undef, 'memcached: the item is gone');
