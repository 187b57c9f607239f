#!/bin/sh
# Builds every fuzz/fuzz_<name>.c as a libFuzzer target with ASan and UBSan
# and runs each for SECONDS seconds on a copy of fuzz/corpus_<name>/ (seeds),
# kept in fuzz/build/ so the repository's corpus is never written to, with
# fuzz/fuzz_<name>.dict as its dictionary when there is one.
# Exits non-zero when a target fails to build or finds anything; the input
# that triggered it is left as fuzz/build/<target>-crash-* (or -leak-, ...).
#
#   sh fuzz/run.sh SECONDS
#
# FUZZ_SRCS (default: src/*.c) narrows the sources compiled; FUZZ_TARGETS
# (default: fuzz/fuzz_*.c) the targets run; FUZZ_CC picks the compiler
# (default clang).
set -eu

secs=${1:-30}
cd "$(dirname "$0")/.."

CC=${FUZZ_CC:-clang}
APXS=${APXS:-$(command -v apxs2 || command -v apxs)}
APR_CONFIG=$("$APXS" -q APR_CONFIG)
APU_CONFIG=$("$APXS" -q APU_CONFIG)
INCLUDES="-Iinclude -Isrc $("$APR_CONFIG" --includes --cppflags) \
  $("$APU_CONFIG" --includes) -I$("$APXS" -q INCLUDEDIR)"
CFLAGS="-g -O1 -std=gnu99 -fsanitize=address,undefined -fno-sanitize-recover=all"
LIBS="$("$APR_CONFIG" --link-ld --libs) $("$APU_CONFIG" --link-ld) \
  -ljansson -lmemcached -lmemcachedutil"
build=fuzz/build

# The module's sources, instrumented for coverage, built here with clang
# (never the gcc-built src/*.o). An archive, so that a target links only the
# objects it uses: those that need httpd's symbols stay out.
mkdir -p "$build/obj"
rm -f "$build"/obj/*.o "$build/librs.a"
for src in ${FUZZ_SRCS:-src/*.c}; do
    obj=$build/obj/$(basename "$src" .c).o
    # shellcheck disable=SC2086
    $CC $CFLAGS -fsanitize=fuzzer-no-link $INCLUDES -c -o "$obj" "$src"
done
ar rcs "$build/librs.a" "$build"/obj/*.o

status=0
for target in ${FUZZ_TARGETS:-fuzz/fuzz_*.c}; do
    [ -f "$target" ] || continue
    name=$(basename "$target" .c)
    corpus=$build/corpus_${name#fuzz_}
    # shellcheck disable=SC2086
    $CC $CFLAGS -fsanitize=fuzzer $INCLUDES -o "$build/$name" "$target" \
        "$build/librs.a" $LIBS
    mkdir -p "$corpus"
    if [ -d "fuzz/corpus_${name#fuzz_}" ]; then
        cp -p "fuzz/corpus_${name#fuzz_}"/* "$corpus"/ 2>/dev/null || true
    fi
    dict=
    if [ -f "fuzz/$name.dict" ]; then
        dict=-dict=fuzz/$name.dict
    fi
    echo "== $name: $secs s"
    # shellcheck disable=SC2086
    if ! "$build/$name" -max_total_time="$secs" -timeout=25 \
            -artifact_prefix="$build/$name-" -print_final_stats=1 $dict \
            "$corpus"
    then
        echo "$name: FAILED (see $build/$name-*)"
        status=1
    fi
done
exit $status
