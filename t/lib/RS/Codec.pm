package RS::Codec;

# The binary formats the tests read and write, written from the documents
# (PROTOCOL.md, docs/DESIGN.md), not from the module's C code, so the tests
# check the module against the protocol rather than against itself:
#   - the session state, version 1 (.NET BinaryWriter encoding):
#     enc7/enc_str, encode_state, decode_state (and dec_state, its form
#     for hostile input), item_of/items_of, state_dump
#   - the memcached record (header + state): pack_record, unpack_record,
#     read_record/mc_record/wait_record, the LOCK_* and KIND_* values
#
# A state is a hash:
#   { id, new => 0|1, abandoned => 0|1, readonly => 0|1, timeout => minutes,
#     items => [[key, json bytes], ...], unknown => [key, ...] }
# decode_state adds item => { key => value }, version, length (bytes used)
# and rest (the bytes after the state). encode_state takes it as a list or a
# hash ref, items also as a hash ref (encoded in key order).
#
# Loaded by RS::Test, which re-exports all of it:
#   use RS::Test qw(:all);

use strict;
use warnings;

use Exporter 'import';
use Time::HiRes ();

our @EXPORT_OK = qw(
    enc7 enc_str encode_state decode_state dec_state
    utf8_valid item_of items_of state_dump hexdump ID_RE
    LOCK_FREE LOCK_HELD LOCK_COMMITTED LOCK_GONE
    KIND_NONE KIND_ENDPOINT KIND_EXCLUSIVE
    RECORD_HEAD store_key session_key now_usec random_id random_owner
    pack_record unpack_record read_record mc_record wait_record
);

use constant ID_RE => qr/\A[a-z0-5]{24}\z/;
use constant { LOCK_FREE => 0, LOCK_HELD => 1, LOCK_COMMITTED => 2,
               LOCK_GONE => 3 };
use constant { KIND_NONE => 0, KIND_ENDPOINT => 1, KIND_EXCLUSIVE => 2 };
use constant RECORD_HEAD => 36;       # format 2; format 1: 33

# ---------------------------------------------------------------------------
# the state

# .NET Write7BitEncodedInt of a 32-bit value (taken as unsigned).
sub enc7 {
    my $v = shift() & 0xFFFFFFFF;
    my $o = '';
    while ($v >= 0x80) {
        $o .= chr(($v & 0x7F) | 0x80);
        $v >>= 7;
    }
    return $o . chr($v);
}

# A string: its UTF-8 byte length as 7-bit int, then the bytes. A Perl
# character string is encoded to UTF-8; a byte string goes as it is.
sub enc_str {
    my $s = shift // '';
    utf8::encode($s) if utf8::is_utf8($s);
    return enc7(length $s) . $s;
}

