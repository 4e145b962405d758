/* grpc_unary.c - the unary calls of the gRPC provider: Authenticate, Authorize (subscribe),
 * OnSubscribe (hook calls, with the hook's deadline), Handshake and grpc.health.v1 Check.
 *
 * A call is started on the calling loop thread with all six ops in one batch; the CQ thread
 * decodes the answer into the engine's hmq_hooks_answer_t and completes the call
 * (hmq_hooks_call_done), or hands handshakes and health checks to the home loop.
 */
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_int.h"
#include "proto_convert.h"
#include "util/log.h"

#define HEALTH_DEADLINE_MS 500

static void gcall_cq(gtag_t *t, bool ok);

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
    else if (g->live == c)
        g->live = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

gcall_t *hmq_gcall_new(gcall_kind_t kind, endpoint_t *ep)
{
    gcall_t *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->pk = PK_UNARY;
    c->tag.cb = gcall_cq;
    c->kind = kind;
    c->ep = ep;
    c->health = -1;
    grpc_metadata_array_init(&c->md_in);
    grpc_metadata_array_init(&c->trailers);
    c->details = grpc_empty_slice();
    return c;
}

void hmq_gcall_free(gcall_t *c)
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

int hmq_gcall_start(hmq_grpc_t *g, gcall_t *c, const char *method, const ProtobufCMessage *msg,
                    const uint8_t *raw, size_t raw_len, uint32_t deadline_ms, bool wait_for_ready)
{
    grpc_slice s;
    if (msg) {
        s = grpc_slice_malloc(protobuf_c_message_get_packed_size(msg));
        protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    } else {
        s = grpc_slice_from_copied_buffer((const char *)raw, raw_len);
    }
    c->send = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
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
    if (g->closing || !c->ep->ch) {
        uv_mutex_unlock(&g->mu);
        return -1;
    }
    c->call = grpc_channel_create_call(c->ep->ch, NULL, GRPC_PROPAGATE_DEFAULTS, g->cq,
                                       grpc_slice_from_static_string(method), NULL, dl, NULL);
    if (!c->call || grpc_call_start_batch(c->call, ops, 6, &c->tag, NULL) != GRPC_CALL_OK) {
        uv_mutex_unlock(&g->mu);
        return -1;
    }
    if (c->hcall) hmq_hooks_call_set_provider_data(c->hcall, c);
    live_add(g, c);
    uv_mutex_unlock(&g->mu);
    return 0;
}

uint8_t *hmq_grpc_recv_bytes(grpc_byte_buffer *bb, size_t *len)
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

hmq_hooks_call_status_t hmq_grpc_map_status(grpc_status_code st)
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

/* Starts a hook call; on failure the provider data is cleared and gc freed. */
static int start_hook_call(hmq_grpc_server_t *s, gcall_t *gc, hmq_hooks_call_t *hcall,
                           const char *method, const ProtobufCMessage *msg, uint32_t deadline_ms)
{
    gc->hcall = hcall;
    if (hmq_gcall_start(s->g, gc, method, msg, NULL, 0, deadline_ms, false) < 0) {
        hmq_gcall_free(gc);
        return -1;
    }
    return 0;
}

/* ---- Authenticate ------------------------------------------------------------------------- */

