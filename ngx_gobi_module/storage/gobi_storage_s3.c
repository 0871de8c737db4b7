/*
 * Copyright (C) the gobi authors
 *
 * Blobs in an S3 bucket (AWS, or any server that speaks its API):
 *
 *     s3://<bucket>[/<prefix>][?endpoint=http(s)://host[:port]&region=r]
 *     <endpoint>/<bucket>/<prefix>/<vault id>/<hash[0..1]>/<hash>
 *
 * Path-style URLs, signed by libcurl (CURLOPT_AWS_SIGV4) with the key and
 * secret of the credentials file; the payload is not hashed
 * (UNSIGNED-PAYLOAD: TLS guards it on AWS, and what is read back is
 * checked above the drivers).  The endpoint defaults to AWS's for the
 * region, the region to us-east-1.
 *
 * Calls block: they run on the thread pool.  Each calling thread has an
 * easy handle of its own, kept for keep-alive; a dead endpoint fails within
 * the connect timeout, a stalled one within the low-speed limit.
 *
 * The secret never leaves the handle's userpwd: not in errbuf, not in
 * URLs, and the curl error buffer never holds it.  The S3 <Code> of an
 * error, and its <Message>, do.
 *
 * Upload temp files (nginx writes them) go to conf->spool, in a locked
 * folder per process as for local storage (gobi_storage_spool.h).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "gobi_storage.h"
#include "gobi_storage_spool.h"


#define GOBI_S3_PART          (8 * 1024 * 1024)  /* multipart above this */
#define GOBI_S3_PARTS_MAX     10000              /* S3's limit */
#define GOBI_S3_CONNECT_MS    5000
#define GOBI_S3_LOW_SPEED_S   15                 /* < 1 byte/s this long */
#define GOBI_S3_ERROR_MAX     (64 * 1024)        /* an error's body */
#define GOBI_S3_LIST_MAX      (8 * 1024 * 1024)  /* a listing's page */
#define GOBI_S3_CRED_MAX      (64 * 1024)        /* the credentials file */
#define GOBI_S3_NAME_MAX      256                /* key id, secret, ... */
#define GOBI_S3_PREFIX_MAX    512
#define GOBI_S3_TOKEN_MAX     1024               /* continuation token */
#define GOBI_S3_URL_MAX       (3 * GOBI_S3_TOKEN_MAX + 3 * GOBI_S3_PREFIX_MAX \
                               + 2 * GOBI_S3_NAME_MAX)


typedef struct gobi_s3_handle_s  gobi_s3_handle_t;

struct gobi_s3_handle_s {
    CURL              *curl;
    gobi_storage_t    *s;
    gobi_s3_handle_t  *next;
};


struct gobi_storage_s {
    char                   endpoint[GOBI_S3_NAME_MAX];  /* no '/' at end */
    char                   bucket[64];
    char                   prefix[GOBI_S3_PREFIX_MAX];  /* no '/' at ends */
    char                   region[64];
    char                   sigv4[128];   /* "aws:amz:<region>:s3" */
    char                   userpwd[2 * GOBI_S3_NAME_MAX + 2];

    gobi_storage_spool_t   spool;

    pthread_key_t          key;          /* the thread's gobi_s3_handle_t */
    pthread_mutex_t        mutex;
    gobi_s3_handle_t      *handles;      /* every thread's, for close */
};


typedef struct {
    char      *data;
    size_t     len;
    size_t     size;
    size_t     max;
    int        over;
} gobi_s3_buf_t;


/* one request and what came back */

typedef struct {
    const char     *method;        /* HEAD GET PUT POST DELETE */
    const char     *key;           /* the object's, NULL: the bucket */
    const char     *query;         /* canonical (sorted, encoded) or NULL */
    const char     *headers[5];    /* more request headers, NULL ended */

    int             fd;            /* PUT: the body from fd, or -1 */
    int64_t         off;
    int64_t         len;
    int64_t         sent;
    int             read_err;

    const char     *post;          /* POST: the body */
    size_t          post_len;

    char           *into;          /* GET: 2xx bodies go here */
    size_t          into_len;
    size_t          got;
    int64_t         skip;          /* a 200 to a ranged GET: bytes before */
    int             into_over;

    gobi_s3_buf_t   body;          /* other bodies (XML) */

    CURL           *curl;
    long            status;
    int64_t         length;        /* Content-Length (HEAD) */
    int64_t         mtime;         /* Last-Modified, seconds */
    char            etag[128];
    char            code[64];      /* an error code header (MinIO's) */
} gobi_s3_req_t;


typedef int (*gobi_s3_walk_pt)(void *data, const char *key, int64_t size,
    int64_t mtime_ms, char *errbuf, size_t errlen);


static int gobi_s3_perform(gobi_storage_t *s, gobi_s3_req_t *r,
    char *errbuf, size_t errlen);


/* curl ------------------------------------------------------------------ */


static pthread_once_t  gobi_s3_once = PTHREAD_ONCE_INIT;
static CURLcode        gobi_s3_init_rc = CURLE_FAILED_INIT;


static void
gobi_s3_global_init(void)
{
    gobi_s3_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}


/* a thread that exits lets go of its handle */

static void
gobi_s3_handle_free(void *data)
{
    gobi_s3_handle_t   *h, **pp;
    gobi_storage_t     *s;

    h = data;
    s = h->s;

    pthread_mutex_lock(&s->mutex);

    for (pp = &s->handles; *pp; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    }

    pthread_mutex_unlock(&s->mutex);

    curl_easy_cleanup(h->curl);
    free(h);
}


static CURL *
gobi_s3_curl(gobi_storage_t *s)
{
    gobi_s3_handle_t  *h;

    h = pthread_getspecific(s->key);
    if (h) {
        return h->curl;
    }

    h = calloc(1, sizeof(gobi_s3_handle_t));
    if (h == NULL) {
        return NULL;
    }

    h->curl = curl_easy_init();
    if (h->curl == NULL) {
        free(h);
        return NULL;
    }

    h->s = s;

    if (pthread_setspecific(s->key, h) != 0) {
        curl_easy_cleanup(h->curl);
        free(h);
        return NULL;
    }

    pthread_mutex_lock(&s->mutex);
    h->next = s->handles;
    s->handles = h;
    pthread_mutex_unlock(&s->mutex);

    return h->curl;
}


static size_t
gobi_s3_on_read(char *buf, size_t size, size_t n, void *data)
{
    size_t          want;
    ssize_t         got;
    gobi_s3_req_t  *r;

    r = data;
    want = size * n;

    if ((int64_t) want > r->len - r->sent) {
        want = r->len - r->sent;
    }

    if (want == 0) {
        return 0;
    }

    do {
        got = pread(r->fd, buf, want, r->off + r->sent);
    } while (got < 0 && errno == EINTR);

    if (got <= 0) {
        /* (0: the file is shorter than it was) */
        r->read_err = got < 0 ? errno : EIO;
        return CURL_READFUNC_ABORT;
    }

    r->sent += got;

    return got;
}


/* a request sent again (on a reused connection that was gone) rewinds */

static int
gobi_s3_on_seek(void *data, curl_off_t off, int origin)
{
    gobi_s3_req_t  *r;

    r = data;

    if (origin != SEEK_SET || off < 0 || off > r->len) {
        return CURL_SEEKFUNC_CANTSEEK;
    }

    r->sent = off;

    return CURL_SEEKFUNC_OK;
}


