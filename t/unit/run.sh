#!/bin/sh
# Runs the C unit test binaries given as arguments, shows their output, and
# ends with one `N passed, N failed` line summing them all. Exits non-zero
# when any check failed, or a binary crashed, exited non-zero or printed no
# summary line (each such binary counts as one more failure).
passed=0
failed=0
bad=""
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
for bin in "$@"; do
    case $bin in */*) ;; *) bin=./$bin ;; esac
    echo "== $bin"
    "$bin" >"$out" 2>&1
    rc=$?
    cat "$out"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
    f=0
    if [ -n "$line" ]; then
        passed=$((passed + ${line%% *}))
        f=${line#*, }
        f=${f%% *}
        failed=$((failed + f))
    fi
    if [ -z "$line" ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
        echo "$bin: exit status $rc without a summary of its failures (crashed?)"
        failed=$((failed + 1))
    fi
    [ "$rc" -ne 0 ] && bad="$bad $bin"
done
[ -n "$bad" ] && echo "failing:$bad"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ -z "$bad" ]
