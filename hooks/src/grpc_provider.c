/* grpc_provider.c - hook servers over gRPC (C core): one channel per endpoint, the Handshake on
 * every (re)connection, routing by the server's registrations, the completion-queue thread, the
 * home-loop tick, and the provider ops table. The calls themselves are in grpc_unary.c
 * (Authenticate, subscribe Authorize, OnSubscribe, Health), grpc_stream.c (MessageHooks:
 * OnPublish and publish Authorize), grpc_events.c (Events); grpc_breaker.c is the circuit
 * breaker. Called by the engine (engine.c, chain.c) through hmq_grpc_* and the ops table.
 *
 * Threads (DEPENDENCY-NOTES §3): one completion-queue thread per engine runs every tag's
 * callback. Channel state (connectivity, handshake) is only written on the home loop; workers
 * read what they need (ready flags, the declaration) atomically or under a lock. A uv_timer on
 * the home loop (the tick) expires stream deadlines, drives the breaker and health checks and
 * reopens broken streams.
 * Shutdown (hmq_grpc_close): cancel calls and streams, destroy channels, shut the CQ down, join.
 */
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_int.h"
#include "util/log.h"

#define HANDSHAKE_DEADLINE_MS 10000
#define HANDSHAKE_RETRY_MS 500
#define HANDSHAKE_RETRY_MAX_MS 30000
#define TICK_MS 5

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---- the declaration and matching ---------------------------------------------------------- */

void hmq_grpc_decl_unref(decl_t *d)
{
    if (d && atomic_fetch_sub(&d->refs, 1) == 1) {
        hookmq__v1__handshake_response__free_unpacked(d->resp, NULL);
        free(d);
    }
}

decl_t *hmq_grpc_decl(hmq_grpc_server_t *s)
{
    uv_rwlock_rdlock(&s->decl_lock);
    decl_t *d = s->decl;
    if (d) atomic_fetch_add(&d->refs, 1);
    uv_rwlock_rdunlock(&s->decl_lock);
    return d;
}

static decl_t *decl_new(Hookmq__V1__HandshakeResponse *resp)
{
    decl_t *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    atomic_init(&d->refs, 1);
    d->resp = resp;
    d->max_batch = resp->max_batch_size;
    for (size_t i = 0; i < resp->n_hooks; i++) {
        const Hookmq__V1__HookRegistration *r = resp->hooks[i];
        if ((unsigned)r->type >= 32) continue;
        d->types |= 1u << r->type;
        if (r->type == HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_ON_PUBLISH) d->want_stream = true;
        if (r->type == HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_AUTHORIZE) {
            bool pub = r->n_actions == 0;
            for (size_t j = 0; j < r->n_actions; j++)
                if (r->actions[j] == HOOKMQ__V1__ACTION__ACTION_PUBLISH) pub = true;
            if (pub) d->want_stream = true;
        }
        if (r->type == HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_EVENTS) {
            if (!r->n_events) d->event_mask |= 0x3feu; /* types 1..9 */
            for (size_t j = 0; j < r->n_events; j++)
                if (r->events[j] >= 1 && r->events[j] <= 9) d->event_mask |= 1u << r->events[j];
        }
    }
    return d;
}

static bool any_glob(char **pats, size_t n, const char *v)
{
    if (!n) return true;
    for (size_t i = 0; i < n; i++)
        if (hmq_glob_matches(pats[i], v ? v : "")) return true;
    return false;
}

static bool any_exact(char **vals, size_t n, const char *v)
{
    if (!n) return true;
    for (size_t i = 0; i < n; i++)
        if (v && strcmp(vals[i], v) == 0) return true;
    return false;
}

static bool any_topic(char **filters, size_t n, const char *topic, int mode)
{
    if (!n || !topic) return true;
    for (size_t i = 0; i < n; i++)
        if (mode == TOPIC_FILTER ? hmq_filters_overlap(filters[i], topic)
                                 : hmq_topic_matches(filters[i], topic))
            return true;
    return false;
}

