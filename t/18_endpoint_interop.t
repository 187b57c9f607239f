# What the real ASP.NET Core client writes and expects (PROTOCOL.md, "Keys
# the client cannot read or write"; issue 8), with bodies shaped exactly
# as it makes them:
#   - a key it cannot serialize comes as an item with a zero-length value
#     AND in the unknown list: the stored value stays; a zero-length value
#     is never stored, and never served (not even one an older version of
#     the module stored);
#   - a key it cannot read is left out of its write-back: removed, unless
#     it is declared as the Apache side's (RemoteSessionKey ... apache,
#     vhost rs_apache_keys). Those are never sent to it, survive its
#     commits, may not be written by it (400), and SessionRequire sees and
#     changes them like any key, type-checked;
#   - the API key in the header the client is configured with
#     (RemoteSessionApiKeyHeader, vhost rs_key_header), which no log format
#     sees.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use File::Spec ();
use HTTP::Request ();
use Time::HiRes ();
use RS::Test qw(:all);
use RS::Require qw(rq_get env_of upd);

plan tests => 8 + 9 + 4 + 4;

sub items {
    my ($id, %o) = @_;
    my (undef, $st) = ro_get($id, %o);
    return $st ? $st->{items} : 'no state';
}

# A writeable GET, then a PUT of $body; the PUT's response.
sub cycle {
    my ($id, $body, %o) = @_;
    my $g = hold_get($id, %o);
    my $r = put_state($id, $body, %o);
    $g->read_body(3);
    $g->close;
    return $r;
}

# --- unknown keys, as the client writes them --------------------------------------
my $id = new_session();
cycle($id, encode_state(id => $id, items => [[ a => '1' ], [ x => '{"k":1}' ]]));
my $r = cycle($id, encode_state(id => $id, items => [[ a => '2' ], [ x => '' ]],
                                unknown => ['x']));
is($r->code, 200, 'a PUT with x zero-length and unknown: 200');
is_deeply(items($id), [[ a => '2' ], [ x => '{"k":1}' ]],
          '... x keeps its stored value');
$r = cycle($id, encode_state(id => $id, items => [[ a => '3' ], [ x => '{"k":1}' ],
                                                  [ y => '' ]],
                             unknown => ['y']));
is_deeply(items($id), [[ a => '3' ], [ x => '{"k":1}' ]],
          'zero-length and unknown with nothing stored: not stored at all');
$r = send_request(endpoint_request('POST', session => $id,
    body => encode_state(id => $id, items => [[ a => '4' ], [ x => '' ]],
                         unknown => ['x'])));
like($r->content, qr/\{"s":true\}\z/, 'the same through POST: {"s":true}');
is_deeply(items($id), [[ a => '4' ], [ x => '{"k":1}' ]],
          '... and x keeps its stored value');
cycle($id, encode_state(id => $id, items => [[ a => '5' ]]));
is_deeply(items($id), [[ a => '5' ]],
          'a key left out (the client could not read it) is removed: '
          . 'declare the Apache side\'s keys');

# a record an older version stored, with a zero-length value in it
{
    my $rec = read_record($id);
    mc_set("remote-session:$id",
           pack_record(lock => 0, kind => 0, renewed => $rec->{renewed},
                       timeout => 20, state => {
                           id => $id, items => [[ a => '5' ], [ z => '' ]] }),
           600);
    is_deeply(items($id), [[ a => '5' ]],
              'a stored zero-length value is not served (read-only GET)');
    my $g = hold_get($id);
    is_deeply($g->{state} && $g->{state}{items}, [[ a => '5' ]],
              '... nor to a writeable GET');
    put_state($id, encode_state(id => $id, items => [[ a => '5' ]]));
    $g->read_body(3);
    $g->close;
}

# --- keys of the Apache side ------------------------------------------------------
my %v = (vhost => 'rs_apache_keys');
my $port = vhost_port('rs_apache_keys');
$r = rq_get('/req/env.cgi' . upd('{"set":{"visits":1,"note":"hi","name":"n"}}'),
            %v);
my $sid = sid_of($r);
ok($sid, 'SessionRequire sets keys of both sides') or diag($r->as_string);
is_deeply(items($sid, port => $port), [[ name => '"n"' ]],
          'the endpoint sends the client only the shared key');
