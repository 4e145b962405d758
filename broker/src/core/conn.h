/* conn.h - one client connection: socket, input framing, packet dispatch, output buffering,
 * keepalive, and the per-connection MQTT state (protocol version, negotiated limits, aliases).
 *
 * Owned by exactly one worker. Reads go through the worker's shared read buffer; only a partial
 * packet is kept per connection, so an idle connection holds no buffers. Output is appended to a
 * per-connection buffer and written once per loop turn (one write per socket per turn).
 */
#ifndef HMQ_CONN_H
#define HMQ_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/worker.h"
#include "mqtt/mqtt.h"
#include "net/tls.h"
#include "net/ws.h"

typedef enum {
    HMQ_CONN_NEW,       /* waiting for CONNECT */
    HMQ_CONN_CONNECTED, /* CONNACK sent */
    HMQ_CONN_CLOSING,   /* no more input processed; output flushed then closed */
    HMQ_CONN_MIGRATED,  /* handed to another worker; handle closing */
} hmq_conn_state_t;

typedef struct {
    uint16_t alias;
    uint16_t topic_len;
    uint32_t hash;
    char *topic;
} hmq_out_alias_t;

struct hmq_conn {
    uv_tcp_t tcp;
    hmq_worker_t *w;
    hmq_session_t *session;
    hmq_conn_t *prev, *next; /* worker's connection list */
    hmq_conn_t *dirty_next;
    uint8_t state;
    uint8_t version; /* 3, 4, 5 after CONNECT */
    bool dirty;
    bool writing;  /* a uv_write is in flight */
    bool reading;  /* uv_read_start is in effect */
    bool out_full; /* backpressure: our output to this client is over the limit */
    bool request_problem_info;
    bool will_suppressed;     /* normal DISCONNECT received */
    bool client_disconnected; /* DISCONNECT received (events: reason "client") */
    uint8_t close_reason;     /* v5 reason if we are closing with DISCONNECT */
    uint16_t keepalive;       /* seconds, as negotiated */
    uint16_t client_receive_max;
    uint16_t client_alias_max;
    uint16_t out_alias_count;
    uint32_t listener;
    uint32_t client_max_packet; /* 0 = protocol maximum */
    uint64_t last_rx_ms;
    uint64_t accepted_ms;
    uint64_t idle_since_ms;       /* last time output was written; buffers freed after a while */
    hmq_subscriber_t *waiting_on; /* backpressure: paused until this subscriber drains */
    uint64_t paused_at;
    /* input: only a partial packet is kept here */
    uint8_t *in;
    uint32_t in_len, in_cap;
    /* output */
    uint8_t *out;
    uint32_t out_len, out_cap;
    uint8_t *wbuf; /* buffer being written by uv_write (allocated with its request) */
    uint32_t wbuf_len, wbuf_cap;
    uv_write_t *wreq; /* only while a write is pending: idle connections stay small */
    /* TLS listeners: the engine, and ciphertext waiting to be written (out holds plaintext) */
    hmq_tls_t *tls;
    hmq_ws_t *ws; /* ws/wss listeners: the WebSocket engine (above TLS on wss) */
    uint8_t *tout;
    uint32_t tout_len, tout_cap;
    hmq_migrate_t *mig; /* hand-over being prepared (sent at the end of the read) */
    bool proxy_pending; /* PROXY protocol listener: header not received yet */
    bool authenticated; /* a hook allowed this client (auth.c) */
    bool superuser;
    struct hmq_auth_ctx *auth;      /* Authenticate call in flight: input waits */
    struct hmq_auth_ctx *auth_wait; /* enhanced authentication: waiting for the client's AUTH */
    struct hmq_auth_ctx *ident; /* identity for hooks after CONNECT (NULL without a hook engine) */
    struct hmq_pub_hold *pub_head, *pub_tail; /* publishes waiting for hooks, in arrival order */
    uint32_t pub_held;
    struct hmq_sub_hold *sub_hold;      /* a SUBSCRIBE waiting for hooks: input waits */
    struct hmq_grants *grants;          /* what the hook allowed (NULL: no restriction) */
    char *username;                     /* kept only when grants need %u */
    char *assigned_id;                  /* client identifier we assigned (CONNECT without one) */
    uint64_t cred_expiry_ms;            /* wall clock; 0 = none */
    struct sockaddr_storage *real_peer; /* client address from the PROXY header */
    struct hmq_proxy_tls *proxy_tls;    /* TLS identity a load balancer passed (PROXY v2) */
    /* v5 topic aliases */
    char **in_aliases; /* [alias-1] -> topic, lazily allocated (our topic_alias_maximum) */
    hmq_out_alias_t *out_aliases;
};

/* The TLS facts a TLS-terminating load balancer passed in PROXY v2 TLVs. */
typedef struct hmq_proxy_tls {
    bool cert_verified; /* the client presented a certificate on this connection and it verified */
    char *cn;           /* its CN (only meaningful when verified) */
    char *version;
    char *cipher;
} hmq_proxy_tls_t;

