# The session endpoint's PUT refusals (PROTOCOL.md, "Writeable, two
# connections", step 4): each message in the reason phrase and as a
# text/plain body, and a refused PUT leaving the lock and the state as they
# were, so that a correct PUT still commits. 413 above RemoteSessionMaxSize
# (vhost rs_small of t/conf/endpoint.conf.in: 1000 bytes).
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use RS::Test qw(:all);
use Time::HiRes ();

use constant NO_ID       => 'No session ID found';
use constant NOT_FOUND   => 'Could not find session';
use constant DESERIALIZE => 'Failed to deserialize session state';
use constant ALREADY     => 'Session has already been updated';

my $id = new_session();
my $other = new_session();
my @setup = ([ 'a', '1' ], [ 'b', '"two"' ]);
my $good = sub {
    my ($sid, @items) = @_;
    return encode_state(id => $sid, items => \@items);
};
my $valid = $good->($id, [ 'c', '3' ]);

# [ what, body ]
my @malformed = (
    [ 'empty body',                 '' ],
    [ 'truncated by one byte',      substr($valid, 0, -1) ],
    [ 'truncated inside a value',   substr($valid, 0, length($valid) - 3) ],
    [ 'only the version byte',      "\x01" ],
    [ 'version 2',                  "\x02" . substr($valid, 1) ],
    [ 'version 0',                  "\x00" . substr($valid, 1) ],
    [ 'one trailing byte',          $valid . "\x00" ],
    [ 'a whole second state after', $valid . $valid ],
    [ 'key not UTF-8 (0xff)',       $good->($id, [ "k\xff", '1' ]) ],
    [ 'key with an overlong UTF-8 sequence', $good->($id, [ "\xc0\xaf", '1' ]) ],
    [ 'key with a UTF-16 surrogate', $good->($id, [ "\xed\xa0\x80", '1' ]) ],
    [ 'IsNewSession byte 2',
      "\x01" . enc_str($id) . "\x02\x00\x00\x14\x00\x00" ],
    [ 'Timeout with a sixth 7-bit byte',
      "\x01" . enc_str($id) . "\x00\x00\x00\x80\x80\x80\x80\x80\x00\x00\x00" ],
    [ 'item count 2, one item',
      "\x01" . enc_str($id) . "\x00\x00\x00\x14\x02" . enc_str('k')
      . enc_str('1') . "\x00" ],
    [ 'session ID of another session', $good->($other, [ 'c', '3' ]) ],
    [ 'session ID empty',           $good->('', [ 'c', '3' ]) ],
    [ 'session ID in upper case',   $good->(uc $id, [ 'c', '3' ]) ],
);

# a held writeable GET and the PUTs (or a pipelined pair of them) at once
need_workers(2);

plan tests => 12 + 5 + 17 + 1 + 5 * @malformed + 6 + 11 + 10;

# refused(sub { request }, status, message, what, session ID):
# sends the request and checks the refusal: status, reason phrase,
# text/plain body, and one line of the module in the error log, naming the
# session when there is one (INTERFACE.md: "every refusal is logged once
# with the session ID").
sub refused {
    my ($send, $status, $msg, $what, $sid) = @_;
    my $from = error_log_since();
    my $r = $send->();
    my $ok = is($r->code, $status, "$what: $status");
    is($r->message, $msg, "$what: reason phrase '$msg'");
    is($r->content, $msg, "$what: body '$msg'");
    like($r->header('Content-Type') // '', qr{\Atext/plain\b},
         "$what: text/plain");
    logged_once($from, $what, $sid);
    diag($r->as_string) unless $ok;
    return $r;
}

