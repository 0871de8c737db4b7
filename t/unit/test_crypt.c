/*
 * Copyright (C) the gobi authors
 *
 * Encryption at rest (lib/gobi_crypt.c): round trips streamed in odd
 * pieces, ranges at chunk boundaries, tampering, truncation, reordering,
 * moved blobs, other vaults' keys, key wrapping, key files, sizes.
 */

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "unit.h"

#include "gobi_crypt.h"
#include "gobi_hash.h"


#define C       GOBI_CRYPT_CHUNK
#define HDR     GOBI_CRYPT_HEADER_LEN


/* a stored blob in memory */
typedef struct {
    unsigned char  *p;
    size_t          len;
    size_t          cap;
    int             fail_out;       /* out() answers -1 */
    int             fail_read;      /* read() answers -1 */
    int             reads;
    size_t          last_read;
} blob_t;


static unsigned char  dk[GOBI_CRYPT_KEY_LEN], dk2[GOBI_CRYPT_KEY_LEN];
static char           tmpdir[] = "/tmp/gobi-test-crypt-XXXXXX";


static int
blob_out(void *data, const void *buf, size_t len)
{
    blob_t  *b = data;

    if (b->fail_out) {
        return -1;
    }

    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2;
        b->p = realloc(b->p, b->cap);

        if (b->p == NULL) {
            abort();
        }
    }

    memcpy(b->p + b->len, buf, len);
    b->len += len;

    return 0;
}


/* pread(): what there is of [off, off + len) */
static ssize_t
blob_read(void *data, int64_t off, void *buf, size_t len)
{
    blob_t  *b = data;

    b->reads++;
    b->last_read = len;

    if (b->fail_read) {
        errno = EIO;
        return -1;
    }

    if (off < 0 || (size_t) off >= b->len) {
        return 0;
    }

    if (len > b->len - off) {
        len = b->len - off;
    }

    memcpy(buf, b->p + off, len);

    return len;
}


/* seals plain in pieces of step bytes into b (header at 0) */
static int
seal(blob_t *b, const unsigned char *plain, size_t len, size_t step,
    const unsigned char *key, char hash[GOBI_HASH_HEX_LEN + 1])
{
    static gobi_crypt_enc_t  e;
    unsigned char            header[HDR];
    size_t                   off, n;

    /* the header's place first */
    memset(b, 0, sizeof(*b));
    b->p = calloc(1, HDR);
    b->len = HDR;
    b->cap = HDR;

    gobi_hash_buf(plain, len, hash);
    gobi_crypt_enc_init(&e, key);

    for (off = 0; off < len; off += n) {
        n = len - off < step ? len - off : step;

        if (gobi_crypt_enc_update(&e, plain + off, n, blob_out, b) != 0) {
            gobi_crypt_enc_wipe(&e);
            return -1;
        }
    }

    if (gobi_crypt_enc_final(&e, hash, blob_out, b, header) != 0) {
        return -1;
    }

    memcpy(b->p, header, HDR);

    return 0;
}


/* decrypts [off, off + len) of b: 0, or -1 with *corrupt; -2 when
 * dec_init refuses, -4 when read() was asked for more than scratch */
static int
open_range(blob_t *b, const unsigned char *key, const char *hash,
    int64_t stored, int64_t off, size_t len, unsigned char *out,
    int *corrupt)
{
    gobi_crypt_dec_t   d;
    unsigned char     *scratch;
    int                rc;

    *corrupt = -1;

    if (b->len < HDR
        || gobi_crypt_dec_init(&d, key, hash, b->p, stored) != 0)
    {
        return -2;
    }

    /* exactly the promised size: ASan builds see any byte past it */
    scratch = malloc(gobi_crypt_scratch(len) + 1);
    b->reads = 0;
    rc = gobi_crypt_dec_range(&d, off, len, out, scratch, blob_read, b,
                              corrupt);
    free(scratch);
    gobi_crypt_dec_wipe(&d);

    if (b->reads && b->last_read > gobi_crypt_scratch(len)) {
        printf("# read %zu > scratch %zu\n", b->last_read,
               gobi_crypt_scratch(len));
        return -4;
    }

    return rc;
}


static void
fill(unsigned char *p, size_t len, unsigned seed)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        p[i] = (unsigned char) ((i * 31 + seed) ^ (i >> 9));
    }
}


