/* chain.c - requests walking the provider chain: authenticate, authorize, on_publish and
 * on_subscribe (see hookmq/hooks.h).
 *
 * A request (hmq_hooks_op) runs on the loop thread it was started on. For each provider in
 * chain order: does it serve the hook (op present, route() != SKIP), is it ready, is the answer
 * cached, else a call whose completion comes back through the loop's hmq_hooks_loop_t. A
 * failed call becomes what the provider's on_failure says for that hook. DENY wins; CONTINUE
 * passes on; with resolution first_decision an ALLOW ends the walk too; when nobody decided,
 * the configured default does.
 *
 * on_publish threads the message through the chain (each provider sees the changes of those
 * before it); on_subscribe keeps a decision per subscription and sends a provider only the
 * subscriptions still open.
 */
#include <stdlib.h>
#include <string.h>

#include "chain_int.h"
#include "proto_convert.h"
#include "util/log.h"

#define INC(m, f) atomic_fetch_add_explicit(&(m)->f, 1, memory_order_relaxed)
#define DEC(m, f) atomic_fetch_sub_explicit(&(m)->f, 1, memory_order_relaxed)

/* ---- finishing ----------------------------------------------------------------------------- */

static void op_free(hmq_hooks_op_t *op)
{
    hmq_hooks_value_unref(op->allow);
    hmq_hooks_message_free_owned(&op->owned);
    if (op->subs) {
        for (size_t i = 0; i < op->n_subs; i++) {
            free(op->subs[i].reason);
            free(op->subs[i].filter);
        }
        free(op->subs);
    }
    free(op);
}

static void verdict_of(hmq_hooks_verdict_t *vd, const hmq_hooks_value_t *v, const char *by,
                       bool policy, bool cache)
{
    vd->decision = v->decision == HMQ_DECISION_DENY ? HMQ_DECISION_DENY : HMQ_DECISION_ALLOW;
    vd->reason = v->reason ? v->reason : "";
    vd->provider = by;
    vd->by_policy = policy;
    vd->from_cache = cache;
    vd->reason_code = 0;
    if (vd->decision == HMQ_DECISION_DENY)
        vd->reason_code = v->reason_code >= 0x80 ? v->reason_code : HMQ_RC_NOT_AUTHORIZED;
}

static void finish_auth(hmq_hooks_op_t *op, int status, const hmq_hooks_value_t *v,
                        const hmq_hooks_verdict_t *vd)
{
    hmq_hooks_auth_req_t *req = op->req.auth;
    hmq_hooks_auth_cb cb = op->cb.auth;
    hmq_hooks_auth_result_t res = {0};
    if (status == 0) {
        res.decision = vd->decision;
        res.reason_code = vd->reason_code;
        res.reason = vd->reason;
        res.provider = vd->provider;
        res.by_policy = vd->by_policy;
        res.from_cache = vd->from_cache;
        if (v->challenge) { /* another round: neither allowed nor denied yet */
            res.decision = HMQ_DECISION_CONTINUE;
            res.reason_code = 0x18;
            res.challenge = true;
            res.auth_state = v->auth_state;
            res.auth_state_len = v->auth_state_len;
        }
        res.auth_data = v->auth_data;
        res.auth_data_len = v->auth_data_len;
        if (res.decision == HMQ_DECISION_ALLOW) {
            res.grants = v->grants;
            res.superuser = v->superuser;
            res.attributes = v->attributes;
            res.n_attributes = v->n_attributes;
            res.expires_unix_ms = v->expires_unix_ms;
        }
    }
    req->op = NULL;
    op_free(op);
    cb(req, status, status == 0 ? &res : NULL);
}

