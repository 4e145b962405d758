/* conn_subscribe.c - SUBSCRIBE and UNSUBSCRIBE: per-filter checks and granted QoS, the session's
 * records and the shared index, SUBACK/UNSUBACK, then retained messages per retain handling.
 */
#include "core/conn.h"

#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/hook_events.h"
#include "core/hook_subscribe.h"
#include "core/router.h"
#include "core/session.h"
#include "util/log.h"

#define MAX_FILTERS_ON_STACK 64

static bool has_wildcard(hmq_bytes_t f)
{
    return memchr(f.p, '+', f.len) || memchr(f.p, '#', f.len);
}

static unsigned count_levels(hmq_bytes_t f)
{
    unsigned n = 1;
    for (uint32_t i = 0; i < f.len; i++)
        n += f.p[i] == '/';
    return n;
}

/* The broker's own checks of one filter: the SUBACK failure code, or the QoS it may get. *fatal
 * is set when the whole connection must go ([MQTT-3.8.3-4]: no local on a shared subscription);
 * *ask when no grant decides and the authorize hooks should be asked (see hmq_auth_check). */
uint8_t hmq_conn_subscribe_check(hmq_conn_t *c, hmq_bytes_t filter, hmq_subopts_t opts, bool *fatal,
                                 bool *ask)
{
    const hmq_config_t *cfg = c->w->cfg;
    hmq_session_t *s = c->session;
    bool shared = filter.len > 7 && memcmp(filter.p, "$share/", 7) == 0;
    *ask = false;
    if (shared && opts.no_local) {
        *fatal = true;
        return HMQ_RC_PROTOCOL_ERROR;
    }
    if (shared && !cfg->shared_subscriptions) return HMQ_RC_SHARED_SUBS_NOT_SUPPORTED;
    if (!cfg->wildcard_subscriptions && has_wildcard(filter))
        return HMQ_RC_WILDCARD_SUBS_NOT_SUPPORTED;
    if (filter.len > cfg->max_topic_length || count_levels(filter) > cfg->max_topic_levels)
        return HMQ_RC_TOPIC_FILTER_INVALID;
    if (cfg->max_subscriptions && s->nsubs >= cfg->max_subscriptions) {
        bool exists = false;
        for (uint32_t i = 0; i < s->nsubs && !exists; i++)
            exists =
                s->subs[i].len == filter.len && !memcmp(s->subs[i].filter, filter.p, filter.len);
        if (!exists) return HMQ_RC_QUOTA_EXCEEDED;
    }
    if (opts.qos > cfg->maximum_qos) opts.qos = cfg->maximum_qos;
    if (c->grants || c->ident) {
        char *f = malloc(filter.len + 1);
        if (!f) return HMQ_RC_UNSPECIFIED;
        memcpy(f, filter.p, filter.len);
        f[filter.len] = 0;
        uint8_t denied = hmq_auth_check(c, HMQ_ACTION_SUBSCRIBE, f, &opts.qos, false);
        free(f);
        if (denied == HMQ_AUTH_ASK)
            *ask = true;
        else if (denied)
            return denied;
    }
    return opts.qos;
}

/* Record an allowed subscription (session and shared index); returns the SUBACK code. *cookie_out
 * names the record when retained messages are due (0 = none). */
uint8_t hmq_conn_subscribe_add(hmq_conn_t *c, hmq_bytes_t filter, hmq_subopts_t opts,
                               uint32_t sub_id, const char *asked, uint32_t *cookie_out)
{
    hmq_session_t *s = c->session;
    bool shared = filter.len > 7 && memcmp(filter.p, "$share/", 7) == 0;
    *cookie_out = 0;
    bool existed;
    hmq_sub_rec_t *rec =
        hmq_session_sub_add(s, (const char *)filter.p, filter.len, &opts, sub_id, &existed);
    if (!rec) return HMQ_RC_UNSPECIFIED;
    if (asked) { /* a hook rewrote the client's filter: UNSUBSCRIBE of the asked one finds it */
        free(rec->asked);
        rec->asked = strdup(asked);
    }
    hmq_sub_entry_t e = {.sub = s->handle,
                         .qos = opts.qos,
                         .no_local = opts.no_local,
                         .retain_as_published = opts.retain_as_published,
                         .retain_handling = opts.retain_handling,
                         .sub_id = sub_id,
                         .cookie = rec->cookie};
    if (hmq_topic_index_add(c->w->broker->index, rec->filter, rec->len, &e) < 0) {
        hmq_session_sub_del(s, (const char *)filter.p, filter.len);
        return HMQ_RC_UNSPECIFIED;
    }
    /* Retained messages: handling 0 always, 1 only for a new subscription, never for shared. */
    if (!shared && (opts.retain_handling == 0 || (opts.retain_handling == 1 && !existed)))
        *cookie_out = rec->cookie;
    if (c->ident) hmq_event_subscribed(c, (const char *)filter.p, filter.len, opts, opts.qos);
    return opts.qos;
}