/* "ip:port" of the peer, for logs (formatted on demand into a per-thread buffer). */
const char *hmq_conn_peer(hmq_conn_t *c);

/* Create a connection for an accepted/migrated socket on w. */
hmq_conn_t *hmq_conn_new(hmq_worker_t *w, uint32_t listener);
/* Speak TLS on this connection (a new engine on ctx), or adopt a migrated engine. */
int hmq_conn_use_tls(hmq_conn_t *c, hmq_tls_ctx_t *ctx);
void hmq_conn_adopt_tls(hmq_conn_t *c, hmq_tls_t *tls, const uint8_t *wire, size_t wire_len);
/* Speak WebSocket on this connection (ws, wss), or adopt a migrated engine. */
int hmq_conn_use_ws(hmq_conn_t *c, const hmq_ws_config_t *cfg);
void hmq_conn_adopt_ws(hmq_conn_t *c, hmq_ws_t *ws);
void hmq_conn_free_proxy_tls(hmq_proxy_tls_t *p);
/* Start reading; `data` (may be NULL) is input already received (after migration). */
int hmq_conn_start(hmq_conn_t *c, const uint8_t *data, size_t len);

/* Output. All return false when the connection cannot take more (closing). */
uint8_t *hmq_conn_reserve(hmq_conn_t *c, size_t n); /* space for n bytes, commit with _commit */
void hmq_conn_commit(hmq_conn_t *c, size_t n);
bool hmq_conn_send_packet(hmq_conn_t *c, const hmq_packet_t *p);
/* Write what is buffered (called by the worker at the end of a loop turn). */
void hmq_conn_flush(hmq_conn_t *c);

/* Refuse a CONNECT with a CONNACK (MQTT 5 reason code, or MQTT 3 return code; v5 clients also
 * get `why` as reason string), then close. */
void hmq_conn_refuse(hmq_conn_t *c, uint8_t v5_code, uint8_t v3_code, const char *why);

/* Hand the connection to worker `home` (conn_connect.c, on CONNECT): raw is every unprocessed
 * input byte from the CONNECT on. The hand-over is posted at the end of the current read, with
 * the TLS engine and any input still arriving in it. */
void hmq_conn_migrate(hmq_conn_t *c, uint32_t home, const uint8_t *raw, size_t raw_len);
/* v5 outbound topic alias for topic (0 = none). *known: the client already has it. */
uint16_t hmq_conn_out_alias(hmq_conn_t *c, const char *topic, uint16_t len, bool *known);

/* Close after flushing output. v5: if reason >= 0x80 (or 0x8E/0x8B...), send DISCONNECT first
 * (reason_str optional; sent only if the client did not set Request Problem Information 0). */
void hmq_conn_close(hmq_conn_t *c, uint8_t reason, const char *reason_str);
/* Close because of bad input: v5 DISCONNECT with the reason for err, v3 just close. */
void hmq_conn_protocol_error(hmq_conn_t *c, int err, const char *what);

/* Packet handlers (conn_connect.c, conn_publish.c, conn_subscribe.c). */
void hmq_conn_on_connect(hmq_conn_t *c, hmq_packet_t *p, const uint8_t *raw, size_t raw_len);
void hmq_conn_on_publish(hmq_conn_t *c, hmq_packet_t *p);
void hmq_conn_on_pubrel(hmq_conn_t *c, hmq_packet_t *p);
void hmq_conn_on_subscribe(hmq_conn_t *c, hmq_packet_t *p);
void hmq_conn_on_unsubscribe(hmq_conn_t *c, hmq_packet_t *p);
void hmq_conn_on_disconnect(hmq_conn_t *c, hmq_packet_t *p);

/* Backpressure: stop reading until `sub` (a congested subscriber this client just published to;
 * reference taken over) is no longer congested, or for at most a second. */
void hmq_conn_wait_for(hmq_conn_t *c, hmq_subscriber_t *sub);
/* Worker's pressure timer: resume paused publishers whose subscriber drained. */
void hmq_conn_check_paused(hmq_worker_t *w);

/* Input waits: publisher backpressure, an Authenticate call, a SUBSCRIBE at the hooks, or too
 * many publishes at the hooks. */
bool hmq_conn_input_held(const hmq_conn_t *c);

/* Process input that waited (an Authenticate call ended) and read again. */
void hmq_conn_resume_input(hmq_conn_t *c);

/* Periodic check from the worker's sweep timer: keepalive and connect timeout. */
void hmq_conn_sweep(hmq_conn_t *c, uint64_t now);

/* Bytes buffered for output and not yet taken by the kernel. */
static inline uint32_t hmq_conn_pending(const hmq_conn_t *c)
{
    return c->out_len + c->wbuf_len + c->tout_len;
}

#endif
