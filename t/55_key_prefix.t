# RemoteSessionKeyPrefix (issue 11, item 3): two apps sharing one memcached
# do not read each other's sessions. The suite's server keeps the default
# prefix; a second httpd on the same memcached uses "app2:".
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use RS::Test qw(:all);

plan tests => 7;

my $h = start_httpd(name => 'prefix',
                    config => "RemoteSessionKeyPrefix app2:\n");
END { stop_httpd($h) if $h }
my $port = $h->{port};

my $a = new_session(items => { who => '"suite"' });
ok($a, 'a session on the suite server (default prefix)');
ok(defined mc_get("remote-session:$a"), '... stored under remote-session:');

my ($res, $st) = ro_get($a, port => $port);
ok($st && $st->{new} && $st->{id} ne $a,
   'its cookie on the app2: server: a new, empty session under a fresh ID');
my $b = $st && $st->{id};
ok(defined mc_get("app2:$b") && !defined mc_get("remote-session:$b"),
   "the app2: server's new session is stored under app2: only");
is(item_of((ro_get($a))[1], 'who'), '"suite"',
   "the suite's session is untouched");

my ($r2, $st2) = ro_get($b);
ok($st2 && $st2->{new} && $st2->{id} ne $b,
   "the app2: session's cookie on the suite server: a new session too");

like(error_log_prefix(), qr/RemoteSessionKeyPrefix/,
     'httpd -t refuses a prefix with a space');

# a prefix memcached cannot take in a key is refused at startup
sub error_log_prefix {
    my $bad = eval { start_httpd(name => 'prefix-bad', timeout => 5,
                                 config => "RemoteSessionKeyPrefix \"a b\"\n") };
    stop_httpd($bad) if $bad;
    return $bad ? 'it started' : "$@";
}
