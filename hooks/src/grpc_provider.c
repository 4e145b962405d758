/* grpc_provider.c - hook servers over gRPC (C core): one channel per endpoint, the Handshake on
 * every (re)connection, Authenticate as a unary call with the hook's deadline.
 *
 * Threads (DEPENDENCY-NOTES §3): one completion-queue thread per engine. Calls are created and
 * started on loop threads; the CQ thread decodes a finished call and hands it to the loop it
 * came from (hmq_hooks_call_done) or, for handshakes and connectivity changes, to the engine's
 * home loop. Channel state (connectivity, handshake) is only written on the home loop; workers
 * read what they need (ready flags, registrations) under the server's mutex or atomically.
 * Shutdown (hmq_grpc_close): cancel calls, destroy channels, shut the CQ down, join, grpc_shutdown.
 */
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookmq/v1/hooks.pb-c.h"
#include "hooks_int.h"
#include "util/log.h"

#define HANDSHAKE_DEADLINE_MS 10000

typedef struct endpoint endpoint_t;

/* What the server declared in its last handshake (immutable, shared by reference). */
typedef struct {
    atomic_int refs;
    Hookmq__V1__HandshakeResponse *resp;
} decl_t;

typedef enum { GC_AUTH, GC_HANDSHAKE } gcall_kind_t;

typedef struct gcall {
    gcall_kind_t kind;
    hmq_hooks_item_t item; /* the CQ tag; GC_HANDSHAKE: also the delivery to the home loop */
    struct gcall *prev, *next;
    endpoint_t *ep;
    grpc_call *call;
    hmq_hooks_call_t *hcall; /* GC_AUTH */
    grpc_metadata_array md_in, trailers;
    grpc_byte_buffer *send, *recv;
    grpc_status_code status;
    grpc_slice details;
    Hookmq__V1__HandshakeResponse *hs; /* GC_HANDSHAKE, decoded on the CQ thread */
} gcall_t;

typedef enum { TAG_WATCH = 1 } tag_kind_t;

struct endpoint {
    hmq_grpc_server_t *s;
    char *target;
    grpc_channel *ch;
    grpc_connectivity_state state; /* home loop */
    atomic_bool ready;             /* READY and handshaken on this connection */
    bool watching;
    hmq_hooks_item_t watch_item; /* the watch tag: CQ thread -> home loop */
};

struct hmq_grpc_server {
    hmq_grpc_t *g;
    char *name;
    endpoint_t *eps;
    size_t n_eps;
    atomic_uint rr;
    atomic_bool handshaken;
    uv_mutex_t mu; /* decl */
    decl_t *decl;
};

struct hmq_grpc {
    hmq_hooks_t *h;
    hmq_hooks_loop_t *home;
    char *node;
    char **listeners;
    size_t n_listeners;
    grpc_completion_queue *cq;
    uv_thread_t thread;
    bool thread_started, grpc_inited, closed;
    hmq_grpc_server_t **servers;
    size_t n_servers;
    uv_mutex_t mu; /* live calls, closing */
    gcall_t *live;
    bool closing;
};

