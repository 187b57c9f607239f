# The proxied backend example, examples/proxy/counter_app.py (a Python
# application server), behind ProxyPass under SessionRequire On (/rqapp/
# of t/conf/require.conf.in): it reads the session from X-Remote-Session
# and answers X-Remote-Session-Update. Two visits count 1 then 2, the
# endpoint sees visits=2, and a value the endpoint commits is what the app
# counts on from (the same checks as the CGI and PHP examples).
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use File::Spec ();
use RS::Test qw(:all);
use RS::Require qw(:all);

my $python = '/usr/bin/python3';
my $example = File::Spec->catfile(t_dir(), File::Spec->updir, 'examples',
                                  'proxy', 'counter_app.py');
die "$python is missing\n" unless -x $python;
die "$example is missing\n" unless -e $example;
my $port = require_conf_value('Define RS_EXAMPLE_APP_PORT')
    or die "no RS_EXAMPLE_APP_PORT in t/conf/require.conf\n";
plan tests => COUNTER_TESTS;

my $pid = start_backend($port, $python, $example)
    or die "examples/proxy/counter_app.py did not start on $port\n";
END { local $?; if ($pid) { kill KILL => $pid; waitpid($pid, 0) } }  # ours

counter_example_tests('/rqapp/counter', 'proxy/counter_app.py');
