# SessionRequire merges per directory as admins expect: an inner <Directory>
# or <Location> with Off or ReadOnly inside an outer On wins, a <Location>
# wins over a <Directory>, and .htaccess may say SessionRequire where
# AllowOverride FileInfo allows it (ignored under None, 500 under
# AuthConfig). The pages are static; t/htdocs/req reports the request's
# REMOTE_SESSION_ID / _READONLY in X-Rq-Sid / X-Rq-Ro response headers.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use RS::Test qw(:all);
use RS::Require qw(:all);

plan tests => 66;

my $sid = rq_new_session();

# what($path): [code, session? (cookie or X-Rq-Sid), readonly, new cookie?]
sub check {
    my ($what, $path, $expect) = @_;
    # without a cookie
    my $r = rq_get($path);
    my $code = $expect eq 'forbidden' ? 500 : 200;
    is($r->code, $code, "$what: $code") or diag($r->as_string);
    return if $code != 200;
    my $rsid = $r->header('X-Rq-Sid') // '';
    if ($expect eq 'off') {
        ok(!defined cookie_line($r), "$what: Off, no cookie");
        unlike($rsid, ID_RE, "$what: Off, no REMOTE_SESSION_ID");
    }
    else {
        my $new = sid_of($r);
        like($new // '', ID_RE, "$what: a new session's cookie");
        is($rsid, $new, "$what: REMOTE_SESSION_ID is that session");
        is($r->header('X-Rq-Ro'), $expect eq 'ro' ? '1' : '0',
           "$what: REMOTE_SESSION_READONLY " . ($expect eq 'ro' ? '1' : '0'));
    }
    # with the cookie
    $r = rq_get($path, sid => $sid);
    $rsid = $r->header('X-Rq-Sid') // '';
    if ($expect eq 'off') {
        unlike($rsid, ID_RE, "$what, with a cookie: no REMOTE_SESSION_ID");
    }
    else {
        is($rsid, $sid, "$what, with a cookie: the cookie's session");
    }
}

check('<Directory> On',                       '/rq/dm/page.html',         'on');
check('<Directory> Off inside an On one',      '/rq/dm/off/page.html',     'off');
check('<Directory> ReadOnly inside an On one', '/rq/dm/ro/page.html',      'ro');
check('<Location> On over a <Directory> Off',  '/rq/dm/off/loc-on.html',   'on');
check('<Directory> without SessionRequire inside an On one (inherits)',
      '/rq/dm/inherit/page.html', 'on');
check('<Location> On',                        '/rq/lm/page.html',         'on');
check('<Location> without SessionRequire after an On one (inherits)',
      '/rq/lm/inherit/page.html', 'on');
check('<Location> Off after an On one',        '/rq/lm/off/page.html',     'off');
check('<Location> ReadOnly after an On one',   '/rq/lm/ro/page.html',      'ro');
check('.htaccess On under AllowOverride FileInfo', '/rq/ht-fi/page.html',  'on');
check('.htaccess Off inside a <Directory> On (FileInfo)', '/rq/ht-fi-off/page.html', 'off');
check('.htaccess with other FileInfo directives inside a <Directory> On (inherits)',
      '/rq/ht-fi-other/page.html', 'on');
check('.htaccess On under AllowOverride None (ignored)', '/rq/ht-none/page.html', 'off');

my $mark = log_mark();
check('.htaccess On under AllowOverride AuthConfig', '/rq/ht-auth/page.html', 'forbidden');
like(log_since($mark), qr/SessionRequire not allowed here/,
     '.htaccess under AuthConfig: the log says "SessionRequire not allowed here"');

# a ReadOnly inner location does not wait on the lock an On request would
my $hold = hold_get($sid, timeout => 10);
is($hold->{code}, 200, 'the endpoint holds the session\'s lock');
my $r = rq_get('/rq/dm/ro/page.html', sid => $sid);
ok($r->code == 200 && timed($r) < 1, 'inner ReadOnly: answers at once while the lock is held')
    or diag($r->code . ' after ' . timed($r));
$r = rq_get('/rq/dm/off/page.html', sid => $sid);
ok($r->code == 200 && timed($r) < 1, 'inner Off: answers at once while the lock is held')
    or diag($r->code . ' after ' . timed($r));
$hold->close;