static void
test_round_trips(void)
{
    static const size_t  steps[] = { 1, 7, 65536, 100000 };
    size_t               sizes[10] = { 0, 1, 65535, 65536, 65537, 3 * C,
                                       3 * C + 5 };
    size_t               i, s, n, len;
    unsigned char       *plain, *back;
    char                 hash[GOBI_HASH_HEX_LEN + 1];
    blob_t               b;
    int                  corrupt, good, rc;

    n = 7;
    sizes[n++] = randombytes_uniform(4 * C);
    sizes[n++] = randombytes_uniform(C);
    sizes[n++] = 5 * C + randombytes_uniform(C);

    for (i = 0; i < n; i++) {
        len = sizes[i];
        plain = malloc(len + 1);
        back = malloc(len + 1);
        fill(plain, len, i);

        for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
            good = seal(&b, plain, len, steps[s], dk, hash) == 0;
            good = good
                   && (int64_t) b.len == gobi_crypt_stored_size(len)
                   && gobi_crypt_plain_size(b.len) == (int64_t) len
                   && gobi_crypt_is_sealed(b.p, b.len);

            memset(back, 0xAA, len + 1);
            rc = open_range(&b, dk, hash, b.len, 0, len, back, &corrupt);

            ok(good && rc == 0 && memcmp(back, plain, len) == 0
               && (len == 0 ? b.reads == 0 : b.reads == 1),
               "%zu bytes in pieces of %zu: stored %zu, opens equal in %d "
               "read(s)", len, steps[s], b.len, b.reads);

            free(b.p);
        }

        free(plain);
        free(back);
    }
}


static void
test_ranges(void)
{
    int64_t         pts[64], plain_len, off, end;
    size_t          npts, i, j, k, bad;
    unsigned char  *plain, *back;
    char            hash[GOBI_HASH_HEX_LEN + 1];
    blob_t          b;
    int             corrupt;

    plain_len = 3 * C + 5;
    plain = malloc(plain_len);
    back = malloc(plain_len);
    fill(plain, plain_len, 42);
    if (seal(&b, plain, plain_len, 9999, dk, hash) != 0) {
        ok(0, "sealed");
        return;
    }

    npts = 0;

    for (k = 0; k <= 4; k++) {
        for (off = (int64_t) k * C - 1; off <= (int64_t) k * C + 1; off++) {
            if (off >= 0 && off <= plain_len) {
                pts[npts++] = off;
            }
        }
    }

    pts[npts++] = plain_len - 1;
    pts[npts++] = plain_len;

    bad = 0;

    for (i = 0; i < npts; i++) {
        for (j = 0; j < npts; j++) {
            off = pts[i];
            end = pts[j];

            if (end < off) {
                continue;
            }

            if (open_range(&b, dk, hash, b.len, off, end - off, back,
                           &corrupt) != 0
                || memcmp(back, plain + off, end - off) != 0
                || b.reads != (end > off))
            {
                bad++;
                printf("# range [%lld, %lld) wrong\n", (long long) off,
                       (long long) end);
            }
        }
    }

    is_int(bad, 0, "every range between chunk boundaries +-1 opens equal "
           "in one read");

    ok(open_range(&b, dk, hash, b.len, 1, plain_len, back, &corrupt) == -1
       && corrupt == 0, "a range past the end: -1, not corrupt");

    b.fail_read = 1;
    ok(open_range(&b, dk, hash, b.len, 0, 10, back, &corrupt) == -1
       && corrupt == 0, "read() failing: -1, not corrupt");

    free(b.p);
    free(plain);
    free(back);
}


/* a copy of the sealed blob with a change made by the caller */
static void
copy_blob(blob_t *dst, const blob_t *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->p = malloc(src->len + 1);
    memcpy(dst->p, src->p, src->len);
    dst->len = src->len;
    dst->cap = src->len + 1;
}


/* opens all of b: 0 ok, -2 refused by dec_init, -1 corrupt range */
static int
open_all(blob_t *b, const unsigned char *key, const char *hash,
    int64_t stored)
{
    int64_t         plain;
    unsigned char  *back;
    int             rc, corrupt;

    plain = gobi_crypt_plain_size(stored);

    if (plain < 0) {
        return -2;
    }

    back = malloc(plain + 1);
    rc = open_range(b, key, hash, stored, 0, plain, back, &corrupt);
    free(back);

    if (rc == -1 && corrupt != 1) {
        return -3;
    }

    return rc;
}