/* ---- helpers ------------------------------------------------------------------------------ */

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void decl_unref(decl_t *d)
{
    if (d && atomic_fetch_sub(&d->refs, 1) == 1) {
        hookmq__v1__handshake_response__free_unpacked(d->resp, NULL);
        free(d);
    }
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

/* Registrations of type t matching the client (topics are not part of authenticate). */
static bool reg_matches(const Hookmq__V1__HookRegistration *r, Hookmq__V1__HookType t,
                        const hmq_hooks_client_t *c)
{
    if (r->type != t) return false;
    const Hookmq__V1__HookFilter *f = r->filter;
    if (!f) return true;
    return any_exact(f->listeners, f->n_listeners, c->listener) &&
           any_glob(f->usernames, f->n_usernames, c->username) &&
           any_glob(f->client_ids, f->n_client_ids, c->client_id);
}

static decl_t *server_decl(hmq_grpc_server_t *s)
{
    uv_mutex_lock(&s->mu);
    decl_t *d = s->decl;
    if (d) atomic_fetch_add(&d->refs, 1);
    uv_mutex_unlock(&s->mu);
    return d;
}

static void live_add(hmq_grpc_t *g, gcall_t *c)
{
    c->prev = NULL;
    c->next = g->live;
    if (g->live) g->live->prev = c;
    g->live = c;
}

static void live_del(hmq_grpc_t *g, gcall_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        g->live = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void gcall_free(gcall_t *c)
{
    if (c->call) grpc_call_unref(c->call);
    grpc_metadata_array_destroy(&c->md_in);
    grpc_metadata_array_destroy(&c->trailers);
    if (c->send) grpc_byte_buffer_destroy(c->send);
    if (c->recv) grpc_byte_buffer_destroy(c->recv);
    grpc_slice_unref(c->details);
    if (c->hs) hookmq__v1__handshake_response__free_unpacked(c->hs, NULL);
    free(c);
}

/* Packs msg and starts the unary call (any thread). 0, or -1 (nothing started, c not freed). */
static int gcall_start(hmq_grpc_t *g, gcall_t *c, const char *method, const ProtobufCMessage *msg,
                       uint32_t deadline_ms, bool wait_for_ready)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(len);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    c->send = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    grpc_metadata_array_init(&c->md_in);
    grpc_metadata_array_init(&c->trailers);
    c->details = grpc_empty_slice();
    gpr_timespec dl =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(deadline_ms, GPR_TIMESPAN));
    grpc_metadata md = {.key = grpc_slice_from_static_string("hookmq-node"),
                        .value = grpc_slice_from_static_string(g->node)};
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = 1;
    ops[0].data.send_initial_metadata.metadata = &md;
    ops[0].flags = GRPC_INITIAL_METADATA_WAIT_FOR_READY_EXPLICITLY_SET |
                   (wait_for_ready ? GRPC_INITIAL_METADATA_WAIT_FOR_READY : 0);
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = c->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->md_in;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &c->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &c->status;
    ops[5].data.recv_status_on_client.status_details = &c->details;
    ops[5].data.recv_status_on_client.trailing_metadata = &c->trailers;

    uv_mutex_lock(&g->mu);
    if (g->closing) {
        uv_mutex_unlock(&g->mu);
        return -1;
    }
    c->call = grpc_channel_create_call(c->ep->ch, NULL, GRPC_PROPAGATE_DEFAULTS, g->cq,
                                       grpc_slice_from_static_string(method), NULL, dl, NULL);
    if (!c->call || grpc_call_start_batch(c->call, ops, 6, &c->item, NULL) != GRPC_CALL_OK) {
        uv_mutex_unlock(&g->mu);
        return -1;
    }
    live_add(g, c);
    uv_mutex_unlock(&g->mu);
    return 0;
}

/* The received message as one contiguous buffer (NULL if none). Caller frees with gpr_free. */
static uint8_t *recv_bytes(grpc_byte_buffer *bb, size_t *len)
{
    if (!bb) return NULL;
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb)) return NULL;
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    *len = GRPC_SLICE_LENGTH(s);
    uint8_t *out = gpr_malloc(*len ? *len : 1);
    memcpy(out, GRPC_SLICE_START_PTR(s), *len);
    grpc_slice_unref(s);
    return out;
}

/* ---- Authenticate ------------------------------------------------------------------------- */

static hmq_hooks_route_t srv_route(void *self, hmq_hook_t hook, const hmq_hooks_client_t *c)
{
    hmq_grpc_server_t *s = self;
    if (!atomic_load(&s->handshaken)) return HMQ_ROUTE_NOT_READY;
    if (hook != HMQ_HOOK_AUTHENTICATE) return HMQ_ROUTE_SKIP; /* others: not wired yet */
    decl_t *d = server_decl(s);
    bool any = false;
    for (size_t i = 0; d && i < d->resp->n_hooks && !any; i++)
        any = reg_matches(d->resp->hooks[i], HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_AUTHENTICATE, c);
    decl_unref(d);
    return any ? HMQ_ROUTE_CALL : HMQ_ROUTE_SKIP;
}