static void finish_sub(hmq_hooks_op_t *op, int status)
{
    hmq_hooks_subscribe_req_t *req = op->req.sub;
    hmq_hooks_subscribe_cb cb = op->cb.sub;
    hmq_hooks_sub_result_t stack[16], *res = NULL;
    if (status == 0) {
        res = req->n_subs <= 16 ? stack : calloc(req->n_subs, sizeof(*res));
        if (!res) status = HMQ_HOOKS_ENOMEM;
    }
    for (size_t i = 0; res && i < req->n_subs; i++) {
        sub_state_t *st = &op->subs[i];
        int d = st->decision;
        if (d == HMQ_DECISION_CONTINUE) d = op->h->default_decision[HMQ_HOOK_ON_SUBSCRIBE];
        res[i].decision = d == HMQ_DECISION_DENY ? HMQ_DECISION_DENY : HMQ_DECISION_ALLOW;
        res[i].reason = st->reason ? st->reason : "";
        res[i].reason_code = res[i].decision == HMQ_DECISION_DENY
                                 ? (st->code >= 0x80 ? st->code : HMQ_RC_NOT_AUTHORIZED)
                                 : 0;
        res[i].filter = st->filter ? st->filter : req->subs[i].filter;
        res[i].max_qos = st->max_qos > 2 ? 2 : st->max_qos;
    }
    req->op = NULL;
    cb(req, status, status == 0 ? res : NULL);
    if (res != stack) free(res);
    op_free(op);
}

/* Ends the request with a decision (status 0) or an error. v: the deciding value (ALLOW may be
 * op->allow), NULL for on_subscribe (its state is per subscription). */
static void finish(hmq_hooks_op_t *op, int status, const hmq_hooks_value_t *v, const char *by,
                   bool policy, bool cache)
{
    hmq_hooks_verdict_t vd = {0};
    if (status == 0 && v) verdict_of(&vd, v, by, policy, cache);
    if (status == 0 && op->hook != HMQ_HOOK_ON_SUBSCRIBE)
        LOG_DEBUG("hook_decision", "hook=%s decision=%s code=0x%02x by=%s policy=%d cache=%d",
                  hmq_hook_names[op->hook], vd.decision == HMQ_DECISION_ALLOW ? "allow" : "deny",
                  vd.reason_code, by ? by : "default", policy, cache);
    switch (op->hook) {
    case HMQ_HOOK_AUTHENTICATE:
        finish_auth(op, status, v, &vd);
        return;
    case HMQ_HOOK_AUTHORIZE: {
        hmq_hooks_authz_req_t *req = op->req.authz;
        hmq_hooks_authz_cb cb = op->cb.authz;
        req->op = NULL;
        cb(req, status, status == 0 ? &vd : NULL);
        op_free(op);
        return;
    }
    case HMQ_HOOK_ON_PUBLISH: {
        hmq_hooks_publish_req_t *req = op->req.pub;
        hmq_hooks_publish_cb cb = op->cb.pub;
        hmq_hooks_publish_result_t res = {.verdict = vd,
                                          .changed = op->changed,
                                          .message = op->changed ? &op->msg : req->message};
        req->op = NULL;
        cb(req, status, status == 0 ? &res : NULL);
        op_free(op);
        return;
    }
    default:
        finish_sub(op, status);
        return;
    }
}

/* ---- decisions -------------------------------------------------------------------------- */

