/* loop.c - delivery of hook completions to a worker's loop: a mutex-protected list plus one
 * uv_async_t per loop. Any thread (the gRPC completion-queue thread, a provider's thread) pushes;
 * the loop drains the whole list on each wakeup (uv_async_send coalesces) and runs the items in
 * the order they were pushed. See DEPENDENCY-NOTES §3 for why nothing else crosses threads.
 */
#include <string.h>

#include "hooks_int.h"

static void on_async(uv_async_t *a)
{
    hmq_hooks_loop_t *hl = a->data;
    uv_mutex_lock(&hl->mu);
    hmq_hooks_item_t *it = hl->head;
    hl->head = NULL;
    uv_mutex_unlock(&hl->mu);
    hmq_hooks_item_t *fifo = NULL; /* the list is LIFO: reverse it */
    while (it) {
        hmq_hooks_item_t *next = it->next;
        it->next = fifo;
        fifo = it;
        it = next;
    }
    while (fifo) {
        hmq_hooks_item_t *next = fifo->next;
        fifo->run(fifo);
        fifo = next;
    }
}

void hmq_hooks_loop_push(hmq_hooks_loop_t *hl, hmq_hooks_item_t *it)
{
    uv_mutex_lock(&hl->mu);
    it->next = hl->head;
    hl->head = it;
    uv_mutex_unlock(&hl->mu);
    uv_async_send(&hl->async);
}

int hmq_hooks_loop_init_internal(hmq_hooks_t *h, uv_loop_t *loop, hmq_hooks_loop_t *hl)
{
    void *data = hl->data;
    memset(hl, 0, sizeof(*hl));
    hl->data = data;
    hl->h = h;
    if (uv_mutex_init(&hl->mu) != 0) return HMQ_HOOKS_ENOMEM;
    if (uv_async_init(loop, &hl->async, on_async) != 0) {
        uv_mutex_destroy(&hl->mu);
        return HMQ_HOOKS_ENOMEM;
    }
    hl->async.data = hl;
    atomic_fetch_add(&h->refs, 1);
    return 0;
}

int hmq_hooks_loop_init(hmq_hooks_t *h, uv_loop_t *loop, hmq_hooks_loop_t *hl)
{
    if (!h || !loop || !hl) return HMQ_HOOKS_EINVAL;
    if (h->closed) return HMQ_HOOKS_ESTATE;
    return hmq_hooks_loop_init_internal(h, loop, hl);
}

static void on_closed(uv_handle_t *handle)
{
    hmq_hooks_loop_t *hl = handle->data;
    hmq_hooks_t *h = hl->h;
    uv_mutex_destroy(&hl->mu);
    if (hl->closed_cb) hl->closed_cb(hl);
    hmq_hooks_engine_unref(h);
}

void hmq_hooks_loop_close(hmq_hooks_loop_t *hl, void (*cb)(hmq_hooks_loop_t *))
{
    if (hl->closing) return;
    hl->closing = true;
    hl->closed_cb = cb;
    on_async(&hl->async); /* what is queued runs now (cancelled requests finish) */
    uv_close((uv_handle_t *)&hl->async, on_closed);
}
