/*
 * Copyright (C) the gobi authors
 *
 * A minimal TAP producer for the C unit tests: prove-compatible output,
 * non-zero exit on any failure.
 */

#ifndef _GOBI_UNIT_H_INCLUDED_
#define _GOBI_UNIT_H_INCLUDED_


#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int  unit_n, unit_failed;


#define ok(cond, ...)                                                        \
    do {                                                                     \
        unit_n++;                                                            \
        if (cond) {                                                          \
            printf("ok %d - ", unit_n);                                      \
        } else {                                                             \
            unit_failed++;                                                   \
            printf("not ok %d - ", unit_n);                                  \
        }                                                                    \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
        if (!(cond)) {                                                       \
            printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                    \
    } while (0)

#define is_int(got, want, ...)                                               \
    do {                                                                     \
        long long  g_ = (long long) (got), w_ = (long long) (want);          \
        ok(g_ == w_, __VA_ARGS__);                                           \
        if (g_ != w_) {                                                      \
            printf("#   got %lld, want %lld\n", g_, w_);                     \
        }                                                                    \
    } while (0)

#define is_str(got, want, ...)                                               \
    do {                                                                     \
        const char *g_ = (got), *w_ = (want);                                \
        int eq_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_;               \
        ok(eq_, __VA_ARGS__);                                                \
        if (!eq_) {                                                          \
            printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)",     \
                   w_ ? w_ : "(null)");                                      \
        }                                                                    \
    } while (0)

#define done_testing()                                                       \
    do {                                                                     \
        printf("1..%d\n", unit_n);                                           \
        return unit_failed ? 1 : 0;                                          \
    } while (0)


#endif /* _GOBI_UNIT_H_INCLUDED_ */