static void
test_tampering(void)
{
    static const struct {
        const char  *what;
        size_t       at;
        int          want;           /* -2: dec_init refuses; -1: corrupt */
    } flips[] = {
        { "the magic",                        3,                  -2 },
        { "the nonce",                        8 + 5,              -2 },
        { "the nonce's last byte",            8 + 23,             -2 },
        { "the commit",                       8 + 24 + 31,        -2 },
        { "chunk 0's ciphertext",             HDR,                -1 },
        { "chunk 1's ciphertext",             HDR + C + 16 + 777, -1 },
        { "chunk 0's tag",                    HDR + C + 15,       -1 },
        { "the last chunk's tag",             0,                  -1 },
    };

    size_t          i, plen;
    int64_t         len;
    unsigned char  *plain, *back, tmp[GOBI_CRYPT_SEALED];
    char            hash[GOBI_HASH_HEX_LEN + 1], other[GOBI_HASH_HEX_LEN + 1];
    blob_t          b, t;
    gobi_crypt_dec_t  d;
    int             rc, corrupt;

    plen = 3 * C + 5;
    plain = malloc(plen);
    back = malloc(plen);
    fill(plain, plen, 7);
    seal(&b, plain, plen, C, dk, hash);
    is_int(open_all(&b, dk, hash, b.len), 0, "the untouched blob opens");

    for (i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        copy_blob(&t, &b);
        t.p[flips[i].at ? flips[i].at : t.len - 1] ^= 0x10;
        rc = open_all(&t, dk, hash, t.len);
        is_int(rc, flips[i].want, "a bit flipped in %s: %s", flips[i].what,
               flips[i].want == -2 ? "refused" : "corrupt");
        free(t.p);
    }

    /* a chunk not touched still opens: a range costs its own chunks */
    copy_blob(&t, &b);
    t.p[HDR + 2 * GOBI_CRYPT_SEALED + 100] ^= 1;
    ok(open_range(&t, dk, hash, t.len, 10, C, back, &corrupt) == 0
       && memcmp(back, plain + 10, C) == 0
       && open_range(&t, dk, hash, t.len, 2 * C + 3, 10, back, &corrupt)
          == -1 && corrupt == 1,
       "chunk 2 tampered: chunks 0-1 open, chunk 2 is corrupt");
    free(t.p);

    /* truncated at a chunk boundary: chunk 1 becomes the last, unseen */
    len = HDR + 2 * GOBI_CRYPT_SEALED;
    ok(gobi_crypt_plain_size(len) == 2 * C
       && open_all(&b, dk, hash, len) == -1,
       "truncated at a chunk boundary: corrupt");

    copy_blob(&t, &b);
    t.len = HDR + 2 * GOBI_CRYPT_SEALED;
    is_int(open_all(&t, dk, hash, t.len), -1,
           "a file cut at a chunk boundary: corrupt");
    free(t.p);

    copy_blob(&t, &b);
    t.len -= 3;
    is_int(open_all(&t, dk, hash, t.len), -1, "cut 3 bytes short: corrupt");
    t.len = HDR + GOBI_CRYPT_SEALED + 1000;
    is_int(open_all(&t, dk, hash, t.len), -1, "cut mid-chunk: corrupt");
    t.len = HDR + GOBI_CRYPT_SEALED + 5;
    is_int(open_all(&t, dk, hash, t.len), -2,
           "cut to a size no blob has: refused");
    t.len = HDR - 1;
    ok(gobi_crypt_dec_init(&d, dk, hash, t.p, t.len) == -1,
       "cut inside the header: refused");
    free(t.p);

    /* the stored size says more than read() finds */
    copy_blob(&t, &b);
    t.len -= 100;
    ok(open_range(&t, dk, hash, b.len, 0, plen, back, &corrupt) == -1
       && corrupt == 1, "the stored bytes end early: corrupt");
    free(t.p);

    copy_blob(&t, &b);
    memcpy(tmp, t.p + HDR, GOBI_CRYPT_SEALED);
    memcpy(t.p + HDR, t.p + HDR + GOBI_CRYPT_SEALED, GOBI_CRYPT_SEALED);
    memcpy(t.p + HDR + GOBI_CRYPT_SEALED, tmp, GOBI_CRYPT_SEALED);
    is_int(open_all(&t, dk, hash, t.len), -1, "chunks 0 and 1 swapped: "
           "corrupt");
    free(t.p);

    /* a chunk of another blob of the same vault */
    seal(&t, plain, plen, C, dk, other);
    memcpy(t.p + HDR + GOBI_CRYPT_SEALED, b.p + HDR + GOBI_CRYPT_SEALED,
           GOBI_CRYPT_SEALED);
    is_int(open_all(&t, dk, hash, t.len), -1, "a chunk of another seal of "
           "the same plaintext: corrupt");
    free(t.p);

    gobi_hash_buf("other", 5, other);
    is_int(open_all(&b, dk, hash, b.len), 0, "the blob opens under its name");
    is_int(open_all(&b, dk, other, b.len), -2, "moved to another name: "
           "refused");
    ok(open_all(&b, dk2, hash, b.len) < 0 && open_all(&b, dk2, hash, b.len)
       != -3, "another vault's data key: refused or corrupt");

    hash[0] = hash[0] == 'a' ? 'b' : 'a';
    is_int(open_all(&b, dk, hash, b.len), -2, "a hash one digit off: "
           "refused");
    is_int(open_all(&b, dk, "zz", b.len), -2, "not a hash: refused");

    free(b.p);
    free(plain);
    free(back);
}


