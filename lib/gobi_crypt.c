/*
 * Copyright (C) the gobi authors
 *
 * Encryption at rest (see gobi_crypt.h).
 *
 * Every key is used for one job only: the data key and the master key are
 * never used directly, crypto_kdf derives from each a subkey per use (the
 * chunk key and the commit key; the wrapping key and the key id).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "gobi_crypt.h"
#include "gobi_event.h"
#include "gobi_hash.h"


#define GOBI_CRYPT_MAGIC        "GOBIENC1"
#define GOBI_CRYPT_MAGIC_LEN    8
#define GOBI_CRYPT_COMMIT_LEN   32

/* crypto_kdf contexts (8 bytes) and subkey ids */
#define GOBI_CRYPT_CTX_DATA     "gobiblob"
#define GOBI_CRYPT_SUB_CHUNK    1
#define GOBI_CRYPT_SUB_COMMIT   2
#define GOBI_CRYPT_CTX_MASTER   "gobimast"
#define GOBI_CRYPT_SUB_WRAP     1
#define GOBI_CRYPT_SUB_ID       2

/* a chunk's AD: magic | le64 index | last flag */
#define GOBI_CRYPT_AD_LEN       (GOBI_CRYPT_MAGIC_LEN + 8 + 1)

/* the wrapped form: "1:" <key id> ":" base64(nonce | sealed key) */
#define GOBI_CRYPT_WRAP_VERSION 1
#define GOBI_CRYPT_WRAP_BIN     (GOBI_CRYPT_NONCE_LEN + GOBI_CRYPT_KEY_LEN  \
                                 + GOBI_CRYPT_TAG_LEN)
#define GOBI_CRYPT_WRAP_B64     sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define GOBI_CRYPT_WRAP_AD_LEN  (8 + 1 + 8)
#define GOBI_CRYPT_WRAP_AD      "gobi-dk:"

/* the longest key file we accept: 64 hex digits and a newline */
#define GOBI_CRYPT_KEYFILE_MAX  (2 * GOBI_CRYPT_KEY_LEN + 1)


#if (crypto_aead_xchacha20poly1305_ietf_ABYTES != GOBI_CRYPT_TAG_LEN   \
     || crypto_aead_xchacha20poly1305_ietf_NPUBBYTES != GOBI_CRYPT_NONCE_LEN \
     || crypto_aead_xchacha20poly1305_ietf_KEYBYTES != GOBI_CRYPT_KEY_LEN \
     || crypto_kdf_KEYBYTES != GOBI_CRYPT_KEY_LEN)
#error "gobi_crypt.h does not match libsodium's sizes"
#endif


static void
gobi_crypt_le64(unsigned char *p, uint64_t v)
{
    int  i;

    for (i = 0; i < 8; i++) {
        p[i] = (unsigned char) (v >> (8 * i));
    }
}


int
gobi_crypt_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}


static int
gobi_crypt_hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return -1;
}


