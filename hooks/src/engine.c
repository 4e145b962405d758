/* engine.c - the hook engine: providers in chain order, deadlines and on_failure policy per
 * provider and hook, mandatory gating, the decision cache, metrics.
 *
 * Called by the broker's workers through hookmq/hooks.h. A request walks the chain on the loop
 * thread it was started on: for each provider, the filters (route), then the cache, then a call
 * whose completion comes back through that loop's hmq_hooks_loop_t. DENY wins; CONTINUE passes
 * to the next provider; when every provider said CONTINUE the configured default decides.
 */
#include <stdlib.h>
#include <string.h>

#include "hooks_int.h"
#include "util/log.h"

const uint32_t hmq_hooks_latency_bounds_ms[HMQ_HOOKS_LATENCY_BUCKETS - 1] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500};

static const uint32_t default_deadline_ms[HMQ_HOOK__COUNT] = {500, 200, 200, 500};
static const char *const hook_names[HMQ_HOOK__COUNT] = {"authenticate", "authorize", "on_publish",
                                                        "on_subscribe"};

struct hmq_auth_op {
    hmq_hooks_t *h;
    hmq_hooks_loop_t *hl;
    hmq_hooks_auth_req_t *req;
    hmq_hooks_auth_cb cb;
    size_t pos;
    bool cancelled;
    hmq_hooks_call_t *call;   /* in flight */
    hmq_hooks_value_t *allow; /* first ALLOW seen (deny_wins goes on asking) */
    const char *allow_by;
    bool allow_policy, allow_cache;
    hmq_hooks_item_t start;
};

struct hmq_hooks_call {
    hmq_hooks_item_t item;
    struct hmq_auth_op *op;
    provider_t *p;
    hmq_hook_t hook;
    hmq_hooks_answer_t answer;
    hmq_hooks_call_status_t status;
    uint64_t start_ns;
    void *pdata;
    hmq_cache_key_t key;
};

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
    if (!h || !name || !*name || !ops || !ops->authenticate) return HMQ_HOOKS_EINVAL;
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

void hmq_hooks_call_done(hmq_hooks_call_t *call, hmq_hooks_call_status_t status)
{
    call->status = status;
    hmq_hooks_loop_push(call->op->hl, &call->item);
}

/* ---- the authenticate chain ---------------------------------------------------------------- */

static void auth_step(struct hmq_auth_op *op);

static void auth_finish(struct hmq_auth_op *op, int status, hmq_hooks_value_t *v, const char *by,
                        bool policy, bool cache)
{
    hmq_hooks_auth_req_t *req = op->req;
    hmq_hooks_auth_cb cb = op->cb;
    hmq_hooks_auth_result_t res = {0};
    if (status == 0) {
        res.decision = v->decision == HMQ_DECISION_DENY ? HMQ_DECISION_DENY : HMQ_DECISION_ALLOW;
        res.reason = v->reason ? v->reason : "";
        res.provider = by;
        res.by_policy = policy;
        res.from_cache = cache;
        if (res.decision == HMQ_DECISION_DENY) {
            res.reason_code = v->reason_code >= 0x80 ? v->reason_code : HMQ_RC_NOT_AUTHORIZED;
        } else {
            res.grants = v->grants;
            res.superuser = v->superuser;
            res.attributes = v->attributes;
            res.n_attributes = v->n_attributes;
            res.expires_unix_ms = v->expires_unix_ms;
        }
        LOG_DEBUG("hook_authenticate", "decision=%s code=0x%02x by=%s policy=%d cache=%d",
                  res.decision == HMQ_DECISION_ALLOW ? "allow" : "deny", res.reason_code,
                  by ? by : "default", policy, cache);
    }
    req->op = NULL;
    hmq_hooks_value_unref(op->allow);
    free(op);
    cb(req, status, status == 0 ? &res : NULL);
}

/* A decision answer (fresh, cached or from a policy) from provider p: decides or moves on. */
static void auth_apply(struct hmq_auth_op *op, provider_t *p, hmq_hooks_value_t *v, bool policy,
                       bool cache)
{
    if (v->decision == HMQ_DECISION_DENY) {
        auth_finish(op, 0, v, p->name, policy, cache);
        return;
    }
    if (v->decision == HMQ_DECISION_ALLOW) {
        if (op->h->first_decision) {
            auth_finish(op, 0, v, p->name, policy, cache);
            return;
        }
        if (!op->allow) {
            op->allow = hmq_hooks_value_ref(v);
            op->allow_by = p->name;
            op->allow_policy = policy;
            op->allow_cache = cache;
        }
    }
    op->pos++;
    auth_step(op);
}

