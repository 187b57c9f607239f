package RS::H2;
# The one-connection POST over HTTP/2, driven through t/bin/h2_post.py
# (Debian's python3-h2): over h2c with prior knowledge, or over TLS with h2
# chosen by ALPN as the ASP.NET Core client does it (tls => 1: the suite's
# TLS virtual host and its certificate, t/conf/tls.conf.in).
#
#   my $h = h2_open(cookie => ..., key => ..., port => ..., tls => 1);
#   $h->{first}{status}, $h->{headers}{...}, $h->{state} (decoded),
#   $h->{extra} (bytes after the state, before the body was sent)
#   my $end = h2_finish($h, $body, pieces => 3, delay => 0.1);
#   $end->{rest} (bytes after the state), {ended}, {reset}, {error}
#   my $v = h2_vanish($h, $half_body, 'close' | 'reset' | 'goaway');

use strict;
use warnings;

use Exporter 'import';
use File::Spec ();
use IPC::Open2 ();
use JSON::PP ();
use RS::Test qw(t_dir API_KEY decode_state suite_port vhost_port);

our @EXPORT_OK = qw(have_h2 h2_open h2_finish h2_vanish tls_port tls_cafile
                    PYTHON);

use constant PYTHON => '/usr/bin/python3';

my $json = JSON::PP->new;

sub script { File::Spec->catfile(t_dir(), 'bin', 'h2_post.py') }

# Dies with the reason when the client cannot run: make test installs
# python3-h2, so a test must not quietly test less without it.
sub have_h2 {
    return 1 if -x PYTHON
        && system(PYTHON, '-c', 'import h2.connection') == 0;
    die "Debian's python3-h2 is needed (" . PYTHON
        . " -c 'import h2'): make test installs it\n";
}

sub tls_port { vhost_port('rs_tls') }

sub tls_cafile { File::Spec->catfile(t_dir(), 'conf', 'tls', 'server.crt') }

sub read_json_line {
    my ($fh, $timeout) = @_;
    my $line;
    eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm $timeout;
        $line = <$fh>;
        alarm 0;
    };
    alarm 0;
    return { error => "h2_post.py: " . ($@ || 'no output') }
        unless defined $line;
    return eval { $json->decode($line) } || { error => "bad line: $line" };
}

sub h2_open {
    my %o = @_;
    my $port = $o{port} || ($o{tls} ? tls_port() : suite_port());
    my @cmd = (PYTHON, script(), '--port', $port,
               '--key', exists $o{key} ? $o{key} : API_KEY);
    push @cmd, '--cookie', $o{cookie} if defined $o{cookie};
    push @cmd, '--tls', tls_cafile() if $o{tls};
    push @cmd, '--alpn', $o{alpn} if $o{alpn};
    my ($out, $in);
    my $pid = IPC::Open2::open2($out, $in, @cmd);
    my $h = { pid => $pid, out => $out, in => $in };
    $h->{first} = read_json_line($out, 10);
    my $f = $h->{first};
    $h->{state_bytes} = pack 'H*', $f->{state_hex} // '';
    $h->{extra} = pack 'H*', $f->{extra_hex} // '';
    $h->{state} = length $h->{state_bytes}
        ? eval { decode_state($h->{state_bytes}) } : undef;
    $h->{headers} = { map { (lc $_->[0] => $_->[1]) }
                      @{ $f->{headers} || [] } };
    return $h;
}

sub _command {
    my ($h, $cmd) = @_;
    my $in = $h->{in};
    print $in $json->encode($cmd), "\n";
    close $in;
    my $end = read_json_line($h->{out}, 10);
    waitpid $h->{pid}, 0;
    return $end;
}

sub h2_finish {
    my ($h, $body, %o) = @_;
    my $end = _command($h, { body_hex => unpack('H*', $body),
                             pieces => $o{pieces} || 1,
                             delay => $o{delay} || 0 });
    $end->{rest} = pack 'H*', $end->{rest_hex} // '';
    return $end;
}

sub h2_vanish {
    my ($h, $body, $mode) = @_;
    return _command($h, { body_hex => unpack('H*', $body), vanish => $mode });
}

1;
