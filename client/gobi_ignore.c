/*
 * Copyright (C) the gobi authors
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gobi.h"
#include "gobi_ignore.h"


#define GOBI_IGNORE_FILE_MAX  (1024 * 1024)


typedef struct {
    char       *pat;
    unsigned    neg:1;
    unsigned    dir_only:1;
    unsigned    anchored:1;
} gobi_ignore_rule_t;


struct gobi_ignore_s {
    gobi_ignore_rule_t  *rules;
    size_t               n;
    size_t               cap;
};


static const char  gobi_ignore_defaults[] =
    "*.swp\n"
    "*.swo\n"
    "*.swx\n"
    "*.swpx\n"
    "~$*\n"
    ".#*\n"
    "#*#\n"
    "4913\n"
    "*~\n"
    ".~lock.*#\n";


static void
gobi_ignore_add_line(gobi_ignore_t *ig, const char *line, size_t len)
{
    gobi_ignore_rule_t  *r;
    char                *pat;
    size_t               i, n;
    int                  neg, dir_only, anchored;

    /* trailing spaces go unless escaped */
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\r'
                       || line[len - 1] == '\t'))
    {
        if (len >= 2 && line[len - 2] == '\\') {
            break;
        }

        len--;
    }

    if (len == 0 || line[0] == '#') {
        return;
    }

    neg = 0;

    if (line[0] == '!') {
        neg = 1;
        line++;
        len--;
    }

    dir_only = 0;

    while (len > 0 && line[len - 1] == '/') {
        dir_only = 1;
        len--;
    }

    anchored = 0;

    if (len > 0 && line[0] == '/') {
        anchored = 1;

        while (len > 0 && line[0] == '/') {
            line++;
            len--;
        }
    }

    if (len == 0) {
        return;
    }

    for (i = 0; i < len; i++) {
        if (line[i] == '/') {
            anchored = 1;
        }
    }

    /* "**" followed by "/" at the start matches at any depth */
    pat = gobi_strndup(line, len);

    /* an unescaped leading "\#" or "\!" is literal: drop the backslash */
    if (pat[0] == '\\' && (pat[1] == '#' || pat[1] == '!')) {
        n = strlen(pat);
        memmove(pat, pat + 1, n);
    }

    if (ig->n == ig->cap) {
        ig->cap = ig->cap ? ig->cap * 2 : 32;
        ig->rules = gobi_realloc(ig->rules,
                                 ig->cap * sizeof(gobi_ignore_rule_t));
    }

    r = &ig->rules[ig->n++];
    r->pat = pat;
    r->neg = neg;
    r->dir_only = dir_only;
    r->anchored = anchored;
}


static void
gobi_ignore_add_text(gobi_ignore_t *ig, const char *text, size_t len)
{
    const char  *p, *end, *nl;

    p = text;
    end = text + len;

    while (p < end) {
        nl = memchr(p, '\n', end - p);
        if (nl == NULL) {
            nl = end;
        }

        gobi_ignore_add_line(ig, p, nl - p);
        p = nl + 1;
    }
}


gobi_ignore_t *
gobi_ignore_new(const char *text, size_t len)
{
    gobi_ignore_t  *ig;

    ig = gobi_calloc(sizeof(gobi_ignore_t));

    gobi_ignore_add_text(ig, gobi_ignore_defaults,
                         sizeof(gobi_ignore_defaults) - 1);

    if (text) {
        gobi_ignore_add_text(ig, text, len);
    }

    return ig;
}


gobi_ignore_t *
gobi_ignore_load(int rootfd)
{
    gobi_ignore_t  *ig;
    char           *buf;
    size_t          len;
    ssize_t         n;
    int             fd;

    fd = openat(rootfd, ".gobiignore", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return gobi_ignore_new(NULL, 0);
    }

    buf = gobi_alloc(GOBI_IGNORE_FILE_MAX);
    len = 0;

    while (len < GOBI_IGNORE_FILE_MAX) {
        n = read(fd, buf + len, GOBI_IGNORE_FILE_MAX - len);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            break;
        }

        len += n;
    }

    close(fd);

    ig = gobi_ignore_new(buf, len);
    free(buf);

    return ig;
}


