/*
 * Copyright (C) the gobi authors
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gobi_keys.h"


#define GOBI_KEYS_SLOTS  1024              /* a power of two */


typedef struct {
    int64_t          vault;                /* 0: free */
    unsigned char    dk[GOBI_CRYPT_KEY_LEN];
} gobi_keys_slot_t;


struct gobi_keys_s {
    pthread_mutex_t    lock;
    unsigned char      master[GOBI_CRYPT_KEY_LEN];
    unsigned char      old[GOBI_CRYPT_KEY_LEN];
    int                has_old;
    char               master_id[GOBI_CRYPT_KEY_ID_LEN + 1];
    char               old_id[GOBI_CRYPT_KEY_ID_LEN + 1];
    /* one key per slot, by vault id: a miss costs one store read */
    gobi_keys_slot_t   slots[GOBI_KEYS_SLOTS];
};


typedef struct {
    gobi_keys_t       *k;
    int64_t            n;
    size_t             cap;
    int64_t           *vaults;
    char             (*wrapped)[GOBI_CRYPT_WRAPPED_MAX];
    int                nomem;
} gobi_keys_list_t;


static int gobi_keys_unwrap(gobi_keys_t *k, int64_t vault,
    const char *wrapped, unsigned char dk[GOBI_CRYPT_KEY_LEN]);
static int gobi_keys_collect(void *data, int64_t vault, const char *wrapped);
static void gobi_keys_rewrap(gobi_keys_t *k, const gobi_store_driver_t *drv,
    gobi_store_t *st, int64_t vault, const char *wrapped,
    const unsigned char dk[GOBI_CRYPT_KEY_LEN]);


gobi_keys_t *
gobi_keys_new(const unsigned char master[GOBI_CRYPT_KEY_LEN],
    const unsigned char *old)
{
    gobi_keys_t  *k;

    /* guarded, locked pages: the keys are not swapped out */
    k = sodium_malloc(sizeof(gobi_keys_t));
    if (k == NULL) {
        return NULL;
    }

    memset(k, 0, sizeof(gobi_keys_t));

    if (pthread_mutex_init(&k->lock, NULL) != 0) {
        sodium_free(k);
        return NULL;
    }

    memcpy(k->master, master, GOBI_CRYPT_KEY_LEN);
    gobi_crypt_key_id(k->master, k->master_id);

    if (old) {
        memcpy(k->old, old, GOBI_CRYPT_KEY_LEN);
        gobi_crypt_key_id(k->old, k->old_id);
        k->has_old = 1;
    }

    return k;
}


void
gobi_keys_free(gobi_keys_t *k)
{
    if (k) {
        (void) pthread_mutex_destroy(&k->lock);
        sodium_free(k);                    /* zeroes it first */
    }
}


/* the master key that wrapped it, by its id; the other one as a fallback */

static int
gobi_keys_unwrap(gobi_keys_t *k, int64_t vault, const char *wrapped,
    unsigned char dk[GOBI_CRYPT_KEY_LEN])
{
    char  id[GOBI_CRYPT_KEY_ID_LEN + 1];

    if (gobi_crypt_wrapped_id(wrapped, id) != 0) {
        return -1;
    }

    if (strcmp(id, k->master_id) == 0) {
        return gobi_crypt_unwrap(k->master, vault, wrapped, dk);
    }

    if (k->has_old && strcmp(id, k->old_id) == 0) {
        return gobi_crypt_unwrap(k->old, vault, wrapped, dk);
    }

    return -1;
}


/*
 * A key the old master wrapped, in use during a rotation: wrapped anew at
 * once (a lost race or a store error leaves it to the upkeep's pass).
 */

static void
gobi_keys_rewrap(gobi_keys_t *k, const gobi_store_driver_t *drv,
    gobi_store_t *st, int64_t vault, const char *wrapped,
    const unsigned char dk[GOBI_CRYPT_KEY_LEN])
{
    char  id[GOBI_CRYPT_KEY_ID_LEN + 1];
    char  fresh[GOBI_CRYPT_WRAPPED_MAX];

    if (!k->has_old || gobi_crypt_wrapped_id(wrapped, id) != 0
        || strcmp(id, k->master_id) == 0)
    {
        return;
    }

    if (gobi_crypt_wrap(k->master, vault, dk, fresh, sizeof(fresh)) == 0) {
        (void) drv->vault_key_swap(st, vault, wrapped, fresh);
    }
}


