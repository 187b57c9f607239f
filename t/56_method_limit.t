# Method names in another case (issue 11, item 10). The protocol compares
# them without regard to case; httpd's access control knows only "PUT".
# Before the endpoint's header_parser, "put" passed a <Limit PUT> that
# refuses "PUT". Our own httpd: an endpoint whose PUT and POST are denied.
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use RS::Test qw(:all);

plan tests => 6;

my $h = start_httpd(name => 'methods', config => <<'CONF');
<Location /limited>
    SetHandler remote-session
    <Limit PUT POST>
        Require all denied
    </Limit>
</Location>
CONF
END { stop_httpd($h) if $h }
my $port = $h->{port};
my $id = new_session(port => $port);
my $body = encode_state(id => $id, timeout => 20, items => { x => '1' });

for my $m (qw(PUT put Put POST post)) {
    my ($code) = raw_request($m, '/limited', port => $port, body => $body,
        headers => [KEY_HEADER, API_KEY, Cookie => COOKIE_NAME . "=$id"]);
    is($code, 403, "$m to an endpoint whose <Limit PUT POST> denies: 403");
}
my ($code) = raw_request('get', '/limited', port => $port,
    headers => [KEY_HEADER, API_KEY, READONLY_HEADER, 'true',
                Cookie => COOKIE_NAME . "=$id"]);
is($code, 200, 'get (not limited) is still served: 200');