/* SUBACK, then the retained messages of the subscriptions that asked for them. */
void hmq_conn_suback(hmq_conn_t *c, uint16_t packet_id, uint8_t *codes, const uint32_t *cookies,
                     uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        if (codes[k] >= 0x80 && c->version != HMQ_MQTT_V5) codes[k] = 0x80;
    hmq_packet_t ack = {.type = HMQ_SUBACK};
    ack.suback.packet_id = packet_id;
    ack.suback.codes = codes;
    ack.suback.count = n;
    hmq_conn_send_packet(c, &ack);
    for (uint32_t k = 0; k < n; k++) {
        hmq_sub_rec_t *rec = cookies[k] && codes[k] < 0x80
                                 ? hmq_session_sub_by_cookie(c->session, cookies[k])
                                 : NULL;
        if (rec) hmq_route_retained(c->session, rec);
    }
}

void hmq_conn_on_subscribe(hmq_conn_t *c, hmq_packet_t *p)
{
    hmq_subscribe_t *sub = &p->subscribe;
    const hmq_config_t *cfg = c->w->cfg;
    uint32_t sub_id = 0;
    if (sub->props.present & HMQ_PROP_BIT(HMQ_PROP_SUBSCRIPTION_ID)) {
        if (!cfg->subscription_identifiers) {
            hmq_conn_close(c, HMQ_RC_SUB_IDS_NOT_SUPPORTED,
                           "subscription identifiers not supported");
            return;
        }
        sub_id = sub->props.sub_id;
    }
    if (c->ident && hmq_hook_subscribe_start(c, sub, sub_id)) return; /* continued by hooks */
    uint8_t codes_stack[MAX_FILTERS_ON_STACK];
    uint32_t retained_stack[MAX_FILTERS_ON_STACK];
    uint8_t *codes = codes_stack;
    uint32_t *retained = retained_stack;
    if (sub->count > MAX_FILTERS_ON_STACK) {
        codes = malloc(sub->count);
        retained = malloc(sub->count * sizeof *retained);
        if (!codes || !retained) {
            free(codes);
            free(retained);
            hmq_conn_close(c, HMQ_RC_SERVER_BUSY, NULL);
            return;
        }
    }
    uint32_t pos = 0, i = 0;
    hmq_bytes_t filter;
    hmq_subopts_t opts;
    bool fatal = false, ask;
    while (i < sub->count && hmq_subscribe_next(sub, &pos, &filter, &opts)) {
        retained[i] = 0;
        codes[i] = hmq_conn_subscribe_check(c, filter, opts, &fatal, &ask);
        if (fatal) break;
        if (ask && c->grants) codes[i] = HMQ_RC_NOT_AUTHORIZED; /* fallthrough, nobody to ask */
        if (codes[i] < 0x80) {
            opts.qos = codes[i];
            codes[i] = hmq_conn_subscribe_add(c, filter, opts, sub_id, NULL, &retained[i]);
        }
        i++;
    }
    if (fatal)
        hmq_conn_protocol_error(c, HMQ_MQTT_E_PROTOCOL, "no local on a shared subscription");
    else
        hmq_conn_suback(c, sub->packet_id, codes, retained, i);
    if (codes != codes_stack) {
        free(codes);
        free(retained);
    }
}

void hmq_conn_on_unsubscribe(hmq_conn_t *c, hmq_packet_t *p)
{
    hmq_subscribe_t *sub = &p->subscribe;
    hmq_session_t *s = c->session;
    uint8_t codes_stack[MAX_FILTERS_ON_STACK];
    uint8_t *codes = sub->count > MAX_FILTERS_ON_STACK ? malloc(sub->count) : codes_stack;
    if (!codes) {
        hmq_conn_close(c, HMQ_RC_SERVER_BUSY, NULL);
        return;
    }
    uint32_t pos = 0, i = 0;
    hmq_bytes_t filter;
    while (i < sub->count && hmq_unsubscribe_next(sub, &pos, &filter)) {
        bool had = hmq_session_sub_del(s, (const char *)filter.p, filter.len);
        if (had)
            hmq_topic_index_remove(c->w->broker->index, (const char *)filter.p, filter.len,
                                   s->handle);
        hmq_sub_rec_t *rw = had ? NULL : hmq_session_sub_by_asked(s, (const char *)filter.p,
                                                                 filter.len);
        char *f = rw ? strndup(rw->filter, rw->len) : NULL;
        if (f) { /* the client's filter, rewritten by a hook: remove what it became */
            hmq_topic_index_remove(c->w->broker->index, f, strlen(f), s->handle);
            had = hmq_session_sub_del(s, f, strlen(f));
            free(f);
        }
        if (had && c->ident) hmq_event_unsubscribed(c, (const char *)filter.p, filter.len);
        codes[i++] = had ? HMQ_RC_SUCCESS : HMQ_RC_NO_SUBSCRIPTION_EXISTED;
    }
    hmq_packet_t ack = {.type = HMQ_UNSUBACK};
    ack.suback.packet_id = sub->packet_id;
    ack.suback.codes = codes;
    ack.suback.count = i;
    hmq_conn_send_packet(c, &ack);
    if (codes != codes_stack) free(codes);
}
