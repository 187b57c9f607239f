# Hostile input at the session endpoint (issue 5, "Hostile input" and
# "Memory"):
#   - thousands of generated PUT bodies against one held writeable GET
#     (random bytes, every truncation of a valid multi-item body, versions
#     0/2/255, 6-byte 7-bit ints, huge declared lengths and counts, invalid
#     UTF-8 in the ID and keys, mismatched session IDs, bodies over
#     RemoteSessionMaxSize), half a thousand of them chunked: each gets the
#     documented answer (400 "Failed to deserialize session state", 413
#     above the maximum, 400 naming the key for a value that is not JSON),
#     the held GET keeps its lock (the record still says "held by an
#     endpoint GET"), a valid PUT then commits and the GET ends;
#   - the expected answer of each body comes from Perl readings of
#     PROTOCOL.md, not from the module's C codec: the hand-made cases carry
#     their own expectation; a generated case is expected to be refused
#     unless spec_decode() below reads it as a state of this session (then
#     it would commit and is left out). Self-check: spec_decode() and
#     dec_state (RS::Codec's decoder, shared by the helpers),
#     written apart and in different ways, must read every body -- hand-made
#     and generated -- the same way (both refuse it, or both decode the same
#     state), and every hand-made expectation must match that reading;
#   - malformed and oversized cookies and headers: a fresh session, or
#     httpd's own 400 where httpd refuses the header;
#   - methods other than GET/PUT/POST: 405 with Allow naming GET, PUT and
#     POST (TRACE too: the suite sets "TraceEnable off" as README asks;
#     with it on, httpd's core echoes a TRACE before any handler runs);
#   - no leak of 1 KB per request or more: after the flood (which warms
#     the children up), its bodies of up to 64 KB (some 3,260) are sent
#     again in two equal batches, and the RSS of the httpd children (from
#     /proc, summed over those alive before and after a batch: the event
#     MPM may start a child in between, whose RSS says nothing about a
#     leak) must grow by less than 512 bytes per request in at least one
#     of them. A leak of L bytes per request grows both batches by about
#     L x requests (3.3 MB for 1 KB); warm-up grows only the first; a spike
#     of noise only one. Observed: 13-100 bytes per request; a malloc'd
#     1 KB leaked per request (injected for the check) gave 1,048 and
#     1,072 and failed. The 1-2 MB bodies stay out of the batches: each
#     fills the allocator free list of whichever recycled connection pool
#     it lands on (MBs that are not a leak);
#   - no crashed child in t/logs/error_log ("exit signal", "Segmentation").
# Random bodies and mutations that happen to decode as a valid state of
# this session would commit the held lock: they are left out (and
# counted); the valid-looking ones are covered by the cases made by hand.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use RS::Test qw(mc_get error_log_since t_dir need_workers
                ID_RE dec_state enc7 enc_str encode_state
                children_rss_kb log_crashes slurp
                API_KEY KEY_HEADER READONLY_HEADER ENDPOINT COOKIE_NAME MSG_DESER hold_get new_session read_state endpoint_cycle sid_of);
use File::Spec ();
use Time::HiRes ();

my $port  = Apache::Test::vars('port');
my $small = Apache::Test::vars('hostile_small_port');
my $httpd_pid = do {
    my $f = File::Spec->catfile(t_dir(), 'logs', 'httpd.pid');
    (slurp($f) =~ /(\d+)/)[0];
};
my $log_from = error_log_since();
srand(20261123);    # the same bodies on every run

# at most at once: the kept-alive connection $c (under prefork it keeps its
# process), a held GET, and a PUT on a connection of its own
need_workers(3);

plan tests => 9 + 19 + 14 + 23 + 2 + 5;

my $c = RS::Client->new(port => $port);

# ---------------------------------------------------------------------------
# methods (9)

