/* hook_publish.c - PUBLISH through the hooks, in order per connection (see hook_publish.h). */
#include "core/hook_publish.h"

#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/hook_events.h"
#include "core/conn_int.h"
#include "core/message_build.h"
#include "core/session.h"
#include "util/log.h"

enum { HOLD_AUTHORIZE, HOLD_ON_PUBLISH, HOLD_ROUTE, HOLD_DROP };

typedef struct hmq_pub_hold {
    struct hmq_pub_hold *next;
    hmq_conn_t *c; /* NULL once the connection closed */
    hmq_msg_t *msg;
    uint16_t packet_id;
    uint8_t qos; /* as published: decides the acknowledgement */
    uint8_t state;
    uint8_t code; /* HOLD_DROP: reason code for the acknowledgement */
    bool on_publish;
    hmq_hooks_message_t view; /* the message as hooks see it (strings below) */
    hmq_hooks_pair_t *props;
    char *strs; /* content type, response topic, user property keys and values */
    hmq_hooks_authz_req_t authz;
    hmq_hooks_publish_req_t preq;
} hold_t;

uint32_t hmq_hook_publish_window(const hmq_conn_t *c)
{
    uint32_t w = c->w->cfg->hooks_max_inflight;
    return w ? w : 64;
}

bool hmq_hook_publish_wanted(hmq_conn_t *c, const char *topic)
{
    const hmq_hooks_client_t *cl = hmq_auth_client(c);
    return cl && hmq_hooks_wants(c->w->broker->hooks, HMQ_HOOK_ON_PUBLISH, cl, topic);
}

/* ---- the hooks' view of a message ---------------------------------------------------------- */

static char *put(char **o, hmq_bytes_t b)
{
    char *s = *o;
    if (b.len) memcpy(s, b.p, b.len);
    s[b.len] = 0;
    *o += b.len + 1;
    return s;
}

/* Properties come from the PUBLISH (its buffer goes away: strings are copied into one block). */
static int make_view(hold_t *h, const hmq_publish_t *pub)
{
    const hmq_props_t *p = &pub->props;
    hmq_hooks_message_t *v = &h->view;
    hmq_msg_t *m = h->msg;
    v->topic = m->topic;
    v->payload = m->payload;
    v->payload_len = m->payload_len;
    v->qos = m->qos;
    v->retain = m->retain;
    v->received_unix_ms = hmq_wall_ms();
    if (h->c->version != HMQ_MQTT_V5) return 0;
    size_t n = 0, size = 0;
    uint32_t pos = 0;
    hmq_bytes_t k, val;
    while (hmq_props_user_next(p, &pos, &k, &val)) {
        n++;
        size += k.len + val.len + 2;
    }
    bool ct = p->present & HMQ_PROP_BIT(HMQ_PROP_CONTENT_TYPE);
    bool rt = p->present & HMQ_PROP_BIT(HMQ_PROP_RESPONSE_TOPIC);
    size += (ct ? p->content_type.len + 1 : 0) + (rt ? p->response_topic.len + 1 : 0);
    if (size && !(h->strs = malloc(size))) return -1;
    if (n && !(h->props = calloc(n, sizeof *h->props))) return -1;
    char *o = h->strs;
    if (ct) v->content_type = put(&o, p->content_type);
    if (rt) v->response_topic = put(&o, p->response_topic);
    pos = 0;
    for (size_t i = 0; i < n && hmq_props_user_next(p, &pos, &k, &val); i++) {
        h->props[i].key = put(&o, k);
        h->props[i].value = put(&o, val);
    }
    v->user_properties = h->props;
    v->n_user_properties = n;
    if (p->present & HMQ_PROP_BIT(HMQ_PROP_PAYLOAD_FORMAT)) v->payload_format = p->payload_format;
    if (p->present & HMQ_PROP_BIT(HMQ_PROP_MESSAGE_EXPIRY)) {
        v->has_message_expiry = true;
        v->message_expiry_interval = p->message_expiry;
    }
    if (p->present & HMQ_PROP_BIT(HMQ_PROP_CORRELATION_DATA)) {
        /* binary, points into the message's forwarded properties is not possible: copy */
        v->has_correlation_data = true;
        v->correlation_len = p->correlation_data.len;
        uint8_t *cd = malloc(p->correlation_data.len ? p->correlation_data.len : 1);
        if (!cd) return -1;
        memcpy(cd, p->correlation_data.p, p->correlation_data.len);
        v->correlation_data = cd;
    }
    return 0;
}

