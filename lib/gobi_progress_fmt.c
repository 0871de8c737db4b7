/*
 * Copyright (C) the gobi authors
 */

#include <stdio.h>
#include <string.h>

#include "gobi_progress_fmt.h"


#define GOBI_BAR_WIDTH  20
#define GOBI_BAR_MIN    8


const char *
gobi_fmt_bytes(char *buf, size_t len, double n)
{
    static const char  *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int                  u;

    if (n < 0) {
        n = 0;
    }

    /* 1023.96 KiB would print as "1024.0 KiB": move up a unit first */
    for (u = 0; n >= 1023.95 && u < 4; u++) {
        n /= 1024;
    }

    if (u == 0) {
        snprintf(buf, len, "%.0f %s", n, units[u]);

    } else {
        snprintf(buf, len, "%.1f %s", n, units[u]);
    }

    return buf;
}


const char *
gobi_fmt_duration(char *buf, size_t len, double secs)
{
    long long  s;

    if (secs < 0 || secs >= 100.0 * 3600) {
        snprintf(buf, len, "--:--");
        return buf;
    }

    /* round up: "0:00" left while bytes are still moving reads wrong */
    s = (long long) secs;
    if (s < secs) {
        s++;
    }

    if (s < 3600) {
        snprintf(buf, len, "%lld:%02lld", s / 60, s % 60);

    } else {
        snprintf(buf, len, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60,
                 s % 60);
    }

    return buf;
}


double
gobi_progress_rate(double rate, int64_t dbytes, int64_t dt_ms,
    int64_t tau_ms)
{
    double  sample, alpha;

    if (dt_ms <= 0) {
        return rate;
    }

    sample = dbytes * 1000.0 / dt_ms;

    if (rate < 0) {
        return sample < 0 ? 0 : sample;
    }

    /* dt / (tau + dt): 1 - e^(-dt/tau) closely enough, without libm */
    alpha = (double) dt_ms / (double) (tau_ms + dt_ms);
    rate += alpha * (sample - rate);

    return rate < 0 ? 0 : rate;
}


double
gobi_progress_eta(const gobi_progress_view_t *v)
{
    double  left;

    if (v->bytes_total > 0 && v->bytes < v->bytes_total) {
        if (v->rate <= 0) {
            return -1;
        }

        return (v->bytes_total - v->bytes) / v->rate;
    }

    if (v->files >= v->files_total) {
        return 0;
    }

    if (v->files <= 0 || v->elapsed_ms <= 0) {
        return -1;
    }

    /* nothing left to move but files to finish: at the pace so far */
    left = (double) (v->files_total - v->files);

    return left * v->elapsed_ms / 1000.0 / v->files;
}


const char *
gobi_progress_line(char *buf, size_t len, const gobi_progress_view_t *v,
    int width)
{
    char    b1[32], b2[32], r[32], d[32], tail[192], bar[GOBI_BAR_WIDTH + 3];
    double  frac, rate;
    int     n, bw, fill, pct;

    if (len == 0) {
        return buf;
    }

    if (v->final) {
        rate = v->elapsed_ms > 0 ? v->bytes * 1000.0 / v->elapsed_ms : 0;

        n = snprintf(tail, sizeof(tail), "%lld/%lld files, %s in %s, %s/s, "
                     "%s", (long long) v->files, (long long) v->files_total,
                     gobi_fmt_bytes(b1, sizeof(b1), v->bytes),
                     gobi_fmt_duration(d, sizeof(d), v->elapsed_ms / 1000.0),
                     gobi_fmt_bytes(r, sizeof(r), rate),
                     v->files < v->files_total ? "stopped" : "done");
        bw = 0;
        pct = 100;

    } else {
        if (v->rate < 0) {
            snprintf(r, sizeof(r), "--");

        } else {
            gobi_fmt_bytes(r, sizeof(r), v->rate);
        }

        n = snprintf(tail, sizeof(tail), "%lld/%lld files, %s/%s, %s/s, "
                     "ETA %s",
                     (long long) v->files, (long long) v->files_total,
                     gobi_fmt_bytes(b1, sizeof(b1), v->bytes),
                     gobi_fmt_bytes(b2, sizeof(b2), v->bytes_total), r,
                     gobi_fmt_duration(d, sizeof(d), gobi_progress_eta(v)));

        frac = 0;
        if (v->bytes_total > 0) {
            frac = (double) v->bytes / v->bytes_total;

        } else if (v->files_total > 0) {
            frac = (double) v->files / v->files_total;
        }

        frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
        pct = (int) (frac * 100);

        /* "phase 100% [" + bar + "] " + tail, within width - 1 */
        bw = width - 1 - (int) strlen(v->phase) - 9 - n;
        bw = bw > GOBI_BAR_WIDTH ? GOBI_BAR_WIDTH : bw;

        if (bw >= GOBI_BAR_MIN) {
            fill = (int) (frac * bw);
            bar[0] = '[';
            memset(bar + 1, '#', fill);
            memset(bar + 1 + fill, '.', bw - fill);
            bar[bw + 1] = ']';
            bar[bw + 2] = '\0';

        } else {
            bw = 0;
        }
    }

    if (n < 0) {
        tail[0] = '\0';
    }

    if (v->final) {
        snprintf(buf, len, "%s %s", v->phase, tail);

    } else if (bw) {
        snprintf(buf, len, "%s %3d%% %s %s", v->phase, pct, bar, tail);

    } else {
        snprintf(buf, len, "%s %3d%% %s", v->phase, pct, tail);
    }

    /* a narrow terminal: cut, never wrap */
    if (width > 1 && strlen(buf) > (size_t) width - 1) {
        buf[width - 1] = '\0';
    }

    return buf;
}
