/* conn_publish.c - inbound PUBLISH and PUBREL: limits, topic aliases, QoS 2 exactly-once
 * bookkeeping, retained store update, routing, and the acknowledgement.
 */
#include "core/conn.h"

#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/hook_events.h"
#include "core/conn_int.h"
#include "core/hook_publish.h"
#include "core/message_build.h"
#include "core/router.h"
#include "core/session.h"
#include "util/log.h"

static void send_ack(hmq_conn_t *c, uint8_t type, uint16_t pid, uint8_t code)
{
    hmq_packet_t p = {.type = type};
    p.ack.packet_id = pid;
    p.ack.code = c->version == HMQ_MQTT_V5 ? code : 0;
    hmq_conn_send_packet(c, &p);
}

/* Refuse one PUBLISH: v5 QoS 1/2 get the reason in their ack and the connection stays; anything
 * else closes the connection (v5 with DISCONNECT and the reason). */
static void refuse_publish(hmq_conn_t *c, const hmq_publish_t *pub, uint8_t code, const char *why)
{
    if (c->version == HMQ_MQTT_V5 && pub->qos > 0) {
        send_ack(c, pub->qos == 1 ? HMQ_PUBACK : HMQ_PUBREC, pub->packet_id, code);
        return;
    }
    if (c->version == HMQ_MQTT_V5 && code == HMQ_RC_NOT_AUTHORIZED) return; /* QoS 0: dropped */
    hmq_conn_close(c, code, why);
}

static unsigned count_levels(const uint8_t *t, size_t len)
{
    unsigned n = 1;
    for (size_t i = 0; i < len; i++)
        n += t[i] == '/';
    return n;
}

/* Resolve or record a v5 Topic Alias. Returns false after closing the connection. */
static bool resolve_alias(hmq_conn_t *c, hmq_publish_t *pub)
{
    uint16_t max = c->w->cfg->topic_alias_maximum;
    uint16_t alias = pub->props.topic_alias;
    if (alias == 0 || alias > max) {
        hmq_conn_close(c, HMQ_RC_TOPIC_ALIAS_INVALID, "topic alias invalid"); /* [MQTT-3.3.2-9] */
        return false;
    }
    if (!c->in_aliases && !(c->in_aliases = calloc(max, sizeof *c->in_aliases))) {
        hmq_conn_close(c, HMQ_RC_SERVER_BUSY, NULL);
        return false;
    }
    char **slot = &c->in_aliases[alias - 1];
    if (pub->topic.len) {
        char *t = realloc(*slot, pub->topic.len + 1);
        if (!t) {
            hmq_conn_close(c, HMQ_RC_SERVER_BUSY, NULL);
            return false;
        }
        memcpy(t, pub->topic.p, pub->topic.len);
        t[pub->topic.len] = 0;
        *slot = t;
        return true;
    }
    if (!*slot) {
        hmq_conn_protocol_error(c, HMQ_MQTT_E_PROTOCOL, "unknown topic alias");
        return false;
    }
    pub->topic.p = (const uint8_t *)*slot;
    pub->topic.len = (uint32_t)strlen(*slot);
    return true;
}

