/* conn_pressure.c - publisher backpressure: a connection that published to a congested
 * subscriber stops being read until that subscriber drains (or for at most MAX_PAUSE_MS). The
 * worker keeps the paused connections in a list that a 1 ms timer checks.
 *
 * Called by conn_publish.c (hmq_conn_wait_for), the worker's pressure timer, and conn.c when a
 * paused connection closes (hmq_conn_unpause).
 */
#include <stdlib.h>

#include "core/conn_int.h"
#include "core/subscriber.h"

#define MAX_PAUSE_MS 1000 /* a permanently slow subscriber must not stop a publisher forever */

void hmq_conn_unpause(hmq_conn_t *c)
{
    hmq_worker_t *w = c->w;
    for (uint32_t i = 0; i < w->npaused; i++) {
        if (w->paused[i] == c) {
            w->paused[i] = w->paused[--w->npaused];
            break;
        }
    }
    hmq_subscriber_unref(c->waiting_on);
    c->waiting_on = NULL;
    if (!w->npaused) uv_timer_stop(&w->pressure);
}

static void on_pressure(uv_timer_t *t)
{
    hmq_conn_check_paused(t->data);
}

void hmq_conn_wait_for(hmq_conn_t *c, hmq_subscriber_t *sub)
{
    hmq_worker_t *w = c->w;
    if (c->waiting_on || c->state != HMQ_CONN_CONNECTED) {
        hmq_subscriber_unref(sub);
        return;
    }
    if (w->npaused == w->paused_cap) {
        uint32_t cap = w->paused_cap ? w->paused_cap * 2 : 16;
        hmq_conn_t **a = realloc(w->paused, cap * sizeof *a);
        if (!a) {
            hmq_subscriber_unref(sub);
            return;
        }
        w->paused = a;
        w->paused_cap = cap;
    }
    w->paused[w->npaused++] = c;
    c->waiting_on = sub;
    c->paused_at = hmq_worker_now(w);
    if (w->npaused == 1) {
        w->pressure.data = w;
        uv_timer_start(&w->pressure, on_pressure, 1, 1);
    }
    hmq_conn_update_reading(c);
}

void hmq_conn_check_paused(hmq_worker_t *w)
{
    uint64_t now = hmq_worker_now(w);
    for (uint32_t i = 0; i < w->npaused;) {
        hmq_conn_t *c = w->paused[i];
        if (atomic_load_explicit(&c->waiting_on->congested, memory_order_relaxed) &&
            now - c->paused_at < MAX_PAUSE_MS) {
            i++;
            continue;
        }
        hmq_conn_unpause(c); /* moves another entry into slot i */
        c->last_rx_ms = now; /* we did not read: the client's keep alive was not its fault */
        if (c->in_len) hmq_conn_consume(c, c->in, c->in_len);
        hmq_conn_update_reading(c);
    }
}