static void
test_enc_errors(void)
{
    static gobi_crypt_enc_t  e;
    unsigned char            header[HDR];
    unsigned char           *buf;
    blob_t                   b;
    int                      rc;

    memset(&b, 0, sizeof(b));
    buf = calloc(1, C + 1);

    /* ok() reads its condition twice: calls with effects go first */
    gobi_crypt_enc_init(&e, dk);
    rc = gobi_crypt_enc_update(&e, buf, C, blob_out, &b);
    ok(rc == 0 && b.len == 0, "a full chunk is held until the next byte");
    rc = gobi_crypt_enc_update(&e, buf, 1, blob_out, &b);
    ok(rc == 0 && b.len == GOBI_CRYPT_SEALED, "and goes with it");
    b.fail_out = 1;
    rc = gobi_crypt_enc_update(&e, buf, C, blob_out, &b);
    ok(rc == -1, "out() failing stops enc_update with -1");
    gobi_crypt_enc_wipe(&e);
    ok(sodium_is_zero(e.key, sizeof(e.key))
       && sodium_is_zero(e.mac, sizeof(e.mac)), "enc_wipe wipes the keys");

    b.fail_out = 0;
    gobi_crypt_enc_init(&e, dk);
    rc = gobi_crypt_enc_final(&e, "not a hash", blob_out, &b, header);
    ok(rc == -1 && sodium_is_zero(e.key, sizeof(e.key)),
       "enc_final refuses a bad hash, keys wiped");

    gobi_crypt_enc_init(&e, dk);
    b.fail_out = 1;
    rc = gobi_crypt_enc_final(&e, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47"
                              "778f7787faab45cdf12fe3a8", blob_out, &b,
                              header);
    ok(rc == -1, "out() failing fails enc_final");

    ok(!gobi_crypt_is_sealed("GOBIENC2", 8)
       && !gobi_crypt_is_sealed("GOBIENC1", 7)
       && gobi_crypt_is_sealed("GOBIENC1rest", 12), "is_sealed: the magic");

    free(b.p);
    free(buf);
}