void hmq_conn_on_publish(hmq_conn_t *c, hmq_packet_t *p)
{
    hmq_publish_t *pub = &p->publish;
    hmq_worker_t *w = c->w;
    const hmq_config_t *cfg = w->cfg;
    hmq_session_t *s = c->session;
    HMQ_STAT_ADD(w->stats.msgs_received, 1);

    if (pub->qos > cfg->maximum_qos) { /* [MQTT-3.2.2-11] */
        hmq_conn_close(c, HMQ_RC_QOS_NOT_SUPPORTED, "QoS not supported");
        return;
    }
    if (pub->retain && !cfg->retain_available) { /* [MQTT-3.3.1-14] */
        hmq_conn_close(c, HMQ_RC_RETAIN_NOT_SUPPORTED, "retain not supported");
        return;
    }
    if (pub->props.present & HMQ_PROP_BIT(HMQ_PROP_SUBSCRIPTION_ID)) { /* [MQTT-3.3.4-6] */
        hmq_conn_protocol_error(c, HMQ_MQTT_E_PROTOCOL, "subscription identifier from a client");
        return;
    }
    if (c->version == HMQ_MQTT_V5 && (pub->props.present & HMQ_PROP_BIT(HMQ_PROP_TOPIC_ALIAS))) {
        if (!resolve_alias(c, pub)) return;
    } else if (pub->topic.len == 0) {
        hmq_conn_protocol_error(c, HMQ_MQTT_E_PROTOCOL, "empty topic without alias");
        return;
    }
    if (pub->topic.len > cfg->max_topic_length ||
        count_levels(pub->topic.p, pub->topic.len) > cfg->max_topic_levels) {
        refuse_publish(c, pub, HMQ_RC_TOPIC_NAME_INVALID, "topic exceeds limits");
        return;
    }
    if (pub->topic.len >= 4 && memcmp(pub->topic.p, "$SYS", 4) == 0) {
        refuse_publish(c, pub, HMQ_RC_NOT_AUTHORIZED, "$SYS is read-only");
        return;
    }
    if (pub->qos == 2) {
        /* v5 clients are held to the Receive Maximum we announced; v3 has no such limit. */
        uint16_t max = c->version == HMQ_MQTT_V5 ? cfg->max_inflight : UINT16_MAX;
        int rc = hmq_session_rx_qos2_add(s, pub->packet_id, max);
        if (rc == 0) { /* retransmission before PUBREL: acknowledged, not routed again */
            send_ack(c, HMQ_PUBREC, pub->packet_id, 0);
            return;
        }
        if (rc < 0) { /* [MQTT-3.3.4-9] more than our Receive Maximum unacknowledged */
            hmq_conn_close(c, HMQ_RC_RECEIVE_MAX_EXCEEDED, "receive maximum exceeded");
            return;
        }
    }
    hmq_msg_t *msg =
        hmq_msg_build(pub->topic, pub->payload, c->version == HMQ_MQTT_V5 ? &pub->props : NULL,
                      pub->qos, pub->retain, hmq_wall_ms());
    if (!msg) {
        if (pub->qos == 2) hmq_session_rx_qos2_del(s, pub->packet_id);
        refuse_publish(c, pub, HMQ_RC_SERVER_BUSY, "out of memory");
        return;
    }
    uint8_t granted = pub->qos;
    uint8_t denied = hmq_auth_check(c, HMQ_ACTION_PUBLISH, msg->topic, &granted, pub->retain);
    bool authorize = false;
    if (denied == HMQ_AUTH_ASK) { /* no grant decides: the authorize hooks, if any */
        authorize =
            hmq_hooks_wants(w->broker->hooks, HMQ_HOOK_AUTHORIZE, hmq_auth_client(c), msg->topic);
        denied = authorize || !c->grants ? 0 : HMQ_RC_NOT_AUTHORIZED;
    }
    if (denied) {
        /* PUBACK/PUBREC may only say "not authorized" for this (0x9A, 0x9B are CONNACK codes) */
        denied = denied == HMQ_RC_QUOTA_EXCEEDED ? denied : HMQ_RC_NOT_AUTHORIZED;
        if (c->ident) hmq_event_message(c, HMQ_EVENT_DROPPED, msg, 0, denied, "not_authorized");
        hmq_msg_unref(msg);
        HMQ_STAT_ADD(w->stats.dropped_not_authorized, 1);
        if (c->pub_head) { /* earlier publishes wait for hooks: the refusal waits its turn */
            hmq_hook_publish_refuse(c, pub, denied);
            return;
        }
        hmq_conn_publish_drop(c, pub->qos, pub->packet_id, denied);
        return;
    }
    bool on_publish = c->ident && hmq_hook_publish_wanted(c, msg->topic);
    if (authorize || on_publish || c->pub_head) {
        hmq_hook_publish_hold(c, pub, msg, authorize, on_publish);
        return;
    }
    hmq_conn_publish_route(c, msg, pub->qos, pub->packet_id);
}

void hmq_conn_publish_drop(hmq_conn_t *c, uint8_t qos, uint16_t packet_id, uint8_t code)
{
    /* Not routed. v5 QoS 1/2 learn why in the ack; v3 has no negative ack: acknowledged and
     * dropped (a closed connection would only make the device resend it forever). QoS 0: the
     * message is gone, the connection stays. */
    if (qos == 2) hmq_session_rx_qos2_del(c->session, packet_id);
    if (qos == 0) return;
    send_ack(c, qos == 1 ? HMQ_PUBACK : HMQ_PUBREC, packet_id,
             c->version == HMQ_MQTT_V5 ? code : 0);
}

void hmq_conn_publish_route(hmq_conn_t *c, hmq_msg_t *msg, uint8_t qos, uint16_t packet_id)
{
    hmq_worker_t *w = c->w;
    hmq_session_t *s = c->session;
    msg->origin_uid = s->uid;
    if (msg->retain) hmq_retained_set(w->broker->retained, msg->topic, msg->topic_len, msg);
    hmq_subscriber_t *congested = NULL;
    uint32_t n = hmq_route(w, msg, &congested);
    hmq_msg_unref(msg);
    if (congested) hmq_conn_wait_for(c, congested);
    uint8_t code = n ? HMQ_RC_SUCCESS : HMQ_RC_NO_MATCHING_SUBSCRIBERS;
    if (qos == 1)
        send_ack(c, HMQ_PUBACK, packet_id, code);
    else if (qos == 2)
        send_ack(c, HMQ_PUBREC, packet_id, code);
}

void hmq_conn_on_pubrel(hmq_conn_t *c, hmq_packet_t *p)
{
    bool known = hmq_session_rx_qos2_del(c->session, p->ack.packet_id);
    send_ack(c, HMQ_PUBCOMP, p->ack.packet_id, known ? 0 : HMQ_RC_PACKET_ID_NOT_FOUND);
}