static size_t
gobi_s3_on_write(char *p, size_t size, size_t n, void *data)
{
    char           *d;
    long            status;
    size_t          len, take, all;
    gobi_s3_req_t  *r;
    gobi_s3_buf_t  *b;

    r = data;
    len = size * n;
    all = len;
    status = 0;

    (void) curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);

    if (r->into && (status == 200 || status == 206)) {

        if (status == 200 && r->skip > 0) {
            /* the server sent the whole blob: what is before off goes */
            take = (int64_t) len < r->skip ? len : (size_t) r->skip;
            r->skip -= take;
            p += take;
            len -= take;
        }

        take = r->into_len - r->got;
        if (take > len) {
            take = len;
        }

        memcpy(r->into + r->got, p, take);
        r->got += take;

        if (take < len) {
            r->into_over = 1;
            return 0;
        }

        return all;
    }

    b = &r->body;

    if (b->len + len > b->max) {
        b->over = 1;
        return 0;
    }

    if (b->len + len + 1 > b->size) {
        size = (b->len + len + 1) * 2;
        if (size > b->max + 1) {
            size = b->max + 1;
        }

        d = realloc(b->data, size);
        if (d == NULL) {
            b->over = 1;
            return 0;
        }

        b->data = d;
        b->size = size;
    }

    memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';

    return len;
}


static size_t
gobi_s3_on_header(char *p, size_t size, size_t n, void *data)
{
    char           *v;
    size_t          len, i, max;
    gobi_s3_req_t  *r;

    r = data;
    len = size * n;

    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* a new response (after a 100 Continue): what was seen goes */
        r->etag[0] = '\0';
        r->code[0] = '\0';
        return len;
    }

    if (len > 5 && strncasecmp(p, "etag:", 5) == 0) {
        v = r->etag;
        max = sizeof(r->etag);
        i = 5;

    } else if (len > 19 && strncasecmp(p, "x-minio-error-code:", 19) == 0) {
        /* a HEAD has no body to say why it failed: MinIO says it here */
        v = r->code;
        max = sizeof(r->code);
        i = 19;

    } else {
        return len;
    }

    while (i < len && (p[i] == ' ' || p[i] == '\t')) {
        i++;
    }

    while (len > i && (p[len - 1] == '\r' || p[len - 1] == '\n'
                       || p[len - 1] == ' '))
    {
        len--;
    }

    if (len - i < max) {
        memcpy(v, p + i, len - i);
        v[len - i] = '\0';
    }

    return size * n;
}


/* XML ------------------------------------------------------------------- */


/*
 * The text of the first <tag>...</tag> in [p, end), entities decoded, into
 * buf; *next (if not NULL) after its end.  0, or -1 when it is missing,
 * longer than len - 1 or not plain text.  Bounded by end: no input from
 * the network is trusted to be terminated or well formed.
 */

static int
gobi_s3_xml(const char *p, const char *end, const char *tag, char *buf,
    size_t len, const char **next)
{
    char         open[64], close[64];
    size_t       n, ol, cl;
    unsigned     c;
    const char  *a, *b, *e;

    ol = snprintf(open, sizeof(open), "<%s>", tag);
    cl = snprintf(close, sizeof(close), "</%s>", tag);

    if (p >= end) {
        return -1;
    }

    a = memmem(p, end - p, open, ol);
    if (a == NULL) {
        return -1;
    }

    a += ol;

    b = memmem(a, end - a, close, cl);
    if (b == NULL) {
        return -1;
    }

    for (n = 0; a < b; n++) {
        if (n + 1 >= len) {
            return -1;
        }

        if (*a == '<') {
            return -1;
        }

        if (*a != '&') {
            buf[n] = *a++;
            continue;
        }

        e = memchr(a, ';', b - a);
        if (e == NULL) {
            return -1;
        }

        if (e - a == 4 && memcmp(a, "&amp", 4) == 0) {
            buf[n] = '&';

        } else if (e - a == 3 && memcmp(a, "&lt", 3) == 0) {
            buf[n] = '<';

        } else if (e - a == 3 && memcmp(a, "&gt", 3) == 0) {
            buf[n] = '>';

        } else if (e - a == 5 && memcmp(a, "&quot", 5) == 0) {
            buf[n] = '"';

        } else if (e - a == 5 && memcmp(a, "&apos", 5) == 0) {
            buf[n] = '\'';

        } else if (e - a >= 3 && e - a <= 6 && a[1] == '#') {
            /* ASCII only: other names are not ours */
            if (a[2] == 'x'
                ? sscanf(a + 3, "%x", &c) != 1 : sscanf(a + 2, "%u", &c) != 1)
            {
                return -1;
            }

            if (c == 0 || c > 127) {
                return -1;
            }

            buf[n] = (char) c;

        } else {
            return -1;
        }

        a = e + 1;
    }

    buf[n] = '\0';

    if (next) {
        *next = b + cl;
    }

    return 0;
}


/* a value made safe for errbuf and logs: printable ASCII only */

static void
gobi_s3_printable(char *p)
{
    for ( /* void */ ; *p; p++) {
        if (*p < 0x20 || *p > 0x7e) {
            *p = '?';
        }
    }
}


/* requests -------------------------------------------------------------- */


/* AWS's URI encoding (all but unreserved) of a query value */

static int
gobi_s3_escape(const char *v, char *buf, size_t len)
{
    size_t               n;
    unsigned char        c;
    static const char    hex[] = "0123456789ABCDEF";

    for (n = 0; *v; v++) {
        c = (unsigned char) *v;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~')
        {
            if (n + 1 >= len) {
                return -1;
            }

            buf[n++] = c;
            continue;
        }

        if (n + 3 >= len) {
            return -1;
        }

        buf[n++] = '%';
        buf[n++] = hex[c >> 4];
        buf[n++] = hex[c & 0xf];
    }

    if (n >= len) {
        return -1;
    }

    buf[n] = '\0';

    return 0;
}


static void
gobi_s3_req_init(gobi_s3_req_t *r, const char *method, const char *key)
{
    memset(r, 0, sizeof(gobi_s3_req_t));

    r->method = method;
    r->key = key;
    r->fd = -1;
    r->body.max = GOBI_S3_ERROR_MAX;
}


static void
gobi_s3_req_free(gobi_s3_req_t *r)
{
    free(r->body.data);
    r->body.data = NULL;
    r->body.len = 0;
    r->body.size = 0;
}


/* "s3 PUT bucket/key: ..." */

static void
gobi_s3_where(gobi_storage_t *s, gobi_s3_req_t *r, char *buf, size_t len)
{
    snprintf(buf, len, "s3 %s %s%s%.300s", r->method, s->bucket,
             r->key ? "/" : "", r->key ? r->key : "");
}


/*
 * The HTTP answer was not the one wanted: its status, and the S3 error's
 * <Code> and <Message> if the body has them.
 */

static const struct {
    long         status;
    const char  *text;
} gobi_s3_statuses[] = {
    { 400, "(bad request)" },
    { 403, "(forbidden: the credentials?)" },
    { 404, "(no such bucket or key)" },
    { 500, "(internal server error)" },
    { 503, "(unavailable, or slow down)" },
    { 0, NULL }
};


static void
gobi_s3_failed(gobi_storage_t *s, gobi_s3_req_t *r, char *errbuf,
    size_t errlen)
{
    int          i;
    char         where[512], code[128], msg[256];
    const char  *p, *end;

    gobi_s3_where(s, r, where, sizeof(where));

    code[0] = '\0';
    msg[0] = '\0';

    if (r->body.data) {
        p = r->body.data;
        end = p + r->body.len;

        if (gobi_s3_xml(p, end, "Code", code, sizeof(code), NULL) != 0) {
            code[0] = '\0';
        }

        if (gobi_s3_xml(p, end, "Message", msg, sizeof(msg), NULL) != 0) {
            msg[0] = '\0';
        }

        gobi_s3_printable(code);
        gobi_s3_printable(msg);
    }

    if (code[0] == '\0' && r->code[0]) {
        snprintf(code, sizeof(code), "%s", r->code);
        gobi_s3_printable(code);
    }

    for (i = 0; code[0] == '\0' && gobi_s3_statuses[i].text; i++) {
        if (gobi_s3_statuses[i].status == r->status) {
            strcpy(code, gobi_s3_statuses[i].text);
        }
    }

    snprintf(errbuf, errlen, "%s: HTTP %ld%s%s%s%s", where, r->status,
             code[0] ? " " : "", code, msg[0] ? ": " : "", msg);

    errno = EIO;
}


