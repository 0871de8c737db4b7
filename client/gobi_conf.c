/*
 * Copyright (C) the gobi authors
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "gobi.h"
#include "gobi_conf.h"
#include "gobi_hash.h"


#define GOBI_CRED_MAX  (1024 * 1024)


static char *
gobi_conf_dir(int create)
{
    const char  *env, *home;
    char        *dir, *parent;

    env = getenv("GOBI_CONFIG_DIR");

    if (env && *env) {
        dir = gobi_strdup(env);
        parent = NULL;

    } else {
        env = getenv("XDG_CONFIG_HOME");

        if (env && *env) {
            parent = gobi_strdup(env);

        } else {
            home = getenv("HOME");
            if (home == NULL || *home == '\0') {
                home = "/";
            }

            parent = gobi_sprintf("%s/.config", home);
        }

        dir = gobi_sprintf("%s/gobi", parent);
    }

    if (create) {
        if (parent && mkdir(parent, 0700) != 0 && errno != EEXIST) {
            gobi_error(gobi_errno_exit(errno), "cannot create %s: %s",
                       parent, strerror(errno));
            free(parent);
            free(dir);
            return NULL;
        }

        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            gobi_error(gobi_errno_exit(errno), "cannot create %s: %s",
                       dir, strerror(errno));
            free(parent);
            free(dir);
            return NULL;
        }
    }

    free(parent);

    return dir;
}


int
gobi_url_normalize(const char *in, char **out)
{
    const char  *p, *host;
    size_t       len;
    char        *url;

    if (strncmp(in, "http://", 7) == 0) {
        host = in + 7;

    } else if (strncmp(in, "https://", 8) == 0) {
        host = in + 8;

    } else {
        return gobi_error(GOBI_EXIT_USAGE, "bad URL \"%s\": expected "
                          "http://host[:port] or https://host[:port]", in);
    }

    if (*host == '\0' || *host == '/' || *host == ':') {
        return gobi_error(GOBI_EXIT_USAGE, "bad URL \"%s\": no host", in);
    }

    for (p = in; *p; p++) {
        if ((unsigned char) *p <= 0x20 || *p == 0x7f || *p == '?'
            || *p == '#')
        {
            return gobi_error(GOBI_EXIT_USAGE, "bad URL \"%s\": unexpected "
                              "character", in);
        }
    }

    len = strlen(in);

    while (len > 0 && in[len - 1] == '/') {
        len--;
    }

    if (len >= 7 && strncmp(in + len - 7, "/api/v1", 7) == 0) {
        len -= 7;
    }

    while (len > 0 && in[len - 1] == '/') {
        len--;
    }

    url = gobi_strndup(in, len);
    *out = url;

    return 0;
}


void
gobi_cred_free(gobi_cred_t *cred)
{
    free(cred->url);
    free(cred->username);

    if (cred->token) {
        sodium_memzero(cred->token, strlen(cred->token));
        free(cred->token);
    }

    memset(cred, 0, sizeof(gobi_cred_t));
}


/* reads the whole file; NULL with *err = 0 when it does not exist */
static char *
gobi_cred_read(const char *path, int *err)
{
    int          fd;
    char        *buf;
    ssize_t      n;
    size_t       len, cap;

    *err = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) {
            *err = gobi_error(GOBI_EXIT_ERROR, "cannot read %s: %s", path,
                              strerror(errno));
        }

        return NULL;
    }

    cap = 4096;
    len = 0;
    buf = gobi_alloc(cap);

    for ( ;; ) {
        if (len + 1 >= cap) {
            if (cap >= GOBI_CRED_MAX) {
                *err = gobi_error(GOBI_EXIT_ERROR, "%s is too large", path);
                free(buf);
                close(fd);
                return NULL;
            }

            cap *= 2;
            buf = gobi_realloc(buf, cap);
        }

        n = read(fd, buf + len, cap - len - 1);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            *err = gobi_error(GOBI_EXIT_ERROR, "cannot read %s: %s", path,
                              strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }

        if (n == 0) {
            break;
        }

        len += n;
    }

    close(fd);
    buf[len] = '\0';

    return buf;
}


/* splits one line into its 4 fields; 0 or -1 when malformed */
static int
gobi_cred_parse_line(char *line, gobi_cred_t *c)
{
    char  *f[4], *save, *end;
    int    i;

    for (i = 0; i < 4; i++) {
        f[i] = strtok_r(i == 0 ? line : NULL, " \t\r", &save);
        if (f[i] == NULL) {
            return -1;
        }
    }

    c->url = f[0];
    c->username = f[1];
    c->token = f[2];
    c->expires_at = strtoll(f[3], &end, 10);

    return 0;
}


