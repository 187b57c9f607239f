# The API key (issue 5, "Hostile input"; PROTOCOL.md "Endpoint and
# authentication"): a wrong, missing, differently cased, one-byte-short,
# doubled (two headers) or 100 KB key gets 401 with an empty body, for
# every method and with or without a live session cookie, and the store is
# not touched at all (memcached's own counters of gets, sets, touches and
# items do not move).
#
# Leading and trailing blanks: RFC 9110 5.5 makes the SP/HTAB around a
# header value "optional white space", not part of the value; httpd strips
# it before any module runs (so does Kestrel on the .NET side). "The key
# with a trailing space" therefore cannot reach the module as such and is,
# correctly, the key: 200. A trailing character that is not OWS (U+00A0,
# a comma, a letter) is part of the value: 401.
#
# The key never appears in the module's log lines: the suite logs at
# "LogLevel info remote_session:trace8"; vhost hostile_trace of
# t/conf/hostile.conf.in logs everything at trace8. At trace levels httpd's
# own core and http modules may log request headers, and with them the key
# header: that is httpd's logging, which an admin turns on deliberately and
# which the module cannot filter. So the test checks (a) that no line of
# the module ("[remote_session:") holds the key, a near-miss key, or a
# session value stored during the test, at trace8, and (b) that no line
# below trace level, of any module, holds the key.
#
# The constant-time comparison is measured, not asserted, by
# bench/key_timing.pl (timing has no place in a suite run on a busy
# machine).
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use RS::Test qw(error_log_since mc_keys mc_keys_added need_workers
                encode_state item_of mc_stats
                log_crashes
                API_KEY KEY_HEADER READONLY_HEADER ENDPOINT hold_get new_session read_state endpoint_cycle sid_of);
use Time::HiRes ();

my $port  = Apache::Test::vars('port');
my $trace = Apache::Test::vars('hostile_trace_port');
my $mc    = $ENV{RS_MEMCACHED_PORT};
my $K     = API_KEY;
my $log_from = error_log_since();

my @bad = (
    ['a wrong key (another GUID)',  [KEY_HEADER, '6f9619ff-8b86-d011-b42d-00c04fc964ff']],
    ['no key header',               []],
    ['the key in upper case',       [KEY_HEADER, uc $K]],
    ['the key with one letter upper', [KEY_HEADER, substr($K, 0, 1) . uc(substr $K, 1, 1) . substr($K, 2)]],
    ['one byte short',              [KEY_HEADER, substr($K, 0, -1)]],
    ['one byte short at the front', [KEY_HEADER, substr($K, 1)]],
    ['first byte wrong',            [KEY_HEADER, '4' . substr($K, 1)]],
    ['last byte wrong',             [KEY_HEADER, substr($K, 0, -1) . '2']],
    ['the key twice (two headers)', [KEY_HEADER, $K, KEY_HEADER, $K]],
    ['a wrong key, then the key (two headers)',
     [KEY_HEADER, '6f9619ff-8b86-d011-b42d-00c04fc964ff', KEY_HEADER, $K]],
    ['the key and a trailing U+00A0', [KEY_HEADER, "$K\xc2\xa0"]],
    ['the key and a trailing comma', [KEY_HEADER, "$K,"]],
    ['the key and a trailing letter', [KEY_HEADER, "${K}x"]],
    ['the key in braces',           [KEY_HEADER, "{$K}"]],
    ['the key without dashes',      [KEY_HEADER, join '', split /-/, $K]],
    ['an empty key',                [KEY_HEADER, '']],
    ['the key in another header',   ['X-SystemWebAdapter-RemoteAppAuthentication', $K]],
    ['the key as a query parameter', [], "?" . KEY_HEADER . "=$K"],
    ['a 7 KB key (the key, then padding)', [KEY_HEADER, $K . ('0' x 7000)]],
);

# at most at once: endpoint_cycle's held GET and PUT
need_workers(2);

plan tests => @bad + 4 + 3 + 2 + 6;

# a live session holding a value, for the cookie of the bad requests
my $secret1 = 'rs53-secret-one-' . int rand 1e9;
my $secret2 = 'rs53-secret-two-' . int rand 1e9;
my $id = new_session(port => $trace);
endpoint_cycle($trace, $id, sub { +{ %{ $_[0] }, items => [['s1', qq("$secret1")]] } })
    ->{put} == 200 or die "setup: PUT failed\n";