/* on_publish: take over the fields an answer replaced. */
static void apply_changes(hmq_hooks_op_t *op, hmq_hooks_answer_t *a)
{
    uint32_t c = a->changed;
    hmq_hooks_message_t *n = &a->changes, *o = &op->owned, *m = &op->msg;
#define TAKE(bit, field)                                                                           \
    if (c & (bit)) {                                                                               \
        free((void *)o->field);                                                                    \
        o->field = n->field;                                                                       \
        m->field = n->field;                                                                       \
        n->field = NULL;                                                                           \
    }
    TAKE(HMQ_MSG_TOPIC, topic)
    TAKE(HMQ_MSG_CONTENT_TYPE, content_type)
    TAKE(HMQ_MSG_RESPONSE_TOPIC, response_topic)
#undef TAKE
    if (c & HMQ_MSG_PAYLOAD) {
        free((void *)o->payload);
        o->payload = m->payload = n->payload;
        o->payload_len = m->payload_len = n->payload_len;
        n->payload = NULL;
    }
    if (c & HMQ_MSG_CORRELATION_DATA) {
        free((void *)o->correlation_data);
        o->correlation_data = m->correlation_data = n->correlation_data;
        o->correlation_len = m->correlation_len = n->correlation_len;
        m->has_correlation_data = n->has_correlation_data;
        n->correlation_data = NULL;
    }
    if (c & HMQ_MSG_USER_PROPERTIES) {
        hmq_hooks_message_t old = {.user_properties = o->user_properties,
                                   .n_user_properties = o->n_user_properties};
        hmq_hooks_message_free_owned(&old);
        o->user_properties = m->user_properties = n->user_properties;
        o->n_user_properties = m->n_user_properties = n->n_user_properties;
        n->user_properties = NULL;
        n->n_user_properties = 0;
    }
    if (c & HMQ_MSG_QOS) m->qos = n->qos;
    if (c & HMQ_MSG_RETAIN) m->retain = n->retain;
    if (c & HMQ_MSG_PAYLOAD_FORMAT) m->payload_format = n->payload_format;
    if (c & HMQ_MSG_EXPIRY) {
        m->has_message_expiry = n->has_message_expiry;
        m->message_expiry_interval = n->message_expiry_interval;
    }
    op->changed |= c;
}

