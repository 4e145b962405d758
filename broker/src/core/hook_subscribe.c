/* hook_subscribe.c - SUBSCRIBE through the hooks (see hook_subscribe.h). */
#include "core/hook_subscribe.h"

#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/conn_int.h"
#include "util/log.h"

#define PENDING 0xFF /* not decided yet (codes are < 0x03 or >= 0x80) */

typedef struct hmq_sub_hold hold_t;

typedef struct {
    hold_t *h;
    char *full;        /* the filter as subscribed ("$share/g/f" included) */
    const char *group; /* share group (points into group_buf) or NULL */
    char *group_buf;
    const char *filter; /* without $share/<group>/: what hooks see */
    char *rewritten;    /* on_subscribe's rewrite, NULL = none */
    hmq_subopts_t opts;
    uint8_t code; /* PENDING, or the SUBACK code */
    hmq_hooks_authz_req_t authz;
    bool authz_pending;
} item_t;

struct hmq_sub_hold {
    hmq_conn_t *c; /* NULL once the connection closed */
    uint16_t packet_id;
    uint32_t sub_id;
    uint32_t n;
    item_t *items;
    uint32_t in_flight; /* calls not answered yet */
    bool starting;      /* inside hmq_hook_subscribe_start (inside the connection's read) */
    hmq_hooks_subscription_t *hsubs;
    uint32_t *hidx; /* hsubs[k] is items[hidx[k]] */
    hmq_hooks_subscribe_req_t sreq;
};

/* A hook's reason code, as a SUBACK may carry it (others become 0x80). */
static uint8_t suback_code(uint8_t rc)
{
    switch (rc) {
    case HMQ_RC_UNSPECIFIED:
    case HMQ_RC_IMPL_SPECIFIC:
    case HMQ_RC_NOT_AUTHORIZED:
    case HMQ_RC_TOPIC_FILTER_INVALID:
    case HMQ_RC_PACKET_ID_IN_USE:
    case HMQ_RC_QUOTA_EXCEEDED:
    case HMQ_RC_SHARED_SUBS_NOT_SUPPORTED:
    case HMQ_RC_SUB_IDS_NOT_SUPPORTED:
    case HMQ_RC_WILDCARD_SUBS_NOT_SUPPORTED:
        return rc;
    default:
        return HMQ_RC_UNSPECIFIED;
    }
}

static void hold_free(hold_t *h)
{
    for (uint32_t i = 0; i < h->n; i++) {
        free(h->items[i].full);
        free(h->items[i].group_buf);
        free(h->items[i].rewritten);
    }
    free(h->items);
    free(h->hsubs);
    free(h->hidx);
    free(h);
}

/* Record what is allowed, answer, let input flow again. */
static void finish(hold_t *h)
{
    hmq_conn_t *c = h->c;
    c->sub_hold = NULL;
    uint8_t *codes = malloc(h->n ? h->n : 1);
    uint32_t *cookies = calloc(h->n ? h->n : 1, sizeof *cookies);
    if (!codes || !cookies) {
        free(codes);
        free(cookies);
        hold_free(h);
        hmq_conn_close(c, HMQ_RC_SERVER_BUSY, NULL);
        return;
    }
    for (uint32_t i = 0; i < h->n; i++) {
        item_t *it = &h->items[i];
        codes[i] = it->code;
        if (it->code >= 0x80) continue;
        char *f = it->full;
        char *built = NULL;
        if (it->rewritten) {
            size_t gl = it->group ? strlen(it->group) : 0;
            built = malloc(strlen(it->rewritten) + gl + 9);
            if (!built) {
                codes[i] = HMQ_RC_UNSPECIFIED;
                continue;
            }
            if (it->group)
                sprintf(built, "$share/%s/%s", it->group, it->rewritten);
            else
                strcpy(built, it->rewritten);
            f = built;
        }
        hmq_bytes_t fb = {.p = (const uint8_t *)f, .len = (uint32_t)strlen(f)};
        bool fatal = false, ask = false;
        if (built && (hmq_conn_subscribe_check(c, fb, it->opts, &fatal, &ask) >= 0x80 || fatal)) {
            codes[i] = HMQ_RC_TOPIC_FILTER_INVALID; /* the rewrite broke a limit */
        } else {
            hmq_subopts_t o = it->opts;
            o.qos = it->code;
            codes[i] = hmq_conn_subscribe_add(c, fb, o, h->sub_id, built ? it->full : NULL,
                                              &cookies[i]);
        }
        free(built);
    }
    hmq_conn_suback(c, h->packet_id, codes, cookies, h->n);
    free(codes);
    free(cookies);
    bool resume = !h->starting; /* else the read loop goes on by itself */
    hold_free(h);
    if (resume) hmq_conn_resume_input(c);
}

