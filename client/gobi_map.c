/*
 * Copyright (C) the gobi authors
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gobi.h"
#include "gobi_map.h"


static uint64_t
gobi_map_hash(const char *s)
{
    uint64_t  h;

    /* FNV-1a */
    h = 14695981039346656037ULL;

    while (*s) {
        h ^= (unsigned char) *s++;
        h *= 1099511628211ULL;
    }

    return h;
}


void
gobi_map_init(gobi_map_t *m)
{
    m->cap = 64;
    m->n = 0;
    m->slots = gobi_calloc(m->cap * sizeof(gobi_map_slot_t));
}


void
gobi_map_free(gobi_map_t *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = 0;
    m->n = 0;
}


static gobi_map_slot_t *
gobi_map_find(gobi_map_slot_t *slots, size_t cap, const char *key)
{
    size_t  i;

    i = gobi_map_hash(key) & (cap - 1);

    while (slots[i].key && strcmp(slots[i].key, key) != 0) {
        i = (i + 1) & (cap - 1);
    }

    return &slots[i];
}


void *
gobi_map_get(gobi_map_t *m, const char *key)
{
    gobi_map_slot_t  *s;

    s = gobi_map_find(m->slots, m->cap, key);

    return s->key ? s->value : NULL;
}


void
gobi_map_put(gobi_map_t *m, const char *key, void *value)
{
    gobi_map_slot_t  *s, *slots;
    size_t            i, cap;

    if ((m->n + 1) * 4 > m->cap * 3) {
        cap = m->cap * 2;
        slots = gobi_calloc(cap * sizeof(gobi_map_slot_t));

        for (i = 0; i < m->cap; i++) {
            if (m->slots[i].key) {
                *gobi_map_find(slots, cap, m->slots[i].key) = m->slots[i];
            }
        }

        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }

    s = gobi_map_find(m->slots, m->cap, key);

    if (s->key == NULL) {
        m->n++;
    }

    s->key = key;
    s->value = value;
}