sub logged_once {
    my ($from, $what, $sid) = @_;
    my @lines = grep { /\[remote_session:/ } split /\n/, error_log_since($from);
    ok(@lines == 1 && (!defined $sid || $lines[0] =~ /\Q$sid\E/),
       "$what: logged once" . (defined $sid ? ' with the session ID' : ''))
        or diag(@lines ? join("\n", @lines) : 'nothing logged');
}


# --- commit the setup state --------------------------------------------------
{
    my $g = hold_get($id);
    put_state($id, encode_state(id => $id, items => \@setup));
    $g->read_body(3) or BAIL_OUT('setup: the first commit does not work');
}

# --- no session ID -----------------------------------------------------------
refused(sub { send_request(endpoint_request('PUT', body => $valid)) },
        400, NO_ID, 'PUT without a cookie');
# as the framework peer: "No session ID found" only without the cookie
refused(sub { send_request(endpoint_request('PUT', body => $valid,
                                            cookie => COOKIE_NAME . '=' . uc $id)) },
        400, NOT_FOUND, 'PUT with a cookie that is not an ID of ours');
refused(sub { send_request(endpoint_request('PUT', body => $valid,
                                            cookie => COOKIE_NAME . '=')) },
        400, NOT_FOUND, 'PUT with an empty session cookie');
{
    my @k = mc_keys('remote-session:');
    send_request(endpoint_request('PUT', body => $valid));
    is_deeply([mc_keys_added('remote-session:', @k)], [],
              'PUT without a cookie creates no session');
    is_deeply(stored_items($id), \@setup, '... and changes no session');
}

# --- no writeable GET holds the session --------------------------------------
refused(sub { put_state($id, $valid) }, 400, NOT_FOUND,
        'PUT while no writeable GET holds the session', $id);
is_deeply(stored_items($id), \@setup, '... the state is unchanged');
my $unknown = 'abcdefghijklmnopqrstuvwx';
mc_delete("remote-session:$unknown");
refused(sub { put_state($unknown, $good->($unknown, [ 'c', '3' ])) }, 400,
        NOT_FOUND, 'PUT for an ID that names no session', $unknown);
is(scalar mc_get("remote-session:$unknown"), undef,
   '... and no session is created under it');
{
    # after a commit the GET ends and frees the lock: the lock is gone
    my $g = hold_get($id);
    put_state($id, encode_state(id => $id, items => \@setup));
    $g->read_body(3);
    refused(sub { put_state($id, $valid) }, 400, NOT_FOUND,
            'PUT after the held GET ended', $id);
}

# --- malformed bodies while a writeable GET holds the lock -------------------
my $g = hold_get($id);
is($g->{code}, 200, 'a writeable GET holds the session');
for my $case (@malformed) {
    my ($what, $body) = @$case;
    refused(sub { put_state($id, $body) }, 400, DESERIALIZE, "PUT body $what",
            $id);
}
ok(!$g->read_body(0.1), 'after the refused PUTs the GET is still held open');
is_deeply(stored_items($id), \@setup, 'after the refused PUTs: state unchanged');
is_deeply(stored_items($other), [], '... the other session is untouched too');
my $r = put_state($id, $valid);
is($r->code, 200, 'a correct PUT then commits') or diag($r->as_string);
ok($g->read_body(3), '... and the held GET completes');
$g->close;    # a finished response kept alive would hold a prefork child
is_deeply(stored_items($id), [[ 'c', '3' ]], '... with the correct PUT\'s state');

# --- a second PUT on a committed lock ----------------------------------------
# The PUT's commit frees the lock in its own write. As for the .NET peer,
# a second PUT is "already updated" while the committed GET is still open,
# then "not found". A held GET on the PUT's server sees its commit at once
# (shared memory) and ends, so there the window is microseconds: PUT 2,
# pipelined right behind PUT 1, may get either answer, never a commit.
{
    my @second;
    for my $try (1 .. 3) {
        my $g = hold_get($id);
        my $c = RS::Client->new;
        my $req = sub {
            my $b = shift;
            return 'PUT ' . ENDPOINT . " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                . KEY_HEADER . ': ' . API_KEY . "\r\n"
                . 'Cookie: ' . COOKIE_NAME . "=$id\r\n"
                . 'Content-Length: ' . length($b) . "\r\n\r\n" . $b;
        };
        $c->{method} = 'PUT';
        $c->write($req->($good->($id, [ 'v', "\"one-$try\"" ]))
                  . $req->($good->($id, [ 'v', "\"two-$try\"" ])));
        $c->response(3);
        push @second, "$c->{code} $c->{reason}";
        $c->response(3);
        push @second, "$c->{code} $c->{reason}";
        $c->close;
        $g->read_body(3);
        $g->close;
    }
    is_deeply([@second[map { 2 * $_ + 1 } 0 .. 2]],
              [grep { /^400 (?:\Q${\ALREADY}\E|\Q${\NOT_FOUND}\E)$/ }
                    @second[map { 2 * $_ + 1 } 0 .. 2]],
              'pipelined PUT 2 is always refused (never a second commit)')
        or diag(join "\n", @second);
    is_deeply(stored_items($id), [[ 'v', '"one-3"' ]], '... the state is PUT 1\'s');
}

# Where the GET is held on another server (a farm), the PUT's server keeps
# the mark: there PUT 2 is "already updated"; the GET's server, which has
# seen the commit when the GET ended, answers "not found".
{
    my $h2 = start_httpd(name => 'put2');
    my $g = hold_get($id, port => $h2->{port});
    my $p1 = put_state($id, $good->($id, [ 'v', '"far-1"' ]));
    is($p1->code, 200, 'GET held on server 2, PUT 1 on the suite server: 200');
    my $from = error_log_since();
    refused(sub { put_state($id, $good->($id, [ 'v', '"far-2"' ])) }, 400,
            ALREADY, 'PUT 2 on the suite server', $id);
    is($g->finish(5), 'end', "server 2's held GET ends");
    my $p3 = put_state($id, $good->($id, [ 'v', '"far-3"' ]),
                       port => $h2->{port});
    is($p3->code . ' ' . $p3->message, '400 ' . NOT_FOUND,
       'PUT 3 on server 2, after its GET ended: not found');
    is_deeply(stored_items($id), [[ 'v', '"far-1"' ]], 'the state is PUT 1\'s');
    $g->close;
    stop_httpd($h2);
}

# --- 413 above RemoteSessionMaxSize (vhost rs_small: 1000 bytes) -------------
{
    my $port = vhost_port('rs_small');
    my $sid = new_session(port => $port);
    my $sized = sub {    # a valid state of exactly $n bytes
        my $n = shift;
        my $base = length $good->($sid, [ 'big', '""' ]);
        my $fill = $n - $base;
        $fill-- while length($good->($sid, [ 'big', '"' . ('x' x $fill) . '"' ]))
                      > $n;
        return $good->($sid, [ 'big', '"' . ('x' x $fill) . '"' ]);
    };
    my $b1000 = $sized->(1000);
    my $b1001 = $sized->(1001);
    is(length($b1000) . '/' . length($b1001), '1000/1001',
       'test bodies of 1000 and 1001 bytes');

    my $g = hold_get($sid, port => $port);
    is($g->{code}, 200, 'rs_small: a writeable GET holds the session');
    my $from = error_log_since();
    my $r = put_state($sid, $b1001, port => $port);
    is($r->code, 413, 'PUT of 1001 bytes with RemoteSessionMaxSize 1000: 413');
    logged_once($from, 'PUT of 1001 bytes', $sid);
    ok(!$g->read_body(0.1), '... the GET is still held open');
    is_deeply(stored_items($sid, port => $port), [], '... the state is unchanged');
    $r = put_state($sid, $b1000, port => $port);
    is($r->code, 200, 'PUT of exactly 1000 bytes: 200') or diag($r->as_string);
    ok($g->read_body(3), '... the held GET completes');
    $g->close;
    my $items = stored_items($sid, port => $port);
    is_deeply($items, decode_state($b1000)->{items},
              '... and the large value is stored');

    # the main server (default 1000000) takes the same 1001 bytes
    $g = hold_get($sid);
    $r = put_state($sid, $b1001);
    is($r->code, 200, 'the main server (default RemoteSessionMaxSize) takes '
       . '1001 bytes');
    $g->read_body(3);
}
