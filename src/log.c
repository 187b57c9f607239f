/*
 * Lines are formatted here, on the stack: a log line needs no pool, and a
 * session layer without one of its own must not grow the caller's.
 */
#include <apr_strings.h>
#include "log.h"

void rs_log_at(const rs_log *log, const char *file, int line, int level,
               const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (!log->wants(log, level)) {
        return;
    }
    va_start(ap, fmt);
    apr_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log->emit(log, file, line, level, msg);
}