static void on_subscribed(hmq_hooks_subscribe_req_t *req, int status,
                          const hmq_hooks_sub_result_t *res)
{
    hold_t *h = req->data;
    h->in_flight--;
    if (!h->c) {
        if (!h->in_flight) hold_free(h);
        return;
    }
    for (size_t k = 0; k < req->n_subs; k++) {
        item_t *it = &h->items[h->hidx[k]];
        if (status < 0 || !res) {
            it->code = HMQ_RC_UNSPECIFIED;
            continue;
        }
        if (res[k].decision != HMQ_DECISION_ALLOW) {
            it->code = suback_code(res[k].reason_code);
            continue;
        }
        if (res[k].filter && strcmp(res[k].filter, it->filter) != 0) {
            free(it->rewritten);
            it->rewritten = strdup(res[k].filter);
            if (!it->rewritten) it->code = HMQ_RC_UNSPECIFIED;
        }
        if (it->code < 0x80 && res[k].max_qos < it->code) it->code = res[k].max_qos;
    }
    finish(h);
}

/* Authorize answers are in: on_subscribe for what is still allowed, or the end. */
static void after_authorize(hold_t *h)
{
    hmq_conn_t *c = h->c;
    hmq_hooks_t *hooks = c->w->broker->hooks;
    const hmq_hooks_client_t *cl = hmq_auth_client(c);
    uint32_t k = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        item_t *it = &h->items[i];
        if (it->code >= 0x80 || !hmq_hooks_wants(hooks, HMQ_HOOK_ON_SUBSCRIBE, cl, it->filter))
            continue;
        hmq_hooks_subscription_t *s = &h->hsubs[k];
        s->filter = it->filter;
        s->share_group = it->group;
        s->qos = it->code;
        s->no_local = it->opts.no_local;
        s->retain_as_published = it->opts.retain_as_published;
        s->retain_handling = it->opts.retain_handling;
        h->hidx[k++] = i;
    }
    if (!k) {
        finish(h);
        return;
    }
    h->sreq.data = h;
    h->sreq.client = cl;
    h->sreq.subs = h->hsubs;
    h->sreq.n_subs = k;
    h->sreq.subscription_id = h->sub_id;
    h->in_flight++;
    if (hmq_hooks_on_subscribe(c->w->hooks_loop, &h->sreq, on_subscribed) < 0) {
        h->in_flight--;
        for (uint32_t j = 0; j < k; j++)
            h->items[h->hidx[j]].code = HMQ_RC_UNSPECIFIED;
        finish(h);
    }
}

static void on_authorized(hmq_hooks_authz_req_t *req, int status, const hmq_hooks_verdict_t *res)
{
    item_t *it = req->data;
    hold_t *h = it->h;
    it->authz_pending = false;
    h->in_flight--;
    if (!h->c) {
        if (!h->in_flight) hold_free(h);
        return;
    }
    if (status < 0 || !res)
        it->code = HMQ_RC_UNSPECIFIED;
    else if (res->decision != HMQ_DECISION_ALLOW)
        it->code = suback_code(res->reason_code);
    if (!h->in_flight) after_authorize(h);
}

static bool split_share(item_t *it)
{
    if (strncmp(it->full, "$share/", 7) != 0) {
        it->filter = it->full;
        return true;
    }
    const char *g = it->full + 7;
    const char *slash = strchr(g, '/');
    if (!slash) return false;
    it->group_buf = strndup(g, (size_t)(slash - g));
    it->group = it->group_buf;
    it->filter = slash + 1;
    return it->group_buf != NULL;
}

/* Is any hook interested in this SUBSCRIBE? (authorize only matters when no grant decides,
 * which hmq_conn_subscribe_check tells later; asking the engine is cheap.) */