static void hold_free(hold_t *h)
{
    if (h->msg) hmq_msg_unref(h->msg);
    free(h->props);
    free(h->strs);
    free((void *)h->view.correlation_data);
    free(h);
}

/* A hook's reason code, as a PUBACK/PUBREC may carry it. */
static uint8_t ack_code(uint8_t rc)
{
    switch (rc) {
    case HMQ_RC_UNSPECIFIED:
    case HMQ_RC_IMPL_SPECIFIC:
    case HMQ_RC_NOT_AUTHORIZED:
    case HMQ_RC_TOPIC_NAME_INVALID:
    case HMQ_RC_QUOTA_EXCEEDED:
    case HMQ_RC_PAYLOAD_FORMAT_INVALID:
        return rc;
    default:
        return HMQ_RC_UNSPECIFIED;
    }
}

/* ---- leaving the FIFO ---------------------------------------------------------------------- */

/* Route or refuse what is decided at the head. `from_hook`: called from a hook answer (not from
 * inside the connection's read), so input that waited for the window may be processed now. */
static void drain(hmq_conn_t *c, bool from_hook)
{
    hold_t *h;
    bool was_full = c->pub_held >= hmq_hook_publish_window(c);
    while ((h = c->pub_head) && h->state >= HOLD_ROUTE && c->state == HMQ_CONN_CONNECTED) {
        c->pub_head = h->next;
        if (!c->pub_head) c->pub_tail = NULL;
        c->pub_held--;
        if (h->state == HOLD_ROUTE) {
            hmq_msg_t *m = h->msg;
            h->msg = NULL;
            hmq_conn_publish_route(c, m, h->qos, h->packet_id);
        } else {
            if (h->msg)
                hmq_event_message(c, HMQ_EVENT_DROPPED, h->msg, 0, h->code,
                                  h->code == HMQ_RC_NOT_AUTHORIZED ? "not_authorized" : "hook");
            hmq_conn_publish_drop(c, h->qos, h->packet_id, h->code);
        }
        hold_free(h);
    }
    if (from_hook && was_full && c->pub_held < hmq_hook_publish_window(c) &&
        c->state == HMQ_CONN_CONNECTED)
        hmq_conn_resume_input(c);
}

static void decide(hold_t *h, uint8_t state, uint8_t code, bool from_hook)
{
    h->state = state;
    h->code = code;
    drain(h->c, from_hook);
}

/* ---- hook answers -------------------------------------------------------------------------- */

static void on_published(hmq_hooks_publish_req_t *req, int status,
                         const hmq_hooks_publish_result_t *res);

static void start_on_publish(hold_t *h, bool from_hook)
{
    h->state = HOLD_ON_PUBLISH;
    h->preq.data = h;
    h->preq.client = hmq_auth_client(h->c);
    h->preq.message = &h->view;
    if (hmq_hooks_on_publish(h->c->w->hooks_loop, &h->preq, on_published) < 0)
        decide(h, HOLD_DROP, HMQ_RC_UNSPECIFIED, from_hook);
}

static void on_authorized(hmq_hooks_authz_req_t *req, int status, const hmq_hooks_verdict_t *res)
{
    hold_t *h = req->data;
    if (!h->c) {
        hold_free(h);
        return;
    }
    if (status < 0 || !res || res->decision != HMQ_DECISION_ALLOW) {
        HMQ_STAT_ADD(h->c->w->stats.dropped_not_authorized, 1);
        LOG_DEBUG("publish_denied", "topic=%s code=0x%02x by=%s", h->msg->topic,
                  res ? res->reason_code : 0, res && res->provider ? res->provider : "-");
        decide(h, HOLD_DROP, res ? ack_code(res->reason_code) : HMQ_RC_UNSPECIFIED, true);
        return;
    }
    if (h->on_publish)
        start_on_publish(h, true);
    else
        decide(h, HOLD_ROUTE, 0, true);
}

static bool topic_ok(hmq_conn_t *c, const char *t)
{
    size_t len = strlen(t);
    unsigned levels = 1;
    for (size_t i = 0; i < len; i++)
        levels += t[i] == '/';
    return len && len <= c->w->cfg->max_topic_length && levels <= c->w->cfg->max_topic_levels &&
           t[0] != '$' && !strpbrk(t, "+#");
}

