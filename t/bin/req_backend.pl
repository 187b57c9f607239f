#!/usr/bin/perl
# A proxied backend for t/35_require_proxy.t: an HTTP::Daemon on
# 127.0.0.1:<port> (the first argument). It prints "READY <port>" on stdout
# once it listens, then answers every request with a JSON object
#   {"method":..., "path":..., "headers":{"X-Remote-Session-Id":[...],...}}
# listing each request header whose name starts with X-Remote-Session (as
# HTTP::Headers, like most frameworks, reads it: "_" taken as "-"), all
# values. Query parameters (repeatable, URL-encoded):
#   update=<JSON>   adds an X-Remote-Session-Update response header (one
#                   header line each, not folded)
#   status=<code>   answers with this status
#   deep=<N>        adds an update header with N nested arrays
#   big=<N>         adds an update header setting "big" to a string of N "x"
# One request per connection (Connection: close). Runs until killed.
use strict;
use warnings;

use HTTP::Daemon ();
use HTTP::Response ();
use JSON::PP ();
use URI ();

my $port = shift or die "usage: $0 port\n";
my $d = HTTP::Daemon->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                          ReuseAddr => 1, Listen => 64)
    or die "req_backend: cannot listen on 127.0.0.1:$port: $!\n";
$| = 1;
print "READY $port\n";
close STDOUT;

my $json = JSON::PP->new->canonical->latin1;
$SIG{PIPE} = 'IGNORE';
while (my $c = $d->accept) {
    my $req = $c->get_request;
    if ($req) {
        my %h;
        for my $name ($req->headers->header_field_names) {
            next unless $name =~ /^x-remote-session/i;
            $h{$name} = [ $req->headers->header($name) ];
        }
        my (@updates, $status);
        my @q = URI->new($req->uri)->query_form;
        while (my ($k, $v) = splice @q, 0, 2) {
            push @updates, $v if $k eq 'update';
            $status = $v if $k eq 'status' && $v =~ /^\d{3}$/;
            push @updates, '{"set":{"deep":' . ('[' x $v) . (']' x $v) . '}}'
                if $k eq 'deep' && $v =~ /^\d+$/;
            push @updates, '{"set":{"big":"' . ('x' x $v) . '"}}'
                if $k eq 'big' && $v =~ /^\d+$/;
        }
        my $res = HTTP::Response->new($status || 200);
        $res->push_header('X-Remote-Session-Update' => $_) for @updates;
        $res->header('Content-Type' => 'application/json');
        $res->header('Connection' => 'close');
        $res->content($json->encode({ method => $req->method,
                                      path => $req->uri->path,
                                      headers => \%h }));
        $c->force_last_request;
        $c->send_response($res);
    }
    $c->close;
}
