# SessionRequire On through internal redirects and subrequests: DirectoryIndex
# (a CGI index and a static one), ErrorDocument to a CGI under On, a
# per-directory mod_rewrite rule (an internal redirect) and an SSI page that
# includes a CGI under On. None deadlocks on the lock the main request holds
# (the expected status, not the 503 of RemoteSessionLockTimeout, and no
# RS00026 "lock not obtained" or RS00025 takeover logged for the session),
# the inner request sees the same session, one session is made when there
# was none (stored only once something is written), updates of the inner
# request are applied, and the lock is free
# afterwards (the lock record is FREE right after the response: the update
# filter commits or frees it before the first byte leaves). Times are only
# reported (diag).
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use File::Spec ();
use RS::Test qw(:all);
use RS::Require qw(:all);

plan tests => 85;

my $moddir = Apache::Test::vars('rs_modulesdir')
          || Apache::Test::config()->apxs('LIBEXECDIR');
# Debian's apache2 ships it: without it the SSI cases cannot run at all
die "mod_include.so is not in $moddir\n"
    unless -e File::Spec->catfile($moddir, 'mod_include.so');

# The session ID the inner request saw: from the CGI's JSON, or from the
# X-Rq-Sid header t/htdocs/req sets from REMOTE_SESSION_ID, or SSI's echo.
sub inner_sid {
    my ($r, $how) = @_;
    return (env_of($r) || {})->{REMOTE_SESSION_ID} if $how eq 'cgi';
    return $r->header('X-Rq-Sid') if $how eq 'header';
    return $r->content =~ /^SID=(\S*)/m ? $1 : undef if $how eq 'ssi';
}

# Error log lines since $mark about session $sid that show a request
# waiting on its lock: RS00026 (not obtained within RemoteSessionLockTimeout)
# or RS00025 (taken over after the lease).
sub lock_waits {
    my ($mark, $sid) = @_;
    return '(no session)' unless defined $sid;
    return grep { /\bRS0002[56]\b/ && /session \Q$sid\E\b/ }
           split /\n/, error_log_since($mark);
}

# no_deadlock($r, $code, $sid, $mark, $what): the expected status and no
# lock wait logged for the session since $mark.
sub no_deadlock {
    my ($r, $code, $sid, $mark, $what) = @_;
    my @w = lock_waits($mark, $sid);
    diag(sprintf '%s: answered %d in %.3f s', $what, $r->code, timed($r));
    ok($r->code == $code && !@w,
       "$what: no deadlock ($code, no lock wait or takeover logged)")
        or diag($r->code . ' after ' . timed($r) . " s\n" . join "\n", @w);
}

# lock_free($rec, $sid, $mark, $what[, $next]): $rec, read right after a
# response for session $sid, is FREE; the next On request ($next, or one made
# now) gets the session with no lock wait or takeover logged since $mark.
sub lock_free {
    my ($rec, $sid, $mark, $what, $r) = @_;
    $r //= rq_get('/req/env.cgi', sid => $sid);
    my @w = lock_waits($mark, $sid);
    diag(sprintf '%s: the next On request answered in %.3f s', $what, timed($r));
    ok($rec && $rec->{lock} == LOCK_FREE && $r->code == 200 && !@w,
       "$what: the lock is free right after the response, the next On "
       . "request gets the session")
        or diag(($rec ? "lock $rec->{lock}" : 'no record') . '; next: '
                . $r->code . "\n" . join "\n", @w);
}

my @cases = (
    ['DirectoryIndex, a CGI',         '/rq/idx-cgi/',         200, 'cgi'],
    ['DirectoryIndex, a static file', '/rq/idx-static/',      200, 'header'],
    ['ErrorDocument 404 to a CGI under On', '/rq/err/missing', 404, 'cgi'],
    ['mod_rewrite internal redirect to a CGI under On', '/rq/rw/go', 200, 'cgi'],
    ['SSI include virtual of a CGI under On', '/rq/ssi/page.shtml', 200, 'ssi'],
);

