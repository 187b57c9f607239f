# SessionRequire: a backend changes the session with X-Remote-Session-Update
# response headers. Valid updates (set, remove, clear, timeout, abandon;
# several in order; httpd's folding "{...}, {...}"; from err_headers_out) are
# applied before the response goes out and never reach the client. Invalid
# ones, and any update under ReadOnly or against the key registry, store
# nothing, answer 500 and log one RS00041 line naming the problem.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use JSON::PP ();
use RS::Test qw(:all);
use RS::Require qw(:all);

plan tests => 206;

# The session as the next request under On sees it: (REMOTE_SESSION text,
# the response). %o as rq_get (e.g. vhost => ...).
sub session_text {
    my ($sid, %o) = @_;
    my $r = rq_get('/req/env.cgi', sid => $sid, %o);
    my $e = env_of($r) || {};
    return ($e->{REMOTE_SESSION}, $r, $e);
}

sub session_data {
    my ($text) = session_text(@_);
    return defined $text ? json_text($text) : undef;
}

# a new session, stored by an empty update (nothing is stored until
# something is written)
sub rq_session {
    my %o = @_;
    my $r = rq_get('/req/env.cgi?update=%7B%7D', %o);
    my $sid = sid_of($r) or die "no session cookie:\n" . $r->as_string;
    return $sid;
}

# An update through env.cgi: the response.
sub update {
    my ($sid, $path, @updates) = @_;
    my %o;
    %o = %{ pop @updates } if ref $updates[-1] eq 'HASH';
    my $extra = delete $o{query} // '';
    return rq_get($path . upd(@updates) . $extra, sid => $sid, %o);
}

sub no_update_header {
    my ($r, $what) = @_;
    my @h = grep { /^x-remote-session-update$/i } $r->headers->header_field_names;
    is_deeply(\@h, [], "$what: X-Remote-Session-Update does not reach the client")
        or diag($r->as_string);
}

# --- set ---------------------------------------------------------------------------
my $sid = rq_session();
my $r = update($sid, '/req/env.cgi', '{"set":{"a":1,"b":{"X":[1,2]}}}');
is($r->code, 200, 'set: 200') or diag($r->as_string);
no_update_header($r, 'set');
is((env_of($r) || {})->{REMOTE_SESSION}, '{}',
   'set: the request itself saw the state before its update');
my ($text, $r2, $env) = session_text($sid);
is_deeply(json_text($text), { a => 1, b => { X => [1, 2] } },
          'set: the next request sees {"a":1,"b":{"X":[1,2]}}') or diag($text);
is($env->{REMOTE_SESSION_ID}, $sid, 'set: same session');
ok(timed($r2) < 1.5, 'set: the lock was released with the commit') or diag(timed($r2));
my $st = (ro_get($sid))[1];
is_deeply(items_of($st || {}), { a => '1', b => '{"X":[1,2]}' },
          'set: the endpoint sees the values as compact JSON bytes');

# values keep the bytes the backend wrote (as a PUT's do): 0.1 must not turn
# into 0.10000000000000001 on the way to ASP.NET Core (a decimal there)
$r = update($sid, '/req/env.cgi', '{"set":{"price":0.1}}');
is($r->code, 200, 'set 0.1: 200');
$st = (ro_get($sid))[1];
is(($st && $st->{item}{price}), '0.1',
   'set: a number keeps the bytes the backend wrote (0.1)');
# integers beyond 64 bits are valid JSON; the endpoint's PUT takes them
$r = update($sid, '/req/env.cgi', '{"set":{"big":12345678901234567890}}');
is($r->code, 200, 'set: an integer beyond 64 bits is valid JSON (200)');
update($sid, '/req/env.cgi', '{"remove":["price","big"]}');

