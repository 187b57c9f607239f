# Hostile updates under SessionRequire On (issue 5, "Hostile input"): a CGI
# (t/cgi-bin/hostile_update.cgi at /req/, which prints the header lines the
# test stored in t/logs/hostile_payload/<name>) answers with malformed
# X-Remote-Session-Update headers: invalid JSON, deep nesting, huge strings,
# wrong member types, unknown members, non-object JSON, null, an empty
# header. Each must give 500, change nothing (the stored state bytes are
# those before the request, and the lock is free again), and leave exactly
# one RS00041 line (naming the session) in the error log; no child crashes.
#
# httpd reads a CGI's header lines into an 8 KB buffer: a line of at most
# 8189 bytes (plus CRLF) reaches the module; a longer line makes httpd
# itself refuse the script's output (500, "End of script output before
# headers" from mod_cgid / "malformed header" from mod_cgi) before the
# module sees any update: 500, nothing changed, no RS00041. Deeper nesting
# than a single line can carry (10,000 arrays) is sent over several header
# lines, which httpd folds into one value.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use RS::Test qw(mc_get error_log_since t_dir need_workers
                item_of
                log_crashes
                new_session read_state endpoint_cycle);
use File::Path ();
use File::Spec ();
use Time::HiRes ();

my $port = Apache::Test::vars('port');
my $H = 'X-Remote-Session-Update';
my $LINE_MAX = 8189;    # longest CGI header line httpd passes on (no CRLF)
my $payload_dir = File::Spec->catdir(t_dir(), 'logs', 'hostile_payload');
File::Path::make_path($payload_dir);
chmod 0755, $payload_dir;
my $log_from = error_log_since();

# a header line "X-Remote-Session-Update: <pre><fill x n><post>" of exactly
# $len bytes (CRLF not counted)
sub line_of {
    my ($len, $pre, $fill, $post) = @_;
    my $n = $len - length("$H: $pre$post");
    die "line_of: $len too short\n" if $n < 0;
    my $body = $fill x (1 + int($n / length $fill));
    return "$H: $pre" . substr($body, 0, $n) . $post;
}
sub h { join '', map { "$H: $_\r\n" } @_ }

