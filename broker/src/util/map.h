/* map.h - a small chained hash map keyed by bytes or by uint64, owned by one thread.
 *
 * Used by workers for their session tables (client id -> session, uid -> session). Keys are not
 * copied: the caller keeps key memory alive while the entry exists (sessions own their ids).
 */
#ifndef HMQ_MAP_H
#define HMQ_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hmq_map_entry {
    struct hmq_map_entry *next;
    const void *key;
    size_t key_len; /* 0 for u64 keys (then key holds the value) */
    uint64_t hash;
    void *value;
} hmq_map_entry_t;

typedef struct {
    hmq_map_entry_t **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
} hmq_map_t;

void hmq_map_init(hmq_map_t *m);
void hmq_map_free(hmq_map_t *m);
uint64_t hmq_hash_bytes(const void *p, size_t len);

void *hmq_map_get(const hmq_map_t *m, const void *key, size_t len);
/* Insert or replace the value of key. Returns 0 or -ENOMEM. */
int hmq_map_put(hmq_map_t *m, const void *key, size_t len, void *value);
void *hmq_map_del(hmq_map_t *m, const void *key, size_t len);

void *hmq_map_get_u64(const hmq_map_t *m, uint64_t key);
int hmq_map_put_u64(hmq_map_t *m, uint64_t key, void *value);
void *hmq_map_del_u64(hmq_map_t *m, uint64_t key);

#endif
