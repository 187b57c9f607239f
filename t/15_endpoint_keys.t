# The key registry on the endpoint (PROTOCOL.md "Key registration",
# INTERFACE.md RemoteSessionKey), in vhost rs_keys of
# t/conf/endpoint.conf.in:
#   count int, maybe int?, name string, flag bool?, strict bool,
#   total long, ratio double, cart object, tags array, any json
# A PUT carrying an unregistered key or a value that does not fit its type
# is refused with 400 and a body naming the key, the expected type and what
# arrived; the lock and the state stay as they were, so a correct PUT then
# commits. int is 32-bit: 2147483647 fits, 2147483648 does not.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use RS::Test qw(:all);

# [ key, value JSON, expected type as named, what arrived (regex) ]
my @wrong = (
    [ 'count',  '"42"',                qr/\bint\b/,    qr/string/ ],
    [ 'count',  '4.5',                 qr/\bint\b/,    qr/non-integer|real|4\.5/ ],
    [ 'count',  'null',                qr/\bint\b/,    qr/null/ ],
    [ 'count',  'true',                qr/\bint\b/,    qr/true/ ],
    [ 'count',  '2147483648',          qr/\bint\b/,    qr/outside the int range/ ],
    [ 'count',  '-2147483649',         qr/\bint\b/,    qr/outside the int range/ ],
    [ 'count',  '{"V":1}',             qr/\bint\b/,    qr/object/ ],
    [ 'maybe',  '"x"',                 qr/\bint\?/,    qr/string/ ],
    [ 'name',   '42',                  qr/\bstring\b/, qr/integer|42/ ],
    [ 'name',   '["a"]',               qr/\bstring\b/, qr/array/ ],
    [ 'flag',   '1',                   qr/\bbool\?/,   qr/integer|\b1\b/ ],
    [ 'flag',   '"true"',              qr/\bbool\?/,   qr/string/ ],
    [ 'strict', 'null',                qr/\bbool\b/,   qr/null/ ],
    [ 'total',  '1.5',                 qr/\blong\b/,   qr/non-integer|real|1\.5/ ],
    [ 'total',  '9223372036854775808', qr/\blong\b/,   qr/invalid|big|range|9223372036854775808/i ],
    [ 'ratio',  '"1.5"',               qr/\bdouble\b/, qr/string/ ],
    [ 'cart',   '[1]',                 qr/\bobject\b/, qr/array/ ],
    [ 'tags',   '{"A":1}',             qr/\barray\b/,  qr/object/ ],
    [ 'any',    '{"A":',               qr/\bjson\b/i,  qr/invalid JSON/i ],
    [ 'cart',   '{"A":1} x',           qr/\bobject\b/, qr/invalid JSON/i ],
);

# values that fit (in registry order)
my @fit = (
    [ 'count',  '2147483647' ],
    [ 'maybe',  'null' ],
    [ 'name',   '"caf\u00e9"' ],
    [ 'flag',   'null' ],
    [ 'strict', 'false' ],
    [ 'total',  '9223372036854775807' ],
    [ 'ratio',  '123456789012345678901234567890' ],
    [ 'cart',   '{"Items":[{"Sku":"A","Qty":1}]}' ],
    [ 'tags',   '["a",1,null]' ],
    [ 'any',    '"anything"' ],
);
my @fit2 = (
    [ 'count',  '-2147483648' ],
    [ 'maybe',  '7' ],
    [ 'name',   'null' ],
    [ 'flag',   'true' ],
    [ 'strict', 'true' ],
    [ 'total',  '-9223372036854775808' ],
    [ 'ratio',  '-1.5e300' ],
    [ 'cart',   'null' ],
    [ 'tags',   'null' ],
    [ 'any',    'null' ],
);

# a held writeable GET and its PUTs at once
need_workers(2);

plan tests => 5 + 4 * @wrong + 5 + 4 + 6 + 4 + 4 + 3 + 2;

my $port = vhost_port('rs_keys');
my $id = new_session(port => $port);
my @base = ([ 'count', '1' ], [ 'name', '"base"' ]);

sub put_items {
    my ($sid, @items) = @_;
    return put_state($sid, encode_state(id => $sid, items => \@items),
                     port => $port);
}

# the base state
my $g = hold_get($id, port => $port);
is($g->{code}, 200, 'rs_keys: a writeable GET');
my $r = put_items($id, @base);
is($r->code, 200, 'a PUT of registered keys with fitting values: 200')
    or diag($r->as_string);
ok($g->read_body(3), '... commits');
is_deeply(stored_items($id, port => $port), \@base, '... the items are stored');

