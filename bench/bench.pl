#!/usr/bin/perl
# The work of bench/bench.sh (`make bench`, see there): the performance
# figures of issue 15, each measured side by side with a baseline taken in
# the same run, printed as one table. Starts its own memcached and httpds
# on free loopback ports under /tmp/rs-bench-<pid> and stops them (by pid)
# when done. BENCH_QUICK=1: fewer iterations (a smoke run of ~20 s);
# BENCH_ONLY=<regex>: only the figures whose title matches.
#
# Exits non-zero only when a figure could not be measured (it is printed
# as "not measured (why)", after all the others).
use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/../t/lib";
use RS::Test qw(start_httpd stop_httpd stop_memcached new_session
                encode_state decode_state mc_stats slurp log_crashes
                API_KEY KEY_HEADER READONLY_HEADER ENDPOINT COOKIE_NAME);
use File::Path ();
use IO::Select ();
use POSIX ();
use Time::HiRes ();

my $QUICK = $ENV{BENCH_QUICK} ? 1 : 0;
# iterations: (full run, quick run)
sub iters { return $QUICK ? $_[1] : $_[0] }
# rounds of each throughput comparison (the median is kept)
use constant ROUNDS => $ENV{BENCH_QUICK} ? 1 : 5;

my $dir = "/tmp/rs-bench-$$";
my ($mc, $ev, $pf);            # memcached, the event httpd, the prefork one
my $owner = $$;
$SIG{INT} = $SIG{TERM} = sub { exit 1 };
END {
    if ($$ == $owner) {
        local $?;
        stop_httpd($_) for grep { $_ } $ev, $pf;
        stop_memcached($mc) if $mc;
        File::Path::remove_tree($dir) if -d $dir && !$ENV{RS_KEEP};
    }
}

sub now { Time::HiRes::time() }
sub note { print STDERR "bench: @_\n" }

# ---------------------------------------------------------------------------
# statistics and the table

# pct($p, @values) -> the nearest-rank $p-th percentile
sub pct {
    my ($p, @v) = @_;
    my @s = sort { $a <=> $b } @v;
    my $i = POSIX::ceil($p / 100 * @s) - 1;
    return $s[$i < 0 ? 0 : $i];
}
sub median { return pct(50, @_) }
sub ms     { return sprintf '%.2f ms', 1000 * shift }
sub ratio  { return $_[1] ? sprintf('%.2fx', $_[0] / $_[1]) : '-' }

my @rows;           # [name, value, baseline, ratio, goal]
my @unmeasured;     # names of the figures that could not be measured

sub row { push @rows, [@_] }

# figure($title, sub { ... }): runs one figure's measurement; when it dies,
# its row says "not measured (why)" and the run will exit non-zero.
# figure($title, sub): measures one figure. BENCH_ONLY=<regex> skips the
# figures whose title does not match (setup always runs): for profiling one.
sub figure {
    my ($title, $code) = @_;
    return 1 if $ENV{BENCH_ONLY} && $title !~ /setup|$ENV{BENCH_ONLY}/i;
    note($title);
    return 1 if eval { $code->(); 1 };
    (my $why = $@ || 'unknown error') =~ s/\s+\z//;
    $why =~ s/\n/; /g;
    row($title, "not measured ($why)", '', '', '');
    push @unmeasured, $title;
    return 0;
}

# verdict($v, '<=' | '>=', $limit) -> "met" / "NOT met"
sub verdict {
    my ($v, $op, $limit) = @_;
    return ($op eq '<=' ? $v <= $limit : $v >= $limit) ? 'met' : 'NOT met';
}

