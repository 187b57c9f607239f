#!/bin/sh
# make test-asan: the whole Apache::Test suite against the module built with
# AddressSanitizer and UBSan. httpd itself is not instrumented, so the
# runtimes are preloaded. Runs in a scratch copy so that the normal build
# in this tree is left alone. Fails on any sanitizer report.
set -eu
top=$(pwd)
work=$(mktemp -d /tmp/rs-asan.XXXXXX)
git ls-files -z | xargs -0 cp --parents -t "$work"
chmod 755 "$work"
cd "$work"
san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
make -s mod_remote_session.so EXTRA_CFLAGS="$san" EXTRA_LDFLAGS="$san" >/dev/null
# httpd's children run as nobody: the reports need a directory they can write
mkdir -p "$work/sanitizer"
chmod 1777 "$work/sanitizer"
reports="$work/sanitizer/report"
# Only httpd gets the runtimes: perl, python and memcached stay as they are.
real=$(apxs -q SBINDIR)/$(apxs -q TARGET)
cat > "$work/httpd-asan" <<WRAP
#!/bin/sh
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \\
ASAN_OPTIONS="detect_leaks=0:log_path=$reports:abort_on_error=1" \\
UBSAN_OPTIONS="print_stacktrace=1:log_path=$reports" \\
exec $real "\$@"
WRAP
chmod 755 "$work/httpd-asan"
status=0
HTTPD="$work/httpd-asan" sh t/run-suite.sh "$@" || status=$?
if ls "$reports".* >/dev/null 2>&1; then
    echo "test-asan: sanitizer reports:" >&2
    cat "$reports".* >&2
    status=1
fi
if grep -q "exit signal" t/logs/error_log 2>/dev/null; then
    echo "test-asan: an httpd child died of a signal:" >&2
    grep "exit signal" t/logs/error_log >&2
    status=1
fi
[ $status = 0 ] && cd "$top" && rm -rf "$work"
[ $status = 0 ] || echo "test-asan: FAILED; the scratch build is kept in $work" >&2
exit $status
