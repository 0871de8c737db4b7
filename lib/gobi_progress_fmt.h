/*
 * Copyright (C) the gobi authors
 *
 * The text of the client's progress line, as pure functions of numbers:
 * sizes, durations, a smoothed rate, the ETA and the whole line.  The
 * client (client/gobi_progress.c) keeps the state and draws; these are
 * unit-tested on their own (t/unit/test_progress_fmt.c).
 */

#ifndef _GOBI_PROGRESS_FMT_H_INCLUDED_
#define _GOBI_PROGRESS_FMT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


typedef struct {
    const char  *phase;                    /* "clone", "download", "upload" */
    int64_t      files;
    int64_t      files_total;
    int64_t      bytes;
    int64_t      bytes_total;
    double       rate;                     /* bytes/s, < 0: not known yet */
    int64_t      elapsed_ms;
    int          final;                    /* the last line of a transfer */
} gobi_progress_view_t;


/* "0 B", "512 B", "1.5 KiB", "64.0 MiB", "2.1 GiB" */
const char *gobi_fmt_bytes(char *buf, size_t len, double n);

/* "0:07", "12:34", "1:02:03"; "--:--" for < 0 (unknown) or > 99 hours */
const char *gobi_fmt_duration(char *buf, size_t len, double secs);

/*
 * The rate smoothed over about `tau_ms` (an exponential moving average of
 * the samples `dbytes` per `dt_ms`): a stall or a burst moves it, but a
 * single slow 100 ms does not make the ETA jump.  rate < 0: the first
 * sample becomes the rate.
 */
double gobi_progress_rate(double rate, int64_t dbytes, int64_t dt_ms,
    int64_t tau_ms);

/*
 * Seconds left: bytes left at the rate or, when there are no bytes to
 * move (deletions, empty files), files left at the files' pace so far;
 * -1 when not known yet.
 */
double gobi_progress_eta(const gobi_progress_view_t *v);

/*
 * The line, at most width - 1 columns (a terminal wraps at the last
 * column, and a wrapped line cannot be redrawn with \r):
 *   clone  42% [########..........] 312/501 files, 27.1 MiB/64.0 MiB,
 *       35.2 MiB/s, ETA 0:01
 *   clone 501/501 files, 64.0 MiB in 0:02, 31.8 MiB/s, done
 * The bar goes first, then the tail, when the width is short.  Returns
 * buf.
 */
const char *gobi_progress_line(char *buf, size_t len,
    const gobi_progress_view_t *v, int width);


#endif /* _GOBI_PROGRESS_FMT_H_INCLUDED_ */
