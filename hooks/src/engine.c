/* engine.c - the hook engine: providers in chain order, deadlines and on_failure policy per
 * provider and hook, mandatory gating, the decision cache, metrics.
 *
 * This file: the engine's life cycle, the provider registry, metrics and the provider-call
 * accessors. The requests themselves walk the chain in chain.c.
 */
#include <stdlib.h>
#include <string.h>

#include "hooks_int.h"
#include "util/log.h"

const uint32_t hmq_hooks_latency_bounds_ms[HMQ_HOOKS_LATENCY_BUCKETS - 1] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500};

static const uint32_t default_deadline_ms[HMQ_HOOK__COUNT] = {500, 200, 200, 500, 0};
const char *const hmq_hook_names[HMQ_HOOK__COUNT] = {"authenticate", "authorize", "on_publish",
                                                     "on_subscribe", "events"};

/* ---- metrics ----------------------------------------------------------------------------- */

void hmq_hooks_metrics_latency(hook_metrics_t *m, uint64_t ns)
{
    uint64_t ms = ns / 1000000u;
    size_t i = 0;
    while (i < HMQ_HOOKS_LATENCY_BUCKETS - 1 && ms >= hmq_hooks_latency_bounds_ms[i])
        i++;
    atomic_fetch_add_explicit(&m->latency[i], 1, memory_order_relaxed);
}

#define INC(m, f) atomic_fetch_add_explicit(&(m)->f, 1, memory_order_relaxed)
#define DEC(m, f) atomic_fetch_sub_explicit(&(m)->f, 1, memory_order_relaxed)

size_t hmq_hooks_provider_count(const hmq_hooks_t *h)
{
    return h->n_chain;
}

const char *hmq_hooks_provider_name(const hmq_hooks_t *h, size_t i)
{
    return i < h->n_chain ? h->chain[i]->name : NULL;
}

int hmq_hooks_provider_index(const hmq_hooks_t *h, const char *name)
{
    for (size_t i = 0; i < h->n_chain; i++)
        if (strcmp(h->chain[i]->name, name) == 0) return (int)i;
    return -1;
}

int hmq_hooks_metrics(const hmq_hooks_t *h, size_t provider, hmq_hook_t hook,
                      hmq_hooks_metrics_t *out)
{
    if (provider >= h->n_chain || (unsigned)hook >= HMQ_HOOK__COUNT) return HMQ_HOOKS_EINVAL;
    hook_metrics_t *m = &h->chain[provider]->metrics[hook];
    out->calls = atomic_load(&m->calls);
    out->failures = atomic_load(&m->failures);
    out->timeouts = atomic_load(&m->timeouts);
    out->unavailable = atomic_load(&m->unavailable);
    out->cache_hits = atomic_load(&m->cache_hits);
    out->in_flight = atomic_load(&m->in_flight);
    for (size_t i = 0; i < HMQ_HOOKS_LATENCY_BUCKETS; i++)
        out->latency[i] = atomic_load(&m->latency[i]);
    return 0;
}

/* ---- engine life cycle --------------------------------------------------------------------- */

static provider_t *find_added(hmq_hooks_t *h, const char *name)
{
    for (size_t i = 0; i < h->n_added; i++)
        if (strcmp(h->added[i]->name, name) == 0) return h->added[i];
    return NULL;
}

int hmq_hooks_add_provider(hmq_hooks_t *h, const char *name, const hmq_hooks_provider_ops_t *ops,
                           void *self, const hmq_hooks_policy_t *policy)
{
    if (!h || !name || !*name || !ops) return HMQ_HOOKS_EINVAL;
    if (!ops->authenticate && !ops->authorize && !ops->on_publish && !ops->on_subscribe &&
        !ops->event)
        return HMQ_HOOKS_EINVAL;
    if (h->started) return HMQ_HOOKS_ESTATE;
    if (find_added(h, name)) return HMQ_HOOKS_EINVAL;
    provider_t **added = realloc(h->added, (h->n_added + 1) * sizeof(*added));
    if (!added) return HMQ_HOOKS_ENOMEM;
    h->added = added;
    provider_t *p = calloc(1, sizeof(*p));
    if (!p || !(p->name = strdup(name))) {
        free(p);
        return HMQ_HOOKS_ENOMEM;
    }
    p->ops = ops;
    p->self = self;
    if (policy) p->policy = *policy;
    for (int k = 0; k < HMQ_HOOK__COUNT; k++)
        if (!p->policy.deadline_ms[k]) p->policy.deadline_ms[k] = default_deadline_ms[k];
    atomic_init(&p->handshaken, !ops->route); /* providers without filters need no handshake */
    h->added[h->n_added++] = p;
    return 0;
}

