/* grpc_int.h - internals of the gRPC provider, shared by its files:
 *   grpc_provider.c  channels, connectivity, Handshake, routing by registrations, the CQ thread,
 *                    the home-loop tick, life cycle
 *   grpc_unary.c     unary calls: Authenticate, Authorize (subscribe), OnSubscribe, Health
 *   grpc_stream.c    the MessageHooks stream: batching, credits, correlation, deadlines
 *   grpc_breaker.c   the circuit breaker and health checks
 *   grpc_events.c    the Events stream
 *
 * Threads: calls start on loop threads (workers) or on the engine's home loop; the one
 * completion-queue thread runs every tag's callback (gtag_t.cb) and hands results to loops
 * (hmq_hooks_call_done, or hmq_hooks_loop_push to the home loop). Locks, in the order they may
 * be taken: g->mu (unary live list) -> s->smu (streams of the server) -> s->bmu (breaker).
 */
#ifndef HMQ_GRPC_INT_H
#define HMQ_GRPC_INT_H

#include <grpc/grpc.h>
#include <stdatomic.h>

#include "client_pack.h"
#include "events.h"
#include "hookmq/v1/hooks.pb-c.h"
#include "hooks_int.h"
#include "util/map.h"

#define HMQ_GRPC_SERVICE "hookmq.v1.HookProvider"
#define HMQ_GRPC_METHOD(m) "/hookmq.v1.HookProvider/" m

typedef struct endpoint endpoint_t;
typedef struct mstream mstream_t;
typedef struct estream estream_t;

/* A completion-queue tag: the CQ thread calls cb(tag, success). */
typedef struct gtag {
    void (*cb)(struct gtag *t, bool ok);
} gtag_t;

/* What the server declared in its last handshake (immutable, shared by reference). */
typedef struct {
    atomic_int refs;
    Hookmq__V1__HandshakeResponse *resp;
    uint32_t types;      /* bit (1u << HookType) of the registered types */
    bool want_stream;    /* OnPublish or publish Authorize: open MessageHooks */
    uint32_t event_mask; /* bit (1u << EventType) of the events any EVENTS registration wants */
    uint32_t max_batch;  /* the server's max_batch_size (0 = ours) */
} decl_t;

/* A unary call. */
typedef enum { GC_AUTH, GC_AUTHZ, GC_SUB, GC_HANDSHAKE, GC_HEALTH } gcall_kind_t;

typedef struct gcall {
    uint8_t pk;            /* PK_UNARY: what hmq_hooks_call provider data points to */
    gtag_t tag;            /* the CQ tag */
    hmq_hooks_item_t item; /* GC_HANDSHAKE / GC_HEALTH: delivery to the home loop */
    gcall_kind_t kind;
    struct gcall *prev, *next; /* g->live */
    endpoint_t *ep;
    grpc_call *call;
    hmq_hooks_call_t *hcall; /* hook calls */
    size_t n_subs;           /* GC_SUB: subscriptions sent */
    bool probe;              /* GC_HEALTH: a breaker probe (else periodic) */
    int health;              /* GC_HEALTH: ServingStatus, -1 = no answer, -2 = UNIMPLEMENTED */
    grpc_metadata_array md_in, trailers;
    grpc_byte_buffer *send, *recv;
    grpc_status_code status;
    grpc_slice details;
    Hookmq__V1__HandshakeResponse *hs; /* GC_HANDSHAKE, decoded on the CQ thread */
} gcall_t;

#define PK_UNARY 1
#define PK_STREAM 2

struct endpoint {
    hmq_grpc_server_t *s;
    size_t index;
    char *target;
    grpc_channel *ch;
    grpc_connectivity_state state; /* home loop */
    atomic_bool ready;             /* READY and handshaken on this connection */
    bool watching;
    gtag_t watch_tag;            /* CQ thread -> home loop */
    hmq_hooks_item_t watch_item; /* home loop: on_watch */
    bool hs_in_flight;           /* home loop: a Handshake call is running */
    uint64_t hs_retry_ms;        /* home loop: after a failed handshake, retry not before */
    uint32_t hs_backoff_ms;
    mstream_t *ms;        /* MessageHooks stream, NULL = none (under s->smu) */
    uint64_t ms_retry_ms; /* home loop: reopen not before (after a break) */
};