# [ what, header lines ]: each must be refused by the module
my @refused = (
    # invalid JSON
    ['unclosed object',               h('{')],
    ['member without a value',        h('{"set":}')],
    ['set not closed',                h('{"set":{"a":1}')],
    ['single quotes',                 h("{'set':{'a':1}}")],
    ['leading zero',                  h('{"set":{"a":01}}')],
    ['trailing garbage',              h('{"set":{"a":1}} x')],
    ['one brace too many',            h('{"set":{"a":1}}}')],
    ['bare word',                     h('set')],
    ['invalid UTF-8 in a value',      h(qq({"set":{"a":"\xff"}}))],
    ['invalid UTF-8 in a key',        h(qq({"set":{"\xc0\xaf":1}}))],
    ['a lone surrogate escape',       h('{"set":{"a":"\ud800"}}')],
    ['a number beyond a double',      h('{"set":{"a":1e400}}')],
    ['a comment',                     h('{"set":{"a":1}/* x */}')],
    ['NaN',                           h('{"set":{"a":NaN}}')],
    ['junk after a value',            h('{"set":{"a":1 2}}')],
    ['a trailing comma in "set"',     h('{"set":{"a":1,}}')],
    ['a comma after the update',      h('{"set":{"n":2}},')],
    ['a half-written second update',  h('{"set":{"n":2}} {"set"')],
    # deep nesting
    ['4000 nested arrays (the deepest balanced nesting one line holds)',
     h('{"set":{"k":' . ('[' x 4000) . (']' x 4000) . '}}')],
    ['8000 open arrays in one line',  h('{"set":{"k":' . ('[' x 8000))],
    ['10,000 nested arrays over two folded header lines',
     h('{"set":{"k":' . ('[' x 5000), ('[' x 5000) . (']' x 3000))],
    ['4000 nested objects over two lines',
     h('{"set":{"k":' . ('{"a":' x 1600), ('{"a":' x 1600) . '1')],
    ['4000 nested arrays as the update itself', h(('[' x 4000) . (']' x 4000))],
    ['4000 nested arrays in "remove"',
     h('{"remove":' . ('[' x 4000) . (']' x 4000) . '}')],
    # huge strings (at the line limit)
    ['a huge string never closed',
     line_of($LINE_MAX, '{"set":{"k":"', 'x', '') . "\r\n"],
    ['a huge string as "timeout"',
     line_of($LINE_MAX, '{"timeout":"', '9', '"}') . "\r\n"],
    ['a huge string as "remove"',
     line_of($LINE_MAX, '{"remove":"', 'k', '"}') . "\r\n"],
    ['a huge unknown member name',
     line_of($LINE_MAX, '{"', 'm', '":1}') . "\r\n"],
    ['a huge run of escapes, never closed',
     line_of($LINE_MAX, '{"set":{"k":"', '\\u00e9', '') . "\r\n"],
    ['a huge number',
     line_of($LINE_MAX, '{"timeout":', '9', '}') . "\r\n"],
    # wrong member types
    (map { ["wrong type: $_", h($_)] }
         '{"set":[]}', '{"set":"a"}', '{"set":null}', '{"set":1}',
         '{"remove":"a"}', '{"remove":[1]}', '{"remove":{}}',
         '{"remove":[null]}', '{"remove":null}',
         '{"clear":1}', '{"clear":"true"}', '{"clear":null}',
         '{"abandon":"yes"}', '{"abandon":null}', '{"abandon":1}',
         '{"timeout":"30"}', '{"timeout":0}', '{"timeout":-1}',
         '{"timeout":525601}', '{"timeout":1.5}', '{"timeout":1e3}',
         '{"timeout":true}', '{"timeout":null}',
         '{"timeout":99999999999999999999}'),
    # unknown members
    (map { ["unknown member: $_", h($_)] }
         '{"sett":{}}', '{"Set":{"a":1}}', '{"set":{"a":1},"extra":1}',
         '{"":1}', '{"SET":{}}', '{" set":{}}', '{"set ":{}}',
         # a known name, a NUL, more: still an unknown member (a compare
         # that stops at the NUL would take it for the known one)
         '{"set\u0000":{"n":2}}', '{"set\u0000x":{"n":2}}',
         '{"clear\u0000":true}', '{"remove\u0000":["keep"]}',
         '{"abandon\u0000":true}', '{"timeout\u0000":30}'),
    # not an object
    (map { ["not an object: $_", h($_)] }
         '[]', '[{"set":{"a":1}}]', '"str"', '42', 'true', 'null', '[null]'),
    ['an empty header',               "$H:\r\n"],
    ['a header of spaces',            "$H:      \r\n"],
    ['a header of commas',            h(', , ,')],
    # a valid update and an invalid one: nothing of either is stored
    ['valid then invalid, one header', h('{"set":{"n":2}}, {')],
    ['valid then invalid, two headers', h('{"set":{"n":2}}', '{"set":')],
    ['valid then unknown member',     h('{"set":{"n":2}}', '{"bogus":1}')],
    ['abandon then garbage',          h('{"abandon":true}', 'x')],
);

# [ what, header lines ]: over httpd's CGI line limit (refused by httpd)
my @too_long = (
    ['a valid update one byte over the line limit',
     line_of($LINE_MAX + 1, '{"set":{"k":"', 'x', '"}}') . "\r\n"],
    ['a valid update 100 bytes over',
     line_of($LINE_MAX + 100, '{"set":{"k":"', 'x', '"}}') . "\r\n"],
    ['a 64 KB header line',
     line_of(65536, '{"set":{"k":"', 'x', '"}}') . "\r\n"],
    ['a 10,000-deep nesting in one line',
     h('{"set":{"k":' . ('[' x 10000) . (']' x 10000) . '}}')],
);

# at most at once: the kept-alive connection $c (under prefork it keeps its
# process), and endpoint_cycle's held GET and PUT
need_workers(3);

plan tests => 4 * @refused + 4 * @too_long + 8 + 3;

my $c = RS::Client->new(port => $port);

