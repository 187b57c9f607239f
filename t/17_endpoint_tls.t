# The one-connection POST as the ASP.NET Core client really sends it
# (PROTOCOL.md, "Writeable, one connection"): over https, HTTP/2 chosen by
# TLS ALPN, the client offering h2 alone (t/bin/h2_post.py --tls, Debian's
# python3-h2), to the TLS virtual hosts of t/conf/tls.conf.in.
#   - rs_tls (Protocols h2 http/1.1): every check the h2c POST tests make
#     (t/13): the state first, the lock held while the body is awaited,
#     the commit and {"s":true}, a refused body's {"s":false,"m":...}, a
#     new session (its cookie Secure, as on any HTTPS answer), and a client
#     vanishing mid-body three ways (connection closed, RST_STREAM, GOAWAY)
#     leaves the state as it was and frees the lock.
#   - rs_tls_no_h2 (Protocols http/1.1): the client's ALPN fails, which is
#     why httpd warns about that vhost at startup (RS00071), and only
#     about it.
# Under mpm_prefork (make test's second pass) mod_http2 offers no h2 by
# ALPN at all (AH10034): there the client fails on both vhosts, and httpd
# warns about both; that is what is checked then, and the POST cases run
# in the mpm_event pass.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use File::Spec ();
use JSON::PP ();
use RS::Test qw(:all);
use RS::H2 qw(have_h2 h2_open h2_finish h2_vanish tls_port);

have_h2();
my ($mpm) = server_mpm();
my $prefork = $mpm eq 'prefork';
plan tests => 4 + ($prefork ? 0 : 13 + 6 + 4 + 3 * 4);

my $cookie_re = qr/\AASP\.NET_SessionId=([a-z0-5]{24}); path=\/; HttpOnly; SameSite=Lax; Secure\z/;


# The lock is FREE in memcached; nobody else touches these sessions, so a
# lock left behind would stay HELD until a writer took it over.
sub lock_freed {
    my ($id, $what) = @_;
    my ($rec) = wait_record($id, sub { $_[0]{lock} == LOCK_FREE },
                            LOCK_TIMEOUT);
    ok($rec && $rec->{lock} == LOCK_FREE, "$what: the lock is freed");
}

# --- the startup warning -------------------------------------------------------
{
    my $conf = File::Spec->catfile(t_dir(), 'conf', 'tls.conf');
    open my $fh, '<', $conf or die "$conf: $!";
    my @maps;
    while (<$fh>) {
        push @maps, $. if /^\s*SetHandler\s+remote-session\s*$/;
    }
    my %warned = map { ($_ => 1) } error_log_since(0)
        =~ /RS00071: 'SetHandler remote-session' at \Q$conf\E:(\d+)/g;
    is(scalar @maps, 2, 'tls.conf maps the endpoint on both TLS vhosts');
    my @want = $prefork ? @maps : ($maps[1]);
    is_deeply([ sort keys %warned ], \@want,
              "RS00071 at startup names the mappings without h2 (mpm_$mpm: "
              . "line @want), and only them");
    my $h = h2_open(tls => 1, port => vhost_port('rs_tls_no_h2'));
    like($h->{first}{error} // '', qr/^ALPN/,
         'there the client finds no h2 in ALPN: its POST cannot start')
        or diag(explain($h->{first}));
    waitpid $h->{pid}, 0;
    $h = h2_open(tls => 1);
    if ($prefork) {
        like($h->{first}{error} // '', qr/^ALPN/,
             'under prefork not even Protocols h2 gets the client its h2')
            or diag(explain($h->{first}));
        waitpid $h->{pid}, 0;
        exit 0;
    }
    is($h->{first}{status}, 200, 'with h2 in Protocols the POST starts');
    h2_finish($h, '');
}

