# The session endpoint, one-connection POST (PROTOCOL.md "Writeable, one
# connection: POST (HTTP/2 full duplex)"): over cleartext HTTP/2 with prior
# knowledge (t/bin/h2_post.py, Debian's python3-h2), the state comes first,
# without a newline, before the client sends a byte of its body; the client
# then streams the new state and the response ends with {"s":true}, or
# {"s":false,"m":...} leaving the state as it was. The same over HTTP/1.1
# with a chunked body streamed after the state, and with a body sent at
# once. A new session through POST.
#
# Run under mpm_event and mpm_prefork (make test): mod_http2 warns that
# prefork is not supported (AH10034), yet serves h2c there too.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use JSON::PP ();
use RS::Test qw(:all);
use RS::H2 qw(have_h2 h2_open h2_finish);
use Time::HiRes ();

have_h2();
plan tests => 13 + 8 + 7 + 12 + 5;

my $json = JSON::PP->new;
my $cookie_re = qr/\AASP\.NET_SessionId=([a-z0-5]{24}); path=\/; HttpOnly; SameSite=Lax\z/;


# a session with a committed item
my $id = new_session();
{
    my $g = hold_get($id);
    put_state($id, encode_state(id => $id, items => [[ 'a', '1' ]]));
    $g->read_body(3) or BAIL_OUT('setup: GET + PUT does not commit');
}

# what the HTTP/2 cases commit, and the HTTP/1.1 ones start from
my @items = ([ 'a', '2' ], [ 'b', '"caf\u00e9"' ], [ 'c', '{"X":1}' ]);

# A lock the POST left behind would be taken over after the lease (RS00025),
# or refused after the lock timeout: the GET must get it with neither.
sub lock_is_free {
    my ($id, $what) = @_;
    my $from = error_log_since();
    my $g = hold_get($id);
    ok($g->{code} == 200 && error_log_since($from) !~ /RS00025.*\Q$id\E/,
       "$what: the lock is free afterwards (200, no takeover)");
    put_state($id, encode_state(id => $id, timeout => 30, items => \@items));
    $g->read_body(3);
}

# --- HTTP/2: state first, then the streamed body, then {"s":true} ------------
my $h = h2_open(cookie => COOKIE_NAME . "=$id");
my $f = $h->{first};
is($f->{status}, 200, 'h2 POST: 200') or diag(explain($f));
is($h->{headers}{'content-type'}, 'text/event-stream',
   'h2 POST: Content-Type text/event-stream');
