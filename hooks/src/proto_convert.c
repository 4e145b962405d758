/* proto_convert.c - hook engine structs <-> hooks.proto messages (see proto_convert.h). */
#include "proto_convert.h"

#include <stdlib.h>
#include <string.h>

#define S(x) ((char *)((x) ? (x) : ""))

static int user_props(const hmq_hooks_pair_t *src, size_t n, Hookmq__V1__UserProperty **ups,
                      Hookmq__V1__UserProperty ***upp)
{
    *ups = NULL;
    *upp = NULL;
    if (!n) return 0;
    *ups = calloc(n, sizeof(**ups));
    *upp = calloc(n, sizeof(**upp));
    if (!*ups || !*upp) {
        free(*ups);
        free(*upp);
        *ups = NULL;
        *upp = NULL;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        hookmq__v1__user_property__init(&(*ups)[i]);
        (*ups)[i].key = S(src[i].key);
        (*ups)[i].value = S(src[i].value);
        (*upp)[i] = &(*ups)[i];
    }
    return 0;
}

static void fill_tls(hmq_pb_client_t *pc, const hmq_hooks_tls_t *t, bool want_chain)
{
    Hookmq__V1__TlsInfo *ti = &pc->ti;
    ti->version = S(t->version);
    ti->cipher = S(t->cipher);
    ti->sni = S(t->sni);
    ti->alpn = S(t->alpn);
    ti->via_proxy = t->via_proxy;
    if (want_chain) ti->chain_pem = S(t->chain_pem);
    if (t->has_peer_certificate) {
        Hookmq__V1__Certificate *cert = &pc->cert;
        cert->subject = S(t->subject);
        cert->issuer = S(t->issuer);
        cert->common_name = S(t->common_name);
        cert->serial = S(t->serial);
        cert->fingerprint_sha256 = S(t->fingerprint_sha256);
        cert->n_san_dns = t->n_san_dns;
        cert->san_dns = (char **)t->san_dns;
        cert->n_san_ip = t->n_san_ip;
        cert->san_ip = (char **)t->san_ip;
        cert->not_before_unix_ms = t->not_before_unix_ms;
        cert->not_after_unix_ms = t->not_after_unix_ms;
        ti->peer_certificate = cert;
    }
    pc->ci.tls = ti;
}

int hmq_pb_client_init(hmq_pb_client_t *pc, const hmq_hooks_client_t *c, const char *node,
                       const hmq_pb_identity_opts_t *opts)
{
    memset(pc, 0, sizeof(*pc));
    hookmq__v1__client_info__init(&pc->ci);
    hookmq__v1__connect_properties__init(&pc->cp);
    hookmq__v1__tls_info__init(&pc->ti);
    hookmq__v1__certificate__init(&pc->cert);
    Hookmq__V1__ClientInfo *ci = &pc->ci;
    ci->client_id = S(c->client_id);
    if (c->username) {
        ci->username = (char *)c->username;
        ci->has_username = 1;
    }
    ci->protocol_version = c->protocol_version;
    ci->listener = S(c->listener);
    ci->peer_address = S(c->peer_address);
    ci->peer_port = c->peer_port;
    ci->keepalive = c->keepalive;
    ci->clean_start = c->clean_start;
    ci->node = S(node);
    if (c->has_properties) {
        Hookmq__V1__ConnectProperties *cp = &pc->cp;
        cp->session_expiry_interval = c->session_expiry_interval;
        cp->receive_maximum = c->receive_maximum;
        cp->maximum_packet_size = c->maximum_packet_size;
        cp->topic_alias_maximum = c->topic_alias_maximum;
        cp->request_response_information = c->request_response_information;
        cp->request_problem_information = c->request_problem_information;
        cp->authentication_method = S(c->authentication_method);
        ci->properties = cp;
    }
    if (user_props(c->user_properties, c->n_user_properties, &pc->ups, &pc->upp) < 0) return -1;
    ci->n_user_properties = c->n_user_properties;
    ci->user_properties = pc->upp;
    if (c->n_attributes) {
        pc->attrs = calloc(c->n_attributes, sizeof(*pc->attrs));
        pc->attrp = calloc(c->n_attributes, sizeof(*pc->attrp));
        if (!pc->attrs || !pc->attrp) {
            hmq_pb_client_clear(pc);
            return -1;
        }
        for (size_t i = 0; i < c->n_attributes; i++) {
            hookmq__v1__client_info__attributes_entry__init(&pc->attrs[i]);
            pc->attrs[i].key = S(c->attributes[i].key);
            pc->attrs[i].value = S(c->attributes[i].value);
            pc->attrp[i] = &pc->attrs[i];
        }
        ci->n_attributes = c->n_attributes;
        ci->attributes = pc->attrp;
    }
    if (c->tls) fill_tls(pc, c->tls, opts && opts->tls_chain);
    return 0;
}

