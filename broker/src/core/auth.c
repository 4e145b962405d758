/* auth.c - authentication through the hook engine and grants enforcement (see auth.h). */
#include "core/auth.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "core/hooks_setup.h"
#include "core/session.h"
#include "core/worker.h"
#include "net/tls.h"
#include "util/log.h"

/* ---- engine life cycle ---------------------------------------------------------------------- */

int hmq_auth_engine_start(hmq_broker_t *b, uv_loop_t *home)
{
    return hmq_hooks_setup(b, home); /* hooks_setup.c: servers, built-ins, chain */
}

void hmq_auth_engine_close(hmq_broker_t *b)
{
    if (b->hooks) hmq_hooks_close(b->hooks);
}

/* ---- one Authenticate call ------------------------------------------------------------------ */

/* Re-authentication of a connected client (AUTH 0x19) runs on its identity context. */
enum { REAUTH_NONE, REAUTH_CALL, REAUTH_WAIT };
#define MAX_AUTH_ROUNDS 16 /* per exchange: ends a loop between a client and a hook */

typedef struct hmq_auth_ctx {
    hmq_hooks_auth_req_t req;
    hmq_hooks_client_t client;
    hmq_hooks_tls_t tls;
    hmq_tls_identity_t *ident;
    hmq_conn_t *conn; /* NULL once the connection closed */
    uint8_t *packet;  /* the CONNECT, decoded again when the answer comes */
    size_t len;
    /* MQTT 5 enhanced authentication: the round's data and the challenger's state and name */
    uint8_t *round_data, *state, *final_data;
    size_t round_len, state_len, final_len;
    char *challenger;
    uint8_t reauth; /* identity of a connected client: REAUTH_* */
    void **allocs;  /* strings and arrays made for the request */
    size_t nallocs, allocs_cap;
} auth_ctx_t;

static void *keep(auth_ctx_t *a, void *p)
{
    if (!p) return NULL;
    if (a->nallocs == a->allocs_cap) {
        size_t cap = a->allocs_cap ? a->allocs_cap * 2 : 8;
        void **v = realloc(a->allocs, cap * sizeof *v);
        if (!v) {
            free(p);
            return NULL;
        }
        a->allocs = v;
        a->allocs_cap = cap;
    }
    a->allocs[a->nallocs++] = p;
    return p;
}

static const char *str(auth_ctx_t *a, hmq_bytes_t b)
{
    char *s = malloc(b.len + 1);
    if (!s) return "";
    if (b.len) memcpy(s, b.p, b.len);
    s[b.len] = 0;
    return keep(a, s) ? s : "";
}

static void ctx_free(auth_ctx_t *a)
{
    for (size_t i = 0; i < a->nallocs; i++)
        free(a->allocs[i]);
    free(a->allocs);
    if (a->ident) hmq_tls_identity_free(a->ident);
    free(a->packet);
    free(a->round_data);
    free(a->state);
    free(a->final_data);
    free(a->challenger);
    free(a);
}

static void fill_peer(auth_ctx_t *a, hmq_conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (c->real_peer)
        memcpy(&ss, c->real_peer, sizeof ss);
    else if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    char *ip = keep(a, malloc(INET6_ADDRSTRLEN));
    if (!ip) return;
    if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, INET6_ADDRSTRLEN);
        a->client.peer_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    } else {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, INET6_ADDRSTRLEN);
        a->client.peer_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    a->client.peer_address = ip;
}