static endpoint_t *pick_endpoint(hmq_grpc_server_t *s)
{
    unsigned start = atomic_fetch_add(&s->rr, 1);
    for (size_t i = 0; i < s->n_eps; i++) {
        endpoint_t *ep = &s->eps[(start + i) % s->n_eps];
        if (atomic_load(&ep->ready)) return ep;
    }
    return &s->eps[start % s->n_eps]; /* none ready: the call fails fast (UNAVAILABLE) */
}

static void auth_tag(hmq_hooks_item_t *it)
{
    (void)it;
}

static int srv_authenticate(void *self, hmq_hooks_call_t *hcall, const hmq_hooks_auth_req_t *req,
                            uint32_t deadline_ms)
{
    hmq_grpc_server_t *s = self;
    const hmq_hooks_client_t *c = req->client;
    decl_t *d = server_decl(s);
    uint32_t ids[64];
    size_t n_ids = 0;
    bool want_chain = false;
    for (size_t i = 0; d && i < d->resp->n_hooks; i++) {
        const Hookmq__V1__HookRegistration *r = d->resp->hooks[i];
        if (!reg_matches(r, HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_AUTHENTICATE, c)) continue;
        if (n_ids < 64) ids[n_ids++] = r->id;
        if (r->identity && r->identity->tls_chain) want_chain = true;
    }
    decl_unref(d);

    Hookmq__V1__ClientInfo ci = HOOKMQ__V1__CLIENT_INFO__INIT;
    ci.client_id = (char *)c->client_id;
    if (c->username) {
        ci.username = (char *)c->username;
        ci.has_username = 1;
    }
    ci.protocol_version = c->protocol_version;
    ci.listener = (char *)(c->listener ? c->listener : "");
    ci.peer_address = (char *)(c->peer_address ? c->peer_address : "");
    ci.peer_port = c->peer_port;
    ci.keepalive = c->keepalive;
    ci.clean_start = c->clean_start;
    ci.node = s->g->node;
    Hookmq__V1__ConnectProperties cp = HOOKMQ__V1__CONNECT_PROPERTIES__INIT;
    if (c->has_properties) {
        cp.session_expiry_interval = c->session_expiry_interval;
        cp.receive_maximum = c->receive_maximum;
        cp.maximum_packet_size = c->maximum_packet_size;
        cp.topic_alias_maximum = c->topic_alias_maximum;
        cp.request_response_information = c->request_response_information;
        cp.request_problem_information = c->request_problem_information;
        cp.authentication_method =
            (char *)(c->authentication_method ? c->authentication_method : "");
        ci.properties = &cp;
    }
    Hookmq__V1__UserProperty *ups = NULL, **upp = NULL;
    if (c->n_user_properties) {
        ups = calloc(c->n_user_properties, sizeof(*ups));
        upp = calloc(c->n_user_properties, sizeof(*upp));
        if (!ups || !upp) {
            free(ups);
            free(upp);
            return -1;
        }
        for (size_t i = 0; i < c->n_user_properties; i++) {
            hookmq__v1__user_property__init(&ups[i]);
            ups[i].key = (char *)c->user_properties[i].key;
            ups[i].value = (char *)c->user_properties[i].value;
            upp[i] = &ups[i];
        }
        ci.n_user_properties = c->n_user_properties;
        ci.user_properties = upp;
    }
    Hookmq__V1__TlsInfo ti = HOOKMQ__V1__TLS_INFO__INIT;
    Hookmq__V1__Certificate cert = HOOKMQ__V1__CERTIFICATE__INIT;
    if (c->tls) {
        const hmq_hooks_tls_t *t = c->tls;
#define S(x) ((char *)((x) ? (x) : ""))
        ti.version = S(t->version);
        ti.cipher = S(t->cipher);
        ti.sni = S(t->sni);
        ti.alpn = S(t->alpn);
        ti.via_proxy = t->via_proxy;
        if (want_chain) ti.chain_pem = S(t->chain_pem);
        if (t->has_peer_certificate) {
            cert.subject = S(t->subject);
            cert.issuer = S(t->issuer);
            cert.common_name = S(t->common_name);
            cert.serial = S(t->serial);
            cert.fingerprint_sha256 = S(t->fingerprint_sha256);
            cert.n_san_dns = t->n_san_dns;
            cert.san_dns = (char **)t->san_dns;
            cert.n_san_ip = t->n_san_ip;
            cert.san_ip = (char **)t->san_ip;
            cert.not_before_unix_ms = t->not_before_unix_ms;
            cert.not_after_unix_ms = t->not_after_unix_ms;
            ti.peer_certificate = &cert;
        }
#undef S
        ci.tls = &ti;
    }
    Hookmq__V1__AuthenticateRequest ar = HOOKMQ__V1__AUTHENTICATE_REQUEST__INIT;
    ar.client = &ci;
    if (req->has_password) {
        ar.has_password = 1;
        ar.password.data = (uint8_t *)req->password;
        ar.password.len = req->password_len;
    }
    ar.phase = HOOKMQ__V1__AUTH_PHASE__AUTH_PHASE_CONNECT;
    ar.step = 1;
    ar.n_hook_ids = n_ids;
    ar.hook_ids = ids;

    gcall_t *gc = calloc(1, sizeof(*gc));
    int rc = -1;
    if (gc) {
        gc->kind = GC_AUTH;
        gc->item.run = auth_tag; /* the tag only: auth completions go to the worker */
        gc->ep = pick_endpoint(s);
        gc->hcall = hcall;
        hmq_hooks_call_set_provider_data(hcall, gc);
        rc = gcall_start(s->g, gc, "/hookmq.v1.HookProvider/Authenticate", &ar.base, deadline_ms,
                         false);
        if (rc < 0) {
            hmq_hooks_call_set_provider_data(hcall, NULL);
            gcall_free(gc);
        }
    }
    free(ups);
    free(upp);
    return rc;
}

