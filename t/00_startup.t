# A bad directive value must stop httpd with a message that names the
# directive; a good configuration must pass `httpd -t`. Each case writes a
# small httpd.conf of its own (not the suite's) into a temporary directory.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Test::More;
use Apache::Test ();
use File::Spec ();
use File::Temp ();
use POSIX ();
use Time::HiRes ();
use RS::Test qw(API_KEY ENDPOINT free_port t_dir spawn_httpd stop_httpd slurp);

my $vars   = Apache::Test::vars();
my $httpd  = $vars->{httpd};
my $moddir = $vars->{rs_modulesdir}
        || Apache::Test::config()->apxs('LIBEXECDIR');
my $so     = File::Spec->rel2abs(
    File::Spec->catfile(t_dir(), File::Spec->updir, 'mod_remote_session.so'));

plan skip_all => "no module at $so (run `make`)" unless -e $so;

my $store = 'RemoteSessionStore "--SERVER=127.0.0.1:' . free_port() . '"';
my $key   = 'RemoteSessionApiKey ' . API_KEY;
my $endpoint = "<Location " . ENDPOINT . ">\n    SetHandler remote-session\n"
             . "</Location>";

# [ name, directive named in the message, config lines ]
my @bad = (
    [ 'unknown key type', 'RemoteSessionKey',
      [$store, $key, $endpoint, 'RemoteSessionKey x notatype'] ],
    [ 'key registered twice', 'RemoteSessionKey',
      [$store, $key, $endpoint, 'RemoteSessionKey x int',
       'RemoteSessionKey x int'] ],
    [ 'negative max size', 'RemoteSessionMaxSize',
      [$store, $key, $endpoint, 'RemoteSessionMaxSize -1'] ],
    [ 'max size not a number', 'RemoteSessionMaxSize',
      [$store, $key, $endpoint, 'RemoteSessionMaxSize abc'] ],
    [ 'zero timeout', 'RemoteSessionTimeout',
      [$store, $key, $endpoint, 'RemoteSessionTimeout 0'] ],
    [ 'negative lock timeout', 'RemoteSessionLockTimeout',
      [$store, $key, $endpoint, 'RemoteSessionLockTimeout -5'] ],
    [ 'zero lock lease', 'RemoteSessionLockLease',
      [$store, $key, $endpoint, 'RemoteSessionLockLease 0'] ],
    [ 'API key not a GUID', 'RemoteSessionApiKey',
      [$store, 'RemoteSessionApiKey not-a-guid', $endpoint] ],
    [ 'API key all zero', 'RemoteSessionApiKey',
      [$store, 'RemoteSessionApiKey 00000000-0000-0000-0000-000000000000',
       $endpoint] ],
    [ 'cookie secure not a flag', 'RemoteSessionCookieSecure',
      [$store, $key, $endpoint, 'RemoteSessionCookieSecure maybe'] ],
    [ 'SessionRequire bad value', 'SessionRequire',
      [$store, $key, $endpoint,
       "<Location /req>\n    SessionRequire sometimes\n</Location>"] ],
    [ 'API key with a space around it', 'RemoteSessionApiKey',
      [$store, 'RemoteSessionApiKey " ' . API_KEY . '"', $endpoint] ],
    [ 'API key with a doubled dash', 'RemoteSessionApiKey',
      [$store, 'RemoteSessionApiKey 3f2504e0--4f89-11d3-9a0c-0305e82c3301',
       $endpoint] ],
    [ 'key header not a token', 'RemoteSessionApiKeyHeader',
      [$store, $key, $endpoint, 'RemoteSessionApiKeyHeader "X Key"'] ],
    [ 'key scope unknown', 'RemoteSessionKey',
      [$store, $key, $endpoint, 'RemoteSessionKey x int dotnet'] ],
    [ 'an unknown backend is read as libmemcached options', 'RemoteSessionStore',
      ['RemoteSessionStore "redis:--SERVER=127.0.0.1:1"', $key, $endpoint] ],
    [ 'hold timeout zero', 'RemoteSessionHoldTimeout',
      [$store, $key, $endpoint, 'RemoteSessionHoldTimeout 0'] ],
    [ 'worker reserve negative', 'RemoteSessionWorkerReserve',
      [$store, $key, $endpoint, 'RemoteSessionWorkerReserve -1'] ],
);

# Every spelling of a key a .NET peer takes (the adapters' ApiKey check,
# Guid.TryParse's forms) must start httpd.
my @spellings = (
    '3f2504e04f8911d39a0c0305e82c3301',
    '{3F2504E0-4F89-11D3-9A0C-0305E82C3301}',
    '(3f2504e0-4f89-11d3-9a0c-0305e82c3301)',
    '{3f2504e04f8911d39a0c0305e82c3301}',
    '(3f2504e0-4f8911d3-9a0c-0305e82c3301}',
    '{0x3f2504e0,0x4f89,0x11d3,{0x9a,0x0c,0x03,0x05,0xe8,0x2c,0x33,0x01}}',
);

plan tests => 3 * @bad + 2 + 3 + 1 + @spellings;

my $tmp = File::Temp->newdir('rs-startup-XXXXXX', TMPDIR => 1);
chmod 0755, "$tmp";
my $n = 0;