/* a 200 with an <Error> in it (CopyObject, CompleteMultipartUpload) */

static int
gobi_s3_body_error(gobi_s3_req_t *r)
{
    return r->body.data
           && memmem(r->body.data, r->body.len, "<Error>", 7) != NULL;
}


/*
 * Sends the request and reads the answer: 0 with r->status (and the body
 * where r says), or -1 with errbuf filled and errno set when there is no
 * HTTP answer (the target is down, or the file could not be read).
 */

static int
gobi_s3_perform(gobi_storage_t *s, gobi_s3_req_t *r, char *errbuf,
    size_t errlen)
{
    int                 n, i, err;
    char                url[GOBI_S3_URL_MAX], where[512],
                        cerr[CURL_ERROR_SIZE];
    CURL               *h;
    CURLcode            rc;
    curl_off_t          len, mtime;
    struct curl_slist  *hl, *t;

    h = gobi_s3_curl(s);
    if (h == NULL) {
        snprintf(errbuf, errlen, "s3: no curl handle");
        errno = ENOMEM;
        return -1;
    }

    r->curl = h;

    n = snprintf(url, sizeof(url), "%s/%s%s%s%s%s", s->endpoint, s->bucket,
                 r->key ? "/" : "", r->key ? r->key : "",
                 r->query ? "?" : "", r->query ? r->query : "");

    if (n < 0 || (size_t) n >= sizeof(url)) {
        gobi_s3_where(s, r, where, sizeof(where));
        snprintf(errbuf, errlen, "%s: URL too long", where);
        errno = ENAMETOOLONG;
        return -1;
    }

    hl = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");

    for (i = 0; hl && r->headers[i]; i++) {
        t = curl_slist_append(hl, r->headers[i]);
        if (t == NULL) {
            curl_slist_free_all(hl);
            hl = NULL;
        }

        hl = t;
    }

    if (hl == NULL) {
        snprintf(errbuf, errlen, "s3: out of memory");
        errno = ENOMEM;
        return -1;
    }

    cerr[0] = '\0';

    curl_easy_reset(h);

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long) GOBI_S3_CONNECT_MS);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long) GOBI_S3_LOW_SPEED_S);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(h, CURLOPT_USERPWD, s->userpwd);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, gobi_s3_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, gobi_s3_on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_FILETIME, 1L);

    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);

    } else if (strcmp(r->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, gobi_s3_on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, r);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, gobi_s3_on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, r);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t) r->len);

    } else if (strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->post ? r->post : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t) r->post_len);

    } else if (strcmp(r->method, "DELETE") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    }

    if (r->into && r->len > 0) {
        snprintf(where, sizeof(where), "%" PRId64 "-%" PRId64, r->off,
                 r->off + r->len - 1);
        curl_easy_setopt(h, CURLOPT_RANGE, where);
    }

    rc = curl_easy_perform(h);

    curl_slist_free_all(hl);

    /* (the handle is kept for the next request: no pointers into r stay) */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);

    r->status = 0;
    (void) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);

    if (rc == CURLE_WRITE_ERROR && r->into_over && r->status == 200) {
        /* the whole blob to a ranged GET: we have what we asked for */
        rc = CURLE_OK;
    }

    if (rc != CURLE_OK) {
        gobi_s3_where(s, r, where, sizeof(where));

        if (r->read_err) {
            err = r->read_err;
            snprintf(errbuf, errlen, "%s: reading the file failed: %s", where,
                     strerror(err));
            errno = err;
            return -1;
        }

        if (r->into_over) {
            snprintf(errbuf, errlen, "%s: more bytes than asked for", where);

        } else if (r->body.over) {
            snprintf(errbuf, errlen, "%s: the answer is too long", where);

        } else {
            gobi_s3_printable(cerr);
            snprintf(errbuf, errlen, "%s: %s", where,
                     cerr[0] ? cerr : curl_easy_strerror(rc));
        }

        errno = EIO;
        return -1;
    }

    len = -1;
    mtime = -1;
    (void) curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
    (void) curl_easy_getinfo(h, CURLINFO_FILETIME_T, &mtime);

    r->length = len;
    r->mtime = mtime;

    return 0;
}


/* names ----------------------------------------------------------------- */


/* "<prefix>/" or "" */

static const char *
gobi_s3_root(gobi_storage_t *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s", s->prefix, s->prefix[0] ? "/" : "");

    return buf;
}


static int
gobi_s3_key(gobi_storage_t *s, int64_t vault, const char *hash, char *buf,
    size_t len, char *errbuf, size_t errlen)
{
    int   n;
    char  root[GOBI_S3_PREFIX_MAX + 2];

    if (hash && !gobi_storage_hash_valid(hash)) {
        snprintf(errbuf, errlen, "\"%.80s\" is not a blob hash", hash);
        errno = EINVAL;
        return -1;
    }

    if (vault < 0) {
        snprintf(errbuf, errlen, "bad vault id %" PRId64, vault);
        errno = EINVAL;
        return -1;
    }

    gobi_s3_root(s, root, sizeof(root));

    if (hash) {
        n = snprintf(buf, len, "%s%" PRId64 "/%.2s/%s", root, vault, hash,
                     hash);

    } else {
        n = snprintf(buf, len, "%s%" PRId64 "/", root, vault);
    }

    if (n < 0 || (size_t) n >= len) {
        snprintf(errbuf, errlen, "s3 key too long");
        errno = ENAMETOOLONG;
        return -1;
    }

    return 0;
}


/* the URI --------------------------------------------------------------- */


static int
gobi_s3_bucket_valid(const char *b, size_t n)
{
    size_t  i;

    /* S3's rules for new buckets, which path-style URLs need */

    if (n < 3 || n > 63) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9')
              || ((b[i] == '.' || b[i] == '-') && i > 0 && i < n - 1)))
        {
            return 0;
        }
    }

    return 1;
}


/* segments of unreserved characters: keys that need no encoding */

static int
gobi_s3_prefix_valid(const char *p, size_t n)
{
    size_t  i, seg;

    seg = 0;

    for (i = 0; i <= n; i++) {
        if (i == n || p[i] == '/') {
            if (seg == 0
                || (seg == 1 && p[i - 1] == '.')
                || (seg == 2 && p[i - 1] == '.' && p[i - 2] == '.'))
            {
                return 0;
            }

            seg = 0;
            continue;
        }

        if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z')
              || (p[i] >= '0' && p[i] <= '9') || p[i] == '-' || p[i] == '.'
              || p[i] == '_' || p[i] == '~'))
        {
            return 0;
        }

        seg++;
    }

    return 1;
}


/* http(s)://host[:port][/], host a name, an IPv4 or a [IPv6] address */