static bool interested(hmq_conn_t *c, const hmq_subscribe_t *sub)
{
    hmq_hooks_t *hooks = c->w->broker->hooks;
    const hmq_hooks_client_t *cl = hmq_auth_client(c);
    uint32_t pos = 0;
    hmq_bytes_t f;
    hmq_subopts_t o;
    char buf[256];
    bool any = false;
    while (!any && hmq_subscribe_next(sub, &pos, &f, &o)) {
        const char *fs = buf;
        char *heap = NULL;
        if (f.len >= sizeof buf) {
            if (!(heap = malloc(f.len + 1))) return true; /* let the full path fail cleanly */
            fs = heap;
        }
        memcpy((char *)fs, f.p, f.len);
        ((char *)fs)[f.len] = 0;
        if (strncmp(fs, "$share/", 7) == 0 && strchr(fs + 7, '/')) fs = strchr(fs + 7, '/') + 1;
        any = hmq_hooks_wants(hooks, HMQ_HOOK_ON_SUBSCRIBE, cl, fs) ||
              (!c->superuser && hmq_hooks_wants(hooks, HMQ_HOOK_AUTHORIZE, cl, fs));
        free(heap);
    }
    return any;
}

bool hmq_hook_subscribe_start(hmq_conn_t *c, const hmq_subscribe_t *sub, uint32_t sub_id)
{
    if (!interested(c, sub)) return false;
    hold_t *h = calloc(1, sizeof *h);
    uint32_t n = sub->count;
    if (!h || !(h->items = calloc(n ? n : 1, sizeof *h->items)) ||
        !(h->hsubs = calloc(n ? n : 1, sizeof *h->hsubs)) ||
        !(h->hidx = calloc(n ? n : 1, sizeof *h->hidx))) {
        if (h) hold_free(h);
        hmq_conn_close(c, HMQ_RC_SERVER_BUSY, NULL);
        return true;
    }
    h->c = c;
    h->packet_id = sub->packet_id;
    h->sub_id = sub_id;
    uint32_t pos = 0;
    hmq_bytes_t f;
    hmq_subopts_t o;
    while (h->n < n && hmq_subscribe_next(sub, &pos, &f, &o)) {
        item_t *it = &h->items[h->n++];
        it->h = h;
        it->opts = o;
        bool fatal = false, ask = false;
        it->code = hmq_conn_subscribe_check(c, f, o, &fatal, &ask);
        if (fatal) {
            hold_free(h);
            hmq_conn_protocol_error(c, HMQ_MQTT_E_PROTOCOL, "no local on a shared subscription");
            return true;
        }
        if (!(it->full = strndup((const char *)f.p, f.len)) || !split_share(it)) {
            it->code = HMQ_RC_UNSPECIFIED;
            continue;
        }
        if (it->code >= 0x80 || !ask) continue;
        const hmq_hooks_client_t *cl = hmq_auth_client(c);
        if (!hmq_hooks_wants(c->w->broker->hooks, HMQ_HOOK_AUTHORIZE, cl, it->filter)) {
            if (c->grants) it->code = HMQ_RC_NOT_AUTHORIZED; /* fallthrough, nobody to ask */
            continue;
        }
        it->authz.data = it;
        it->authz.client = cl;
        it->authz.action = HMQ_ACTION_SUBSCRIBE;
        it->authz.topic = it->filter;
        it->authz.share_group = it->group;
        it->authz.qos = it->code;
        it->authz_pending = true;
        h->in_flight++;
        if (hmq_hooks_authorize(c->w->hooks_loop, &it->authz, on_authorized) < 0) {
            it->authz_pending = false;
            h->in_flight--;
            it->code = HMQ_RC_UNSPECIFIED;
        }
    }
    c->sub_hold = h; /* input waits (hmq_conn_input_held) */
    h->starting = true;
    if (!h->in_flight) after_authorize(h);     /* answers never come inside the start call */
    if (c->sub_hold == h) h->starting = false; /* still waiting: the answer resumes input */
    return true;
}

void hmq_hook_subscribe_abort(hmq_conn_t *c)
{
    hold_t *h = c->sub_hold;
    if (!h) return;
    c->sub_hold = NULL;
    h->c = NULL;
    for (uint32_t i = 0; i < h->n; i++)
        if (h->items[i].authz_pending) hmq_hooks_op_cancel(h->items[i].authz.op);
    if (h->sreq.op) hmq_hooks_op_cancel(h->sreq.op);
    if (!h->in_flight) hold_free(h);
}