static void
test_wrap(void)
{
    unsigned char  m1[GOBI_CRYPT_KEY_LEN], m2[GOBI_CRYPT_KEY_LEN];
    unsigned char  out[GOBI_CRYPT_KEY_LEN];
    char           w[GOBI_CRYPT_WRAPPED_MAX], w2[GOBI_CRYPT_WRAPPED_MAX];
    char           id[GOBI_CRYPT_KEY_ID_LEN + 1];
    char           id2[GOBI_CRYPT_KEY_ID_LEN + 1];
    char           got[GOBI_CRYPT_KEY_ID_LEN + 1];
    size_t         need;
    int            rc;

    gobi_crypt_key_new(m1);
    gobi_crypt_key_new(m2);
    gobi_crypt_key_id(m1, id);
    gobi_crypt_key_id(m2, id2);

    ok(strlen(id) == GOBI_CRYPT_KEY_ID_LEN
       && strspn(id, "0123456789abcdef") == GOBI_CRYPT_KEY_ID_LEN
       && strcmp(id, id2) != 0,
       "key ids: 16 hex digits, one per key (%s, %s)", id, id2);
    gobi_crypt_key_id(m1, got);
    is_str(got, id, "a key's id is the same every time");

    rc = gobi_crypt_wrap(m1, 7, dk, w, sizeof(w));
    ok(rc == 0, "wrapped: %s", w);
    need = strlen(w) + 1;
    ok(need <= GOBI_CRYPT_WRAPPED_MAX && strncmp(w, "1:", 2) == 0,
       "%zu bytes, \"1:\" first", need);
    ok(gobi_crypt_wrapped_id(w, got) == 0, "wrapped_id reads it");
    is_str(got, id, "wrapped_id is the master's key id");

    ok(gobi_crypt_unwrap(m1, 7, w, out) == 0
       && memcmp(out, dk, sizeof(dk)) == 0, "unwrap gives the data key back");
    ok(gobi_crypt_unwrap(m2, 7, w, out) == -1, "another master: -1");
    ok(gobi_crypt_unwrap(m1, 8, w, out) == -1, "another vault id: -1");
    ok(gobi_crypt_unwrap(m1, -7, w, out) == -1, "vault -7 is not 7");

    rc = gobi_crypt_wrap(m1, 7, dk, w2, sizeof(w2));
    ok(rc == 0 && strcmp(w, w2) != 0, "a fresh nonce per wrap");
    ok(gobi_crypt_wrap(m1, 7, dk, w2, need - 1) == -1
       && gobi_crypt_wrap(m1, 7, dk, w2, need) == 0,
       "wrap: -1 when out is one byte short");

    strcpy(w2, w);
    w2[strlen(w2) - 5] = w2[strlen(w2) - 5] == 'A' ? 'B' : 'A';
    ok(gobi_crypt_unwrap(m1, 7, w2, out) == -1, "a character changed: -1");

    /* names another master: the id is only a name, the seal decides */
    strcpy(w2, w);
    memcpy(w2 + 2, id2, GOBI_CRYPT_KEY_ID_LEN);
    ok(gobi_crypt_wrapped_id(w2, got) == 0 && strcmp(got, id2) == 0,
       "wrapped_id of a relabelled key");

    ok(gobi_crypt_wrapped_id("", got) == -1
       && gobi_crypt_wrapped_id("2:0123456789abcdef:AAAA", got) == -1
       && gobi_crypt_wrapped_id("1:0123456789abcdeg:AAAA", got) == -1
       && gobi_crypt_wrapped_id("1:0123456789abcdef:AAAA", got) == -1
       && gobi_crypt_wrapped_id("1:0123456789abcdef", got) == -1,
       "wrapped_id: -1 for what is not a wrapped key");

    strcpy(w2, w);
    strcat(w2, "A");
    ok(gobi_crypt_wrapped_id(w2, got) == -1
       && gobi_crypt_unwrap(m1, 7, w2, out) == -1, "one character more: -1");
    w2[strlen(w) - 1] = '\0';
    ok(gobi_crypt_wrapped_id(w2, got) == -1
       && gobi_crypt_unwrap(m1, 7, w2, out) == -1, "one character less: -1");
}


static int
write_file(const char *name, const void *p, size_t len, mode_t mode,
    char *path, size_t plen)
{
    int  fd, rc;

    snprintf(path, plen, "%s/%s", tmpdir, name);
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    if (fd == -1) {
        return -1;
    }

    rc = write(fd, p, len) == (ssize_t) len && fchmod(fd, mode) == 0;
    close(fd);

    return rc ? 0 : -1;
}