static void fill_tls(auth_ctx_t *a, hmq_conn_t *c)
{
    if (!c->tls && c->proxy_tls) { /* a load balancer terminated TLS and told us (PROXY v2) */
        hmq_hooks_tls_t *t = &a->tls;
        t->via_proxy = true;
        t->version = c->proxy_tls->version;
        t->cipher = c->proxy_tls->cipher;
        t->has_peer_certificate = c->proxy_tls->cert_verified;
        if (t->has_peer_certificate) t->common_name = c->proxy_tls->cn;
        a->client.tls = t;
        return;
    }
    if (!c->tls) return;
    hmq_hooks_tls_t *t = &a->tls;
    t->version = hmq_tls_version(c->tls);
    t->cipher = hmq_tls_cipher(c->tls);
    t->sni = hmq_tls_sni(c->tls);
    t->has_peer_certificate = hmq_tls_has_peer_cert(c->tls);
    if (t->has_peer_certificate && hmq_tls_identity(c->tls, &a->ident) == 0 && a->ident) {
        t->subject = hmq_tls_identity_name(a->ident, HMQ_TLS_NAME_SUBJECT);
        t->common_name = hmq_tls_identity_name(a->ident, HMQ_TLS_NAME_CN);
        t->serial = hmq_tls_identity_name(a->ident, HMQ_TLS_NAME_SERIAL);
        t->fingerprint_sha256 = hmq_tls_identity_name(a->ident, HMQ_TLS_NAME_SHA256);
        t->issuer = a->ident->issuer;
        t->not_before_unix_ms = (uint64_t)a->ident->not_before * 1000;
        t->not_after_unix_ms = (uint64_t)a->ident->not_after * 1000;
    }
    a->client.tls = t;
}

static void fill_v5(auth_ctx_t *a, const hmq_connect_t *k)
{
    const hmq_props_t *p = &k->props;
    hmq_hooks_client_t *cl = &a->client;
    cl->has_properties = true;
    cl->session_expiry_interval =
        p->present & HMQ_PROP_BIT(HMQ_PROP_SESSION_EXPIRY) ? p->session_expiry : 0;
    cl->receive_maximum =
        p->present & HMQ_PROP_BIT(HMQ_PROP_RECEIVE_MAXIMUM) ? p->receive_maximum : 65535;
    cl->maximum_packet_size =
        p->present & HMQ_PROP_BIT(HMQ_PROP_MAXIMUM_PACKET_SIZE) ? p->maximum_packet_size : 0;
    cl->topic_alias_maximum =
        p->present & HMQ_PROP_BIT(HMQ_PROP_TOPIC_ALIAS_MAXIMUM) ? p->topic_alias_maximum : 0;
    cl->request_problem_information =
        !(p->present & HMQ_PROP_BIT(HMQ_PROP_REQUEST_PROBLEM_INFO)) || p->request_problem_info;
    cl->request_response_information = p->request_response_info;
    if (p->present & HMQ_PROP_BIT(HMQ_PROP_AUTH_METHOD))
        cl->authentication_method = str(a, p->auth_method);
    if (!p->user_count) return;
    hmq_hooks_pair_t *pairs = keep(a, calloc(p->user_count, sizeof *pairs));
    if (!pairs) return;
    uint32_t pos = 0;
    hmq_bytes_t key, value;
    size_t n = 0;
    while (n < p->user_count && hmq_props_user_next(p, &pos, &key, &value)) {
        pairs[n].key = str(a, key);
        pairs[n].value = str(a, value);
        n++;
    }
    cl->user_properties = pairs;
    cl->n_user_properties = n;
}

/* Session attributes of the authentication answer, kept with the identity. */
static void keep_attributes(auth_ctx_t *a, const hmq_hooks_pair_t *src, size_t n)
{
    if (!n) return;
    hmq_hooks_pair_t *pairs = keep(a, calloc(n, sizeof *pairs));
    if (!pairs) return;
    for (size_t i = 0; i < n; i++) {
        pairs[i].key = keep(a, strdup(src[i].key ? src[i].key : ""));
        pairs[i].value = keep(a, strdup(src[i].value ? src[i].value : ""));
        if (!pairs[i].key) pairs[i].key = "";
        if (!pairs[i].value) pairs[i].value = "";
    }
    a->client.attributes = pairs;
    a->client.n_attributes = n;
}

/* MQTT 5 reason code of a refusal to its MQTT 3.1.1 return code. */
static uint8_t v3_code(uint8_t rc)
{
    switch (rc) {
    case HMQ_RC_BAD_USERNAME_OR_PASSWORD:
        return HMQ_V3_REFUSED_BAD_CREDENTIALS;
    case HMQ_RC_SERVER_UNAVAILABLE:
    case HMQ_RC_SERVER_BUSY:
        return HMQ_V3_REFUSED_SERVER_UNAVAILABLE;
    case HMQ_RC_CLIENT_ID_NOT_VALID:
        return HMQ_V3_REFUSED_IDENTIFIER;
    default:
        return HMQ_V3_REFUSED_NOT_AUTHORIZED;
    }
}

