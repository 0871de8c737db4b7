/*
 * Copyright (C) the gobi authors
 *
 * Encryption at rest (libsodium), nginx-free.
 *
 * Keys: a master key (gobi_encryption_key, 32 random bytes in a file of
 * its own) wraps one random data key per vault; the wrapped key is kept
 * in the metadata store as text and names the master key that wrapped it
 * (by key id), so a rotation can tell which ones to re-wrap.
 *
 * A blob's stored form:
 *
 *     header   magic "GOBIENC1" | nonce (24) | commit (32)
 *     chunks   64 KiB of plaintext each, sealed with
 *              crypto_aead_xchacha20poly1305_ietf (+16 bytes tag); the
 *              chunk's index and "is the last one" are bound in, so chunks
 *              cannot be reordered, dropped or cut off unseen
 *
 * The commit is a keyed BLAKE2b of the nonce and the blob's name (the
 * BLAKE2b-256 of its plaintext), written once the whole plaintext has been
 * seen: a blob moved to another name, or another vault's, fails to open.
 * An empty file is one sealed empty chunk.  Each chunk opens on its own,
 * so a range costs the chunks it touches.
 */

#ifndef _GOBI_CRYPT_H_INCLUDED_
#define _GOBI_CRYPT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


#define GOBI_CRYPT_KEY_LEN      32
#define GOBI_CRYPT_CHUNK        65536
#define GOBI_CRYPT_TAG_LEN      16
#define GOBI_CRYPT_NONCE_LEN    24
#define GOBI_CRYPT_HEADER_LEN   (8 + GOBI_CRYPT_NONCE_LEN + 32)
#define GOBI_CRYPT_SEALED       (GOBI_CRYPT_CHUNK + GOBI_CRYPT_TAG_LEN)
#define GOBI_CRYPT_KEY_ID_LEN   16          /* hex digits */
/* the text form of a wrapped data key, NUL included, is at most this */
#define GOBI_CRYPT_WRAPPED_MAX  160


/* 0, or -1 when libsodium cannot start (call once per process) */
int gobi_crypt_init(void);

/*
 * Reads a master key file: exactly 32 bytes, or 64 hex digits and an
 * optional newline; refused when others than its owner may read it
 * (mode & 077).  0, or -1 with errbuf filled.
 */
int gobi_crypt_key_load(const char *path, unsigned char key[GOBI_CRYPT_KEY_LEN],
    char *errbuf, size_t errlen);

/* a key's id: 16 hex digits of a keyed hash, NUL-terminated */
void gobi_crypt_key_id(const unsigned char key[GOBI_CRYPT_KEY_LEN],
    char id[GOBI_CRYPT_KEY_ID_LEN + 1]);

/* a new random data key */
void gobi_crypt_key_new(unsigned char key[GOBI_CRYPT_KEY_LEN]);

/*
 * Wraps a vault's data key under a master key into text
 * ("1:<key id>:<base64 of nonce and sealed key>", the vault id bound in):
 * 0, or -1 when out is too small.
 */
int gobi_crypt_wrap(const unsigned char master[GOBI_CRYPT_KEY_LEN],
    int64_t vault, const unsigned char dk[GOBI_CRYPT_KEY_LEN], char *out,
    size_t outlen);

/* the key id a wrapped key names: 0, or -1 when it is not one */
int gobi_crypt_wrapped_id(const char *wrapped,
    char id[GOBI_CRYPT_KEY_ID_LEN + 1]);

/* 0, or -1 when it does not open with this master key for this vault */
int gobi_crypt_unwrap(const unsigned char master[GOBI_CRYPT_KEY_LEN],
    int64_t vault, const char *wrapped, unsigned char dk[GOBI_CRYPT_KEY_LEN]);


/* sizes: stored for a plaintext size; plaintext for a stored size (-1:
 * no blob of ours has that size) */
