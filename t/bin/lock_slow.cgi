#!/usr/bin/perl
# Lock tests' CGI (t/conf/locking.conf.in maps it at /lock-req/ under
# SessionRequire On): sleeps, then prints its REMOTE_SESSION* environment as
# one JSON object, like t/cgi-bin/env.cgi. Query parameters (URL-encoded):
#   sleep=<ms>      sleep this long before answering (holding the lock)
#   update=<JSON>   adds a response header X-Remote-Session-Update: <JSON>
use strict;
use warnings;
use JSON::PP ();
use Time::HiRes ();

my (@updates, $sleep);
for my $pair (split /[&;]/, $ENV{QUERY_STRING} // '') {
    my ($k, $v) = split /=/, $pair, 2;
    next unless defined $k && defined $v;
    for ($k, $v) {
        tr/+/ /;
        s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    }
    push @updates, $v if $k eq 'update';
    $sleep = $v if $k eq 'sleep' && $v =~ /^\d+$/;
}
my $t0 = Time::HiRes::time();
Time::HiRes::sleep($sleep / 1000) if $sleep;

my %out = map { $_ => $ENV{$_} } grep { /^REMOTE_SESSION/ } keys %ENV;
$out{slept_ms} = int((Time::HiRes::time() - $t0) * 1000);

binmode STDOUT;
print "X-Remote-Session-Update: $_\r\n" for @updates;
print "Content-Type: application/json\r\n\r\n";
print JSON::PP->new->canonical->latin1->encode(\%out), "\n";