static void refuse(hmq_conn_t *c, uint8_t rc, const char *why)
{
    hmq_conn_refuse(c, rc, v3_code(rc), why && *why ? why : "not authorized");
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n) memcpy(d, p, n);
    return d;
}

static void send_auth(hmq_conn_t *c, uint8_t code, const char *method, const uint8_t *data,
                      size_t len)
{
    hmq_packet_t p = {.type = HMQ_AUTH};
    p.reason.code = code;
    p.reason.props.present = HMQ_PROP_BIT(HMQ_PROP_AUTH_METHOD);
    p.reason.props.auth_method.p = (const uint8_t *)method;
    p.reason.props.auth_method.len = (uint32_t)strlen(method);
    if (len) {
        p.reason.props.present |= HMQ_PROP_BIT(HMQ_PROP_AUTH_DATA);
        p.reason.props.auth_data.p = data;
        p.reason.props.auth_data.len = (uint32_t)len;
    }
    hmq_conn_send_packet(c, &p);
}

/* A provider wants another round: AUTH 0x18 to the client, whose AUTH answer continues. */
/* Keep what the next round needs: the provider's state and who challenged. false: too many
 * rounds (a loop between client and hook), the exchange must end. */
static bool keep_challenge(auth_ctx_t *a, const hmq_hooks_auth_result_t *res)
{
    free(a->state);
    free(a->challenger);
    a->state = res->auth_state_len ? dup_bytes(res->auth_state, res->auth_state_len) : NULL;
    a->state_len = a->state ? res->auth_state_len : 0;
    a->challenger = res->provider ? strdup(res->provider) : NULL;
    return a->req.step < MAX_AUTH_ROUNDS;
}

/* The client's AUTH names the method of its CONNECT ([MQTT-4.12.0-5], [MQTT-4.12.1-1]). */
static bool same_method(const auth_ctx_t *a, const hmq_props_t *p)
{
    const char *method = a->client.authentication_method;
    return method && (p->present & HMQ_PROP_BIT(HMQ_PROP_AUTH_METHOD)) &&
           p->auth_method.len == strlen(method) &&
           memcmp(p->auth_method.p, method, p->auth_method.len) == 0;
}

/* The request of the next round from the client's AUTH: its data; for CONTINUE the state and
 * provider of the challenge, for REAUTHENTICATE a fresh exchange. */
static void next_round(auth_ctx_t *a, const hmq_props_t *p, uint8_t phase)
{
    free(a->round_data);
    a->round_data = NULL;
    a->round_len = 0;
    if (p->present & HMQ_PROP_BIT(HMQ_PROP_AUTH_DATA)) {
        a->round_data = dup_bytes(p->auth_data.p, p->auth_data.len);
        a->round_len = p->auth_data.len;
    }
    bool cont = phase == HMQ_AUTH_PHASE_CONTINUE;
    a->req.phase = phase;
    a->req.step = cont ? a->req.step + 1 : 1;
    a->req.auth_data = a->round_data;
    a->req.auth_data_len = a->round_data ? a->round_len : 0;
    a->req.auth_state = cont ? a->state : NULL;
    a->req.auth_state_len = cont ? a->state_len : 0;
    a->req.auth_provider = cont ? a->challenger : NULL;
    a->req.has_password = false; /* the CONNECT's password was for the first round */
}

static void challenge(hmq_conn_t *c, auth_ctx_t *a, const hmq_hooks_auth_result_t *res)
{
    if (!keep_challenge(a, res)) {
        ctx_free(a);
        refuse(c, HMQ_RC_NOT_AUTHORIZED, "too many authentication rounds");
        return;
    }
    send_auth(c, HMQ_RC_CONTINUE_AUTH, a->client.authentication_method, res->auth_data,
              res->auth_data_len);
    c->auth_wait = a; /* input flows again: the client's AUTH is awaited */
    hmq_conn_resume_input(c);
}