# --- state first, the lock held during the body, then {"s":true} ------------------
my $id = new_session();
my @items = ([ 'a', '2' ], [ 'b', '"caf\u00e9"' ], [ 'c', '{"X":1}' ]);
my $h = h2_open(tls => 1, cookie => COOKIE_NAME . "=$id");
my $f = $h->{first};
is($f->{status}, 200, 'TLS h2 POST: 200') or diag(explain($f));
is($h->{headers}{'content-type'}, 'text/event-stream',
   '... Content-Type text/event-stream');
is($h->{state} && $h->{state}{id}, $id,
   '... the whole state arrives before the client sends its body');
ok($h->{state} && !$h->{state}{readonly} && !$h->{state}{new},
   '... IsReadOnly 0, IsNewSession 0');
is(hexdump($h->{extra}), '', '... nothing after it (no newline, no heartbeat)');
ok(!$f->{ended}, '... the response stays open');
is((read_record($id) || {})->{lock}, LOCK_HELD,
   '... and the lock is held while the body is awaited');
my ($ro, $st) = ro_get($id);
ok($st, '... a read-only GET still answers meanwhile');
my $put = put_state($id, encode_state(id => $id, items => [[ 'p', '1' ]]));
is($put->code . ' ' . $put->message, '400 Could not find session',
   '... a PUT cannot commit into the POST\'s lock');
my $end = h2_finish($h, encode_state(id => $id, timeout => 30,
                                     items => \@items),
                    pieces => 3, delay => 0.1);
is($end->{rest}, '{"s":true}', '... after the streamed body: {"s":true}')
    or diag(explain($end));
ok($end->{ended} && !defined $end->{reset}, '... the stream ends normally');
is_deeply(stored_items($id), \@items, '... the items are committed');
lock_freed($id, 'TLS h2 POST');

# --- a refused body ------------------------------------------------------------------
$h = h2_open(tls => 1, cookie => COOKIE_NAME . "=$id");
is($h->{first}{status}, 200, 'TLS h2 POST (bad body): 200 and the state');
$end = h2_finish($h, encode_state(id => new_session(),
                                  items => [[ 'a', '9' ]]));
like($end->{rest}, qr/\A\{"s":false,"m":"[^"]+"\}\z/,
     '... another session\'s ID: {"s":false,"m":"..."}')
    or diag(explain($end));
my $res = eval { JSON::PP->new->decode($end->{rest}) } || {};
ok(JSON::PP::is_bool($res->{s}) && !$res->{s}, '... "s" is JSON false');
ok($end->{ended}, '... and the stream ends');
is_deeply(stored_items($id), \@items, '... the state is unchanged');
lock_freed($id, 'TLS h2 POST refused');

# --- a new session -------------------------------------------------------------------
$h = h2_open(tls => 1);
my ($nid) = ($h->{headers}{'set-cookie'} // '') =~ $cookie_re;
ok($nid, 'TLS h2 POST without a cookie: a new ID, its cookie Secure')
    or diag($h->{headers}{'set-cookie'});
$nid //= 'x' x 24;
ok($h->{state} && $h->{state}{new} && $h->{state}{id} eq $nid,
   '... IsNewSession 1, the ID of the cookie');
$end = h2_finish($h, encode_state(id => $nid, items => [[ 'n', '1' ]]));
is($end->{rest}, '{"s":true}', '... the commit succeeds');
is_deeply(stored_items($nid), [[ 'n', '1' ]], '... and the item is stored');

# --- the client vanishes mid-body ------------------------------------------------------
for my $mode (qw(close reset goaway)) {
    $h = h2_open(tls => 1, cookie => COOKIE_NAME . "=$id");
    my $body = encode_state(id => $id, items => [[ 'v', '"gone"' ]]);
    my $v = h2_vanish($h, substr($body, 0, int(length($body) / 2)), $mode);
    waitpid $h->{pid}, 0;
    is($h->{first}{status}, 200, "vanish by $mode: the POST had its state");
    is($v->{vanished}, $mode, "... then half the body and $mode")
        or diag(explain($v));
    lock_freed($id, "vanish by $mode");
    is_deeply(stored_items($id), \@items, "... the state is unchanged");
}