gobi_store_rc_e
gobi_keys_get(gobi_keys_t *k, const gobi_store_driver_t *drv,
    gobi_store_t *st, int64_t vault, unsigned char dk[GOBI_CRYPT_KEY_LEN],
    char *errbuf, size_t errlen)
{
    int                i;
    char               wrapped[GOBI_CRYPT_WRAPPED_MAX];
    unsigned char      fresh[GOBI_CRYPT_KEY_LEN];
    gobi_store_rc_e    rc;
    gobi_keys_slot_t  *slot;

    slot = &k->slots[(uint64_t) vault & (GOBI_KEYS_SLOTS - 1)];

    (void) pthread_mutex_lock(&k->lock);

    if (slot->vault == vault) {
        memcpy(dk, slot->dk, GOBI_CRYPT_KEY_LEN);
        (void) pthread_mutex_unlock(&k->lock);
        return GOBI_STORE_OK;
    }

    (void) pthread_mutex_unlock(&k->lock);

    /* twice at most: a key another worker added between our get and add */

    for (i = 0; i < 2; i++) {
        rc = drv->vault_key_get(st, vault, wrapped, sizeof(wrapped));

        if (rc == GOBI_STORE_OK) {
            if (gobi_keys_unwrap(k, vault, wrapped, dk) != 0) {
                snprintf(errbuf, errlen, "the data key of vault %lld opens "
                         "with neither gobi_encryption_key nor "
                         "gobi_encryption_key_old", (long long) vault);
                return GOBI_STORE_ERROR;
            }

            gobi_keys_rewrap(k, drv, st, vault, wrapped, dk);

            break;
        }

        if (rc != GOBI_STORE_NOT_FOUND) {
            return rc;
        }

        gobi_crypt_key_new(fresh);

        if (gobi_crypt_wrap(k->master, vault, fresh, wrapped,
                            sizeof(wrapped))
            != 0)
        {
            sodium_memzero(fresh, sizeof(fresh));
            snprintf(errbuf, errlen, "wrapping a data key failed");
            return GOBI_STORE_ERROR;
        }

        rc = drv->vault_key_add(st, vault, wrapped);

        if (rc == GOBI_STORE_OK) {
            memcpy(dk, fresh, GOBI_CRYPT_KEY_LEN);
            sodium_memzero(fresh, sizeof(fresh));
            break;
        }

        sodium_memzero(fresh, sizeof(fresh));

        if (rc != GOBI_STORE_EXISTS) {
            return rc;
        }
    }

    if (i == 2) {
        snprintf(errbuf, errlen, "the data key of vault %lld could not be "
                 "read or made", (long long) vault);
        return GOBI_STORE_ERROR;
    }

    (void) pthread_mutex_lock(&k->lock);
    slot->vault = vault;
    memcpy(slot->dk, dk, GOBI_CRYPT_KEY_LEN);
    (void) pthread_mutex_unlock(&k->lock);

    sodium_memzero(wrapped, sizeof(wrapped));

    return GOBI_STORE_OK;
}


void
gobi_keys_forget(gobi_keys_t *k, int64_t vault)
{
    gobi_keys_slot_t  *slot;

    slot = &k->slots[(uint64_t) vault & (GOBI_KEYS_SLOTS - 1)];

    (void) pthread_mutex_lock(&k->lock);

    if (slot->vault == vault) {
        sodium_memzero(slot, sizeof(gobi_keys_slot_t));
    }

    (void) pthread_mutex_unlock(&k->lock);
}


/* the list first, the swaps after: no store call inside the walk */

static int
gobi_keys_collect(void *data, int64_t vault, const char *wrapped)
{
    gobi_keys_list_t  *l = data;

    void    *p;
    size_t   cap;

    if ((size_t) l->n == l->cap) {
        cap = l->cap ? l->cap * 2 : 64;

        p = realloc(l->vaults, cap * sizeof(int64_t));
        if (p == NULL) {
            l->nomem = 1;
            return 1;
        }
        l->vaults = p;

        p = realloc(l->wrapped, cap * GOBI_CRYPT_WRAPPED_MAX);
        if (p == NULL) {
            l->nomem = 1;
            return 1;
        }
        l->wrapped = p;

        l->cap = cap;
    }

    l->vaults[l->n] = vault;
    snprintf(l->wrapped[l->n], GOBI_CRYPT_WRAPPED_MAX, "%s", wrapped);
    l->n++;

    return 0;
}


gobi_store_rc_e
gobi_keys_rotate(gobi_keys_t *k, const gobi_store_driver_t *drv,
    gobi_store_t *st, int64_t *done, int64_t *foreign, char *errbuf,
    size_t errlen)
{
    char               id[GOBI_CRYPT_KEY_ID_LEN + 1];
    char               wrapped[GOBI_CRYPT_WRAPPED_MAX];
    int64_t            i;
    unsigned char      dk[GOBI_CRYPT_KEY_LEN];
    gobi_store_rc_e    rc, r;
    gobi_keys_list_t   l;

    *done = 0;
    *foreign = 0;

    memset(&l, 0, sizeof(gobi_keys_list_t));
    l.k = k;

    rc = drv->vault_key_list(st, gobi_keys_collect, &l);

    if (rc == GOBI_STORE_OK && l.nomem) {
        snprintf(errbuf, errlen, "out of memory");
        rc = GOBI_STORE_ERROR;
    }

    for (i = 0; rc == GOBI_STORE_OK && i < l.n; i++) {

        if (gobi_crypt_wrapped_id(l.wrapped[i], id) == 0
            && strcmp(id, k->master_id) == 0)
        {
            continue;
        }

        if (gobi_keys_unwrap(k, l.vaults[i], l.wrapped[i], dk) != 0) {
            (*foreign)++;
            continue;
        }

        if (gobi_crypt_wrap(k->master, l.vaults[i], dk, wrapped,
                            sizeof(wrapped))
            != 0)
        {
            snprintf(errbuf, errlen, "wrapping a data key failed");
            rc = GOBI_STORE_ERROR;
            break;
        }

        /* CONFLICT: another instance re-wrapped it first */
        r = drv->vault_key_swap(st, l.vaults[i], l.wrapped[i], wrapped);

        if (r == GOBI_STORE_OK) {
            (*done)++;

        } else if (r != GOBI_STORE_CONFLICT && r != GOBI_STORE_NOT_FOUND) {
            rc = r;
        }
    }

    sodium_memzero(dk, sizeof(dk));

    if (l.wrapped) {
        sodium_memzero(l.wrapped, l.cap * GOBI_CRYPT_WRAPPED_MAX);
    }

    free(l.wrapped);
    free(l.vaults);

    return rc;
}