static void on_answer(hmq_hooks_auth_req_t *req, int status, const hmq_hooks_auth_result_t *res)
{
    auth_ctx_t *a = req->data;
    hmq_conn_t *c = a->conn;
    if (!c) { /* the connection went away meanwhile */
        ctx_free(a);
        return;
    }
    c->auth = NULL;
    if (status == 0 && res && res->challenge) {
        challenge(c, a, res);
        return;
    }
    if (status < 0 || !res || res->decision != HMQ_DECISION_ALLOW) {
        uint8_t rc = status < 0 || !res ? HMQ_RC_SERVER_UNAVAILABLE : res->reason_code;
        if (rc < 0x80) rc = HMQ_RC_NOT_AUTHORIZED;
        LOG_INFO("connect_denied", "client_id=%s reason_code=0x%02x provider=%s",
                 a->client.client_id, rc, res && res->provider ? res->provider : "-");
        refuse(c, rc, res ? res->reason : NULL);
        ctx_free(a);
        return;
    }
    c->authenticated = true;
    c->superuser = res->superuser;
    c->cred_expiry_ms = res->expires_unix_ms;
    if (res->grants) {
        c->grants = hmq_grants_ref(res->grants);
        if (a->client.username) c->username = strdup(a->client.username);
    }
    keep_attributes(a, res->attributes, res->n_attributes);
    free(a->final_data); /* enhanced authentication: data for the CONNACK */
    a->final_data = NULL;
    a->final_len = 0;
    if (res->auth_data_len && (a->final_data = malloc(res->auth_data_len))) {
        memcpy(a->final_data, res->auth_data, res->auth_data_len);
        a->final_len = res->auth_data_len;
    }
    /* Continue the CONNECT where it stopped, then the input that waited behind it. The context
     * stays as the connection's identity for later hooks (authorize, on_publish, events). */
    uint8_t *packet = a->packet;
    size_t len = a->len;
    a->packet = NULL;
    a->req.password = NULL;
    a->req.auth_data = NULL;
    hmq_ident_release(c);
    c->ident = a;
    hmq_packet_t p;
    if (hmq_mqtt_decode(packet, len, 0, &p) == 0) hmq_conn_on_connect(c, &p, packet, len);
    free(packet);
    hmq_conn_resume_input(c);
}

bool hmq_auth_start(hmq_conn_t *c, const hmq_connect_t *k, hmq_bytes_t client_id,
                    const uint8_t *packet, size_t len)
{
    hmq_worker_t *w = c->w;
    if (!w->broker->hooks || c->authenticated || c->ident) return false;
    auth_ctx_t *a = calloc(1, sizeof *a);
    if (!a || !(a->packet = malloc(len))) {
        free(a);
        refuse(c, HMQ_RC_SERVER_BUSY, "out of memory");
        return true;
    }
    memcpy(a->packet, packet, len);
    a->len = len;
    a->conn = c;
    hmq_hooks_client_t *cl = &a->client;
    cl->client_id = str(a, client_id);
    cl->username = k->has_username ? str(a, k->username) : NULL;
    cl->protocol_version = k->version;
    cl->uid = hmq_broker_new_uid(w->broker); /* identity encodings are cached per connection */
    cl->listener = w->cfg->listeners[c->listener].name;
    cl->keepalive = k->keepalive;
    cl->clean_start = k->clean_start;
    fill_peer(a, c);
    fill_tls(a, c);
    if (k->version == HMQ_MQTT_V5) fill_v5(a, k);
    a->req.data = a;
    a->req.client = cl;
    a->req.has_password = k->has_password;
    a->req.password = k->password.p;
    a->req.password_len = k->password.len;
    if (k->has_password) { /* the CONNECT buffer goes away: point into our copy */
        a->req.password = a->packet + (k->password.p - packet);
    }
    a->req.phase = HMQ_AUTH_PHASE_CONNECT;
    a->req.step = 1;
    if (k->props.present & HMQ_PROP_BIT(HMQ_PROP_AUTH_DATA)) {
        a->req.auth_data = a->packet + (k->props.auth_data.p - packet);
        a->req.auth_data_len = k->props.auth_data.len;
    }
    if (!hmq_hooks_wants(w->broker->hooks, HMQ_HOOK_AUTHENTICATE, cl, NULL)) {
        if (cl->authentication_method) { /* nobody to run the exchange with */
            ctx_free(a);
            hmq_conn_refuse(c, HMQ_RC_BAD_AUTH_METHOD, HMQ_V3_REFUSED_NOT_AUTHORIZED,
                            "authentication method not supported");
            return true;
        }
        /* No provider authenticates: the broker's own rule decides (auth.allow_anonymous); the
         * identity is kept for the other hooks. */
        if (!w->cfg->allow_anonymous) {
            ctx_free(a);
            refuse(c, HMQ_RC_NOT_AUTHORIZED, "not authorized");
            return true;
        }
        free(a->packet);
        a->packet = NULL;
        a->req.password = NULL;
        a->req.auth_data = NULL;
        hmq_ident_release(c);
        c->ident = a;
        return false;
    }
    c->auth = a;
    if (hmq_hooks_authenticate(w->hooks_loop, &a->req, on_answer) < 0) {
        c->auth = NULL;
        ctx_free(a);
        refuse(c, HMQ_RC_SERVER_UNAVAILABLE, "hook engine unavailable");
    }
    return true;
}