static void apply_static(struct hmq_auth_op *op, provider_t *p, int decision, uint8_t code,
                         const char *reason, bool policy)
{
    hmq_hooks_value_t v = {.decision = decision, .reason_code = code, .reason = (char *)reason};
    atomic_init(&v.refs, 1000); /* on the stack: never freed, never kept (first ALLOW is) */
    if (decision == HMQ_DECISION_ALLOW && !op->h->first_decision && !op->allow) {
        hmq_hooks_answer_t a = {.decision = decision};
        hmq_hooks_value_t *heap = hmq_hooks_value_from_answer(&a);
        if (!heap) {
            auth_finish(op, HMQ_HOOKS_ENOMEM, NULL, NULL, false, false);
            return;
        }
        auth_apply(op, p, heap, policy, false);
        hmq_hooks_value_unref(heap);
        return;
    }
    auth_apply(op, p, &v, policy, false);
}

static void auth_failed(struct hmq_auth_op *op, provider_t *p, const hmq_cache_key_t *key)
{
    hmq_hooks_on_failure_t f = p->policy.on_failure[HMQ_HOOK_AUTHENTICATE];
    LOG_INFO("hook_failure_policy", "server=%s hook=authenticate policy=%d", p->name, (int)f);
    switch (f) {
    case HMQ_ON_FAILURE_ALLOW:
        apply_static(op, p, HMQ_DECISION_ALLOW, 0, "", true);
        return;
    case HMQ_ON_FAILURE_CONTINUE:
        apply_static(op, p, HMQ_DECISION_CONTINUE, 0, "", true);
        return;
    case HMQ_ON_FAILURE_STALE: {
        hmq_hooks_value_t *v = hmq_hooks_cache_get(op->h->cache, key, hmq_hooks_now_ms(), true);
        if (v) {
            INC(&p->metrics[HMQ_HOOK_AUTHENTICATE], cache_hits);
            auth_apply(op, p, v, true, true);
            hmq_hooks_value_unref(v);
            return;
        }
    } /* fall through: no stale answer -> deny */
    /* fallthrough */
    case HMQ_ON_FAILURE_DENY:
    default:
        apply_static(op, p, HMQ_DECISION_DENY, HMQ_RC_SERVER_UNAVAILABLE, "server unavailable",
                     true);
        return;
    }
}

static void auth_key(hmq_hooks_t *h, provider_t *p, const hmq_hooks_auth_req_t *req,
                     hmq_cache_key_t *key)
{
    const hmq_hooks_client_t *c = req->client;
    uint8_t hook = HMQ_HOOK_AUTHENTICATE;
    const char *fp = c->tls && c->tls->has_peer_certificate ? c->tls->fingerprint_sha256 : NULL;
    const void *parts[] = {p->name,
                           &hook,
                           c->listener,
                           c->client_id,
                           c->username,
                           req->has_password
                               ? (const void *)(req->password ? req->password : (const uint8_t *)"")
                               : NULL,
                           fp};
    size_t lens[] = {strlen(p->name),
                     1,
                     c->listener ? strlen(c->listener) : 0,
                     c->client_id ? strlen(c->client_id) : 0,
                     c->username ? strlen(c->username) : 0,
                     req->password_len,
                     fp ? strlen(fp) : 0};
    hmq_hooks_cache_key(h->cache, key, parts, lens, sizeof(parts) / sizeof(parts[0]));
}

static void on_call_done(hmq_hooks_item_t *it);

static void auth_step(struct hmq_auth_op *op)
{
    hmq_hooks_t *h = op->h;
    if (op->cancelled || h->closed) {
        auth_finish(op, HMQ_HOOKS_ECANCELED, NULL, NULL, false, false);
        return;
    }
    if (op->pos >= h->n_chain) {
        if (op->allow) {
            hmq_hooks_value_t *v = op->allow;
            op->allow = NULL;
            auth_finish(op, 0, v, op->allow_by, op->allow_policy, op->allow_cache);
            hmq_hooks_value_unref(v);
            return;
        }
        hmq_hooks_value_t v = {.decision = h->default_decision[HMQ_HOOK_AUTHENTICATE],
                               .reason_code = HMQ_RC_NOT_AUTHORIZED,
                               .reason = (char *)(h->n_chain ? "no provider allowed" : "")};
        if (v.decision == HMQ_DECISION_ALLOW) v.reason_code = 0;
        auth_finish(op, 0, &v, NULL, false, false);
        return;
    }
    provider_t *p = h->chain[op->pos];
    hook_metrics_t *m = &p->metrics[HMQ_HOOK_AUTHENTICATE];
    hmq_hooks_route_t route = p->ops->route
                                  ? p->ops->route(p->self, HMQ_HOOK_AUTHENTICATE, op->req->client)
                                  : HMQ_ROUTE_CALL;
    if (route == HMQ_ROUTE_SKIP) {
        op->pos++;
        auth_step(op); /* bounded by the chain length */
        return;
    }
    hmq_cache_key_t key;
    auth_key(h, p, op->req, &key);
    if (route == HMQ_ROUTE_NOT_READY) {
        INC(m, unavailable);
        INC(m, failures);
        if (p->policy.mandatory && !atomic_load(&p->handshaken)) {
            apply_static(op, p, HMQ_DECISION_DENY, HMQ_RC_SERVER_UNAVAILABLE, "server unavailable",
                         true);
            return;
        }
        auth_failed(op, p, &key);
        return;
    }
    hmq_hooks_value_t *v = hmq_hooks_cache_get(h->cache, &key, hmq_hooks_now_ms(), false);
    if (v) {
        INC(m, cache_hits);
        auth_apply(op, p, v, false, true);
        hmq_hooks_value_unref(v);
        return;
    }
    hmq_hooks_call_t *call = calloc(1, sizeof(*call));
    if (!call) {
        auth_finish(op, HMQ_HOOKS_ENOMEM, NULL, NULL, false, false);
        return;
    }
    call->item.run = on_call_done;
    call->op = op;
    call->p = p;
    call->hook = HMQ_HOOK_AUTHENTICATE;
    call->key = key;
    call->start_ns = uv_hrtime();
    op->call = call;
    INC(m, calls);
    INC(m, in_flight);
    if (p->ops->authenticate(p->self, call, op->req, p->policy.deadline_ms[HMQ_HOOK_AUTHENTICATE]) <
        0) {
        op->call = NULL;
        DEC(m, in_flight);
        INC(m, failures);
        hmq_hooks_answer_clear(&call->answer);
        free(call);
        auth_failed(op, p, &key);
    }
}

