/* worker.h - one event-loop thread: its listeners, connections, sessions and mailbox.
 *
 * A worker owns its connections and the sessions that live on it exclusively; nothing on the
 * per-connection path takes a lock. Sessions are sharded by client id (hmq_worker_home): a
 * connection accepted on another worker is handed to its session's home worker right after
 * CONNECT, so a session never moves and takeover is always local (see docs/design.md).
 * Deliveries to sessions on other workers are batched per loop turn and posted to their mailbox.
 */
#ifndef HMQ_WORKER_H
#define HMQ_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/broker.h"
#include "core/mailbox.h"
#include "core/message.h"
#include "util/map.h"

typedef struct hmq_conn hmq_conn_t;
typedef struct hmq_session hmq_session_t;

/* One delivery of a message to one session, as it crosses workers. */
enum {
    HMQ_DLV_RETAIN = 1,  /* send with RETAIN set */
    HMQ_DLV_MORE_ID = 2, /* not a new delivery: one more subscription id for the previous one */
};
typedef struct {
    hmq_msg_t *msg;  /* one reference per delivery record (MORE_ID records hold none) */
    uint64_t uid;    /* target session */
    uint32_t sub_id; /* v5 subscription identifier, 0 = none */
    uint32_t cookie; /* nonzero: came through the session's shared subscription `cookie` */
    uint8_t qos;     /* effective QoS */
    uint8_t flags;
} hmq_delivery_t;

typedef struct {
    hmq_mail_t mail;
    uint32_t count, cap;
    hmq_delivery_t *items;
} hmq_deliver_batch_t;

/* A connection handed over to the worker that owns its session. */
typedef struct {
    hmq_mail_t mail;
    int fd;
    uint32_t listener;
    uint64_t accepted_ms;
    uint32_t home;
    struct hmq_tls *tls; /* TLS engine, moved with the connection (NULL for plain TCP) */
    struct sockaddr_storage *real_peer; /* from a PROXY header, moved with the connection */
    struct hmq_ws *ws;                  /* WebSocket engine, moved with the connection */
    struct hmq_proxy_tls *proxy_tls;    /* PROXY v2 TLS identity, moved with the connection */
    uint8_t *wire;                      /* ciphertext not yet written (malloc'ed, may be NULL) */
    uint32_t wire_len;
    uint32_t len, cap; /* unprocessed plaintext input, starting with the CONNECT packet */
    uint8_t *data;
} hmq_migrate_t;

typedef struct {
    hmq_mail_t mail;
    void (*fn)(hmq_worker_t *w, void *arg);
    void *arg;
} hmq_mail_call_t;

struct hmq_worker {
    uint32_t id;
    hmq_broker_t *broker;
    const hmq_config_t *cfg;
    uv_loop_t loop;
    uv_thread_t thread;
    hmq_mailbox_t mailbox;
    uv_tcp_t listeners[HMQ_MAX_LISTENERS];
    uint32_t nlisteners;
    uv_timer_t sweep;   /* keepalive, connect timeout, session expiry, will delay */
    uv_timer_t sys;     /* $SYS publisher (worker 0 only) */
    uv_prepare_t flush; /* end of each loop turn: write output, post batches */
    uint8_t *rbuf;      /* shared read buffer (one read callback at a time) */
    size_t rbuf_cap;
    uint8_t *pbuf; /* shared plaintext buffer for TLS records */
    size_t pbuf_cap;
    struct hmq_tls_ctx *tls[HMQ_MAX_LISTENERS]; /* this worker's reference per TLS listener */
    hmq_map_t sessions;                         /* client id -> session */
    hmq_map_t sessions_uid;                     /* uid -> session */
    hmq_conn_t *conns;              /* every connection of this worker (doubly linked) */
    hmq_conn_t *dirty;              /* connections with output to write this turn */
    hmq_session_t *offline;         /* offline sessions that can expire or owe a delayed will */
    hmq_deliver_batch_t **outgoing; /* per target worker, posted at end of turn */
    void *match_scratch;            /* router's per-publish scratch (router.c) */
    hmq_conn_t **paused;            /* publishers paused by backpressure (conn.c) */
    uint32_t npaused, paused_cap;
    uv_timer_t pressure;               /* runs while publishers are paused */
    void *admission;                   /* connect-rate buckets (admission.c) */
    struct hmq_hooks_loop *hooks_loop; /* answers of the hook engine arrive here (auth.c) */
    hmq_stats_t stats;
    bool stopping;
};

hmq_worker_t *hmq_worker_new(hmq_broker_t *b, uint32_t id);
int hmq_worker_listen(hmq_worker_t *w, uint32_t listener, int fd);
/* Give the worker (from any thread, through its mailbox) a new TLS context for a listener:
 * new connections use it; the worker drops its reference to the previous one. Takes over the
 * caller's reference. */
int hmq_worker_set_tls(hmq_worker_t *w, uint32_t listener, struct hmq_tls_ctx *ctx);
int hmq_worker_run(hmq_worker_t *w);   /* starts the thread */
void hmq_worker_stop(hmq_worker_t *w); /* from another thread: posts STOP */
void hmq_worker_join_free(hmq_worker_t *w);

/* Worker that owns the session of client_id. */
uint32_t hmq_worker_home(const hmq_broker_t *b, const char *client_id, size_t len);

/* Queue a delivery for a session on worker `target` (posted at the end of this turn). */
void hmq_worker_post_delivery(hmq_worker_t *w, uint32_t target, const hmq_delivery_t *d);
/* Run fn(w, arg) on worker `target`'s thread. */
int hmq_worker_call(hmq_worker_t *target, void (*fn)(hmq_worker_t *, void *), void *arg);

/* Mark a connection as having output to write at the end of this loop turn. */
void hmq_worker_mark_dirty(hmq_worker_t *w, hmq_conn_t *c);

uint64_t hmq_worker_now(hmq_worker_t *w); /* loop time in ms (monotonic) */

#endif
