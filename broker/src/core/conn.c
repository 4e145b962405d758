/* conn.c - connection I/O: reading and framing input, dispatching packets, buffering and writing
 * output, hand-over to another worker, closing, keepalive and connect timeout. The transport
 * layers (PROXY, TLS, WebSocket) are in conn_stack.c; publisher backpressure in conn_pressure.c;
 * packet semantics in conn_connect.c, conn_publish.c and conn_subscribe.c (hooks: hook_*.c);
 * session state in session.c.
 */
#include "core/conn.h"

#include <arpa/inet.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "core/admission.h"
#include "core/auth.h"
#include "core/hook_publish.h"
#include "core/hook_events.h"
#include "core/hook_subscribe.h"
#include "core/conn_int.h"
#include "core/session.h"
#include "net/proxy.h"
#include "util/log.h"

#define CLOSE_GRACE_MS 5000 /* a closing connection that cannot flush is cut after this */
#define IDLE_FREE_MS 1000   /* output buffers of a quiet connection are released after this */
#define MIN_IN_CHUNK 4096
#define MAX_CONNECT_PACKET (256 * 1024)

static void on_close(uv_handle_t *h);

hmq_conn_t *hmq_conn_new(hmq_worker_t *w, uint32_t listener)
{
    hmq_conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (uv_tcp_init(&w->loop, &c->tcp) < 0) {
        free(c);
        return NULL;
    }
    c->tcp.data = c;
    c->w = w;
    c->listener = listener;
    c->state = HMQ_CONN_NEW;
    c->accepted_ms = c->last_rx_ms = c->idle_since_ms = hmq_worker_now(w);
    c->request_problem_info = true;
    c->client_receive_max = 65535;
    c->next = w->conns;
    if (w->conns) w->conns->prev = c;
    w->conns = c;
    return c;
}

const char *hmq_conn_peer(hmq_conn_t *c)
{
    static _Thread_local char peer[64];
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    int got = -1;
    if (c->real_peer) {
        memcpy(&ss, c->real_peer, sizeof ss);
        got = 0;
    } else {
        got = uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len);
    }
    if (got == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
            port = ntohs(a->sin6_port);
        }
    }
    snprintf(peer, sizeof peer, "%s:%d", ip, port);
    return peer;
}

/* ---- input ---------------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    hmq_conn_t *c = h->data;
    if (c->in_len == 0 || c->tls || c->ws || c->proxy_pending) {
        /* Nothing pending (or TLS: ciphertext): the worker's shared buffer, no per-connection
         * memory. */
        buf->base = (char *)c->w->rbuf;
        buf->len = c->w->rbuf_cap;
        return;
    }
    /* A partial packet is pending: read straight behind it. */
    if (c->in_cap - c->in_len < MIN_IN_CHUNK) {
        uint32_t cap = c->in_cap * 2;
        if (cap < c->in_len + MIN_IN_CHUNK) cap = c->in_len + MIN_IN_CHUNK;
        uint8_t *in = realloc(c->in, cap);
        if (!in) {
            buf->base = NULL;
            buf->len = 0; /* libuv reports UV_ENOBUFS */
            return;
        }
        c->in = in;
        c->in_cap = cap;
    }
    buf->base = (char *)c->in + c->in_len;
    buf->len = c->in_cap - c->in_len;
}

