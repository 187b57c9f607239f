#!/usr/bin/perl
# t/33: answers with X-Remote-Session-Update headers and a redirect.
#   to=<URL or /path>  the Location (a local /path without status makes httpd
#                      redirect internally; a URL without status makes it 302)
#   update=<JSON>      (repeatable) an update header
#   status=<code>      a Status header as well
use strict;
use warnings;
my (@updates, $to, $status);
for my $pair (split /[&;]/, $ENV{QUERY_STRING} // '') {
    my ($k, $v) = split /=/, $pair, 2;
    next unless defined $v;
    $v =~ tr/+/ /;
    $v =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    push @updates, $v if $k eq 'update';
    $to = $v if $k eq 'to';
    $status = $v if $k eq 'status' && $v =~ /^\d{3}$/;
}
binmode STDOUT;
print "Status: $status\r\n" if $status;
print "X-Remote-Session-Update: $_\r\n" for @updates;
print "Location: $to\r\n" if defined $to;
print "Content-Type: text/plain\r\n\r\n";
print "redirecting\n" if $status;
