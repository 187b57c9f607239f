# Servers of a farm that list the same pool of memcached servers in another
# order share every session (issue 11, item 12): the module hashes keys
# consistently (--DISTRIBUTION=consistent). Two memcached of our own, two
# httpd of our own listing them in opposite orders; sessions written
# through one are read, the same, through the other. With libmemcached's
# default (modula) about half of them landed on another server there.
# A watched lock's companion item ("<key>.w", docs/DESIGN.md) lives on its
# record's server, not wherever its own key would hash.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use RS::Test qw(:all);
use IO::Socket::INET ();
use Time::HiRes ();

sub items_on {
    my $port = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 3) or return -1;
    print $s "stats\r\n";
    while (defined(my $line = <$s>)) {
        return $1 if $line =~ /^STAT curr_items (\d+)/;
        last if $line =~ /^END/;
    }
    return -1;
}

need_workers(1);
plan tests => 5;

my @mc = map { start_memcached() } 1 .. 2;
my @list = map { "--SERVER=127.0.0.1:$_->{port}" } @mc;
my $a = start_httpd(store => "$list[0] $list[1]");
my $b = start_httpd(store => "$list[1] $list[0]");

my (@ids, @lost);
for my $i (1 .. 40) {
    my $id = new_session(port => $a->{port});
    my $r = send_request(endpoint_request('POST', session => $id,
        port => $a->{port},
        body => encode_state(id => $id, items => [[ n => $i ]])));
    push @ids, [ $id, $i ] if $r->content =~ /\{"s":true\}\z/;
}
is(scalar @ids, 40, '40 sessions written through the first server');
for my $s (@ids) {
    my ($r, $st) = ro_get($s->[0], port => $b->{port});
    push @lost, $s->[0]
        unless $st && $st->{id} eq $s->[0] && !$st->{new}
            && ($st->{items}[0][1] // '') eq $s->[1];
}
is(scalar @lost, 0, 'the other server, its list in another order, reads '
   . 'each of them, the same') or diag("not found there: @lost");
# the sessions are spread over both servers (else the order would not
# matter, and this file would test nothing)
my @items = map { items_on($_->{port}) } @mc;
ok($items[0] > 0 && $items[1] > 0,
   "both memcached hold sessions ($items[0] and $items[1])");

# held GETs on big sessions mark them watched at their first poll
my $big = '"' . ('y' x 20_000) . '"';
my @held;
for my $i (1 .. 12) {
    my $id = new_session(port => $a->{port}, items => { big => $big });
    my $g = open_stream($id, port => $a->{port});
    push @held, [ $id, $g, $g->state(10) ];
}
Time::HiRes::sleep(0.4);
my (@apart, $watched);
for my $h (@held) {
    my $key = store_key($h->[0]);
    my @rec = grep { defined mc_get($key, $_->{port}) } @mc;
    my @comp = grep { defined mc_get("$key.w", $_->{port}) } @mc;
    $watched++ if @comp;
    push @apart, $h->[0]
        unless @rec == 1 && @comp == 1 && $rec[0] == $comp[0];
}
is($watched, scalar @held, 'each held big session has its companion item');
is(scalar @apart, 0, "each companion is on its record's memcached")
    or diag("apart: @apart");
for my $h (@held) {
    put_state($h->[0], { %{ $h->[2] || {} } }, port => $a->{port});
    $h->[1]->finish(5);
    $h->[1]->close;
}

stop_httpd($_) for $a, $b;
stop_memcached($_) for @mc;
