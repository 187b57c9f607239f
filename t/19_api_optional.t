# The optional functions of include/mod_remote_session.h, called by another
# module (t/c-modules/rs_api): they see the request's session, validate at
# once, and commit with the response, like X-Remote-Session-Update.
use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use RS::Test qw(:all);
use URI::Escape qw(uri_escape);

plan tests => 20, need_module 'rs_api';

sub api {
    my ($path, $id, %q) = @_;
    my $qs = join '&', map { "$_=" . uri_escape($q{$_}) } sort keys %q;
    my $r = GET("$path?$qs", ($id ? (Cookie => COOKIE_NAME . "=$id") : ()));
    my $body = $r->content;
    chomp $body;
    return ($r, $body);
}

sub items {
    my (undef, $st) = ro_get($_[0]);
    return { map { $_->[0] => $_->[1] } @{ $st ? $st->{items} : [] } };
}

my $id = new_session();
my $st;

my ($r, $b) = api('/rs_api', $id, op => 'id');
is($b, $id, 'remote_session_id: the request\'s session');

($r, $b) = api('/rs_api', $id, op => 'set', key => 'cart',
               json => '{"Items":3, "Price":0.10}');
is($b, 'ok', 'remote_session_set: a JSON object');
is(items($id)->{cart}, '{"Items":3, "Price":0.10}',
   '... committed with the response, bytes as given');

($r, $b) = api('/rs_api', $id, op => 'get', key => 'cart');
is($b, '{"Items":3, "Price":0.10}', 'remote_session_get: the stored bytes');

($r, $b) = api('/rs_api', $id, op => 'get', key => 'nope');
is($b, '(unset)', 'remote_session_get: NULL for an unset key');

($r, $b) = api('/rs_api', $id, op => 'set', key => 'bad', json => '{"a":');
like($b, qr/^error: .*invalid JSON/, 'remote_session_set: invalid JSON refused');
($r, $b) = api('/rs_api', $id, op => 'set', key => 'empty', json => '');
like($b, qr/^error: /, 'remote_session_set: an empty value refused');
ok(!exists items($id)->{bad} && !exists items($id)->{empty},
   '... and nothing of them stored');

($r, $b) = api('/rs_api', $id, op => 'remove', key => 'cart');
is($b, 'ok', 'remote_session_remove');
ok(!exists items($id)->{cart}, '... committed: the key is gone');

($r, $b) = api('/rs_api_ro', $id, op => 'set', key => 'x', json => '1');
like($b, qr/^error: .*read-only/, 'under SessionRequire ReadOnly: set refused');
($r, $b) = api('/rs_api_ro', $id, op => 'get', key => 'x');
is($b, '(unset)', '... and get works there');

($r, $b) = api('/rs_api_none', $id, op => 'set', key => 'x', json => '1');
like($b, qr/^error: no session/, 'without SessionRequire: no session to set');
($r, $b) = api('/rs_api_none', $id, op => 'id');
is($b, '(none)', 'without SessionRequire: remote_session_id is NULL');
ok(!exists items($id)->{x}, 'no refused set reached the store');

# a key that is not UTF-8 would make the stored record undecodable
($r, $b) = api('/rs_api', $id, op => 'set', key => "bad\xff", json => '1');
like($b, qr/^error: .*not UTF-8/, 'remote_session_set: a key that is not '
     . 'UTF-8 is refused');
($r, $b) = api('/rs_api', $id, op => 'remove', key => "bad\xff");
like($b, qr/^error: .*not UTF-8/, 'remote_session_remove: likewise');
($r, $st) = ro_get($id);
is($r->code, 200, '... and the session still reads');

# changes made in subrequests that are destroyed before the main response
# commits (PHP virtual(), mod_lua): kept, byte for byte
($r, $b) = api('/rs_api', $id, op => 'sub');
is($b, 'ok', 'two subrequests set a key each');
my $it = items($id);
is(join(' ', map { $it->{$_} // '(unset)' } qw(sub1 sub2)),
   '"the-first-subrequest-value" "the-second-subrequest-value"',
   '... both committed with the main response, intact');
