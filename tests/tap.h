/* tap.h: minimal Test Anything Protocol output for automake's tap-driver.sh.
 * Plan at the end (tap_done) so tests may decide their count as they go; a
 * crash before tap_done shows up as "too few tests run". */
#ifndef JC_TAP_H
#define JC_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_count_;
static int tap_failures_;

/* Print one test point; returns cond so callers can add diagnostics. */
static inline int tap_ok(int cond, const char *fmt, ...)
{
    va_list ap;
    printf("%s %d - ", cond ? "ok" : "not ok", ++tap_count_);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (!cond)
        tap_failures_++;
    return cond;
}

/* Diagnostic line (ignored by the driver, kept in the .log). */
static inline void tap_diag(const char *fmt, ...)
{
    va_list ap;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

/* Skip the whole test file: the only honest skip (exit 77 is an ERROR). */
static inline void tap_skip_all(const char *reason)
{
    printf("1..0 # SKIP %s\n", reason);
    exit(0);
}

static inline int tap_done(void)
{
    printf("1..%d\n", tap_count_);
    return tap_failures_ ? 1 : 0;
}

#endif
