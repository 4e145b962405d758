/* mailbox.c - see mailbox.h. */
#include "core/mailbox.h"

#include <urcu/compiler.h>

static void drain(hmq_mailbox_t *mb)
{
    struct cds_wfcq_node *node;
    /* Splice the whole queue at once so producers are never blocked for long. */
    struct cds_wfcq_head h;
    struct cds_wfcq_tail t;
    cds_wfcq_init(&h, &t);
    __cds_wfcq_splice_blocking(&h, &t, &mb->head, &mb->tail);
    while ((node = __cds_wfcq_dequeue_blocking(&h, &t)) != NULL) {
        hmq_mail_t *mail = caa_container_of(node, hmq_mail_t, node);
        mb->cb(mail, mb->data);
    }
}

static void on_async(uv_async_t *a)
{
    drain(a->data);
}

int hmq_mailbox_init(hmq_mailbox_t *mb, uv_loop_t *loop, hmq_mail_cb cb, void *data)
{
    cds_wfcq_init(&mb->head, &mb->tail);
    mb->cb = cb;
    mb->data = data;
    mb->async.data = mb;
    return uv_async_init(loop, &mb->async, on_async);
}

void hmq_mailbox_post(hmq_mailbox_t *mb, hmq_mail_t *mail)
{
    cds_wfcq_node_init(&mail->node);
    cds_wfcq_enqueue(&mb->head, &mb->tail, &mail->node);
    uv_async_send(&mb->async);
}

void hmq_mailbox_close(hmq_mailbox_t *mb)
{
    drain(mb);
    uv_close((uv_handle_t *)&mb->async, NULL);
}
