/*
 * Copyright (C) the gobi authors
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gobi_out.h"
#include "gobi_progress.h"


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
