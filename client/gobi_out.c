/*
 * Copyright (C) the gobi authors
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gobi_out.h"


typedef struct {
    int          active;
    const char  *what;
    int64_t      files_total;
    int64_t      bytes_total;
    int64_t      files;
    int64_t      bytes;
    int64_t      start;
    int64_t      last_draw;
    int          drawn;
} gobi_progress_t;


static int              gobi_tty;
static gobi_progress_t  gobi_prog;


static void gobi_progress_draw(int final);


void
gobi_out_init(void)
{
    const char  *term;

    term = getenv("TERM");
    gobi_tty = isatty(2) && !(term && strcmp(term, "dumb") == 0);
}


static void
gobi_progress_clear(void)
{
    if (gobi_prog.drawn) {
        fputs("\r\033[K", stderr);
        gobi_prog.drawn = 0;
    }
}


void
gobi_out(const char *fmt, ...)
{
    va_list  ap;

    if (gobi_opts.verbose < 0 || gobi_opts.json) {
        return;
    }

    gobi_progress_clear();

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);

    putchar('\n');
    fflush(stdout);
}


void
gobi_out_v(const char *fmt, ...)
{
    va_list  ap;

    if (gobi_opts.verbose < 1 || gobi_opts.json) {
        return;
    }

    gobi_progress_clear();

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);

    putchar('\n');
    fflush(stdout);
}


void
gobi_warn(const char *fmt, ...)
{
    va_list  ap;

    if (gobi_opts.verbose < 0) {
        return;
    }

    gobi_progress_clear();
    fflush(stdout);

    fputs("gobi: ", stderr);

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);

    fputc('\n', stderr);
}


void
gobi_out_error(int code)
{
    yajl_gen  g;

    gobi_progress_clear();
    fflush(stdout);

    fprintf(stderr, "gobi: %s\n", gobi_error_msg());

    if (gobi_opts.json) {
        g = gobi_json_out_new();
        yajl_gen_map_open(g);
        gobi_jstr(g, "error");
        yajl_gen_map_open(g);
        gobi_jkv_str(g, "code", gobi_exit_name(code));
        gobi_jkv_str(g, "message", gobi_error_msg());
        gobi_jkv_int(g, "exit", code);
        yajl_gen_map_close(g);
        yajl_gen_map_close(g);
        gobi_json_out_end(g);
    }
}


void
gobi_progress_start(const char *what, int64_t files, int64_t bytes)
{
    gobi_prog.active = gobi_tty && gobi_opts.verbose >= 0 && !gobi_opts.json;
    gobi_prog.what = what;
    gobi_prog.files_total = files;
    gobi_prog.bytes_total = bytes;
    gobi_prog.files = 0;
    gobi_prog.bytes = 0;
    gobi_prog.start = gobi_mono_ms();
    gobi_prog.last_draw = 0;
}


void
gobi_progress_add_total(int64_t files, int64_t bytes)
{
    gobi_prog.files_total += files;
    gobi_prog.bytes_total += bytes;
}


void
gobi_progress(int64_t files, int64_t bytes)
{
    int64_t  now;

    gobi_prog.files += files;
    gobi_prog.bytes += bytes;

    if (!gobi_prog.active) {
        return;
    }

    now = gobi_mono_ms();

    if (now - gobi_prog.last_draw < 100) {
        return;
    }

    gobi_prog.last_draw = now;
    gobi_progress_draw(0);
}


void
gobi_progress_end(void)
{
    if (gobi_prog.active && gobi_prog.files_total > 0) {
        gobi_progress_draw(1);
    }

    gobi_progress_clear();
    gobi_prog.active = 0;
}


static void
gobi_progress_draw(int final)
{
    char     b1[32], b2[32], b3[32], eta[32];
    double   secs, rate, frac;
    int      i, width, fill;

    secs = (gobi_mono_ms() - gobi_prog.start) / 1000.0;
    rate = secs > 0.05 ? gobi_prog.bytes / secs : 0;

    frac = 0;
    if (gobi_prog.bytes_total > 0) {
        frac = (double) gobi_prog.bytes / gobi_prog.bytes_total;

    } else if (gobi_prog.files_total > 0) {
        frac = (double) gobi_prog.files / gobi_prog.files_total;
    }

    if (frac > 1) {
        frac = 1;
    }

    eta[0] = '\0';
    if (!final && frac > 0.01 && secs > 0.5) {
        snprintf(eta, sizeof(eta), " ETA %.0fs", secs / frac - secs);
    }

    width = 24;
    fill = (int) (frac * width);

    fprintf(stderr, "\r\033[K%s [", gobi_prog.what);

    for (i = 0; i < width; i++) {
        fputc(i < fill ? '#' : '.', stderr);
    }

    fprintf(stderr, "] %lld/%lld files, %s/%s, %s/s%s",
            (long long) gobi_prog.files, (long long) gobi_prog.files_total,
            gobi_human_bytes(b1, sizeof(b1), gobi_prog.bytes),
            gobi_human_bytes(b2, sizeof(b2), gobi_prog.bytes_total),
            gobi_human_bytes(b3, sizeof(b3), rate), eta);

    gobi_prog.drawn = 1;
    fflush(stderr);
}


static void
gobi_json_print(void *ctx, const char *s, size_t len)
{
    (void) ctx;

    fwrite(s, 1, len, stdout);
}


yajl_gen
gobi_json_out_new(void)
{
    yajl_gen  g;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        fputs("gobi: out of memory\n", stderr);
        exit(GOBI_EXIT_ERROR);
    }

    yajl_gen_config(g, yajl_gen_print_callback, gobi_json_print, NULL);
    yajl_gen_config(g, yajl_gen_validate_utf8, 0);

    return g;
}


void
gobi_json_out_end(yajl_gen g)
{
    yajl_gen_free(g);
    putchar('\n');
    fflush(stdout);
}


void
gobi_jstr(yajl_gen g, const char *s)
{
    if (s == NULL) {
        yajl_gen_null(g);
        return;
    }

    yajl_gen_string(g, (const unsigned char *) s, strlen(s));
}


void
gobi_jkv_str(yajl_gen g, const char *key, const char *val)
{
    gobi_jstr(g, key);
    gobi_jstr(g, val);
}


void
gobi_jkv_int(yajl_gen g, const char *key, int64_t val)
{
    gobi_jstr(g, key);
    yajl_gen_integer(g, val);
}


void
gobi_jkv_bool(yajl_gen g, const char *key, int val)
{
    gobi_jstr(g, key);
    yajl_gen_bool(g, val);
}


const char *
gobi_human_bytes(char *buf, size_t len, double n)
{
    static const char  *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int                  u;

    for (u = 0; n >= 1024 && u < 4; u++) {
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
gobi_time_str(char *buf, size_t len, int64_t ms)
{
    time_t     t;
    struct tm  tm;

    t = (time_t) (ms / 1000);

    if (ms <= 0 || localtime_r(&t, &tm) == NULL
        || strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
    {
        snprintf(buf, len, "-");
    }

    return buf;
}
