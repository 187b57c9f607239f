# Fault: a graceful restart (`apache2 -k graceful -f <conf>`) of an httpd of
# our own (not the suite's server) while writeable GETs hold session locks.
# Done with the event MPM and with the prefork MPM; and, for contrast, also
# with a hard restart (`-k restart`, SIGHUP: the parent terminates its
# children, escalating to SIGKILL for those that do not exit, before it
# starts the new generation).
#
# What is promised (README, Guarantees): under -k graceful, held GETs end
# at once (RS00066) so that the old children can go, but leave their locks
# held: their PUTs land on new children and commit through memcached. No
# lock outlives its lease. Checked for each held GET:
#   - -k graceful: once the restart is over its response has completed,
#     its lock is still held in memcached; its PUT answers 200 and is
#     served by a child of the new generation (its access log line);
#     memcached holds the PUT's state;
#   - -k restart: it is cut (EOF) -- httpd terminates the old children
#     before it resumes -- or, when its child sees the new generation
#     before it is killed, ended as under graceful;
#   - in every case: a new writer gets the lock within lease + 1 s (3 s) of
#     the later of the restart and the GET's end, and sees the last
#     committed state;
# and: the old generation's processes exit once the held GETs are done
# (allowed 30 s on a loaded machine), and no child of ours died of a signal
# (checked after our httpd has stopped, so that the children's exits count
# too).
# Observed: as promised, with either MPM; with -k restart the cut GETs'
# locks are already free when we look (the request pool's cleanup released
# them as the children exited).
#
# Workers: 3 held GETs, then one PUT or new writer at a time: 5 at once.
# During a graceful restart the old generation's 3 busy workers keep their
# scoreboard slots, so each MPM gets 10 or more (mpm_conf below).
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep);
use RS::Test qw(:all);

# a die outside an eval shows in the TAP output (Apache::Test's harness
# does not show our stderr)
$SIG{__DIE__} = sub { Test::More::diag("died: $_[0]") unless $^S };

my $NHELD = 3;
my $BOUND = RS::Test::LOCK_LEASE + 1;
my @RUNS = ([event => 'graceful'], [prefork => 'graceful'],
            [event => 'restart'],  [prefork => 'restart']);

plan tests => @RUNS * (2 + 2 * $NHELD + 2);

my $own;
END { stop_httpd($own) if $own }

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
    my $c = RS::Client->new(port => $port);
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
    $own = start_httpd(name => "fault-$how_restart-$mpm", mpm => $mpm,
                       log_level => 'info remote_session:debug',
                       config => "Timeout 30\n$MARK_CONF",
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
        my ($c) = raw_put($g->{id}, encode_state(id => $g->{id},
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

    # what became of the held GETs: under -k graceful each must have
    # completed (its child ends it); under -k restart each must be cut (EOF),
    # or ended by its child first
    for my $s (@s) {
        ($s->{how}) = $s->{held}{conn}->read_to_end(10);
        $s->{t_end} = now();
    }
    diag("[$mpm -k $how_restart] held GETs after the restart: "
         . join(', ', map { $_->{how} } @s));

    for my $s (@s) {
        my $case = "[$mpm -k $how_restart] held GET $s->{i}";
        my $label = "v$s->{i}";
        if ($how_restart eq 'graceful') {
            my $body = encode_state(id => $s->{id}, items => [[v => qq{"new$s->{i}"}]]);
            my $mark = "put-$mpm-$how_restart-$s->{i}";
            my $left = mc_record($s->{id});
            my ($pc, $preason) = $s->{how} eq 'complete'
                ? marked_put($s->{id}, $body, $port, $mark) : ();
            my $how = $s->{how};
            $s->{t_end} = now();
            my $rec = mc_record($s->{id});
            # which process served the PUT (its access log line)
            my $put = defined $pc ? marked_line($own, $mark, 2) : undef;
            my $put_pid = $put ? $put->[0] : 0;
            my $new_child = $put && !grep { $_ == $put_pid } @old;
            ok($s->{how} eq 'complete' && $left && $left->{lock} == LOCK_HELD
               && ($pc // 0) == 200
               && ($rec->{state}{item}{v} // '') eq qq{"new$s->{i}"}
               && $new_child,
               "$case ended at the graceful restart, its lock left held; its "
               . "PUT (a new child) commits")
                or diag("$case: after the restart $s->{how}; PUT "
                        . ($pc // 'not sent') . " " . ($preason // '')
                        . (!defined $pc ? ''
                           : $put ? " by pid $put_pid" : ", no access log line in 2 s")
                        . " (old: @old), GET $how");
            $label = "new$s->{i}" if ($pc // 0) == 200;
        }
        else {
            my $rec = mc_record($s->{id});
            # cut (EOF) as httpd kills the child, or, when the child saw
            # the new generation first, ended as under graceful (RS00066)
            like($s->{how}, qr/\A(?:eof|complete)\z/,
                 "$case was ended by the hard restart (cut, or ended by its "
                 . "child first)");
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
            raw_put($s->{id}, encode_state(id => $s->{id},
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
    stop_httpd($own);
    unlike(slurp($own->{error_log}), qr/exit signal|segfault/i,
           "[$mpm -k $how_restart] no child of ours died of a signal, up to its stop");
    undef $own;
}