static void srv_cancel(void *self, hmq_hooks_call_t *hcall)
{
    hmq_grpc_server_t *s = self;
    uv_mutex_lock(&s->g->mu);
    gcall_t *gc = hmq_hooks_call_provider_data(hcall); /* cleared by the CQ thread under mu */
    if (gc) grpc_call_cancel(gc->call, NULL);
    uv_mutex_unlock(&s->g->mu);
}

static char *strdup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* CQ thread: decode an AuthenticateResponse into the engine's answer. */
static hmq_hooks_call_status_t decode_auth(gcall_t *gc, hmq_hooks_answer_t *a)
{
    size_t len = 0;
    uint8_t *buf = recv_bytes(gc->recv, &len);
    if (!buf) return HMQ_CALL_ERROR;
    Hookmq__V1__AuthenticateResponse *r = hookmq__v1__authenticate_response__unpack(NULL, len, buf);
    gpr_free(buf);
    if (!r) return HMQ_CALL_ERROR;
    hmq_hooks_call_status_t st = HMQ_CALL_OK;
    const Hookmq__V1__Result *res = r->result;
    a->decision = res ? (int)res->decision : 0;
    if (a->decision < HMQ_DECISION_CONTINUE || a->decision > HMQ_DECISION_FAILURE)
        a->decision = HMQ_DECISION_FAILURE;
    if (r->challenge) a->decision = HMQ_DECISION_FAILURE; /* enhanced auth: not supported yet */
    a->reason_code = res && res->reason_code <= 0xff ? (uint8_t)res->reason_code : 0;
    a->reason = strdup_or_empty(res ? res->reason : "");
    a->cache_ttl_ms = res && res->cache ? res->cache->ttl_ms : 0;
    a->superuser = r->superuser;
    a->expires_unix_ms = r->expires_unix_ms;
    if (r->n_attributes) {
        a->attributes = calloc(r->n_attributes, sizeof(hmq_hooks_pair_t));
        if (a->attributes)
            for (size_t i = 0; i < r->n_attributes; i++, a->n_attributes++) {
                a->attributes[i].key = strdup_or_empty(r->attributes[i]->key);
                a->attributes[i].value = strdup_or_empty(r->attributes[i]->value);
            }
    }
    if (a->decision == HMQ_DECISION_ALLOW && r->grants) {
        size_t n = r->grants->n_rules;
        hmq_grant_rule_t *rules = calloc(n ? n : 1, sizeof(*rules));
        if (rules) {
            for (size_t i = 0; i < n; i++) {
                const Hookmq__V1__Grant *g = r->grants->rules[i];
                rules[i].pattern = g->pattern;
                rules[i].action = (hmq_action_t)(g->action <= 2 ? g->action : 0);
                rules[i].max_qos =
                    g->max_qos >= 1 && g->max_qos <= 3 ? (uint8_t)(g->max_qos - 1) : 2;
                rules[i].no_retain = g->no_retain;
                rules[i].deny = g->deny;
            }
            a->grants =
                hmq_grants_new(rules, n, r->grants->fallthrough, a->attributes, a->n_attributes);
            free(rules);
        }
        if (!a->grants) st = HMQ_CALL_ERROR; /* an invalid grant pattern: a malformed answer */
    }
    hookmq__v1__authenticate_response__free_unpacked(r, NULL);
    return st;
}