for my $case (@cases) {
    my ($what, $path, $code, $how) = @$case;
    {

        # without a cookie: one session is created, the inner request has it
        my $mark = log_mark();
        my $r = rq_get($path);
        my $sid = sid_of($r);
        my $rec = defined $sid ? read_record($sid) : undef;
        is($r->code, $code, "$what, new session: $code") or diag($r->as_string);
        no_deadlock($r, $code, $sid, $mark, "$what, new session");
        my @c = grep { /^ASP\.NET_SessionId=/ } set_cookies($r);
        is(scalar @c, 1, "$what, new session: exactly one Set-Cookie")
            or diag(join "\n", @c);
        is(inner_sid($r, $how), $sid, "$what, new session: the inner request sees it");
        # nothing was written: nothing stored, no lock left (issue 11, item 8)
        ok(defined $sid && !$rec && !lock_waits($mark, $sid),
           "$what, new session: nothing stored, no lock left");

        # with the cookie of a stored session
        $sid = rq_new_session();
        $mark = log_mark();
        $r = rq_get($path, sid => $sid);
        $rec = defined $sid ? read_record($sid) : undef;
        is($r->code, $code, "$what: $code");
        no_deadlock($r, $code, $sid, $mark, $what);
        is(inner_sid($r, $how), $sid, "$what: the inner request sees the same REMOTE_SESSION_ID");
        ok(!defined cookie_line($r), "$what: no new cookie");
        lock_free($rec, $sid, $mark, $what);

        if ($how eq 'ssi') {
            my ($json) = $r->content =~ /^(\{.*\})\s*$/m;
            my $e = $json ? json_text($json) : {};
            is($e->{REMOTE_SESSION_ID}, $sid, "$what: the included CGI sees the same REMOTE_SESSION_ID");
            is($e->{REMOTE_SESSION_NEW}, '0', "$what: the included CGI sees REMOTE_SESSION_NEW 0");
            is($e->{REMOTE_SESSION}, '{}', "$what: the included CGI sees REMOTE_SESSION");
            # the included CGI was created by the main request: NEW 1 there too
            my $r2 = rq_get($path);
            my ($json2) = $r2->content =~ /^(\{.*\})\s*$/m;
            my $e2 = $json2 ? json_text($json2) : {};
            is($e2->{REMOTE_SESSION_ID}, sid_of($r2), "$what, new session: the included CGI sees it");
            is($e2->{REMOTE_SESSION_NEW}, '1', "$what, new session: the included CGI sees REMOTE_SESSION_NEW 1");
        }
    }
}

# updates sent by the inner request are applied and do not leak
for my $case (['DirectoryIndex, a CGI', '/rq/idx-cgi/'],
              ['mod_rewrite internal redirect', '/rq/rw/go']) {
    my ($what, $path) = @$case;
    my $mark = log_mark();
    my $r = rq_get($path . upd(qq({"set":{"via":"$path"}})));
    my $sid = sid_of($r);
    my $rec = defined $sid ? read_record($sid) : undef;
    is($r->code, 200, "$what, with an update: 200") or diag($r->as_string);
    ok(!defined $r->header('X-Remote-Session-Update'),
       "$what: the update header does not reach the client");
    my $next = rq_get('/req/env.cgi', sid => $sid);
    is((env_of($next) || {})->{REMOTE_SESSION}, qq({"via":"$path"}),
       "$what: the inner request's update was applied");
    lock_free($rec, $sid, $mark, "$what, with an update", $next);
}

# an update from a subrequest: an SSI page including a CGI under On that
# sends one, before any of the page went out. It must not vanish silently:
# applied (the main request has not answered yet), or refused and logged.
{
    my $sid = rq_new_session();
    my $mark = log_mark();
    my $r = rq_get('/rq/ssi/update.shtml', sid => $sid);
    ok($r->code == 200 || $r->code == 500, 'SSI include of a CGI with an update: 200 or 500')
        or diag($r->as_string);
    ok(!defined $r->header('X-Remote-Session-Update'),
       'SSI include of a CGI with an update: the header does not reach the client');
    my $text = (env_of(rq_get('/req/env.cgi', sid => $sid)) || {})->{REMOTE_SESSION} // '';
    my $logged = count_rs(log_since($mark), 'RS00041');
    ok($text eq '{"ssi":1}' || $logged,
       'SSI include of a CGI with an update: applied, or refused with an error logged '
       . '(not dropped silently; BUGS.txt 4)')
        or diag("REMOTE_SESSION after: $text; RS00041 lines: $logged");
}

# a CGI that sends an update with a redirect: a local Location (httpd
# redirects internally), a URL (httpd answers 302), Status 303 + Location
for my $case (['a CGI\'s local Location (internal redirect)', 'to=/req/env.cgi', 200],
              ['a CGI\'s Location URL (302)', 'to=http://127.0.0.1/elsewhere', 302],
              ['a CGI\'s Status 303 + Location', 'to=http://127.0.0.1/elsewhere&status=303', 303]) {
    my ($what, $q, $code) = @$case;
    my $mark = log_mark();
    my $r = rq_get("/req/req_redirect.cgi?$q&" . substr(upd('{"set":{"r":1}}'), 1));
    my $sid = sid_of($r);
    my $rec = defined $sid ? read_record($sid) : undef;
    is($r->code, $code, "$what, new session, with an update: $code") or diag($r->as_string);
    no_deadlock($r, $code, $sid, $mark, $what);
    my @c = grep { /^ASP\.NET_SessionId=/ } set_cookies($r);
    is(scalar @c, 1, "$what: one Set-Cookie");
    is((env_of($r) || {})->{REMOTE_SESSION_ID}, $sid, "$what: the redirect's target sees the session")
        if $code == 200;
    ok(!defined $r->header('X-Remote-Session-Update'),
       "$what: the update header does not reach the client");
    my $next = rq_get('/req/env.cgi', sid => $sid);
    is((env_of($next) || {})->{REMOTE_SESSION}, '{"r":1}', "$what: the update was applied");
    lock_free($rec, $sid, $mark, $what, $next);
}
