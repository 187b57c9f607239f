# Session IDs (issue 5, "Hostile input"; PROTOCOL.md "Session ID and
# cookie"): 1,000 new sessions (read-only GETs, writeable GETs, POSTs and
# SessionRequire requests without a cookie) have distinct IDs of 24
# characters from a-z0-5, spread over the whole 32-letter alphabet (every
# letter appears; chi-square over all characters and per position below
# bounds that a uniform source exceeds with a probability under 1e-9, so
# the test never flakes); each ID names an item in memcached.
# A presented well-formed ID that names no live session (never issued,
# deleted from memcached, or abandoned) is never adopted: the answer's
# Set-Cookie carries a different ID, and no item is created under the
# presented one (an abandoned one keeps only its short-lived tombstone).
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use RS::Test qw(mc_get mc_delete need_workers
                ID_RE dec_state encode_state
                API_KEY READONLY_HEADER ENDPOINT hold_get new_session endpoint_cycle sid_of
                wait_record LOCK_HELD);

my $port = Apache::Test::vars('port');
my @alphabet = ('a' .. 'z', '0' .. '5');

# at most at once: the kept-alive connection $c (under prefork it keeps its
# process), and endpoint_cycle's held GET and PUT
need_workers(3);

plan tests => 8 + 5 * 2 + 2 + 3 + 2;

my $c = RS::Client->new(port => $port);
my (@ids, @mismatch);
sub record {
    my ($how, $r, $state_id) = @_;
    my $sc = sid_of($r);
    push @ids, $sc // "(none from $how: $r->{code})";
    push @mismatch, "$how: Set-Cookie " . ($sc // 'none') . ", state "
        . ($state_id // 'none')
        if defined $state_id && (!defined $sc || $sc ne $state_id);
}
for my $i (1 .. 700) {
    my $r = $c->request('GET', ENDPOINT, key => API_KEY,
                        headers => [READONLY_HEADER, 'true']);
    my ($st) = dec_state($r->{body});
    record('read-only GET', $r, $st && $st->{id});
}
for my $i (1 .. 100) {
    my $h = hold_get(undef, port => $port, strict => 1, timeout => 30);
    record('writeable GET', $h, $h->{id});
    $h->abort;
    # The server notices a vanished client at its next heartbeat but one
    # (about 40 ms): without this wait the loop holds dozens of workers at
    # once, and the worker reserve answers 503 when they near
    # MaxRequestWorkers (seen once the loop outran the heartbeats).
    wait_record($h->{id}, sub { $_[0]{lock} != LOCK_HELD }, 5) if $h->{id};
}
for my $i (1 .. 100) {
    my $r = $c->request('POST', ENDPOINT, key => API_KEY,
                        body => "\x01");    # refused body: the lock is freed
    my ($st) = dec_state($r->{body}, prefix => 1);
    record('POST', $r, $st && $st->{id});
}
for my $i (1 .. 100) {
    # (an empty update: SessionRequire stores a session once it is written)
    my $r = $c->request('GET', '/req/env.cgi?update=%7B%7D');
    my ($sid) = $r->{body} =~ /"REMOTE_SESSION_ID":"([^"]*)"/;
    record('SessionRequire', $r, $sid);
}
$c->close;

is(scalar @ids, 1000, '1000 new sessions');
my %seen;
my @dup = grep { $seen{$_}++ } @ids;
ok(!@dup, 'all 1000 IDs are distinct') or diag("repeated: @dup[0 .. 4]");
my @bad = grep { $_ !~ ID_RE } @ids;
ok(!@bad, 'all match /^[a-z0-5]{24}$/') or diag(join "\n", @bad[0 .. 4]);
ok(!@mismatch, 'each Set-Cookie ID is the ID of the state or environment '
   . 'the request saw') or diag(join "\n", @mismatch[0 .. 4]);