int hmq_grpc_authenticate(void *self, hmq_hooks_call_t *hcall, const hmq_hooks_auth_req_t *req,
                          uint32_t deadline_ms)
{
    hmq_grpc_server_t *s = self;
    const hmq_hooks_client_t *c = req->client;
    uint32_t ids[64];
    bool want_chain = false;
    decl_t *d = hmq_grpc_decl(s);
    size_t n_ids = hmq_grpc_match(d, HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_AUTHENTICATE, c, NULL,
                                  TOPIC_NAME, 0, 0, ids, 64, NULL, &want_chain);
    hmq_grpc_decl_unref(d);
    if (n_ids > 64) n_ids = 64;

    hmq_pb_client_t pc;
    hmq_pb_identity_opts_t io = {.tls_chain = want_chain};
    if (hmq_pb_client_init(&pc, c, s->g->node, &io) < 0) return -1;
    Hookmq__V1__AuthenticateRequest ar = HOOKMQ__V1__AUTHENTICATE_REQUEST__INIT;
    ar.client = &pc.ci;
    if (req->has_password) {
        ar.has_password = 1;
        ar.password.data = (uint8_t *)req->password;
        ar.password.len = req->password_len;
    }
    ar.phase =
        req->phase ? (Hookmq__V1__AuthPhase)req->phase : HOOKMQ__V1__AUTH_PHASE__AUTH_PHASE_CONNECT;
    ar.step = req->step ? req->step : 1;
    ar.auth_method = (char *)(c->authentication_method ? c->authentication_method : "");
    ar.auth_data.data = (uint8_t *)req->auth_data;
    ar.auth_data.len = req->auth_data ? req->auth_data_len : 0;
    ar.auth_state.data = (uint8_t *)req->auth_state;
    ar.auth_state.len = req->auth_state ? req->auth_state_len : 0;
    ar.n_hook_ids = n_ids;
    ar.hook_ids = ids;
    gcall_t *gc = hmq_gcall_new(GC_AUTH, hmq_grpc_pick_endpoint(s));
    int rc =
        gc ? start_hook_call(s, gc, hcall, HMQ_GRPC_METHOD("Authenticate"), &ar.base, deadline_ms)
           : -1;
    hmq_pb_client_clear(&pc);
    return rc;
}

static char *strdup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static uint8_t *dup_bytes_or_null(const uint8_t *p, size_t n)
{
    if (!n) return NULL;
    uint8_t *d = malloc(n);
    if (d) memcpy(d, p, n);
    return d;
}