int
gobi_crypt_key_load(const char *path, unsigned char key[GOBI_CRYPT_KEY_LEN],
    char *errbuf, size_t errlen)
{
    int            fd, hi, lo, err;
    size_t         i, len;
    ssize_t        n;
    struct stat    sb;
    unsigned char  buf[GOBI_CRYPT_KEYFILE_MAX + 1];

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd == -1) {
        snprintf(errbuf, errlen, "cannot open key file \"%s\": %s", path,
                 strerror(errno));
        return -1;
    }

    if (fstat(fd, &sb) == -1) {
        err = errno;
        close(fd);
        snprintf(errbuf, errlen, "cannot stat key file \"%s\": %s", path,
                 strerror(err));
        return -1;
    }

    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        snprintf(errbuf, errlen, "key file \"%s\" is not a regular file",
                 path);
        return -1;
    }

    if (sb.st_mode & 077) {
        close(fd);
        snprintf(errbuf, errlen, "key file \"%s\" may be read by others than "
                 "its owner (mode %04o): chmod 600 it", path,
                 (unsigned) (sb.st_mode & 07777));
        return -1;
    }

    /* read one byte more than the longest form, to tell a longer file */
    len = 0;

    while (len < sizeof(buf)) {
        n = read(fd, buf + len, sizeof(buf) - len);

        if (n == 0) {
            break;
        }

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            err = errno;
            close(fd);
            sodium_memzero(buf, sizeof(buf));
            snprintf(errbuf, errlen, "cannot read key file \"%s\": %s", path,
                     strerror(err));
            return -1;
        }

        len += n;
    }

    close(fd);

    if (len == GOBI_CRYPT_KEY_LEN) {
        memcpy(key, buf, GOBI_CRYPT_KEY_LEN);
        sodium_memzero(buf, sizeof(buf));
        return 0;
    }

    if (len == 2 * GOBI_CRYPT_KEY_LEN + 1 && buf[len - 1] == '\n') {
        len--;
    }

    if (len == 2 * GOBI_CRYPT_KEY_LEN) {
        for (i = 0; i < GOBI_CRYPT_KEY_LEN; i++) {
            hi = gobi_crypt_hexval(buf[2 * i]);
            lo = gobi_crypt_hexval(buf[2 * i + 1]);

            if (hi < 0 || lo < 0) {
                break;
            }

            key[i] = (unsigned char) (hi << 4 | lo);
        }

        sodium_memzero(buf, sizeof(buf));

        if (i == GOBI_CRYPT_KEY_LEN) {
            return 0;
        }

        sodium_memzero(key, GOBI_CRYPT_KEY_LEN);
        snprintf(errbuf, errlen, "key file \"%s\": 64 characters that are "
                 "not all hex digits", path);
        return -1;
    }

    sodium_memzero(buf, sizeof(buf));

    snprintf(errbuf, errlen, "key file \"%s\" holds %s%zu bytes: a key is 32 "
             "random bytes or 64 hex digits (scripts/gobi-keygen makes one)",
             path, len == sizeof(buf) ? "more than " : "",
             len == sizeof(buf) ? len - 1 : len);

    return -1;
}


void
gobi_crypt_key_id(const unsigned char key[GOBI_CRYPT_KEY_LEN],
    char id[GOBI_CRYPT_KEY_ID_LEN + 1])
{
    unsigned char  sub[crypto_kdf_BYTES_MIN];

    crypto_kdf_derive_from_key(sub, sizeof(sub), GOBI_CRYPT_SUB_ID,
                               GOBI_CRYPT_CTX_MASTER, key);
    gobi_hex(id, sub, GOBI_CRYPT_KEY_ID_LEN / 2);
    sodium_memzero(sub, sizeof(sub));
}


void
gobi_crypt_key_new(unsigned char key[GOBI_CRYPT_KEY_LEN])
{
    randombytes_buf(key, GOBI_CRYPT_KEY_LEN);
}


/* the wrapping's AD: what the sealed key is for (vault, format) */

static void
gobi_crypt_wrap_ad(unsigned char ad[GOBI_CRYPT_WRAP_AD_LEN], int64_t vault)
{
    memcpy(ad, GOBI_CRYPT_WRAP_AD, 8);
    ad[8] = GOBI_CRYPT_WRAP_VERSION;
    gobi_crypt_le64(ad + 9, (uint64_t) vault);
}


int
gobi_crypt_wrap(const unsigned char master[GOBI_CRYPT_KEY_LEN],
    int64_t vault, const unsigned char dk[GOBI_CRYPT_KEY_LEN], char *out,
    size_t outlen)
{
    size_t         need;
    unsigned char  wk[GOBI_CRYPT_KEY_LEN];
    unsigned char  ad[GOBI_CRYPT_WRAP_AD_LEN];
    unsigned char  bin[GOBI_CRYPT_WRAP_BIN];
    char           id[GOBI_CRYPT_KEY_ID_LEN + 1];

    need = 2 + GOBI_CRYPT_KEY_ID_LEN + 1
           + sodium_base64_ENCODED_LEN(GOBI_CRYPT_WRAP_BIN,
                                       GOBI_CRYPT_WRAP_B64);

    if (outlen < need) {
        return -1;
    }

    gobi_crypt_key_id(master, id);
    crypto_kdf_derive_from_key(wk, sizeof(wk), GOBI_CRYPT_SUB_WRAP,
                               GOBI_CRYPT_CTX_MASTER, master);
    gobi_crypt_wrap_ad(ad, vault);

    randombytes_buf(bin, GOBI_CRYPT_NONCE_LEN);
    crypto_aead_xchacha20poly1305_ietf_encrypt(bin + GOBI_CRYPT_NONCE_LEN,
        NULL, dk, GOBI_CRYPT_KEY_LEN, ad, sizeof(ad), NULL, bin, wk);
    sodium_memzero(wk, sizeof(wk));

    out[0] = '0' + GOBI_CRYPT_WRAP_VERSION;
    out[1] = ':';
    memcpy(out + 2, id, GOBI_CRYPT_KEY_ID_LEN);
    out[2 + GOBI_CRYPT_KEY_ID_LEN] = ':';
    sodium_bin2base64(out + 3 + GOBI_CRYPT_KEY_ID_LEN,
                      outlen - 3 - GOBI_CRYPT_KEY_ID_LEN, bin, sizeof(bin),
                      GOBI_CRYPT_WRAP_B64);

    return 0;
}


