/* chain_int.h - a request walking the provider chain (hmq_hooks_op), shared by chain.c (the walk)
 * and requests.c (the entry points that create and start one). Internal to hooks/.
 */
#ifndef HMQ_CHAIN_INT_H
#define HMQ_CHAIN_INT_H

#include "hooks_int.h"

typedef struct {
    int decision; /* CONTINUE / ALLOW / DENY */
    uint8_t code;
    char *reason;
    char *filter; /* owned rewrite, NULL = the request's */
    uint8_t max_qos;
} sub_state_t;

struct hmq_hooks_op {
    hmq_hooks_t *h;
    hmq_hooks_loop_t *hl;
    hmq_hook_t hook;
    union {
        hmq_hooks_auth_req_t *auth;
        hmq_hooks_authz_req_t *authz;
        hmq_hooks_publish_req_t *pub;
        hmq_hooks_subscribe_req_t *sub;
    } req;
    union {
        hmq_hooks_auth_cb auth;
        hmq_hooks_authz_cb authz;
        hmq_hooks_publish_cb pub;
        hmq_hooks_subscribe_cb sub;
    } cb;
    const hmq_hooks_client_t *client;
    size_t pos;
    bool cancelled;
    hmq_hooks_call_t *call;   /* in flight */
    hmq_hooks_value_t *allow; /* first ALLOW seen (deny_wins goes on asking) */
    const char *allow_by;
    bool allow_policy, allow_cache;
    /* on_publish: the message as changed so far, and the values the changes own */
    hmq_hooks_message_t msg, owned;
    uint32_t changed;
    /* on_subscribe (n_subs kept: the request may be gone when the op is freed) */
    sub_state_t *subs;
    size_t n_subs;
    hmq_hooks_item_t start;
};

/* Run the walk from op->pos (on op's loop thread). */
void hmq_hooks_chain_step(hmq_hooks_op_t *op);

#endif