static void
test_key_load(void)
{
    unsigned char  raw[GOBI_CRYPT_KEY_LEN + 2], key[GOBI_CRYPT_KEY_LEN];
    char           hex[2 * GOBI_CRYPT_KEY_LEN + 2], path[256], err[512];
    char           big[4096];
    size_t         i;

    if (mkdtemp(tmpdir) == NULL) {
        ok(0, "temporary folder: %s", strerror(errno));
        return;
    }


    gobi_crypt_key_new(raw);
    raw[GOBI_CRYPT_KEY_LEN] = '\n';
    gobi_hex(hex, raw, GOBI_CRYPT_KEY_LEN);

    write_file("raw", raw, 32, 0600, path, sizeof(path));
    ok(gobi_crypt_key_load(path, key, err, sizeof(err)) == 0
       && memcmp(key, raw, 32) == 0, "32 raw bytes, mode 0600: loaded");

    write_file("raw400", raw, 32, 0400, path, sizeof(path));
    ok(gobi_crypt_key_load(path, key, err, sizeof(err)) == 0,
       "mode 0400: loaded");

    memset(key, 0, sizeof(key));
    write_file("hexnl", hex, 64, 0600, path, sizeof(path));
    strcat(hex, "\n");
    write_file("hexnl", hex, 65, 0600, path, sizeof(path));
    ok(gobi_crypt_key_load(path, key, err, sizeof(err)) == 0
       && memcmp(key, raw, 32) == 0, "64 hex digits and a newline: loaded");

    memset(key, 0, sizeof(key));
    write_file("hex", hex, 64, 0600, path, sizeof(path));
    ok(gobi_crypt_key_load(path, key, err, sizeof(err)) == 0
       && memcmp(key, raw, 32) == 0, "64 hex digits: loaded");

    for (i = 0; i < 64; i++) {
        if (hex[i] >= 'a' && hex[i] <= 'f') {
            hex[i] -= 32;
        }
    }

    memset(key, 0, sizeof(key));
    write_file("HEX", hex, 65, 0600, path, sizeof(path));
    ok(gobi_crypt_key_load(path, key, err, sizeof(err)) == 0
       && memcmp(key, raw, 32) == 0, "upper-case hex: loaded");

    err[0] = '\0';
    write_file("short", raw, 31, 0600, path, sizeof(path));
    ok(gobi_crypt_key_load(path, key, err, sizeof(err)) == -1
       && strstr(err, "31 bytes") != NULL, "31 bytes refused: %s", err);

    write_file("long", raw, 33, 0600, path, sizeof(path));
    ok(gobi_crypt_key_load(path, key, err, sizeof(err)) == -1
       && strstr(err, "33 bytes") != NULL, "32 bytes and a newline "
       "refused: %s", err);

    write_file("empty", raw, 0, 0600, path, sizeof(path));
    ok(gobi_crypt_key_load(path, key, err, sizeof(err)) == -1,
       "an empty file refused: %s", err);

    write_file("hexcrlf", "0123456789abcdef0123456789abcdef0123456789abcdef"
               "0123456789abcdef\r\n", 66, 0600, path, sizeof(path));
    ok(gobi_crypt_key_load(path, key, err, sizeof(err)) == -1,
       "hex and CRLF refused: %s", err);

    memset(big, 'a', sizeof(big));
    write_file("big", big, sizeof(big), 0600, path, sizeof(path));
    ok(gobi_crypt_key_load(path, key, err, sizeof(err)) == -1
       && strstr(err, "more than") != NULL, "4096 bytes refused: %s", err);

    write_file("nothex", "0123456789abcdef0123456789abcdef0123456789abcdef"
               "0123456789abcdeg\n", 65, 0600, path, sizeof(path));
    ok(gobi_crypt_key_load(path, key, err, sizeof(err)) == -1
       && strstr(err, "hex") != NULL, "a non-hex digit refused: %s", err);

    hex[64] = '\0';
    write_file("open", raw, 32, 0644, path, sizeof(path));
    ok(gobi_crypt_key_load(path, key, err, sizeof(err)) == -1
       && strstr(err, "0644") != NULL && strstr(err, "chmod 600") != NULL,
       "mode 0644 refused: %s", err);

    write_file("open2", hex, 64, 0640, path, sizeof(path));
    ok(gobi_crypt_key_load(path, key, err, sizeof(err)) == -1
       && strstr(err, "0640") != NULL && strcasestr(err, hex) == NULL,
       "mode 0640 refused, the key not in the message: %s", err);

    write_file("open3", raw, 32, 0602, path, sizeof(path));
    ok(gobi_crypt_key_load(path, key, err, sizeof(err)) == -1,
       "mode 0602 refused");

    snprintf(path, sizeof(path), "%s/missing", tmpdir);
    ok(gobi_crypt_key_load(path, key, err, sizeof(err)) == -1
       && strstr(err, "missing") != NULL, "a missing file: %s", err);

    ok(gobi_crypt_key_load(tmpdir, key, err, sizeof(err)) == -1
       && strstr(err, "regular") != NULL, "a folder: %s", err);

    snprintf(path, sizeof(path), "rm -rf '%s'", tmpdir);

    if (system(path) != 0) {
        printf("# could not remove %s\n", tmpdir);
    }
}


