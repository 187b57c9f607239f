# Fault: a graceful restart (`apache2 -k graceful -f <conf>`) of an httpd of
# our own (not the suite's server) while writeable GETs hold session locks.
# Done with the event MPM and with the prefork MPM; and, to exercise the
# "cut" branch below, also with a hard restart (`-k restart`, SIGHUP: the
# parent terminates its children, escalating to SIGKILL for those that do not
# exit).
#
# What must hold: no lock is left behind beyond its lease. Either a held GET
# survives the restart (its process finishes it gracefully) and then still
# completes when its PUT arrives -- the PUT lands on a new child and commits
# through memcached, the old child's poll sees the commit --, or it is cut,
# and then its lock must be released, or at worst expire: a new writer gets
# the lock within (lease + 1 s) of the later of the restart and the GET's
# end. Checked for each held GET:
#   - if it survived: its PUT answers 200, the GET completes within 2 s, and
#     memcached holds the PUT's state;
#   - in every case: a new writer gets the lock within lease + 1 s (3 s) of
#     the reference time and sees the last committed state;
# and: the old generation's processes exit once the held GETs are done
# (< 10 s), and no child of ours died of a signal (checked after our httpd
# has stopped, so that the children's exits count too).
# Observed: with -k graceful the held GETs survive (event and prefork) and
# their PUTs, served by new children, commit; with -k restart they are cut
# (EOF) and their locks are already free when we look (the request pool's
# cleanup released them as the children exited).
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep);
use RS::Test qw(:all);
use RS::Fault qw(:all);

# a die outside an eval shows in the TAP output (Apache::Test's harness
# does not show our stderr)
$SIG{__DIE__} = sub { Test::More::diag("died: $_[0]") unless $^S };

my $NHELD = 3;
my $BOUND = RS::Test::LOCK_LEASE + 1;
my @RUNS = ([event => 'graceful'], [prefork => 'graceful'],
            [event => 'restart'],  [prefork => 'restart']);

plan tests => @RUNS * (2 + 2 * $NHELD + 2);

my $own;
END { stop_own_httpd($own) if $own }

# A second access log whose lines carry the X-Fault-Mark request header, so
# that the line of one given request can be found; mod_log_config writes it
# after the response has gone out, hence the wait (up to 2 s).
my $MARK_LOG = 'mark_log';    # relative to ServerRoot, our httpd's directory
my $MARK_CONF = "<IfModule log_config_module>\n"
    . "    CustomLog \"$MARK_LOG\" \"%P %m %{X-Fault-Mark}i %>s\"\n"
    . "</IfModule>";

# marked_put($id, $bytes, $port, $mark) -> (code, reason): put_state's PUT,
# with X-Fault-Mark: $mark
sub marked_put {
    my ($id, $bytes, $port, $mark) = @_;
    my $c = RS::Fault::Conn->new($port);
    $c->send_request('PUT', ENDPOINT,
                     [KEY_HEADER, API_KEY, Cookie => COOKIE_NAME . "=$id",
                      'X-Fault-Mark' => $mark, Connection => 'close'], $bytes);
    my ($code, undef, $reason) = $c->response(10);
    $c->close;
    return ($code, $reason);
}

# marked_line($own, $mark, $timeout) -> [pid, method, mark, status] of the
# request marked $mark, or undef when it is not logged within $timeout
sub marked_line {
    my ($h, $mark, $timeout) = @_;
    my $deadline = now() + $timeout;
    while (1) {
        my ($l) = grep { @$_ == 4 && $_->[2] eq $mark }
                  map { [split ' '] } grep { /\n\z/ }
                  split /^/m, slurp("$h->{dir}/$MARK_LOG");
        return $l if $l || now() > $deadline;
        sleep 0.02;
    }
}