static void on_call_done(hmq_hooks_item_t *it)
{
    hmq_hooks_call_t *call = (hmq_hooks_call_t *)it;
    struct hmq_auth_op *op = call->op;
    provider_t *p = call->p;
    hook_metrics_t *m = &p->metrics[call->hook];
    hmq_cache_key_t key = call->key;
    hmq_hooks_call_status_t st = call->status;
    op->call = NULL;
    DEC(m, in_flight);
    hmq_hooks_metrics_latency(m, uv_hrtime() - call->start_ns);
    hmq_hooks_answer_t a = call->answer;
    free(call);
    if (op->cancelled || op->h->closed) {
        hmq_hooks_answer_clear(&a);
        auth_finish(op, HMQ_HOOKS_ECANCELED, NULL, NULL, false, false);
        return;
    }
    int d = a.decision;
    if (st == HMQ_CALL_OK && d != HMQ_DECISION_CONTINUE && d != HMQ_DECISION_ALLOW &&
        d != HMQ_DECISION_DENY)
        st = HMQ_CALL_ERROR; /* FAILURE, UNSPECIFIED, unknown */
    if (st != HMQ_CALL_OK) {
        INC(m, failures);
        if (st == HMQ_CALL_TIMEOUT) INC(m, timeouts);
        if (st == HMQ_CALL_UNAVAILABLE) INC(m, unavailable);
        LOG_WARN("hook_call_failed", "server=%s hook=%s status=%d", p->name,
                 hook_names[HMQ_HOOK_AUTHENTICATE], (int)st);
        hmq_hooks_answer_clear(&a);
        auth_failed(op, p, &key);
        return;
    }
    uint32_t ttl = a.cache_ttl_ms;
    hmq_hooks_value_t *v = hmq_hooks_value_from_answer(&a);
    hmq_hooks_answer_clear(&a);
    if (!v) {
        auth_finish(op, HMQ_HOOKS_ENOMEM, NULL, NULL, false, false);
        return;
    }
    if (ttl) hmq_hooks_cache_put(op->h->cache, &key, v, hmq_hooks_now_ms(), ttl);
    auth_apply(op, p, v, false, false);
    hmq_hooks_value_unref(v);
}

static void on_auth_start(hmq_hooks_item_t *it)
{
    struct hmq_auth_op *op =
        (struct hmq_auth_op *)((char *)it - offsetof(struct hmq_auth_op, start));
    auth_step(op);
}

int hmq_hooks_authenticate(hmq_hooks_loop_t *hl, hmq_hooks_auth_req_t *req, hmq_hooks_auth_cb cb)
{
    if (!hl || !req || !cb || !req->client || !req->client->client_id) return HMQ_HOOKS_EINVAL;
    hmq_hooks_t *h = hl->h;
    if (!h->started || h->closed || hl->closing) return HMQ_HOOKS_ESTATE;
    struct hmq_auth_op *op = calloc(1, sizeof(*op));
    if (!op) return HMQ_HOOKS_ENOMEM;
    op->h = h;
    op->hl = hl;
    op->req = req;
    op->cb = cb;
    op->start.run = on_auth_start;
    req->op = op;
    hmq_hooks_loop_push(hl, &op->start); /* the callback never runs inside this call */
    return 0;
}

void hmq_hooks_auth_cancel(hmq_hooks_auth_req_t *req)
{
    struct hmq_auth_op *op = req->op;
    if (!op || op->cancelled) return;
    op->cancelled = true;
    if (op->call && op->call->p->ops->cancel) op->call->p->ops->cancel(op->call->p->self, op->call);
}