static bool reg_matches(const Hookmq__V1__HookRegistration *r, Hookmq__V1__HookType t,
                        const hmq_hooks_client_t *c, const char *topic, int mode, int action,
                        int event)
{
    if (r->type != t) return false;
    if (t == HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_AUTHORIZE && action && r->n_actions) {
        bool ok = false;
        for (size_t i = 0; i < r->n_actions && !ok; i++)
            ok = (int)r->actions[i] == action;
        if (!ok) return false;
    }
    if (t == HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_EVENTS && event && r->n_events) {
        bool ok = false;
        for (size_t i = 0; i < r->n_events && !ok; i++)
            ok = (int)r->events[i] == event;
        if (!ok) return false;
    }
    const Hookmq__V1__HookFilter *f = r->filter;
    if (!f) return true;
    if (t != HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_AUTHENTICATE &&
        !any_topic(f->topics, f->n_topics, topic, mode))
        return false;
    if (!c) return true;
    return any_exact(f->listeners, f->n_listeners, c->listener) &&
           any_glob(f->usernames, f->n_usernames, c->username) &&
           any_glob(f->client_ids, f->n_client_ids, c->client_id);
}

size_t hmq_grpc_match(const decl_t *d, Hookmq__V1__HookType t, const hmq_hooks_client_t *c,
                      const char *topic, int topic_mode, int action, int event, uint32_t *ids,
                      size_t max_ids, bool *want_payload, bool *want_chain)
{
    size_t n = 0;
    if (!d || !(d->types & (1u << t))) return 0;
    for (size_t i = 0; i < d->resp->n_hooks; i++) {
        const Hookmq__V1__HookRegistration *r = d->resp->hooks[i];
        if (!reg_matches(r, t, c, topic, topic_mode, action, event)) continue;
        if (ids && n < max_ids) ids[n] = r->id;
        n++;
        if (want_payload && r->want_payload) *want_payload = true;
        if (want_chain && r->identity && r->identity->tls_chain) *want_chain = true;
    }
    return n;
}

/* ---- routing ------------------------------------------------------------------------------- */

static const Hookmq__V1__HookType hook_types[HMQ_HOOK__COUNT] = {
    [HMQ_HOOK_AUTHENTICATE] = HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_AUTHENTICATE,
    [HMQ_HOOK_AUTHORIZE] = HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_AUTHORIZE,
    [HMQ_HOOK_ON_PUBLISH] = HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_ON_PUBLISH,
    [HMQ_HOOK_ON_SUBSCRIBE] = HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_ON_SUBSCRIBE,
    [HMQ_HOOK_EVENTS] = HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_EVENTS,
};

/* Any loop thread. AUTHORIZE does not tell the action: a topic with wildcards can only be a
 * subscription (overlap, subscribe registrations); without, both actions match the same way
 * (a filter without wildcards overlaps exactly the filters matching it as a topic), so any
 * action is accepted here and the op checks the action (no match: CONTINUE without a call). */
static hmq_hooks_route_t srv_route(void *self, hmq_hook_t hook, const hmq_hooks_client_t *c,
                                   const char *topic)
{
    hmq_grpc_server_t *s = self;
    if ((unsigned)hook >= HMQ_HOOK__COUNT) return HMQ_ROUTE_SKIP;
    if (!atomic_load(&s->handshaken)) return HMQ_ROUTE_NOT_READY;
    int mode = TOPIC_NAME, action = 0;
    if (hook == HMQ_HOOK_ON_SUBSCRIBE) mode = TOPIC_FILTER;
    if (hook == HMQ_HOOK_AUTHORIZE && topic && strpbrk(topic, "+#")) {
        mode = TOPIC_FILTER;
        action = HOOKMQ__V1__ACTION__ACTION_SUBSCRIBE;
    }
    if (hook == HMQ_HOOK_EVENTS && topic && strpbrk(topic, "+#")) mode = TOPIC_FILTER;
    decl_t *d = hmq_grpc_decl(s);
    size_t n = hmq_grpc_match(d, hook_types[hook], c, topic, mode, action, 0, NULL, 0, NULL, NULL);
    hmq_grpc_decl_unref(d);
    if (!n) return HMQ_ROUTE_SKIP;
    if (hook != HMQ_HOOK_EVENTS && !hmq_grpc_breaker_allows(s)) return HMQ_ROUTE_NOT_READY;
    return HMQ_ROUTE_CALL;
}