static int
gobi_s3_endpoint(gobi_storage_t *s, const char *v, size_t n, char *errbuf,
    size_t errlen)
{
    size_t       i, h, port;
    const char  *p;

    if (n >= 7 && strncmp(v, "http://", 7) == 0) {
        i = 7;

    } else if (n >= 8 && strncmp(v, "https://", 8) == 0) {
        i = 8;

    } else {
        goto bad;
    }

    if (n > i && v[n - 1] == '/') {
        n--;
    }

    p = v + i;
    h = 0;

    if (i < n && v[i] == '[') {
        for (i++; i < n && v[i] != ']'; i++) {
            if (!(strchr("0123456789abcdefABCDEF:.", v[i]))) {
                goto bad;
            }
        }

        if (i >= n) {
            goto bad;
        }

        i++;
        h = i - (p - v);

    } else {
        for ( /* void */ ; i < n && v[i] != ':'; i++) {
            if (!((v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= 'a' && v[i] <= 'z')
                  || (v[i] >= '0' && v[i] <= '9') || v[i] == '-'
                  || v[i] == '.'))
            {
                goto bad;
            }

            h++;
        }
    }

    if (h == 0 || (p[0] == '[' && h <= 2)) {
        goto bad;
    }

    if (i < n) {
        /* ":port" */
        if (v[i] != ':' || i + 1 == n || n - i - 1 > 5) {
            goto bad;
        }

        port = 0;

        for (i++; i < n; i++) {
            if (v[i] < '0' || v[i] > '9') {
                goto bad;
            }

            port = port * 10 + (v[i] - '0');
        }

        if (port == 0 || port > 65535) {
            goto bad;
        }
    }

    if (n >= sizeof(s->endpoint)) {
        goto bad;
    }

    memcpy(s->endpoint, v, n);
    s->endpoint[n] = '\0';

    return 0;

bad:

    snprintf(errbuf, errlen, "s3: bad endpoint \"%.*s\" (http://host[:port] "
             "or https://host[:port])", (int) (n > 200 ? 200 : n), v);
    return -1;
}


static int
gobi_s3_uri(gobi_storage_t *s, const char *arg, char *errbuf, size_t errlen)
{
    int          have_endpoint, have_region;
    size_t       n, k;
    const char  *p, *q, *e, *amp, *eq;

    if (strncmp(arg, "//", 2) != 0) {
        snprintf(errbuf, errlen, "s3: \"s3:%.200s\" is not "
                 "s3://bucket[/prefix][?endpoint=...&region=...]", arg);
        return -1;
    }

    p = arg + 2;
    q = strchr(p, '?');
    e = q ? q : p + strlen(p);

    n = strcspn(p, "/?");
    if (p + n > e) {
        n = e - p;
    }

    if (!gobi_s3_bucket_valid(p, n)) {
        snprintf(errbuf, errlen, "s3: bad bucket name \"%.*s\" (3 to 63 of "
                 "a-z 0-9 . -)", (int) (n > 100 ? 100 : n), p);
        return -1;
    }

    memcpy(s->bucket, p, n);
    s->bucket[n] = '\0';

    p += n;

    if (p < e) {
        /* "/prefix/": the slashes at its ends are no part of it */
        p++;

        while (e > p && e[-1] == '/') {
            e--;
        }

        n = e - p;

        if (n > 0 && (n >= GOBI_S3_PREFIX_MAX - 100
                      || !gobi_s3_prefix_valid(p, n)))
        {
            snprintf(errbuf, errlen, "s3: bad prefix \"%.*s\" (segments of "
                     "A-Z a-z 0-9 - . _ ~)", (int) (n > 100 ? 100 : n), p);
            return -1;
        }

        memcpy(s->prefix, p, n);
        s->prefix[n] = '\0';
    }

    strcpy(s->region, "us-east-1");
    s->endpoint[0] = '\0';
    have_endpoint = 0;
    have_region = 0;

    for (p = q ? q + 1 : NULL; p && *p; p = amp ? amp + 1 : NULL) {
        amp = strchr(p, '&');
        n = amp ? (size_t) (amp - p) : strlen(p);
        eq = memchr(p, '=', n);

        if (eq == NULL) {
            snprintf(errbuf, errlen, "s3: parameter \"%.*s\" has no value",
                     (int) (n > 100 ? 100 : n), p);
            return -1;
        }

        k = eq - p;
        eq++;
        n -= k + 1;

        if (k == 8 && strncmp(p, "endpoint", 8) == 0 && !have_endpoint) {
            if (gobi_s3_endpoint(s, eq, n, errbuf, errlen) != 0) {
                return -1;
            }

            have_endpoint = 1;

        } else if (k == 6 && strncmp(p, "region", 6) == 0 && !have_region) {
            if (n == 0 || n >= 32 || strspn(eq, "abcdefghijklmnopqrstuvwxyz"
                                            "0123456789-") < n)
            {
                snprintf(errbuf, errlen, "s3: bad region \"%.*s\"",
                         (int) (n > 100 ? 100 : n), eq);
                return -1;
            }

            memcpy(s->region, eq, n);
            s->region[n] = '\0';
            have_region = 1;

        } else if ((k == 8 && strncmp(p, "endpoint", 8) == 0)
                   || (k == 6 && strncmp(p, "region", 6) == 0))
        {
            snprintf(errbuf, errlen, "s3: parameter \"%.*s\" given twice",
                     (int) k, p);
            return -1;

        } else {
            snprintf(errbuf, errlen, "s3: unknown parameter \"%.*s\" "
                     "(endpoint, region)", (int) (k > 100 ? 100 : k), p);
            return -1;
        }
    }

    if (!have_endpoint) {
        snprintf(s->endpoint, sizeof(s->endpoint),
                 "https://s3.%s.amazonaws.com", s->region);
    }

    snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3", s->region);

    return 0;
}


/* the credentials file -------------------------------------------------- */


static char *
gobi_s3_trim(char *p, char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (end > p && (end[-1] == ' ' || end[-1] == '\t'
                       || end[-1] == '\r'))
    {
        end--;
    }

    *end = '\0';

    return p;
}


static int
gobi_s3_word(const char *w)
{
    size_t  n;

    n = strlen(w);

    if (n == 0 || n >= GOBI_S3_NAME_MAX) {
        return 0;
    }

    for ( /* void */ ; *w; w++) {
        if (*w <= 0x20 || *w > 0x7e) {
            return 0;
        }
    }

    return 1;
}


/*
 * ~/.aws/credentials' form (its [default] section or what comes before any
 * section):
 *     aws_access_key_id = ...
 *     aws_secret_access_key = ...
 * or one "key_id secret" line.  Readable by its owner only.  What the file
 * holds is never repeated in errbuf: a line number says where.
 */

static int
gobi_s3_credentials(gobi_storage_t *s, const char *file, const char *text,
    char *errbuf, size_t errlen)
{
    int          fd, line, section, rc;
    char        *buf, *p, *nl, *l, *v, *w, id[GOBI_S3_NAME_MAX],
                 secret[GOBI_S3_NAME_MAX];
    ssize_t      n, got;
    struct stat  st;

    if (text != NULL) {
        /* read by the master at configuration time */
        n = strlen(text);

        if (n > GOBI_S3_CRED_MAX) {
            snprintf(errbuf, errlen, "s3: credentials file \"%s\" is too "
                     "large", file);
            return -1;
        }

        buf = malloc(GOBI_S3_CRED_MAX + 1);
        if (buf == NULL) {
            snprintf(errbuf, errlen, "out of memory");
            return -1;
        }

        memcpy(buf, text, n);
        got = 0;
        goto parse;
    }

    if (file == NULL || file[0] == '\0') {
        snprintf(errbuf, errlen, "s3 storage needs gobi_storage_credentials "
                 "(a file with aws_access_key_id and aws_secret_access_key)");
        return -1;
    }

    fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(errbuf, errlen, "s3: open(\"%s\") failed: %s", file,
                 strerror(errno));
        return -1;
    }

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(errbuf, errlen, "s3: credentials \"%s\" is not a file",
                 file);
        close(fd);
        return -1;
    }

    if (st.st_mode & 077) {
        snprintf(errbuf, errlen, "s3: credentials file \"%s\" is open to "
                 "others (mode %04o): chmod 600 it", file,
                 (unsigned) (st.st_mode & 07777));
        close(fd);
        return -1;
    }

    if (st.st_size > GOBI_S3_CRED_MAX) {
        snprintf(errbuf, errlen, "s3: credentials file \"%s\" is too large",
                 file);
        close(fd);
        return -1;
    }

    buf = malloc(GOBI_S3_CRED_MAX + 1);
    if (buf == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        close(fd);
        return -1;
    }

    for (n = 0; n < GOBI_S3_CRED_MAX; n += got) {
        got = read(fd, buf + n, GOBI_S3_CRED_MAX - n);

        if (got < 0 && errno == EINTR) {
            got = 0;
            continue;
        }

        if (got <= 0) {
            break;
        }
    }

    close(fd);

    if (got < 0) {
        snprintf(errbuf, errlen, "s3: read(\"%s\") failed: %s", file,
                 strerror(errno));
        free(buf);
        return -1;
    }