static hmq_hooks_call_status_t decode_auth(const uint8_t *buf, size_t len, hmq_hooks_answer_t *a)
{
    Hookmq__V1__AuthenticateResponse *r = hookmq__v1__authenticate_response__unpack(NULL, len, buf);
    if (!r) return HMQ_CALL_ERROR;
    hmq_hooks_call_status_t st = HMQ_CALL_OK;
    hmq_pb_result_decode(r->result, a);
    if (r->challenge) { /* enhanced authentication: another round */
        a->challenge = true;
        a->decision = HMQ_DECISION_CONTINUE;
        a->auth_data = dup_bytes_or_null(r->challenge->auth_data.data, r->challenge->auth_data.len);
        a->auth_data_len = r->challenge->auth_data.len;
        a->auth_state = dup_bytes_or_null(r->challenge->state.data, r->challenge->state.len);
        a->auth_state_len = r->challenge->state.len;
    } else if (r->auth_data.len) { /* final data of an ALLOW (CONNACK / AUTH 0x00) */
        a->auth_data = dup_bytes_or_null(r->auth_data.data, r->auth_data.len);
        a->auth_data_len = r->auth_data.len;
    }
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

/* ---- Authorize (subscribe) ------------------------------------------------------------------ */

int hmq_grpc_authorize_subscribe(hmq_grpc_server_t *s, hmq_hooks_call_t *call,
                                 const hmq_hooks_authz_req_t *req, const uint32_t *ids,
                                 size_t n_ids, bool want_chain, uint32_t deadline_ms)
{
    hmq_pb_client_t pc;
    hmq_pb_identity_opts_t io = {.tls_chain = want_chain};
    if (hmq_pb_client_init(&pc, req->client, s->g->node, &io) < 0) return -1;
    Hookmq__V1__AuthorizeRequest ar = HOOKMQ__V1__AUTHORIZE_REQUEST__INIT;
    ar.client = &pc.ci;
    ar.action = HOOKMQ__V1__ACTION__ACTION_SUBSCRIBE;
    ar.topic = (char *)(req->topic ? req->topic : "");
    ar.qos = req->qos;
    ar.share_group = (char *)(req->share_group ? req->share_group : "");
    ar.n_hook_ids = n_ids;
    ar.hook_ids = (uint32_t *)ids;
    gcall_t *gc = hmq_gcall_new(GC_AUTHZ, hmq_grpc_pick_endpoint(s));
    int rc =
        gc ? start_hook_call(s, gc, call, HMQ_GRPC_METHOD("Authorize"), &ar.base, deadline_ms) : -1;
    hmq_pb_client_clear(&pc);
    return rc;
}

static hmq_hooks_call_status_t decode_authz(const uint8_t *buf, size_t len, hmq_hooks_answer_t *a)
{
    Hookmq__V1__AuthorizeResponse *r = hookmq__v1__authorize_response__unpack(NULL, len, buf);
    if (!r) return HMQ_CALL_ERROR;
    hmq_pb_result_decode(r->result, a);
    hookmq__v1__authorize_response__free_unpacked(r, NULL);
    return HMQ_CALL_OK;
}

/* ---- OnSubscribe -------------------------------------------------------------------------- */

int hmq_grpc_on_subscribe(void *self, hmq_hooks_call_t *call, const hmq_hooks_subscribe_req_t *req,
                          const hmq_hooks_subscription_t *subs, size_t n_subs, uint32_t deadline_ms)
{
    hmq_grpc_server_t *s = self;
    uint32_t ids[64];
    size_t n_ids = 0;
    bool want_chain = false;
    decl_t *d = hmq_grpc_decl(s);
    for (size_t i = 0; i < n_subs; i++) { /* the union of the registrations matching any */
        uint32_t one[64];
        size_t n = hmq_grpc_match(d, HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_ON_SUBSCRIBE, req->client,
                                  subs[i].filter, TOPIC_FILTER, 0, 0, one, 64, NULL, &want_chain);
        for (size_t k = 0; k < n && k < 64; k++) {
            size_t j = 0;
            while (j < n_ids && ids[j] != one[k])
                j++;
            if (j == n_ids && n_ids < 64) ids[n_ids++] = one[k];
        }
    }
    hmq_grpc_decl_unref(d);

    Hookmq__V1__Subscription *sv = calloc(n_subs ? n_subs : 1, sizeof(*sv));
    Hookmq__V1__Subscription **sp = calloc(n_subs ? n_subs : 1, sizeof(*sp));
    Hookmq__V1__UserProperty *up = calloc(req->n_user_properties + 1, sizeof(*up));
    Hookmq__V1__UserProperty **upp = calloc(req->n_user_properties + 1, sizeof(*upp));
    hmq_pb_client_t pc;
    hmq_pb_identity_opts_t io = {.tls_chain = want_chain};
    int rc = -1;
    if (!sv || !sp || !up || !upp || hmq_pb_client_init(&pc, req->client, s->g->node, &io) < 0)
        goto out;
    for (size_t i = 0; i < n_subs; i++) {
        hookmq__v1__subscription__init(&sv[i]);
        sv[i].filter = (char *)(subs[i].filter ? subs[i].filter : "");
        sv[i].qos = subs[i].qos;
        sv[i].share_group = (char *)(subs[i].share_group ? subs[i].share_group : "");
        sv[i].no_local = subs[i].no_local;
        sv[i].retain_as_published = subs[i].retain_as_published;
        sv[i].retain_handling = subs[i].retain_handling;
        sp[i] = &sv[i];
    }
    for (size_t i = 0; i < req->n_user_properties; i++) {
        hookmq__v1__user_property__init(&up[i]);
        up[i].key = (char *)(req->user_properties[i].key ? req->user_properties[i].key : "");
        up[i].value = (char *)(req->user_properties[i].value ? req->user_properties[i].value : "");
        upp[i] = &up[i];
    }
    Hookmq__V1__SubscribeRequest sr = HOOKMQ__V1__SUBSCRIBE_REQUEST__INIT;
    sr.client = &pc.ci;
    sr.n_subscriptions = n_subs;
    sr.subscriptions = sp;
    sr.subscription_identifier = req->subscription_id;
    sr.n_user_properties = req->n_user_properties;
    sr.user_properties = upp;
    sr.n_hook_ids = n_ids;
    sr.hook_ids = ids;
    gcall_t *gc = hmq_gcall_new(GC_SUB, hmq_grpc_pick_endpoint(s));
    if (gc) {
        gc->n_subs = n_subs;
        rc = start_hook_call(s, gc, call, HMQ_GRPC_METHOD("OnSubscribe"), &sr.base, deadline_ms);
    }
    hmq_pb_client_clear(&pc);
out:
    free(sv);
    free(sp);
    free(up);
    free(upp);
    return rc;
}

/* A valid MQTT topic filter, optionally "$share/<group>/<filter>". */
bool hmq_grpc_filter_valid(const char *f)
{
    if (!f || !*f) return false;
    if (strncmp(f, "$share/", 7) == 0) {
        const char *g = f + 7, *slash = strchr(g, '/');
        if (!slash || slash == g) return false;
        for (const char *p = g; p < slash; p++)
            if (*p == '+' || *p == '#') return false;
        f = slash + 1;
        if (!*f) return false;
    }
    for (const char *p = f; *p; p++) {
        if (*p == '+' && ((p != f && p[-1] != '/') || (p[1] && p[1] != '/'))) return false;
        if (*p == '#' && ((p != f && p[-1] != '/') || p[1])) return false;
    }
    return true;
}

void hmq_grpc_sub_results(hmq_grpc_server_t *s, const Hookmq__V1__SubscribeResponse *r,
                          hmq_hooks_answer_t *a)
{
    a->decision = HMQ_DECISION_CONTINUE; /* the answers are per subscription */
    a->reason = strdup("");
    a->n_subs = 0;
    a->subs = calloc(r->n_results ? r->n_results : 1, sizeof(*a->subs));
    if (!a->subs) return;
    for (size_t i = 0; i < r->n_results; i++, a->n_subs++) {
        const Hookmq__V1__SubscriptionResult *sr = r->results[i];
        hmq_hooks_sub_answer_t *o = &a->subs[i];
        hmq_hooks_answer_t tmp = {0};
        hmq_pb_result_decode(sr->result, &tmp);
        o->decision = tmp.decision;
        o->reason_code = tmp.reason_code;
        o->reason = tmp.reason;
        o->max_qos = sr->max_qos >= 1 && sr->max_qos <= 3 ? (uint8_t)(sr->max_qos - 1) : 3;
        if (sr->filter && *sr->filter && o->decision != HMQ_DECISION_DENY &&
            o->decision != HMQ_DECISION_FAILURE) {
            if (!hmq_grpc_filter_valid(sr->filter)) {
                LOG_WARN("hook_bad_answer", "server=%s hook=on_subscribe filter=\"%s\"", s->name,
                         sr->filter);
                o->decision = HMQ_DECISION_FAILURE;
            } else {
                o->filter = strdup(sr->filter);
            }
        }
    }
}

static hmq_hooks_call_status_t decode_sub(hmq_grpc_server_t *s, const uint8_t *buf, size_t len,
                                          size_t n_sent, hmq_hooks_answer_t *a)
{
    Hookmq__V1__SubscribeResponse *r = hookmq__v1__subscribe_response__unpack(NULL, len, buf);
    if (!r) return HMQ_CALL_ERROR;
    hmq_hooks_call_status_t st = HMQ_CALL_ERROR;
    if (r->n_results == n_sent) {
        hmq_grpc_sub_results(s, r, a);
        st = a->subs ? HMQ_CALL_OK : HMQ_CALL_ERROR;
    } else {
        LOG_WARN("hook_bad_answer", "hook=on_subscribe sent=%zu results=%zu", n_sent, r->n_results);
    }
    hookmq__v1__subscribe_response__free_unpacked(r, NULL);
    return st;
}

/* ---- grpc.health.v1 ------------------------------------------------------------------------ */

static void health_home(hmq_hooks_item_t *it)
{
    gcall_t *gc = (gcall_t *)((char *)it - offsetof(gcall_t, item));
    if (!gc->ep->s->g->closed) hmq_grpc_breaker_health_done(gc->ep->s, gc);
    hmq_gcall_free(gc);
}

int hmq_grpc_health_check(hmq_grpc_server_t *s, endpoint_t *ep, bool probe)
{
    /* HealthCheckRequest { string service = 1; } */
    static const char svc[] = HMQ_GRPC_SERVICE;
    uint8_t req[2 + sizeof(svc)];
    req[0] = 0x0a;
    req[1] = (uint8_t)(sizeof(svc) - 1);
    memcpy(req + 2, svc, sizeof(svc) - 1);
    gcall_t *gc = hmq_gcall_new(GC_HEALTH, ep);
    if (!gc) return -1;
    gc->probe = probe;
    gc->item.run = health_home;
    if (hmq_gcall_start(s->g, gc, "/grpc.health.v1.Health/Check", NULL, req, sizeof(svc) + 1,
                        HEALTH_DEADLINE_MS, false) < 0) {
        hmq_gcall_free(gc);
        return -1;
    }
    return 0;
}

/* HealthCheckResponse { ServingStatus status = 1; }: the status, or -1. */
static int decode_health(const uint8_t *p, size_t len)
{
    int status = 0;
    size_t i = 0;
    while (i < len) {
        uint64_t key = 0, v = 0;
        for (int sh = 0; i < len && sh < 64; sh += 7) {
            key |= (uint64_t)(p[i] & 0x7f) << sh;
            if (!(p[i++] & 0x80)) break;
        }
        unsigned wt = key & 7;
        if (wt == 0) {
            for (int sh = 0; i < len && sh < 64; sh += 7) {
                v |= (uint64_t)(p[i] & 0x7f) << sh;
                if (!(p[i++] & 0x80)) break;
            }
            if ((key >> 3) == 1) status = (int)v;
        } else if (wt == 2) {
            for (int sh = 0; i < len && sh < 64; sh += 7) {
                v |= (uint64_t)(p[i] & 0x7f) << sh;
                if (!(p[i++] & 0x80)) break;
            }
            if (v > len - i) return -1;
            i += v;
        } else if (wt == 5) {
            i += 4;
        } else if (wt == 1) {
            i += 8;
        } else {
            return -1;
        }
    }
    return status;
}

/* ---- completion (CQ thread) ---------------------------------------------------------------- */

static void gcall_cq(gtag_t *t, bool ok)
{
    gcall_t *gc = (gcall_t *)((char *)t - offsetof(gcall_t, tag));
    hmq_grpc_t *g = gc->ep->s->g;
    uv_mutex_lock(&g->mu);
    live_del(g, gc);
    if (gc->hcall) hmq_hooks_call_set_provider_data(gc->hcall, NULL);
    uv_mutex_unlock(&g->mu);
    size_t len = 0;
    uint8_t *buf = ok && gc->status == GRPC_STATUS_OK ? hmq_grpc_recv_bytes(gc->recv, &len) : NULL;
    switch (gc->kind) {
    case GC_HANDSHAKE:
        if (buf) gc->hs = hookmq__v1__handshake_response__unpack(NULL, len, buf);
        gpr_free(buf);
        hmq_hooks_loop_push(g->home, &gc->item);
        return;
    case GC_HEALTH:
        if (buf)
            gc->health = decode_health(buf, len);
        else if (ok && gc->status == GRPC_STATUS_UNIMPLEMENTED)
            gc->health = -2;
        gpr_free(buf);
        hmq_hooks_loop_push(g->home, &gc->item);
        return;
    default:
        break;
    }
    hmq_hooks_call_t *hcall = gc->hcall;
    hmq_hooks_answer_t *a = hmq_hooks_call_answer(hcall);
    hmq_hooks_call_status_t st = ok ? hmq_grpc_map_status(gc->status) : HMQ_CALL_ERROR;
    if (st == HMQ_CALL_OK && !buf) st = HMQ_CALL_ERROR;
    if (st == HMQ_CALL_OK) {
        switch (gc->kind) {
        case GC_AUTH:
            st = decode_auth(buf, len, a);
            break;
        case GC_AUTHZ:
            st = decode_authz(buf, len, a);
            break;
        default:
            st = decode_sub(gc->ep->s, buf, len, gc->n_subs, a);
            break;
        }
    } else if (st == HMQ_CALL_ERROR) {
        char *details = grpc_slice_to_c_string(gc->details);
        LOG_WARN("hook_call_error", "server=%s status=%d details=\"%s\"", gc->ep->s->name,
                 (int)gc->status, details);
        gpr_free(details);
    }
    gpr_free(buf);
    hmq_grpc_breaker_result(gc->ep->s, st);
    hmq_gcall_free(gc);
    hmq_hooks_call_done(hcall, st);
}