static void on_published(hmq_hooks_publish_req_t *req, int status,
                         const hmq_hooks_publish_result_t *res)
{
    hold_t *h = req->data;
    hmq_conn_t *c = h->c;
    if (!c) {
        hold_free(h);
        return;
    }
    if (status < 0 || !res) {
        decide(h, HOLD_DROP, HMQ_RC_UNSPECIFIED, true);
        return;
    }
    if (res->verdict.decision != HMQ_DECISION_ALLOW) {
        HMQ_STAT_ADD(c->w->stats.dropped_by_hook, 1);
        LOG_DEBUG("publish_dropped", "topic=%s code=0x%02x by=%s", h->msg->topic,
                  res->verdict.reason_code, res->verdict.provider ? res->verdict.provider : "-");
        decide(h, HOLD_DROP, ack_code(res->verdict.reason_code), true);
        return;
    }
    if (res->changed) {
        const hmq_hooks_message_t *m = res->message;
        if (((res->changed & HMQ_MSG_TOPIC) && !topic_ok(c, m->topic)) ||
            m->payload_len > c->w->cfg->max_packet_size) {
            LOG_WARN("hook_bad_change", "topic=%s", h->msg->topic);
            decide(h, HOLD_DROP, HMQ_RC_UNSPECIFIED, true);
            return;
        }
        hmq_msg_t *nm = hmq_msg_from_hook(m, h->view.received_unix_ms);
        if (!nm) {
            decide(h, HOLD_DROP, HMQ_RC_UNSPECIFIED, true);
            return;
        }
        if (nm->qos > c->w->cfg->maximum_qos) nm->qos = c->w->cfg->maximum_qos;
        hmq_msg_unref(h->msg);
        h->msg = nm;
    }
    decide(h, HOLD_ROUTE, 0, true);
}

/* ---- entering the FIFO --------------------------------------------------------------------- */

void hmq_hook_publish_hold(hmq_conn_t *c, const hmq_publish_t *pub, hmq_msg_t *msg, bool authorize,
                           bool on_publish)
{
    hold_t *h = calloc(1, sizeof *h);
    if (!h) {
        hmq_msg_unref(msg);
        hmq_conn_publish_drop(c, pub->qos, pub->packet_id, HMQ_RC_SERVER_BUSY);
        return;
    }
    h->c = c;
    h->msg = msg;
    h->qos = pub->qos;
    h->packet_id = pub->packet_id;
    h->on_publish = on_publish;
    h->state = HOLD_ROUTE;
    if (c->pub_tail)
        c->pub_tail->next = h;
    else
        c->pub_head = h;
    c->pub_tail = h;
    c->pub_held++;
    if ((authorize || on_publish) && make_view(h, pub) < 0) {
        decide(h, HOLD_DROP, HMQ_RC_UNSPECIFIED, false);
        return;
    }
    if (authorize) {
        h->state = HOLD_AUTHORIZE;
        h->authz.data = h;
        h->authz.client = hmq_auth_client(c);
        h->authz.action = HMQ_ACTION_PUBLISH;
        h->authz.topic = msg->topic;
        h->authz.qos = msg->qos;
        h->authz.retain = msg->retain;
        h->authz.message = &h->view;
        if (hmq_hooks_authorize(c->w->hooks_loop, &h->authz, on_authorized) < 0)
            decide(h, HOLD_DROP, HMQ_RC_UNSPECIFIED, false);
        return;
    }
    if (on_publish) {
        start_on_publish(h, false);
        return;
    }
    drain(c, false); /* nothing to ask: it only waited for its turn */
}

void hmq_hook_publish_refuse(hmq_conn_t *c, const hmq_publish_t *pub, uint8_t code)
{
    hold_t *h = calloc(1, sizeof *h);
    if (!h) {
        hmq_conn_publish_drop(c, pub->qos, pub->packet_id, code);
        return;
    }
    h->c = c;
    h->qos = pub->qos;
    h->packet_id = pub->packet_id;
    h->state = HOLD_DROP;
    h->code = code;
    c->pub_tail->next = h;
    c->pub_tail = h;
    c->pub_held++;
    drain(c, false);
}

void hmq_hook_publish_abort(hmq_conn_t *c)
{
    hold_t *h = c->pub_head;
    c->pub_head = c->pub_tail = NULL;
    c->pub_held = 0;
    while (h) {
        hold_t *next = h->next;
        if (h->qos == 2 && c->session) hmq_session_rx_qos2_del(c->session, h->packet_id);
        h->c = NULL;
        h->next = NULL;
        if (h->state == HOLD_AUTHORIZE)
            hmq_hooks_op_cancel(h->authz.op);
        else if (h->state == HOLD_ON_PUBLISH)
            hmq_hooks_op_cancel(h->preq.op);
        else
            hold_free(h); /* decided: nothing in flight */
        h = next;
    }
}
