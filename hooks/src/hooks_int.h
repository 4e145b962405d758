/* hooks_int.h - internals shared by the hook engine's files (engine.c, cache.c, loop.c,
 * grpc_provider.c). Not part of the API: the broker includes only hookmq/hooks.h.
 */
#ifndef HMQ_HOOKS_INT_H
#define HMQ_HOOKS_INT_H

#include <stdatomic.h>

#include "hookmq/hooks.h"

/* Something to run on a loop thread, queued from any thread (loop.c). */
struct hmq_hooks_item {
    hmq_hooks_item_t *next;
    void (*run)(hmq_hooks_item_t *it);
};
void hmq_hooks_loop_push(hmq_hooks_loop_t *hl, hmq_hooks_item_t *it);
int hmq_hooks_loop_init_internal(hmq_hooks_t *h, uv_loop_t *loop, hmq_hooks_loop_t *hl);

/* ---- metrics ---- */
typedef struct {
    atomic_uint_fast64_t calls, failures, timeouts, unavailable, cache_hits, in_flight;
    atomic_uint_fast64_t latency[HMQ_HOOKS_LATENCY_BUCKETS];
} hook_metrics_t;
void hmq_hooks_metrics_latency(hook_metrics_t *m, uint64_t ns);

/* ---- decision cache (cache.c) ---- */
typedef struct hmq_hooks_cache hmq_hooks_cache_t;

/* A cached (or freshly received) answer: immutable once shared, reference-counted. */
typedef struct {
    atomic_int refs;
    int decision; /* CONTINUE / ALLOW / DENY */
    uint8_t reason_code;
    char *reason;
    hmq_grants_t *grants;
    bool superuser;
    hmq_hooks_pair_t *attributes;
    size_t n_attributes;
    uint64_t expires_unix_ms;
    bool challenge; /* enhanced authentication (never cached) */
    uint8_t *auth_data, *auth_state;
    size_t auth_data_len, auth_state_len;
} hmq_hooks_value_t;

hmq_hooks_value_t *hmq_hooks_value_from_answer(hmq_hooks_answer_t *a); /* takes a's contents */
hmq_hooks_value_t *hmq_hooks_value_ref(hmq_hooks_value_t *v);
void hmq_hooks_value_unref(hmq_hooks_value_t *v);
void hmq_hooks_answer_clear(hmq_hooks_answer_t *a);

#define HMQ_CACHE_KEY_LEN 32
typedef struct {
    uint8_t b[HMQ_CACHE_KEY_LEN];
} hmq_cache_key_t;

hmq_hooks_cache_t *hmq_hooks_cache_new(size_t max_entries, uint32_t stale_ttl_ms);
void hmq_hooks_cache_free(hmq_hooks_cache_t *c);
/* HMAC-SHA256 with the cache's random key over length-prefixed parts (NULL part != ""). */
void hmq_hooks_cache_key(const hmq_hooks_cache_t *c, hmq_cache_key_t *out, const void *const *parts,
                         const size_t *lens, size_t n);
/* A fresh entry (or, with stale, one expired less than stale_ttl_ms ago); NULL if none. */
hmq_hooks_value_t *hmq_hooks_cache_get(hmq_hooks_cache_t *c, const hmq_cache_key_t *k,
                                       uint64_t now_ms, bool stale);
void hmq_hooks_cache_put(hmq_hooks_cache_t *c, const hmq_cache_key_t *k, hmq_hooks_value_t *v,
                         uint64_t now_ms, uint32_t ttl_ms);
size_t hmq_hooks_cache_size(hmq_hooks_cache_t *c);
uint64_t hmq_hooks_now_ms(void); /* monotonic */

/* ---- gRPC provider (grpc_provider.c) ---- */
typedef struct hmq_grpc hmq_grpc_t; /* the engine's gRPC side: CQ thread, one per engine */
typedef struct hmq_grpc_server hmq_grpc_server_t;

hmq_grpc_t *hmq_grpc_new(hmq_hooks_t *h, hmq_hooks_loop_t *home, const char *node,
                         const char *const *listeners, size_t n_listeners);
/* Adds a provider for one server (call before the chain is built). */
int hmq_grpc_add_server(hmq_grpc_t *g, const hmq_hooks_server_config_t *cfg);
int hmq_grpc_start(hmq_grpc_t *g);
/* Cancel calls, destroy channels, shut the CQ down, join the thread. */
void hmq_grpc_close(hmq_grpc_t *g);
void hmq_grpc_free(hmq_grpc_t *g); /* after close; grpc_shutdown */
extern const hmq_hooks_provider_ops_t hmq_grpc_provider_ops;

/* ---- engine ---- */
typedef struct {
    char *name;
    const hmq_hooks_provider_ops_t *ops;
    void *self;
    hmq_hooks_policy_t policy;
    atomic_bool handshaken;
    atomic_uint event_mask; /* bit (1u << hmq_hooks_event_type_t): events it wants */
    atomic_uint generation; /* part of its cache keys: bumped = its cached answers are gone */
    hook_metrics_t metrics[HMQ_HOOK__COUNT];
} provider_t;

struct hmq_hooks {
    atomic_int refs; /* 1 for the engine itself + 1 per open hmq_hooks_loop_t */
    uv_loop_t *home_loop;
    hmq_hooks_loop_t home;
    bool started, closed;
    bool first_decision;
    hmq_hooks_decision_t default_decision[HMQ_HOOK__COUNT];
    char **chain_names;
    size_t n_chain_names;
    provider_t **added; /* in order added (servers after built-ins) */
    size_t n_added;
    provider_t **chain; /* chain order */
    size_t n_chain;
    hmq_hooks_cache_t *cache;
    hmq_grpc_t *grpc;
};

void hmq_hooks_engine_unref(hmq_hooks_t *h);
extern const char *const hmq_hook_names[HMQ_HOOK__COUNT];

/* ---- one provider call (engine.c accessors, chain.c logic) ---- */
struct hmq_hooks_call {
    hmq_hooks_item_t item; /* its completion, queued on the op's loop */
    struct hmq_hooks_op *op;
    provider_t *p;
    hmq_hook_t hook;
    hmq_hooks_answer_t answer;
    hmq_hooks_call_status_t status;
    uint64_t start_ns;
    void *pdata;
    hmq_cache_key_t key;
    size_t *sent; /* on_subscribe: indexes of the op's subscriptions sent to the provider */
    size_t n_sent;
};

/* Cache keys of a decision (cache.c): authenticate (provider, identity, HMAC'd password) and
 * authorize by scope (HMQ_SCOPE_*: topic, client or username). Both include the provider's
 * generation. */
void hmq_hooks_key_auth(const hmq_hooks_cache_t *cache, const provider_t *p,
                        const hmq_hooks_auth_req_t *req, hmq_cache_key_t *key);
void hmq_hooks_key_authz(const hmq_hooks_cache_t *cache, const provider_t *p,
                         const hmq_hooks_authz_req_t *req, uint8_t scope, hmq_cache_key_t *key);

/* Forget a provider's cached answers (they stay in the LRU, unreachable); any thread. */
void hmq_hooks_provider_invalidate(hmq_hooks_t *h, const char *name);

/* ---- events (events.c) ---- */
/* A provider declares which event types it wants (e.g. after each handshake); any thread. */
void hmq_hooks_provider_set_event_mask(hmq_hooks_t *h, const char *name, uint32_t mask);

#endif