endpoint_t *hmq_grpc_pick_endpoint(hmq_grpc_server_t *s)
{
    unsigned start = atomic_fetch_add(&s->rr, 1);
    for (size_t i = 0; i < s->n_eps; i++) {
        endpoint_t *ep = &s->eps[(start + i) % s->n_eps];
        if (atomic_load(&ep->ready)) return ep;
    }
    return &s->eps[start % s->n_eps]; /* none ready: the call fails fast (UNAVAILABLE) */
}

static void answer_continue(hmq_hooks_call_t *call)
{
    hmq_hooks_answer_t *a = hmq_hooks_call_answer(call);
    a->decision = HMQ_DECISION_CONTINUE;
    a->reason = strdup("");
    hmq_hooks_call_done(call, HMQ_CALL_OK);
}

static int srv_authorize(void *self, hmq_hooks_call_t *call, const hmq_hooks_authz_req_t *req,
                         uint32_t deadline_ms)
{
    hmq_grpc_server_t *s = self;
    bool sub = req->action == HMQ_ACTION_SUBSCRIBE;
    uint32_t ids[64];
    bool want_payload = false, want_chain = false;
    decl_t *d = hmq_grpc_decl(s);
    size_t n = hmq_grpc_match(d, HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_AUTHORIZE, req->client,
                              req->topic, sub ? TOPIC_FILTER : TOPIC_NAME,
                              sub ? HOOKMQ__V1__ACTION__ACTION_SUBSCRIBE
                                  : HOOKMQ__V1__ACTION__ACTION_PUBLISH,
                              0, ids, 64, &want_payload, &want_chain);
    hmq_grpc_decl_unref(d);
    if (!n) { /* registered for the other action only */
        answer_continue(call);
        return 0;
    }
    if (n > 64) n = 64;
    if (sub) return hmq_grpc_authorize_subscribe(s, call, req, ids, n, want_chain, deadline_ms);
    return hmq_grpc_stream_authorize(s, call, req, ids, n, want_payload, want_chain, deadline_ms);
}

/* Any loop thread. Unary calls are cancelled (their completion says CANCELLED); stream items
 * complete CANCELLED at once and their answer is ignored. */
static void srv_cancel(void *self, hmq_hooks_call_t *hcall)
{
    hmq_grpc_server_t *s = self;
    /* The provider data is a gcall_t (cleared under g->mu) or a stream item (cleared under
     * s->smu): hold both to read its kind. */
    uv_mutex_lock(&s->g->mu);
    if (!hmq_grpc_stream_cancel(s, hcall)) {
        gcall_t *gc = hmq_hooks_call_provider_data(hcall);
        if (gc && gc->pk == PK_UNARY) grpc_call_cancel(gc->call, NULL);
    }
    uv_mutex_unlock(&s->g->mu);
}

/* ---- Handshake and connectivity (home loop) ---------------------------------------------- */

static void watch(endpoint_t *ep);

