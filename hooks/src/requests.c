/* requests.c - the entry points of the hook engine's requests (hookmq/hooks.h): check the
 * request, make its hmq_hooks_op and queue its start on the caller's loop (the callback never
 * runs inside the call), and cancellation. The walk itself is in chain.c.
 */
#include <stdlib.h>
#include <string.h>

#include "chain_int.h"

static void on_start(hmq_hooks_item_t *it)
{
    hmq_hooks_op_t *op = (hmq_hooks_op_t *)((char *)it - offsetof(hmq_hooks_op_t, start));
    hmq_hooks_chain_step(op);
}

static hmq_hooks_op_t *op_new(hmq_hooks_loop_t *hl, hmq_hook_t hook,
                              const hmq_hooks_client_t *client, int *rc)
{
    *rc = HMQ_HOOKS_EINVAL;
    if (!hl || !client || !client->client_id) return NULL;
    hmq_hooks_t *h = hl->h;
    *rc = HMQ_HOOKS_ESTATE;
    if (!h->started || h->closed || hl->closing) return NULL;
    *rc = HMQ_HOOKS_ENOMEM;
    hmq_hooks_op_t *op = calloc(1, sizeof(*op));
    if (!op) return NULL;
    op->h = h;
    op->hl = hl;
    op->hook = hook;
    op->client = client;
    op->start.run = on_start;
    *rc = 0;
    return op;
}

/* The request is the op's from now on; its start runs on the loop, never inside this call. */
static int queue(hmq_hooks_loop_t *hl, hmq_hooks_op_t *op, hmq_hooks_op_t **slot)
{
    *slot = op;
    hmq_hooks_loop_push(hl, &op->start);
    return 0;
}

int hmq_hooks_authenticate(hmq_hooks_loop_t *hl, hmq_hooks_auth_req_t *req, hmq_hooks_auth_cb cb)
{
    int rc;
    if (!req || !cb) return HMQ_HOOKS_EINVAL;
    hmq_hooks_op_t *op = op_new(hl, HMQ_HOOK_AUTHENTICATE, req->client, &rc);
    if (!op) return rc;
    op->req.auth = req;
    op->cb.auth = cb;
    return queue(hl, op, &req->op);
}

int hmq_hooks_authorize(hmq_hooks_loop_t *hl, hmq_hooks_authz_req_t *req, hmq_hooks_authz_cb cb)
{
    int rc;
    if (!req || !cb || !req->topic ||
        (req->action != HMQ_ACTION_PUBLISH && req->action != HMQ_ACTION_SUBSCRIBE))
        return HMQ_HOOKS_EINVAL;
    hmq_hooks_op_t *op = op_new(hl, HMQ_HOOK_AUTHORIZE, req->client, &rc);
    if (!op) return rc;
    op->req.authz = req;
    op->cb.authz = cb;
    return queue(hl, op, &req->op);
}

int hmq_hooks_on_publish(hmq_hooks_loop_t *hl, hmq_hooks_publish_req_t *req,
                         hmq_hooks_publish_cb cb)
{
    int rc;
    if (!req || !cb || !req->message || !req->message->topic) return HMQ_HOOKS_EINVAL;
    hmq_hooks_op_t *op = op_new(hl, HMQ_HOOK_ON_PUBLISH, req->client, &rc);
    if (!op) return rc;
    op->req.pub = req;
    op->cb.pub = cb;
    op->msg = *req->message;
    return queue(hl, op, &req->op);
}

int hmq_hooks_on_subscribe(hmq_hooks_loop_t *hl, hmq_hooks_subscribe_req_t *req,
                           hmq_hooks_subscribe_cb cb)
{
    int rc;
    if (!req || !cb || !req->n_subs || !req->subs) return HMQ_HOOKS_EINVAL;
    hmq_hooks_op_t *op = op_new(hl, HMQ_HOOK_ON_SUBSCRIBE, req->client, &rc);
    if (!op) return rc;
    if (!(op->subs = calloc(req->n_subs, sizeof(*op->subs)))) {
        free(op);
        return HMQ_HOOKS_ENOMEM;
    }
    for (size_t i = 0; i < req->n_subs; i++) {
        op->subs[i].decision = HMQ_DECISION_CONTINUE;
        op->subs[i].max_qos = 3;
    }
    op->req.sub = req;
    op->n_subs = req->n_subs;
    op->cb.sub = cb;
    return queue(hl, op, &req->op);
}

void hmq_hooks_op_cancel(hmq_hooks_op_t *op)
{
    if (!op || op->cancelled) return;
    op->cancelled = true;
    if (op->call && op->call->p->ops->cancel) op->call->p->ops->cancel(op->call->p->self, op->call);
}

void hmq_hooks_auth_cancel(hmq_hooks_auth_req_t *req)
{
    hmq_hooks_op_cancel(req->op);
}