my $valid_put = encode_state({ id => $id, items => [['s1', '"overwritten"']] });

# memcached quiet (no held GET of an earlier test still polling), then
# its counters
sub quiet_stats {
    my $until = Time::HiRes::time() + 10;
    my $prev = mc_stats($mc);
    while (Time::HiRes::time() < $until) {
        Time::HiRes::sleep(0.3);
        my $now = mc_stats($mc);
        return $now if $now->{cmd_get} == $prev->{cmd_get}
                    && $now->{cmd_set} == $prev->{cmd_set};
        $prev = $now;
    }
    return $prev;
}
# not curr_items: items of earlier tests expire meanwhile; total_items and
# delete_hits count what a request could add or remove
my @counters = qw(cmd_get cmd_set cmd_touch total_items cas_hits
                  cas_misses cas_badval delete_hits delete_misses get_hits
                  get_misses touch_hits touch_misses);

# every bad key, with GET (read-only and writeable), PUT and POST, with the
# live session's cookie and without, on the main server and on the trace
# vhost: 401, empty body, no Set-Cookie
my $stats0 = quiet_stats();
my @keys0 = mc_keys();
for my $case (@bad) {
    my ($what, $headers, $query) = @$case;
    my @wrong;
    for my $p ($port, $trace) {
        my $c = RS::Client->new(port => $p);
        for my $req (['GET', [READONLY_HEADER, 'true']], ['GET', []],
                     ['PUT', [], $valid_put], ['POST', [], $valid_put]) {
            my ($m, $extra, $body) = @$req;
            for my $cookie ($id, undef) {
                my $r = $c->request($m, ENDPOINT . ($query // ''),
                                    headers => [@$headers, @$extra],
                                    cookie => $cookie, body => $body,
                                    timeout => 10);
                push @wrong, "$p $m " . ($cookie ? 'cookie' : 'no cookie')
                    . ": $r->{code} body '" . substr($r->{body}, 0, 40) . "'"
                    unless $r->{code} == 401 && $r->{body} eq ''
                        && !defined sid_of($r);
            }
        }
        $c->close;
    }
    ok(!@wrong, "$what: 401 with an empty body (GET, PUT, POST; with and "
       . 'without a session cookie)') or diag(join "\n", @wrong);
}

# a 100 KB key: httpd's own 400 where header fields are limited to 8 KB
# (the default), 401 on the vhost that admits 256 KB fields
{
    my $big = 'f' x (100 * 1024);
    my $c = RS::Client->new(port => $port);
    my $r = $c->request('GET', ENDPOINT, headers => [KEY_HEADER, $big]);
    is($r->{code}, 400, '100 KB key, default LimitRequestFieldSize: httpd\'s 400');
    $c->close;
    $c = RS::Client->new(port => $trace);
    my @codes;
    for my $m ('GET', 'PUT', 'POST') {
        $r = $c->request($m, ENDPOINT, headers => [KEY_HEADER, $big],
                         cookie => $id, body => $m eq 'GET' ? undef : $valid_put);
        push @codes, "$r->{code}" . ($r->{body} eq '' ? '' : ' with a body');
    }
    is("@codes", '401 401 401',
       '100 KB key on a vhost admitting it: 401, empty body (GET, PUT, POST)');
    $r = $c->request('GET', ENDPOINT,
                     headers => [KEY_HEADER, $K . ('0' x (100 * 1024))],
                     cookie => $id);
    is($r->{code}, 401, 'the key followed by 100 KB: 401');
    $c->close;
    my $big_log = grep { length > 50_000 && /\[remote_session:/ }
                  split /\n/, error_log_since($log_from);
    is($big_log, 0, 'no module log line carries the 100 KB key');
}

# the store was not touched
{
    my $stats1 = quiet_stats();
    my @moved = map { "$_ $stats0->{$_} -> $stats1->{$_}" }
                grep { ($stats0->{$_} // 0) != ($stats1->{$_} // 0) } @counters;
    ok(!@moved, 'memcached saw no get, set, touch, CAS or delete during all '
       . 'the refused requests') or diag(join "\n", @moved);
    is_deeply([mc_keys_added(undef, @keys0)], [], 'no item was added');
    my ($st) = read_state($trace, $id);
    is(item_of($st, 's1'), qq("$secret1"), 'the session is as it was');
}

# blanks around the value are not part of it (RFC 9110 5.5)
{
    my $c = RS::Client->new(port => $port);
    my @codes;
    for my $v ("$K ", " $K", "\t$K\t", "   $K   ") {
        my $r = $c->request('GET', ENDPOINT, headers => [KEY_HEADER, $v,
                                                         READONLY_HEADER, 'true']);
        push @codes, $r->{code};
    }
    is("@codes", '200 200 200 200', 'the key with leading or trailing SP/HTAB '
       . '(optional white space, stripped by httpd): accepted');
    my $r = $c->request('GET', ENDPOINT, headers => [KEY_HEADER, "$K\x0b"]);
    is($r->{code}, 400, 'the key and a trailing vertical tab: httpd\'s 400');
    $c->close;
}

# Logging at trace8 (vhost hostile_trace): the successful paths too, with a
# second secret stored through SessionRequire
{
    my $c = RS::Client->new(port => $trace);
    my $upd = '{"set":{"s2":"' . $secret2 . '"}}';
    (my $q = $upd) =~ s/([^A-Za-z0-9_.-])/sprintf '%%%02X', ord $1/ge;
    my $r = $c->request('GET', "/req/env.cgi?update=$q", cookie => $id);
    $r->{code} == 200 or diag("SessionRequire update: $r->{code}");
    $c->request('GET', '/ro/env.cgi', cookie => $id);
    $c->request('GET', ENDPOINT, key => $K, cookie => $id,
                headers => [READONLY_HEADER, 'true']);
    $c->request('POST', ENDPOINT, key => $K, cookie => $id,
                body => encode_state({ id => $id,
                                   items => [['s1', qq("$secret1")],
                                             ['s2', qq("$secret2")]] }));
    $c->request('PUT', ENDPOINT, key => $K, cookie => $id,
                body => encode_state({ id => 'x' x 24,
                                   items => [['s1', qq("$secret1")]] }));
    $c->close;
    my $gone = hold_get($id, port => $trace, strict => 1, timeout => 30);    # a client that goes away
    $gone->abort;                                  # (a debug line)
    my $cyc = endpoint_cycle($trace, $id, sub { $_[0] });
    my ($st) = read_state($trace, $id);
    ok($st && item_of($st, 's1') eq qq("$secret1")
       && item_of($st, 's2') eq qq("$secret2") && $cyc->{put} == 200,
       'trace vhost: both secrets stored, every path exercised');

    my @lines = split /\n/, error_log_since($log_from);
    my @ours = grep { /\[remote_session:/ } @lines;
    # the module's most detailed level is debug (it has no trace lines)
    my @detail = grep { /\[remote_session:(?:debug|trace\d)\]/ } @ours;
    cmp_ok(scalar @detail, '>', 0,
           'the module logged at its most detailed level (' . scalar(@ours)
           . ' module lines in all)');
    my @forms = ($K, uc $K, join('', split /-/, $K), substr($K, 0, 18),
                 substr($K, 18), '3f2504e0', '0305e82c3301');
    my @leak = grep { my $l = $_; grep { index(lc $l, lc $_) >= 0 } @forms } @ours;
    ok(!@leak, 'no module line holds the key, a near-miss key, or a part of one')
        or diag(join "\n", @leak[0 .. ($#leak > 4 ? 4 : $#leak)]);
    my @vals = grep { /\Q$secret1\E|\Q$secret2\E|overwritten/ } @ours;
    ok(!@vals, 'no module line holds a session value')
        or diag(join "\n", @vals[0 .. ($#vals > 4 ? 4 : $#vals)]);
    my @below = grep { !/:trace\d\]/ && index(lc $_, lc $K) >= 0 } @lines;
    ok(!@below, 'no line below trace level, of any module, holds the key')
        or diag(join "\n", @below[0 .. ($#below > 4 ? 4 : $#below)]);
    my $httpd_own = grep { /:trace\d\]/ && !/\[remote_session:/
                           && index(lc $_, lc $K) >= 0 } @lines;
    diag("httpd's own trace lines holding the key header: $httpd_own "
         . '(LogLevel trace8 in vhost hostile_trace; not the module\'s)');
    my @crash = log_crashes(join "\n", @lines);
    ok(!@crash, 'no child crashed') or diag(join "\n", @crash);
}
