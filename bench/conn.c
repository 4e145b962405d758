/* conn.c - one MQTT client connection of hmq-bench: TCP connect from a loopback source address,
 * CONNECT/CONNACK, SUBACK, packet framing on reads, and writes batched per loop turn.
 *
 * Called by thread.c (start, flush, close) and load.c (send, reserve/commit). Packets are built
 * and parsed with the broker's codec (broker/src/mqtt/mqtt.h); PUBLISH and its acknowledgements
 * go to load.c. Outgoing packets are appended to `out` and written by one uv_write per loop turn
 * (thread.c's prepare handle calls hb_conn_flush), at most one write in flight per connection.
 * With --tls the bytes pass through tls.c on their way in and out.
 */
#include "bench.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int hb_buf_reserve(hb_buf_t *b, size_t extra)
{
    if (b->cap - b->len >= extra) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) return UV_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

void hb_buf_free(hb_buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

void hb_conn_init(hb_conn_t *c, hb_thread_t *th, uint32_t id, hb_role_t role)
{
    memset(c, 0, sizeof(*c));
    c->th = th;
    c->id = id;
    c->role = (uint8_t)role;
    c->state = HB_C_NEW;
    c->version = th->run->opts->version;
}

static void mark_dirty(hb_conn_t *c)
{
    if (c->dirty) return;
    c->dirty = true;
    c->next_dirty = c->th->dirty;
    c->th->dirty = c;
}

/* The connection is gone: before it was ready it counts as failed, after as dropped. */
static void conn_lost(hb_conn_t *c, const char *why)
{
    if (c->closing) return;
    hb_run_t *run = c->th->run;
    if (c->state < HB_C_READY) {
        hb_thread_conn_failed(c->th, c, why);
    } else if (atomic_load(&run->phase) < HB_PH_STOP) {
        if (atomic_fetch_add(&run->dropped, 1) < 3)
            fprintf(stderr, "hmq-bench: connection %u closed: %s\n", c->id, why);
    }
    hb_conn_close(c);
}

static void on_close(uv_handle_t *h)
{
    (void)h;
}

void hb_conn_close(hb_conn_t *c)
{
    if (c->inited && !c->closing) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_close);
        hb_load_conn_closed(c);
    }
    if (c->ssl) hb_tls_free(c);
    c->state = HB_C_CLOSED;
}

uint8_t *hb_conn_reserve(hb_conn_t *c, size_t n)
{
    if (hb_buf_reserve(&c->out, n)) return NULL;
    return c->out.p + c->out.len;
}

void hb_conn_commit(hb_conn_t *c, size_t n)
{
    c->out.len += n;
    mark_dirty(c);
}

int hb_conn_send(hb_conn_t *c, const hmq_packet_t *p)
{
    static uint8_t none[1];
    for (;;) {
        size_t room = c->out.cap - c->out.len;
        uint8_t *at = c->out.p ? c->out.p + c->out.len : none;
        size_t n = hmq_mqtt_encode(p, c->version, at, room);
        if (n == 0) return -1;
        if (n <= room) {
            hb_conn_commit(c, n);
            return 0;
        }
        if (hb_buf_reserve(&c->out, n)) return UV_ENOMEM;
    }
}

size_t hb_conn_pending(const hb_conn_t *c)
{
    return c->out.len + c->cout.len + c->tcp.write_queue_size;
}

static void on_write(uv_write_t *req, int status)
{
    hb_conn_t *c = req->data;
    c->writing = false;
    c->wbuf.len = 0;
    if (status < 0) {
        if (status != UV_ECANCELED) conn_lost(c, uv_strerror(status));
        return;
    }
    if (c->out.len || (c->ssl && hb_tls_pending(c))) mark_dirty(c);
}

void hb_conn_flush(hb_conn_t *c)
{
    c->dirty = false;
    if (c->closing || c->writing || c->state < HB_C_CONNECT) return;
    hb_buf_t *from = &c->out;
    if (c->ssl) { /* this turn's packets become records in cout */
        const char *why = NULL;
        if (hb_tls_seal(c, &c->cout, &why) < 0) {
            conn_lost(c, why);
            return;
        }
        from = &c->cout;
    }
    if (from->len == 0) return;
    hb_buf_t t = c->wbuf;
    c->wbuf = *from;
    *from = t;
    uv_buf_t b = uv_buf_init((char *)c->wbuf.p, (unsigned)c->wbuf.len);
    c->write_req.data = c;
    int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc < 0) {
        c->wbuf.len = 0;
        conn_lost(c, uv_strerror(rc));
        return;
    }
    c->writing = true;
}