static void dispatch(hmq_conn_t *c, hmq_packet_t *p, const uint8_t *raw, size_t raw_len)
{
    if (c->state == HMQ_CONN_NEW && p->type != HMQ_CONNECT &&
        !(p->type == HMQ_AUTH && c->auth_wait)) {
        /* [MQTT-3.1.0-1] the first packet must be CONNECT */
        hmq_conn_protocol_error(c, HMQ_MQTT_E_PROTOCOL, "first packet is not CONNECT");
        return;
    }
    hmq_session_t *s = c->session;
    switch (p->type) {
    case HMQ_CONNECT:
        if (c->state != HMQ_CONN_NEW) {
            hmq_conn_protocol_error(c, HMQ_MQTT_E_PROTOCOL, "second CONNECT");
            return;
        }
        hmq_conn_on_connect(c, p, raw, raw_len);
        break;
    case HMQ_PUBLISH:
        hmq_conn_on_publish(c, p);
        break;
    case HMQ_PUBACK:
        hmq_session_on_puback(s, p->ack.packet_id);
        break;
    case HMQ_PUBREC:
        if (!hmq_session_on_pubrec(s, p->ack.packet_id, p->ack.code) && p->ack.code < 0x80) {
            hmq_packet_t r = {.type = HMQ_PUBREL};
            r.ack.packet_id = p->ack.packet_id;
            r.ack.code = HMQ_RC_PACKET_ID_NOT_FOUND;
            hmq_conn_send_packet(c, &r);
        }
        break;
    case HMQ_PUBREL:
        hmq_conn_on_pubrel(c, p);
        break;
    case HMQ_PUBCOMP:
        hmq_session_on_pubcomp(s, p->ack.packet_id);
        break;
    case HMQ_SUBSCRIBE:
        hmq_conn_on_subscribe(c, p);
        break;
    case HMQ_UNSUBSCRIBE:
        hmq_conn_on_unsubscribe(c, p);
        break;
    case HMQ_PINGREQ: {
        hmq_packet_t r = {.type = HMQ_PINGRESP};
        hmq_conn_send_packet(c, &r);
        break;
    }
    case HMQ_DISCONNECT:
        hmq_conn_on_disconnect(c, p);
        break;
    case HMQ_AUTH:
        hmq_auth_on_auth_packet(c, &p->reason);
        break;
    default: /* CONNACK, SUBACK, UNSUBACK, PINGRESP are never sent by a client */
        hmq_conn_protocol_error(c, HMQ_MQTT_E_PROTOCOL, "packet type not allowed from a client");
        break;
    }
}

/* Process whole packets in data[0..len). Returns the number of bytes consumed. */
static size_t process(hmq_conn_t *c, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len && (c->state == HMQ_CONN_NEW || c->state == HMQ_CONN_CONNECTED)) {
        size_t plen = 0;
        if (c->state == HMQ_CONN_NEW && data[off] != (HMQ_CONNECT << 4) &&
            !(c->auth_wait && data[off] == (HMQ_AUTH << 4))) {
            /* [MQTT-3.1.0-1] refuse at the first byte, without waiting for a whole "packet" */
            hmq_conn_protocol_error(c, HMQ_MQTT_E_PROTOCOL, "first packet is not CONNECT");
            return len;
        }
        /* Before CONNECT a client gets a smaller allowance: unauthenticated peers must not make
         * us buffer megabytes each. */
        uint32_t max = c->w->cfg->max_packet_size;
        if (c->state == HMQ_CONN_NEW && max > MAX_CONNECT_PACKET) max = MAX_CONNECT_PACKET;
        int rc = hmq_mqtt_frame(data + off, len - off, max, &plen);
        if (rc < 0) {
            hmq_conn_protocol_error(c, rc, "framing");
            return len;
        }
        if (rc == 0) break;
        hmq_packet_t p;
        rc = hmq_mqtt_decode(data + off, plen, c->version, &p);
        if (rc < 0) {
            if (c->state == HMQ_CONN_NEW && rc == HMQ_MQTT_E_VERSION) {
                /* [MQTT-3.1.2-2] unacceptable protocol level: CONNACK 0x01 (v3 format), close */
                static const uint8_t refuse[] = {0x20, 0x02, 0x00, HMQ_V3_REFUSED_PROTOCOL_VERSION};
                uint8_t *o = hmq_conn_reserve(c, sizeof refuse);
                if (o) {
                    memcpy(o, refuse, sizeof refuse);
                    hmq_conn_commit(c, sizeof refuse);
                }
                hmq_conn_close(c, 0, NULL);
                return len;
            }
            hmq_conn_protocol_error(c, rc, hmq_mqtt_type_name((uint8_t)(data[off] >> 4)));
            return len;
        }
        dispatch(c, &p, data + off, len - off);
        off += plen;
        if (c->state == HMQ_CONN_MIGRATED) return len; /* the rest travelled with the handover */
        if (hmq_conn_input_held(c)) break;             /* backpressure, hooks: the rest waits */
    }
    return off;
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf);
static void post_migration(hmq_conn_t *c);
static void finish_close(hmq_conn_t *c);