int hmq_hooks_new(hmq_hooks_t **out, uv_loop_t *home, const hmq_hooks_config_t *cfg)
{
    *out = NULL;
    if (!home || !cfg || (cfg->n_servers && !cfg->servers)) return HMQ_HOOKS_EINVAL;
    hmq_hooks_t *h = calloc(1, sizeof(*h));
    if (!h) return HMQ_HOOKS_ENOMEM;
    atomic_init(&h->refs, 1);
    h->home_loop = home;
    h->first_decision = cfg->first_decision;
    for (int k = 0; k < HMQ_HOOK__COUNT; k++) {
        hmq_hooks_decision_t d = cfg->default_decision[k];
        if (d != HMQ_DECISION_ALLOW && d != HMQ_DECISION_DENY)
            d = k <= HMQ_HOOK_AUTHORIZE ? HMQ_DECISION_DENY : HMQ_DECISION_ALLOW;
        h->default_decision[k] = d;
    }
    int rc = HMQ_HOOKS_ENOMEM;
    h->cache = hmq_hooks_cache_new(cfg->cache_max_entries,
                                   cfg->cache_stale_ttl_ms ? cfg->cache_stale_ttl_ms : 300000);
    if (!h->cache) goto fail;
    if (cfg->n_chain) {
        h->chain_names = calloc(cfg->n_chain, sizeof(char *));
        if (!h->chain_names) goto fail;
        for (size_t i = 0; i < cfg->n_chain; i++, h->n_chain_names++)
            if (!(h->chain_names[i] = strdup(cfg->chain[i]))) goto fail;
    }
    if ((rc = hmq_hooks_loop_init_internal(h, home, &h->home)) != 0) goto fail;
    if (cfg->n_servers) {
        rc = HMQ_HOOKS_ENOMEM;
        h->grpc = hmq_grpc_new(h, &h->home, cfg->node ? cfg->node : "hookmq", cfg->listeners,
                               cfg->n_listeners);
        if (!h->grpc) goto fail_closing;
        for (size_t i = 0; i < cfg->n_servers; i++)
            if ((rc = hmq_grpc_add_server(h->grpc, &cfg->servers[i])) != 0) goto fail_closing;
    }
    *out = h;
    return 0;
fail_closing: /* the home handle exists: close it like a started engine */
    h->closed = true;
    if (h->grpc) hmq_grpc_close(h->grpc);
    hmq_hooks_loop_close(&h->home, NULL);
    hmq_hooks_engine_unref(h);
    return rc;
fail:
    h->closed = true;
    hmq_hooks_engine_unref(h);
    return rc;
}

int hmq_hooks_start(hmq_hooks_t *h)
{
    if (h->started || h->closed) return HMQ_HOOKS_ESTATE;
    h->chain = calloc(h->n_added ? h->n_added : 1, sizeof(*h->chain));
    if (!h->chain) return HMQ_HOOKS_ENOMEM;
    if (h->n_chain_names) {
        for (size_t i = 0; i < h->n_chain_names; i++) {
            provider_t *p = find_added(h, h->chain_names[i]);
            if (!p) {
                LOG_ERROR("hooks_chain_unknown_provider", "name=%s", h->chain_names[i]);
                return HMQ_HOOKS_EINVAL;
            }
            for (size_t j = 0; j < h->n_chain; j++)
                if (h->chain[j] == p) return HMQ_HOOKS_EINVAL;
            h->chain[h->n_chain++] = p;
        }
    } else { /* built-ins in the order added, then servers in file order */
        for (int grpc = 0; grpc <= 1; grpc++)
            for (size_t i = 0; i < h->n_added; i++)
                if ((h->added[i]->ops == &hmq_grpc_provider_ops) == grpc)
                    h->chain[h->n_chain++] = h->added[i];
    }
    h->started = true;
    return h->grpc ? hmq_grpc_start(h->grpc) : 0;
}

void hmq_hooks_close(hmq_hooks_t *h)
{
    if (h->closed) return;
    h->closed = true;
    for (size_t i = 0; i < h->n_added; i++)
        if (h->added[i]->ops->close && h->added[i]->ops != &hmq_grpc_provider_ops)
            h->added[i]->ops->close(h->added[i]->self);
    if (h->grpc) hmq_grpc_close(h->grpc); /* joins: every call has completed and is queued */
    hmq_hooks_loop_close(&h->home, NULL);
    hmq_hooks_engine_unref(h);
}

void hmq_hooks_engine_unref(hmq_hooks_t *h)
{
    if (atomic_fetch_sub(&h->refs, 1) != 1) return;
    for (size_t i = 0; i < h->n_added; i++) {
        provider_t *p = h->added[i];
        if (p->ops->free) p->ops->free(p->self);
        free(p->name);
        free(p);
    }
    if (h->grpc) hmq_grpc_free(h->grpc);
    for (size_t i = 0; i < h->n_chain_names; i++)
        free(h->chain_names[i]);
    free(h->chain_names);
    free(h->added);
    free(h->chain);
    hmq_hooks_cache_free(h->cache);
    free(h);
}

void hmq_hooks_provider_set_handshaken(hmq_hooks_t *h, const char *name)
{
    provider_t *p = find_added(h, name);
    if (p) atomic_store(&p->handshaken, true);
}

void hmq_hooks_provider_invalidate(hmq_hooks_t *h, const char *name)
{
    provider_t *p = find_added(h, name);
    if (!p) return;
    atomic_fetch_add(&p->generation, 1);
    LOG_INFO("hooks_cache_invalidated", "provider=%s", name);
}

bool hmq_hooks_ready(hmq_hooks_t *h)
{
    for (size_t i = 0; i < h->n_chain; i++)
        if (h->chain[i]->policy.mandatory && !atomic_load(&h->chain[i]->handshaken)) return false;
    return true;
}

/* ---- provider calls ------------------------------------------------------------------------ */

hmq_hooks_answer_t *hmq_hooks_call_answer(hmq_hooks_call_t *call)
{
    return &call->answer;
}

void *hmq_hooks_call_provider_data(hmq_hooks_call_t *call)
{
    return call->pdata;
}

void hmq_hooks_call_set_provider_data(hmq_hooks_call_t *call, void *p)
{
    call->pdata = p;
}

hmq_hook_t hmq_hooks_call_hook(const hmq_hooks_call_t *call)
{
    return call->hook;
}