static void send_connect(hb_conn_t *c)
{
    const hb_opts_t *o = c->th->run->opts;
    char id[64];
    int n = snprintf(id, sizeof(id), "hmqb-%u-%u", (unsigned)getpid(), c->id);
    hmq_packet_t p;
    memset(&p, 0, sizeof(p));
    p.type = HMQ_CONNECT;
    p.connect.version = o->version;
    p.connect.clean_start = true;
    p.connect.keepalive = o->keepalive;
    p.connect.protocol_name = (hmq_bytes_t){(const uint8_t *)"MQTT", 4};
    p.connect.client_id = (hmq_bytes_t){(const uint8_t *)id, (uint32_t)n};
    if (o->username) {
        p.connect.has_username = true;
        p.connect.username =
            (hmq_bytes_t){(const uint8_t *)o->username, (uint32_t)strlen(o->username)};
    }
    if (o->password) {
        p.connect.has_password = true;
        p.connect.password =
            (hmq_bytes_t){(const uint8_t *)o->password, (uint32_t)strlen(o->password)};
    }
    c->t_connect_ns = hb_now_ns();
    if (hb_conn_send(c, &p) < 0) conn_lost(c, "cannot encode CONNECT");
}

static void on_connack(hb_conn_t *c, const hmq_connack_t *ack)
{
    if (c->state != HB_C_CONNECT) {
        conn_lost(c, "unexpected CONNACK");
        return;
    }
    if (ack->code != 0) {
        char why[48];
        snprintf(why, sizeof(why), "CONNACK refused, code 0x%02x", ack->code);
        conn_lost(c, why);
        return;
    }
    if (c->version == HMQ_MQTT_V5 && (ack->props.present & HMQ_PROP_BIT(HMQ_PROP_RECEIVE_MAXIMUM)))
        c->recv_max = ack->props.receive_maximum;
    if (c->role == HB_ROLE_SUB) {
        c->state = HB_C_SUBSCRIBE;
        if (hb_load_subscribe(c) < 0) conn_lost(c, "cannot encode SUBSCRIBE");
        return;
    }
    c->state = HB_C_READY;
    hb_thread_conn_ready(c->th, c);
}

static void on_suback(hb_conn_t *c, const hmq_suback_t *ack)
{
    if (c->state != HB_C_SUBSCRIBE) {
        conn_lost(c, "unexpected SUBACK");
        return;
    }
    for (uint32_t i = 0; i < ack->count; i++) {
        if (ack->codes[i] >= 0x80) {
            char why[48];
            snprintf(why, sizeof(why), "SUBACK refused, code 0x%02x", ack->codes[i]);
            conn_lost(c, why);
            return;
        }
    }
    c->state = HB_C_READY;
    hb_thread_conn_ready(c->th, c);
}

static void on_packet(hb_conn_t *c, const uint8_t *pkt, size_t len, uint64_t now_ns)
{
    uint8_t type = pkt[0] >> 4;
    if (type >= HMQ_PUBLISH && type <= HMQ_PUBCOMP) {
        hb_load_on_packet(c, pkt, len, now_ns);
        return;
    }
    hmq_packet_t p;
    int rc = hmq_mqtt_decode(pkt, len, c->version, &p);
    if (rc < 0) {
        c->th->stats.protocol_errors++;
        conn_lost(c, hmq_mqtt_err_str(rc));
        return;
    }
    switch (p.type) {
    case HMQ_CONNACK:
        on_connack(c, &p.connack);
        break;
    case HMQ_SUBACK:
        on_suback(c, &p.suback);
        break;
    case HMQ_PINGRESP:
        break;
    case HMQ_DISCONNECT: {
        char why[48];
        snprintf(why, sizeof(why), "DISCONNECT from broker, code 0x%02x", p.reason.code);
        conn_lost(c, why);
        break;
    }
    default:
        c->th->stats.protocol_errors++;
        conn_lost(c, "unexpected packet");
    }
}