# --- remove ------------------------------------------------------------------------
$r = update($sid, '/req/env.cgi', '{"remove":["a","never-set"]}');
is($r->code, 200, 'remove: 200');
no_update_header($r, 'remove');
is_deeply(session_data($sid), { b => { X => [1, 2] } },
          'remove: "a" is gone, "b" stays (an absent key is no error)');

# --- clear ------------------------------------------------------------------------
update($sid, '/req/env.cgi', '{"set":{"c":"x","d":true}}');
$r = update($sid, '/req/env.cgi', '{"clear":false}');
is($r->code, 200, 'clear false: 200');
is_deeply(session_data($sid), { b => { X => [1, 2] }, c => 'x', d => JSON::PP::true },
          'clear false: nothing removed');
$r = update($sid, '/req/env.cgi', '{"clear":true}');
is($r->code, 200, 'clear: 200');
no_update_header($r, 'clear');
($text) = session_text($sid);
is($text, '{}', 'clear: the session is empty');

# --- timeout ------------------------------------------------------------------------
$st = (ro_get($sid))[1];
is($st && $st->{timeout}, 20, 'timeout: 20 minutes before (the default)');
$r = update($sid, '/req/env.cgi', '{"timeout":5}');
is($r->code, 200, 'timeout: 200');
no_update_header($r, 'timeout');
$st = (ro_get($sid))[1];
is($st && $st->{timeout}, 5, 'timeout: the endpoint sees Timeout 5');
($text, undef, $env) = session_text($sid);
is($env->{REMOTE_SESSION_ID}, $sid, 'timeout: same session afterwards');

# --- order ----------------------------------------------------------------------------
# within one update: abandon, clear, remove, set, timeout, whatever the
# members' order in the object
$r = update($sid, '/req/env.cgi', '{"set":{"k":"v"},"remove":["k"]}');
is($r->code, 200, 'set+remove in one update: 200');
is_deeply(session_data($sid), { k => 'v' }, 'remove before set: "k" is set');
$r = update($sid, '/req/env.cgi', '{"set":{"k2":2},"clear":true}');
is_deeply(session_data($sid), { k2 => 2 }, 'clear before set: only "k2"');

# several headers (httpd folds a CGI's repeated headers into one value)
$r = update($sid, '/req/env.cgi', '{"set":{"x":1,"y":1}}',
            '{"remove":["x"],"set":{"y":2}}', '{"set":{"x":3},"remove":["k2"]}');
is($r->code, 200, 'three update headers: 200');
no_update_header($r, 'three update headers');
is_deeply(session_data($sid), { x => 3, y => 2 }, 'three update headers applied in order');

# one header holding "{...}, {...}" as httpd folds it
$r = update($sid, '/req/env.cgi', '{"set":{"f1":1}}, {"set":{"f2":2}} ,{"remove":["x"]}');
is($r->code, 200, 'one header "{...}, {...}": 200') or diag($r->as_string);
is_deeply(session_data($sid), { y => 2, f1 => 1, f2 => 2 },
          'one header "{...}, {...}": each applied in turn');

# --- from err_headers_out (a CGI with another status) ---------------------------------
for my $code (404, 500) {
    $r = update($sid, '/req/env.cgi', qq({"set":{"e$code":$code}}), { query => "&status=$code" });
    is($r->code, $code, "Status: $code with an update: $code kept");
    no_update_header($r, "Status: $code with an update");
    is(session_data($sid)->{"e$code"}, $code, "Status: $code: the update was applied");
}

# --- abandon --------------------------------------------------------------------------
my $old = $sid;
$r = update($sid, '/req/env.cgi', '{"abandon":true,"set":{"after":1}}');
is($r->code, 200, 'abandon: 200');
no_update_header($r, 'abandon');
($text, $r2, $env) = session_text($old);
my $newid = sid_of($r2);
ok(defined $newid && $newid ne $old, 'abandon: the next request gets a new session ID')
    or diag($r2->as_string);
