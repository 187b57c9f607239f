#!/usr/bin/perl
# Constant-time API key comparison, measured (issue 5): times many 401
# requests whose key differs from the configured one at the first byte,
# and as many whose key differs at the last byte, interleaved at random on
# one keep-alive connection, and prints both medians (and, for scale, a
# key of the wrong length). With a constant-time compare the two medians
# differ by noise only (a few hundred nanoseconds at most against a
# round trip of tens of microseconds); an early-exit memcmp of 36 bytes
# would not show over HTTP either, so this is a sanity check, not a proof:
# the proof is src/sid.c's use of apr_crypto_equals on the full length.
#
#   perl bench/key_timing.pl [requests per kind, default 20000]
#
# Starts its own memcached and httpd (event MPM, one child) on free
# loopback ports, and stops both (by pid) when done. Not run by make test.
use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/../t/lib";
use RS::Test qw(start_httpd stop_httpd start_memcached stop_memcached
                API_KEY KEY_HEADER ENDPOINT);
use Time::HiRes ();
use File::Spec ();

my $n = shift || 20000;
my $root = File::Spec->rel2abs("$FindBin::Bin/..");
my $dir = "/tmp/rs-bench-key-$$";
my ($mc, $h);
$SIG{INT} = $SIG{TERM} = sub { exit 1 };
END {
    stop_httpd($h) if $h;
    stop_memcached($mc) if $mc;
    system('rm', '-rf', $dir) if -d $dir;
}
$mc = start_memcached();
$h = start_httpd(mpm => 'event', modules => [qw(authz_core alias mime)],
                 suite_lock => 0,
                 config => "KeepAlive On\nMaxKeepAliveRequests 0\nTimeout 60",
                 dir => $dir,
                 memcached_port => $mc->{port}, log_level => 'warn',
                 mpm_conf => "StartServers 1\nServerLimit 1\nThreadsPerChild 8\n"
                           . "MaxRequestWorkers 8\nMinSpareThreads 1\n"
                           . "MaxSpareThreads 8\n");
my $K = API_KEY;
my %keys = (
    'first byte wrong' => ($K =~ s/^3/4/r),
    'last byte wrong'  => ($K =~ s/1$/2/r),
    'wrong length'     => substr($K, 0, 35),
);
my $c = RS::Client->new(port => $h->{port});
my %raw = map { $_ => $c->build('GET', ENDPOINT,
                                headers => [KEY_HEADER, $keys{$_}]) } keys %keys;
# warm up
for (1 .. 2000) { $c->request('GET', ENDPOINT, raw => $raw{'first byte wrong'}) }
my %t;
my @order = map { my $k = $_; ($k) x $n } sort keys %keys;
for my $i (reverse 1 .. $#order) {    # shuffle
    my $j = int rand($i + 1);
    @order[$i, $j] = @order[$j, $i];
}
for my $k (@order) {
    my $t0 = Time::HiRes::time();
    my $r = $c->request('GET', ENDPOINT, raw => $raw{$k});
    my $dt = Time::HiRes::time() - $t0;
    die "expected 401, got $r->{code}\n" unless $r->{code} == 401;
    push @{ $t{$k} }, $dt;
}
$c->close;
sub median { my @s = sort { $a <=> $b } @_; return $s[$#s / 2] }
printf "%d requests per kind, one keep-alive connection, event MPM\n", $n;
for my $k ('first byte wrong', 'last byte wrong', 'wrong length') {
    my @s = sort { $a <=> $b } @{ $t{$k} };
    printf "  %-17s median %7.1f us   p10 %7.1f us   p90 %7.1f us\n", $k,
        median(@s) * 1e6, $s[@s * 0.1] * 1e6, $s[@s * 0.9] * 1e6;
}
printf "  difference of the medians (last - first): %+.1f us\n",
    (median(@{ $t{'last byte wrong'} }) - median(@{ $t{'first byte wrong'} })) * 1e6;
