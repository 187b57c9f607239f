#!/bin/sh
# t/50_contention.t and bench/: under SessionRequire On, reads the "counter"
# item of REMOTE_SESSION (0 when absent) and answers
#   X-Remote-Session-Update: {"set":{"counter":<counter+1>}}
# with the body "<REMOTE_SESSION_ID> <REMOTE_SESSION_NEW> <counter+1>".
# A shell script, not Perl: it runs under the session's lock, so every
# millisecond it takes is a millisecond all other writers wait.
s=${REMOTE_SESSION:-}
case $s in
*'"counter":'*)
    v=${s#*\"counter\":}
    v=${v%%[,\}]*}
    ;;
*)
    v=0
    ;;
esac
case $v in
''|*[!0-9]*)
    printf 'Status: 500\r\nContent-Type: text/plain\r\n\r\nbad counter: %s\n' "$s"
    exit 0
    ;;
esac
n=$((v + 1))
printf 'Content-Type: text/plain\r\nX-Remote-Session-Update: {"set":{"counter":%d}}\r\n\r\n%s %s %d\n' \
    "$n" "${REMOTE_SESSION_ID:-}" "${REMOTE_SESSION_NEW:-}" "$n"
