/* conn_connect.c - CONNECT handling: client identifier, hand-over to the session's home worker,
 * session takeover / resume / clean start, will, negotiated limits, CONNACK; and DISCONNECT.
 */
#include "core/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/hook_events.h"
#include "core/message_build.h"
#include "core/session.h"
#include "util/log.h"

static void send_connack(hmq_conn_t *c, uint8_t code, bool present, const hmq_props_t *props)
{
    hmq_packet_t p = {.type = HMQ_CONNACK};
    p.connack.code = code;
    p.connack.session_present = present;
    if (props) p.connack.props = *props;
    hmq_conn_send_packet(c, &p);
}

void hmq_conn_refuse(hmq_conn_t *c, uint8_t v5_code, uint8_t v3_code, const char *why)
{
    LOG_DEBUG("connect_refused", "peer=%s reason=\"%s\"", hmq_conn_peer(c), why);
    hmq_props_t props = {0};
    if (c->version == HMQ_MQTT_V5 && c->request_problem_info) {
        props.present = HMQ_PROP_BIT(HMQ_PROP_REASON_STRING);
        props.reason_string.p = (const uint8_t *)why;
        props.reason_string.len = (uint32_t)strlen(why);
    }
    send_connack(c, c->version == HMQ_MQTT_V5 ? v5_code : v3_code, false, &props);
    hmq_conn_close(c, 0, NULL);
}

/* An identifier for a client that sent none, chosen so that its home is this worker (the
 * connection does not need to move). */
static int assign_client_id(hmq_conn_t *c, char *out, size_t cap)
{
    hmq_broker_t *b = c->w->broker;
    for (int tries = 0; tries < 1000; tries++) {
        int n = snprintf(out, cap, "hmq-%016llx", (unsigned long long)hmq_broker_new_uid(b));
        if (hmq_worker_home(b, out, (size_t)n) == c->w->id) return n;
    }
    return snprintf(out, cap, "hmq-%016llx", (unsigned long long)hmq_broker_new_uid(b));
}

/* The certificate's CN or first SAN into buf; returns its length, or 0 if there is none. */
static int cert_name(hmq_conn_t *c, hmq_cert_id_t which, char *buf, size_t cap)
{
    if (!c->tls) { /* PROXY v2: the load balancer verified it and passed the CN */
        const hmq_proxy_tls_t *p = c->proxy_tls;
        if (which != HMQ_CERT_ID_CN || !p || !p->cert_verified || !p->cn || !*p->cn) return 0;
        return strlen(p->cn) < cap ? snprintf(buf, cap, "%s", p->cn) : 0;
    }
    hmq_tls_identity_t *ident = NULL;
    if (hmq_tls_identity(c->tls, &ident) < 0 || !ident) return 0;
    const char *name =
        hmq_tls_identity_name(ident, which == HMQ_CERT_ID_CN ? HMQ_TLS_NAME_CN : HMQ_TLS_NAME_SAN);
    int n = name && *name && strlen(name) < cap ? snprintf(buf, cap, "%s", name) : 0;
    hmq_tls_identity_free(ident);
    return n;
}

static hmq_msg_t *build_will(hmq_conn_t *c, const hmq_connect_t *k)
{
    return hmq_msg_build(k->will_topic, k->will_payload,
                         k->version == HMQ_MQTT_V5 ? &k->will_props : NULL, k->will_qos,
                         k->will_retain, hmq_wall_ms());
}

/* Validate what the specification and our limits require beyond syntax. Returns false after
 * refusing the connection. */