is($env->{REMOTE_SESSION_ID}, $newid, 'abandon: the CGI sees the new ID');
is($env->{REMOTE_SESSION_NEW}, '1', 'abandon: REMOTE_SESSION_NEW is 1');
is($text, '{}', 'abandon: the new session is empty (the rest of the update ignored)');

# abandon in the second of three updates: the third is not applied either
$sid = $newid;
update($sid, '/req/env.cgi', '{"set":{"keep":1}}');
$r = update($sid, '/req/env.cgi', '{"set":{"p":1}}', '{"abandon":true}', '{"set":{"q":1}}');
is($r->code, 200, 'abandon between updates: 200');
($text, $r2, $env) = session_text($sid);
isnt($env->{REMOTE_SESSION_ID}, $sid, 'abandon between updates: the session is gone');
is($text, '{}', 'abandon between updates: nothing of the other updates survives');
$sid = rq_session();

# --- invalid updates: 500, nothing stored, one RS00041 line ---------------------------
update($sid, '/req/env.cgi', '{"set":{"base":"unchanged","n":1}}');
my ($base_text) = session_text($sid);
is_deeply(json_text($base_text), { base => 'unchanged', n => 1 }, 'the state the refusals must leave');
my $base_state = items_of((ro_get($sid))[1] || {});