for my $run (@RUNS) {
    my ($mpm_name, $how_restart) = @$run;
    my $mpm = $mpm_name;
    $own = start_own_httpd(name => "$how_restart-$mpm", mpm => $mpm,
                           config => $MARK_CONF,
                           mpm_conf => $mpm eq 'event' ? <<'E' : <<'P');
StartServers 1
ServerLimit 4
ThreadsPerChild 10
MaxRequestWorkers 20
MinSpareThreads 5
MaxSpareThreads 20
E
StartServers 2
MinSpareServers 2
MaxSpareServers 5
ServerLimit 10
MaxRequestWorkers 10
P
    my $port = $own->{port};
    ok($own->{pid}, "[$mpm -k $how_restart] own httpd on $port");

    # sessions with committed data, then held writeable GETs
    my (@s, $setup);
    $setup = 1;
    for my $i (1 .. $NHELD) {
        my $g = held_get(port => $port);
        my ($c) = put_state($g->{id}, encode_state(id => $g->{id},
                            items => [[v => qq{"v$i"}]]), port => $port);
        my ($how) = $g->{conn}->read_to_end(5);
        $setup = 0 unless $g->{code} == 200 && $c == 200 && $how eq 'complete';
        push @s, { id => $g->{id}, i => $i };
    }
    for my $s (@s) {
        $s->{held} = held_get(session => $s->{id}, port => $port, timeout => 5);
        $setup = 0 unless $s->{held}{code} == 200;
    }
    my @old = httpd_children($own);

    # the graceful restart
    my $log_before = -s $own->{error_log};
    my $rc = graceful($own, $how_restart);
    my $t_restart = now();
    my $restarted = 0;
    while (now() - $t_restart < 15) {
        my $log = slurp($own->{error_log});
        if (length $log > $log_before
            && substr($log, $log_before) =~ /AH00163|resuming normal operations/) {
            $restarted = 1;
            last;
        }
        sleep 0.05;
    }
    my ($c) = readonly_get($s[0]{id}, port => $port);
    ok($setup && $rc == 0 && $restarted && ($c // 0) == 200,
       "[$mpm -k $how_restart] $NHELD GETs held; -k $how_restart done; the new generation serves")
        or diag("[$mpm -k $how_restart] setup $setup, -k graceful exit $rc ($own->{graceful_output}), "
                . "restarted $restarted, read-only GET " . ($c // 'none'));
    $t_restart = now();

    # what became of the held GETs
    for my $s (@s) {
        my ($how, $got) = $s->{held}{conn}->read_to_end(0.3);
        $s->{survived} = $how eq 'timeout';
        $s->{t_end} = $s->{survived} ? undef : now();
        $s->{how} = $how;
    }
    diag("[$mpm -k $how_restart] held GETs after the restart: "
         . join(', ', map { $_->{survived} ? 'alive' : "cut ($_->{how})" } @s));

    for my $s (@s) {
        my $case = "[$mpm -k $how_restart] held GET $s->{i}";
        my $label = "v$s->{i}";
        if ($s->{survived}) {
            my $body = encode_state(id => $s->{id}, items => [[v => qq{"new$s->{i}"}]]);
            my $mark = "put-$mpm-$how_restart-$s->{i}";
            my ($pc, $preason) = marked_put($s->{id}, $body, $port, $mark);
            my $t0 = now();
            my ($how) = $s->{held}{conn}->read_to_end(5);
            $s->{t_end} = now();
            my $rec = mc_record($s->{id});
            # which process served the PUT (its access log line)
            my $put = marked_line($own, $mark, 2);
            my $put_pid = $put ? $put->[0] : 0;
            my $new_child = $put && !grep { $_ == $put_pid } @old;
            ok($pc == 200 && $how eq 'complete' && $s->{t_end} - $t0 < 2
               && ($rec->{state}{item}{v} // '') eq qq{"new$s->{i}"}
               && $new_child,
               "$case survived: its PUT (a new child) commits, the GET completes")
                or diag("$case: PUT " . ($pc // 'none') . " " . ($preason // '')
                        . ($put ? " by pid $put_pid" : ", no access log line in 2 s")
                        . " (old: @old), GET $how");
            $label = "new$s->{i}";
        }
        else {
            my $rec = mc_record($s->{id});
            pass("$case was cut ($s->{how})");
            diag("$case: cut; lock state in memcached now: "
                 . ($rec ? $rec->{lock} : 'no record'));
        }
        $s->{held}{conn}->close;
        my $ref = $s->{t_end} > $t_restart ? $s->{t_end} : $t_restart;
        my $w = held_get(session => $s->{id}, port => $port, timeout => 8);
        my $t = $w->{t_head} - $ref;
        ok(($w->{code} // 0) == 200 && $t < $BOUND
           && ($w->{state}{item}{v} // '') eq qq{"$label"},
           "$case: a new writer gets the lock within lease + 1 s, last state")
            or diag(sprintf '%s: got %s after %.3f s, v %s', $case,
                    $w->{code} // 'nothing', $t,
                    $w->{state} ? $w->{state}{item}{v} // 'none' : 'no state');
        diag(sprintf '%s: new writer had the lock %.3f s after the reference',
             $case, $t);
        if (($w->{code} // 0) == 200) {
            put_state($s->{id}, encode_state(id => $s->{id},
                                             items => $w->{state}{items}),
                      port => $port);
            $w->{conn}->read_to_end(3);
        }
        $w->{conn}->close;
    }

    # the old generation goes away
    my $t0 = now();
    my @left;
    # generous: on a loaded machine idle keep-alive connections and the
    # MPM's own maintenance cycle can hold an old child for seconds
    while (now() - $t0 < 30) {
        my %now = map { $_ => 1 } httpd_children($own);
        @left = grep { $now{$_} } @old;
        last unless @left;
        sleep 0.1;
    }
    ok(!@left, "[$mpm -k $how_restart] the old generation's processes exit")
        or diag("[$mpm -k $how_restart] still there: @left (old: @old)");
    diag(sprintf '[%s -k %s] old generation gone %.3f s after the last GET ended',
         $mpm, $how_restart, now() - $t0);

    # (after the stop: children exiting must not crash either)
    stop_own_httpd($own);
    unlike(slurp($own->{error_log}), qr/exit signal|segfault/i,
           "[$mpm -k $how_restart] no child of ours died of a signal, up to its stop");
    undef $own;
}
