/*
 * Copyright (C) the gobi authors
 *
 * Encryption at rest (lib/gobi_crypt.c) under a fixed data key.  A genuine
 * blob G (2 chunks and 5 bytes of known plaintext P) is sealed once.  Each
 * input is then, in turn:
 *  - a whole stored blob, checked under G's name: dec_init must refuse it
 *    unless it is G itself (no input forges the commit);
 *  - the chunks after G's header: whatever opens is P's bytes;
 *  - a list of edits of G (bytes xored, a cut, a failing or short
 *    read()): whatever opens is P's bytes, an unchanged G always opens,
 *    a failed read() is never called corrupt;
 *  - a plaintext (the input stretched to a length it chooses, up to four
 *    chunks), sealed in pieces it chooses: a range it chooses opens equal.
 * Every range is read into a scratch of exactly gobi_crypt_scratch(len)
 * bytes, so ASan sees a byte past it.  libsodium's random bytes are made
 * deterministic and restarted per input, so a crash replays exactly.
 */

#include <errno.h>
#include <sys/types.h>

#include <sodium.h>

#include "fuzz.h"

#include "gobi_crypt.h"
#include "gobi_hash.h"


#define C           GOBI_CRYPT_CHUNK
#define HDR         GOBI_CRYPT_HEADER_LEN
#define G_PLAIN     (2 * C + 5)
#define MAX_PLAIN   (4 * C + 3)


typedef struct {
    unsigned char      *p;
    size_t              len;
    size_t              cap;
} buf_t;

typedef struct {
    const unsigned char  *p;
    size_t                len;
    int                   fail;      /* read() answers -1 */
    size_t                shorten;   /* read() gives this much less */
} src_t;


static unsigned char      dk[GOBI_CRYPT_KEY_LEN];
static unsigned char     *P;
static buf_t              G;
static char               G_hash[GOBI_HASH_HEX_LEN + 1];
static gobi_crypt_enc_t   enc;
static uint64_t           rnd_count;


/* deterministic random bytes: a stream per call, numbered */

static const char *
rnd_name(void)
{
    return "fuzz";
}


static void
rnd_buf(void *buf, size_t n)
{
    unsigned char  seed[randombytes_SEEDBYTES];

    memset(seed, 0, sizeof(seed));
    memcpy(seed, &rnd_count, sizeof(rnd_count));
    rnd_count++;
    randombytes_buf_deterministic(buf, n, seed);
}


static uint32_t
rnd_random(void)
{
    uint32_t  v;

    rnd_buf(&v, sizeof(v));

    return v;
}


static randombytes_implementation  rnd_impl = {
    rnd_name, rnd_random, NULL, NULL, rnd_buf, NULL
};


static int
buf_out(void *data, const void *p, size_t len)
{
    buf_t  *b = data;

    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2;
        b->p = realloc(b->p, b->cap);
        fuzz_check(b->p != NULL, "out of memory");
    }

    memcpy(b->p + b->len, p, len);
    b->len += len;

    return 0;
}


static ssize_t
src_read(void *data, int64_t off, void *buf, size_t len)
{
    src_t  *s = data;

    if (s->fail) {
        errno = EIO;
        return -1;
    }

    if (off < 0 || (size_t) off >= s->len) {
        return 0;
    }

    if (len > s->len - off) {
        len = s->len - off;
    }

    len = len > s->shorten ? len - s->shorten : 0;
    memcpy(buf, s->p + off, len);

    return len;
}


/* seals plain into b in pieces of step (0: at once) */
static void
seal(buf_t *b, const unsigned char *plain, size_t len, size_t step,
    char hash[GOBI_HASH_HEX_LEN + 1])
{
    unsigned char  header[HDR];
    size_t         off, n;

    /* the header's place first */
    if (b->cap < HDR) {
        b->p = realloc(b->p, HDR);
        b->cap = HDR;
        fuzz_check(b->p != NULL, "out of memory");
    }

    memset(b->p, 0, HDR);
    b->len = HDR;
    gobi_hash_buf(plain, len, hash);
    gobi_crypt_enc_init(&enc, dk);

    for (off = 0; off < len; off += n) {
        n = step == 0 || len - off < step ? len - off : step;
        fuzz_check(gobi_crypt_enc_update(&enc, plain + off, n, buf_out, b)
                   == 0, "enc_update");
    }

    fuzz_check(gobi_crypt_enc_final(&enc, hash, buf_out, b, header) == 0,
               "enc_final");
    memcpy(b->p, header, HDR);
}