void hmq_pb_client_clear(hmq_pb_client_t *pc)
{
    free(pc->ups);
    free(pc->upp);
    free(pc->attrs);
    free(pc->attrp);
    pc->ups = NULL;
    pc->upp = NULL;
    pc->attrs = NULL;
    pc->attrp = NULL;
}

int hmq_pb_message_init(hmq_pb_message_t *pm, const hmq_hooks_message_t *msg, bool want_payload)
{
    memset(pm, 0, sizeof(*pm));
    Hookmq__V1__PublishMessage *m = &pm->m;
    hookmq__v1__publish_message__init(m);
    m->topic = S(msg->topic);
    if (want_payload) {
        m->payload.data = (uint8_t *)msg->payload;
        m->payload.len = msg->payload_len;
    }
    m->payload_size = (uint32_t)msg->payload_len;
    m->qos = msg->qos;
    m->retain = msg->retain;
    m->has_message_expiry = msg->has_message_expiry;
    m->message_expiry_interval = msg->message_expiry_interval;
    m->payload_format_indicator = msg->payload_format;
    m->content_type = S(msg->content_type);
    m->response_topic = S(msg->response_topic);
    if (msg->has_correlation_data) {
        m->correlation_data.data = (uint8_t *)msg->correlation_data;
        m->correlation_data.len = msg->correlation_len;
    }
    m->received_unix_ms = msg->received_unix_ms;
    if (user_props(msg->user_properties, msg->n_user_properties, &pm->ups, &pm->upp) < 0) return -1;
    m->n_user_properties = msg->n_user_properties;
    m->user_properties = pm->upp;
    return 0;
}

void hmq_pb_message_clear(hmq_pb_message_t *pm)
{
    free(pm->ups);
    free(pm->upp);
    pm->ups = NULL;
    pm->upp = NULL;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n) memcpy(d, p, n);
    return d;
}

void hmq_hooks_message_free_owned(hmq_hooks_message_t *m)
{
    free((char *)m->topic);
    free((uint8_t *)m->payload);
    free((char *)m->content_type);
    free((char *)m->response_topic);
    free((uint8_t *)m->correlation_data);
    for (size_t i = 0; i < m->n_user_properties; i++) {
        free((char *)m->user_properties[i].key);
        free((char *)m->user_properties[i].value);
    }
    free((hmq_hooks_pair_t *)m->user_properties);
    memset(m, 0, sizeof(*m));
}

static bool valid_topic(const char *t)
{
    return t && *t && !strpbrk(t, "+#");
}

