#!/usr/bin/perl
# t/32: reads "count" from REMOTE_SESSION and sets it to count + 1.
#   ?sleep=MS  takes MS milliseconds first (a slow backend)
use strict;
use warnings;
my ($ms) = ($ENV{QUERY_STRING} // '') =~ /(?:^|&)sleep=(\d+)/;
select(undef, undef, undef, $ms / 1000) if $ms;
my ($n) = ($ENV{REMOTE_SESSION} // '') =~ /"count":(\d+)/;
$n = ($n // 0) + 1;
print "X-Remote-Session-Update: {\"set\":{\"count\":$n}}\r\n",
      "Content-Type: text/plain\r\n\r\n$n\n";