/*
 * Opens [off, off + len) of src as a blob of stored size `stored` (the
 * header at src->p) into out: 0 ok, 1 refused by dec_init, -1 failed
 * (*corrupt).  The range is clipped to the plaintext size.
 */
static int
open_range(src_t *s, int64_t stored, const char *hash, int64_t *off,
    size_t *len, unsigned char *out, int *corrupt)
{
    gobi_crypt_dec_t   d;
    unsigned char     *scratch;
    int                rc;

    *corrupt = -1;

    if (s->len < HDR || gobi_crypt_dec_init(&d, dk, hash, s->p, stored) != 0)
    {
        return 1;
    }

    fuzz_check(d.plain == gobi_crypt_plain_size(stored), "plain size");

    if (*off > d.plain) {
        *off = d.plain;
    }

    if ((int64_t) *len > d.plain - *off) {
        *len = d.plain - *off;
    }

    scratch = malloc(gobi_crypt_scratch(*len) + (*len == 0));
    fuzz_check(scratch != NULL, "out of memory");

    rc = gobi_crypt_dec_range(&d, *off, *len, out, scratch, src_read, s,
                              corrupt);
    fuzz_check(rc == 0 || rc == -1, "dec_range rc %d", rc);
    fuzz_check(rc == 0 || *corrupt == 0 || *corrupt == 1, "corrupt %d",
               *corrupt);

    free(scratch);
    gobi_crypt_dec_wipe(&d);

    return rc;
}


static uint32_t
pick_u24(fuzz_in_t *in)
{
    uint32_t  v;

    v = fuzz_byte(in);
    v = v << 8 | fuzz_byte(in);
    v = v << 8 | fuzz_byte(in);

    return v;
}


/* the input as a whole stored blob */
static void
check_whole(const uint8_t *data, size_t size)
{
    unsigned char  *copy, *out;
    int64_t         off;
    size_t          len;
    src_t           s;
    int             rc, corrupt;

    copy = malloc(size ? size : 1);
    out = malloc(G_PLAIN);
    fuzz_check(copy != NULL && out != NULL, "out of memory");
    memcpy(copy, data, size);

    s = (src_t) { copy, size, 0, 0 };
    off = 0;
    len = G_PLAIN;
    rc = open_range(&s, size, G_hash, &off, &len, out, &corrupt);

    if (size != G.len || memcmp(copy, G.p, size) != 0) {
        fuzz_check(rc == 1, "a blob that is not G opened (rc %d)", rc);
    }

    if (rc == 0) {
        fuzz_check(len == G_PLAIN && memcmp(out, P, len) == 0,
                   "G opened wrong");
    }

    free(copy);
    free(out);
}


/* the input as the chunks after G's header, a range from its first bytes */
static void
check_chunks(fuzz_in_t *in, const uint8_t *data, size_t size)
{
    unsigned char  *stored, *out;
    int64_t         off;
    size_t          len;
    src_t           s;
    int             rc, corrupt;

    off = pick_u24(in) % (G_PLAIN + 1);
    len = pick_u24(in) % (G_PLAIN + 1);

    stored = malloc(HDR + size);
    out = malloc(G_PLAIN);
    fuzz_check(stored != NULL && out != NULL, "out of memory");
    memcpy(stored, G.p, HDR);
    memcpy(stored + HDR, data, size);

    s = (src_t) { stored, HDR + size, 0, 0 };
    rc = open_range(&s, HDR + size, G_hash, &off, &len, out, &corrupt);

    fuzz_check((rc == 1) == (gobi_crypt_plain_size(HDR + size) < 0),
               "dec_init with G's header: rc %d for %zu stored bytes", rc,
               HDR + size);

    if (rc == 0) {
        fuzz_check(off + len <= G_PLAIN && memcmp(out, P + off, len) == 0,
                   "chunks not G's opened: [%lld, +%zu)", (long long) off,
                   len);
    }

    if (rc == -1) {
        fuzz_check(corrupt == 1, "bad chunks said not corrupt");
    }

    free(stored);
    free(out);
}


