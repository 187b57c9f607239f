# A PUT lists as "unknown" the keys the .NET client received but could not
# read (say, set by a CGI and not registered on the .NET side). Their stored
# values must survive the PUT; keys neither sent nor listed are removed.
use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use RS::Test qw(:all);

# a held writeable GET and its PUT at once
need_workers(2);

plan tests => 8;

my $id = new_session();

# the other stack's data: a, b, c
my $g = hold_get($id);
is($g->{code}, 200, 'first writeable GET');
my $r = put_state($id, encode_state(id => $id, items => [
    [ a => '1' ], [ b => '{"Cart":[1,2]}' ], [ c => '"x"' ] ]));
is($r->code, 200, 'PUT a, b, c');
$g->read_body(3);

# the .NET side: sets d, could not read b (unknown), dropped c
$g = hold_get($id);
is($g->{code}, 200, 'second writeable GET');
$r = put_state($id, encode_state(id => $id, items => [ [ d => 'true' ] ],
                                 unknown => [ 'b', 'gone-anyway' ]));
is($r->code, 200, 'PUT d with b listed as unknown');
$g->read_body(3);

my (undef, $st) = ro_get($id);
my %items = map { $_->[0] => $_->[1] } @{ $st ? $st->{items} : [] };
is($items{d}, 'true', 'the PUT\'s own item is stored');
is($items{b}, '{"Cart":[1,2]}', 'the unknown key keeps its stored bytes');
ok(!exists $items{a} && !exists $items{c},
   'keys neither sent nor listed as unknown are removed');
ok(!exists $items{'gone-anyway'} && !@{ $st ? $st->{unknown} : [] },
   'an unknown key that was never stored is not invented; none is echoed');