static int copy_field(Hookmq__V1__MessageField f, const Hookmq__V1__PublishMessage *src,
                      hmq_hooks_message_t *out)
{
    switch (f) {
    case HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_TOPIC:
        if (!valid_topic(src->topic)) return -1;
        free((char *)out->topic);
        return (out->topic = strdup(src->topic)) ? 0 : -1;
    case HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_PAYLOAD:
        free((uint8_t *)out->payload);
        out->payload_len = src->payload.len;
        return (out->payload = dup_bytes(src->payload.data, src->payload.len)) ? 0 : -1;
    case HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_QOS:
        if (src->qos > 2) return -1;
        out->qos = (uint8_t)src->qos;
        return 0;
    case HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_RETAIN:
        out->retain = src->retain;
        return 0;
    case HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_MESSAGE_EXPIRY:
        out->has_message_expiry = src->has_message_expiry;
        out->message_expiry_interval = src->message_expiry_interval;
        return 0;
    case HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_USER_PROPERTIES: {
        size_t n = src->n_user_properties;
        hmq_hooks_pair_t *ps = calloc(n ? n : 1, sizeof(*ps));
        if (!ps) return -1;
        for (size_t i = 0; i < n; i++) {
            ps[i].key = strdup(S(src->user_properties[i]->key));
            ps[i].value = strdup(S(src->user_properties[i]->value));
        }
        out->user_properties = ps; /* set first: free_owned releases partial copies */
        out->n_user_properties = n;
        for (size_t i = 0; i < n; i++)
            if (!ps[i].key || !ps[i].value) return -1;
        return 0;
    }
    case HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_CONTENT_TYPE:
        free((char *)out->content_type);
        return (out->content_type = strdup(S(src->content_type))) ? 0 : -1;
    case HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_PAYLOAD_FORMAT:
        if (src->payload_format_indicator > 1) return -1;
        out->payload_format = (uint8_t)src->payload_format_indicator;
        return 0;
    case HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_RESPONSE_TOPIC:
        if (src->response_topic && *src->response_topic && !valid_topic(src->response_topic))
            return -1;
        free((char *)out->response_topic);
        return (out->response_topic = strdup(S(src->response_topic))) ? 0 : -1;
    case HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_CORRELATION_DATA:
        free((uint8_t *)out->correlation_data);
        out->has_correlation_data = true;
        out->correlation_len = src->correlation_data.len;
        return (out->correlation_data =
                    dup_bytes(src->correlation_data.data, src->correlation_data.len))
                   ? 0
                   : -1;
    default:
        return 0; /* unknown fields are ignored (a newer server) */
    }
}

static const uint32_t field_bits[] = {
    [HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_TOPIC] = HMQ_MSG_TOPIC,
    [HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_PAYLOAD] = HMQ_MSG_PAYLOAD,
    [HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_QOS] = HMQ_MSG_QOS,
    [HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_RETAIN] = HMQ_MSG_RETAIN,
    [HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_MESSAGE_EXPIRY] = HMQ_MSG_EXPIRY,
    [HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_USER_PROPERTIES] = HMQ_MSG_USER_PROPERTIES,
    [HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_CONTENT_TYPE] = HMQ_MSG_CONTENT_TYPE,
    [HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_PAYLOAD_FORMAT] = HMQ_MSG_PAYLOAD_FORMAT,
    [HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_RESPONSE_TOPIC] = HMQ_MSG_RESPONSE_TOPIC,
    [HOOKMQ__V1__MESSAGE_FIELD__MESSAGE_FIELD_CORRELATION_DATA] = HMQ_MSG_CORRELATION_DATA,
};

int hmq_pb_changes_decode(const Hookmq__V1__MessageChanges *mc, uint32_t *changed,
                          hmq_hooks_message_t *out)
{
    memset(out, 0, sizeof(*out));
    *changed = 0;
    if (!mc || !mc->n_fields) return 0;
    if (!mc->message) return -1;
    for (size_t i = 0; i < mc->n_fields; i++) {
        Hookmq__V1__MessageField f = mc->fields[i];
        if ((unsigned)f >= sizeof(field_bits) / sizeof(field_bits[0]) || !field_bits[f]) continue;
        if (*changed & field_bits[f]) continue; /* listed twice */
        if (copy_field(f, mc->message, out) < 0) {
            hmq_hooks_message_free_owned(out);
            *changed = 0;
            return -1;
        }
        *changed |= field_bits[f];
    }
    return 0;
}

void hmq_pb_result_decode(const Hookmq__V1__Result *r, hmq_hooks_answer_t *a)
{
    a->decision = HMQ_DECISION_FAILURE;
    a->reason_code = 0;
    a->reason = strdup(r && r->reason ? r->reason : "");
    if (!r) return;
    switch (r->decision) {
    case HOOKMQ__V1__DECISION__DECISION_CONTINUE:
        a->decision = HMQ_DECISION_CONTINUE;
        break;
    case HOOKMQ__V1__DECISION__DECISION_ALLOW:
        a->decision = HMQ_DECISION_ALLOW;
        break;
    case HOOKMQ__V1__DECISION__DECISION_DENY:
        a->decision = HMQ_DECISION_DENY;
        break;
    default:
        break;
    }
    a->reason_code = r->reason_code <= 0xff ? (uint8_t)r->reason_code : HMQ_RC_UNSPECIFIED_ERROR;
    a->cache_ttl_ms = r->cache ? r->cache->ttl_ms : 0;
    a->cache_scope =
        r->cache && r->cache->scope <= HMQ_SCOPE_USERNAME ? (uint8_t)r->cache->scope : 0;
}