ok($h->{state}, 'h2 POST: a whole state arrives before the client sends its body')
    or diag($f->{error} // $@);
is($h->{state} && $h->{state}{id}, $id, 'h2 POST: the session ID');
ok($h->{state} && !$h->{state}{readonly} && !$h->{state}{new},
   'h2 POST: IsReadOnly 0, IsNewSession 0');
is_deeply($h->{state} && $h->{state}{items}, [[ 'a', '1' ]],
          'h2 POST: the committed items');
is(hexdump($h->{extra}), '',
   'h2 POST: nothing after the state (no newline, no heartbeat) while the '
   . 'body is awaited');
ok(!$f->{ended}, 'h2 POST: the response stays open');
my $end = h2_finish($h, encode_state(id => $id, timeout => 30,
                                     items => \@items),
                    pieces => 3, delay => 0.1);
is($end->{rest}, '{"s":true}',
   'h2 POST: after the streamed body the response ends with {"s":true}')
    or diag(explain($end));
ok($end->{ended} && !defined $end->{reset}, 'h2 POST: the stream ends normally');
my ($ro, $st) = ro_get($id);
is_deeply($st && $st->{items}, \@items, 'h2 POST: the items are committed');
is($st && $st->{timeout}, 30, 'h2 POST: Timeout as sent (30)');
lock_is_free($id, 'h2 POST');

# --- HTTP/2: a state for another session is refused ---------------------------
my $other = new_session();
$h = h2_open(cookie => COOKIE_NAME . "=$id");
is($h->{first}{status}, 200, 'h2 POST (bad body): 200 and the state');
$end = h2_finish($h, encode_state(id => $other, items => [[ 'a', '9' ]]));
like($end->{rest}, qr/\A\{"s":false,"m":"[^"]+"\}\z/,
     'h2 POST with another session\'s ID: {"s":false,"m":"..."}')
    or diag(explain($end));
my $res = eval { $json->decode($end->{rest}) } || {};
ok(JSON::PP::is_bool($res->{s}) && !$res->{s}, '... "s" is JSON false');
like($res->{m} // '', qr/\S/, "... \"m\" says why: '" . ($res->{m} // '') . "'");
ok($end->{ended}, '... and the stream ends');
is_deeply(stored_items($id), \@items, '... the state is unchanged');
is_deeply(stored_items($other), [], '... the other session too');
lock_is_free($id, 'h2 POST refused');

# --- HTTP/2: a new session --------------------------------------------------
$h = h2_open();
is($h->{first}{status}, 200, 'h2 POST without a cookie: 200');
my ($nid) = ($h->{headers}{'set-cookie'} // '') =~ $cookie_re;
ok($nid, 'h2 POST without a cookie: Set-Cookie with a new ID')
    or diag($h->{headers}{'set-cookie'});
$nid //= 'x' x 24;
ok($h->{state} && $h->{state}{new}, 'h2 POST without a cookie: IsNewSession 1');
is($h->{state} && $h->{state}{id}, $nid, '... the ID of the cookie');
is(hexdump($h->{extra}), '', '... nothing after the state');
$end = h2_finish($h, encode_state(id => $nid, items => [[ 'n', '1' ]]));
is($end->{rest}, '{"s":true}', '... the commit succeeds');
is_deeply(stored_items($nid), [[ 'n', '1' ]], '... and the item is stored');

# --- HTTP/1.1: a chunked body streamed after the state ----------------------
my $c = RS::Client->new;
$c->send_request('POST', ENDPOINT, chunked => 1, headers => [
    KEY_HEADER, API_KEY, Cookie => COOKIE_NAME . "=$id",
    'Content-Type' => 'application/octet-stream']);
is($c->read_head(5), 200, 'HTTP/1.1 POST, chunked body not sent yet: 200');
is($c->{headers}{'content-type'}, 'text/event-stream',
   'HTTP/1.1 POST: Content-Type text/event-stream');
$c->read_state(5, 1);
is($c->{state} && $c->{state}{id}, $id, 'HTTP/1.1 POST: the state, first');
is_deeply($c->{state} && $c->{state}{items}, \@items,
          'HTTP/1.1 POST: the committed items');
$c->read_body(0.3);
is(hexdump($c->after_state), '', 'HTTP/1.1 POST: nothing after the state');
ok(!$c->{done}, 'HTTP/1.1 POST: the response stays open');

# while the POST holds the session
{
    # it would wait for ever if it waited for the lock: the POST's body
    # comes only after this
    my ($r, $s) = ro_get($id);
    ok($s, 'while a POST holds the session a read-only GET answers');
    $r = put_state($id, encode_state(id => $id, items => [[ 'p', '1' ]]));
    is($r->code . ' ' . $r->message, '400 Could not find session',
       'a PUT cannot commit a lock a POST holds');
}

my @items2 = ([ 'h1', '"chunked"' ], [ 'a', '3' ]);
my $body = encode_state(id => $id, items => \@items2);
my $half = int(length($body) / 2);
$c->send_body(substr($body, 0, $half));
Time::HiRes::sleep(0.15);
$c->read_body(0.05);
is(hexdump($c->after_state), '',
   'HTTP/1.1 POST: no answer while the body is incomplete');
$c->send_body(substr($body, $half));
$c->send_body;
ok($c->read_body(5), 'HTTP/1.1 POST: the response ends after the body');
is($c->after_state, '{"s":true}', 'HTTP/1.1 POST: ... with {"s":true}');
is_deeply(stored_items($id), \@items2, 'HTTP/1.1 POST: the items are committed');
$c->close;

# --- HTTP/1.1: the body sent at once with the request ------------------------
my @items3 = ([ 'once', 'true' ]);
my $r = send_request(endpoint_request('POST', session => $id,
                                      body => encode_state(id => $id,
                                                           items => \@items3)));
is($r->code, 200, 'HTTP/1.1 POST with the body at once: 200');
my $s = eval { decode_state($r->content, 1) };
is_deeply($s && $s->{items}, \@items2, '... the state before the commit');
is($s && substr($r->content, $s->{length}), '{"s":true}',
   '... then {"s":true}');
is_deeply(stored_items($id), \@items3, '... and the items are committed');
$r = send_request(endpoint_request('POST', session => $id,
                                   body => "\x02garbage"));
$s = eval { decode_state($r->content, 1) };
like($s && substr($r->content, $s->{length}),
     qr/\A\{"s":false,"m":"[^"]+"\}\z/,
     'HTTP/1.1 POST with a malformed body: {"s":false,"m":"..."}');
