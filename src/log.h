/*
 * Where the session layer (lock.c) logs: a context of the caller's, so
 * that the layer needs no request_rec. In httpd it is the request's error
 * log (status.c, rs_log_request); the C unit tests collect the lines.
 */
#ifndef RS_LOG_H
#define RS_LOG_H

typedef struct rs_log rs_log;
struct rs_log {
    /* 1 when a line of level would be kept: no formatting otherwise */
    int (*wants)(const rs_log *log, int level);
    /* level: an APLOG_* level; msg: the whole line, formatted */
    void (*emit)(const rs_log *log, const char *file, int line, int level,
                 const char *msg);
    void *ctx;
};

void rs_log_at(const rs_log *log, const char *file, int line, int level,
               const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define RS_LOGF(log, level, ...) \
    rs_log_at((log), __FILE__, __LINE__, (level), __VA_ARGS__)

#endif