static void
test_sizes(void)
{
    int64_t  p, s, bad;
    size_t   i;
    static const int64_t  big[] = { 1LL << 32, (1LL << 40) + 3,
                                    (1LL << 50) - 1, 1LL << 60 };

    bad = 0;

    for (p = 0; p < 5 * C + 100; p += (p < 3 * C ? 1 : 97)) {
        s = gobi_crypt_stored_size(p);

        if (s <= p || gobi_crypt_plain_size(s) != p) {
            bad++;
        }
    }

    is_int(bad, 0, "plain_size(stored_size(p)) == p, p up to 5 chunks");

    for (i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        s = gobi_crypt_stored_size(big[i]);
        ok(s > big[i] && gobi_crypt_plain_size(s) == big[i],
           "%lld: stored %lld and back", (long long) big[i], (long long) s);
    }

    /* every stored size is one blob's, or none */
    bad = 0;

    for (s = 0; s < HDR + 3 * GOBI_CRYPT_SEALED + 100; s++) {
        p = gobi_crypt_plain_size(s);

        if (p >= 0 ? gobi_crypt_stored_size(p) != s : 0) {
            bad++;
        }
    }

    is_int(bad, 0, "stored_size(plain_size(s)) == s where one exists");

    is_int(gobi_crypt_stored_size(0), HDR + 16, "an empty file: one chunk");
    is_int(gobi_crypt_stored_size(C), HDR + GOBI_CRYPT_SEALED,
           "one full chunk");
    is_int(gobi_crypt_stored_size(C + 1), HDR + GOBI_CRYPT_SEALED + 17,
           "a chunk and a byte");
    is_int(gobi_crypt_plain_size(HDR + 5), -1, "HEADER_LEN + 5: impossible");
    is_int(gobi_crypt_plain_size(HDR + 15), -1, "HEADER_LEN + 15: "
           "impossible");
    is_int(gobi_crypt_plain_size(HDR), -1, "a header alone: impossible");
    is_int(gobi_crypt_plain_size(0), -1, "0: impossible");
    is_int(gobi_crypt_plain_size(-1), -1, "-1: impossible");
    is_int(gobi_crypt_plain_size(HDR + GOBI_CRYPT_SEALED + 16), -1,
           "an empty chunk after a full one: impossible");
    is_int(gobi_crypt_plain_size(HDR + GOBI_CRYPT_SEALED + 3), -1,
           "3 bytes after a full chunk: impossible");
    is_int(gobi_crypt_stored_size(-1), -1, "stored_size(-1): -1");
    is_int(gobi_crypt_stored_size(INT64_MAX), -1, "stored_size(max): -1");
    is_int(gobi_crypt_plain_size(INT64_MAX) >= -1, 1, "plain_size(max) "
           "does not overflow");

    is_int(gobi_crypt_scratch(0), 0, "scratch(0)");
    is_int(gobi_crypt_scratch(1), 2 * GOBI_CRYPT_SEALED, "scratch(1)");
    is_int(gobi_crypt_scratch(C), 2 * GOBI_CRYPT_SEALED, "scratch(chunk)");
    is_int(gobi_crypt_scratch(C + 1), 3 * GOBI_CRYPT_SEALED,
           "scratch(chunk + 1)");
}


int
main(void)
{
    if (gobi_crypt_init() != 0) {
        printf("Bail out! libsodium\n");
        return 1;
    }

    gobi_crypt_key_new(dk);
    gobi_crypt_key_new(dk2);

    test_sizes();
    test_round_trips();
    test_ranges();
    test_tampering();
    test_enc_errors();
    test_wrap();
    test_key_load();

    done_testing();
}