/* A decision (fresh, cached or from a policy) of provider p for the whole request. */
static void apply(hmq_hooks_op_t *op, provider_t *p, hmq_hooks_value_t *v, bool policy, bool cache)
{
    if (v->decision == HMQ_DECISION_DENY || v->challenge) {
        finish(op, 0, v, p->name, policy, cache);
        return;
    }
    if (v->decision == HMQ_DECISION_ALLOW) {
        if (op->h->first_decision) {
            finish(op, 0, v, p->name, policy, cache);
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
    hmq_hooks_chain_step(op);
}

/* on_subscribe: one subscription's answer. */
static void apply_sub(hmq_hooks_op_t *op, size_t i, int decision, uint8_t code, char **reason,
                      char **filter, uint8_t max_qos)
{
    sub_state_t *st = &op->subs[i];
    if (st->decision == HMQ_DECISION_DENY) return;
    if (filter && *filter) {
        free(st->filter);
        st->filter = *filter;
        *filter = NULL;
    }
    if (max_qos < st->max_qos) st->max_qos = max_qos;
    if (decision == HMQ_DECISION_DENY || decision == HMQ_DECISION_ALLOW) {
        if (decision == HMQ_DECISION_DENY || st->decision == HMQ_DECISION_CONTINUE) {
            st->decision = decision;
            st->code = code;
            if (reason && *reason) {
                free(st->reason);
                st->reason = *reason;
                *reason = NULL;
            }
        }
    }
}

static void apply_static(hmq_hooks_op_t *op, provider_t *p, int decision, uint8_t code,
                         const char *reason, bool policy, const size_t *sent, size_t n_sent)
{
    if (op->hook == HMQ_HOOK_ON_SUBSCRIBE) {
        for (size_t i = 0; i < n_sent; i++) {
            char *r = strdup(reason);
            apply_sub(op, sent[i], decision, code, &r, NULL, 3);
            free(r);
        }
        op->pos++;
        hmq_hooks_chain_step(op);
        return;
    }
    hmq_hooks_answer_t a = {.decision = decision, .reason_code = code, .reason = strdup(reason)};
    hmq_hooks_value_t *v = hmq_hooks_value_from_answer(&a);
    hmq_hooks_answer_clear(&a);
    if (!v) {
        finish(op, HMQ_HOOKS_ENOMEM, NULL, NULL, false, false);
        return;
    }
    apply(op, p, v, policy, false);
    hmq_hooks_value_unref(v);
}

/* ---- cache ------------------------------------------------------------------------------- */

static hmq_hooks_value_t *cache_lookup(hmq_hooks_op_t *op, provider_t *p, hmq_cache_key_t *key,
                                       bool stale)
{
    hmq_hooks_t *h = op->h;
    uint64_t now = hmq_hooks_now_ms();
    if (op->hook == HMQ_HOOK_AUTHENTICATE) {
        hmq_hooks_key_auth(h->cache, p, op->req.auth, key);
        if (op->req.auth->client->authentication_method) return NULL; /* rounds: never cached */
        return hmq_hooks_cache_get(h->cache, key, now, stale);
    }
    if (op->hook != HMQ_HOOK_AUTHORIZE) return NULL; /* messages are not cached */
    static const uint8_t scopes[] = {HMQ_SCOPE_TOPIC, HMQ_SCOPE_CLIENT, HMQ_SCOPE_USERNAME};
    hmq_hooks_value_t *v = NULL;
    hmq_cache_key_t k;
    for (size_t i = 0; i < sizeof(scopes) && !v; i++) {
        hmq_hooks_key_authz(h->cache, p, op->req.authz, scopes[i], &k);
        v = hmq_hooks_cache_get(h->cache, &k, now, stale);
        if (i == 0) *key = k; /* answers are stored under their own scope (on_call_done) */
    }
    return v;
}

/* ---- failures ------------------------------------------------------------------------------ */

static void failed(hmq_hooks_op_t *op, provider_t *p, const size_t *sent, size_t n_sent)
{
    hmq_hooks_on_failure_t f = p->policy.on_failure[op->hook];
    LOG_INFO("hook_failure_policy", "server=%s hook=%s policy=%d", p->name,
             hmq_hook_names[op->hook], (int)f);
    uint8_t deny_code =
        op->hook == HMQ_HOOK_AUTHENTICATE ? HMQ_RC_SERVER_UNAVAILABLE : HMQ_RC_UNSPECIFIED_ERROR;
    switch (f) {
    case HMQ_ON_FAILURE_ALLOW:
        apply_static(op, p, HMQ_DECISION_ALLOW, 0, "", true, sent, n_sent);
        return;
    case HMQ_ON_FAILURE_CONTINUE:
        apply_static(op, p, HMQ_DECISION_CONTINUE, 0, "", true, sent, n_sent);
        return;
    case HMQ_ON_FAILURE_STALE: {
        hmq_cache_key_t key;
        hmq_hooks_value_t *v = cache_lookup(op, p, &key, true);
        if (v) {
            INC(&p->metrics[op->hook], cache_hits);
            apply(op, p, v, true, true);
            hmq_hooks_value_unref(v);
            return;
        }
    } /* no stale answer: deny */
    /* fallthrough */
    case HMQ_ON_FAILURE_DENY:
    default:
        apply_static(op, p, HMQ_DECISION_DENY, deny_code, "server unavailable", true, sent, n_sent);
        return;
    }
}

/* ---- one provider -------------------------------------------------------------------------- */

static bool serves(const provider_t *p, hmq_hook_t hook)
{
    switch (hook) {
    case HMQ_HOOK_AUTHENTICATE:
        return p->ops->authenticate;
    case HMQ_HOOK_AUTHORIZE:
        return p->ops->authorize;
    case HMQ_HOOK_ON_PUBLISH:
        return p->ops->on_publish;
    case HMQ_HOOK_ON_SUBSCRIBE:
        return p->ops->on_subscribe;
    default:
        return false;
    }
}

static hmq_hooks_route_t route(const provider_t *p, hmq_hook_t hook,
                               const hmq_hooks_client_t *client, const char *topic)
{
    if (!serves(p, hook)) return HMQ_ROUTE_SKIP;
    return p->ops->route ? p->ops->route(p->self, hook, client, topic) : HMQ_ROUTE_CALL;
}

bool hmq_hooks_wants(hmq_hooks_t *h, hmq_hook_t hook, const hmq_hooks_client_t *client,
                     const char *topic)
{
    if (!h || !h->started || h->closed) return false;
    for (size_t i = 0; i < h->n_chain; i++)
        if (route(h->chain[i], hook, client, topic) != HMQ_ROUTE_SKIP) return true;
    return false;
}

static const char *op_topic(const hmq_hooks_op_t *op)
{
    switch (op->hook) {
    case HMQ_HOOK_AUTHORIZE:
        return op->req.authz->topic;
    case HMQ_HOOK_ON_PUBLISH:
        return op->msg.topic;
    default:
        return NULL;
    }
}

static int start_call(hmq_hooks_op_t *op, provider_t *p, hmq_hooks_call_t *call)
{
    uint32_t dl = p->policy.deadline_ms[op->hook];
    switch (op->hook) {
    case HMQ_HOOK_AUTHENTICATE:
        return p->ops->authenticate(p->self, call, op->req.auth, dl);
    case HMQ_HOOK_AUTHORIZE:
        return p->ops->authorize(p->self, call, op->req.authz, dl);
    case HMQ_HOOK_ON_PUBLISH:
        return p->ops->on_publish(p->self, call, op->client, &op->msg, dl);
    default: {
        hmq_hooks_subscription_t stack[16], *v = stack;
        if (call->n_sent > 16 && !(v = calloc(call->n_sent, sizeof(*v)))) return -1;
        for (size_t i = 0; i < call->n_sent; i++) {
            size_t k = call->sent[i];
            v[i] = op->req.sub->subs[k];
            if (op->subs[k].filter) v[i].filter = op->subs[k].filter;
        }
        int rc = p->ops->on_subscribe(p->self, call, op->req.sub, v, call->n_sent, dl);
        if (v != stack) free(v);
        return rc;
    }
    }
}

static void on_call_done(hmq_hooks_item_t *it);

static void call_free(hmq_hooks_call_t *call)
{
    hmq_hooks_answer_clear(&call->answer);
    free(call->sent);
    free(call);
}

/* on_subscribe: which subscriptions go to p. Returns -1 on no memory. */
static int pick_subs(hmq_hooks_op_t *op, provider_t *p, hmq_hooks_call_t *call,
                     hmq_hooks_route_t *rt)
{
    hmq_hooks_subscribe_req_t *req = op->req.sub;
    *rt = HMQ_ROUTE_SKIP;
    if (!serves(p, HMQ_HOOK_ON_SUBSCRIBE)) return 0;
    if (!(call->sent = calloc(req->n_subs ? req->n_subs : 1, sizeof(size_t)))) return -1;
    for (size_t i = 0; i < req->n_subs; i++) {
        sub_state_t *st = &op->subs[i];
        if (st->decision == HMQ_DECISION_DENY) continue;
        if (st->decision == HMQ_DECISION_ALLOW && op->h->first_decision) continue;
        const char *f = st->filter ? st->filter : req->subs[i].filter;
        hmq_hooks_route_t r = route(p, HMQ_HOOK_ON_SUBSCRIBE, op->client, f);
        if (r == HMQ_ROUTE_SKIP) continue;
        if (r == HMQ_ROUTE_NOT_READY)
            *rt = HMQ_ROUTE_NOT_READY;
        else if (*rt == HMQ_ROUTE_SKIP)
            *rt = HMQ_ROUTE_CALL;
        call->sent[call->n_sent++] = i;
    }
    return 0;
}

void hmq_hooks_chain_step(hmq_hooks_op_t *op)
{
    hmq_hooks_t *h = op->h;
    for (;;) { /* providers that are skipped: bounded by the chain length */
        if (op->cancelled || h->closed) {
            finish(op, HMQ_HOOKS_ECANCELED, NULL, NULL, false, false);
            return;
        }
        if (op->pos >= h->n_chain) break;
        provider_t *p = h->chain[op->pos];
        hook_metrics_t *m = &p->metrics[op->hook];
        if (op->hook == HMQ_HOOK_AUTHENTICATE && op->req.auth->auth_provider &&
            strcmp(op->req.auth->auth_provider, p->name) != 0) {
            op->pos++; /* an AUTH round goes to the provider that challenged */
            continue;
        }
        hmq_hooks_call_t *call = calloc(1, sizeof(*call));
        if (!call) {
            finish(op, HMQ_HOOKS_ENOMEM, NULL, NULL, false, false);
            return;
        }
        hmq_hooks_route_t rt;
        if (op->hook == HMQ_HOOK_ON_SUBSCRIBE) {
            if (pick_subs(op, p, call, &rt) < 0) {
                call_free(call);
                finish(op, HMQ_HOOKS_ENOMEM, NULL, NULL, false, false);
                return;
            }
        } else {
            rt = route(p, op->hook, op->client, op_topic(op));
        }
        if (rt == HMQ_ROUTE_SKIP) {
            call_free(call);
            op->pos++;
            continue;
        }
        if (rt == HMQ_ROUTE_NOT_READY) {
            INC(m, unavailable);
            INC(m, failures);
            size_t *sent = call->sent, n_sent = call->n_sent;
            call->sent = NULL;
            call_free(call);
            if (p->policy.mandatory && !atomic_load(&p->handshaken))
                apply_static(op, p, HMQ_DECISION_DENY,
                             op->hook == HMQ_HOOK_AUTHENTICATE ? HMQ_RC_SERVER_UNAVAILABLE
                                                               : HMQ_RC_UNSPECIFIED_ERROR,
                             "server unavailable", true, sent, n_sent);
            else
                failed(op, p, sent, n_sent);
            free(sent);
            return;
        }
        hmq_hooks_value_t *v = cache_lookup(op, p, &call->key, false);
        if (v) {
            INC(m, cache_hits);
            call_free(call);
            apply(op, p, v, false, true);
            hmq_hooks_value_unref(v);
            return;
        }
        call->item.run = on_call_done;
        call->op = op;
        call->p = p;
        call->hook = op->hook;
        call->start_ns = uv_hrtime();
        op->call = call;
        INC(m, calls);
        INC(m, in_flight);
        if (start_call(op, p, call) < 0) {
            op->call = NULL;
            DEC(m, in_flight);
            INC(m, failures);
            size_t *sent = call->sent, n_sent = call->n_sent;
            call->sent = NULL;
            call_free(call);
            failed(op, p, sent, n_sent);
            free(sent);
        }
        return;
    }
    /* every provider asked */
    if (op->hook == HMQ_HOOK_ON_SUBSCRIBE) {
        finish(op, 0, NULL, NULL, false, false);
        return;
    }
    if (op->allow) {
        hmq_hooks_value_t *v = op->allow;
        op->allow = NULL;
        finish(op, 0, v, op->allow_by, op->allow_policy, op->allow_cache);
        hmq_hooks_value_unref(v);
        return;
    }
    hmq_hooks_value_t v = {.decision = h->default_decision[op->hook],
                           .reason_code = HMQ_RC_NOT_AUTHORIZED,
                           .reason = (char *)(h->n_chain ? "no provider allowed" : "")};
    if (v.decision == HMQ_DECISION_ALLOW) v.reason = (char *)"";
    finish(op, 0, &v, NULL, false, false);
}

/* on_subscribe: a provider's per-subscription answers. false = malformed. */
static bool apply_sub_answers(hmq_hooks_op_t *op, hmq_hooks_call_t *call)
{
    hmq_hooks_answer_t *a = &call->answer;
    if (a->n_subs != call->n_sent) return false;
    for (size_t i = 0; i < a->n_subs; i++) {
        hmq_hooks_sub_answer_t *s = &a->subs[i];
        int d = s->decision;
        if (d == HMQ_DECISION_FAILURE ||
            (d != HMQ_DECISION_CONTINUE && d != HMQ_DECISION_ALLOW && d != HMQ_DECISION_DENY)) {
            /* this filter failed: the provider's on_failure, for it alone */
            hmq_hooks_on_failure_t f = call->p->policy.on_failure[HMQ_HOOK_ON_SUBSCRIBE];
            d = f == HMQ_ON_FAILURE_ALLOW      ? HMQ_DECISION_ALLOW
                : f == HMQ_ON_FAILURE_CONTINUE ? HMQ_DECISION_CONTINUE
                                               : HMQ_DECISION_DENY;
            apply_sub(op, call->sent[i], d, HMQ_RC_UNSPECIFIED_ERROR, NULL, NULL, 3);
            continue;
        }
        apply_sub(op, call->sent[i], d, s->reason_code, &s->reason, &s->filter, s->max_qos);
    }
    return true;
}

void hmq_hooks_call_done(hmq_hooks_call_t *call, hmq_hooks_call_status_t status)
{
    call->status = status;
    hmq_hooks_loop_push(call->op->hl, &call->item);
}

static void on_call_done(hmq_hooks_item_t *it)
{
    hmq_hooks_call_t *call = (hmq_hooks_call_t *)it;
    hmq_hooks_op_t *op = call->op;
    provider_t *p = call->p;
    hook_metrics_t *m = &p->metrics[call->hook];
    hmq_hooks_call_status_t st = call->status;
    op->call = NULL;
    DEC(m, in_flight);
    hmq_hooks_metrics_latency(m, uv_hrtime() - call->start_ns);
    if (op->cancelled || op->h->closed) {
        call_free(call);
        finish(op, HMQ_HOOKS_ECANCELED, NULL, NULL, false, false);
        return;
    }
    hmq_hooks_answer_t *a = &call->answer;
    int d = a->decision;
    bool sub = op->hook == HMQ_HOOK_ON_SUBSCRIBE;
    if (st == HMQ_CALL_OK && !sub && d != HMQ_DECISION_CONTINUE && d != HMQ_DECISION_ALLOW &&
        d != HMQ_DECISION_DENY)
        st = HMQ_CALL_ERROR; /* FAILURE, UNSPECIFIED, unknown */
    if (st == HMQ_CALL_OK && sub && !apply_sub_answers(op, call)) st = HMQ_CALL_ERROR;
    if (st != HMQ_CALL_OK) {
        INC(m, failures);
        if (st == HMQ_CALL_TIMEOUT) INC(m, timeouts);
        if (st == HMQ_CALL_UNAVAILABLE) INC(m, unavailable);
        LOG_WARN("hook_call_failed", "server=%s hook=%s status=%d", p->name,
                 hmq_hook_names[call->hook], (int)st);
        size_t *sent = call->sent, n_sent = call->n_sent;
        call->sent = NULL;
        call_free(call);
        failed(op, p, sent, n_sent);
        free(sent);
        return;
    }
    if (sub) {
        call_free(call);
        op->pos++;
        hmq_hooks_chain_step(op);
        return;
    }
    if (op->hook == HMQ_HOOK_ON_PUBLISH) apply_changes(op, a);
    uint32_t ttl = a->cache_ttl_ms;
    uint8_t scope = a->cache_scope;
    hmq_cache_key_t key = call->key;
    hmq_hooks_value_t *v = hmq_hooks_value_from_answer(a);
    call_free(call);
    if (!v) {
        finish(op, HMQ_HOOKS_ENOMEM, NULL, NULL, false, false);
        return;
    }
    if (ttl && op->hook == HMQ_HOOK_AUTHORIZE && scope > HMQ_SCOPE_FILTER)
        hmq_hooks_key_authz(op->h->cache, p, op->req.authz, scope, &key);
    bool enhanced =
        op->hook == HMQ_HOOK_AUTHENTICATE && op->req.auth->client->authentication_method;
    if (ttl && op->hook <= HMQ_HOOK_AUTHORIZE && !enhanced && !v->challenge)
        hmq_hooks_cache_put(op->h->cache, &key, v, hmq_hooks_now_ms(), ttl);
    apply(op, p, v, false, false);
    hmq_hooks_value_unref(v);
}