parse:

    buf[n] = '\0';

    id[0] = '\0';
    secret[0] = '\0';
    section = 0;          /* 0: before any, 1: [default], 2: another */
    rc = 0;
    line = 0;

    for (p = buf; rc == 0 && p < buf + n; p = nl + 1) {
        line++;

        nl = memchr(p, '\n', buf + n - p);
        if (nl == NULL) {
            nl = buf + n;
        }

        l = gobi_s3_trim(p, nl);

        if (l[0] == '\0' || l[0] == '#' || l[0] == ';') {
            continue;
        }

        if (l[0] == '[') {
            v = strchr(l, ']');

            if (v == NULL || v[1] != '\0') {
                snprintf(errbuf, errlen, "s3: credentials file \"%s\", line "
                         "%d: a bad [section]", file, line);
                rc = -1;
                break;
            }

            l = gobi_s3_trim(l + 1, v);
            section = strcmp(l, "default") == 0 ? 1 : 2;
            continue;
        }

        if (section == 2) {
            continue;
        }

        v = strchr(l, '=');

        if (v) {
            w = gobi_s3_trim(v + 1, v + 1 + strlen(v + 1));
            l = gobi_s3_trim(l, v);

            if (strcmp(l, "aws_access_key_id") == 0) {
                v = id;

            } else if (strcmp(l, "aws_secret_access_key") == 0) {
                v = secret;

            } else {
                /* (region, output, ...: not ours) */
                continue;
            }

        } else {
            /* "key_id secret" */
            w = l + strcspn(l, " \t");

            if (*w == '\0') {
                snprintf(errbuf, errlen, "s3: credentials file \"%s\", line "
                         "%d: not \"name = value\" nor \"key_id secret\"",
                         file, line);
                rc = -1;
                break;
            }

            *w++ = '\0';
            w += strspn(w, " \t");

            if (!gobi_s3_word(l) || strchr(l, ':')) {
                goto bad;
            }

            strcpy(id, l);
            v = secret;
        }

        if (!gobi_s3_word(w) || (v == id && strchr(w, ':'))) {
            goto bad;
        }

        strcpy(v, w);
        continue;

    bad:

        snprintf(errbuf, errlen, "s3: credentials file \"%s\", line %d: a "
                 "bad key id or secret (printable, no spaces, < %d bytes)",
                 file, line, GOBI_S3_NAME_MAX);
        rc = -1;
    }

    explicit_bzero(buf, GOBI_S3_CRED_MAX + 1);
    free(buf);

    if (rc == 0 && (id[0] == '\0' || secret[0] == '\0')) {
        snprintf(errbuf, errlen, "s3: credentials file \"%s\" has no %s",
                 file, id[0] ? "aws_secret_access_key"
                             : "aws_access_key_id");
        rc = -1;
    }

    if (rc == 0) {
        snprintf(s->userpwd, sizeof(s->userpwd), "%s:%s", id, secret);
    }

    explicit_bzero(secret, sizeof(secret));

    return rc;
}


/* open, close ----------------------------------------------------------- */


static gobi_storage_t *
gobi_storage_s3_open(const char *arg, const gobi_storage_conf_t *conf,
    char *errbuf, size_t errlen)
{
    gobi_storage_t  *s;

    if (arg == NULL) {
        snprintf(errbuf, errlen, "s3: no bucket");
        return NULL;
    }

    s = calloc(1, sizeof(gobi_storage_t));
    if (s == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }

    s->spool.lock = -1;

    if (gobi_s3_uri(s, arg, errbuf, errlen) != 0) {
        free(s);
        return NULL;
    }

    if (conf == NULL || conf->spool == NULL || conf->spool[0] == '\0') {
        snprintf(errbuf, errlen, "s3 storage needs a local folder for "
                 "upload temp files (a spool)");
        free(s);
        return NULL;
    }

    if (gobi_s3_credentials(s, conf->credentials, conf->credentials_text,
                            errbuf, errlen) != 0) {
        free(s);
        return NULL;
    }

    (void) pthread_once(&gobi_s3_once, gobi_s3_global_init);

    if (gobi_s3_init_rc != CURLE_OK) {
        snprintf(errbuf, errlen, "s3: curl_global_init() failed: %s",
                 curl_easy_strerror(gobi_s3_init_rc));
        goto failed;
    }

    if (pthread_key_create(&s->key, gobi_s3_handle_free) != 0) {
        snprintf(errbuf, errlen, "s3: pthread_key_create() failed");
        goto failed;
    }

    if (pthread_mutex_init(&s->mutex, NULL) != 0) {
        snprintf(errbuf, errlen, "s3: pthread_mutex_init() failed");
        pthread_key_delete(s->key);
        goto failed;
    }

    if (gobi_storage_spool_open(&s->spool, conf->spool, errbuf, errlen)
        != 0)
    {
        pthread_mutex_destroy(&s->mutex);
        pthread_key_delete(s->key);
        goto failed;
    }

    return s;

failed:

    explicit_bzero(s->userpwd, sizeof(s->userpwd));
    free(s);

    return NULL;
}


static void
gobi_storage_s3_close(gobi_storage_t *s)
{
    gobi_s3_handle_t  *h, *next;

    /*
     * No request is in flight at close.  Deleting the key first: a pool
     * thread that exits now runs no destructor on what goes here.
     */

    pthread_key_delete(s->key);

    pthread_mutex_lock(&s->mutex);

    for (h = s->handles; h; h = next) {
        next = h->next;
        curl_easy_cleanup(h->curl);
        free(h);
    }

    s->handles = NULL;

    pthread_mutex_unlock(&s->mutex);
    pthread_mutex_destroy(&s->mutex);

    gobi_storage_spool_close(&s->spool);

    explicit_bzero(s->userpwd, sizeof(s->userpwd));
    free(s);
}


static const char *
gobi_storage_s3_tmp_dir(gobi_storage_t *s)
{
    return s->spool.mine;
}


static int
gobi_storage_s3_tmp_sweep(gobi_storage_t *s, int64_t min_age_ms,
    int64_t *removed)
{
    return gobi_storage_spool_sweep(&s->spool, min_age_ms, removed);
}




/* blobs ----------------------------------------------------------------- */