/* splits a wrapped key into its key id and binary part: 0 or -1 */

static int
gobi_crypt_wrapped_parse(const char *wrapped,
    char id[GOBI_CRYPT_KEY_ID_LEN + 1], unsigned char bin[GOBI_CRYPT_WRAP_BIN])
{
    size_t       i, binlen;
    const char  *b64, *end;

    if (wrapped == NULL || wrapped[0] != '0' + GOBI_CRYPT_WRAP_VERSION
        || wrapped[1] != ':')
    {
        return -1;
    }

    for (i = 0; i < GOBI_CRYPT_KEY_ID_LEN; i++) {
        if (gobi_crypt_hexval(wrapped[2 + i]) < 0
            || (wrapped[2 + i] >= 'A' && wrapped[2 + i] <= 'F'))
        {
            return -1;
        }

        id[i] = wrapped[2 + i];
    }

    id[i] = '\0';

    if (wrapped[2 + i] != ':') {
        return -1;
    }

    b64 = wrapped + 3 + i;

    if (sodium_base642bin(bin, GOBI_CRYPT_WRAP_BIN, b64, strlen(b64), NULL,
                          &binlen, &end, GOBI_CRYPT_WRAP_B64) != 0
        || binlen != GOBI_CRYPT_WRAP_BIN || *end != '\0')
    {
        return -1;
    }

    return 0;
}


int
gobi_crypt_wrapped_id(const char *wrapped, char id[GOBI_CRYPT_KEY_ID_LEN + 1])
{
    unsigned char  bin[GOBI_CRYPT_WRAP_BIN];

    return gobi_crypt_wrapped_parse(wrapped, id, bin);
}


int
gobi_crypt_unwrap(const unsigned char master[GOBI_CRYPT_KEY_LEN],
    int64_t vault, const char *wrapped, unsigned char dk[GOBI_CRYPT_KEY_LEN])
{
    int            rc;
    unsigned char  wk[GOBI_CRYPT_KEY_LEN];
    unsigned char  ad[GOBI_CRYPT_WRAP_AD_LEN];
    unsigned char  bin[GOBI_CRYPT_WRAP_BIN];
    char           id[GOBI_CRYPT_KEY_ID_LEN + 1];

    if (gobi_crypt_wrapped_parse(wrapped, id, bin) != 0) {
        return -1;
    }

    crypto_kdf_derive_from_key(wk, sizeof(wk), GOBI_CRYPT_SUB_WRAP,
                               GOBI_CRYPT_CTX_MASTER, master);
    gobi_crypt_wrap_ad(ad, vault);

    rc = crypto_aead_xchacha20poly1305_ietf_decrypt(dk, NULL, NULL,
             bin + GOBI_CRYPT_NONCE_LEN,
             GOBI_CRYPT_KEY_LEN + GOBI_CRYPT_TAG_LEN, ad, sizeof(ad), bin,
             wk);
    sodium_memzero(wk, sizeof(wk));

    if (rc != 0) {
        sodium_memzero(dk, GOBI_CRYPT_KEY_LEN);
        return -1;
    }

    return 0;
}


