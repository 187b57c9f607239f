#!/usr/bin/perl
# t/52_hostile_require.t: prints, byte for byte, the response header lines
# stored in t/logs/hostile_payload/<f> (f=<name> in the query string; the
# test writes the file), then Content-Type and a body with the
# REMOTE_SESSION* environment it saw. This way a header can carry any byte
# and any length up to what httpd reads from a CGI.
use strict;
use warnings;
use File::Basename ();

my ($f) = ($ENV{QUERY_STRING} // '') =~ /(?:^|&)f=([\w.-]+)/;
binmode STDOUT;
my $head = '';
if (defined $f) {
    my $file = File::Basename::dirname($0) . "/../logs/hostile_payload/$f";
    if (open my $fh, '<:raw', $file) {
        local $/;
        $head = <$fh> // '';
    }
    else {
        print "Status: 404\r\nContent-Type: text/plain\r\n\r\nno payload $f\n";
        exit 0;
    }
}
print $head;
print "Content-Type: text/plain\r\n\r\n";
print "id=", $ENV{REMOTE_SESSION_ID} // '', "\n";
print "new=", $ENV{REMOTE_SESSION_NEW} // '', "\n";
print "session=", $ENV{REMOTE_SESSION} // '', "\n";