static void on_handshake_done(hmq_hooks_item_t *it)
{
    gcall_t *gc = (gcall_t *)((char *)it - offsetof(gcall_t, item));
    endpoint_t *ep = gc->ep;
    hmq_grpc_server_t *s = ep->s;
    ep->hs_in_flight = false;
    if (s->g->closed) {
        hmq_gcall_free(gc);
        return;
    }
    if (gc->status != GRPC_STATUS_OK || !gc->hs) {
        char *details = grpc_slice_to_c_string(gc->details);
        ep->hs_backoff_ms = ep->hs_backoff_ms ? ep->hs_backoff_ms * 2 : HANDSHAKE_RETRY_MS;
        if (ep->hs_backoff_ms > HANDSHAKE_RETRY_MAX_MS) ep->hs_backoff_ms = HANDSHAKE_RETRY_MAX_MS;
        ep->hs_retry_ms = hmq_hooks_now_ms() + ep->hs_backoff_ms;
        LOG_WARN("hook_handshake_failed",
                 "server=%s endpoint=%s status=%d details=\"%s\" retry_ms=%u", s->name, ep->target,
                 (int)gc->status, details, ep->hs_backoff_ms);
        gpr_free(details);
        hmq_gcall_free(gc);
        return; /* retried by the tick (or on the next connectivity change) */
    }
    ep->hs_backoff_ms = 0;
    decl_t *d = decl_new(gc->hs);
    if (!d) {
        hmq_gcall_free(gc);
        return;
    }
    gc->hs = NULL;
    LOG_INFO("hook_handshake", "server=%s endpoint=%s version=\"%s\" hooks=%zu instance=%s",
             s->name, ep->target, d->resp->server_version, d->resp->n_hooks, d->resp->instance_id);
    uint32_t mask = d->event_mask;
    uv_rwlock_wrlock(&s->decl_lock);
    decl_t *old = s->decl;
    /* A restarted server (new instance id) may decide differently: its cached answers go. */
    if (old && strcmp(old->resp->instance_id, d->resp->instance_id) != 0)
        hmq_hooks_provider_invalidate(s->g->h, s->name);
    s->decl = d;
    uv_rwlock_wrunlock(&s->decl_lock);
    hmq_grpc_decl_unref(old);
    atomic_store(&ep->ready, ep->state == GRPC_CHANNEL_READY);
    atomic_store(&s->handshaken, true);
    hmq_hooks_provider_set_event_mask(s->g->h, s->name, mask);
    hmq_hooks_provider_set_handshaken(s->g->h, s->name);
    hmq_grpc_breaker_handshaken(s);
    if (s->spool) hmq_events_spool_set_max_batch(s->spool, d->resp->max_batch_size);
    hmq_gcall_free(gc);
    if (atomic_load(&ep->ready)) hmq_grpc_stream_open(ep);
    hmq_grpc_kick_home(s->g); /* events stream */
}

static void handshake(endpoint_t *ep)
{
    hmq_grpc_t *g = ep->s->g;
    Hookmq__V1__HandshakeRequest hr = HOOKMQ__V1__HANDSHAKE_REQUEST__INIT;
    uint32_t versions[] = {1};
    char *caps[] = {"grants", "cache", "stream.messages", "stream.events"};
    hr.n_protocol_versions = 1;
    hr.protocol_versions = versions;
    hr.broker_version = "hookmq/" HOOKMQ_VERSION;
    hr.node = g->node;
    hr.server_name = ep->s->name;
    hr.n_capabilities = sizeof(caps) / sizeof(caps[0]);
    hr.capabilities = caps;
    hr.n_listeners = g->n_listeners;
    hr.listeners = g->listeners;
    hr.max_batch_size = ep->s->max_batch;
    gcall_t *gc = hmq_gcall_new(GC_HANDSHAKE, ep);
    if (!gc) return;
    gc->item.run = on_handshake_done;
    if (hmq_gcall_start(g, gc, HMQ_GRPC_METHOD("Handshake"), &hr.base, NULL, 0,
                        HANDSHAKE_DEADLINE_MS, true) < 0) {
        hmq_gcall_free(gc);
        return;
    }
    ep->hs_in_flight = true;
    ep->hs_retry_ms = 0;
}

static void on_watch(hmq_hooks_item_t *it)
{
    endpoint_t *ep = (endpoint_t *)((char *)it - offsetof(endpoint_t, watch_item));
    ep->watching = false;
    if (ep->s->g->closed || !ep->ch) return;
    grpc_connectivity_state st = grpc_channel_check_connectivity_state(ep->ch, 0);
    if (st != ep->state)
        LOG_DEBUG("hook_channel_state", "server=%s endpoint=%s state=%d", ep->s->name, ep->target,
                  (int)st);
    if (st == GRPC_CHANNEL_READY && ep->state != GRPC_CHANNEL_READY) {
        ep->state = st;
        handshake(ep);
    } else if (st != GRPC_CHANNEL_READY) {
        atomic_store(&ep->ready, false);
        ep->state = st;
        if (st == GRPC_CHANNEL_IDLE) grpc_channel_check_connectivity_state(ep->ch, 1);
    }
    watch(ep);
}