int64_t
gobi_crypt_stored_size(int64_t plain)
{
    int64_t  chunks;

    if (plain < 0) {
        return -1;
    }

    chunks = plain == 0 ? 1 : (plain - 1) / GOBI_CRYPT_CHUNK + 1;

    if (plain > INT64_MAX - GOBI_CRYPT_HEADER_LEN
                - chunks * GOBI_CRYPT_TAG_LEN)
    {
        return -1;
    }

    return GOBI_CRYPT_HEADER_LEN + plain + chunks * GOBI_CRYPT_TAG_LEN;
}


int64_t
gobi_crypt_plain_size(int64_t stored)
{
    int64_t  body, full, rest;

    body = stored - GOBI_CRYPT_HEADER_LEN;

    if (stored < GOBI_CRYPT_HEADER_LEN || body < GOBI_CRYPT_TAG_LEN) {
        return -1;
    }

    full = body / GOBI_CRYPT_SEALED;
    rest = body % GOBI_CRYPT_SEALED;

    if (rest == 0) {
        return full * GOBI_CRYPT_CHUNK;
    }

    /*
     * A tail shorter than a tag is no chunk; an empty last chunk after
     * full ones is never written (a full chunk is sealed as the last).
     */
    if (rest < GOBI_CRYPT_TAG_LEN || (rest == GOBI_CRYPT_TAG_LEN && full > 0))
    {
        return -1;
    }

    return full * GOBI_CRYPT_CHUNK + rest - GOBI_CRYPT_TAG_LEN;
}


int
gobi_crypt_is_sealed(const void *head, size_t len)
{
    return len >= GOBI_CRYPT_MAGIC_LEN
           && memcmp(head, GOBI_CRYPT_MAGIC, GOBI_CRYPT_MAGIC_LEN) == 0;
}


/* chunk i: its nonce (the blob's, le64(i) xored into the last 8 bytes,
 * those that are ChaCha20's own nonce in XChaCha20) and its AD */

static void
gobi_crypt_chunk_nonce_ad(const unsigned char blob[GOBI_CRYPT_NONCE_LEN],
    uint64_t i, int last, unsigned char nonce[GOBI_CRYPT_NONCE_LEN],
    unsigned char ad[GOBI_CRYPT_AD_LEN])
{
    unsigned char  le[8];
    int            k;

    gobi_crypt_le64(le, i);
    memcpy(nonce, blob, GOBI_CRYPT_NONCE_LEN);

    for (k = 0; k < 8; k++) {
        nonce[GOBI_CRYPT_NONCE_LEN - 8 + k] ^= le[k];
    }

    memcpy(ad, GOBI_CRYPT_MAGIC, GOBI_CRYPT_MAGIC_LEN);
    memcpy(ad + GOBI_CRYPT_MAGIC_LEN, le, 8);
    ad[GOBI_CRYPT_MAGIC_LEN + 8] = last ? 1 : 0;
}


/* keyed BLAKE2b(commit key, magic | nonce | hash hex) */

static void
gobi_crypt_commit(const unsigned char mac[GOBI_CRYPT_KEY_LEN],
    const unsigned char nonce[GOBI_CRYPT_NONCE_LEN], const char *hash,
    unsigned char commit[GOBI_CRYPT_COMMIT_LEN])
{
    crypto_generichash_state  st;

    crypto_generichash_init(&st, mac, GOBI_CRYPT_KEY_LEN,
                            GOBI_CRYPT_COMMIT_LEN);
    crypto_generichash_update(&st, (const unsigned char *) GOBI_CRYPT_MAGIC,
                              GOBI_CRYPT_MAGIC_LEN);
    crypto_generichash_update(&st, nonce, GOBI_CRYPT_NONCE_LEN);
    crypto_generichash_update(&st, (const unsigned char *) hash,
                              GOBI_HASH_HEX_LEN);
    crypto_generichash_final(&st, commit, GOBI_CRYPT_COMMIT_LEN);
    sodium_memzero(&st, sizeof(st));
}


static int
gobi_crypt_hash_ok(const char *hash)
{
    return hash != NULL && strlen(hash) == GOBI_HASH_HEX_LEN
           && gobi_hash_valid_hex(hash, GOBI_HASH_HEX_LEN);
}


