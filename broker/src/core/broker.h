/* broker.h - the broker: configuration, workers, and the state all workers share
 * (subscription index, retained store, uid counter, connection count, statistics).
 *
 * main.c creates one hmq_broker_t, starts it, and stops it on SIGINT/SIGTERM. Everything that is
 * per-connection or per-session belongs to a worker (worker.h); only what is listed here is shared.
 */
#ifndef HMQ_BROKER_H
#define HMQ_BROKER_H

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "core/retained.h"
#include "core/topic_index.h"
#include "net/ws.h"

typedef struct hmq_worker hmq_worker_t;

/* Counters: each worker owns one block and is its only writer; readers ($SYS, metrics) sum them.
 * Relaxed atomics make the cross-thread reads well defined and cost a plain store on x86. */
typedef struct {
    atomic_uint_fast64_t msgs_received; /* PUBLISH packets from clients */
    atomic_uint_fast64_t msgs_sent;     /* PUBLISH packets to clients */
    atomic_uint_fast64_t bytes_received;
    atomic_uint_fast64_t bytes_sent;
    atomic_uint_fast64_t connects; /* accepted CONNECTs */
    atomic_uint_fast64_t dropped_queue_full;
    atomic_uint_fast64_t dropped_expired;
    atomic_uint_fast64_t dropped_too_large; /* larger than the client's Maximum Packet Size */
    atomic_uint_fast64_t dropped_slow;      /* QoS 0 to a client whose output buffer is full */
    atomic_uint_fast64_t dropped_offline_qos0;
    atomic_uint_fast64_t protocol_errors; /* connections closed for malformed/invalid input */
    atomic_uint_fast64_t refused_rate;    /* connections refused by connect-rate limits */
    atomic_uint_fast64_t dropped_not_authorized; /* PUBLISH refused by grants or authorize hooks */
    atomic_uint_fast64_t dropped_by_hook;        /* PUBLISH dropped by an on_publish hook */
} hmq_stats_t;

#define HMQ_STAT_ADD(field, n)                                                                     \
    atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (n),    \
                          memory_order_relaxed)
#define HMQ_STAT_GET(field) atomic_load_explicit(&(field), memory_order_relaxed)

typedef struct hmq_broker {
    const hmq_config_t *cfg;
    uint32_t nworkers;
    hmq_worker_t **workers;
    hmq_topic_index_t *index;
    hmq_retained_t *retained;
    atomic_uint_fast64_t next_uid;
    atomic_int connections;                     /* open TCP connections, all listeners */
    atomic_int clients_connected;               /* connections that completed CONNECT */
    uint64_t start_ms;                          /* hmq_wall_ms() at start */
    uint16_t ports[HMQ_MAX_LISTENERS];          /* actual bound ports (port 0 resolved) */
    uv_barrier_t stop_barrier;                  /* workers' two-phase shutdown (worker.c) */
    struct hmq_tls_ctx *tls[HMQ_MAX_LISTENERS]; /* current context per TLS listener */
    struct hmq_hooks *hooks;               /* hook engine, NULL without hook servers (auth.c) */
    hmq_ws_config_t ws[HMQ_MAX_LISTENERS]; /* WebSocket options per ws/wss listener */
} hmq_broker_t;

/* Create listeners and workers, and start the worker threads. */
int hmq_broker_start(hmq_broker_t *b, const hmq_config_t *cfg, uv_loop_t *home);
/* Stop accepting, disconnect clients (v5: DISCONNECT 0x8B), join the workers, free everything. */
void hmq_broker_stop(hmq_broker_t *b);

uint64_t hmq_broker_new_uid(hmq_broker_t *b);
/* SIGHUP: re-read the certificates, keys, CAs and CRLs of every TLS listener. New connections
 * use them; established connections are not touched. A listener whose files fail to load keeps
 * its current ones (logged). Returns 0 or -EINVAL if any failed. */
int hmq_broker_reload_tls(hmq_broker_t *b);
/* Sum of every worker's counters. */
void hmq_broker_stats(hmq_broker_t *b, hmq_stats_t *out);

#endif
