/*
 * Copyright (C) the gobi authors
 *
 * The error slot, allocation that never returns NULL, clocks.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gobi.h"


gobi_opts_t  gobi_opts;

static char  *gobi_err_msg;
static int    gobi_err_code;


int
gobi_error(int code, const char *fmt, ...)
{
    va_list  ap;
    char    *msg;

    va_start(ap, fmt);

    if (vasprintf(&msg, fmt, ap) < 0) {
        msg = NULL;
    }

    va_end(ap);

    free(gobi_err_msg);
    gobi_err_msg = msg;
    gobi_err_code = code;

    return code;
}


const char *
gobi_error_msg(void)
{
    return gobi_err_msg ? gobi_err_msg : "unknown error";
}


int
gobi_error_code(void)
{
    return gobi_err_code;
}


void
gobi_error_clear(void)
{
    free(gobi_err_msg);
    gobi_err_msg = NULL;
    gobi_err_code = 0;
}


const char *
gobi_exit_name(int code)
{
    static const char  *names[] = {
        "ok", "error", "usage", "auth", "network", "not_found", "conflict",
        "disk", "mass_delete", "server", "exists", "busy"
    };

    if (code < 0 || code >= (int) (sizeof(names) / sizeof(names[0]))) {
        return "error";
    }

    return names[code];
}


static void
gobi_oom(void)
{
    static const char  msg[] = "gobi: out of memory\n";

    if (write(2, msg, sizeof(msg) - 1) < 0) {
        /* nothing more to do */
    }

    _exit(GOBI_EXIT_ERROR);
}


void *
gobi_alloc(size_t size)
{
    void  *p;

    p = malloc(size ? size : 1);
    if (p == NULL) {
        gobi_oom();
    }

    return p;
}


void *
gobi_calloc(size_t size)
{
    void  *p;

    p = calloc(1, size ? size : 1);
    if (p == NULL) {
        gobi_oom();
    }

    return p;
}


void *
gobi_realloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (p == NULL) {
        gobi_oom();
    }

    return p;
}


char *
gobi_strdup(const char *s)
{
    char  *p;

    p = strdup(s);
    if (p == NULL) {
        gobi_oom();
    }

    return p;
}


char *
gobi_strndup(const char *s, size_t len)
{
    char  *p;

    p = gobi_alloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


char *
gobi_sprintf(const char *fmt, ...)
{
    va_list  ap;
    char    *p;
    int      n;

    va_start(ap, fmt);
    n = vasprintf(&p, fmt, ap);
    va_end(ap);

    if (n < 0) {
        gobi_oom();
    }

    return p;
}


int64_t
gobi_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


int64_t
gobi_mono_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


int
gobi_errno_exit(int err)
{
    switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EIO:
    case EROFS:
    case EFBIG:
        return GOBI_EXIT_DISK;
    case ENOENT:
    case ENOTDIR:
        return GOBI_EXIT_NOT_FOUND;
    default:
        return GOBI_EXIT_ERROR;
    }
}

