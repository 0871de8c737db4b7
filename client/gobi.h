/*
 * Copyright (C) the gobi authors
 *
 * The gobi sync client: what every part of it shares.  Exit codes, global
 * options and the error slot.
 *
 * Functions that can fail return 0 or one of the GOBI_EXIT_* codes below and
 * record a one-line message with gobi_error(); main() prints it.
 */

#ifndef _GOBI_H_INCLUDED_
#define _GOBI_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdarg.h>


#define GOBI_VERSION            "0.1"

/* exit codes: documented in client/README.md, keep them stable */
#define GOBI_EXIT_OK            0
#define GOBI_EXIT_ERROR         1          /* anything not listed below */
#define GOBI_EXIT_USAGE         2          /* bad command line, bad URL */
#define GOBI_EXIT_AUTH          3          /* wrong password, not logged in */
#define GOBI_EXIT_NETWORK       4          /* server unreachable or down */
#define GOBI_EXIT_NOT_FOUND     5          /* no such vault, file, folder */
#define GOBI_EXIT_CONFLICT      6          /* unresolved conflicts remain */
#define GOBI_EXIT_DISK          7          /* disk full, local I/O error */
#define GOBI_EXIT_MASS_DELETE   8          /* refused: --allow-mass-delete */
#define GOBI_EXIT_SERVER        9          /* server error, bad answer */
#define GOBI_EXIT_EXISTS        10         /* vault exists, folder in use */
#define GOBI_EXIT_BUSY          11         /* another gobi runs in the dir */


typedef struct {
    int             json;                  /* --json */
    int             verbose;               /* -1 -q, 0, 1 -v, 2 -vv */
    int             allow_mass_delete;
    int             jobs;                  /* transfers in flight */
    const char     *server;                /* --server */
    const char     *device;                /* --device */
    const char     *keep;                  /* resolve --keep */
    int             limit;                 /* log -n */
    int64_t         version;               /* restore --version, 0: none */
    const char     *at;                    /* restore --at */
} gobi_opts_t;


extern gobi_opts_t  gobi_opts;


/* records the message (printf-style) and returns code */
int gobi_error(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *gobi_error_msg(void);
int gobi_error_code(void);
const char *gobi_exit_name(int code);
void gobi_error_clear(void);

/* memory: these exit with a message when out of memory */
void *gobi_alloc(size_t size);
void *gobi_calloc(size_t size);
void *gobi_realloc(void *p, size_t size);
char *gobi_strdup(const char *s);
char *gobi_strndup(const char *s, size_t len);
char *gobi_sprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* unix ms, ns */
int64_t gobi_now_ms(void);
int64_t gobi_mono_ms(void);

/* errno to an exit code: ENOSPC, EDQUOT, EIO -> DISK, ENOENT -> NOT_FOUND */
int gobi_errno_exit(int err);


#endif /* _GOBI_H_INCLUDED_ */