int64_t gobi_crypt_stored_size(int64_t plain);
int64_t gobi_crypt_plain_size(int64_t stored);

/* is this the start of an encrypted blob (the magic)?  len >= 8 */
int gobi_crypt_is_sealed(const void *head, size_t len);


/*
 * Sealing a stream.  out(data, buf, len) takes the stored form in order,
 * from offset GOBI_CRYPT_HEADER_LEN on (the chunks); the header comes last
 * from gobi_crypt_enc_final(), for offset 0 (the spool writes it there
 * with pwrite).  A chunk is sealed once the next byte (or the end) is
 * seen, so that the last one is known.  out returns 0, or -1 to stop
 * (returned).
 */

typedef int (*gobi_crypt_out_pt)(void *data, const void *buf, size_t len);

typedef struct {
    unsigned char     key[GOBI_CRYPT_KEY_LEN];     /* the chunk key */
    unsigned char     mac[GOBI_CRYPT_KEY_LEN];     /* the commit key */
    unsigned char     nonce[GOBI_CRYPT_NONCE_LEN];
    uint64_t          idx;
    size_t            fill;
    unsigned char     buf[GOBI_CRYPT_CHUNK];
    unsigned char     sealed[GOBI_CRYPT_SEALED];
} gobi_crypt_enc_t;

/* dk: the vault's data key; a fresh random nonce */
void gobi_crypt_enc_init(gobi_crypt_enc_t *e,
    const unsigned char dk[GOBI_CRYPT_KEY_LEN]);
int gobi_crypt_enc_update(gobi_crypt_enc_t *e, const void *in, size_t len,
    gobi_crypt_out_pt out, void *data);
/*
 * Seals the held chunk as the last, passes it to out, and writes the
 * header for offset 0 into header, committing to `hash` (64 hex digits).
 * Wipes the keys.
 */
int gobi_crypt_enc_final(gobi_crypt_enc_t *e, const char *hash,
    gobi_crypt_out_pt out, void *data,
    unsigned char header[GOBI_CRYPT_HEADER_LEN]);
/* wipes the keys of an encoder given up before its final */
void gobi_crypt_enc_wipe(gobi_crypt_enc_t *e);


/*
 * Opening.  gobi_crypt_dec_init() checks the header against the blob's
 * name (hash) and its stored size: 0, or -1 (not ours, moved, or
 * truncated to a size no blob has).  gobi_crypt_dec_range() then gives
 * plaintext [off, off + len) (within the plaintext size), reading the
 * stored bytes it needs with read(data, stored offset, buf, n) (the count
 * read, -1 on failure) into scratch, which must hold
 * gobi_crypt_scratch(len) bytes.  0; -1 with *corrupt = 1 when a chunk
 * does not open or the stored bytes end early (never a wrong byte out),
 * *corrupt = 0 when read() failed.
 */

typedef ssize_t (*gobi_crypt_read_pt)(void *data, int64_t off, void *buf,
    size_t len);

typedef struct {
    unsigned char     key[GOBI_CRYPT_KEY_LEN];
    unsigned char     nonce[GOBI_CRYPT_NONCE_LEN];
    int64_t           stored;
    int64_t           plain;
    uint64_t          chunks;
} gobi_crypt_dec_t;

int gobi_crypt_dec_init(gobi_crypt_dec_t *d,
    const unsigned char dk[GOBI_CRYPT_KEY_LEN], const char *hash,
    const unsigned char header[GOBI_CRYPT_HEADER_LEN], int64_t stored);
size_t gobi_crypt_scratch(size_t len);
int gobi_crypt_dec_range(const gobi_crypt_dec_t *d, int64_t off, size_t len,
    unsigned char *out, unsigned char *scratch, gobi_crypt_read_pt read,
    void *data, int *corrupt);
void gobi_crypt_dec_wipe(gobi_crypt_dec_t *d);


#endif /* _GOBI_CRYPT_H_INCLUDED_ */
