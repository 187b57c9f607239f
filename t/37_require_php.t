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
plan skip_all => "php-cgi is missing ($php; Debian package php-cgi)" unless -x $php;
plan skip_all => "no $example (the suite runs from a copy of t/)" unless -e $example;
plan tests => COUNTER_TESTS;

counter_example_tests('/rqphp/counter.php', 'counter.php');