void
gobi_crypt_enc_init(gobi_crypt_enc_t *e,
    const unsigned char dk[GOBI_CRYPT_KEY_LEN])
{
    crypto_kdf_derive_from_key(e->key, sizeof(e->key), GOBI_CRYPT_SUB_CHUNK,
                               GOBI_CRYPT_CTX_DATA, dk);
    crypto_kdf_derive_from_key(e->mac, sizeof(e->mac), GOBI_CRYPT_SUB_COMMIT,
                               GOBI_CRYPT_CTX_DATA, dk);
    randombytes_buf(e->nonce, sizeof(e->nonce));
    e->idx = 0;
    e->fill = 0;
}


/* seals the held chunk (e->fill bytes) and passes it on */

static int
gobi_crypt_enc_chunk(gobi_crypt_enc_t *e, int last, gobi_crypt_out_pt out,
    void *data)
{
    unsigned char  nonce[GOBI_CRYPT_NONCE_LEN];
    unsigned char  ad[GOBI_CRYPT_AD_LEN];

    gobi_crypt_chunk_nonce_ad(e->nonce, e->idx, last, nonce, ad);
    crypto_aead_xchacha20poly1305_ietf_encrypt(e->sealed, NULL, e->buf,
        e->fill, ad, sizeof(ad), NULL, nonce, e->key);

    if (out(data, e->sealed, e->fill + GOBI_CRYPT_TAG_LEN) != 0) {
        return -1;
    }

    e->idx++;
    e->fill = 0;

    return 0;
}


int
gobi_crypt_enc_update(gobi_crypt_enc_t *e, const void *in, size_t len,
    gobi_crypt_out_pt out, void *data)
{
    size_t               n;
    const unsigned char  *p;

    p = in;

    while (len > 0) {
        /* a full chunk goes once a byte after it is seen: not the last */
        if (e->fill == GOBI_CRYPT_CHUNK
            && gobi_crypt_enc_chunk(e, 0, out, data) != 0)
        {
            return -1;
        }

        n = GOBI_CRYPT_CHUNK - e->fill;

        if (n > len) {
            n = len;
        }

        memcpy(e->buf + e->fill, p, n);
        e->fill += n;
        p += n;
        len -= n;
    }

    return 0;
}


int
gobi_crypt_enc_final(gobi_crypt_enc_t *e, const char *hash,
    gobi_crypt_out_pt out, void *data,
    unsigned char header[GOBI_CRYPT_HEADER_LEN])
{
    int  rc;

    rc = -1;

    if (gobi_crypt_hash_ok(hash) && gobi_crypt_enc_chunk(e, 1, out, data) == 0)
    {
        memcpy(header, GOBI_CRYPT_MAGIC, GOBI_CRYPT_MAGIC_LEN);
        memcpy(header + GOBI_CRYPT_MAGIC_LEN, e->nonce, GOBI_CRYPT_NONCE_LEN);
        gobi_crypt_commit(e->mac, e->nonce, hash,
                          header + GOBI_CRYPT_MAGIC_LEN + GOBI_CRYPT_NONCE_LEN);
        rc = 0;
    }

    gobi_crypt_enc_wipe(e);

    return rc;
}


void
gobi_crypt_enc_wipe(gobi_crypt_enc_t *e)
{
    sodium_memzero(e->key, sizeof(e->key));
    sodium_memzero(e->mac, sizeof(e->mac));
    /* the plaintext held, too */
    sodium_memzero(e->buf, sizeof(e->buf));
    e->fill = 0;
}