typedef enum { BREAKER_CLOSED = 0, BREAKER_OPEN, BREAKER_HALF_OPEN } breaker_state_t;

struct hmq_grpc_server {
    hmq_grpc_t *g;
    char *name;
    endpoint_t *eps;
    size_t n_eps;
    atomic_uint rr;
    atomic_bool handshaken;
    uint32_t max_batch;
    uv_rwlock_t decl_lock;
    decl_t *decl;
    hmq_client_pack_t *cpack; /* packed identities of connections (client_pack.c) */
    /* streams (grpc_stream.c) */
    uv_mutex_t smu;
    atomic_uint_fast64_t next_id;
    bool closing; /* under smu */
    /* breaker (grpc_breaker.c); state read lock-free by route */
    uv_mutex_t bmu;
    atomic_int bstate;
    uint32_t b_failures, b_threshold, b_open_ms, b_open_base_ms, b_open_max_ms;
    uint64_t b_open_until_ms;
    bool b_probing;
    bool b_after_probe;        /* closed by a probe, no call succeeded since */
    bool health_unimplemented; /* the server has no grpc.health.v1 */
    uint32_t health_interval_ms;
    uint64_t health_next_ms;
    bool health_in_flight;
    /* events (grpc_events.c) */
    hmq_events_spool_t *spool;
    estream_t *es;        /* under smu */
    uint64_t es_retry_ms; /* home loop */
    atomic_bool events_kick;
};

struct hmq_grpc {
    hmq_hooks_t *h;
    hmq_hooks_loop_t *home;
    char *node;
    char **listeners;
    size_t n_listeners;
    grpc_completion_queue *cq;
    uv_thread_t thread;
    bool thread_started, grpc_inited, closed;
    hmq_grpc_server_t **servers;
    size_t n_servers;
    uv_mutex_t mu; /* live unary calls, closing */
    gcall_t *live;
    bool closing;
    uv_timer_t *tick;           /* home loop: deadlines, breaker, health, reopening */
    hmq_hooks_item_t kick_item; /* any thread -> home loop: run the tick now */
    atomic_bool kick_queued;
};

/* ---- grpc_provider.c ---- */
decl_t *hmq_grpc_decl(hmq_grpc_server_t *s); /* a reference, or NULL; decl_unref */
void hmq_grpc_decl_unref(decl_t *d);
/* Registrations of type t matching: client (NULL = any), topic (NULL = any; mode below),
 * action (0 any, 1 publish, 2 subscribe; AUTHORIZE only), event type (0 = any; EVENTS only).
 * Fills up to max_ids ids; returns the number of matches. want_payload / want_chain: unions. */
enum { TOPIC_NAME = 0, TOPIC_FILTER = 1 };
size_t hmq_grpc_match(const decl_t *d, Hookmq__V1__HookType t, const hmq_hooks_client_t *c,
                      const char *topic, int topic_mode, int action, int event, uint32_t *ids,
                      size_t max_ids, bool *want_payload, bool *want_chain);
endpoint_t *hmq_grpc_pick_endpoint(hmq_grpc_server_t *s);
/* Run the home-loop tick soon (any thread). */
void hmq_grpc_kick_home(hmq_grpc_t *g);

/* ---- grpc_unary.c ---- */
gcall_t *hmq_gcall_new(gcall_kind_t kind, endpoint_t *ep);
void hmq_gcall_free(gcall_t *c);
/* Packs msg (or raw bytes when msg is NULL) and starts the call (any thread). 0, or -1 (nothing
 * started; c not freed). */
int hmq_gcall_start(hmq_grpc_t *g, gcall_t *c, const char *method, const ProtobufCMessage *msg,
                    const uint8_t *raw, size_t raw_len, uint32_t deadline_ms, bool wait_for_ready);