static int64_t
gobi_s3_now_ms(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* HEAD: 1 (r->length, r->mtime), 0 (no such key) or -1 */

static int
gobi_s3_head(gobi_storage_t *s, const char *key, gobi_s3_req_t *r,
    char *errbuf, size_t errlen)
{
    gobi_s3_req_init(r, "HEAD", key);

    if (gobi_s3_perform(s, r, errbuf, errlen) != 0) {
        return -1;
    }

    if (r->status == 200) {
        if (r->length < 0) {
            snprintf(errbuf, errlen, "s3 HEAD %s/%.300s: no Content-Length",
                     s->bucket, key);
            errno = EIO;
            return -1;
        }

        return 1;
    }

    if (r->status == 404) {
        return 0;
    }

    gobi_s3_failed(s, r, errbuf, errlen);

    return -1;
}


static int
gobi_storage_s3_stat(gobi_storage_t *s, int64_t vault, const char *hash,
    int64_t *size, char *errbuf, size_t errlen)
{
    int            rc;
    char           key[GOBI_S3_PREFIX_MAX + 128];
    gobi_s3_req_t  r;

    if (gobi_s3_key(s, vault, hash, key, sizeof(key), errbuf, errlen) != 0) {
        return -1;
    }

    rc = gobi_s3_head(s, key, &r, errbuf, errlen);

    if (rc == 1) {
        *size = r.length;
    }

    gobi_s3_req_free(&r);

    return rc;
}


static ssize_t
gobi_storage_s3_read(gobi_storage_t *s, int64_t vault, const char *hash,
    int64_t off, void *buf, size_t len, char *errbuf, size_t errlen)
{
    int            rc;
    char           key[GOBI_S3_PREFIX_MAX + 128];
    ssize_t        n;
    gobi_s3_req_t  r;

    if (gobi_s3_key(s, vault, hash, key, sizeof(key), errbuf, errlen) != 0) {
        return -1;
    }

    if (off < 0) {
        snprintf(errbuf, errlen, "negative offset");
        errno = EINVAL;
        return -1;
    }

    if (len == 0) {
        /* no range to ask for: whether the blob is there still counts */
        rc = gobi_s3_head(s, key, &r, errbuf, errlen);
        gobi_s3_req_free(&r);

        if (rc == 0) {
            snprintf(errbuf, errlen, "s3 GET %s/%.300s: no such blob",
                     s->bucket, key);
            errno = ENOENT;
        }

        return rc == 1 ? 0 : -1;
    }

    if (len > SSIZE_MAX) {
        len = SSIZE_MAX;
    }

    /* straight into buf: the write callback copies from curl's buffer */

    gobi_s3_req_init(&r, "GET", key);
    r.into = buf;
    r.into_len = len;
    r.off = off;
    r.len = len;
    r.skip = off;

    if (gobi_s3_perform(s, &r, errbuf, errlen) != 0) {
        gobi_s3_req_free(&r);
        return -1;
    }

    switch (r.status) {

    case 200:
    case 206:
        n = r.got;
        break;

    case 416:
        /* off is at or past the end */
        n = 0;
        break;

    case 404:
        snprintf(errbuf, errlen, "s3 GET %s/%.300s: no such blob",
                 s->bucket, key);
        errno = ENOENT;
        n = -1;
        break;

    default:
        gobi_s3_failed(s, &r, errbuf, errlen);
        n = -1;
    }

    gobi_s3_req_free(&r);

    return n;
}


/*
 * The blob is there: a copy onto itself (new metadata) gives it a new
 * LastModified, which tells collect() it is wanted again.  0 done, 1 the
 * server would not (upload it anew: a fresh PUT is as good; so it is for a
 * blob over CopyObject's 5 GiB), -1 no answer.
 */

static int
gobi_s3_refresh(gobi_storage_t *s, const char *key, char *errbuf,
    size_t errlen)
{
    int            rc;
    char           src[GOBI_S3_PREFIX_MAX + 256], meta[64];
    gobi_s3_req_t  r;

    snprintf(src, sizeof(src), "x-amz-copy-source: /%s/%s", s->bucket, key);
    snprintf(meta, sizeof(meta), "x-amz-meta-gobi-wanted: %" PRId64,
             gobi_s3_now_ms());

    gobi_s3_req_init(&r, "PUT", key);
    r.headers[0] = src;
    r.headers[1] = "x-amz-metadata-directive: REPLACE";
    r.headers[2] = meta;
    r.headers[3] = "Content-Type: application/octet-stream";

    if (gobi_s3_perform(s, &r, errbuf, errlen) != 0) {
        rc = -1;

    } else {
        rc = (r.status == 200 && !gobi_s3_body_error(&r)) ? 0 : 1;
    }

    gobi_s3_req_free(&r);

    return rc;
}


/* gives up a multipart upload, so that no part of it stays */

static void
gobi_s3_abort(gobi_storage_t *s, const char *key, const char *query)
{
    char           errbuf[256];
    gobi_s3_req_t  r;

    gobi_s3_req_init(&r, "DELETE", key);
    r.query = query;

    (void) gobi_s3_perform(s, &r, errbuf, sizeof(errbuf));

    gobi_s3_req_free(&r);
}


static int
gobi_s3_multipart(gobi_storage_t *s, const char *key, int fd, int64_t size,
    char *errbuf, size_t errlen)
{
    int            rc, err;
    char           id[1024], eid[3 * 1024 + 1], query[3 * 1024 + 64],
                  *xml;
    size_t         n, max;
    int64_t        parts, i;
    gobi_s3_req_t  r;

    parts = (size + GOBI_S3_PART - 1) / GOBI_S3_PART;

    if (parts > GOBI_S3_PARTS_MAX) {
        snprintf(errbuf, errlen, "s3 PUT %s/%.300s: %" PRId64 " bytes are "
                 "more than S3 takes in %d parts", s->bucket, key, size,
                 GOBI_S3_PARTS_MAX);
        errno = EFBIG;
        return -1;
    }

    gobi_s3_req_init(&r, "POST", key);
    r.query = "uploads=";
    r.headers[0] = "Content-Type: application/octet-stream";

    if (gobi_s3_perform(s, &r, errbuf, errlen) != 0) {
        gobi_s3_req_free(&r);
        return -1;
    }

    if (r.status != 200) {
        gobi_s3_failed(s, &r, errbuf, errlen);
        gobi_s3_req_free(&r);
        return -1;
    }

    rc = r.body.data ? gobi_s3_xml(r.body.data, r.body.data + r.body.len,
                                   "UploadId", id, sizeof(id), NULL)
                     : -1;
    gobi_s3_req_free(&r);

    if (rc != 0 || id[0] == '\0' || gobi_s3_escape(id, eid, sizeof(eid)) != 0)
    {
        snprintf(errbuf, errlen, "s3 POST %s/%.300s?uploads: no UploadId in "
                 "the answer", s->bucket, key);
        errno = EIO;
        return -1;
    }

    max = parts * 200 + 128;
    xml = malloc(max);
    if (xml == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        errno = ENOMEM;
        snprintf(query, sizeof(query), "uploadId=%s", eid);
        gobi_s3_abort(s, key, query);
        return -1;
    }

    n = snprintf(xml, max, "<CompleteMultipartUpload>");
    err = 0;

    for (i = 1; i <= parts; i++) {
        snprintf(query, sizeof(query), "partNumber=%" PRId64 "&uploadId=%s",
                 i, eid);

        gobi_s3_req_init(&r, "PUT", key);
        r.query = query;
        r.fd = fd;
        r.off = (i - 1) * GOBI_S3_PART;
        r.len = size - r.off < GOBI_S3_PART ? size - r.off : GOBI_S3_PART;

        if (gobi_s3_perform(s, &r, errbuf, errlen) != 0) {
            err = errno;

        } else if (r.status != 200) {
            gobi_s3_failed(s, &r, errbuf, errlen);
            err = EIO;

        } else if (r.etag[0] == '\0' || strpbrk(r.etag, "<>&")) {
            snprintf(errbuf, errlen, "s3 PUT %s/%.300s part %" PRId64 ": no "
                     "ETag in the answer", s->bucket, key, i);
            err = EIO;

        } else {
            n += snprintf(xml + n, max - n, "<Part><PartNumber>%" PRId64
                          "</PartNumber><ETag>%s</ETag></Part>", i, r.etag);
        }

        gobi_s3_req_free(&r);

        if (err) {
            break;
        }
    }

    if (err == 0) {
        n += snprintf(xml + n, max - n, "</CompleteMultipartUpload>");
        snprintf(query, sizeof(query), "uploadId=%s", eid);

        gobi_s3_req_init(&r, "POST", key);
        r.query = query;
        r.post = xml;
        r.post_len = n;
        r.headers[0] = "Content-Type: application/xml";

        if (gobi_s3_perform(s, &r, errbuf, errlen) != 0) {
            err = errno;

        } else if (r.status != 200 || gobi_s3_body_error(&r)) {
            /* (an error may come as a 200: the body tells) */
            gobi_s3_failed(s, &r, errbuf, errlen);
            err = EIO;
        }

        gobi_s3_req_free(&r);
    }

    free(xml);

    if (err == 0) {
        return 0;
    }

    snprintf(query, sizeof(query), "uploadId=%s", eid);
    gobi_s3_abort(s, key, query);

    errno = err;

    return -1;
}


static int
gobi_storage_s3_put(gobi_storage_t *s, int64_t vault, const char *hash,
    const char *tmp_path, int fd, char *errbuf, size_t errlen)
{
    int            rc;
    char           key[GOBI_S3_PREFIX_MAX + 128];
    struct stat    st;
    gobi_s3_req_t  r;

    if (gobi_s3_key(s, vault, hash, key, sizeof(key), errbuf, errlen) != 0) {
        return -1;
    }

    if (fstat(fd, &st) != 0) {
        rc = errno;
        snprintf(errbuf, errlen, "s3: fstat(\"%s\") failed: %s", tmp_path,
                 strerror(rc));
        errno = rc;
        return -1;
    }

    if (!S_ISREG(st.st_mode)) {
        snprintf(errbuf, errlen, "s3: \"%s\" is not a file to store",
                 tmp_path);
        errno = EINVAL;
        return -1;
    }

    /* content-addressed: the blob may be there already */

    rc = gobi_s3_head(s, key, &r, errbuf, errlen);
    gobi_s3_req_free(&r);

    if (rc < 0) {
        return -1;
    }

    if (rc == 1) {
        rc = gobi_s3_refresh(s, key, errbuf, errlen);
        if (rc <= 0) {
            return rc;
        }
    }

    if (st.st_size > GOBI_S3_PART) {
        return gobi_s3_multipart(s, key, fd, st.st_size, errbuf, errlen);
    }

    gobi_s3_req_init(&r, "PUT", key);
    r.headers[0] = "Content-Type: application/octet-stream";
    r.fd = fd;
    r.len = st.st_size;

    rc = gobi_s3_perform(s, &r, errbuf, errlen);

    if (rc == 0 && r.status != 200) {
        gobi_s3_failed(s, &r, errbuf, errlen);
        rc = -1;
    }

    gobi_s3_req_free(&r);

    return rc;
}


static int
gobi_s3_delete(gobi_storage_t *s, const char *key, char *errbuf,
    size_t errlen)
{
    int            rc;
    gobi_s3_req_t  r;

    gobi_s3_req_init(&r, "DELETE", key);

    rc = gobi_s3_perform(s, &r, errbuf, errlen);

    if (rc == 0 && r.status != 204 && r.status != 200 && r.status != 404) {
        gobi_s3_failed(s, &r, errbuf, errlen);
        rc = -1;
    }

    gobi_s3_req_free(&r);

    return rc;
}


static int
gobi_storage_s3_remove(gobi_storage_t *s, int64_t vault, const char *hash,
    char *errbuf, size_t errlen)
{
    char  key[GOBI_S3_PREFIX_MAX + 128];

    if (gobi_s3_key(s, vault, hash, key, sizeof(key), errbuf, errlen) != 0) {
        return -1;
    }

    return gobi_s3_delete(s, key, errbuf, errlen);
}


/* listings -------------------------------------------------------------- */


/* "2006-01-02T15:04:05.000Z" in ms, or -1 */

static int64_t
gobi_s3_time(const char *v)
{
    int         ms, i;
    time_t      t;
    struct tm   tm;
    const char  *p;

    memset(&tm, 0, sizeof(tm));

    if (strlen(v) < 20
        || sscanf(v, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
    {
        return -1;
    }

    ms = 0;
    p = v + 19;

    if (*p == '.') {
        for (i = 0, p++; *p >= '0' && *p <= '9'; i++, p++) {
            if (i < 3) {
                ms = ms * 10 + (*p - '0');
            }
        }

        for ( /* void */ ; i < 3; i++) {
            ms *= 10;
        }
    }

    if (*p != 'Z') {
        return -1;
    }

    tm.tm_year -= 1900;
    tm.tm_mon -= 1;

    t = timegm(&tm);
    if (t == (time_t) -1) {
        return -1;
    }

    return (int64_t) t * 1000 + ms;
}


/*
 * Every object under prefix: ListObjectsV2 a page (1000 keys) at a time,
 * cb(data, key, size, mtime_ms) for each one.  0, the callback's non-zero,
 * or -1 with errbuf filled.
 */

static int
gobi_s3_walk(gobi_storage_t *s, const char *prefix, gobi_s3_walk_pt cb,
    void *data, char *errbuf, size_t errlen)
{
    int            rc;
    char           token[GOBI_S3_TOKEN_MAX], etoken[3 * GOBI_S3_TOKEN_MAX],
                   eprefix[3 * GOBI_S3_PREFIX_MAX],
                   query[3 * GOBI_S3_TOKEN_MAX + 3 * GOBI_S3_PREFIX_MAX + 64],
                   key[1024], num[32], when[64], more[16];
    int64_t        size, mtime;
    const char    *p, *end, *c, *ce;
    gobi_s3_req_t  r;

    if (gobi_s3_escape(prefix, eprefix, sizeof(eprefix)) != 0) {
        snprintf(errbuf, errlen, "s3: prefix too long");
        return -1;
    }

    token[0] = '\0';

    for ( ;; ) {

        /* (sorted by name: curl signs the query as it is) */

        if (token[0]) {
            if (gobi_s3_escape(token, etoken, sizeof(etoken)) != 0) {
                snprintf(errbuf, errlen, "s3: continuation token too long");
                return -1;
            }

            snprintf(query, sizeof(query), "continuation-token=%s&"
                     "list-type=2&prefix=%s", etoken, eprefix);

        } else {
            snprintf(query, sizeof(query), "list-type=2&prefix=%s", eprefix);
        }

        gobi_s3_req_init(&r, "GET", NULL);
        r.query = query;
        r.body.max = GOBI_S3_LIST_MAX;

        if (gobi_s3_perform(s, &r, errbuf, errlen) != 0) {
            gobi_s3_req_free(&r);
            return -1;
        }

        if (r.status != 200 || r.body.data == NULL) {
            gobi_s3_failed(s, &r, errbuf, errlen);
            gobi_s3_req_free(&r);
            return -1;
        }

        p = r.body.data;
        end = p + r.body.len;

        for ( ;; ) {
            c = memmem(p, end - p, "<Contents>", 10);
            if (c == NULL) {
                break;
            }

            ce = memmem(c, end - c, "</Contents>", 11);
            if (ce == NULL) {
                snprintf(errbuf, errlen, "s3 GET %s?list-type=2: a bad "
                         "listing", s->bucket);
                gobi_s3_req_free(&r);
                return -1;
            }

            p = ce + 11;

            /* a key we could not spell is none of ours */

            if (gobi_s3_xml(c, ce, "Key", key, sizeof(key), NULL) != 0
                || gobi_s3_xml(c, ce, "Size", num, sizeof(num), NULL) != 0
                || gobi_s3_xml(c, ce, "LastModified", when, sizeof(when),
                               NULL) != 0
                || num[0] < '0' || num[0] > '9'
                || (mtime = gobi_s3_time(when)) < 0)
            {
                continue;
            }

            size = strtoll(num, NULL, 10);

            rc = cb(data, key, size, mtime, errbuf, errlen);
            if (rc != 0) {
                gobi_s3_req_free(&r);
                return rc;
            }
        }

        if (gobi_s3_xml(r.body.data, end, "IsTruncated", more, sizeof(more),
                        NULL) != 0
            || strcmp(more, "true") != 0)
        {
            gobi_s3_req_free(&r);
            return 0;
        }

        rc = gobi_s3_xml(r.body.data, end, "NextContinuationToken", etoken,
                         sizeof(token), NULL);

        gobi_s3_req_free(&r);

        if (rc != 0 || etoken[0] == '\0' || strcmp(etoken, token) == 0) {
            snprintf(errbuf, errlen, "s3 GET %s?list-type=2: a truncated "
                     "listing without a new continuation token", s->bucket);
            return -1;
        }

        strcpy(token, etoken);
    }
}


typedef struct {
    gobi_storage_t   *s;
    size_t            skip;              /* the prefix's length */
    int             (*cb)(void *data, const char *hash, int64_t size);
    void             *data;
} gobi_s3_list_t;


/* "<hh>/<hash>" of a vault's prefix: the hash, or NULL */

static const char *
gobi_s3_blob_name(const char *rel)
{
    if (strlen(rel) != GOBI_STORAGE_HASH_LEN + 3 || rel[2] != '/'
        || !gobi_storage_hash_valid(rel + 3)
        || rel[0] != rel[3] || rel[1] != rel[4])
    {
        return NULL;
    }

    return rel + 3;
}


static int
gobi_s3_list_one(void *data, const char *key, int64_t size, int64_t mtime,
    char *errbuf, size_t errlen)
{
    const char      *hash;
    gobi_s3_list_t  *l;

    (void) mtime;
    (void) errbuf;
    (void) errlen;

    l = data;

    if (strlen(key) < l->skip) {
        return 0;
    }

    hash = gobi_s3_blob_name(key + l->skip);
    if (hash == NULL) {
        return 0;
    }

    return l->cb(l->data, hash, size);
}


static int
gobi_storage_s3_list(gobi_storage_t *s, int64_t vault,
    int (*cb)(void *data, const char *hash, int64_t size), void *data,
    char *errbuf, size_t errlen)
{
    char            prefix[GOBI_S3_PREFIX_MAX + 64];
    gobi_s3_list_t  l;

    if (gobi_s3_key(s, vault, NULL, prefix, sizeof(prefix), errbuf, errlen)
        != 0)
    {
        return -1;
    }

    l.s = s;
    l.skip = strlen(prefix);
    l.cb = cb;
    l.data = data;

    return gobi_s3_walk(s, prefix, gobi_s3_list_one, &l, errbuf, errlen);
}


static int
gobi_s3_remove_one(void *data, const char *key, int64_t size, int64_t mtime,
    char *errbuf, size_t errlen)
{
    (void) size;
    (void) mtime;

    /* everything under the vault's prefix goes, ours or strays */

    return gobi_s3_delete(data, key, errbuf, errlen) == 0 ? 0 : -1;
}


static int
gobi_storage_s3_remove_vault(gobi_storage_t *s, int64_t vault, char *errbuf,
    size_t errlen)
{
    char  prefix[GOBI_S3_PREFIX_MAX + 64];

    if (gobi_s3_key(s, vault, NULL, prefix, sizeof(prefix), errbuf, errlen)
        != 0)
    {
        return -1;
    }

    /*
     * One DELETE a blob: DeleteObjects would need a Content-MD5 of its body
     * (no MD5 here), and a vault goes seldom.
     */

    return gobi_s3_walk(s, prefix, gobi_s3_remove_one, s, errbuf, errlen);
}


/* the collector --------------------------------------------------------- */


typedef struct {
    gobi_storage_t   *s;
    size_t            skip;              /* the root prefix's length */
    int64_t           before;            /* this old (ms) or older: gone */
    int             (*referenced)(void *data, int64_t vault,
                                  const char *hash);
    void             *data;
    int64_t           removed;
} gobi_s3_gc_t;


/*
 * A blob goes when it is old by the listing, unreferenced, still old by a
 * HEAD just before (a put() may have refreshed it since the listing) and
 * still unreferenced.  The race that remains: a put() of the same content
 * whose HEAD (and refresh) falls between our HEAD and our DELETE is told
 * its blob is stored, and then loses it; S3 has no DELETE conditional on
 * LastModified to close that.  It takes a writer of exactly that content
 * within one round trip, of a blob unused for min_age (hours): the next
 * upload of it, or the scrub from another target, brings it back.
 * LastModified is the server's clock: a skew of seconds does not matter
 * against such ages.
 */

static int
gobi_s3_gc_one(void *data, const char *key, int64_t size, int64_t mtime,
    char *errbuf, size_t errlen)
{
    char           *end;
    int64_t         vault;
    const char     *rel, *slash, *hash;
    gobi_s3_gc_t   *gc;
    gobi_s3_req_t   r;

    (void) size;

    gc = data;

    if (strlen(key) < gc->skip || mtime > gc->before) {
        return 0;
    }

    /* "<vault>/<hh>/<hash>" */

    rel = key + gc->skip;
    slash = strchr(rel, '/');

    if (rel[0] < '0' || rel[0] > '9' || slash == NULL || slash - rel > 18) {
        return 0;
    }

    errno = 0;
    vault = strtoll(rel, &end, 10);

    if (end != slash || errno != 0) {
        return 0;
    }

    hash = gobi_s3_blob_name(slash + 1);

    if (hash == NULL || gc->referenced(gc->data, vault, hash) != 0) {
        return 0;
    }

    if (gobi_s3_head(gc->s, key, &r, errbuf, errlen) == 1
        && r.mtime >= 0 && r.mtime * 1000 <= gc->before
        && gc->referenced(gc->data, vault, hash) == 0
        && gobi_s3_delete(gc->s, key, errbuf, errlen) == 0)
    {
        gc->removed++;
    }

    gobi_s3_req_free(&r);

    /* one blob that could not go does not stop the others */

    return 0;
}


static int
gobi_storage_s3_collect(gobi_storage_t *s, int64_t min_age_ms,
    int (*referenced)(void *data, int64_t vault, const char *hash),
    void *data, int64_t *removed)
{
    int            rc;
    char           root[GOBI_S3_PREFIX_MAX + 2], errbuf[512];
    gobi_s3_gc_t   gc;

    gobi_s3_root(s, root, sizeof(root));

    gc.s = s;
    gc.skip = strlen(root);
    gc.before = gobi_s3_now_ms() - min_age_ms;
    gc.referenced = referenced;
    gc.data = data;
    gc.removed = 0;

    rc = gobi_s3_walk(s, root, gobi_s3_gc_one, &gc, errbuf, sizeof(errbuf));

    *removed = gc.removed;

    return rc == 0 ? 0 : -1;
}


const gobi_storage_driver_t  gobi_storage_s3 = {
    "s3",
    gobi_storage_s3_open,
    gobi_storage_s3_close,
    gobi_storage_s3_tmp_dir,
    gobi_storage_s3_put,
    gobi_storage_s3_stat,
    gobi_storage_s3_read,
    NULL,                                /* path: no local files */
    gobi_storage_s3_remove,
    gobi_storage_s3_remove_vault,
    gobi_storage_s3_list,
    gobi_storage_s3_collect,
    gobi_storage_s3_tmp_sweep,
    NULL                                 /* check: a stat() answers it */
};
