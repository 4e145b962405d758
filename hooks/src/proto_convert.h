/* proto_convert.h - hook engine structs <-> hooks.proto messages (protobuf-c), shared by the
 * gRPC provider (grpc_*.c) and the events spool (events.c). Internal to hooks/.
 *
 * Encoding views borrow the caller's strings (no copies): fill one on the stack, pack the
 * request, then clear it (frees only the arrays it allocated). Decoding of answers copies into
 * malloc'd engine structs (hmq_hooks_message_t with owned pointers).
 */
#ifndef HMQ_PROTO_CONVERT_H
#define HMQ_PROTO_CONVERT_H

#include "hookmq/hooks.h"
#include "hookmq/v1/hooks.pb-c.h"

/* A ClientInfo view of a hmq_hooks_client_t. */
typedef struct {
    Hookmq__V1__ClientInfo ci;
    Hookmq__V1__ConnectProperties cp;
    Hookmq__V1__TlsInfo ti;
    Hookmq__V1__Certificate cert;
    Hookmq__V1__UserProperty *ups;
    Hookmq__V1__UserProperty **upp;
    Hookmq__V1__ClientInfo__AttributesEntry *attrs;
    Hookmq__V1__ClientInfo__AttributesEntry **attrp;
} hmq_pb_client_t;

/* What a server's registrations asked for (IdentityOptions): the chain PEM is only sent when
 * asked; everything else is always sent. */
typedef struct {
    bool tls_chain;
} hmq_pb_identity_opts_t;

/* Returns 0 or -1 (no memory; pc is cleared). node may be NULL. */
int hmq_pb_client_init(hmq_pb_client_t *pc, const hmq_hooks_client_t *c, const char *node,
                       const hmq_pb_identity_opts_t *opts);
void hmq_pb_client_clear(hmq_pb_client_t *pc);

/* A PublishMessage view of a hmq_hooks_message_t; the payload only when want_payload
 * (payload_size is always set). */
typedef struct {
    Hookmq__V1__PublishMessage m;
    Hookmq__V1__UserProperty *ups;
    Hookmq__V1__UserProperty **upp;
} hmq_pb_message_t;

int hmq_pb_message_init(hmq_pb_message_t *pm, const hmq_hooks_message_t *msg, bool want_payload);
void hmq_pb_message_clear(hmq_pb_message_t *pm);

/* MessageChanges -> the engine's bit set and owned values (only the listed fields are copied;
 * pointers malloc'd). Returns 0, or -1 on no memory / invalid values (qos > 2, empty topic or
 * a topic with wildcards) with *out cleared. */
int hmq_pb_changes_decode(const Hookmq__V1__MessageChanges *mc, uint32_t *changed,
                          hmq_hooks_message_t *out);
/* Frees the owned pointers of a message made by hmq_pb_changes_decode (or the engine). */
void hmq_hooks_message_free_owned(hmq_hooks_message_t *m);

/* Result -> decision, reason code and malloc'd reason (never NULL on success). Unknown or
 * UNSPECIFIED decisions become HMQ_DECISION_FAILURE. */
void hmq_pb_result_decode(const Hookmq__V1__Result *r, hmq_hooks_answer_t *a);

#endif