static hmq_hooks_call_status_t map_status(grpc_status_code st)
{
    switch (st) {
    case GRPC_STATUS_OK:
        return HMQ_CALL_OK;
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        return HMQ_CALL_TIMEOUT;
    case GRPC_STATUS_UNAVAILABLE:
        return HMQ_CALL_UNAVAILABLE;
    case GRPC_STATUS_CANCELLED:
        return HMQ_CALL_CANCELLED;
    default:
        return HMQ_CALL_ERROR;
    }
}

/* ---- Handshake and connectivity (home loop) ---------------------------------------------- */

static void watch(endpoint_t *ep);

static void on_handshake_done(hmq_hooks_item_t *it)
{
    gcall_t *gc = (gcall_t *)((char *)it - offsetof(gcall_t, item));
    endpoint_t *ep = gc->ep;
    hmq_grpc_server_t *s = ep->s;
    if (s->g->closed) {
        gcall_free(gc);
        return;
    }
    if (gc->status != GRPC_STATUS_OK || !gc->hs) {
        char *details = grpc_slice_to_c_string(gc->details);
        LOG_WARN("hook_handshake_failed", "server=%s endpoint=%s status=%d details=\"%s\"", s->name,
                 ep->target, (int)gc->status, details);
        gpr_free(details);
        gcall_free(gc);
        return; /* retried on the next connectivity change */
    }
    decl_t *d = calloc(1, sizeof(*d));
    if (!d) {
        gcall_free(gc);
        return;
    }
    atomic_init(&d->refs, 1);
    d->resp = gc->hs;
    gc->hs = NULL;
    LOG_INFO("hook_handshake", "server=%s endpoint=%s version=\"%s\" hooks=%zu", s->name,
             ep->target, d->resp->server_version, d->resp->n_hooks);
    uv_mutex_lock(&s->mu);
    decl_t *old = s->decl;
    s->decl = d;
    uv_mutex_unlock(&s->mu);
    decl_unref(old);
    atomic_store(&ep->ready, ep->state == GRPC_CHANNEL_READY);
    atomic_store(&s->handshaken, true);
    hmq_hooks_provider_set_handshaken(s->g->h, s->name);
    gcall_free(gc);
}

