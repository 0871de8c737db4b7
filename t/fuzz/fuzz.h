/*
 * Copyright (C) the gobi authors
 *
 * Helpers for the libFuzzer targets: a reader of the fuzz input as a
 * stream of choices, and a check that aborts (so that libFuzzer keeps the
 * input) with a line saying which invariant broke.
 */

#ifndef _GOBI_FUZZ_H_INCLUDED_
#define _GOBI_FUZZ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define fuzz_check(cond, ...)                                                \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz check failed at %s:%d: %s: ",              \
                    __FILE__, __LINE__, #cond);                              \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
            abort();                                                         \
        }                                                                    \
    } while (0)


typedef struct {
    const uint8_t      *p;
    size_t              left;
} fuzz_in_t;


/* the next byte, 0 when the input is used up (so every input ends) */
static inline unsigned
fuzz_byte(fuzz_in_t *in)
{
    if (in->left == 0) {
        return 0;
    }

    in->left--;

    return *in->p++;
}


/* a choice in [0, n) */
static inline unsigned
fuzz_pick(fuzz_in_t *in, unsigned n)
{
    return n ? fuzz_byte(in) % n : 0;
}


#endif /* _GOBI_FUZZ_H_INCLUDED_ */