# refused($what, $response, $problem_re, %o): the checks every refusal gets
sub refused {
    my ($what, $r, $mark, $problem, %o) = @_;
    my $code = $o{code} // 500;
    is($r->code, $code, "$what: $code") or diag($r->as_string);
    no_update_header($r, $what);
    my ($text, $next) = session_text($o{sid} // $sid, %{ $o{get} || {} });
    is($text, $o{base_text} // $base_text, "$what: the state is unchanged");
    ok(timed($next) < 1.5, "$what: the lock was released (next request not delayed)")
        or diag(timed($next));
    my $log = log_since($mark);
    my @lines = count_rs($log, 'RS00041');
    if ($o{httpd_refuses}) {
        # httpd itself refused the CGI's header: the module saw no update
        is(scalar @lines, 0, "$what: httpd refused the header, not the module (no RS00041)")
            or diag(join "\n", @lines);
        return;
    }
    is(scalar @lines, 1, "$what: one RS00041 line") or diag($log);
    like($lines[0] // '', $problem, "$what: the log line names the problem");
}

my @invalid = (
    ['not JSON',          ['{"set":'],                      qr/invalid JSON/],
    ['trailing garbage',  ['{"set":{"z":1}} x'],            qr/invalid JSON/],
    ['not an object',     ['[{"set":{"z":1}}]'],            qr/must be a JSON object/],
    ['unknown member',    ['{"set":{"z":1},"sett":{"z":2}}'], qr/unknown member "sett"/],
    ['remove not an array', ['{"remove":"x"}'],             qr/"remove" must be an array/],
    ['remove of a number', ['{"remove":[1]}'],              qr/"remove" must be an array/],
    ['set not an object', ['{"set":[1]}'],                  qr/"set" must be an object/],
    ['clear not a boolean', ['{"clear":1}'],                qr/"clear" must be true or false/],
    ['abandon not a boolean', ['{"abandon":"yes"}'],        qr/"abandon" must be true or false/],
    ['timeout 0',         ['{"timeout":0}'],                qr/"timeout" must be/],
    ['timeout too large', ['{"timeout":525601}'],           qr/"timeout" must be/],
    ['timeout a string',  ['{"timeout":"5"}'],              qr/"timeout" must be/],
    ['a valid update, then an invalid one',
                          ['{"set":{"z":1}}', '{"bogus":1}'], qr/unknown member "bogus"/],
    ['folded: valid, then not JSON',
                          ['{"set":{"z":1}}, {"set":'],     qr/invalid JSON/],
);
for my $case (@invalid) {
    my ($what, $updates, $problem) = @$case;
    my $mark = log_mark();
    $r = update($sid, '/req/env.cgi', @$updates);
    refused($what, $r, $mark, $problem);
}
is_deeply(items_of((ro_get($sid))[1] || {}), $base_state,
          'after the refusals the endpoint sees the same items');

# deep nesting: 3000 arrays fit in a CGI header line, Jansson refuses them
my $mark = log_mark();
$r = rq_get('/req/req_gen.cgi?deep=3000', sid => $sid);
refused('3000 nested arrays', $r, $mark, qr/depth/);

# 5000 nested arrays (10 KB) and a 100 KB string: longer than httpd takes
# a CGI header line (8 KB), httpd refuses the CGI's answer itself
for my $q (['5000 nested arrays', 'deep=5000'], ['a 100 KB string', 'big=100000']) {
    $mark = log_mark();
    $r = rq_get("/req/req_gen.cgi?$q->[1]", sid => $sid);
    refused($q->[0], $r, $mark, undef, httpd_refuses => 1);
}
# a string that does fit (8000 bytes) is stored
$r = rq_get('/req/req_gen.cgi?big=8000', sid => $sid);
is($r->code, 200, 'an 8000-byte string: 200');
is(length(session_data($sid)->{big} // ''), 8000, 'an 8000-byte string is stored');
update($sid, '/req/env.cgi', '{"remove":["big"]}');
is((session_text($sid))[0], $base_text, 'back to the base state');

# under ReadOnly
$mark = log_mark();
$r = update($sid, '/ro/env.cgi', '{"set":{"z":1}}');
refused('an update under ReadOnly', $r, $mark, qr/ReadOnly/);
$mark = log_mark();
$r = update($sid, '/ro/env.cgi', '{"set":{"z":1}}', { query => '&status=404' });
refused('an update under ReadOnly from a 404', $r, $mark, qr/ReadOnly/);

# --- the key registry (virtual host rq_keys: count int, name string, flag bool?)
my %k = (vhost => 'rq_keys');
my $ksid = rq_session(%k);
$r = update($ksid, '/req/env.cgi', '{"set":{"count":5,"name":"n","flag":null}}', {%k});
is($r->code, 200, 'registered keys, fitting values: 200') or diag($r->as_string);
my ($kbase) = session_text($ksid, %k);
is_deeply(json_text($kbase), { count => 5, name => 'n', flag => undef },
          'registered keys, fitting values: stored');
for my $case (['an unregistered key', '{"set":{"count":6,"nope":1}}', qr/nope/],
              ['a string for an int', '{"set":{"count":"6"}}', qr/count/],
              ['an int beyond 32 bits', '{"set":{"count":2147483648}}', qr/count/],
              ['null for a non-nullable int', '{"set":{"count":null}}', qr/count/],
              ['a number for a string', '{"set":{"name":1}}', qr/name/],
              ['a string for a bool?', '{"set":{"flag":"true"}}', qr/flag/]) {
    my ($what, $u, $problem) = @$case;
    $mark = log_mark();
    $r = update($ksid, '/req/env.cgi', $u, {%k});
    refused("registry: $what", $r, $mark, $problem,
            sid => $ksid, base_text => $kbase, get => {%k});
}

# --- a refused update in the request that created the session -----------------------
$mark = log_mark();
$r = rq_get('/req/env.cgi' . upd('{"set":{"z":1},"nope":1}'));
is($r->code, 500, 'new session, invalid update: 500');
my $created = sid_of($r);
like($created // '', ID_RE, 'new session, invalid update: the 500 still sets the cookie');
ok(!defined mc_get(store_key($created // 'x')),
   'new session, invalid update: nothing stored (the session was never written)');
(undef, undef, $env) = session_text($created);
isnt($env->{REMOTE_SESSION_ID}, $created,
     'new session, invalid update: its cookie names no session later');
is(scalar count_rs(log_since($mark), 'RS00041'), 1, 'new session, invalid update: one RS00041 line');
