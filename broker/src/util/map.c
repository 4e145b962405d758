/* map.c - chained hash map (see map.h). FNV-1a for bytes, a 64-bit mixer for integers. */
#include "util/map.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

uint64_t hmq_hash_bytes(const void *p, size_t len)
{
    const uint8_t *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

void hmq_map_init(hmq_map_t *m)
{
    m->buckets = NULL;
    m->nbuckets = 0;
    m->count = 0;
}

void hmq_map_free(hmq_map_t *m)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        hmq_map_entry_t *e = m->buckets[i];
        while (e) {
            hmq_map_entry_t *n = e->next;
            free(e);
            e = n;
        }
    }
    free(m->buckets);
    hmq_map_init(m);
}

static bool key_eq(const hmq_map_entry_t *e, const void *key, size_t len, uint64_t h)
{
    if (e->hash != h || e->key_len != len) return false;
    if (len == 0) return e->key == key;
    return memcmp(e->key, key, len) == 0;
}

static hmq_map_entry_t **find(const hmq_map_t *m, const void *key, size_t len, uint64_t h)
{
    if (!m->nbuckets) return NULL;
    hmq_map_entry_t **pp = &m->buckets[h & (m->nbuckets - 1)];
    while (*pp && !key_eq(*pp, key, len, h))
        pp = &(*pp)->next;
    return pp;
}

static int grow(hmq_map_t *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
    hmq_map_entry_t **b = calloc(n, sizeof *b);
    if (!b) return -ENOMEM;
    for (size_t i = 0; i < m->nbuckets; i++) {
        hmq_map_entry_t *e = m->buckets[i];
        while (e) {
            hmq_map_entry_t *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return 0;
}

static void *get(const hmq_map_t *m, const void *key, size_t len, uint64_t h)
{
    hmq_map_entry_t **pp = find(m, key, len, h);
    return pp && *pp ? (*pp)->value : NULL;
}

static int put(hmq_map_t *m, const void *key, size_t len, uint64_t h, void *value)
{
    hmq_map_entry_t **pp = find(m, key, len, h);
    if (pp && *pp) {
        (*pp)->key = key;
        (*pp)->value = value;
        return 0;
    }
    if (m->count + 1 > m->nbuckets && grow(m) < 0) return -ENOMEM;
    hmq_map_entry_t *e = malloc(sizeof *e);
    if (!e) return -ENOMEM;
    e->key = key;
    e->key_len = len;
    e->hash = h;
    e->value = value;
    e->next = m->buckets[h & (m->nbuckets - 1)];
    m->buckets[h & (m->nbuckets - 1)] = e;
    m->count++;
    return 0;
}

static void *del(hmq_map_t *m, const void *key, size_t len, uint64_t h)
{
    hmq_map_entry_t **pp = find(m, key, len, h);
    if (!pp || !*pp) return NULL;
    hmq_map_entry_t *e = *pp;
    void *v = e->value;
    *pp = e->next;
    free(e);
    m->count--;
    return v;
}

void *hmq_map_get(const hmq_map_t *m, const void *key, size_t len)
{
    return get(m, key, len, hmq_hash_bytes(key, len));
}
int hmq_map_put(hmq_map_t *m, const void *key, size_t len, void *value)
{
    return put(m, key, len, hmq_hash_bytes(key, len), value);
}
void *hmq_map_del(hmq_map_t *m, const void *key, size_t len)
{
    return del(m, key, len, hmq_hash_bytes(key, len));
}
void *hmq_map_get_u64(const hmq_map_t *m, uint64_t key)
{
    return get(m, (const void *)(uintptr_t)key, 0, hash_u64(key));
}
int hmq_map_put_u64(hmq_map_t *m, uint64_t key, void *value)
{
    return put(m, (const void *)(uintptr_t)key, 0, hash_u64(key), value);
}
void *hmq_map_del_u64(hmq_map_t *m, uint64_t key)
{
    return del(m, (const void *)(uintptr_t)key, 0, hash_u64(key));
}