void hmq_auth_cancel(hmq_conn_t *c)
{
    if (c->auth_wait) { /* waiting for the client's AUTH: nothing in flight */
        ctx_free(c->auth_wait);
        c->auth_wait = NULL;
    }
    auth_ctx_t *a = c->auth;
    if (!a) return;
    c->auth = NULL;
    a->conn = NULL;
    hmq_hooks_auth_cancel(&a->req); /* the callback still comes, and frees a */
}

void hmq_ident_release(hmq_conn_t *c)
{
    auth_ctx_t *a = c->ident;
    c->ident = NULL;
    if (!a) return;
    if (a->reauth == REAUTH_CALL) { /* the callback frees it */
        a->conn = NULL;
        hmq_hooks_auth_cancel(&a->req);
        return;
    }
    ctx_free(a);
}

const hmq_hooks_client_t *hmq_auth_client(const hmq_conn_t *c)
{
    return c->ident ? &c->ident->client : NULL;
}

void hmq_auth_release(hmq_conn_t *c)
{
    hmq_ident_release(c);
    if (c->grants) hmq_grants_unref(c->grants);
    c->grants = NULL;
    free(c->username);
    c->username = NULL;
}

uint8_t hmq_auth_check(hmq_conn_t *c, hmq_action_t action, const char *topic, uint8_t *qos,
                       bool retain)
{
    if (c->superuser) return 0;
    if (!c->grants) return c->ident ? HMQ_AUTH_ASK : 0;
    uint8_t rc = HMQ_RC_NOT_AUTHORIZED, granted = *qos;
    const char *client_id = c->session ? c->session->client_id : "";
    hmq_grants_verdict_t v = hmq_grants_check(c->grants, action, topic, *qos, retain, client_id,
                                              c->username, &rc, &granted);
    if (v == HMQ_GRANTS_ALLOW) {
        if (granted < *qos) *qos = granted;
        return 0;
    }
    if (v == HMQ_GRANTS_NO_MATCH && hmq_grants_fallthrough(c->grants)) return HMQ_AUTH_ASK;
    return rc >= 0x80 ? rc : HMQ_RC_NOT_AUTHORIZED;
}

/* The answer to a re-authentication round of a connected client. */
static void on_reauth_answer(hmq_hooks_auth_req_t *req, int status,
                             const hmq_hooks_auth_result_t *res)
{
    auth_ctx_t *a = req->data;
    hmq_conn_t *c = a->conn;
    a->reauth = REAUTH_NONE;
    if (!c) { /* the connection went away meanwhile: the context is ours to free */
        ctx_free(a);
        return;
    }
    const char *method = a->client.authentication_method;
    if (status == 0 && res && res->challenge) {
        if (!keep_challenge(a, res)) {
            hmq_conn_close(c, HMQ_RC_NOT_AUTHORIZED, "too many authentication rounds");
            return;
        }
        send_auth(c, HMQ_RC_CONTINUE_AUTH, method, res->auth_data, res->auth_data_len);
        a->reauth = REAUTH_WAIT;
        return;
    }
    if (status < 0 || !res || res->decision != HMQ_DECISION_ALLOW) {
        uint8_t rc = status < 0 || !res ? HMQ_RC_SERVER_UNAVAILABLE : res->reason_code;
        LOG_INFO("reauth_denied", "client_id=%s reason_code=0x%02x", a->client.client_id, rc);
        hmq_conn_close(c, rc >= 0x80 ? rc : HMQ_RC_NOT_AUTHORIZED, "re-authentication failed");
        return;
    }
    /* [MQTT-4.12.1-2]: success is AUTH 0x00; the new answer's rights replace the old ones. */
    c->superuser = res->superuser;
    c->cred_expiry_ms = res->expires_unix_ms;
    if (c->grants) hmq_grants_unref(c->grants);
    c->grants = res->grants ? hmq_grants_ref(res->grants) : NULL;
    if (c->grants && !c->username && a->client.username) c->username = strdup(a->client.username);
    send_auth(c, HMQ_RC_SUCCESS, method, res->auth_data, res->auth_data_len);
    LOG_DEBUG("reauthenticated", "client_id=%s", a->client.client_id);
}