# Writes a config made of the base lines and @lines; returns its path.
sub write_conf {
    my @lines = @_;
    my $dir = File::Spec->catdir("$tmp", 'case' . ++$n);
    mkdir $dir or die "$dir: $!";
    my $port = free_port();
    my $conf = "$dir/httpd.conf";
    open my $fh, '>', $conf or die "$conf: $!";
    print $fh <<"EOC";
ServerRoot "$dir"
DefaultRuntimeDir "$dir"
Listen 127.0.0.1:$port
ServerName 127.0.0.1:$port
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error_log"
LoadModule mpm_event_module "$moddir/mod_mpm_event.so"
LoadModule authz_core_module "$moddir/mod_authz_core.so"
LoadModule remote_session_module "$so"
EOC
    print $fh qq{User "$vars->{user}"\nGroup "$vars->{group}"\n} if $> == 0;
    print $fh "$_\n" for @lines;
    close $fh or die "$conf: $!";
    return $conf;
}

# `httpd -t`: (exit status, output)
sub config_test {
    my $conf = shift;
    (my $dir = $conf) =~ s{/[^/]+\z}{};
    my $out = qx{"$httpd" -d "$dir" -f "$conf" -t 2>&1};
    return ($? >> 8, $out);
}

# Starts httpd in the foreground (RS::Httpd::spawn_httpd: our child, in its
# own process group) and waits up to $timeout s for it to exit: (exit status
# or undef if it kept running -- then it is stopped --, stderr + error log).
sub start_foreground {
    my ($conf, $timeout) = @_;
    my $h = { pid => spawn_httpd($httpd, $conf), conf => $conf };
    my $status;
    my $deadline = Time::HiRes::time() + $timeout;
    while (Time::HiRes::time() < $deadline) {
        if (waitpid($h->{pid}, POSIX::WNOHANG()) == $h->{pid}) {
            $status = $? >> 8;
            delete $h->{pid};
            last;
        }
        Time::HiRes::sleep(0.05);
    }
    stop_httpd($h, 10);    # when it started
    (my $dir = $conf) =~ s{/[^/]+\z}{};
    return ($status, slurp("$dir/stderr.log") . slurp("$dir/error_log"));
}

my ($sr_rc, $sr_out) = config_test(write_conf($store, $key, $endpoint,
    "<Location /req>\n    SessionRequire On\n</Location>"));

for my $case (@bad) {
    my ($name, $directive, $lines) = @$case;
    my ($rc, $out) = config_test(write_conf(@$lines));
    isnt($rc, 0, "$name: httpd -t fails");
    like($out, qr/\Q$directive\E/, "$name: the message names $directive")
        or diag($out);
    unlike($out, qr/Invalid command/, "$name: $directive is a known directive")
        or diag($out);
}

# The endpoint is mapped but no API key is configured anywhere. The module
# may catch it while reading the config (then `httpd -t` fails) or only in
# post_config, which `httpd -t` does not run; then starting must fail.
{
    my $conf = write_conf($store, $endpoint);
    my ($rc, $out) = config_test($conf);
    my $how = 'httpd -t';
    if ($rc == 0) {
        note("httpd -t accepts an endpoint without RemoteSessionApiKey;"
             . " checking that the server refuses to start");
        ($rc, $out) = start_foreground($conf, 20);
        $how = 'httpd -DFOREGROUND';
    }
    ok(defined $rc && $rc != 0, "endpoint without API key: $how fails")
        or diag($out);
    like($out, qr/RemoteSessionApiKey/,
         'endpoint without API key: the message names RemoteSessionApiKey')
        or diag($out);
}

# A good configuration passes.
{
    my ($rc, $out) = config_test(write_conf(
        $store, $key, $endpoint,
        'RemoteSessionKey cart object',
        'RemoteSessionKey count int?',
        'RemoteSessionMaxSize 500000',
        'RemoteSessionTimeout 30',
        'RemoteSessionLockTimeout 5',
        'RemoteSessionLockLease 3',
        'RemoteSessionCookieName MySession',
        'RemoteSessionCookieSecure On',
        'RemoteSessionApiKeyHeader X-My-Key',
        'RemoteSessionKey visits int apache',
        'RemoteSessionWorkerReserve 0',
        'RemoteSessionHoldTimeout 60',
    ));
    is($rc, 0, 'a valid configuration passes httpd -t') or diag($out);
    like($out, qr/Syntax OK/, 'httpd -t says Syntax OK') or diag($out);
}
is($sr_rc, 0, 'SessionRequire On in a <Location> passes httpd -t')
    or diag($sr_out);

{
    my ($rc, $out) = config_test(write_conf(
        'RemoteSessionStore "memcached:--SERVER=127.0.0.1:' . free_port() . '"',
        $key, $endpoint));
    is($rc, 0, 'RemoteSessionStore with the backend named passes httpd -t')
        or diag($out);
}

for my $k (@spellings) {
    my ($rc, $out) = config_test(write_conf($store, "RemoteSessionApiKey $k",
                                            $endpoint));
    is($rc, 0, "API key spelled $k passes httpd -t") or diag($out);
}