my (%count, @pos);
for my $id (grep { $_ =~ ID_RE } @ids) {
    my $i = 0;
    for my $ch (split //, $id) {
        $count{$ch}++;
        $pos[$i++]{$ch}++;
    }
}
my @missing = grep { !$count{$_} } @alphabet;
ok(!@missing, 'every one of the 32 letters appears') or diag("missing: @missing");
# chi-square, 31 degrees of freedom: mean 31, sd 7.9; P(X > 110) < 1e-9
sub chi2 {
    my ($h, $n) = @_;
    my $e = $n / 32;
    my $x = 0;
    $x += (($h->{$_} // 0) - $e) ** 2 / $e for @alphabet;
    return $x;
}
my $total = 0;
$total += $_ for values %count;
my $x_all = chi2(\%count, $total);
cmp_ok($x_all, '<', 110, sprintf('chi-square of all %d characters: %.1f '
                                 . '(31 degrees of freedom)', $total, $x_all));
my @x_pos = map { chi2($pos[$_], 1000) } 0 .. 23;
my ($worst) = sort { $b <=> $a } @x_pos;
# 24 tests at once: the bound 120 keeps P(any over) under 1e-10
cmp_ok($worst, '<', 120, sprintf('chi-square per position: the worst of the '
                                 . '24 is %.1f', $worst));
my @no_item = grep { $_ =~ ID_RE && !defined mc_get("remote-session:$_") }
              @ids;
ok(!@no_item, 'every ID names an item in memcached')
    or diag(scalar(@no_item) . " without: @no_item[0 .. 4]");

# never adopted: well-formed IDs that were never issued
sub random_id { join '', map { $alphabet[rand 32] } 1 .. 24 }
my %paths = (
    'read-only GET' => sub {
        my $id = shift;
        my $r = $c->request('GET', ENDPOINT, key => API_KEY, cookie => $id,
                            headers => [READONLY_HEADER, 'true']);
        return sid_of($r);
    },
    'writeable GET' => sub {
        my $h = hold_get(shift, port => $port, strict => 1, timeout => 30);
        $h->abort;
        return sid_of($h);
    },
    'POST' => sub {
        my $r = $c->request('POST', ENDPOINT, key => API_KEY,
                            cookie => shift, body => "\x01");
        return sid_of($r);
    },
    'SessionRequire On' => sub {
        my $r = $c->request('GET', '/req/env.cgi', cookie => shift);
        return sid_of($r);
    },
    'SessionRequire ReadOnly' => sub {
        my $r = $c->request('GET', '/ro/env.cgi', cookie => shift);
        return sid_of($r);
    },
);
for my $path (sort keys %paths) {
    my (@adopted, @stored);
    for (1 .. 10) {
        my $id = random_id();
        my $got = $paths{$path}->($id);
        push @adopted, "$id -> " . ($got // 'no Set-Cookie')
            unless defined $got && $got =~ ID_RE && $got ne $id;
        push @stored, $id if defined mc_get("remote-session:$id");
    }
    ok(!@adopted, "$path with 10 unknown well-formed IDs: a fresh ID each time")
        or diag(join "\n", @adopted);
    ok(!@stored, "$path: nothing stored under the presented IDs")
        or diag("@stored");
}
$c->close;

# a session deleted from memcached (as if expired or evicted)
{
    my $id = new_session(port => $port);
    mc_delete("remote-session:$id");
    my $got = $paths{'read-only GET'}->($id);
    ok(defined $got && $got ne $id, 'a deleted session\'s ID: a fresh ID');
    $got = $paths{'SessionRequire On'}->($id);
    ok(defined $got && $got ne $id && !defined mc_get("remote-session:$id"),
       '... also under SessionRequire, and the old ID stays unused');
}

# an abandoned session: its tombstone is not revived
{
    my $id = new_session(port => $port);
    my $r = endpoint_cycle($port, $id, sub { +{ %{ $_[0] }, abandoned => 1 } });
    is($r->{put}, 200, 'a session abandoned by PUT');
    my $got = $paths{'writeable GET'}->($id);
    ok(defined $got && $got ne $id, 'its ID presented again: a fresh ID');
    my $rec = mc_get("remote-session:$id");
    ok(!defined $rec || ord(substr $rec, 3, 1) == 3,
       '... and the old record is at most its tombstone (lock state "gone")');
}

# a PUT naming an ID that no GET holds creates nothing
{
    my $id = random_id();
    my $r = $c->request('PUT', ENDPOINT, key => API_KEY, cookie => $id,
                        body => encode_state({ id => $id }));
    is("$r->{code} $r->{reason}", '400 Could not find session',
       'PUT with an unknown well-formed ID: 400 Could not find session');
    ok(!defined mc_get("remote-session:$id"), '... and nothing is stored');
    $c->close;
}
