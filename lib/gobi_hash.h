/*
 * Copyright (C) the gobi authors
 *
 * Content hashes: BLAKE2b-256 (libsodium crypto_generichash), lowercase hex.
 */

#ifndef _GOBI_HASH_H_INCLUDED_
#define _GOBI_HASH_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "gobi_event.h"


#define GOBI_HASH_LEN  32


typedef struct {
    crypto_generichash_state  st;
} gobi_hash_t;


void gobi_hash_init(gobi_hash_t *h);
void gobi_hash_update(gobi_hash_t *h, const void *p, size_t len);
void gobi_hash_final(gobi_hash_t *h, char hex[GOBI_HASH_HEX_LEN + 1]);

/* hash of a whole buffer */
void gobi_hash_buf(const void *p, size_t len, char hex[GOBI_HASH_HEX_LEN + 1]);

/* reads fd from offset 0 to EOF; returns 0 or -1 (errno set) */
int gobi_hash_fd(int fd, char hex[GOBI_HASH_HEX_LEN + 1], int64_t *size);

/* 64 lowercase hex characters? (len bytes) */
int gobi_hash_valid_hex(const char *p, size_t len);

void gobi_hex(char *dst, const unsigned char *src, size_t len);


#endif /* _GOBI_HASH_H_INCLUDED_ */