uint8_t *hmq_grpc_recv_bytes(grpc_byte_buffer *bb, size_t *len); /* gpr_free */
hmq_hooks_call_status_t hmq_grpc_map_status(grpc_status_code st);
int hmq_grpc_authenticate(void *self, hmq_hooks_call_t *call, const hmq_hooks_auth_req_t *req,
                          uint32_t deadline_ms);
int hmq_grpc_authorize_subscribe(hmq_grpc_server_t *s, hmq_hooks_call_t *call,
                                 const hmq_hooks_authz_req_t *req, const uint32_t *ids,
                                 size_t n_ids, bool want_chain, uint32_t deadline_ms);
int hmq_grpc_on_subscribe(void *self, hmq_hooks_call_t *call, const hmq_hooks_subscribe_req_t *req,
                          const hmq_hooks_subscription_t *subs, size_t n_subs,
                          uint32_t deadline_ms);
/* Starts a grpc.health.v1.Health/Check on ep; the result comes to the home loop. */
int hmq_grpc_health_check(hmq_grpc_server_t *s, endpoint_t *ep, bool probe);
/* Decoders (also used by the stream). */
void hmq_grpc_sub_results(hmq_grpc_server_t *s, const Hookmq__V1__SubscribeResponse *r,
                          hmq_hooks_answer_t *a);
bool hmq_grpc_filter_valid(const char *f);

/* ---- grpc_stream.c ---- */
int hmq_grpc_stream_publish(void *self, hmq_hooks_call_t *call, const hmq_hooks_client_t *client,
                            const hmq_hooks_message_t *message, uint32_t deadline_ms);
int hmq_grpc_stream_authorize(hmq_grpc_server_t *s, hmq_hooks_call_t *call,
                              const hmq_hooks_authz_req_t *req, const uint32_t *ids, size_t n_ids,
                              bool want_payload, bool want_chain, uint32_t deadline_ms);
/* Home loop: open the endpoint's stream if the server wants one and none is open. */
void hmq_grpc_stream_open(endpoint_t *ep);
/* Home loop: expire items past their deadline. */
void hmq_grpc_stream_expire(hmq_grpc_server_t *s, uint64_t now_ms);
/* Cancel (any loop thread): the item completes CANCELLED now. true if it was a stream item. */
bool hmq_grpc_stream_cancel(hmq_grpc_server_t *s, hmq_hooks_call_t *call);
/* Engine close: every item completes CANCELLED, the streams are cancelled. */
void hmq_grpc_stream_close(hmq_grpc_server_t *s);
void hmq_grpc_stream_free(hmq_grpc_server_t *s); /* after the CQ thread ended */

/* ---- grpc_breaker.c ---- */
void hmq_grpc_breaker_init(hmq_grpc_server_t *s, const hmq_hooks_server_config_t *cfg);
/* A hook call ended (any thread; CANCELLED is ignored). */
void hmq_grpc_breaker_result(hmq_grpc_server_t *s, hmq_hooks_call_status_t st);
bool hmq_grpc_breaker_allows(hmq_grpc_server_t *s); /* route: not OPEN */
/* Home loop: probes and periodic health checks. */
void hmq_grpc_breaker_tick(hmq_grpc_server_t *s, uint64_t now_ms);
/* Home loop: a health check ended. */
void hmq_grpc_breaker_health_done(hmq_grpc_server_t *s, gcall_t *gc);
/* Home loop: the server completed a handshake (a restarted server gets a fresh chance). */
void hmq_grpc_breaker_handshaken(hmq_grpc_server_t *s);

/* ---- grpc_events.c ---- */
int hmq_grpc_events_init(hmq_grpc_server_t *s, const hmq_hooks_server_config_t *cfg);
bool hmq_grpc_event(void *self, const hmq_hooks_event_t *ev);
void hmq_grpc_events_tick(hmq_grpc_server_t *s, uint64_t now_ms); /* home loop */
void hmq_grpc_events_close(hmq_grpc_server_t *s);
void hmq_grpc_events_free(hmq_grpc_server_t *s);

#endif