static void watch_cq(gtag_t *t, bool ok)
{
    (void)ok;
    endpoint_t *ep = (endpoint_t *)((char *)t - offsetof(endpoint_t, watch_tag));
    hmq_hooks_loop_push(ep->s->g->home, &ep->watch_item);
}

static void watch(endpoint_t *ep)
{
    if (ep->watching) return;
    ep->watching = true;
    grpc_channel_watch_connectivity_state(ep->ch, ep->state, gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                          ep->s->g->cq, &ep->watch_tag);
}

/* ---- CQ thread and the home-loop tick ------------------------------------------------------ */

static void cq_thread(void *arg)
{
    hmq_grpc_t *g = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type != GRPC_OP_COMPLETE) continue;
        gtag_t *t = ev.tag;
        t->cb(t, ev.success != 0);
    }
}

static void tick(hmq_grpc_t *g)
{
    if (g->closed) return;
    uint64_t now = hmq_hooks_now_ms();
    for (size_t i = 0; i < g->n_servers; i++) {
        hmq_grpc_server_t *s = g->servers[i];
        hmq_grpc_stream_expire(s, now);
        hmq_grpc_breaker_tick(s, now);
        for (size_t j = 0; j < s->n_eps; j++) {
            endpoint_t *ep = &s->eps[j];
            if (atomic_load(&ep->ready))
                hmq_grpc_stream_open(ep);
            else if (ep->state == GRPC_CHANNEL_READY && !ep->hs_in_flight && ep->hs_retry_ms &&
                     now >= ep->hs_retry_ms)
                handshake(ep); /* connected, but the last handshake failed */
        }
        hmq_grpc_events_tick(s, now);
    }
}

static void on_tick(uv_timer_t *t)
{
    tick(t->data);
}

static void on_kick(hmq_hooks_item_t *it)
{
    hmq_grpc_t *g = (hmq_grpc_t *)((char *)it - offsetof(hmq_grpc_t, kick_item));
    atomic_store(&g->kick_queued, false);
    tick(g);
}

void hmq_grpc_kick_home(hmq_grpc_t *g)
{
    if (g->closing || atomic_exchange(&g->kick_queued, true)) return;
    hmq_hooks_loop_push(g->home, &g->kick_item);
}

/* ---- life cycle --------------------------------------------------------------------------- */

static void gpr_log_to_hmq(gpr_log_func_args *a)
{
    hmq_log_level_t lvl = a->severity == GPR_LOG_SEVERITY_ERROR  ? HMQ_LOG_WARN
                          : a->severity == GPR_LOG_SEVERITY_INFO ? HMQ_LOG_DEBUG
                                                                 : HMQ_LOG_TRACE;
    HMQ_LOG(lvl, "grpc", "file=%s line=%d msg=\"%s\"", a->file, a->line, a->message);
}

hmq_grpc_t *hmq_grpc_new(hmq_hooks_t *h, hmq_hooks_loop_t *home, const char *node,
                         const char *const *listeners, size_t n_listeners)
{
    hmq_grpc_t *g = calloc(1, sizeof(*g));
    if (!g) return NULL;
    g->h = h;
    g->home = home;
    g->node = strdup(node);
    g->listeners = calloc(n_listeners ? n_listeners : 1, sizeof(char *));
    if (!g->node || !g->listeners || uv_mutex_init(&g->mu) != 0) {
        free(g->node);
        free(g->listeners);
        free(g);
        return NULL;
    }
    for (size_t i = 0; i < n_listeners; i++)
        if ((g->listeners[i] = strdup(listeners[i]))) g->n_listeners++;
    g->kick_item.run = on_kick;
    gpr_set_log_function(gpr_log_to_hmq);
    grpc_init();
    g->grpc_inited = true;
    g->cq = grpc_completion_queue_create_for_next(NULL);
    return g;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char tmp[4096];
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) break;
            buf = nb;
        }
        memcpy(buf + len, tmp, n);
        len += n;
        buf[len] = '\0';
    }
    fclose(f);
    return buf;
}

