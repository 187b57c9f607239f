#!/usr/bin/perl
# Test CGI: prints the REMOTE_SESSION* and HTTP_X_REMOTE_SESSION* variables of
# its environment as one JSON object (keys sorted), e.g.
#   {"REMOTE_SESSION":"{}","REMOTE_SESSION_ID":"...","REMOTE_SESSION_NEW":"1"}
# Values are written byte for byte as the environment holds them (JSON::PP's
# latin1 mode passes bytes 0x80-0xFF through), so UTF-8 stays UTF-8.
# Query parameters (repeatable, URL-encoded):
#   update=<JSON>   adds a response header X-Remote-Session-Update: <JSON>
#   status=<code>   answers with this status instead of 200
use strict;
use warnings;
use JSON::PP ();

my (@updates, $status);
for my $pair (split /[&;]/, $ENV{QUERY_STRING} // '') {
    my ($k, $v) = split /=/, $pair, 2;
    next unless defined $k;
    for ($k, $v) {
        next unless defined;
        tr/+/ /;
        s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    }
    push @updates, $v if $k eq 'update' && defined $v;
    $status = $v if $k eq 'status' && defined $v && $v =~ /^\d{3}$/;
}

my %out = map { $_ => $ENV{$_} }
          grep { /^(?:REMOTE_SESSION|HTTP_X_REMOTE_SESSION)/ } keys %ENV;
# a session too large for the environment comes in a file (t/65)
if (defined $ENV{REMOTE_SESSION_FILE}
    && open my $fh, '<', $ENV{REMOTE_SESSION_FILE}) {
    local $/;
    $out{REMOTE_SESSION_FILE_CONTENT} = <$fh>;
}

# a request body is read to its end (t/57 sends one), so that httpd does
# not find the script gone while it still writes the body to it
if ($ENV{CONTENT_LENGTH} || $ENV{HTTP_TRANSFER_ENCODING}) {
    local $/;
    my $in = <STDIN>;
}

binmode STDOUT;
print "Status: $status\r\n" if $status;
print "X-Remote-Session-Update: $_\r\n" for @updates;
print "Content-Type: application/json\r\n\r\n";
print JSON::PP->new->canonical->latin1->encode(\%out), "\n";
