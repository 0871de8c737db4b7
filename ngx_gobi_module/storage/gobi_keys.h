/*
 * Copyright (C) the gobi authors
 *
 * The vaults' data keys (encryption at rest): unwrapped from the store
 * with the master key and kept in a small cache of locked memory, or made
 * on a vault's first upload (one wins when workers race: the store's add
 * is atomic).  Rotation re-wraps every key the old master key wrapped.
 * nginx-free and thread-safe; the store is called from pool threads only.
 */

#ifndef _GOBI_KEYS_H_INCLUDED_
#define _GOBI_KEYS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "gobi_crypt.h"
#include "gobi_store.h"


typedef struct gobi_keys_s  gobi_keys_t;


/* old: the key being rotated away from, or NULL; NULL when out of memory */
gobi_keys_t *gobi_keys_new(const unsigned char master[GOBI_CRYPT_KEY_LEN],
    const unsigned char *old);
void gobi_keys_free(gobi_keys_t *k);

/*
 * The vault's data key into dk: GOBI_STORE_OK, a store error, or
 * GOBI_STORE_ERROR with errbuf filled when the stored key opens with
 * neither master key (a wrong gobi_encryption_key).
 */
gobi_store_rc_e gobi_keys_get(gobi_keys_t *k, const gobi_store_driver_t *drv,
    gobi_store_t *st, int64_t vault, unsigned char dk[GOBI_CRYPT_KEY_LEN],
    char *errbuf, size_t errlen);

/* a vault is gone: its key leaves the cache */
void gobi_keys_forget(gobi_keys_t *k, int64_t vault);

/*
 * Re-wraps under the master key every data key wrapped by the old one:
 * *done counts those re-wrapped, *foreign those neither key opens.
 */
gobi_store_rc_e gobi_keys_rotate(gobi_keys_t *k,
    const gobi_store_driver_t *drv, gobi_store_t *st, int64_t *done,
    int64_t *foreign, char *errbuf, size_t errlen);


#endif /* _GOBI_KEYS_H_INCLUDED_ */