static grpc_channel_credentials *make_creds(const hmq_hooks_server_config_t *cfg)
{
    if (!cfg->tls_ca_file) return grpc_insecure_credentials_create();
    char *ca = read_file(cfg->tls_ca_file), *cert = NULL, *key = NULL;
    if (!ca) return NULL;
    grpc_ssl_pem_key_cert_pair pair = {0};
    if (cfg->tls_cert_file && cfg->tls_key_file) {
        cert = read_file(cfg->tls_cert_file);
        key = read_file(cfg->tls_key_file);
        pair.cert_chain = cert;
        pair.private_key = key;
    }
    grpc_channel_credentials *cr =
        (cfg->tls_cert_file && (!cert || !key))
            ? NULL
            : grpc_ssl_credentials_create(ca, cert ? &pair : NULL, NULL, NULL);
    free(ca);
    free(cert);
    if (key) {
        memset(key, 0, strlen(key));
        free(key);
    }
    return cr;
}

static void server_free(hmq_grpc_server_t *s)
{
    for (size_t j = 0; j < s->n_eps; j++)
        free(s->eps[j].target);
    free(s->eps);
    hmq_grpc_decl_unref(s->decl);
    uv_rwlock_destroy(&s->decl_lock);
    uv_mutex_destroy(&s->smu);
    uv_mutex_destroy(&s->bmu);
    free(s->name);
    free(s);
}

int hmq_grpc_add_server(hmq_grpc_t *g, const hmq_hooks_server_config_t *cfg)
{
    if (!cfg->name || !*cfg->name || !cfg->n_endpoints || !cfg->endpoints) return HMQ_HOOKS_EINVAL;
    hmq_grpc_server_t *s = calloc(1, sizeof(*s));
    hmq_grpc_server_t **arr = realloc(g->servers, (g->n_servers + 1) * sizeof(*arr));
    if (arr) g->servers = arr;
    if (!s || !arr) {
        free(s);
        return HMQ_HOOKS_ENOMEM;
    }
    s->g = g;
    s->name = strdup(cfg->name);
    s->eps = calloc(cfg->n_endpoints, sizeof(endpoint_t));
    s->max_batch = cfg->max_batch ? cfg->max_batch : 256;
    uv_rwlock_init(&s->decl_lock);
    uv_mutex_init(&s->smu);
    uv_mutex_init(&s->bmu);
    atomic_init(&s->next_id, 1);
    hmq_grpc_breaker_init(s, cfg);
    g->servers[g->n_servers++] = s; /* freed by hmq_grpc_free from now on */
    if (!s->name || !s->eps) return HMQ_HOOKS_ENOMEM;
    if (hmq_grpc_events_init(s, cfg) < 0) return HMQ_HOOKS_ENOMEM;
    if (!(s->cpack = hmq_client_pack_new(4096))) return HMQ_HOOKS_ENOMEM;
    grpc_channel_credentials *cr = make_creds(cfg);
    if (!cr) {
        LOG_ERROR("hook_server_tls", "server=%s error=\"cannot read the TLS files\"", cfg->name);
        return HMQ_HOOKS_EINVAL;
    }
    int initial = cfg->reconnect_initial_ms ? (int)cfg->reconnect_initial_ms : 100;
    int max = cfg->reconnect_max_ms ? (int)cfg->reconnect_max_ms : 2000;
    grpc_arg args[4];
    size_t n_args = 0;
    args[n_args++] = (grpc_arg){.type = GRPC_ARG_INTEGER,
                                .key = GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                                .value.integer = initial};
    args[n_args++] = (grpc_arg){.type = GRPC_ARG_INTEGER,
                                .key = GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
                                .value.integer = initial};
    args[n_args++] = (grpc_arg){
        .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, .value.integer = max};
    if (cfg->tls_server_name)
        args[n_args++] = (grpc_arg){.type = GRPC_ARG_STRING,
                                    .key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG,
                                    .value.string = (char *)cfg->tls_server_name};
    grpc_channel_args cargs = {.num_args = n_args, .args = args};
    for (size_t i = 0; i < cfg->n_endpoints; i++, s->n_eps++) {
        endpoint_t *ep = &s->eps[i];
        ep->s = s;
        ep->index = i;
        ep->watch_tag.cb = watch_cq;
        ep->watch_item.run = on_watch;
        ep->state = GRPC_CHANNEL_IDLE;
        if (!(ep->target = dupstr(cfg->endpoints[i]))) break;
        ep->ch = grpc_channel_create(ep->target, cr, &cargs);
    }
    grpc_channel_credentials_release(cr);
    if (s->n_eps != cfg->n_endpoints) return HMQ_HOOKS_ENOMEM;
    return hmq_hooks_add_provider(g->h, cfg->name, &hmq_grpc_provider_ops, s, &cfg->policy);
}