sub print_table {
    my @head = ('figure', 'value', 'baseline (same run)', 'ratio', 'goal');
    my @w = map { length } @head;
    for my $r (@rows) {
        for my $i (0 .. 4) {
            my $l = length($r->[$i] // '');
            $w[$i] = $l if $i < 4 && $l > $w[$i];    # goal: last, unpadded
        }
    }
    my $fmt = join('  ', map { "%-${_}s" } @w[0 .. 3]) . "  %s\n";
    printf $fmt, @head;
    printf $fmt, map { '-' x $_ } @w[0 .. 3], length $head[4];
    printf $fmt, map { $_ // '' } @$_ for @rows;
}

# ---------------------------------------------------------------------------
# servers

# A memcached of our own with a 2 MB item limit (-I 2m), as a site that
# raises RemoteSessionMaxSize to 2000000 needs: RS::Memcached's
# start_memcached cannot pass that option, so it is started here the same
# way (our child, in a process group of its own) and stopped by
# stop_memcached.
sub start_bench_memcached {
    for my $try (1 .. 3) {
        my $port = RS::Memcached::free_port();
        my @cmd = ('memcached', '-l', '127.0.0.1', '-p', $port, '-U', '0',
                   '-m', '512', '-t', '4', '-I', '2m',
                   $> == 0 ? ('-u', 'root') : ());
        my $pid = fork // die "fork: $!\n";
        if (!$pid) {
            POSIX::setsid();
            open STDIN, '<', '/dev/null';
            open STDOUT, '>>', "$dir/memcached.log";
            open STDERR, '>&', \*STDOUT;
            { no warnings 'exec'; exec @cmd; }
            POSIX::_exit(127);
        }
        my $m = { pid => $pid, port => $port };
        return $m if RS::Memcached::wait_ready($port, 10, $pid);
        stop_memcached($m, 'KILL');
    }
    die "memcached did not come up; see $dir/memcached.log\n";
}

# the bench's own clients keep connections between figures: a long
# KeepAliveTimeout, so that no request is sent into a connection the
# server is closing
my $KEEPALIVE = "KeepAlive On\nMaxKeepAliveRequests 0\nKeepAliveTimeout 300\n"
              . "Timeout 60\n";

# The server of every figure but the PHP one: event MPM, one child (so a
# lock hand-off stays inside one process, "on one server"), with threads
# enough for ab's 8 connections and the held GETs; static files at /static/.
sub start_event_httpd {
    return start_httpd(
        mpm => 'event', modules => [qw(authz_core alias mime)],
        suite_lock => 0, dir => "$dir/event", log_level => 'warn',
        memcached_port => $mc->{port},
        config => $KEEPALIVE . <<"CONF",
RemoteSessionMaxSize 2000000
Alias /static/ "$dir/static/"
<Directory "$dir/static">
    Require all granted
</Directory>
CONF
        mpm_conf => <<'MPM');
StartServers 1
ServerLimit 1
ThreadsPerChild 64
MaxRequestWorkers 64
MinSpareThreads 1
MaxSpareThreads 64
MaxConnectionsPerChild 0
MPM
}

# ---------------------------------------------------------------------------
# sessions and requests

my ($port, $mcp);                       # the event httpd's and memcached's
my $KH = KEY_HEADER . ': ' . API_KEY;
my $RH = READONLY_HEADER . ': true';

# items($count, $bytes_each, $tag) -> [[key, JSON string value], ...]
sub items {
    my ($count, $bytes, $tag) = @_;
    return [ map { [sprintf('%s%05d', $tag, $_), '"' . ('x' x $bytes) . '"'] }
             1 .. $count ];
}

# make_session(\@items) -> a new session's ID holding those items (one
# writeable GET + PUT), plus an item "n" that the cycles below rewrite.
sub make_session {
    my $items = shift;
    return new_session(port => $port,
                       items => [['n', '"c0000000"'], @$items]);
}

# A client on the event httpd; a new one when the server closed the last.
sub client { return RS::Client->new(port => $_[0] || $port) }
sub live   { my ($c, $p) = @_; return $c && !$c->is_eof ? $c : client($p) }

# ro_request($c, $id) -> raw bytes of a read-only GET of $id
sub ro_request {
    my ($c, $id) = @_;
    return $c->build('GET', ENDPOINT, key => API_KEY, cookie => $id,
                     headers => [READONLY_HEADER, 'true']);
}

# timed_get($c, $raw, $len) -> (seconds, client): one keep-alive GET of the
# prebuilt request $raw; dies unless it answers 200 with a $len-byte body.
sub timed_get {
    my ($c, $raw, $len, $what) = @_;
    $c = live($c);
    my $t0 = now();
    my $r = $c->request('GET', '/', raw => $raw, timeout => 10);
    my $dt = now() - $t0;
    die "$what answered $r->{code} $r->{reason}\n" unless $r->{code} == 200;
    die "$what: " . length($r->{body}) . " body bytes, expected $len\n"
        unless !defined $len || length $r->{body} == $len;
    return ($dt, $c);
}

# ro_length($id) -> length of a read-only GET's body (the state) for $id
sub ro_length {
    my $id = shift;
    my $c = client();
    my $r = $c->request('GET', '/', raw => ro_request($c, $id));
    die "read-only GET answered $r->{code}\n" unless $r->{code} == 200;
    decode_state($r->{body});    # dies unless the body is one whole state
    return length $r->{body};
}

# A static file of $bytes bytes under /static/; its path.
sub static_file {
    my $bytes = shift;
    my $name = "f$bytes.bin";
    unless (-e "$dir/static/$name") {
        open my $fh, '>', "$dir/static/$name" or die "$name: $!\n";
        print $fh 's' x $bytes;
        close $fh or die "$name: $!\n";
        chmod 0644, "$dir/static/$name";
    }
    return "/static/$name";
}

# The writeable cycle: a session, two keep-alive connections (the held GET
# and the PUTs) and what the next GET must return.
#   cycle_ctx($id, \@items) -> ctx;  cycle($ctx) -> seconds of one cycle
sub cycle_ctx {
    my ($id, $items) = @_;
    my $ctx = { id => $id, items => $items, i => 0 };
    # one untimed cycle, decoded in full: the length of the state a
    # writeable GET streams, so that timed cycles wait for exactly that
    # many bytes (and a newline) instead of decoding each time
    my $g = client();
    $g->send_request('GET', ENDPOINT, key => API_KEY, cookie => $id);
    ($g->read_head(10) // 0) == 200
        or die 'writeable GET: ' . $g->describe . "\n";
    my $st = $g->read_state(10) or die 'writeable GET: ' . $g->describe . "\n";
    $ctx->{len} = $st->{length};
    $ctx->{marker} = $st->{item}{n};
    @$ctx{qw(g p)} = ($g, client());
    cycle_put($ctx);
    return $ctx;
}

# put_body($ctx) -> (n, bytes): the next state to PUT (n = the next
# counter, always as long), built before any clock starts
sub put_body {
    my $ctx = shift;
    my $n = sprintf '"c%07d"', ++$ctx->{i} % 10_000_000;
    return ($n, encode_state(id => $ctx->{id}, new => 0, abandoned => 0,
                             readonly => 0, timeout => 20,
                             items => [['n', $n], @{ $ctx->{items} }]));
}

# send_put($ctx, $client) -> $client: sends the PUT of the next state
# (not read yet); remembers the value the next GET must show
sub send_put {
    my ($ctx, $c) = @_;
    my ($n, $body) = put_body($ctx);
    $c = live($c);
    $c->send_request('PUT', ENDPOINT, key => API_KEY, cookie => $ctx->{id},
                     body => $body);
    $ctx->{marker} = $n;
    return $c;
}

# put_answer($c): reads a PUT's answer; dies unless 200
sub put_answer {
    my $c = shift;
    my $code = $c->read_head(10) // 0;
    $c->read_body(10);
    die 'PUT answered ' . $c->describe . "\n" unless $code == 200 && $c->{done};
}

# cycle_put($ctx): PUTs the next state into the held GET of $ctx and waits
# for that GET to end
sub cycle_put {
    my $ctx = shift;
    $ctx->{p} = send_put($ctx, $ctx->{p});
    put_answer($ctx->{p});
    $ctx->{g}->read_body(10) && $ctx->{g}{done}
        or die 'the held GET did not end: ' . $ctx->{g}->describe . "\n";
}

# cycle($ctx) -> seconds from the writeable GET sent to its response's end
# (state read, PUT answered, held GET ended); dies on any other answer.
sub cycle {
    my $ctx = shift;
    my ($n, $body) = put_body($ctx);
    my $p = $ctx->{p} = live($ctx->{p});
    my $put = $p->build('PUT', ENDPOINT, key => API_KEY, cookie => $ctx->{id},
                        body => $body);
    my $g = $ctx->{g} = live($ctx->{g});
    my $len = $ctx->{len};
    my $t0 = now();
    $g->send_request('GET', ENDPOINT, key => API_KEY, cookie => $ctx->{id});
    read_writeable($g, $len);
    my $t_state = now();
    my $r = $p->request('PUT', ENDPOINT, raw => $put, timeout => 10);
    my $t_put = now();
    die "PUT answered $r->{code} $r->{reason}\n" unless $r->{code} == 200;
    $g->read_body(10);
    my $t1 = now();
    die 'the held GET did not end: ' . $g->describe . "\n" unless $g->{done};
    # after the clock: the state was the one the last PUT wrote
    die "writeable GET: the state is not the last one PUT\n"
        unless substr($g->{body}, $len, 1) eq "\n"
            && index(substr($g->{body}, 0, $len), $ctx->{marker}) >= 0;
    $ctx->{marker} = $n;
    # where the time went, for parts_text
    push @{ $ctx->{parts}{state} }, $t_state - $t0;
    push @{ $ctx->{parts}{put} }, $t_put - $t_state;
    push @{ $ctx->{parts}{end} }, $t1 - $t_put;
    return $t1 - $t0;
}

# parts_text($ctx) -> "GET 0.20 + PUT 0.15 + end 0.05": the medians of the
# cycle's three legs (state read, PUT answered, held GET ended), in ms;
# forgets them
sub parts_text {
    my $ctx = shift;
    my $p = delete $ctx->{parts} or return '';
    return sprintf '(GET %.2f + PUT %.2f + end %.2f)',
        map { 1000 * median(@{ $p->{$_} }) } qw(state put end);
}

# get_writeable($c, $id, $len): a writeable GET on $c, its state read
sub get_writeable {
    my ($c, $id, $len) = @_;
    $c->send_request('GET', ENDPOINT, key => API_KEY, cookie => $id);
    read_writeable($c, $len);
}

# read_writeable($c, $len): reads a writeable GET's head and its state
# ($len bytes) and the newline after it; dies on anything else
sub read_writeable {
    my ($c, $len) = @_;
    my $code = $c->read_head(10) // 0;
    die 'writeable GET: ' . $c->describe . "\n" unless $code == 200;
    $c->read_body(10, sub { length $_[0]{body} > $len });
    die 'writeable GET: no whole state: ' . $c->describe . "\n"
        unless length $c->{body} > $len;
}

# answered($c) -> true when bytes wait on $c's connection (a waiter that
# got an answer -- a 503 -- while the lock was still held)
sub answered {
    my $c = shift;
    return length $c->{in} || IO::Select->new($c->sock)->can_read(0);
}

# ---------------------------------------------------------------------------
# ab

# ab_start($path, n => , c => , cookie => , headers => [...], port => )
# -> a handle; ab_end(handle) -> { rps, complete, time, keepalive, ... }.
# ab's own errors go to our stderr.
sub ab_start {
    my ($path, %o) = @_;
    my @cmd = ('ab', '-q', '-k', '-n', $o{n}, '-c', $o{c} || 1,
               (map { ('-H', $_) } @{ $o{headers} || [] }),
               $o{cookie} ? ('-C', $o{cookie}) : (),
               'http://127.0.0.1:' . ($o{port} || $port) . $path);
    open my $fh, '-|', @cmd or die "ab: $!\n";
    return { fh => $fh, n => $o{n}, what => $o{what} || $path };
}

sub ab_end {
    my $h = shift;
    my $out = do { local $/; readline $h->{fh} } // '';
    close $h->{fh};
    my $status = $? >> 8;
    my %r;
    ($r{complete}) = $out =~ /^Complete requests:\s+(\d+)/m;
    ($r{failed})   = $out =~ /^Failed requests:\s+(\d+)/m;
    ($r{non2xx})   = $out =~ /^Non-2xx responses:\s+(\d+)/m;
    ($r{keepalive}) = $out =~ /^Keep-Alive requests:\s+(\d+)/m;
    ($r{time})     = $out =~ /^Time taken for tests:\s+([\d.]+)/m;
    ($r{rps})      = $out =~ /^Requests per second:\s+([\d.]+)/m;
    ($r{length})   = $out =~ /^Document Length:\s+(\d+)/m;
    die "ab on $h->{what} exited with $status and no report "
        . "(see its error above)\n"
        unless defined $r{complete} && defined $r{time} && $r{time} > 0;
    # a figure built on errors is not a measurement
    die "ab on $h->{what}: $r{complete} of $h->{n} requests completed\n"
        unless $r{complete} == $h->{n};
    die "ab on $h->{what}: $r{non2xx} non-2xx answers\n" if $r{non2xx};
    die "ab on $h->{what}: $r{failed} failed requests\n" if $r{failed};
    return \%r;
}

sub ab { return ab_end(ab_start(@_)) }

# ab_vs(rounds, [label => path, %ab options], ...) -> { label => median
# requests/s, "$label ka" => share of keep-alive answers }: the kinds run
# one after the other, round after round, so that a slow moment of the
# machine falls on all of them alike.
sub ab_vs {
    my ($rounds, @kinds) = @_;
    my (%rps, %ka);
    for my $round (1 .. $rounds) {
        my @seen;
        for my $k (@kinds) {
            my ($label, $path, %o) = @$k;
            my $r = ab($path, %o, what => $label);
            push @{ $rps{$label} }, $r->{rps};
            $ka{"$label ka"} = ($r->{keepalive} // 0) / $r->{complete};
            push @seen, sprintf '%s %.0f/s', $label, $r->{rps};
        }
        note("  round $round: @seen");
    }
    return { %ka, map { $_ => median(@{ $rps{$_} }) } keys %rps };
}

# rate($r, $label) -> "1234/s", flagged when ab's connections were not kept
# alive (then the comparison is not like for like)
sub rate {
    my ($r, $label) = @_;
    my $ka = $r->{"$label ka"};
    return sprintf('%.0f/s', $r->{$label})
        . ($ka < 0.99 ? sprintf(' (keep-alive %.0f%%!)', 100 * $ka) : '');
}

# ab_parallel([cookies], $path, n => per client, port =>) -> (requests/s,
# share of keep-alive answers) of one ab -c 1 per cookie, all at once
# (sessions that lock: one client per session, so that none waits on
# another's lock)
sub ab_parallel {
    my ($cookies, $path, %o) = @_;
    # the wall time from the first start to the last end: ab's own times
    # would overstate the rate of clients that did not run all at once
    my $t0 = now();
    my @h = map { ab_start($path, %o, c => 1, cookie => $_) } @$cookies;
    my ($sum, $ka) = (0, 0);
    for (@h) {
        my $r = ab_end($_);
        $sum += $r->{complete};
        $ka += $r->{keepalive} // 0;
    }
    return ($sum / (now() - $t0), $ka / $sum);
}

# ---------------------------------------------------------------------------
# memcached's own counters

# ops() -> { get, cas, touch, set (non-CAS storage), delete, incr, total,
# bytes_written, bytes_read }
sub ops {
    my $s = mc_stats($mcp);
    my %o = (get => $s->{cmd_get}, touch => $s->{cmd_touch},
             cas => $s->{cas_hits} + $s->{cas_badval} + $s->{cas_misses},
             delete => $s->{delete_hits} + $s->{delete_misses},
             incr => $s->{incr_hits} + $s->{incr_misses}
                   + $s->{decr_hits} + $s->{decr_misses},
             bytes_written => $s->{bytes_written},
             bytes_read => $s->{bytes_read});
    $o{set} = $s->{cmd_set} - $o{cas};    # cmd_set counts every CAS too
    $o{total} = $s->{cmd_get} + $s->{cmd_set} + $s->{cmd_touch}
              + $o{delete} + $o{incr};
    return \%o;
}

sub ops_delta {
    my ($before, $after) = @_;
    return { map { $_ => $after->{$_} - $before->{$_} } keys %$before };
}

# "4.00 (get 2.00, cas 2.00)": per-unit counts, zero kinds left out
sub ops_text {
    my ($d, $n) = @_;
    my @k = grep { $d->{$_} } qw(get cas touch set delete incr);
    return sprintf '%.2f (%s)', $d->{total} / $n,
        join(', ', map { sprintf '%s %.2f', $_, $d->{$_} / $n } @k) || 'none';
}

# ---------------------------------------------------------------------------
# the figures

my %S;          # sessions: name => id
my %C;          # cycle contexts: name => ctx

# 1. writeable cycle of a ~1 KB session, against two static GETs of ~1 KB
#    on one keep-alive connection (the two round trips a cycle needs)
sub fig_cycle_1k {
    my $n = iters(2000, 200);
    my $ctx = $C{'1k'};
    my $len = ro_length($S{'1k'});
    my $static = static_file($len);
    my $c = client();
    my $raw = $c->build('GET', $static);
    my (@cyc, @base);
    for (1 .. $n) {
        my ($t1, $t2);
        ($t1, $c) = timed_get($c, $raw, $len, 'static GET');
        ($t2, $c) = timed_get($c, $raw, $len, 'static GET');
        push @base, $t1 + $t2;
        push @cyc, cycle($ctx);
    }
    my $parts = parts_text($ctx);
    for my $p (50, 90) {
        my $v = pct($p, @cyc);
        my $bp = pct($p, @base);
        row("writeable cycle p$p, 1 KB session",
            ms($v) . ($p == 50 ? " $parts" : ''),
            ms($bp) . ' (2 static 1 KB GETs)', ratio($v, $bp),
            $p == 50 ? '<= 1 ms: ' . verdict($v, '<=', 0.001) : '');
    }
}

# 2. lock hand-off: A holds the session, B asks for it, A PUTs after 5-25
#    ms; from A's PUT answer arriving to B's state arriving. Both arrival
#    times are taken when the socket turns readable (select), before any
#    parsing. Baseline: a read-only GET of the same session (what getting
#    the state costs a client that need not wait).
sub fig_handoff {
    my $n = iters(500, 40);
    my $id = $S{handoff};
    my $ctx = $C{handoff};
    my $len = $ctx->{len};
    my ($hold, $wait) = (client(), client());
    my $p = client();
    my $ro = client();
    my $ro_raw = ro_request($ro, $id);
    my $ro_len = ro_length($id);
    my (@hand, @base);
    get_writeable($hold, $id, $len);
    for (1 .. $n) {
        my $t;
        ($t, $ro) = timed_get($ro, $ro_raw, $ro_len, 'read-only GET');
        push @base, $t;
        $wait = live($wait);
        $wait->send_request('GET', ENDPOINT, key => API_KEY, cookie => $id);
        Time::HiRes::sleep(0.005 + rand 0.020);
        die 'the waiter got an answer while the lock was held: '
            . $wait->describe . "\n" if answered($wait);
        $p = send_put($ctx, $p);
        my %at = arrivals(10, put => $p, waiter => $wait);
        die "no PUT answer within 10 s\n" unless $at{put};
        die "the waiter got nothing within 10 s of the PUT\n"
            unless $at{waiter};
        put_answer($p);
        read_writeable($wait, $len);
        $hold->read_body(10) && $hold->{done}
            or die 'the held GET did not end: ' . $hold->describe . "\n";
        push @hand, $at{waiter} - $at{put};
        ($hold, $wait) = ($wait, $hold);    # B holds now; A waits next
    }
    # give the session back
    put_answer(send_put($ctx, $p));
    $hold->read_body(10);
    my $v = median(@hand);
    my $base = median(@base);
    row('lock hand-off p50 (PUT answered -> next writer has the state)',
        ms($v), ms($base) . ' (read-only GET p50)', ratio($v, $base),
        '<= 1 ms: ' . verdict($v, '<=', 0.001));
}

# arrivals($timeout, name => client, ...) -> (name => time its socket
# turned readable), each undef when it did not within $timeout
sub arrivals {
    my ($timeout, %c) = @_;
    my %by_fd = map { fileno($c{$_}->sock) => $_ } keys %c;
    my $sel = IO::Select->new(map { $c{$_}->sock } keys %c);
    my %t;
    my $deadline = now() + $timeout;
    while ($sel->count && (my $left = $deadline - now()) > 0) {
        for my $fh ($sel->can_read($left)) {
            $t{ $by_fd{ fileno $fh } } = now();
            $sel->remove($fh);
        }
    }
    return %t;
}

# 3. memcached operations per writeable cycle and per read-only GET of a
#    session read over and over; baseline: what memcached counts while the
#    same time passes idle (stats themselves are not commands)
sub fig_ops {
    my $n = iters(500, 100);
    my $ctx = $C{'1k'};
    cycle($ctx) for 1 .. 5;                     # steady state
    my $t0 = now();
    my $before = ops();
    cycle($ctx) for 1 .. $n;
    my $d = ops_delta($before, ops());
    my $idle = idle_ops(now() - $t0);
    row('memcached ops per writeable GET + PUT cycle', ops_text($d, $n),
        sprintf('%.2f (idle, same time)', $idle->{total} / $n), '-',
        '<= 4: ' . verdict($d->{total} / $n, '<=', 4));

    my $m = iters(2000, 300);
    my $id = $S{'1k'};
    my $len = ro_length($id);
    my $c = client();
    my $raw = ro_request($c, $id);
    (undef, $c) = timed_get($c, $raw, $len, 'read-only GET') for 1 .. 20;
    $t0 = now();
    $before = ops();
    (undef, $c) = timed_get($c, $raw, $len, 'read-only GET') for 1 .. $m;
    $d = ops_delta($before, ops());
    $idle = idle_ops(now() - $t0);
    row('memcached ops per read-only GET (same session again)',
        ops_text($d, $m),
        sprintf('%.2f (idle, same time)', $idle->{total} / $m), '-',
        '1: ' . verdict(sprintf('%.2f', $d->{total} / $m), '<=', 1));
}

# idle_ops($secs) -> what memcached counts in $secs seconds of no requests
sub idle_ops {
    my $secs = shift;
    my $before = ops();
    Time::HiRes::sleep($secs);
    return ops_delta($before, ops());
}

# 4. read-only GET throughput against a static file of the same size (the
#    ~1 KB session's state), ab -k -c 8 on the same server
sub fig_ro_throughput {
    my $id = $S{'1k'};
    my $static = static_file(ro_length($id));
    my $n = iters(20000, 5000);
    my $r = ab_vs(ROUNDS,
        ['ro', ENDPOINT, n => $n, c => 8, headers => [$KH, $RH],
         cookie => COOKIE_NAME . "=$id"],
        ['static', $static, n => $n, c => 8]);
    row('read-only GET / static 1 KB, requests/s (ab -k -c 8)',
        rate($r, 'ro'), rate($r, 'static') . ' (' . (-s "$dir$static")
        . ' bytes)', ratio($r->{ro}, $r->{static}),
        '>= 0.75x: ' . verdict($r->{ro} / $r->{static}, '>=', 0.75));
}

# 6. writeable cycle of a 100 KB and of a 1 MB session, against a read-only
#    GET of the same session (the same client reading as many bytes)
sub fig_big_cycles {
    for my $k (['100k', '100 KB', iters(300, 40), 2, undef],
               ['1m', '1 MB', iters(100, 15), undef, 0.008]) {
        my ($name, $label, $n, $max_ratio, $max_ms) = @$k;
        my $id = $S{$name};
        my $ctx = $C{$name};
        my $len = ro_length($id);
        my $c = client();
        my $raw = ro_request($c, $id);
        my (@cyc, @ro);
        delete $ctx->{parts};
        for (1 .. $n) {
            my $t;
            ($t, $c) = timed_get($c, $raw, $len, 'read-only GET');
            push @ro, $t;
            push @cyc, cycle($ctx);
        }
        my ($v, $base) = (median(@cyc), median(@ro));
        row("writeable cycle p50, $label session",
            ms($v) . ' ' . parts_text($ctx),
            ms($base) . " (read-only GET p50, $label)", ratio($v, $base),
            defined $max_ratio
                ? "<= ${max_ratio}x: " . verdict($v / $base, '<=', $max_ratio)
                : sprintf('<= %g ms: %s', $max_ms * 1000,
                          verdict($v, '<=', $max_ms)));
    }
}

# 7. read-only GET throughput of big sessions against a static file of the
#    same number of bytes
sub fig_big_ro {
    for my $k (['1m', '1 MB session', iters(1000, 150), 0.5],
               ['keys10000', '10,000 keys (~200 KB)', iters(4000, 500), 0.5],
               ['keys1000', '1,000 keys (~20 KB)', iters(10000, 1500), undef],
               ['keys10', '10 keys', iters(20000, 3000), undef]) {
        my ($name, $label, $n, $goal) = @$k;
        my $id = $S{$name};
        my $len = ro_length($id);
        my $static = static_file($len);
        my $r = ab_vs(ROUNDS,
            ['ro', ENDPOINT, n => $n, c => 8, headers => [$KH, $RH],
             cookie => COOKIE_NAME . "=$id"],
            ['static', $static, n => $n, c => 8]);
        row("read-only GET / static file, $label, requests/s",
            rate($r, 'ro'), rate($r, 'static') . " ($len bytes)",
            ratio($r->{ro}, $r->{static}),
            defined $goal
                ? ">= ${goal}x: " . verdict($r->{ro} / $r->{static}, '>=', $goal)
                : '');
    }
}

# 8. what a writer waiting on a held 1 MB session costs memcached: the
#    holder alone for a second (baseline), then holder and waiter for a
#    second; the waiter's share is the difference.
sub fig_waiting {
    my $id = $S{'1m'};
    my $ctx = $C{'1m'};
    my $len = $ctx->{len};
    my $hold = client();
    get_writeable($hold, $id, $len);
    Time::HiRes::sleep(0.2);
    my $alone = ops_per_second(1);
    my $wait = client();
    $wait->send_request('GET', ENDPOINT, key => API_KEY, cookie => $id);
    Time::HiRes::sleep(0.2);            # the waiter is waiting by now
    my $both = ops_per_second(1);
    die 'the waiter got an answer while the lock was held: '
        . $wait->describe . "\n" if answered($wait);
    # hand the lock over, then give it back
    my $p = send_put($ctx, client());
    put_answer($p);
    read_writeable($wait, $len);
    $hold->read_body(10);
    put_answer(send_put($ctx, $p));
    $wait->read_body(10);

    my $gets = $both->{get} - $alone->{get};
    my $bytes = $both->{bytes_written} - $alone->{bytes_written};
    my $base = sprintf '%.0f B/s, %.1f gets/s (holder alone)',
        $alone->{bytes_written}, $alone->{get};
    row('memcached bytes per check, writer waiting on 1 MB',
        $gets > 0.5 ? sprintf('%.0f B', $bytes / $gets)
                    : sprintf('no checks (%.0f B/s)', $bytes),
        $base, '-',
        'a few bytes (<= 100 B): ' . ($gets > 0.5 ? verdict($bytes / $gets, '<=', 100)
                                       : verdict($bytes, '<=', 100)));
    row('memcached gets per second, writer waiting on 1 MB',
        sprintf('%.1f/s', $gets), $base, '-', '');
}

# ops_per_second($secs) -> what memcached counted (ops, bytes) over about
# $secs seconds, per second
sub ops_per_second {
    my $secs = shift;
    my $t0 = now();
    my $before = ops();
    Time::HiRes::sleep($secs);
    my $d = ops_delta($before, ops());
    my $dt = now() - $t0;
    $d->{$_} /= $dt for keys %$d;
    return $d;
}

# 5. PHP: the same counter page under SessionRequire On and with
#    php-memcached sessions (persistent and not), on one prefork httpd with
#    mod_php; one ab -k client per session, 8 at once.
sub fig_php {
    my ($php_so) = glob '/usr/lib/apache2/modules/libphp*.so';
    die "mod_php is not installed (libapache2-mod-php)\n" unless $php_so;
    my $pages = "$dir/php";
    write_php_pages($pages);
    $pf = start_httpd(
        mpm => 'prefork', modules => [qw(authz_core alias mime)],
        suite_lock => 0, dir => "$dir/prefork", log_level => 'warn',
        memcached_port => $mc->{port},
        config => $KEEPALIVE . php_conf($php_so, $pages),
        mpm_conf => "StartServers 12\nMinSpareServers 12\nMaxSpareServers 32\n"
                  . "ServerLimit 32\nMaxRequestWorkers 32\n"
                  . "MaxConnectionsPerChild 0\n");
    my $pp = $pf->{port};
    my $has = client($pp)->request('GET', '/php/plain/check.php');
    die "PHP check page answered $has->{code}\n" unless $has->{code} == 200;
    die "the memcached extension is not loaded in mod_php "
        . "(php-memcached: $ENV{BENCH_PHPMC_WHY})\n"
        if $has->{body} !~ /memcached=1/ && $ENV{BENCH_PHPMC_WHY};
    die "the memcached extension is not loaded in mod_php (php-memcached)\n"
        unless $has->{body} =~ /memcached=1/;

    my $k = 8;
    my @rs = map { new_session(port => $pp) } 1 .. $k;
    my @mc = map { sprintf 'benchsess%02d%d', $_, $$ } 1 .. $k;
    my %kinds = (
        rs    => ['/php/rs/page.php',   [map { COOKIE_NAME . "=$_" } @rs]],
        mc    => ['/php/mc/page.php',   [map { "PHPSESSID=$_" } @mc]],
        mcnp  => ['/php/mcnp/page.php', [map { "PHPSESSID=np$_" } @mc]],
        plain => ['/php/plain/page.php', [map { "x=$_" } 1 .. $k]],
    );
    my $n = iters(3000, 800);
    my (%rps, %ka, %ops);
    my $sent = 0;    # requests per session so far, for the checks below
    for my $round (0 .. iters(3, 1)) {
        my @seen;
        # round 0 warms up: sessions made, opcache and connections filled
        my $each = $round ? $n : 50;
        for my $kind (qw(rs mc mcnp plain)) {
            my ($path, $cookies) = @{ $kinds{$kind} };
            my $before = ops();
            my ($rate, $ka) = ab_parallel($cookies, $path, n => $each,
                                          port => $pp);
            next unless $round;
            my $d = ops_delta($before, ops());
            $ops{$kind}{$_} += $d->{$_} for keys %$d;
            push @{ $rps{$kind} }, $rate;
            $ka{"$kind ka"} = $ka;
            push @seen, sprintf '%s %.0f/s', $kind, $rate;
        }
        $sent += $each;
        note("  round $round: @seen") if $round;
    }
    php_sessions_counted($pp, $sent, \@rs, \%kinds);
    my %m = (%ka, map { $_ => median(@{ $rps{$_} }) } keys %rps);
    row('PHP page, SessionRequire On / php-memcached persistent, req/s',
        rate(\%m, 'rs'), rate(\%m, 'mc'), ratio($m{rs}, $m{mc}),
        '>= 1.1x: ' . verdict($m{rs} / $m{mc}, '>=', 1.1));
    row('PHP page, SessionRequire On / php-memcached default, req/s',
        rate(\%m, 'rs'), rate(\%m, 'mcnp'), ratio($m{rs}, $m{mcnp}), '');
    row('PHP page, SessionRequire On / no session at all, req/s',
        rate(\%m, 'rs'), rate(\%m, 'plain'), ratio($m{rs}, $m{plain}), '');
    my $reqs = @rs * $n * iters(3, 1);
    row('memcached ops per PHP request, SessionRequire On',
        ops_text($ops{rs}, $reqs),
        ops_text($ops{mc}, $reqs) . ' (php-memcached)',
        ratio($ops{rs}{total}, $ops{mc}{total}), '');
}

# php_sessions_counted($port, $sent, [ids], \%kinds): dies unless every
# session counted each of its $sent requests: no update was lost under
# SessionRequire, and php-memcached really kept its sessions (a session
# that silently failed to store would make its side look faster)
sub php_sessions_counted {
    my ($pp, $sent, $rs, $kinds) = @_;
    for my $id (@$rs) {
        my ($st) = RS::Test::read_state($pp, $id);
        my $v = $st && $st->{item}{n};
        die "SessionRequire session $id: n is " . ($v // 'missing')
            . " after $sent requests\n" unless ($v // -1) == $sent;
    }
    my $c = client($pp);
    for my $kind (qw(mc mcnp)) {
        my ($path, $cookies) = @{ $kinds->{$kind} };
        for my $cookie (@$cookies) {
            my $r = $c->request('GET', $path, headers => [Cookie => $cookie]);
            my ($v) = $r->{body} =~ /^n=(\d+)$/m;
            die "php-memcached ($kind) session $cookie: n is "
                . ($v // "missing ($r->{code})") . " after $sent + 1 requests\n"
                unless ($v // -1) == $sent + 1;
        }
    }
}

sub write_php_pages {
    my $pages = shift;
    my %page = (
        # the counter under SessionRequire On: the session in, the update out
        'rs/page.php' => <<'PHP',
<?php
$s = json_decode($_SERVER['REMOTE_SESSION'] ?? '{}', true);
$n = ($s['n'] ?? 0) + 1;
header('X-Remote-Session-Update: {"set":{"n":' . $n . '}}');
header('Content-Type: text/plain');
printf("n=%010d\n", $n);
PHP
        # the same counter in a php-memcached session
        'mc/page.php' => <<'PHP',
<?php
session_start();
$n = ($_SESSION['n'] ?? 0) + 1;
$_SESSION['n'] = $n;
header('Content-Type: text/plain');
printf("n=%010d\n", $n);
PHP
        'plain/page.php' => <<'PHP',
<?php
header('Content-Type: text/plain');
printf("n=%010d\n", 1);
PHP
        'plain/check.php' => <<'PHP',
<?php
echo 'memcached=', extension_loaded('memcached') ? 1 : 0, "\n";
PHP
    );
    $page{'mcnp/page.php'} = $page{'mc/page.php'};
    for my $f (sort keys %page) {
        (my $sub = "$pages/$f") =~ s{/[^/]+\z}{};
        File::Path::make_path($sub);
        chmod 0755, $pages, $sub;
        open my $fh, '>', "$pages/$f" or die "$f: $!\n";
        print $fh $page{$f};
        close $fh or die "$f: $!\n";
        chmod 0644, "$pages/$f";
    }
}

sub php_conf {
    my ($so, $pages) = @_;
    my $mcs = "127.0.0.1:$mc->{port}";
    return <<"CONF";
LoadModule php_module "$so"
Alias /php/ "$pages/"
<Directory "$pages">
    Require all granted
    <FilesMatch "\\.php\$">
        SetHandler application/x-httpd-php
    </FilesMatch>
</Directory>
<Directory "$pages/rs">
    SessionRequire On
</Directory>
<Directory "$pages/mc">
    php_admin_value session.save_handler memcached
    php_admin_value session.save_path "$mcs"
    php_admin_flag memcached.sess_persistent On
</Directory>
<Directory "$pages/mcnp">
    php_admin_value session.save_handler memcached
    php_admin_value session.save_path "$mcs"
    php_admin_flag memcached.sess_persistent Off
</Directory>
CONF
}

# ---------------------------------------------------------------------------
# main

File::Path::make_path("$dir/static");
chmod 0755, $dir, "$dir/static";
my $t_start = now();
$mc = start_bench_memcached();
$mcp = $mc->{port};
$ev = start_event_httpd();
$port = $ev->{port};

figure('setup: sessions', sub {
    my %spec = (
        '1k'      => items(4, 240, 'v'),
        handoff   => items(4, 240, 'v'),
        '100k'    => items(4, 25_000, 'v'),
        '1m'      => items(4, 240 * 1024, 'v'),
        keys10    => items(10, 8, 'key-'),
        keys1000  => items(1000, 8, 'key-'),
        keys10000 => items(10_000, 8, 'key-'),
    );
    for my $name (sort keys %spec) {
        $S{$name} = make_session($spec{$name});
        $C{$name} = cycle_ctx($S{$name}, $spec{$name})
            if $name =~ /^(?:1k|handoff|100k|1m)\z/;
    }
}) or do { print_table(); exit 1 };

figure('writeable cycle, 1 KB', \&fig_cycle_1k);
figure('lock hand-off', \&fig_handoff);
figure('memcached ops per request', \&fig_ops);
figure('read-only GET throughput', \&fig_ro_throughput);
figure('big sessions: writeable cycle', \&fig_big_cycles);
figure('big sessions: read-only throughput', \&fig_big_ro);
figure('waiting on a held 1 MB session', \&fig_waiting);
figure('PHP under SessionRequire vs php-memcached', \&fig_php);
row('RSS growth of one child over 100,000 requests',
    'not rerun here: sh bench/rss.sh', '', '', '');

my @crash = log_crashes(join '', map { slurp($_->{error_log}) }
                                 grep { $_ } $ev, $pf);
printf "mod_remote_session bench%s: httpd event MPM (1 child, 64 threads; "
    . "PHP: prefork + mod_php), memcached %s -I 2m, %d CPUs, %.0f s\n",
    $QUICK ? ' (BENCH_QUICK: fewer iterations)' : '',
    RS::Memcached::version($mcp) // '?', scalar(() = slurp('/proc/cpuinfo')
                                               =~ /^processor/mg),
    now() - $t_start;
print "\n";
print_table();
print <<'NOTE';

Latencies are taken by a Perl client (t/lib/RS/Client.pm) on the same
machine and include its own time, as do their baselines; throughputs are
ab -k, the median of interleaved rounds. Hand-off: from A's PUT answer
arriving to the waiting B's state arriving (sockets turning readable).
NOTE
print "\nhttpd error_log: ", (@crash ? join("\n", @crash) : 'no crash'), "\n";
if (@unmeasured) {
    print "not measured: ", join('; ', @unmeasured), "\n";
    exit 1;
}
exit 0;
