# The Python CGI example, examples/cgi/counter.py, under SessionRequire On
# (ScriptAlias /rqpy/ to examples/cgi/). Two visits count 1 then 2, the
# endpoint sees visits=2, and a value the endpoint commits is what the CGI
# counts on from.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use File::Spec ();
use RS::Test qw(:all);
use RS::Require qw(:all);

my $python = '/usr/bin/python3';
my $example = File::Spec->catfile(t_dir(), File::Spec->updir, 'examples', 'cgi', 'counter.py');
die "$python is missing (the example's #! line)\n" unless -x $python;
die "$example is missing\n" unless -e $example;
plan tests => COUNTER_TESTS;

counter_example_tests('/rqpy/counter.py', 'counter.py');