static void free_timer(uv_handle_t *t)
{
    free(t);
}

int hmq_grpc_start(hmq_grpc_t *g)
{
    if (uv_thread_create(&g->thread, cq_thread, g) != 0) return HMQ_HOOKS_ENOMEM;
    g->thread_started = true;
    if (!(g->tick = malloc(sizeof(*g->tick)))) return HMQ_HOOKS_ENOMEM;
    uv_timer_init(g->h->home_loop, g->tick);
    g->tick->data = g;
    uv_timer_start(g->tick, on_tick, TICK_MS, TICK_MS);
    uv_unref((uv_handle_t *)g->tick); /* never keeps the home loop alive by itself */
    for (size_t i = 0; i < g->n_servers; i++)
        for (size_t j = 0; j < g->servers[i]->n_eps; j++) {
            endpoint_t *ep = &g->servers[i]->eps[j];
            ep->state = grpc_channel_check_connectivity_state(ep->ch, 1);
            if (ep->state == GRPC_CHANNEL_READY) handshake(ep);
            watch(ep);
        }
    return 0;
}

void hmq_grpc_close(hmq_grpc_t *g)
{
    if (g->tick) {
        uv_close((uv_handle_t *)g->tick, free_timer);
        g->tick = NULL;
    }
    uv_mutex_lock(&g->mu);
    g->closing = true;
    for (gcall_t *c = g->live; c; c = c->next)
        grpc_call_cancel(c->call, NULL);
    uv_mutex_unlock(&g->mu);
    for (size_t i = 0; i < g->n_servers; i++) {
        hmq_grpc_stream_close(g->servers[i]);
        hmq_grpc_events_close(g->servers[i]);
    }
    g->closed = true;
    for (size_t i = 0; i < g->n_servers; i++)
        for (size_t j = 0; j < g->servers[i]->n_eps; j++) {
            endpoint_t *ep = &g->servers[i]->eps[j];
            if (ep->ch) grpc_channel_destroy(ep->ch); /* also ends the pending watch */
            ep->ch = NULL;
        }
    grpc_completion_queue_shutdown(g->cq);
    if (g->thread_started) {
        uv_thread_join(&g->thread);
        g->thread_started = false;
    } else { /* never started: drain here */
        for (;;) {
            grpc_event ev =
                grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        }
    }
}

void hmq_grpc_free(hmq_grpc_t *g)
{
    for (size_t i = 0; i < g->n_servers; i++) {
        hmq_grpc_stream_free(g->servers[i]);
        hmq_grpc_events_free(g->servers[i]);
        hmq_client_pack_free(g->servers[i]->cpack);
        server_free(g->servers[i]);
    }
    free(g->servers);
    if (g->cq) grpc_completion_queue_destroy(g->cq);
    for (size_t i = 0; i < g->n_listeners; i++)
        free(g->listeners[i]);
    free(g->listeners);
    free(g->node);
    uv_mutex_destroy(&g->mu);
    if (g->grpc_inited) grpc_shutdown();
    free(g);
}

const hmq_hooks_provider_ops_t hmq_grpc_provider_ops = {
    .route = srv_route,
    .authenticate = hmq_grpc_authenticate,
    .authorize = srv_authorize,
    .on_publish = hmq_grpc_stream_publish,
    .on_subscribe = hmq_grpc_on_subscribe,
    .event = hmq_grpc_event,
    .cancel = srv_cancel,
};