bool hmq_conn_input_held(const hmq_conn_t *c)
{
    return c->waiting_on || c->auth || c->sub_hold ||
           (c->pub_held && c->pub_held >= hmq_hook_publish_window(c));
}

/* Read while the connection is open and neither kind of backpressure holds it. */
void hmq_conn_update_reading(hmq_conn_t *c)
{
    bool want = (c->state == HMQ_CONN_NEW || c->state == HMQ_CONN_CONNECTED) && !c->out_full &&
                !hmq_conn_input_held(c);
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = true;
        else
            hmq_conn_close(c, 0, NULL);
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

/* Pause reading while the client does not read what we send (it would only grow our buffers). */
static void update_backpressure(hmq_conn_t *c)
{
    if (!c->out_full && hmq_conn_pending(c) > c->w->cfg->max_outbuf) {
        c->out_full = true;
        hmq_conn_update_reading(c);
    }
}

bool hmq_conn_append(uint8_t **buf, uint32_t *len, uint32_t *cap, const uint8_t *data, size_t n)
{
    if ((size_t)*cap - *len < n) {
        size_t want = *cap ? (size_t)*cap * 2 : 256;
        while (want - *len < n)
            want *= 2;
        if (want > UINT32_MAX) return false;
        uint8_t *b = realloc(*buf, want);
        if (!b) return false;
        *buf = b;
        *cap = (uint32_t)want;
    }
    memcpy(*buf + *len, data, n);
    *len += (uint32_t)n;
    return true;
}

/* Keep data[used..len) as the pending partial input. Returns false if out of memory. */
static bool keep_rest(hmq_conn_t *c, const uint8_t *data, size_t used, size_t len)
{
    size_t rest = len - used;
    if (data == c->in) {
        if (rest == 0) {
            free(c->in);
            c->in = NULL;
            c->in_len = c->in_cap = 0;
        } else if (used) {
            memmove(c->in, c->in + used, rest);
            c->in_len = (uint32_t)rest;
        }
        return true;
    }
    if (rest == 0) return true;
    uint32_t cap = rest < MIN_IN_CHUNK ? MIN_IN_CHUNK : (uint32_t)rest * 2;
    if (!(c->in = malloc(cap))) return false;
    memcpy(c->in, data + used, rest);
    c->in_len = (uint32_t)rest;
    c->in_cap = cap;
    return true;
}

/* Process data (the worker's buffer, or c->in) and keep what is left for later. */
void hmq_conn_consume(hmq_conn_t *c, const uint8_t *data, size_t len)
{
    size_t used = process(c, data, len);
    if (c->state == HMQ_CONN_MIGRATED || c->state == HMQ_CONN_CLOSING) used = len;
    if (!keep_rest(c, data, used, len)) hmq_conn_close(c, HMQ_RC_SERVER_BUSY, NULL);
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
    hmq_conn_t *c = stream->data;
    if (n == 0) return;
    if (n < 0) {
        /* Peer closed or network error: an abnormal end, so the will is due. */
        if (c->state == HMQ_CONN_NEW || c->state == HMQ_CONN_CONNECTED) hmq_conn_close(c, 0, NULL);
        return;
    }
    HMQ_STAT_ADD(c->w->stats.bytes_received, (uint64_t)n);
    c->last_rx_ms = hmq_worker_now(c->w);
    if (c->proxy_pending)
        hmq_conn_proxy_input(c, (const uint8_t *)buf->base, (size_t)n);
    else if (c->tls)
        hmq_conn_tls_input(c, (const uint8_t *)buf->base, (size_t)n);
    else if (c->ws)
        hmq_conn_ws_input(c, (const uint8_t *)buf->base, (size_t)n);
    else if (c->in_len) {
        c->in_len += (uint32_t)n;
        hmq_conn_consume(c, c->in, c->in_len);
    } else {
        hmq_conn_consume(c, (const uint8_t *)buf->base, (size_t)n);
    }
    if (c->mig)
        post_migration(c);
    else
        update_backpressure(c);
}

int hmq_conn_start(hmq_conn_t *c, const uint8_t *data, size_t len)
{
    uv_tcp_nodelay(&c->tcp, 1);
    LOG_DEBUG("accepted", "peer=%s worker=%u", hmq_conn_peer(c), c->w->id);
    if (len) hmq_conn_consume(c, data, len);
    if (c->mig)
        post_migration(c);
    else
        hmq_conn_update_reading(c);
    return 0;
}

/* ---- hand-over to the session's home worker ------------------------------------------------- */

void hmq_conn_migrate(hmq_conn_t *c, uint32_t home, const uint8_t *raw, size_t raw_len)
{
    hmq_migrate_t *m = calloc(1, sizeof *m);
    if (!m || !hmq_conn_append(&m->data, &m->len, &m->cap, raw, raw_len)) {
        free(m);
        hmq_conn_close(c, HMQ_RC_SERVER_BUSY, NULL);
        return;
    }
    m->mail.kind = HMQ_MAIL_MIGRATE;
    m->home = home;
    m->listener = c->listener;
    m->accepted_ms = c->accepted_ms;
    c->mig = m;
    c->state = HMQ_CONN_MIGRATED;
}

static void post_migration(hmq_conn_t *c)
{
    hmq_migrate_t *m = c->mig;
    uv_os_fd_t fd;
    c->mig = NULL;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) < 0 || (m->fd = dup(fd)) < 0) {
        free(m->data);
        free(m);
        c->state = HMQ_CONN_NEW; /* let close do its accounting */
        hmq_conn_close(c, 0, NULL);
        return;
    }
    /* The engine and the ciphertext not yet written (e.g. TLS 1.3 session tickets) move too. */
    m->tls = c->tls;
    c->tls = NULL;
    m->real_peer = c->real_peer;
    c->real_peer = NULL;
    m->ws = c->ws;
    c->ws = NULL;
    m->proxy_tls = c->proxy_tls;
    c->proxy_tls = NULL;
    m->wire = c->tout;
    m->wire_len = c->tout_len;
    c->tout = NULL;
    c->tout_len = c->tout_cap = 0;
    hmq_conn_update_reading(c);
    finish_close(c);
    hmq_mailbox_post(&c->w->broker->workers[m->home]->mailbox, &m->mail);
}

