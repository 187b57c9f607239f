#!/usr/bin/perl
# t/31, t/32: answers with a generated X-Remote-Session-Update header:
#   deep=N   {"set":{"deep":[[[...]]]}} with N nested arrays
#   big=N    {"set":{"big":"xxx..."}} with a string of N characters
#   status=C answers with status C
#   sleep=MS waits MS milliseconds first
#   silent=1 exits without any output at all
use strict;
use warnings;
my %q;
for (split /[&;]/, $ENV{QUERY_STRING} // '') {
    my ($k, $v) = split /=/, $_, 2;
    $q{$k} = $v if defined $v && $v =~ /^\d+$/;
}
select(undef, undef, undef, $q{sleep} / 1000) if $q{sleep};
exit 0 if $q{silent};
my $u = '{"set":{}}';
$u = '{"set":{"deep":' . ('[' x $q{deep}) . (']' x $q{deep}) . '}}' if $q{deep};
$u = '{"set":{"big":"' . ('x' x $q{big}) . '"}}' if $q{big};
$u = '{"set":{"slept":' . $q{sleep} . '}}' if $q{sleep};
binmode STDOUT;
print "Status: $q{status}\r\n" if $q{status};
print "X-Remote-Session-Update: $u\r\n",
      "Content-Type: text/plain\r\n\r\nlength ", length($u), "\n";