# Each case gets a session of its own holding two items, so that one case
# cannot spoil the next: ($id, the stored state bytes).
my ($id, $before);
sub fresh_session {
    $id = new_session(port => $port);
    my $r = endpoint_cycle($port, $id, sub {
        +{ %{ $_[0] }, items => [['keep', '"me"'], ['n', '1']] };
    });
    die "setup commit failed: " . explain($r) unless ($r->{put} // 0) == 200;
    $before = substr(mc_get("remote-session:$id") // die("no record\n"), 33);
}

my $seq = 0;
sub run_cgi {
    my ($sid, $lines) = @_;
    my $name = sprintf 'p%d-%d', $$, ++$seq;
    my $file = "$payload_dir/$name";
    open my $fh, '>:raw', $file or die "$file: $!\n";
    print $fh $lines;
    close $fh;
    chmod 0644, $file;
    my $from = error_log_since();
    my $r = $c->request('GET', "/req/hostile_update.cgi?f=$name",
                        cookie => $sid);
    unlink $file;
    return ($r, error_log_since($from));
}

# unchanged($what, $response, $log, $want_rs00041): the common checks
sub unchanged {
    my ($what, $r, $log, $want41) = @_;
    is($r->{code}, 500, "$what: 500");
    # A refused request frees its lock in a cleanup of the request pool,
    # which runs just after the answer went out: wait a little for it.
    my $rec;
    my $until = Time::HiRes::time() + 1.5;
    do {
        $rec = mc_get("remote-session:$id") // '';
    } while (length $rec > 3 && ord(substr $rec, 3, 1) != 0
             && Time::HiRes::time() < $until && Time::HiRes::sleep(0.01));
    ok(length $rec > 33 && substr($rec, 33) eq $before
       && ord(substr $rec, 3, 1) == 0,
       "$what: state unchanged, lock free (within 1.5 s)")
        or diag('lock ' . (length $rec > 3 ? ord(substr $rec, 3, 1) : '?'));
    my @l41 = grep { /RS00041/ } split /\n/, $log;
    if ($want41) {
        ok(@l41 == 1 && $l41[0] =~ /\Q$id\E/,
           "$what: one RS00041 line, naming the session")
            or diag(scalar(@l41) . " RS00041 lines:\n" . join "\n", @l41);
    }
    else {
        ok(!@l41, "$what: no RS00041 line (the module saw no update)")
            or diag(join "\n", @l41);
    }
    ok($r->{body} !~ /REMOTE_SESSION|id=|session=/,
       "$what: the CGI's output does not reach the client");
}

for my $case (@refused) {
    my ($what, $lines) = @$case;
    fresh_session();
    my ($r, $log) = run_cgi($id, $lines);
    unchanged($what, $r, $log, 1);
}
for my $case (@too_long) {
    my ($what, $lines) = @$case;
    fresh_session();
    my ($r, $log) = run_cgi($id, $lines);
    unchanged("$what (" . length($lines) . ' bytes)', $r, $log, 0);
}

# the contrast: at the limit a valid update is taken whole; a valid deep
# nesting (below Jansson's depth limit of 2048) is stored; then an update
# still commits on the session the last refusal was made on (8)
{
    my $other = new_session(port => $port);
    my $line = line_of($LINE_MAX, '{"set":{"k":"', 'x', '"}}');
    my ($r) = run_cgi($other, "$line\r\n");
    is($r->{code}, 200, "a valid update in a header line of exactly $LINE_MAX "
       . 'bytes: 200');
    my ($st) = read_state($port, $other);
    my $want = $line =~ /("x+")/ ? $1 : '?';
    ok($st && (item_of($st, 'k') // '') eq $want,
       '... and its ' . (length($want) - 2) . '-character string is stored whole');

    my $deep = ('[' x 2000) . (']' x 2000);
    ($r) = run_cgi($other, h(qq({"set":{"deep":$deep}})));
    is($r->{code}, 200, 'a valid value nested 2000 deep: 200');
    ($st) = read_state($port, $other);
    is(item_of($st, 'deep') // '', $deep, '... stored as sent');
    ($r) = run_cgi($other, '');
    like($r->{body} // '', qr/^session=\{.*"deep":\[\[\[/m,
         '... and handed to the next request in REMOTE_SESSION');

    my $t0 = time;
    ($r) = run_cgi($id, h('{"set":{"n":3}}'));
    is($r->{code}, 200, 'after all refusals, a valid update on the same '
       . 'session: 200');
    ($st) = read_state($port, $id);
    is(item_of($st, 'n'), '3', '... and it is stored');
    is_deeply([map { $_->[0] } @{ $st->{items} }], ['keep', 'n'],
              '... next to the untouched item');
}

# no crash, nothing but RS00041 and the script errors from the module (3)
{
    my $log = error_log_since($log_from);
    my @crash = log_crashes($log);
    ok(!@crash, 'no child crashed') or diag(join "\n", @crash);
    my @rs = grep { /\[remote_session:(?:error|crit|alert|emerg)\]/
                    && !/RS00041/ } split /\n/, $log;
    ok(!@rs, 'no module error other than RS00041') or diag(join "\n", @rs);
    my @scripts = grep { /\[cgid?:error\].*hostile_update\.cgi/ } split /\n/, $log;
    is(scalar @scripts, scalar @too_long,
       'httpd logged one script error per over-long header line')
        or diag(join "\n", @scripts);
}