void
gobi_ignore_free(gobi_ignore_t *ig)
{
    size_t  i;

    if (ig == NULL) {
        return;
    }

    for (i = 0; i < ig->n; i++) {
        free(ig->rules[i].pat);
    }

    free(ig->rules);
    free(ig);
}


/* [...] at p (after '['); *pend gets the char after ']' */
static int
gobi_ignore_class(const char *p, char c, const char **pend)
{
    int   neg, match;
    char  lo, hi;

    neg = 0;

    if (*p == '!' || *p == '^') {
        neg = 1;
        p++;
    }

    match = 0;

    if (*p == ']') {
        match = (c == ']');
        p++;
    }

    while (*p && *p != ']') {
        lo = *p;

        if (lo == '\\' && p[1]) {
            lo = *++p;
        }

        if (p[1] == '-' && p[2] && p[2] != ']') {
            hi = p[2];
            p += 3;

            if ((unsigned char) c >= (unsigned char) lo
                && (unsigned char) c <= (unsigned char) hi)
            {
                match = 1;
            }

            continue;
        }

        if (c == lo) {
            match = 1;
        }

        p++;
    }

    if (*p != ']') {
        /* no closing bracket: '[' is a literal */
        *pend = NULL;
        return 0;
    }

    *pend = p + 1;

    return neg ? !match : match;
}


int
gobi_ignore_glob(const char *p, const char *s)
{
    const char  *next;
    int          m;

    for ( ;; ) {
        switch (*p) {

        case '\0':
            return *s == '\0';

        case '*':
            if (p[1] == '*') {
                p += 2;

                if (*p == '/') {
                    /* zero or more folders */
                    p++;

                    for ( ;; ) {
                        if (gobi_ignore_glob(p, s)) {
                            return 1;
                        }

                        s = strchr(s, '/');
                        if (s == NULL) {
                            return 0;
                        }

                        s++;
                    }
                }

                for ( ;; ) {
                    if (gobi_ignore_glob(p, s)) {
                        return 1;
                    }

                    if (*s == '\0') {
                        return 0;
                    }

                    s++;
                }
            }

            p++;

            for ( ;; ) {
                if (gobi_ignore_glob(p, s)) {
                    return 1;
                }

                if (*s == '\0' || *s == '/') {
                    return 0;
                }

                s++;
            }

        case '?':
            if (*s == '\0' || *s == '/') {
                return 0;
            }

            p++;
            s++;
            break;

        case '[':
            if (*s == '\0' || *s == '/') {
                return 0;
            }

            m = gobi_ignore_class(p + 1, *s, &next);

            if (next == NULL) {
                /* literal '[' */
                if (*s != '[') {
                    return 0;
                }

                p++;
                s++;
                break;
            }

            if (!m) {
                return 0;
            }

            p = next;
            s++;
            break;

        case '\\':
            if (p[1]) {
                p++;
            }

            /* fall through */

        default:
            if (*p != *s) {
                return 0;
            }

            p++;
            s++;
        }
    }
}


int
gobi_ignore_entry(gobi_ignore_t *ig, const char *path, int is_dir)
{
    const char          *base;
    gobi_ignore_rule_t  *r;
    size_t               i;
    int                  ignored;

    if (strcmp(path, ".gobi") == 0) {
        return 1;
    }

    base = strrchr(path, '/');
    base = base ? base + 1 : path;

    ignored = 0;

    for (i = 0; i < ig->n; i++) {
        r = &ig->rules[i];

        if (r->dir_only && !is_dir) {
            continue;
        }

        if (r->neg != ignored) {
            /* cannot change the outcome */
            continue;
        }

        if (gobi_ignore_glob(r->pat, r->anchored ? path : base)) {
            ignored = !r->neg;
        }
    }

    return ignored;
}


int
gobi_ignore_path(gobi_ignore_t *ig, const char *path)
{
    char   *p, *s;
    int     ignored;

    if (strncmp(path, ".gobi/", 6) == 0 || strcmp(path, ".gobi") == 0) {
        return 1;
    }

    p = gobi_strdup(path);
    ignored = 0;

    for (s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';

        if (gobi_ignore_entry(ig, p, 1)) {
            ignored = 1;
            break;
        }

        *s = '/';
    }

    if (!ignored) {
        ignored = gobi_ignore_entry(ig, p, 0);
    }

    free(p);

    return ignored;
}
