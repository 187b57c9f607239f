# The PHP example, examples/php/counter.php, under SessionRequire On: served
# through php-cgi (AddHandler + Action to t/cgi-bin/req_php.cgi, an internal
# redirect that keeps the session). Two visits count 1 then 2, the endpoint
# sees visits=2, and a value the endpoint commits is what PHP counts on from.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use File::Spec ();
use RS::Test qw(:all);
use RS::Require qw(:all);

my $php = '/usr/bin/php-cgi';
my $example = File::Spec->catfile(t_dir(), File::Spec->updir, 'examples', 'php', 'counter.php');
# make test installs php-cgi, and t/run-suite.sh's copy of t/ carries the
# examples: a missing one is a broken setup, not a reason to test less
die "$php is missing (Debian package php-cgi)\n" unless -x $php;
die "$example is missing\n" unless -e $example;
plan tests => COUNTER_TESTS;

counter_example_tests('/rqphp/counter.php', 'counter.php');
