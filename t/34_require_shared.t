# The endpoint and SessionRequire share one session: what a CGI sets through
# an update the endpoint's read-only GET sees (the value bytes, decoded from
# the binary state), and what a writeable GET + PUT commits the next CGI
# request sees in REMOTE_SESSION, value bytes unchanged (escapes, UTF-8,
# white space, numbers; a zero-length value is not stored), and keeps when it
# updates other keys.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use JSON::PP ();
use RS::Test qw(:all);
use RS::Require qw(:all);

plan tests => 43;

# --- a CGI's update, seen by the endpoint -----------------------------------
my $r = rq_get('/req/env.cgi' . upd('{"set":{"cart":{"Items":3},"test-value":42,"s":"x"}}'));
is($r->code, 200, 'CGI update: 200') or diag($r->as_string);
my $sid = sid_of($r);
like($sid // '', ID_RE, 'CGI update: a session');

my ($res, $st) = ro_get($sid);
is($res->code, 200, 'endpoint read-only GET: 200') or diag($res->as_string);
ok($st, 'endpoint read-only GET: a state that decodes') or diag(unpack 'H*', $res->content);
$st ||= {};
is($st->{id}, $sid, 'the endpoint\'s state has the same session ID');
ok(!$st->{new}, 'the endpoint\'s state is not new (the CGI created it)');
ok($st->{readonly}, 'the read-only GET says IsReadOnly');
is_deeply($st->{items}, [[cart => '{"Items":3}'], ['test-value' => '42'], [s => '"x"']],
          'the endpoint sees the CGI\'s values as JSON bytes, in order');
is(scalar @{ $st->{unknown} || [] }, 0, 'no unknown keys');
ok(!defined cookie_line($res), 'the endpoint found the session (no new cookie)');

# the writeable GET sees the same
my $hold = hold_get($sid, timeout => 10);
is($hold->{code}, 200, 'endpoint writeable GET: 200');
is_deeply(($hold->{state} || {})->{items}, $st->{items},
          'the writeable GET sees the same items');

# --- a PUT's values, seen by the next CGI request --------------------------------
my @items = (
    [cart       => '{"Items":3,"Name":"caf\u00e9"}'],    # an escape, kept as is
    [utf8       => qq("caf\xc3\xa9")],                    # raw UTF-8
    [spaced     => '{ "A" : 1,  "B":[1, 2] }'],           # white space kept
    [num        => '1.10'],
    [big        => '12345678901234567890'],
    [multi      => qq({\n  "x": 1,\n\t"y": 2\n})],         # line breaks
    [empty      => ''],                                    # zero-length value
    [qq(cl\xc3\xa9) => '1'],                               # a non-ASCII key
    [qq(a"b)    => '2'],                                   # a key to escape
);
my $put = put_state($sid, encode_state({ id => $sid, timeout => 45, items => \@items }));
# a zero-length value (one the client could not serialize) is never stored
my @stored = grep { length $_->[1] } @items;
is($put->code, 200, 'PUT commits') or diag($put->as_string);
$hold->close;

$r = rq_get('/req/env.cgi', sid => $sid);
is($r->code, 200, 'next CGI request: 200');
ok(timed($r) < 1.5, 'next CGI request: not delayed by the finished writeable GET')
    or diag(timed($r));
my $env = env_of($r) || {};
is($env->{REMOTE_SESSION_ID}, $sid, 'next CGI request: same session');
my $text = $env->{REMOTE_SESSION} // '';
my @members = eval { raw_members($text) };
is($@, '', 'REMOTE_SESSION is one JSON object') or diag($text);
my %raw = map { $_->[0] => $_->[1] } @members;
is(scalar @members, scalar @stored,
   'REMOTE_SESSION has every stored item (not the zero-length one)');
for my $it (@stored) {
    my ($k, $v) = @$it;
    is($raw{$k}, $v, "REMOTE_SESSION: \"$k\" byte for byte");
}
ok(defined json_text($text), 'REMOTE_SESSION is valid JSON') or diag($text);
is($text, '{' . join(',', map {
        JSON::PP->new->latin1->allow_nonref->encode($_->[0]) . ':'
        . $_->[1] } @stored) . '}',
   'REMOTE_SESSION is exactly the compact object of the stored bytes, in order');

# the request header version: one line, the same values otherwise
my $hdr = $env->{HTTP_X_REMOTE_SESSION} // '';
unlike($hdr, qr/[\r\n]/, 'X-Remote-Session: no line breaks');
my %hraw = map { $_->[0] => $_->[1] } eval { raw_members($hdr) };
(my $multi = $raw{multi} // '') =~ tr/\r\n\t/   /;
is($hraw{multi}, $multi, 'X-Remote-Session: a value\'s line breaks become spaces');
is($hraw{cart}, $items[0][1], 'X-Remote-Session: other values byte for byte');
is($hraw{utf8}, $items[1][1], 'X-Remote-Session: UTF-8 byte for byte');

# --- a CGI update of another key keeps the PUT's bytes -----------------------------
$r = rq_get('/req/env.cgi' . upd('{"set":{"added":true},"remove":["num"]}'), sid => $sid);
is($r->code, 200, 'CGI update after the PUT: 200');
$st = (ro_get($sid))[1] || {};
my %want = map { $_->[0] => $_->[1] } grep { $_->[0] ne 'num' } @stored;
$want{added} = 'true';
is_deeply(items_of($st), \%want,
          'the endpoint sees the PUT\'s bytes unchanged, "num" removed, '
          . '"added" set');
is($st->{timeout}, 45, 'the PUT\'s timeout (45) survives the CGI\'s update');

# --- abandon through the endpoint: the CGI gets a new session ------------------------
$hold = hold_get($sid, timeout => 10);
is($hold->{code}, 200, 'writeable GET again');
$put = put_state($sid, encode_state({ id => $sid, abandoned => 1, items => [] }));
is($put->code, 200, 'PUT with IsAbandoned') or diag($put->as_string);
$hold->close;
$r = rq_get('/req/env.cgi', sid => $sid);
$env = env_of($r) || {};
my $new = sid_of($r);
ok(defined $new && $new ne $sid, 'after the endpoint abandoned it, the CGI gets a new session');
is($env->{REMOTE_SESSION}, '{}', 'the new session is empty');
is($env->{REMOTE_SESSION_NEW}, '1', 'REMOTE_SESSION_NEW 1');

# --- a CGI's abandon, seen by the endpoint ---------------------------------------------
$r = rq_get('/req/env.cgi' . upd('{"set":{"x":1}}'), sid => $new);
rq_get('/req/env.cgi' . upd('{"abandon":true}'), sid => $new);
($res, $st) = ro_get($new);
ok($st && $st->{id} ne $new, 'after a CGI abandoned it, the endpoint creates a new session')
    or diag($st ? $st->{id} : $res->as_string);
ok($st && $st->{new}, 'the endpoint says IsNewSession');
is_deeply(($st || {})->{items}, [], 'the endpoint\'s new session is empty');