int
gobi_cred_load(const char *url, gobi_cred_t *out)
{
    char         *dir, *path, *buf, *line, *save, *want;
    const char   *env;
    gobi_cred_t   c;
    int           err, rc;

    memset(out, 0, sizeof(gobi_cred_t));
    want = NULL;

    if (url == NULL) {
        url = gobi_opts.server;
    }

    if (url == NULL) {
        env = getenv("GOBI_SERVER");
        if (env && *env) {
            url = env;
        }
    }

    if (url) {
        rc = gobi_url_normalize(url, &want);
        if (rc != 0) {
            return rc;
        }
    }

    dir = gobi_conf_dir(0);
    path = gobi_sprintf("%s/credentials", dir);
    free(dir);

    buf = gobi_cred_read(path, &err);
    free(path);

    if (buf == NULL) {
        free(want);
        return err ? err : gobi_error(GOBI_EXIT_AUTH, "not logged in: run "
                                      "\"gobi login <url> <username>\"");
    }

    rc = -1;

    for (line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
    {
        if (line[0] == '#' || gobi_cred_parse_line(line, &c) != 0) {
            continue;
        }

        if (want == NULL || strcmp(want, c.url) == 0) {
            out->url = gobi_strdup(c.url);
            out->username = gobi_strdup(c.username);
            out->token = gobi_strdup(c.token);
            out->expires_at = c.expires_at;
            rc = 0;
            break;
        }
    }

    sodium_memzero(buf, strlen(buf));
    free(buf);

    if (rc != 0) {
        rc = gobi_error(GOBI_EXIT_AUTH, "not logged in to %s: run \"gobi "
                        "login %s <username>\"", want ? want : "any server",
                        want ? want : "<url>");
    }

    free(want);

    return rc;
}


/* rewrites the file with `first` (may be NULL) first, without `drop` */
static int
gobi_cred_rewrite(const gobi_cred_t *first, const char *drop)
{
    char         *dir, *path, *tmp, *buf, *line, *save, *copy;
    gobi_cred_t   c;
    FILE         *f;
    int           fd, err, rc;

    dir = gobi_conf_dir(1);
    if (dir == NULL) {
        return gobi_error_code();
    }

    path = gobi_sprintf("%s/credentials", dir);
    tmp = gobi_sprintf("%s/.credentials.%d", dir, (int) getpid());
    free(dir);

    buf = gobi_cred_read(path, &err);
    if (buf == NULL && err) {
        free(path);
        free(tmp);
        return err;
    }

    rc = 0;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        rc = gobi_error(GOBI_EXIT_ERROR, "cannot write %s: %s", tmp,
                        strerror(errno));
        if (fd >= 0) {
            close(fd);
        }

        goto done;
    }

    if (first) {
        fprintf(f, "%s %s %s %lld\n", first->url, first->username,
                first->token, (long long) first->expires_at);
    }

    for (line = buf ? strtok_r(buf, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save))
    {
        copy = gobi_strdup(line);

        if (gobi_cred_parse_line(copy, &c) == 0
            && !(first && strcmp(c.url, first->url) == 0)
            && !(drop && strcmp(c.url, drop) == 0))
        {
            fprintf(f, "%s\n", line);
        }

        sodium_memzero(copy, strlen(copy));
        free(copy);
    }

    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rc = gobi_error(gobi_errno_exit(errno), "cannot write %s: %s", tmp,
                        strerror(errno));
        fclose(f);
        unlink(tmp);
        goto done;
    }

    if (fclose(f) != 0) {
        rc = gobi_error(gobi_errno_exit(errno), "cannot write %s: %s", tmp,
                        strerror(errno));
        unlink(tmp);
        goto done;
    }

    if (rename(tmp, path) != 0) {
        rc = gobi_error(GOBI_EXIT_ERROR, "cannot rename %s: %s", tmp,
                        strerror(errno));
        unlink(tmp);
    }

done:

    if (buf) {
        sodium_memzero(buf, strlen(buf));
        free(buf);
    }

    free(path);
    free(tmp);

    return rc;
}


int
gobi_cred_save(const gobi_cred_t *cred)
{
    return gobi_cred_rewrite(cred, NULL);
}


int
gobi_cred_remove(const char *url)
{
    return gobi_cred_rewrite(NULL, url);
}


char *
gobi_device_default(void)
{
    char           host[256];
    unsigned char  rnd[2];
    char           hex[5];
    size_t         i;
    const char    *env;

    env = getenv("GOBI_DEVICE");
    if (env && *env) {
        return gobi_strdup(env);
    }

    if (gethostname(host, sizeof(host)) != 0) {
        strcpy(host, "device");
    }

    host[sizeof(host) - 1] = '\0';

    /* keep device names tame: they end up in file names */
    for (i = 0; host[i]; i++) {
        if (host[i] == '/' || host[i] == ' ' || (unsigned char) host[i] < 0x20
            || host[i] == '(' || host[i] == ')')
        {
            host[i] = '-';
        }
    }

    host[32] = '\0';

    randombytes_buf(rnd, sizeof(rnd));
    gobi_hex(hex, rnd, sizeof(rnd));

    return gobi_sprintf("%s-%s", host, hex);
}