/* AUTH from a connected client: 0x19 starts a re-authentication, 0x18 answers its challenge. */
static void reauth_packet(hmq_conn_t *c, const hmq_reason_t *r)
{
    auth_ctx_t *a = c->ident;
    bool ok_code = (r->code == HMQ_RC_REAUTHENTICATE && a && a->reauth == REAUTH_NONE) ||
                   (r->code == HMQ_RC_CONTINUE_AUTH && a && a->reauth == REAUTH_WAIT);
    if (!ok_code || !same_method(a, &r->props)) { /* one exchange at a time, same method */
        hmq_conn_protocol_error(c, HMQ_MQTT_E_PROTOCOL, "AUTH not expected");
        return;
    }
    next_round(a, &r->props,
               r->code == HMQ_RC_REAUTHENTICATE ? HMQ_AUTH_PHASE_REAUTHENTICATE
                                                : HMQ_AUTH_PHASE_CONTINUE);
    a->conn = c;
    a->reauth = REAUTH_CALL; /* the client may go on publishing meanwhile (4.12.1) */
    if (hmq_hooks_authenticate(c->w->hooks_loop, &a->req, on_reauth_answer) < 0) {
        a->reauth = REAUTH_NONE;
        hmq_conn_close(c, HMQ_RC_SERVER_UNAVAILABLE, "hook engine unavailable");
    }
}

void hmq_auth_on_auth_packet(hmq_conn_t *c, const hmq_reason_t *r)
{
    auth_ctx_t *a = c->auth_wait;
    if (c->state == HMQ_CONN_CONNECTED) {
        reauth_packet(c, r);
        return;
    }
    if (!a) {
        hmq_conn_protocol_error(c, HMQ_MQTT_E_PROTOCOL, "AUTH not expected");
        return;
    }
    if (r->code != HMQ_RC_CONTINUE_AUTH || !same_method(a, &r->props)) {
        /* [MQTT-4.12.0-3]/[MQTT-4.12.0-4]: same method, reason 0x18 */
        hmq_conn_protocol_error(c, HMQ_MQTT_E_PROTOCOL, "AUTH: wrong reason code or method");
        return;
    }
    c->auth_wait = NULL;
    next_round(a, &r->props, HMQ_AUTH_PHASE_CONTINUE);
    c->auth = a; /* input waits again */
    if (hmq_hooks_authenticate(c->w->hooks_loop, &a->req, on_answer) < 0) {
        c->auth = NULL;
        ctx_free(a);
        refuse(c, HMQ_RC_SERVER_UNAVAILABLE, "hook engine unavailable");
    }
}

void hmq_auth_connack_props(const hmq_conn_t *c, hmq_props_t *ack)
{
    const auth_ctx_t *a = c->ident;
    if (!a || !a->client.authentication_method) return;
    ack->present |= HMQ_PROP_BIT(HMQ_PROP_AUTH_METHOD);
    ack->auth_method.p = (const uint8_t *)a->client.authentication_method;
    ack->auth_method.len = (uint32_t)strlen(a->client.authentication_method);
    if (a->final_len) {
        ack->present |= HMQ_PROP_BIT(HMQ_PROP_AUTH_DATA);
        ack->auth_data.p = a->final_data;
        ack->auth_data.len = (uint32_t)a->final_len;
    }
}