for my $m (qw(DELETE PATCH OPTIONS PROPFIND HEAD)) {
    my $r = $c->request($m, ENDPOINT, key => API_KEY);
    is($r->{code}, 405, "$m: 405");
}
{
    my $r = $c->request('MKCOL', ENDPOINT, key => API_KEY);
    is($r->{code}, 405, 'MKCOL (a method httpd knows nothing of): 405');
    $r = $c->request('DELETE', ENDPOINT, key => API_KEY);
    my %allow = map { uc($_) => 1 }
                split /\s*,\s*/, $r->{headers}{allow} // '';
    ok($allow{GET} && $allow{PUT} && $allow{POST},
       '405: Allow names GET, PUT and POST')
        or diag('Allow: ' . ($r->{headers}{allow} // '(none)'));
    # TRACE: httpd's core answers it before any handler unless TraceEnable
    # is off, as README asks and t/conf/extra.conf.in sets
    $r = $c->request('TRACE', ENDPOINT, key => API_KEY);
    is($r->{code}, 405, 'TRACE (TraceEnable off): 405');
    $r = $c->request('TRACE', ENDPOINT);
    ok($r->{code} == 405 || $r->{code} == 401,
       'TRACE without the key: 401 or 405, not an echo');
}

# ---------------------------------------------------------------------------
# the PUT flood (19)

# A session with five items and an unknown key, committed.
my $id = new_session(port => $port);
my $other = new_session(port => $port);
my @items = (['a', '1'], ['b', '"two"'], ['c', '{"X":[1,2,3],"Y":"\u00e9"}'],
             ['d', 'null'], ["\xc3\xa9t\xc3\xa9", '3.5']);
my %valid = (id => $id, timeout => 20, items => \@items, unknown => ['u1']);
my $V = encode_state(\%valid);
{
    my $r = endpoint_cycle($port, $id, sub { \%valid });
    ok($r->{put} == 200 && $r->{ended}, 'setup: the five items committed')
        or diag(explain($r));
}

# Each case: [what, body, expect], expect 'deser', 413, or a regexp for the
# reason of a 400 naming the key. Byte positions of V's 7-bit ints:
my %pos;
{
    my $p = 1;                               # after the version
    $pos{id_len} = $p;
    $p += 1 + length $id;
    $p += 3;                                 # bools
    $pos{bools} = $p - 3;
    $pos{timeout} = $p;
    $p += length enc7(20);
    $pos{count} = $p;
    $p += 1;
    for my $i (0 .. $#items) {
        $pos{"key$i"} = $p;
        $p += length enc_str($items[$i][0]);
        $pos{"val$i"} = $p;
        $p += length enc_str($items[$i][1]);
    }
    $pos{unknown_count} = $p;
    $p += 1;
    $pos{unknown0} = $p;
    $p += length enc_str('u1');
    die "position arithmetic: $p != " . length $V unless $p == length $V;
}
# $v as six 7-bit bytes: the canonical ones with the continuation bit set,
# padded with 0x80 to five, then 0x00 (.NET's reader refuses a fifth byte
# over 0x0F, so this must be refused)
sub six_bytes {
    my $e = enc7(shift);
    $e =~ s/([\x00-\x7f])\z/chr(ord($1) | 0x80)/e;
    return $e . ("\x80" x (5 - length $e)) . "\x00";
}
# replace the 7-bit int at byte $at of V (whose value is $old) by $bytes
sub splice7 {
    my ($at, $old, $bytes) = @_;
    my $b = $V;
    substr($b, $at, length enc7($old)) = $bytes;
    return $b;
}

my @cases;
push @cases, map { ["truncated to $_ bytes", substr($V, 0, $_), 'deser'] }
             0 .. length($V) - 1;
for my $v (0, 2, 255) {
    push @cases, ["version $v", chr($v) . substr($V, 1), 'deser'];
}
my %fields = (id_len => length $id, timeout => 20, count => scalar @items,
              unknown_count => 1,
              map({ ("key$_" => length $items[$_][0],
                     "val$_" => length $items[$_][1]) } 0 .. $#items));
for my $f (sort keys %fields) {
    my $old = $fields{$f};
    push @cases,
        ["$f: 6-byte 7-bit int", splice7($pos{$f}, $old, "\x80" x 5 . "\x00"),
         'deser'],
        ["$f: its value as a 6-byte 7-bit int",
         splice7($pos{$f}, $old, six_bytes($old)), 'deser'],
        ["$f: fifth 7-bit byte over 0x0F", splice7($pos{$f}, $old,
                                                   "\xff\xff\xff\xff\x1f"), 'deser'],
        ["$f: 7-bit int that never ends", substr($V, 0, $pos{$f}) . "\xff" x 40,
         'deser'];
    next if $f eq 'timeout';    # any 32-bit Timeout is a valid value
    for my $n (0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 1_000_001, 1_000_000,
               length($V) - $pos{$f}, $old + 1) {
        push @cases, ["$f declared as $n", splice7($pos{$f}, $old, enc7($n)),
                      'deser'];
    }
}
for my $b (2, 255) {
    for my $i (0 .. 2) {
        my $body = $V;
        substr($body, $pos{bools} + $i, 1) = chr $b;
        push @cases, ["bool $i is $b", $body, 'deser'];
    }
}
my @bad_utf8 = ("\xff", "\xfe", "\xc0\x80", "\xc1\xbf", "\xe0\x80\xaf",
                "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80",
                "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xe2\x82",
                "\x80", "a\xbf", "\xc3", "\xf0\x9f\x98");
for my $u (@bad_utf8) {
    my $hex = unpack 'H*', $u;
    push @cases,
        ["key with invalid UTF-8 $hex",
         encode_state({ %valid, items => [@items[0 .. 1], ["k$u", '1']] }), 'deser'],
        ["unknown key with invalid UTF-8 $hex",
         encode_state({ %valid, unknown => ["u$u"] }), 'deser'],
        ["session ID with invalid UTF-8 $hex",
         encode_state({ %valid, id => substr($id, 0, 20) . $u }), 'deser'];
}
for my $mid ($other, 'aaaaaaaaaaaaaaaaaaaaaaaa', '', uc $id, "$id ", " $id",
             substr($id, 0, 23), "${id}x", "\0" x 24, "\0$id") {
    push @cases, ['mismatched session ID ' . unpack('H*', $mid),
                  encode_state({ %valid, id => $mid }), 'deser'];
}
push @cases, ['one trailing NUL', "$V\0", 'deser'],
             ['a second state after the first', "$V$V", 'deser'],
             ['one trailing newline', "$V\n", 'deser'];
# structurally valid, the session's ID, but a value that is not JSON:
# 400 naming the key (README: "400 naming the key")
for my $bad ('{', '[1,', "\"\xff\"", 'nul', 'tru', '1e400', "\"a\0b\"",
             '{"a":1}x', "'s'", '01') {
    push @cases, ['value ' . unpack('H*', $bad),
                  encode_state({ %valid, items => [['a', $bad]] }),
                  qr/\Akey 'a' expects JSON, got invalid JSON/];
}

# A second reading of PROTOCOL.md, written apart from RS::Codec's decoder
# and in another way (regular expressions over the bytes; UTF-8 checked by
# decoding code points, not by a table of byte patterns), for the
# self-check below. spec_decode($bytes) -> { id, new, abandoned, readonly,
# timeout, items => [[key, value], ...], unknown => [...] }, or undef when
# the bytes are not exactly one version-1 state.
sub utf8_ok {
    my @b = unpack 'C*', shift;
    while (@b) {
        my $c = shift @b;
        next if $c < 0x80;
        return 0 if $c < 0xc0 || $c > 0xf7;    # a continuation byte; 5-6 byte forms
        my ($more, $min, $cp) = $c >= 0xf0 ? (3, 0x10000, $c & 0x07)
                              : $c >= 0xe0 ? (2, 0x800, $c & 0x0f)
                              :              (1, 0x80, $c & 0x1f);
        for (1 .. $more) {
            my $d = shift @b;
            return 0 unless defined $d && ($d & 0xc0) == 0x80;
            $cp = ($cp << 6) | ($d & 0x3f);
        }
        return 0 if $cp < $min || $cp > 0x10ffff                 # overlong, too big
                    || ($cp >= 0xd800 && $cp <= 0xdfff);         # surrogate
    }
    return 1;
}
sub spec_decode {
    my $buf = shift;
    my $int = sub {    # .NET Read7BitEncodedInt: at most 5 bytes, 32 bits
        $buf =~ /\G([\x80-\xff]{0,4})([\x00-\x7f])/gc or return;
        my @g = (unpack('C*', $1), ord $2);
        return if @g == 5 && $g[4] > 0x0f;
        my $v = 0;
        $v += ($g[$_] & 0x7f) * 2 ** (7 * $_) for 0 .. $#g;
        return $v;
    };
    my $str = sub {    # a length, then that many bytes
        my ($utf8) = @_;
        my $n = $int->() // return;
        my $at = pos $buf;
        return if $at + $n > length $buf;
        my $v = substr($buf, $at, $n);
        pos($buf) = $at + $n;
        return if $utf8 && !utf8_ok($v);
        return \$v;
    };
    my $bool = sub { $buf =~ /\G([\x00\x01])/gc ? ord $1 : undef };
    $buf =~ /\A\x01/gc or return;
    my %st;
    my $sid = $str->(1) or return;
    $st{id} = $$sid;
    for my $f (qw(new abandoned readonly)) {
        $st{$f} = $bool->() // return;
    }
    $st{timeout} = $int->() // return;
    my $count = $int->() // return;
    for (1 .. $count) {
        my $k = $str->(1) or return;
        my $v = $str->(0) or return;
        push @{ $st{items} }, [$$k, $$v];
    }
    my $unknown = $int->() // return;
    for (1 .. $unknown) {
        my $k = $str->(1) or return;
        push @{ $st{unknown} }, $$k;
    }
    return unless (pos($buf) // 0) == length $buf;    # nothing after the state
    $st{items} ||= [];
    $st{unknown} ||= [];
    return \%st;
}
# one string per reading, to compare two decoders' results
sub reading {
    my $st = shift;
    return 'refused' unless $st;
    return join "\0", 'state', map({ length($_) . ":$_" }
        @$st{qw(id new abandoned readonly timeout)},
        map({ @$_ } @{ $st->{items} }), '|', @{ $st->{unknown} });
}

# random bodies, mutations of V, and valid heads with random tails: each
# must be refused, unless spec_decode reads it as a state of this session:
# then it would commit (and end the held GET), so it is left out.
my (@left_out, $skipped);
$skipped = 0;
sub predicted {
    my ($what, $body) = @_;
    my $st = spec_decode($body);
    if ($st && $st->{id} =~ /\A\Q$id\E(?:\0|\z)/) {    # see "a session ID with a NUL" below
        $skipped++;
        push @left_out, [$what, $body];    # for the self-check
        return;
    }
    return [$what, $body, 'deser'];
}
sub rand_bytes { join '', map { chr int rand 256 } 1 .. shift }
for my $i (1 .. 1200) {
    push @cases, grep { $_ } predicted("random $i", rand_bytes(int rand 300));
}
for my $i (1 .. 500) {
    push @cases, grep { $_ }
        predicted("random after version 1, $i", "\x01" . rand_bytes(int rand 120));
}
for my $i (1 .. 500) {
    push @cases, grep { $_ } predicted("valid head, random tail $i",
        substr($V, 0, $pos{count}) . rand_bytes(int rand 100));
}
for my $i (1 .. 1000) {
    my $b = $V;
    for (1 .. 1 + int rand 3) {
        substr($b, int rand length $b, 1) = chr int rand 256;
    }
    push @cases, grep { $_ } predicted("mutation $i", $b);
}
# over and at RemoteSessionMaxSize (1000000 here)
push @cases, ['1000001 bytes', $V . ("\0" x (1_000_001 - length $V)), 413],
             ['1000000 bytes (at the maximum)',
              $V . ("\0" x (1_000_000 - length $V)), 'deser'],
             ['2 MB', "\x01" x 2_000_000, 413],
             ['a valid state of 1000001 bytes', big_state(1_000_001), 413];
# a valid state of exactly $n bytes (one item "big" holding a string)
sub big_state {
    my $n = shift;
    my $k = $n - 200;
    my $len = length encode_state({ %valid, items => [['big', '"' . ('x' x $k) . '"']] });
    $k += $n - $len;
    my $b = encode_state({ %valid, items => [['big', '"' . ('x' x $k) . '"']] });
    die "big_state: " . length($b) . " != $n\n" unless length $b == $n;
    return $b;
}

# Self-check: the two Perl readings of PROTOCOL.md read every body the
# same way, generated ones included (those left out too), and agree with
# every hand-made expectation ('deser': not a state of this session; a
# value that is not JSON: a state of this session, which the module must
# refuse by its JSON).
my (@disagree, $n_states, $n_read);
for my $case (@cases, map { [@$_, 'left out'] } @left_out) {
    my ($what, $body, $expect) = @$case;
    next if $expect eq '413' || length $body > 1_000_000;
    my $spec = spec_decode($body);
    my ($st) = dec_state($body);
    $n_read++;
    $n_states++ if $spec;
    my ($rs, $rp) = (reading($spec), reading($st));
    push @disagree, "$what: spec_decode " . substr($rs, 0, 60)
        . ', dec_state ' . substr($rp, 0, 60) if $rs ne $rp;
    next if $expect eq 'left out';
    my $commits = $spec && $spec->{id} eq $id;
    push @disagree, "$what: expected " . (ref $expect ? 'a state' : $expect)
        if ref $expect ? !$commits : $commits;
}
diag(sprintf '%d bodies read by both decoders, %d of them whole states (%d '
     . 'left out as states of this session)', $n_read, $n_states,
     scalar @left_out);
ok(!@disagree, 'two Perl readings of PROTOCOL.md (spec_decode, dec_state) '
   . 'agree on every body and with every hand-made expectation')
    or diag(join "\n", scalar(@disagree) . ' disagreements:',
            @disagree[0 .. ($#disagree > 29 ? 29 : $#disagree)]);

# The held GET, then every case through one keep-alive connection (every
# fifth chunked, in chunks of 1 to 64 bytes).
my $hold = hold_get($id, port => $port, strict => 1, timeout => 30);
ok($hold->{code} == 200 && $hold->{state}, 'writeable GET holds the lock')
    or BAIL_OUT('no held GET: ' . ($hold->{error} // $hold->{code}));

# flood($tag) -> the wrong answers of one pass of every case through the
# keep-alive connection $c
sub flood {
    my ($tag, @list) = @_;
    my @wrong;
    my $n = 0;
    for my $case (@list) {
        my ($what, $body, $expect) = @$case;
        my $chunked = ++$n % 5 == 0;
        my $r = $c->request('PUT', ENDPOINT, key => API_KEY, cookie => $id,
                            body => $body, chunked => $chunked,
                            chunk => 1 + int rand 64);
        my $ok;
        if ($expect eq 'deser') {
            $ok = $r->{code} == 400 && $r->{reason} eq MSG_DESER
                  && $r->{body} eq MSG_DESER;
        }
        elsif (ref $expect) {
            $ok = $r->{code} == 400 && $r->{reason} =~ $expect;
        }
        else {
            $ok = $r->{code} == $expect;
        }
        push @wrong, "$tag: $what" . ($chunked ? ' (chunked)' : '')
            . ": got $r->{code} $r->{reason}" unless $ok;
        $hold->drain if $n % 50 == 0;
    }
    return @wrong;
}

# children_rss_kb() before and after $code: (growth in kB summed over the
# children alive at both points, how many they are, before, after)
sub rss_growth {
    my $code = shift;
    my (undef, $b) = children_rss_kb($httpd_pid);
    $code->();
    my (undef, $a) = children_rss_kb($httpd_pid);
    my @common = grep { exists $a->{$_} } keys %$b;
    my ($sb, $sa) = (0, 0);
    $sb += $b->{$_} for @common;
    $sa += $a->{$_} for @common;
    return ($sa - $sb, scalar @common, $sb, $sa);
}

my $t_flood = Time::HiRes::time();
my @wrong = flood('flood', @cases);
$t_flood = Time::HiRes::time() - $t_flood;
my $total = @cases;
# the batches: the bodies up to 64 KB (the few of 1-2 MB fill the
# allocators' free lists of whichever recycled connection pools they land
# on: megabytes of noise, not a leak)
my @batch = grep { length $_->[1] <= 65536 } @cases;
my $nb = @batch;
my (@wrong_b, @growth);
for my $batch (1, 2) {
    my @g = rss_growth(sub { push @wrong_b, flood("batch $batch", @batch) });
    push @growth, \@g;
    diag(sprintf 'batch %d (%d PUTs): httpd children RSS %d -> %d kB '
         . '(%d children alive throughout): %+d kB, %+.0f bytes per request',
         $batch, $nb, @g[2, 3, 1, 0], $g[0] * 1024 / $nb);
}
diag(sprintf 'flood: %d PUTs in %.1f s', $total, $t_flood);
ok(!@wrong, "$total generated PUT bodies ($skipped valid ones left out): "
   . "each got its documented answer")
    or diag(join "\n", 'wrong answers: ' . scalar(@wrong), @wrong[0 .. ($#wrong > 29 ? 29 : $#wrong)]);
cmp_ok($total, '>=', 3000, 'at least 3000 bodies were sent');
ok(!@wrong_b, 'the same bodies twice more, in two batches: the same answers')
    or diag(join "\n", 'wrong answers: ' . scalar(@wrong_b), @wrong_b[0 .. ($#wrong_b > 29 ? 29 : $#wrong_b)]);
{
    my $LEAK = 1024;                  # bytes per request to catch
    my $bound = $nb * $LEAK / 2 / 1024;    # kB per batch
    my ($least) = sort { $a <=> $b } map { $_->[0] } @growth;
    ok(!grep({ $_->[1] < 1 } @growth), 'httpd children found in /proc');
    cmp_ok($least, '<', $bound,
           "no leak of $LEAK bytes per request: the RSS of the children grew "
           . 'by less than ' . $LEAK / 2 . " bytes per request in one of two "
           . "batches of $nb PUTs after the flood (kB)");
}

# the lock is intact
ok($hold->drain, 'the held GET is still open after the flood');
{
    my $rec = mc_get("remote-session:$id");
    ok(defined $rec && length($rec) > 33 && ord(substr $rec, 3, 1) == 1
       && ord(substr $rec, 4, 1) == 1,
       'the record still says: held by an endpoint GET')
        or diag(defined $rec ? 'lock ' . ord(substr $rec, 3, 1) . ' kind '
                . ord(substr $rec, 4, 1) : 'no record');
}

# 413 on a small vhost (RemoteSessionMaxSize 4096), same lock (same store)
{
    my $cs = RS::Client->new(port => $small);
    my $at = $V . ("\0" x (4096 - length $V));
    my $r = $cs->request('PUT', ENDPOINT, key => API_KEY, cookie => $id,
                         body => $at);
    is($r->{code} . ' ' . $r->{reason}, '400 ' . MSG_DESER,
       'MaxSize 4096: a body of 4096 bytes is read and refused as malformed');
    $r = $cs->request('PUT', ENDPOINT, key => API_KEY, cookie => $id,
                      body => "$at\0");
    is($r->{code}, 413, 'MaxSize 4096: 4097 bytes: 413');
    $r = $cs->request('PUT', ENDPOINT, key => API_KEY, cookie => $id,
                      body => "$at\0", chunked => 1, chunk => 1000);
    is($r->{code}, 413, 'MaxSize 4096: 4097 bytes chunked: 413');
    my $big = encode_state({ %valid, items => [['big', '"' . 'y' x 4100 . '"']] });
    $r = $cs->request('PUT', ENDPOINT, key => API_KEY, cookie => $id,
                      body => $big);
    is($r->{code}, 413, 'MaxSize 4096: a valid state of ' . length($big)
       . ' bytes: 413');
    $cs->close;
}

# a valid PUT commits; the held GET ends
{
    my %next = (%valid, items => [@items, ['after', '"flood"']]);
    my $r = $c->request('PUT', ENDPOINT, key => API_KEY, cookie => $id,
                        body => encode_state(\%next));
    $c->close;
    is("$r->{code} $r->{reason}", '200 OK', 'a valid PUT after the flood: 200');
    ok(($hold->finish(5) // '') eq 'end', 'the held GET then completes');
    my ($st) = read_state($port, $id);
    is_deeply($st && $st->{items}, $next{items},
              'the state read back is the one committed, byte for byte');
}

# a 7-bit int in five bytes (not canonical, but what .NET's reader
# accepts) is read as its value
{
    my $five = splice7($pos{timeout}, 20, "\x9e\x80\x80\x80\x00");    # 30
    my $r = endpoint_cycle($port, $id, sub { $five });
    is($r->{put}, 200, 'Timeout as a five-byte 7-bit int: 200');
    my ($st) = read_state($port, $id);
    is($st && $st->{timeout}, 30, '... and read as 30 minutes');
}

# ---------------------------------------------------------------------------
# cookies (14)

my $live = new_session(port => $port);
# ro_get($raw header lines) -> (response, decoded state)
sub ro_get {
    my $extra = shift;
    my $raw = "GET " . ENDPOINT . " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            . KEY_HEADER . ": " . API_KEY . "\r\n" . READONLY_HEADER . ": true\r\n"
            . $extra . "\r\n";
    my $r = $c->request('GET', ENDPOINT, raw => $raw);
    my ($st) = $r->{code} == 200 ? dec_state($r->{body}) : ();
    return ($r, $st);
}
# fresh($what, $dead, header lines, @presented): a new session under a
# fresh ID (none of @presented, nor the live one); nothing stored under the
# well-formed ID $dead that names no session
sub fresh {
    my ($what, $dead, $extra, @presented) = @_;
    my ($r, $st) = ro_get($extra);
    my $sc = sid_of($r);
    my $ok = $r->{code} == 200 && $st && $st->{new} && defined $sc
             && $sc =~ ID_RE && $sc eq $st->{id}
             && !grep { $_ eq $sc } @presented, $live;
    # a presented ID that names no session stays unused in memcached
    $ok &&= !defined mc_get("remote-session:$dead") if $dead;
    ok($ok, "$what: a new session under a fresh ID")
        or diag("got $r->{code} $r->{reason}, Set-Cookie id "
                . ($sc // '(none)') . ', state ' . explain($st));
}
sub adopted {
    my ($what, $extra) = @_;
    my ($r, $st) = ro_get($extra);
    ok($r->{code} == 200 && $st && !$st->{new} && $st->{id} eq $live
       && !defined sid_of($r), "$what: the live session, no Set-Cookie")
        or diag("got $r->{code}, " . explain($st));
}
sub httpd400 {
    my ($what, $extra) = @_;
    my ($r) = ro_get($extra);
    ok($r->{code} == 400 && !defined sid_of($r),
       "$what: httpd's own 400, no session")
        or diag("got $r->{code} $r->{reason}");
    $c->close;
}
my $CN = COOKIE_NAME;
httpd400('10 KB cookie', "Cookie: $CN=$live; pad=" . ('a' x 10240) . "\r\n");
adopted('7 KB of other cookies, then the session cookie',
        "Cookie: pad=" . ('a' x 7000) . "; $CN=$live\r\n");
adopted('500 cookies, then the session cookie',
        'Cookie: ' . join('; ', map { "c$_=v$_" } 1 .. 500) . "; $CN=$live\r\n");
fresh('500 cookies, no session cookie', undef,
      'Cookie: ' . join('; ', map { "c$_=v$_" } 1 .. 500) . "\r\n");
fresh('the session cookie twice, two live IDs', undef,
      "Cookie: $CN=$live; $CN=$other\r\n", $other);
fresh('two Cookie headers with two IDs', undef,
      "Cookie: $CN=$other\r\nCookie: $CN=$live\r\n", $other);
adopted('the session cookie twice, the same ID', "Cookie: $CN=$live; $CN=$live\r\n");
httpd400('a NUL byte in the cookie', "Cookie: $CN=$live\0\r\n");
httpd400('an ESC sequence in the cookie', "Cookie: $CN=\e[31m$live\r\n");
fresh('0xFF after the ID', undef, "Cookie: $CN=$live\xff\r\n");
fresh('%00 after the ID', undef, "Cookie: $CN=$live%00\r\n");
fresh('the ID quoted', undef, "Cookie: $CN=\"$live\"\r\n");
fresh('the ID in upper case', undef, "Cookie: $CN=" . uc($live) . "\r\n");
fresh('a well-formed ID of no session', 'a' x 24,
      "Cookie: $CN=" . ('a' x 24) . "\r\n");

# ---------------------------------------------------------------------------
# the read-only header and other header abuse (23)

# ro_value($what, header lines, readonly?) on a session of its own
sub ro_value {
    my ($what, $lines, $want_ro) = @_;
    my $sid = new_session(port => $port);
    my $h = RS::Client->new(port => $port);
    my $raw = "GET " . ENDPOINT . " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            . KEY_HEADER . ": " . API_KEY . "\r\nCookie: $CN=$sid\r\n"
            . $lines . "\r\n";
    $h->send_raw($raw);
    my $code = $h->read_head(10);
    my $r = { code => $code // 0, headers => defined $code ? $h->{headers} : {} };
    my $ct = $r->{headers}{'content-type'} // '';
    if ($want_ro) {
        $h->read_body(30);
        $r->{body} = $h->{body};
        my ($st) = dec_state($r->{body} // '');
        ok($r->{code} == 200 && $ct =~ m{^application/json}
           && $st && $st->{readonly}, "read-only header $what: a read-only GET")
            or diag("got $r->{code} $ct");
    }
    else {
        ok($r->{code} == 200 && $ct =~ m{^text/event-stream},
           "read-only header $what: a writeable GET")
            or diag("got $r->{code} $ct");
    }
    $h->close;    # a held GET is released when its client goes
}
my $RO = READONLY_HEADER;
ro_value("'TRUE'", "$RO: TRUE\r\n", 1);
ro_value("'tRuE'", "$RO: tRuE\r\n", 1);
ro_value("' True ' (spaces)", "$RO:   True   \r\n", 1);
ro_value("'\\ttrue\\t' (tabs)", "$RO:\ttrue\t\r\n", 1);
ro_value("'False'", "$RO: False\r\n", 0);
ro_value("'yes'", "$RO: yes\r\n", 0);
ro_value("'1'", "$RO: 1\r\n", 0);
ro_value("'truee'", "$RO: truee\r\n", 0);
ro_value("'tru'", "$RO: tru\r\n", 0);
ro_value("'t rue'", "$RO: t rue\r\n", 0);
ro_value("'true,'", "$RO: true,\r\n", 0);
ro_value("empty", "$RO:\r\n", 0);
ro_value("'\"true\"'", "$RO: \"true\"\r\n", 0);
ro_value("'true' twice (folded to 'true, true')", "$RO: true\r\n$RO: true\r\n", 0);
ro_value("'\\xfftrue'", "$RO: \xfftrue\r\n", 0);
ro_value('8000 spaces then true', "$RO: " . (' ' x 8000) . "true\r\n", 1);
{
    my $h = RS::Client->new(port => $port);
    my $r = $h->request('GET', ENDPOINT, key => API_KEY,
                        headers => [$RO, 'true' . (' ' x 9000)]);
    is($r->{code}, 400, 'read-only header of 9 KB: httpd\'s own 400');
    $r = $h->request('GET', ENDPOINT, key => API_KEY,
                     headers => [$RO, "tr\x01ue"]);
    is($r->{code}, 400, 'read-only header with a control byte: httpd\'s own 400');
    $r = $h->request('GET', ENDPOINT, key => API_KEY,
                     headers => [$RO, "true\x0b"]);
    is($r->{code}, 400, 'read-only header ending in a vertical tab: httpd\'s own 400');
    $h->close;
}
# other header abuse
{
    my $h = RS::Client->new(port => $port);
    my $r = $h->request('GET', ENDPOINT, key => API_KEY,
                        headers => [$RO, 'true',
                                    map { ("X-Pad-$_", 'x' x 80) } 1 .. 90]);
    is($r->{code}, 200, '90 extra headers: answered');
    $r = $h->request('GET', ENDPOINT, key => API_KEY,
                     headers => [map { ("X-Pad-$_", 'x') } 1 .. 101]);
    is($r->{code}, 400, '101+ headers (over LimitRequestFields): httpd\'s own 400');
    $h->close;
    my $raw = "PUT " . ENDPOINT . " HTTP/1.1\r\nHost: x\r\n" . KEY_HEADER
            . ": " . API_KEY . "\r\nCookie: $CN=$id\r\nContent-Length: -1\r\n\r\n";
    $r = $h->request('PUT', ENDPOINT, raw => $raw);
    is($r->{code}, 400, 'PUT with Content-Length -1: 400');
    $h->close;
    $raw = "PUT " . ENDPOINT . " HTTP/1.1\r\nHost: x\r\n" . KEY_HEADER
         . ": " . API_KEY . "\r\nCookie: $CN=$id\r\n"
         . "Transfer-Encoding: chunked\r\n\r\nzz\r\n";
    $r = $h->request('PUT', ENDPOINT, raw => $raw);
    is($r->{code}, 400, 'PUT with a malformed chunk size: 400');
    $h->close;
}

# ---------------------------------------------------------------------------
# a session ID with a NUL after the cookie's ID: once accepted (strcmp),
# which committed the held lock and stored the client's 25-byte ID (2)

for my $tail ("\0", "\0junk") {
    my $sid = new_session(port => $port);
    my $r = endpoint_cycle($port, $sid, sub {
        encode_state({ %valid, id => $sid . $tail });
    });
    is("$r->{put} " . ($r->{put_reason} // ''), '400 ' . MSG_DESER,
       'body session ID = the cookie\'s + ' . unpack('H*', $tail)
       . ': 400 Failed to deserialize');
}

# ---------------------------------------------------------------------------
# crashes (5)

my $log = error_log_since($log_from);
my @crash = log_crashes($log);
ok(!@crash, 'no child crashed (no "exit signal" or "Segmentation" in '
   . 't/logs/error_log)') or diag(join "\n", @crash[0 .. ($#crash > 9 ? 9 : $#crash)]);
my @rs_err = grep { /\[remote_session:(?:emerg|alert|crit)\]/ } split /\n/, $log;
ok(!@rs_err, 'no emerg/alert/crit line of the module') or diag(join "\n", @rs_err);
{
    my $h = RS::Client->new(port => $port);
    my $r = $h->request('GET', ENDPOINT, key => API_KEY, cookie => $id,
                        headers => [READONLY_HEADER, 'true']);
    is($r->{code}, 200, 'the endpoint still answers');
    $r = endpoint_cycle($port, $id, sub { +{ %{ $_[0] }, items => [["z", "1"]] } });
    ok($r->{put} == 200 && $r->{ended}, 'and still commits');
    my ($st) = read_state($port, $id);
    is_deeply($st && $st->{items}, [['z', '1']], 'the last commit is what is stored');
}