/* the input as edits of G */
static void
check_edits(fuzz_in_t *in)
{
    unsigned char  *copy, *out;
    unsigned        n, i, x, mode;
    int64_t         off, stored;
    size_t          len, at;
    src_t           s;
    int             rc, corrupt, changed;

    copy = malloc(G.len);
    out = malloc(G_PLAIN);
    fuzz_check(copy != NULL && out != NULL, "out of memory");
    memcpy(copy, G.p, G.len);

    changed = 0;
    n = fuzz_pick(in, 5);

    for (i = 0; i < n; i++) {
        at = pick_u24(in) % G.len;
        x = fuzz_byte(in);
        copy[at] ^= x;
        changed |= x != 0;
    }

    s = (src_t) { copy, G.len, 0, 0 };
    stored = G.len;
    mode = fuzz_pick(in, 8);

    switch (mode) {
    case 1:                         /* cut */
        s.len = pick_u24(in) % (G.len + 1);
        stored = s.len;
        changed |= s.len != G.len;
        break;
    case 2:                         /* the size says more than there is */
        s.len = pick_u24(in) % (G.len + 1);
        changed |= s.len != G.len;
        break;
    case 3:
        s.fail = 1;
        break;
    case 4:
        s.shorten = 1 + fuzz_pick(in, 64);
        break;
    }

    off = pick_u24(in) % (G_PLAIN + 1);
    len = pick_u24(in) % (G_PLAIN + 1);
    rc = open_range(&s, stored, G_hash, &off, &len, out, &corrupt);

    if (rc == 0) {
        fuzz_check(off + len <= G_PLAIN && memcmp(out, P + off, len) == 0,
                   "an edited G opened wrong: [%lld, +%zu)",
                   (long long) off, len);
    }

    if (!changed && mode != 3 && mode != 4) {
        fuzz_check(rc == 0, "an unchanged G did not open: rc %d", rc);
    }

    if (mode == 3 && rc == -1) {
        fuzz_check(corrupt == 0, "a failed read() called corrupt");
    }

    if (mode == 4 && rc == -1 && !changed) {
        fuzz_check(corrupt == 1, "a short read() not called corrupt");
    }

    free(copy);
    free(out);
}


/* the input as plaintext */
static void
check_plain(fuzz_in_t *in, const uint8_t *data, size_t size)
{
    static buf_t    b;
    unsigned char  *plain, *out;
    char            hash[GOBI_HASH_HEX_LEN + 1];
    size_t          len, step, i;
    int64_t         off;
    src_t           s;
    int             rc, corrupt;

    /* as long as it is, or stretched to a length it chooses */
    len = fuzz_pick(in, 2) ? pick_u24(in) % (MAX_PLAIN + 1) : size;
    step = fuzz_pick(in, 2) ? 1 + pick_u24(in) % (C + 100) : 0;

    plain = malloc(len + 1);
    out = malloc(len + 1);
    fuzz_check(plain != NULL && out != NULL, "out of memory");

    for (i = 0; i < len; i++) {
        plain[i] = size ? data[i % size] ^ (unsigned char) (i / size) : 0;
    }

    seal(&b, plain, len, step, hash);
    fuzz_check((int64_t) b.len == gobi_crypt_stored_size(len)
               && gobi_crypt_plain_size(b.len) == (int64_t) len,
               "stored %zu for %zu", b.len, len);

    off = pick_u24(in) % (len + 1);
    i = pick_u24(in) % (len + 1);
    s = (src_t) { b.p, b.len, 0, 0 };
    rc = open_range(&s, b.len, hash, &off, &i, out, &corrupt);

    fuzz_check(rc == 0 && memcmp(out, plain + off, i) == 0,
               "range [%lld, +%zu) of %zu bytes: rc %d", (long long) off, i,
               len, rc);

    free(plain);
    free(out);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int  ready;
    fuzz_in_t   in;
    size_t      i;

    if (!ready) {
        fuzz_check(randombytes_set_implementation(&rnd_impl) == 0
                   && gobi_crypt_init() == 0, "libsodium");

        for (i = 0; i < sizeof(dk); i++) {
            dk[i] = (unsigned char) (i * 7 + 1);
        }

        P = malloc(G_PLAIN);
        fuzz_check(P != NULL, "out of memory");

        for (i = 0; i < G_PLAIN; i++) {
            P[i] = (unsigned char) (i ^ (i >> 8));
        }

        rnd_count = 0;
        seal(&G, P, G_PLAIN, 0, G_hash);
        ready = 1;
    }

    rnd_count = 1000;

    check_whole(data, size);

    in = (fuzz_in_t) { data, size };
    check_chunks(&in, data, size);

    in = (fuzz_in_t) { data, size };
    check_edits(&in);

    in = (fuzz_in_t) { data, size };
    check_plain(&in, data, size);

    return 0;
}