/* Handle every whole packet in data[0..len); returns the bytes consumed. */
static size_t parse(hb_conn_t *c, const uint8_t *data, size_t len, uint64_t now_ns)
{
    size_t off = 0;
    while (off < len && !c->closing) {
        size_t pkt_len = 0;
        int r = hmq_mqtt_frame(data + off, len - off, 0, &pkt_len);
        if (r == 0) break;
        if (r < 0) {
            c->th->stats.protocol_errors++;
            conn_lost(c, "bad packet framing");
            break;
        }
        on_packet(c, data + off, pkt_len, now_ns);
        off += pkt_len;
    }
    return off;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    hb_conn_t *c = h->data;
    buf->base = (char *)c->th->rbuf;
    buf->len = sizeof(c->th->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    hb_conn_t *c = s->data;
    if (nread == 0) return;
    if (nread < 0) {
        conn_lost(c, nread == UV_EOF ? "closed by the broker" : uv_strerror((int)nread));
        return;
    }
    uint64_t now = hb_now_ns(); /* one arrival time for everything this read returned */
    if (!c->ssl) {
        hb_conn_plaintext(c, (const uint8_t *)buf->base, (size_t)nread, now);
        return;
    }
    /* the read buffer is free again once the ciphertext is in the BIO: decrypt into it */
    const char *why = NULL;
    if (hb_tls_input(c, (const uint8_t *)buf->base, (size_t)nread, c->th->rbuf,
                     sizeof(c->th->rbuf), now, &why) < 0) {
        conn_lost(c, why);
        return;
    }
    if (!c->closing && hb_tls_pending(c)) mark_dirty(c);
}

void hb_conn_plaintext(hb_conn_t *c, const uint8_t *data, size_t len, uint64_t now)
{
    if (c->in.len) { /* complete the packet carried over from the previous read */
        if (hb_buf_reserve(&c->in, len)) {
            conn_lost(c, "out of memory");
            return;
        }
        memcpy(c->in.p + c->in.len, data, len);
        c->in.len += len;
        data = c->in.p;
        len = c->in.len;
    }
    size_t used = parse(c, data, len, now);
    if (c->closing) return;
    if (data == c->in.p) {
        memmove(c->in.p, c->in.p + used, len - used);
        c->in.len = len - used;
    } else if (used < len) {
        if (hb_buf_reserve(&c->in, len - used)) {
            conn_lost(c, "out of memory");
            return;
        }
        memcpy(c->in.p, data + used, len - used);
        c->in.len = len - used;
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    hb_conn_t *c = req->data;
    if (status < 0) {
        if (status != UV_ECANCELED) conn_lost(c, uv_strerror(status));
        return;
    }
    if (c->closing) return;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc < 0) {
        conn_lost(c, uv_strerror(rc));
        return;
    }
    if (c->th->run->opts->tls && hb_tls_start(c) < 0) {
        conn_lost(c, "TLS setup failed");
        return;
    }
    c->state = HB_C_CONNECT;
    send_connect(c); /* with TLS: sent once the handshake is done */
}

/* Open the socket, bind it to 127.0.0.(1 + id % K) and connect. IP_BIND_ADDRESS_NO_PORT defers
 * the port choice to connect(), so each source address has its own ephemeral port range per
 * destination. */
int hb_conn_start(hb_conn_t *c)
{
    const hb_opts_t *o = c->th->run->opts;
    int rc = uv_tcp_init_ex(&c->th->loop, &c->tcp, AF_INET);
    if (rc < 0) {
        c->state = HB_C_CLOSED;
        return rc;
    }
    c->inited = true;
    c->tcp.data = c;
    c->connect_req.data = c;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    }
    rc = uv_tcp_nodelay(&c->tcp, 1);
    if (rc == 0 && o->src_addrs > 0) {
        char ip[20];
        struct sockaddr_in src;
        snprintf(ip, sizeof(ip), "127.0.0.%u", 1 + c->id % o->src_addrs);
        rc = uv_ip4_addr(ip, 0, &src);
        if (rc == 0) rc = uv_tcp_bind(&c->tcp, (const struct sockaddr *)&src, 0);
    }
    if (rc == 0)
        rc = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&c->th->dst,
                            on_connect);
    if (rc < 0) {
        hb_conn_close(c);
        return rc;
    }
    c->state = HB_C_TCP;
    return 0;
}