static bool check_connect(hmq_conn_t *c, const hmq_connect_t *k)
{
    const hmq_config_t *cfg = c->w->cfg;
    if ((k->props.present & HMQ_PROP_BIT(HMQ_PROP_AUTH_METHOD)) && !c->w->broker->hooks) {
        hmq_conn_refuse(c, HMQ_RC_BAD_AUTH_METHOD, HMQ_V3_REFUSED_NOT_AUTHORIZED,
                        "authentication method not supported");
        return false;
    }
    if (!cfg->allow_anonymous && !c->w->broker->hooks) { /* with hooks, the hook decides */
        hmq_conn_refuse(c, HMQ_RC_NOT_AUTHORIZED, HMQ_V3_REFUSED_NOT_AUTHORIZED, "not authorized");
        return false;
    }
    if (k->will_flag) {
        if (k->will_qos > cfg->maximum_qos) {
            hmq_conn_refuse(c, HMQ_RC_QOS_NOT_SUPPORTED, HMQ_V3_REFUSED_NOT_AUTHORIZED,
                            "will QoS not supported");
            return false;
        }
        if (k->will_retain && !cfg->retain_available) {
            hmq_conn_refuse(c, HMQ_RC_RETAIN_NOT_SUPPORTED, HMQ_V3_REFUSED_NOT_AUTHORIZED,
                            "retain not supported");
            return false;
        }
        if (k->will_topic.len > cfg->max_topic_length) {
            hmq_conn_refuse(c, HMQ_RC_TOPIC_NAME_INVALID, HMQ_V3_REFUSED_NOT_AUTHORIZED,
                            "will topic too long");
            return false;
        }
    }
    if (k->version != HMQ_MQTT_V5 && cfg->max_keepalive &&
        (k->keepalive == 0 || k->keepalive > cfg->max_keepalive)) {
        /* v3 has no way to tell the client another keep alive: refuse (docs/configuration.md) */
        hmq_conn_refuse(c, HMQ_RC_IMPL_SPECIFIC, HMQ_V3_REFUSED_IDENTIFIER,
                        "keep alive above maximum");
        return false;
    }
    return true;
}

/* Takeover: the client id is connected already. The old connection is closed (v5: DISCONNECT
 * 0x8E) as an abnormal end: a will without delay is published now, a delayed one is pending and
 * is then cancelled by this connection, or published if this connection ends the session. */
static void take_over(hmq_session_t *s)
{
    hmq_conn_t *old = s->conn;
    LOG_DEBUG("session_takeover", "peer=%s", hmq_conn_peer(old));
    hmq_conn_close(old, HMQ_RC_SESSION_TAKEN_OVER, "session taken over");
}

