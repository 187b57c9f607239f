/*
 * A tiny assertion framework for the C unit tests. Each test binary includes
 * this once, calls CHECK/CHECK_BYTES/CHECK_STR, and ends main with
 * `return UNIT_DONE();`, which prints `N passed, N failed` on its own line
 * and returns non-zero when any check failed. t/unit/run.sh sums those lines.
 */
#ifndef RS_UNIT_H
#define RS_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;

/* Line-buffered, so that a crash still shows every line printed before it. */
__attribute__((constructor)) static void unit_init(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
}

#define CHECK(cond, ...) do {                                           \
    if (cond) {                                                         \
        unit_passed++;                                                  \
    } else {                                                            \
        unit_failed++;                                                  \
        printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
        printf(__VA_ARGS__);                                            \
        printf("\n");                                                   \
    }                                                                   \
} while (0)

__attribute__((unused)) static void unit_hex(const char *label, const void *buf, size_t len)
{
    const unsigned char *b = buf;
    size_t i;
    printf("    %s (%zu bytes):", label, len);
    for (i = 0; i < len && i < 64; i++)
        printf(" %u", b[i]);
    printf("%s\n", len > 64 ? " ..." : "");
}

/* Byte-exact comparison; prints both sides (decimal, as PROTOCOL.md does). */
#define CHECK_BYTES(got, gotlen, exp, explen) do {                      \
    const void *ub_g = (got), *ub_e = (exp);                            \
    size_t ub_gl = (gotlen), ub_el = (explen);                          \
    if (ub_g && ub_gl == ub_el && memcmp(ub_g, ub_e, ub_el) == 0) {     \
        unit_passed++;                                                  \
    } else {                                                            \
        unit_failed++;                                                  \
        printf("FAIL %s:%d: bytes of %s differ from %s\n",              \
               __FILE__, __LINE__, #got, #exp);                         \
        unit_hex("got", ub_g ? ub_g : "", ub_g ? ub_gl : 0);           \
        unit_hex("expected", ub_e, ub_el);                              \
    }                                                                   \
} while (0)

/* NUL-terminated strings, NULL-safe. */
#define CHECK_STR(got, exp) do {                                        \
    const char *us_g = (got), *us_e = (exp);                            \
    CHECK(us_g && strcmp(us_g, us_e) == 0, "got \"%s\", expected \"%s\"", \
          us_g ? us_g : "(null)", us_e);                                \
} while (0)

#define UNIT_DONE() (printf("%d passed, %d failed\n", unit_passed,      \
                            unit_failed), unit_failed ? 1 : 0)

#endif