# --- refusals while the lock is held ---------------------------------------
$g = hold_get($id, port => $port);
is($g->{code}, 200, 'a writeable GET holds the session again');
for my $case (@wrong) {
    my ($key, $json, $type_re, $got_re) = @$case;
    my $what = "$key = $json";
    my $r = put_items($id, [ 'name', '"ok"' ], [ $key, $json ]);
    is($r->code, 400, "$what: 400");
    my $body = $r->content;
    note("$what: " . $r->status_line);
    like($body, qr/'\Q$key\E'|"\Q$key\E"|\b\Q$key\E\b/,
         "$what: the body names the key") or diag("body: $body");
    like($body, $type_re, "$what: the body names the expected type")
        or diag("body: $body");
    like($body =~ s/^.*?\bexpects?\b//sr, $got_re,
         "$what: the body says what arrived") or diag("body: $body");
}
{
    my $r = put_items($id, [ 'count', '2' ], [ 'unregistered', '1' ]);
    is($r->code, 400, 'an unregistered key: 400');
    like($r->content, qr/unregistered/, '... the body names the key');
    like($r->content, qr/not registered|unknown|RemoteSessionKey/i,
         '... and says it is not registered') or diag($r->content);
    like($r->header('Content-Type') // '', qr{\Atext/plain\b}, '... text/plain');
    is($r->message, $r->content, '... the message is also the reason phrase');
}
{
    # the message is the reason phrase: a key is shown escaped and cut short
    my $r = put_items($id, [ 'count', '2' ], [ "evil\r\nX-Injected: yes", '1' ]);
    is($r->code, 400, 'a key holding CR LF: 400');
    ok(!defined $r->header('X-Injected') && $r->message !~ /[\r\n]/,
       '... no header injected through the reason phrase')
        or diag($r->as_string);
    like($r->content, qr/'evil\\r\\nX-Injected: yes'/,
         '... the body shows the key with CR LF escaped');
    $r = put_items($id, [ 'count', '2' ], [ 'k' x 5000, '1' ]);
    ok($r->code == 400 && length($r->message) < 200
       && $r->content =~ /'k{64}\.\.\.'/,
       'a 5,000-byte key: 400, the key cut to 64 bytes in the reason phrase')
        or diag(substr($r->message, 0, 300));
}
ok(!$g->read_body(0.1), 'after the refusals the GET is still held open');
is_deeply(stored_items($id, port => $port), \@base, 'after the refusals the state is unchanged');
$r = put_items($id, @fit);
is($r->code, 200, 'then a PUT of fitting values at the limits commits '
   . '(int 2147483647, long 9223372036854775807, nulls where allowed, ...)')
    or diag($r->as_string);
ok($g->read_body(3), '... the held GET completes');
$g->close;    # a finished response kept alive would hold a prefork child
is_deeply(stored_items($id, port => $port), \@fit, '... every value stored byte for byte');
{
    my $g = hold_get($id, port => $port);
    my $r = put_items($id, @fit2);
    is($r->code, 200, 'the other limits fit too (int -2147483648, long '
       . '-9223372036854775808, bool? true, ...)') or diag($r->as_string);
    $g->read_body(3);
}

# --- a zero-length value: the client's mark of a value it could not write --
{
    my $g = hold_get($id, port => $port);
    my $r = put_items($id, [ 'count', '' ], [ 'name', '"n"' ]);
    is($r->code, 200, 'a zero-length value of a registered key is accepted');
    $g->read_body(3);
    my ($count) = map { $_->[1] } grep { $_->[0] eq 'count' } @fit2;
    is_deeply(stored_items($id, port => $port), [[ 'name', '"n"' ], [ 'count', $count ]],
              '... and never stored: the stored value stays (issue 8)');
    $g = hold_get($id, port => $port);
    $r = put_items($id, [ 'unregistered', '' ]);
    is($r->code, 400, 'a zero-length value of an unregistered key: 400');
    like($r->content, qr/unregistered/, '... naming the key');
    $r = put_items($id, @base);
    $g->read_body(3);
}

# --- POST: the same check, answered in the JSON result ------------------------
{
    my $st = encode_state(id => $id, items => [[ 'count', '"seven"' ]]);
    my $r = send_request(endpoint_request('POST', session => $id, body => $st,
                                          port => $port));
    my $s = eval { decode_state($r->content, 1) };
    my $res = $s ? substr($r->content, $s->{length}) : $r->content;
    like($res, qr/\A\{"s":false,"m":"[^"]*count[^"]*"\}\z/,
         'POST with a value of the wrong type: {"s":false,"m":...} naming '
         . 'the key') or diag($res);
    like($res, qr/\bint\b/, '... and the type');
    is_deeply(stored_items($id, port => $port), \@base, '... the state is unchanged');
    my $ok = send_request(endpoint_request('POST', session => $id,
        body => encode_state(id => $id, items => [[ 'count', '7' ]]),
        port => $port));
    $s = eval { decode_state($ok->content, 1) };
    is($s && substr($ok->content, $s->{length}), '{"s":true}',
       '... and a fitting POST then commits (the lock was released)');
}

# --- without a registry (the main server): any key, but valid JSON ----------
{
    my $sid = new_session();
    my $g = hold_get($sid);
    my $r = put_state($sid, encode_state(id => $sid,
                                         items => [[ 'whatever', '[1,{"x":2}]' ]]));
    is($r->code, 200, 'no registry: any key with any valid JSON is accepted');
    $g->read_body(3);
    $g = hold_get($sid);
    $r = put_state($sid, encode_state(id => $sid, items => [[ 'bad', '{nope' ]]));
    is($r->code, 400, 'no registry: a value that is not JSON: 400');
    like($r->content, qr/\bbad\b.*JSON/i, '... naming the key and JSON');
    put_state($sid, encode_state(id => $sid));
    $g->read_body(3);

    # INTERFACE.md: refusals are logged "never the API key or a value"
    my $from = error_log_since();
    my $marker = "rsfifteensecretvalue";
    $g = hold_get($sid);
    $r = put_state($sid, encode_state(id => $sid,
                                      items => [[ 'bad', "[$marker]" ]]));
    is($r->code, 400, 'a value that is not JSON, with a marker: 400');
    put_state($sid, encode_state(id => $sid));
    $g->read_body(3);
    unlike(error_log_since($from), qr/\Q$marker\E/,
           '... and no part of the value reaches the error log');
}