my $g = hold_get($sid, port => $port);
is_deeply($g->{state} && $g->{state}{items}, [[ name => '"n"' ]],
          '... also on a writeable GET');
$r = put_state($sid, encode_state(id => $sid,
                                  items => [[ name => '"m"' ], [ extra => '5' ]]),
               port => $port);
$g->read_body(3);
$g->close;
is($r->code, 200, 'its commit without them: 200 (the registry stays open: '
   . 'extra is accepted)');
my $env = env_of(rq_get('/req/env.cgi', sid => $sid, %v)) || {};
is($env->{REMOTE_SESSION}, '{"name":"m","extra":5,"visits":1,"note":"hi"}',
   '... and the Apache side\'s keys survive it');
$g = hold_get($sid, port => $port);
$r = put_state($sid, encode_state(id => $sid, items => [[ visits => '2' ]]),
               port => $port);
is($r->code, 400, 'a commit writing a key of the Apache side: 400');
like($r->message, qr/visits.*Apache side/, '... naming the key');
$g->close;
$r = rq_get('/req/env.cgi' . upd('{"set":{"visits":"many"}}'), sid => $sid, %v);
is($r->code, 500, 'SessionRequire is type-checked on them (int): 500');
$env = env_of(rq_get('/req/env.cgi' . upd('{"set":{"visits":2}}'),
                     sid => $sid, %v)) || {};
$env = env_of(rq_get('/req/env.cgi', sid => $sid, %v)) || {};
is($env->{REMOTE_SESSION}, '{"name":"m","extra":5,"visits":2,"note":"hi"}',
   '... and changes them like any key');

# --- responses that set the cookie, and member names in the log (issue 11) -----
{
    my ($res) = ro_get(undef);
    my @cc = $res->header('Cache-Control');
    ok($res->header('Set-Cookie') && grep({ /no-cache="Set-Cookie"/ } @cc),
       'a new session\'s answer: Cache-Control no-cache="Set-Cookie"')
        or diag("Cache-Control: @cc");
    # (an empty update stores it, so that the next request finds it)
    my $page = rq_get('/req/env.cgi?update=%7B%7D', %v);
    @cc = $page->header('Cache-Control');
    ok(sid_of($page) && grep({ /no-cache="Set-Cookie"/ } @cc),
       '... a SessionRequire page\'s too') or diag("Cache-Control: @cc");
    $page = rq_get('/req/env.cgi', sid => sid_of($page), %v);
    ok(!grep({ /Set-Cookie/ } $page->header('Cache-Control')),
       '... not an answer that sets no cookie');
    my $from = error_log_since();
    $page = rq_get('/req/env.cgi' . upd("{\"x\\nRS00099: forged\":1}"),
                   sid => $sid, %v);
    my $log = error_log_since($from);
    ok($page->code == 500 && $log =~ /unknown member "x\\+nRS00099: forged"/
       && $log !~ /^RS00099|\nRS00099/,
       'an unknown member name is logged escaped: no forged log line')
        or diag($log);
}

# --- the API key header ----------------------------------------------------------
{
    my $kp = vhost_port('rs_key_header');
    my $log = File::Spec->catfile(t_dir(), 'logs', 'key_header_log');
    my $from = -s $log // 0;
    my $res = send_request(endpoint_request('GET', readonly => 'true',
                                            port => $kp));
    is($res->code, 401, 'RemoteSessionApiKeyHeader: the default header is '
       . 'not the key there (401)');
    $res = send_request(endpoint_request('GET', readonly => 'true',
                                         port => $kp, key => undef,
                                         headers => ['X-Custom-Key', API_KEY]));
    is($res->code, 200, '... the configured one is (200)');
    my @lines;
    for (1 .. 50) {     # mod_log_config writes after the response
        if (open my $fh, '<', $log) {
            seek $fh, $from, 0;
            @lines = <$fh>;
        }
        last if @lines >= 2;
        Time::HiRes::sleep(0.1);
    }
    is(scalar @lines, 2, 'both requests were logged');
    ok(@lines && !grep({ !/custom=-$/ } @lines),
       '... and no log format sees the configured key header')
        or diag(@lines);
}