int
gobi_crypt_dec_init(gobi_crypt_dec_t *d,
    const unsigned char dk[GOBI_CRYPT_KEY_LEN], const char *hash,
    const unsigned char header[GOBI_CRYPT_HEADER_LEN], int64_t stored)
{
    int            rc;
    int64_t        plain;
    unsigned char  mac[GOBI_CRYPT_KEY_LEN];
    unsigned char  commit[GOBI_CRYPT_COMMIT_LEN];

    sodium_memzero(d, sizeof(*d));

    plain = gobi_crypt_plain_size(stored);

    if (plain < 0 || !gobi_crypt_hash_ok(hash)
        || !gobi_crypt_is_sealed(header, GOBI_CRYPT_HEADER_LEN))
    {
        return -1;
    }

    crypto_kdf_derive_from_key(mac, sizeof(mac), GOBI_CRYPT_SUB_COMMIT,
                               GOBI_CRYPT_CTX_DATA, dk);
    gobi_crypt_commit(mac, header + GOBI_CRYPT_MAGIC_LEN, hash, commit);
    sodium_memzero(mac, sizeof(mac));

    rc = crypto_verify_32(commit,
                          header + GOBI_CRYPT_MAGIC_LEN + GOBI_CRYPT_NONCE_LEN);

    if (rc != 0) {
        return -1;
    }

    crypto_kdf_derive_from_key(d->key, sizeof(d->key), GOBI_CRYPT_SUB_CHUNK,
                               GOBI_CRYPT_CTX_DATA, dk);
    memcpy(d->nonce, header + GOBI_CRYPT_MAGIC_LEN, GOBI_CRYPT_NONCE_LEN);
    d->stored = stored;
    d->plain = plain;
    d->chunks = plain == 0 ? 1 : (plain - 1) / GOBI_CRYPT_CHUNK + 1;

    return 0;
}


size_t
gobi_crypt_scratch(size_t len)
{
    /* a range starting inside a chunk touches one chunk more */
    if (len == 0) {
        return 0;
    }

    if ((len - 1) / GOBI_CRYPT_CHUNK + 2 > SIZE_MAX / GOBI_CRYPT_SEALED) {
        return SIZE_MAX;
    }

    return ((len - 1) / GOBI_CRYPT_CHUNK + 2) * GOBI_CRYPT_SEALED;
}


int
gobi_crypt_dec_range(const gobi_crypt_dec_t *d, int64_t off, size_t len,
    unsigned char *out, unsigned char *scratch, gobi_crypt_read_pt read,
    void *data, int *corrupt)
{
    int            last;
    size_t         clen, skip, take;
    ssize_t        got;
    int64_t        start, end, pos;
    uint64_t       i, first, final;
    unsigned char  *c;
    unsigned char  nonce[GOBI_CRYPT_NONCE_LEN];
    unsigned char  ad[GOBI_CRYPT_AD_LEN];

    *corrupt = 0;

    if (off < 0 || off > d->plain || len > (uint64_t) (d->plain - off)) {
        errno = EINVAL;
        return -1;
    }

    if (len == 0) {
        return 0;
    }

    first = (uint64_t) off / GOBI_CRYPT_CHUNK;
    final = ((uint64_t) off + len - 1) / GOBI_CRYPT_CHUNK;

    /* the stored span of chunks first..final, in one read */
    start = GOBI_CRYPT_HEADER_LEN + (int64_t) first * GOBI_CRYPT_SEALED;
    end = GOBI_CRYPT_HEADER_LEN + (int64_t) (final + 1) * GOBI_CRYPT_SEALED;

    if (end > d->stored) {
        end = d->stored;
    }

    got = read(data, start, scratch, (size_t) (end - start));

    if (got < 0) {
        return -1;
    }

    if (got < end - start) {
        *corrupt = 1;
        return -1;
    }

    c = scratch;
    pos = off;

    for (i = first; i <= final; i++) {
        last = (i == d->chunks - 1);
        clen = last ? (size_t) (d->stored - GOBI_CRYPT_HEADER_LEN
                                - (int64_t) i * GOBI_CRYPT_SEALED)
                    : GOBI_CRYPT_SEALED;

        gobi_crypt_chunk_nonce_ad(d->nonce, i, last, nonce, ad);

        /* in place: the plaintext lands where its ciphertext was */
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(c, NULL, NULL, c,
                clen, ad, sizeof(ad), nonce, d->key) != 0)
        {
            *corrupt = 1;
            return -1;
        }

        skip = (size_t) (pos - (int64_t) i * GOBI_CRYPT_CHUNK);
        take = clen - GOBI_CRYPT_TAG_LEN - skip;

        if (take > len) {
            take = len;
        }

        memcpy(out, c + skip, take);
        out += take;
        len -= take;
        pos += take;
        c += GOBI_CRYPT_SEALED;
    }

    return 0;
}


void
gobi_crypt_dec_wipe(gobi_crypt_dec_t *d)
{
    sodium_memzero(d->key, sizeof(d->key));
}