void hmq_conn_resume_input(hmq_conn_t *c)
{
    if (c->in_len && (c->state == HMQ_CONN_NEW || c->state == HMQ_CONN_CONNECTED))
        hmq_conn_consume(c, c->in, c->in_len);
    if (c->mig)
        post_migration(c);
    else
        hmq_conn_update_reading(c);
}

/* ---- output --------------------------------------------------------------------------------- */

uint8_t *hmq_conn_reserve(hmq_conn_t *c, size_t n)
{
    if (c->state == HMQ_CONN_MIGRATED) return NULL;
    if ((size_t)c->out_cap - c->out_len < n) {
        /* Start small: most connections only ever get a CONNACK and PINGRESPs. */
        size_t cap = c->out_cap ? (size_t)c->out_cap * 2 : 128;
        while (cap - c->out_len < n)
            cap *= 2;
        if (cap > UINT32_MAX) return NULL;
        uint8_t *out = realloc(c->out, cap);
        if (!out) return NULL;
        c->out = out;
        c->out_cap = (uint32_t)cap;
    }
    return c->out + c->out_len;
}

void hmq_conn_commit(hmq_conn_t *c, size_t n)
{
    c->out_len += (uint32_t)n;
    hmq_worker_mark_dirty(c->w, c);
}

/* Rare connection-level answers (CONNACK, PINGRESP, SUBACK, UNSUBACK) are written at once when
 * nothing else is pending, so a connection that only connects and pings never needs an output
 * buffer. Per-message packets keep the per-turn batching. */
static bool try_send_direct(hmq_conn_t *c, const hmq_packet_t *p, uint8_t version)
{
    uint8_t buf[256];
    if (c->tls || c->ws || c->out_len || c->writing ||
        (c->state != HMQ_CONN_CONNECTED && c->state != HMQ_CONN_NEW))
        return false;
    if (p->type != HMQ_CONNACK && p->type != HMQ_PINGRESP && p->type != HMQ_SUBACK &&
        p->type != HMQ_UNSUBACK)
        return false;
    size_t n = hmq_mqtt_encode(p, version, buf, sizeof buf);
    if (n > sizeof buf) return false;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)n);
    int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (w < 0) w = 0; /* EAGAIN or an error the next write will see */
    HMQ_STAT_ADD(c->w->stats.bytes_sent, (uint64_t)w);
    if ((size_t)w < n) {
        uint8_t *o = hmq_conn_reserve(c, n - (size_t)w);
        if (!o) return true;
        memcpy(o, buf + w, n - (size_t)w);
        hmq_conn_commit(c, n - (size_t)w);
    }
    return true;
}