static void handshake(endpoint_t *ep)
{
    hmq_grpc_t *g = ep->s->g;
    Hookmq__V1__HandshakeRequest hr = HOOKMQ__V1__HANDSHAKE_REQUEST__INIT;
    uint32_t versions[] = {1};
    char *caps[] = {"grants", "cache"};
    hr.n_protocol_versions = 1;
    hr.protocol_versions = versions;
    hr.broker_version = "hookmq/" HOOKMQ_VERSION;
    hr.node = g->node;
    hr.server_name = ep->s->name;
    hr.n_capabilities = 2;
    hr.capabilities = caps;
    hr.n_listeners = g->n_listeners;
    hr.listeners = g->listeners;
    gcall_t *gc = calloc(1, sizeof(*gc));
    if (!gc) return;
    gc->kind = GC_HANDSHAKE;
    gc->ep = ep;
    gc->item.run = on_handshake_done;
    if (gcall_start(g, gc, "/hookmq.v1.HookProvider/Handshake", &hr.base, HANDSHAKE_DEADLINE_MS,
                    true) < 0)
        gcall_free(gc);
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

static void watch(endpoint_t *ep)
{
    if (ep->watching) return;
    ep->watching = true;
    grpc_channel_watch_connectivity_state(ep->ch, ep->state, gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                          ep->s->g->cq, &ep->watch_item);
}

/* ---- CQ thread ---------------------------------------------------------------------------- */

static void cq_thread(void *arg)
{
    hmq_grpc_t *g = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type != GRPC_OP_COMPLETE) continue;
        hmq_hooks_item_t *it = ev.tag;
        if (it->run == on_watch) { /* connectivity change (or channel destroyed) */
            hmq_hooks_loop_push(g->home, it);
            continue;
        }
        gcall_t *gc = (gcall_t *)((char *)it - offsetof(gcall_t, item));
        uv_mutex_lock(&g->mu);
        live_del(g, gc);
        if (gc->kind == GC_AUTH) hmq_hooks_call_set_provider_data(gc->hcall, NULL);
        uv_mutex_unlock(&g->mu);
        if (gc->kind == GC_HANDSHAKE) {
            size_t len = 0;
            uint8_t *buf = gc->status == GRPC_STATUS_OK ? recv_bytes(gc->recv, &len) : NULL;
            if (buf) gc->hs = hookmq__v1__handshake_response__unpack(NULL, len, buf);
            gpr_free(buf);
            hmq_hooks_loop_push(g->home, &gc->item);
            continue;
        }
        hmq_hooks_call_t *hcall = gc->hcall;
        hmq_hooks_call_status_t st = ev.success ? map_status(gc->status) : HMQ_CALL_ERROR;
        if (st == HMQ_CALL_OK) st = decode_auth(gc, hmq_hooks_call_answer(hcall));
        gcall_free(gc);
        hmq_hooks_call_done(hcall, st);
    }
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

int hmq_grpc_add_server(hmq_grpc_t *g, const hmq_hooks_server_config_t *cfg)
{
    if (!cfg->name || !*cfg->name || !cfg->n_endpoints || !cfg->endpoints) return HMQ_HOOKS_EINVAL;
    hmq_grpc_server_t *s = calloc(1, sizeof(*s));
    hmq_grpc_server_t **arr = realloc(g->servers, (g->n_servers + 1) * sizeof(*arr));
    if (!s || !arr) {
        free(s);
        return HMQ_HOOKS_ENOMEM;
    }
    g->servers = arr;
    s->g = g;
    s->name = strdup(cfg->name);
    s->eps = calloc(cfg->n_endpoints, sizeof(endpoint_t));
    uv_mutex_init(&s->mu);
    g->servers[g->n_servers++] = s; /* freed by hmq_grpc_free from now on */
    if (!s->name || !s->eps) return HMQ_HOOKS_ENOMEM;
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
        ep->watch_item.run = on_watch;
        ep->state = GRPC_CHANNEL_IDLE;
        if (!(ep->target = dupstr(cfg->endpoints[i]))) break;
        ep->ch = grpc_channel_create(ep->target, cr, &cargs);
    }
    grpc_channel_credentials_release(cr);
    if (s->n_eps != cfg->n_endpoints) return HMQ_HOOKS_ENOMEM;
    return hmq_hooks_add_provider(g->h, cfg->name, &hmq_grpc_provider_ops, s, &cfg->policy);
}

int hmq_grpc_start(hmq_grpc_t *g)
{
    if (uv_thread_create(&g->thread, cq_thread, g) != 0) return HMQ_HOOKS_ENOMEM;
    g->thread_started = true;
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
    uv_mutex_lock(&g->mu);
    g->closing = true;
    for (gcall_t *c = g->live; c; c = c->next)
        grpc_call_cancel(c->call, NULL);
    uv_mutex_unlock(&g->mu);
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
        while (grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
               GRPC_QUEUE_SHUTDOWN) {
        }
    }
}

void hmq_grpc_free(hmq_grpc_t *g)
{
    for (size_t i = 0; i < g->n_servers; i++) {
        hmq_grpc_server_t *s = g->servers[i];
        for (size_t j = 0; j < s->n_eps; j++)
            free(s->eps[j].target);
        free(s->eps);
        decl_unref(s->decl);
        uv_mutex_destroy(&s->mu);
        free(s->name);
        free(s);
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
    .authenticate = srv_authenticate,
    .cancel = srv_cancel,
};
