/* admission.c - see admission.h. */
#include "core/admission.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/map.h"

typedef struct {
    double tokens;
    uint64_t last_ms;
} bucket_t;

typedef struct {
    bucket_t b;
    uint32_t listener;
    uint8_t key_len;
    uint8_t key[1 + 4 + 16]; /* listener byte, family-sized address */
} addr_bucket_t;

typedef struct {
    bucket_t listeners[HMQ_MAX_LISTENERS];
    hmq_map_t addrs;
    uint64_t last_sweep;
} admission_t;

static admission_t *state(hmq_worker_t *w)
{
    if (!w->admission) {
        admission_t *a = calloc(1, sizeof *a);
        if (!a) return NULL;
        hmq_map_init(&a->addrs);
        for (uint32_t i = 0; i < HMQ_MAX_LISTENERS; i++)
            a->listeners[i].tokens = -1;
        w->admission = a;
    }
    return w->admission;
}

/* This worker's share of a per-second rate; the burst is one second's worth. */
static double share(hmq_worker_t *w, uint32_t rate)
{
    double r = (double)rate / w->broker->nworkers;
    return r < 1 ? 1 : r;
}

static bool take(bucket_t *b, double rate, uint64_t now)
{
    if (b->tokens < 0) { /* new bucket: full */
        b->tokens = rate;
        b->last_ms = now;
    }
    b->tokens += (double)(now - b->last_ms) * rate / 1000.0;
    if (b->tokens > rate) b->tokens = rate;
    b->last_ms = now;
    if (b->tokens < 1) return false;
    b->tokens -= 1;
    return true;
}

bool hmq_admit_listener(hmq_worker_t *w, uint32_t listener)
{
    uint32_t rate = w->cfg->listeners[listener].max_connect_rate;
    if (!rate) return true;
    admission_t *a = state(w);
    if (!a) return true;
    return take(&a->listeners[listener], share(w, rate), hmq_worker_now(w));
}

bool hmq_admit_address(hmq_worker_t *w, uint32_t listener, const struct sockaddr *addr)
{
    uint32_t rate = w->cfg->listeners[listener].max_connect_rate_per_ip;
    if (!rate) return true;
    admission_t *a = state(w);
    if (!a) return true;
    uint8_t key[1 + 16];
    size_t len;
    key[0] = (uint8_t)listener;
    if (addr->sa_family == AF_INET) {
        memcpy(key + 1, &((const struct sockaddr_in *)addr)->sin_addr, 4);
        len = 5;
    } else if (addr->sa_family == AF_INET6) {
        memcpy(key + 1, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
        len = 17;
    } else {
        return true; /* unix socket peers are local */
    }
    addr_bucket_t *e = hmq_map_get(&a->addrs, key, len);
    if (!e) {
        if (!(e = calloc(1, sizeof *e))) return true;
        memcpy(e->key, key, len);
        e->key_len = (uint8_t)len;
        e->listener = listener;
        e->b.tokens = -1;
        if (hmq_map_put(&a->addrs, e->key, len, e) < 0) {
            free(e);
            return true;
        }
    }
    return take(&e->b, share(w, rate), hmq_worker_now(w));
}

void hmq_admission_sweep(hmq_worker_t *w, uint64_t now)
{
    admission_t *a = w->admission;
    if (!a || now - a->last_sweep < 10000) return;
    a->last_sweep = now;
    for (size_t i = 0; i < a->addrs.nbuckets; i++) {
        hmq_map_entry_t *me = a->addrs.buckets[i];
        while (me) {
            hmq_map_entry_t *next = me->next;
            addr_bucket_t *e = me->value;
            double rate = share(w, w->cfg->listeners[e->listener].max_connect_rate_per_ip);
            /* full again: as good as new, forget it */
            if (e->b.tokens + (double)(now - e->b.last_ms) * rate / 1000.0 >= rate) {
                hmq_map_del(&a->addrs, e->key, e->key_len);
                free(e);
            }
            me = next;
        }
    }
}

void hmq_admission_free(hmq_worker_t *w)
{
    admission_t *a = w->admission;
    if (!a) return;
    for (size_t i = 0; i < a->addrs.nbuckets; i++)
        for (hmq_map_entry_t *me = a->addrs.buckets[i]; me; me = me->next)
            free(me->value);
    hmq_map_free(&a->addrs);
    free(a);
    w->admission = NULL;
}