bool hmq_conn_send_packet(hmq_conn_t *c, const hmq_packet_t *p)
{
    if (c->state == HMQ_CONN_MIGRATED) return false;
    if (try_send_direct(c, p, c->version ? c->version : HMQ_MQTT_V311)) return true;
    size_t need = hmq_mqtt_encode(p, c->version ? c->version : HMQ_MQTT_V311, NULL, 0);
    uint8_t *o = hmq_conn_reserve(c, need);
    if (!o) return false;
    size_t n = hmq_mqtt_encode(p, c->version ? c->version : HMQ_MQTT_V311, o, need);
    hmq_conn_commit(c, n);
    return true;
}

static void finish_close(hmq_conn_t *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_write(uv_write_t *req, int status)
{
    hmq_conn_t *c = req->data;
    free(req);
    c->wreq = NULL;
    c->writing = false;
    if (!c->out) { /* reuse the written buffer for new output */
        c->out = c->wbuf;
        c->out_cap = c->wbuf_cap;
    } else {
        free(c->wbuf);
    }
    c->wbuf = NULL;
    c->wbuf_len = c->wbuf_cap = 0;
    if (status < 0) {
        if (c->state != HMQ_CONN_CLOSING && c->state != HMQ_CONN_MIGRATED)
            hmq_conn_close(c, 0, NULL);
        else
            finish_close(c);
        return;
    }
    if (c->out_len || c->tout_len) {
        hmq_conn_flush(c);
    } else if (c->state == HMQ_CONN_CLOSING) {
        finish_close(c);
        return;
    }
    if (c->out_full && hmq_conn_pending(c) <= c->w->cfg->max_outbuf / 2) {
        c->out_full = false;
        hmq_conn_update_reading(c);
    }
    /* The window may have room again for queued QoS 0 of a slow consumer. */
    if (c->session && c->state == HMQ_CONN_CONNECTED) hmq_session_pump(c->session);
}

void hmq_conn_flush(hmq_conn_t *c)
{
    if (c->writing || uv_is_closing((uv_handle_t *)&c->tcp)) return;
    if (c->tls || c->ws) {
        /* Frame/encrypt, then let the code below write the result: the buffers swap roles. */
        hmq_conn_frame_pending(c);
        uint8_t *b = c->out;
        uint32_t cap = c->out_cap;
        c->out = c->tout;
        c->out_len = c->tout_len;
        c->out_cap = c->tout_cap;
        c->tout = b;
        c->tout_len = 0;
        c->tout_cap = cap;
    }
    if (c->out_len == 0) {
        if (c->state == HMQ_CONN_CLOSING) finish_close(c);
        return;
    }
    uv_buf_t b = uv_buf_init((char *)c->out, c->out_len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == UV_EAGAIN) n = 0;
    if (n < 0) {
        c->out_len = 0;
        if (c->state != HMQ_CONN_CLOSING) hmq_conn_close(c, 0, NULL);
        finish_close(c);
        return;
    }
    HMQ_STAT_ADD(c->w->stats.bytes_sent, (uint64_t)n);
    c->idle_since_ms = hmq_worker_now(c->w);
    if ((uint32_t)n == c->out_len) {
        c->out_len = 0;
        if (c->state == HMQ_CONN_CLOSING) finish_close(c);
        return;
    }
    /* Partial: hand the buffer to uv_write and start a fresh one for new output. */
    uint32_t rest = c->out_len - (uint32_t)n;
    c->wbuf = c->out;
    c->wbuf_len = rest;
    c->wbuf_cap = c->out_cap;
    c->out = NULL;
    c->out_len = c->out_cap = 0;
    c->writing = true;
    HMQ_STAT_ADD(c->w->stats.bytes_sent, rest);
    b = uv_buf_init((char *)c->wbuf + n, rest);
    if ((c->wreq = malloc(sizeof *c->wreq))) c->wreq->data = c;
    if (!c->wreq || uv_write(c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        free(c->wreq);
        c->wreq = NULL;
        c->writing = false;
        free(c->wbuf);
        c->wbuf = NULL;
        c->wbuf_len = c->wbuf_cap = 0;
        finish_close(c);
    }
}

/* ---- closing -------------------------------------------------------------------------------- */

static void on_close(uv_handle_t *h)
{
    hmq_conn_t *c = h->data;
    hmq_worker_t *w = c->w;
    if (c->state != HMQ_CONN_MIGRATED) atomic_fetch_sub(&w->broker->connections, 1);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->dirty) { /* unlink from the dirty list */
        hmq_conn_t **pp = &w->dirty;
        while (*pp && *pp != c)
            pp = &(*pp)->dirty_next;
        if (*pp) *pp = c->dirty_next;
    }
    if (c->in_aliases) {
        for (uint32_t i = 0; i < w->cfg->topic_alias_maximum; i++)
            free(c->in_aliases[i]);
        free(c->in_aliases);
    }
    if (c->out_aliases) {
        for (uint32_t i = 0; i < c->out_alias_count; i++)
            free(c->out_aliases[i].topic);
        free(c->out_aliases);
    }
    if (c->tls) hmq_tls_free(c->tls);
    if (c->ws) hmq_ws_free(c->ws);
    hmq_auth_cancel(c);
    hmq_hook_publish_abort(c);
    hmq_hook_subscribe_abort(c);
    hmq_auth_release(c);
    free(c->real_peer);
    free(c->assigned_id);
    hmq_conn_free_proxy_tls(c->proxy_tls);
    free(c->tout);
    free(c->in);
    free(c->out);
    free(c->wbuf);
    free(c);
}

uint16_t hmq_conn_out_alias(hmq_conn_t *c, const char *topic, uint16_t len, bool *known)
{
    enum { MAX_OUT_ALIASES = 32 };
    uint32_t limit = c->client_alias_max < MAX_OUT_ALIASES ? c->client_alias_max : MAX_OUT_ALIASES;
    *known = false;
    if (!limit) return 0;
    uint32_t h = (uint32_t)hmq_hash_bytes(topic, len);
    for (uint16_t i = 0; i < c->out_alias_count; i++) {
        hmq_out_alias_t *a = &c->out_aliases[i];
        if (a->hash == h && a->topic_len == len && memcmp(a->topic, topic, len) == 0) {
            *known = true;
            return a->alias;
        }
    }
    if (c->out_alias_count >= limit) return 0;
    if (!c->out_aliases && !(c->out_aliases = calloc(limit, sizeof *c->out_aliases))) return 0;
    char *copy = malloc(len);
    if (!copy) return 0;
    memcpy(copy, topic, len);
    hmq_out_alias_t *a = &c->out_aliases[c->out_alias_count++];
    a->alias = c->out_alias_count;
    a->topic_len = len;
    a->hash = h;
    a->topic = copy;
    return a->alias;
}

/* Why a connection ended, as the disconnected event names it. */
static const char *close_reason_name(const hmq_conn_t *c, uint8_t reason)
{
    if (c->client_disconnected) return "client";
    switch (reason) {
    case 0:
        return "connection_lost";
    case HMQ_RC_SESSION_TAKEN_OVER:
        return "takeover";
    case HMQ_RC_KEEP_ALIVE_TIMEOUT:
        return "keepalive";
    case HMQ_RC_MALFORMED_PACKET:
    case HMQ_RC_PROTOCOL_ERROR:
        return "protocol_error";
    case HMQ_RC_SERVER_SHUTTING_DOWN:
        return "server_shutdown";
    default:
        return "kicked";
    }
}

void hmq_conn_close(hmq_conn_t *c, uint8_t reason, const char *reason_str)
{
    if (c->state == HMQ_CONN_CLOSING || c->state == HMQ_CONN_MIGRATED) return;
    bool was_connected = c->state == HMQ_CONN_CONNECTED;
    if (was_connected && c->version == HMQ_MQTT_V5 && reason >= 0x80) {
        hmq_packet_t d = {.type = HMQ_DISCONNECT};
        d.reason.code = reason;
        if (reason_str && c->request_problem_info) {
            d.reason.props.present = HMQ_PROP_BIT(HMQ_PROP_REASON_STRING);
            d.reason.props.reason_string.p = (const uint8_t *)reason_str;
            d.reason.props.reason_string.len = (uint32_t)strlen(reason_str);
        }
        hmq_conn_send_packet(c, &d);
    }
    if (c->ws && hmq_ws_open(c->ws)) {
        hmq_conn_frame_pending(c); /* e.g. the DISCONNECT above, before the close frame */
        hmq_ws_close(c->ws, 1000);
    }
    if (c->tls && hmq_tls_handshake_done(c->tls)) {
        hmq_conn_frame_pending(c); /* e.g. the DISCONNECT above, before close_notify */
        hmq_tls_shutdown(c->tls);
    }
    c->state = HMQ_CONN_CLOSING;
    c->idle_since_ms = hmq_worker_now(c->w); /* start of the close grace period */
    if (c->waiting_on) hmq_conn_unpause(c);
    if (was_connected && c->ident)
        hmq_event_disconnected(c, reason, close_reason_name(c, reason),
                               !c->will_suppressed && c->session && c->session->will);
    hmq_auth_cancel(c);
    hmq_hook_publish_abort(c);
    hmq_hook_subscribe_abort(c);
    hmq_conn_update_reading(c);
    if (was_connected) atomic_fetch_sub(&c->w->broker->clients_connected, 1);
    if (c->session) {
        hmq_session_t *s = c->session;
        c->session = NULL;
        hmq_session_detach(s, !c->will_suppressed);
    }
    LOG_DEBUG("closed", "peer=%s reason=0x%02x", hmq_conn_peer(c), reason);
    hmq_conn_flush(c);
}

void hmq_conn_protocol_error(hmq_conn_t *c, int err, const char *what)
{
    HMQ_STAT_ADD(c->w->stats.protocol_errors, 1);
    LOG_DEBUG("protocol_error", "peer=%s error=\"%s\" at=%s", hmq_conn_peer(c),
              hmq_mqtt_err_str(err), what ? what : "-");
    hmq_conn_close(c, hmq_mqtt_err_rc(err), hmq_mqtt_err_str(err));
}

void hmq_conn_sweep(hmq_conn_t *c, uint64_t now)
{
    const hmq_config_t *cfg = c->w->cfg;
    switch (c->state) {
    case HMQ_CONN_NEW:
        if (cfg->connect_timeout_ms && now - c->accepted_ms > cfg->connect_timeout_ms) {
            LOG_DEBUG("connect_timeout", "peer=%s", hmq_conn_peer(c));
            hmq_conn_close(c, 0, NULL);
        }
        break;
    case HMQ_CONN_CONNECTED:
        /* [MQTT-3.1.2-24] 1.5 times the keep alive without a packet: disconnect */
        if (c->cred_expiry_ms && hmq_wall_ms() >= c->cred_expiry_ms) {
            LOG_INFO("credentials_expired", "peer=%s", hmq_conn_peer(c));
            hmq_conn_close(c, HMQ_RC_NOT_AUTHORIZED, "credentials expired");
            break;
        }
        if (c->keepalive && now - c->last_rx_ms > (uint64_t)c->keepalive * 1500) {
            LOG_DEBUG("keepalive_timeout", "peer=%s keepalive=%u", hmq_conn_peer(c), c->keepalive);
            hmq_conn_close(c, HMQ_RC_KEEP_ALIVE_TIMEOUT, "keep alive timeout");
            break;
        }
        if (!c->out_len && !c->tout_len && !c->writing && now - c->idle_since_ms > IDLE_FREE_MS) {
            free(c->out);
            free(c->tout);
            c->out = c->tout = NULL;
            c->out_cap = c->tout_cap = 0;
            if (c->ws) hmq_ws_trim(c->ws); /* wslay's context, ~8.8 KB, is rebuilt on demand */
        }
        break;
    case HMQ_CONN_CLOSING:
        if (now - c->idle_since_ms > CLOSE_GRACE_MS) finish_close(c);
        break;
    default:
        break;
    }
}
