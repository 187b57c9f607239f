# Big sessions under SessionRequire (issue 11, item 7). Linux refuses an
# execve whose environment holds a string over 128 KiB, so a session whose
# JSON is larger than RemoteSessionEnvMax (default 64 KiB) is not put in
# REMOTE_SESSION (nor in the X-Remote-Session header, which proxied
# backends would refuse too) but in a file named by REMOTE_SESSION_FILE,
# removed when the request ends; REMOTE_SESSION_SIZE says how large it is,
# and the error log says why (RS00042). Before, every CGI page of such a
# session answered 500. Our own httpd: the default limit, and a vhost with
# RemoteSessionEnvMax 1000.
use strict;
use warnings;

use lib 't/lib';

use Apache::Test qw(-withtestmore);
use JSON::PP ();
use RS::Test qw(:all);

plan tests => 12;

# RemoteSessionSpoolDir: a directory of our own (httpd's user writes it)
my $spool = "/tmp/rs-spool-$$";
mkdir $spool or die "mkdir $spool: $!\n";
chmod 01777, $spool;
my $h = start_httpd(name => 'bigenv', cgi => 1,
                    config => "RemoteSessionSpoolDir $spool\n");
END {
    stop_httpd($h) if $h;
    rmdir $spool if $spool;
}
my $port = $h->{port};
my $mark = -s $h->{error_log};

sub env_of_page {
    my ($id, $path) = @_;
    my ($code, undef, undef, $body) = raw_request('GET', $path, port => $port,
        headers => [Cookie => COOKIE_NAME . "=$id"], timeout => 20);
    return ($code, eval { JSON::PP->new->decode($body) } || {});
}

# a session of about 200 KB: four values of 50 KB
my $big = '"' . ('x' x 50_000) . '"';
my $id = new_session(port => $port,
                     items => { map { ("k$_" => $big) } 1 .. 4 });
my ($code, $env) = env_of_page($id, '/req/env.cgi');
is($code, 200, 'a CGI under SessionRequire On with a 200 KB session: 200');
ok(!defined $env->{REMOTE_SESSION}, '... no REMOTE_SESSION');
my $file = $env->{REMOTE_SESSION_FILE} // '';
like($file, qr{/remote-session-\w+$}, '... REMOTE_SESSION_FILE names a file');
like($file, qr{^\Q$spool\E/}, '... in RemoteSessionSpoolDir');
my $json = eval { JSON::PP->new->decode($env->{REMOTE_SESSION_FILE_CONTENT} // '') };
is(length($json->{k1} // ''), 50_000, '... which the CGI reads: the session');
is($env->{REMOTE_SESSION_SIZE}, length $env->{REMOTE_SESSION_FILE_CONTENT},
   '... REMOTE_SESSION_SIZE is its length');
ok(!defined $env->{HTTP_X_REMOTE_SESSION}, '... nor an X-Remote-Session header');
ok($file && !-e $file, '... the file is gone once the request ended');
like(slurp($h->{error_log}, $mark), qr/RS00042: session \Q$id\E: \d+ bytes of JSON exceed RemoteSessionEnvMax/,
     '... and the error log says why (RS00042)');

# a small session: as ever
my $small = new_session(port => $port, items => { a => '1' });
($code, $env) = env_of_page($small, '/req/env.cgi');
ok($code == 200 && ($env->{REMOTE_SESSION} // '') eq '{"a":1}'
   && !defined $env->{REMOTE_SESSION_FILE},
   'a small session: REMOTE_SESSION as ever, no file');
is($env->{REMOTE_SESSION_SIZE}, 7, '... and its size');

# an update of the big session still commits
($code) = raw_request('GET', '/req/env.cgi?update=%7B%22set%22%3A%7B%22k5%22%3A5%7D%7D',
                      port => $port, headers => [Cookie => COOKIE_NAME . "=$id"]);
is(item_of((ro_get($id, port => $port))[1], 'k5'), '5',
   'an update from a page of the big session commits');