# encode_state(id => ..., new => 0, abandoned => 0, readonly => 0,
#              timeout => 20, items => [[key, json bytes], ...] | {k => v},
#              unknown => [key, ...], version => 1) -> bytes
# (or encode_state({ ... })). Values are written as the bytes given.
sub encode_state {
    my %o = @_ == 1 ? %{ $_[0] } : @_;
    my $items = $o{items} || [];
    $items = [ map { [ $_, $items->{$_} ] } sort keys %$items ]
        if ref $items eq 'HASH';
    my $b = chr($o{version} // 1) . enc_str($o{id});
    $b .= chr($o{$_} ? 1 : 0) for qw(new abandoned readonly);
    $b .= enc7($o{timeout} // 20) . enc7(scalar @$items);
    $b .= enc_str($_->[0]) . enc_str($_->[1]) for @$items;
    my @unknown = @{ $o{unknown} || [] };
    $b .= enc7(scalar @unknown);
    $b .= enc_str($_) for @unknown;
    return $b;
}

# RFC 3629 well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
sub utf8_valid {
    my $s = shift;
    return $s =~ /\A(?:
          [\x00-\x7F]
        | [\xC2-\xDF][\x80-\xBF]
        | \xE0[\xA0-\xBF][\x80-\xBF]
        | [\xE1-\xEC\xEE\xEF][\x80-\xBF]{2}
        | \xED[\x80-\x9F][\x80-\xBF]
        | \xF0[\x90-\xBF][\x80-\xBF]{2}
        | [\xF1-\xF3][\x80-\xBF]{3}
        | \xF4[\x80-\x8F][\x80-\xBF]{2}
    )*\z/x ? 1 : 0;
}

# decode_state($bytes, $allow_trailing, %opt) -> the state hash (above).
# Dies "truncated\n" when the bytes end early (more may come), and with
# another message when they are not a state. Without $allow_trailing, bytes
# after the state are an error. Options, for hostile input:
#   utf8 => 1      the session ID, item keys and unknown keys must be
#                  well-formed UTF-8
#   max => n       a declared string length over n is an error
#   count_check => 1  an item count over (bytes left) / 2 or an unknown
#                  count over the bytes left is "truncated" at once (the
#                  module's early refusal)
sub decode_state {
    my ($b, $allow_trailing, %o) = @_;
    my $p = 0;
    my $n = length $b;
    my $byte = sub {
        die "truncated\n" if $p >= $n;
        return ord substr($b, $p++, 1);
    };
    my $int = sub {
        my ($v, $shift) = (0, 0);
        while (1) {
            my $c = $byte->();
            die "7-bit int longer than 5 bytes at byte $p\n" if $shift == 28
                && $c > 0x0F;
            $v |= ($c & 0x7F) << $shift;
            return $v unless $c & 0x80;
            $shift += 7;
        }
    };
    my $bool = sub {
        my $what = shift;
        my $c = $byte->();
        die "$what is $c, not a bool\n" if $c > 1;
        return $c;
    };
    my $bytes = sub {
        my $what = shift;
        my $len = $int->();
        die "$what: length $len over max\n"
            if defined $o{max} && $len > $o{max};
        die "truncated\n" if $p + $len > $n;
        my $s = substr($b, $p, $len);
        $p += $len;
        die "$what: bad UTF-8\n"
            if $o{utf8} && $what ne 'value' && !utf8_valid($s);
        return $s;
    };
    my %st;
    $st{version} = $byte->();
    die "version $st{version}, not 1\n" unless $st{version} == 1;
    $st{id} = $bytes->('id');
    $st{new} = $bool->('IsNewSession');
    $st{abandoned} = $bool->('IsAbandoned');
    $st{readonly} = $bool->('IsReadOnly');
    $st{timeout} = $int->();
    my $count = $int->();
    # each item needs at least 2 bytes
    die "truncated\n" if $o{count_check} && $count > ($n - $p) / 2;
    for (1 .. $count) {
        my $k = $bytes->('key');
        my $v = $bytes->('value');
        push @{ $st{items} }, [$k, $v];
    }
    $st{items} ||= [];
    $st{item} = { map { @$_ } @{ $st{items} } };
    my $unknown = $int->();
    die "truncated\n" if $o{count_check} && $unknown > $n - $p;
    push @{ $st{unknown} }, $bytes->('unknown key') for 1 .. $unknown;
    $st{unknown} ||= [];
    $st{length} = $p;
    $st{rest} = substr($b, $p);
    die sprintf("%d trailing bytes after the state\n", $n - $p)
        if !$allow_trailing && $p != $n;
    return \%st;
}

# dec_state($bytes, %opt) -> ($state, undef) or (undef, $error), for hostile
# input: $error starts with 'truncated' when more bytes could make it valid;
# the session ID and keys must be well-formed UTF-8. Options: max => largest
# declared length (default 1000000); prefix => 1: accept trailing bytes.
sub dec_state {
    my ($buf, %o) = @_;
    my $st = eval {
        decode_state($buf, $o{prefix}, utf8 => 1,
                     max => $o{max} // 1_000_000, count_check => 1);
    };
    return ($st, undef) if $st;
    (my $err = $@ || 'error') =~ s/\n\z//;
    return (undef, $err);
}

# item_of($state, $key) -> the value's bytes, or undef when absent.
sub item_of {
    my ($s, $key) = @_;
    for my $it (@{ $s->{items} || [] }) {
        return $it->[1] if $it->[0] eq $key;
    }
    return;
}

# items_of($state) -> { key => value, ... } (a copy)
sub items_of {
    return { map { $_->[0] => $_->[1] } @{ $_[0]{items} || [] } };
}

# A one-line description, for diagnostics.
sub state_dump {
    my $st = shift;
    return 'undef' unless $st;
    return sprintf 'id=%s new=%d abandoned=%d readonly=%d timeout=%d '
        . 'items={%s} unknown=[%s]', $st->{id}, $st->{new}, $st->{abandoned},
        $st->{readonly}, $st->{timeout},
        join(', ', map { "$_->[0]=$_->[1]" } @{ $st->{items} }),
        join(', ', @{ $st->{unknown} });
}

sub hexdump {
    return join ' ', map { ord } split //, shift // '';
}

# ---------------------------------------------------------------------------
# the memcached record (docs/DESIGN.md)

sub store_key { return "remote-session:$_[0]" }
BEGIN { *session_key = \&store_key }

sub now_usec { return int(Time::HiRes::time() * 1_000_000) }

sub _random_bytes {
    my $n = shift;
    open my $fh, '<:raw', '/dev/urandom' or die "/dev/urandom: $!\n";
    read($fh, my $b, $n) == $n or die "/dev/urandom: short read\n";
    return $b;
}

# A well-formed session ID (24 characters of a-z0-5) of our own choosing.
sub random_id {
    my @alphabet = ('a' .. 'z', '0' .. '5');
    return join '', map { $alphabet[ord($_) % 32] } split //, _random_bytes(24);
}

sub random_owner { return _random_bytes(16) }

# pack_record(lock => , kind => , owner => 16 bytes, renewed => usec,
#             timeout => minutes, lease => the holder's, seconds (default
#             2, the suite's), flags => (default 0), state => bytes | hash ref,
#             magic => 3 bytes (default "RS\x02"; "RS\x01": format 1, no
#             lease)) -> bytes
sub pack_record {
    my %r = @_;
    my $state = $r{state} // '';
    $state = encode_state($state) if ref $state;
    my $owner = $r{owner} // ("\0" x 16);
    die "RS::Codec: owner must be 16 bytes\n" unless length $owner == 16;
    my $magic = $r{magic} // "RS\x02";
    return $magic
        . chr($r{lock} // 0) . chr($r{kind} // 0) . $owner
        . pack('Q>', $r{renewed} // now_usec())
        . pack('N', $r{timeout} // 20)
        . ($magic eq "RS\x01" ? '' : pack('nC', $r{lease} // 2, $r{flags} // 0))
        . $state;
}

# unpack_record($bytes) -> { magic, version, lock, kind, owner (16 bytes),
# renewed (usec), timeout, lease and flags (format 2), state_bytes, state (decoded,
# or undef when it does not decode), state_error }, or undef when shorter
# than the header.
sub unpack_record {
    my $b = shift;
    return unless defined $b && length $b >= 33;
    my %r;
    $r{magic} = substr($b, 0, 2);
    $r{version} = ord substr($b, 2, 1);
    my $head = $r{version} == 1 ? 33 : RECORD_HEAD;
    return if length $b < $head;
    @r{qw(lease flags)} = unpack 'nC', substr($b, 33, 3) if $head == RECORD_HEAD;
    $r{lock} = ord substr($b, 3, 1);
    $r{kind} = ord substr($b, 4, 1);
    $r{owner} = substr($b, 5, 16);
    $r{renewed} = unpack 'Q>', substr($b, 21, 8);
    $r{timeout} = unpack 'N', substr($b, 29, 4);
    $r{state_bytes} = substr($b, $head);
    $r{state} = eval { decode_state($r{state_bytes}) };
    $r{state_error} = $@ unless $r{state};
    return \%r;
}

# read_record($id, $memcached_port) -> unpack_record of what memcached (the
# suite's by default) holds for session $id (undef when absent).
sub read_record {
    my ($id, $port) = @_;
    return unpack_record(scalar RS::Test::mc_get(store_key($id), $port));
}

# mc_record($id, $port) -> read_record, but dies unless it is a whole,
# well-formed record (magic "RS\x01", a state that decodes).
sub mc_record {
    my $raw = RS::Test::mc_get(store_key($_[0]), $_[1]);
    return unless defined $raw;
    my $r = unpack_record($raw) or die "record shorter than its header\n";
    die "bad magic\n" unless $r->{magic} eq 'RS' && $r->{version} == 2;
    die $r->{state_error} unless $r->{state};
    return $r;
}

# wait_record($id, $cond, $timeout) -> (record, seconds waited) once
# $cond->(record) is true, polling every 10 ms; (last record, undef) when
# $timeout seconds pass first.
sub wait_record {
    my ($id, $cond, $timeout) = @_;
    my $t0 = Time::HiRes::time();
    my $rec;
    while (1) {
        $rec = read_record($id);
        my $dt = Time::HiRes::time() - $t0;
        return ($rec, $dt) if $rec && $cond->($rec);
        return ($rec, undef) if $dt > $timeout;
        Time::HiRes::sleep(0.01);
    }
}

1;