void hmq_conn_on_connect(hmq_conn_t *c, hmq_packet_t *p, const uint8_t *raw, size_t raw_len)
{
    hmq_connect_t *k = &p->connect;
    hmq_worker_t *w = c->w;
    const hmq_config_t *cfg = w->cfg;
    c->version = k->version;
    if (k->version == HMQ_MQTT_V5 &&
        (k->props.present & HMQ_PROP_BIT(HMQ_PROP_REQUEST_PROBLEM_INFO)))
        c->request_problem_info = k->props.request_problem_info;

    char assigned[32];
    char from_cert[256];
    const char *id = (const char *)k->client_id.p;
    size_t id_len = k->client_id.len;
    bool id_assigned = false;
    hmq_cert_id_t cert_id = cfg->listeners[c->listener].tls_client_id_from;
    if ((c->tls || c->proxy_tls) && cert_id != HMQ_CERT_ID_NONE) {
        /* The verified certificate names the device; what CONNECT says does not count. */
        int n = cert_name(c, cert_id, from_cert, sizeof from_cert);
        if (n <= 0) {
            hmq_conn_refuse(c, HMQ_RC_CLIENT_ID_NOT_VALID, HMQ_V3_REFUSED_IDENTIFIER,
                            "no client identifier in the certificate");
            return;
        }
        id = from_cert;
        id_len = (size_t)n;
    } else if (id_len == 0) {
        bool allowed = cfg->allow_zero_length_client_id && k->version != HMQ_MQTT_V31 &&
                       (k->version == HMQ_MQTT_V5 || k->clean_start); /* [MQTT-3.1.3-8] */
        if (!allowed) {
            hmq_conn_refuse(c, HMQ_RC_CLIENT_ID_NOT_VALID, HMQ_V3_REFUSED_IDENTIFIER,
                            "client identifier not valid");
            return;
        }
        /* Kept on the connection: after an Authenticate call, CONNECT is processed again and
         * must get the identifier the hook was told about. */
        if (!c->assigned_id) {
            int n = assign_client_id(c, assigned, sizeof assigned);
            c->assigned_id = strndup(assigned, (size_t)n);
        }
        id = c->assigned_id ? c->assigned_id : assigned;
        id_len = strlen(id);
        id_assigned = true;
    } else if (id_len > 65535) {
        hmq_conn_refuse(c, HMQ_RC_CLIENT_ID_NOT_VALID, HMQ_V3_REFUSED_IDENTIFIER,
                        "client id too long");
        return;
    }

    uint32_t home = hmq_worker_home(w->broker, id, id_len);
    if (home != w->id) {
        hmq_conn_migrate(c, home, raw, raw_len);
        return;
    }
    if (!check_connect(c, k)) return;
    size_t plen = 0;
    hmq_bytes_t effective = {(const uint8_t *)id, (uint32_t)id_len};
    if (hmq_mqtt_frame(raw, raw_len, 0, &plen) == 1 && hmq_auth_start(c, k, effective, raw, plen))
        return; /* continued by the answer (auth.c) */

    /* Session: takeover, clean start, resume. */
    hmq_session_t *s = hmq_map_get(&w->sessions, id, id_len);
    if (s && s->conn) {
        take_over(s);
        s = hmq_map_get(&w->sessions, id, id_len); /* a clean session ended with its connection */
    }
    if (s && k->clean_start) {
        hmq_session_end(s); /* publishes a will whose delay was still running */
        s = NULL;
    } else if (s && s->will) {
        /* A reconnect before the will delay ran out cancels the delayed will. */
        hmq_msg_unref(s->will);
        s->will = NULL;
        s->will_at = 0;
    }
    bool present = s != NULL;
    if (!s && !(s = hmq_session_new(w, id, id_len))) {
        hmq_conn_refuse(c, HMQ_RC_SERVER_UNAVAILABLE, HMQ_V3_REFUSED_SERVER_UNAVAILABLE,
                        "out of memory");
        return;
    }
    s->version = k->version;
    hmq_props_t ack = {0};
    if (k->version == HMQ_MQTT_V5) {
        uint32_t exp = (k->props.present & HMQ_PROP_BIT(HMQ_PROP_SESSION_EXPIRY))
                           ? k->props.session_expiry
                           : 0;
        if (exp > cfg->max_session_expiry) {
            exp = cfg->max_session_expiry;
            ack.present |= HMQ_PROP_BIT(HMQ_PROP_SESSION_EXPIRY);
            ack.session_expiry = exp;
        }
        s->expiry_s = exp;
        s->clean = exp == 0;
        if (k->props.present & HMQ_PROP_BIT(HMQ_PROP_RECEIVE_MAXIMUM))
            c->client_receive_max = k->props.receive_maximum;
        if (k->props.present & HMQ_PROP_BIT(HMQ_PROP_MAXIMUM_PACKET_SIZE))
            c->client_max_packet = k->props.maximum_packet_size;
        if (k->props.present & HMQ_PROP_BIT(HMQ_PROP_TOPIC_ALIAS_MAXIMUM))
            c->client_alias_max = k->props.topic_alias_maximum;
    } else {
        s->clean = k->clean_start;
        s->expiry_s = k->clean_start ? 0 : cfg->max_session_expiry;
    }

    /* Keep alive: v5 clients get the server's value when they ask for more or for none. */
    c->keepalive = k->keepalive;
    if (k->version == HMQ_MQTT_V5 && cfg->max_keepalive &&
        (k->keepalive == 0 || k->keepalive > cfg->max_keepalive)) {
        c->keepalive = cfg->max_keepalive;
        ack.present |= HMQ_PROP_BIT(HMQ_PROP_SERVER_KEEP_ALIVE);
        ack.server_keep_alive = cfg->max_keepalive;
    }

    if (k->will_flag) {
        s->will = build_will(c, k);
        s->will_delay_s = (k->version == HMQ_MQTT_V5 &&
                           (k->will_props.present & HMQ_PROP_BIT(HMQ_PROP_WILL_DELAY)))
                              ? k->will_props.will_delay
                              : 0;
    }

    if (k->version == HMQ_MQTT_V5) {
        if (id_assigned) {
            ack.present |= HMQ_PROP_BIT(HMQ_PROP_ASSIGNED_CLIENT_ID);
            ack.assigned_client_id.p = (const uint8_t *)id;
            ack.assigned_client_id.len = (uint32_t)id_len;
        }
        ack.present |= HMQ_PROP_BIT(HMQ_PROP_RECEIVE_MAXIMUM) |
                       HMQ_PROP_BIT(HMQ_PROP_MAXIMUM_PACKET_SIZE) |
                       HMQ_PROP_BIT(HMQ_PROP_TOPIC_ALIAS_MAXIMUM);
        ack.receive_maximum = cfg->max_inflight;
        ack.maximum_packet_size = cfg->max_packet_size;
        ack.topic_alias_maximum = cfg->topic_alias_maximum;
        if (cfg->maximum_qos < 2) {
            ack.present |= HMQ_PROP_BIT(HMQ_PROP_MAXIMUM_QOS);
            ack.maximum_qos = cfg->maximum_qos;
        }
        if (!cfg->retain_available) {
            ack.present |= HMQ_PROP_BIT(HMQ_PROP_RETAIN_AVAILABLE);
            ack.retain_available = 0;
        }
        if (!cfg->wildcard_subscriptions) {
            ack.present |= HMQ_PROP_BIT(HMQ_PROP_WILDCARD_SUB_AVAILABLE);
            ack.wildcard_sub_available = 0;
        }
        if (!cfg->subscription_identifiers) {
            ack.present |= HMQ_PROP_BIT(HMQ_PROP_SUB_ID_AVAILABLE);
            ack.sub_id_available = 0;
        }
        if (!cfg->shared_subscriptions) {
            ack.present |= HMQ_PROP_BIT(HMQ_PROP_SHARED_SUB_AVAILABLE);
            ack.shared_sub_available = 0;
        }
    }
    c->state = HMQ_CONN_CONNECTED;
    atomic_fetch_add(&w->broker->clients_connected, 1);
    HMQ_STAT_ADD(w->stats.connects, 1);
    if (c->version == HMQ_MQTT_V5) hmq_auth_connack_props(c, &ack);
    send_connack(c, 0, present, &ack);
    LOG_DEBUG("connected", "peer=%s client_id=%.*s version=%u session_present=%d", hmq_conn_peer(c),
              (int)id_len, id, k->version, present);
    hmq_session_attach(s, c);
    if (c->ident) {
        if (!present) hmq_event_session(c, HMQ_EVENT_SESSION_CREATED);
        hmq_event_connected(c, present, s->expiry_s);
    }
    hmq_session_resume(s);
}

void hmq_conn_on_disconnect(hmq_conn_t *c, hmq_packet_t *p)
{
    hmq_session_t *s = c->session;
    uint8_t code = c->version == HMQ_MQTT_V5 ? p->reason.code : 0;
    if (c->version == HMQ_MQTT_V5 &&
        (p->reason.props.present & HMQ_PROP_BIT(HMQ_PROP_SESSION_EXPIRY))) {
        /* [MQTT-3.14.2-2] a session expiry of 0 at CONNECT cannot be changed at DISCONNECT */
        if (s->expiry_s == 0 && p->reason.props.session_expiry != 0) {
            hmq_conn_protocol_error(c, HMQ_MQTT_E_PROTOCOL, "session expiry set at DISCONNECT");
            return;
        }
        uint32_t exp = p->reason.props.session_expiry;
        if (exp > c->w->cfg->max_session_expiry) exp = c->w->cfg->max_session_expiry;
        s->expiry_s = exp;
        s->clean = exp == 0;
    }
    /* 0x04: disconnect with will message; anything else normal: the will is discarded. */
    c->will_suppressed = code != HMQ_RC_DISCONNECT_WITH_WILL;
    c->client_disconnected = true;
    hmq_conn_close(c, 0, NULL);
}
