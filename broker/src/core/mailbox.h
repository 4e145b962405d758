/* mailbox.h - a worker's inbox: multi-producer queue (liburcu wfcqueue) + one uv_async_t.
 *
 * Any thread posts; the owning worker drains everything queued in one async callback (sends
 * coalesce, so the callback always drains to empty). Items are intrusive (hmq_mail_t header).
 */
#ifndef HMQ_MAILBOX_H
#define HMQ_MAILBOX_H

#include <urcu/wfcqueue.h>
#include <uv.h>

typedef enum {
    HMQ_MAIL_DELIVER, /* hmq_deliver_batch_t: messages for sessions of this worker */
    HMQ_MAIL_MIGRATE, /* hmq_migrate_t: a connection whose session lives on this worker */
    HMQ_MAIL_STOP,    /* shut the worker down */
    HMQ_MAIL_CALL,    /* hmq_mail_call_t: run a function on the worker's thread */
} hmq_mail_kind_t;

typedef struct hmq_mail {
    struct cds_wfcq_node node;
    hmq_mail_kind_t kind;
} hmq_mail_t;

typedef void (*hmq_mail_cb)(hmq_mail_t *mail, void *data);

typedef struct {
    struct cds_wfcq_head head;
    struct cds_wfcq_tail tail;
    uv_async_t async;
    hmq_mail_cb cb;
    void *data;
} hmq_mailbox_t;

int hmq_mailbox_init(hmq_mailbox_t *mb, uv_loop_t *loop, hmq_mail_cb cb, void *data);
/* From any thread. */
void hmq_mailbox_post(hmq_mailbox_t *mb, hmq_mail_t *mail);
/* Close the async handle (on the owning loop); undelivered items are handed to cb first. */
void hmq_mailbox_close(hmq_mailbox_t *mb);

#endif
