/* session.h - an MQTT session: subscriptions, the outbound queue and in-flight window with their
 * QoS 1/2 state machines, inbound QoS 2 packet ids, the will, and expiry.
 *
 * A session lives on one worker for its whole life (its home, chosen by client id) and outlives
 * its connections when it is persistent (v3 clean session 0, v5 session expiry > 0).
 */
#ifndef HMQ_SESSION_H
#define HMQ_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "core/message.h"
#include "core/subscriber.h"
#include "core/worker.h"
#include "mqtt/mqtt.h"

/* Queue/in-flight item flags. */
enum {
    HMQ_QI_RETAIN = 1, /* send with RETAIN */
    HMQ_QI_SENT = 2,   /* sent at least once: resend with DUP */
    HMQ_QI_PUBREL = 4, /* QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP */
};

typedef struct {
    hmq_msg_t *msg; /* NULL once a QoS 2 message reached PUBREL state */
    uint32_t sub_id;
    uint32_t cookie;    /* shared subscription reference, 0 = none */
    uint32_t *more_ids; /* extra subscription ids (overlapping subscriptions), rare */
    uint16_t n_more;
    uint16_t pid;
    uint8_t qos;
    uint8_t flags;
} hmq_qitem_t;

/* A FIFO ring of items. */
typedef struct {
    hmq_qitem_t *items;
    uint32_t head, count, cap;
} hmq_ring_t;

typedef struct {
    char *filter; /* full filter as subscribed (may be $share/g/f) */
    uint16_t len;
    hmq_subopts_t opts;
    uint32_t sub_id;
    uint32_t cookie; /* session-local reference passed through the index */
    bool shared;
    char *asked; /* the filter the client asked for when a hook rewrote it (UNSUBSCRIBE), or NULL */
} hmq_sub_rec_t;

typedef struct hmq_session hmq_session_t;
struct hmq_session {
    hmq_worker_t *w;
    char *client_id;
    uint16_t id_len;
    uint8_t version;
    bool clean; /* ends when its connection ends */
    uint64_t uid;
    hmq_subscriber_t *handle;
    hmq_conn_t *conn;
    uint32_t expiry_s;  /* session expiry interval; UINT32_MAX = never */
    uint64_t expire_at; /* worker time (ms) when an offline session expires; 0 = not set */
    hmq_sub_rec_t *subs;
    uint32_t nsubs, subs_cap;
    uint32_t next_cookie;
    hmq_ring_t queue;    /* waiting to be sent */
    hmq_ring_t inflight; /* sent, not yet acknowledged (send order) */
    uint16_t next_pid;
    uint16_t *rx_qos2; /* inbound QoS 2 packet ids waiting for PUBREL */
    uint16_t n_rx_qos2, rx_qos2_cap;
    hmq_msg_t *will;
    uint32_t will_delay_s;
    uint64_t will_at; /* worker time (ms) when a delayed will is due; 0 = none pending */
    hmq_session_t *sweep_prev, *sweep_next; /* worker's list of offline sessions */
    bool on_sweep;
    bool ending;
};

hmq_session_t *hmq_session_new(hmq_worker_t *w, const char *client_id, size_t len);
/* End the session: remove subscriptions from the index, hand shared messages to other members,
 * publish a pending will, drop queues, free. */
void hmq_session_end(hmq_session_t *s);

/* Connection attach/detach. */
void hmq_session_attach(hmq_session_t *s, hmq_conn_t *c);
/* The connection is gone. publish_will: the will is due (abnormal close). */
void hmq_session_detach(hmq_session_t *s, bool publish_will);

/* Deliver a message (called on the session's worker; takes over one reference of msg).
 * sub_ids: the identifiers of every subscription of this session that matched. */
void hmq_session_deliver(hmq_session_t *s, hmq_msg_t *msg, uint8_t qos, uint8_t flags,
                         const uint32_t *sub_ids, uint16_t n_ids, uint32_t cookie);
/* Resend in-flight messages (DUP) and PUBRELs after a reconnect, then send queued ones. */
void hmq_session_resume(hmq_session_t *s);
/* Send queued messages while the in-flight window allows. */
void hmq_session_pump(hmq_session_t *s);

/* Outbound acknowledgements. Return false if the packet id is unknown. */
bool hmq_session_on_puback(hmq_session_t *s, uint16_t pid);
bool hmq_session_on_pubrec(hmq_session_t *s, uint16_t pid, uint8_t code);
bool hmq_session_on_pubcomp(hmq_session_t *s, uint16_t pid);

/* Inbound QoS 2 ids. add: returns 1 if new, 0 if already present (duplicate), -1 if full. */
int hmq_session_rx_qos2_add(hmq_session_t *s, uint16_t pid, uint16_t max);
bool hmq_session_rx_qos2_del(hmq_session_t *s, uint16_t pid);

/* Subscriptions. Returns the record (new or replaced); *existed tells which. */
hmq_sub_rec_t *hmq_session_sub_add(hmq_session_t *s, const char *filter, size_t len,
                                   const hmq_subopts_t *opts, uint32_t sub_id, bool *existed);
/* The record a hook rewrote from `asked` (the client's filter), or NULL. */
hmq_sub_rec_t *hmq_session_sub_by_asked(hmq_session_t *s, const char *asked, size_t len);
bool hmq_session_sub_del(hmq_session_t *s, const char *filter, size_t len);
hmq_sub_rec_t *hmq_session_sub_by_cookie(hmq_session_t *s, uint32_t cookie);

/* Will: publish it now (and forget it). */
void hmq_session_publish_will(hmq_session_t *s);

/* Worker sweep: expiry and delayed wills of offline sessions. */
void hmq_session_sweep_all(hmq_worker_t *w, uint64_t now);
/* Shutdown: free every session of w without publishing wills or moving messages. */
void hmq_session_free_all(hmq_worker_t *w);

#endif
