/* worker.c - a worker thread: event loop, accepting, mailbox, end-of-turn flush, periodic sweep.
 *
 * Created and started by broker.c; see worker.h for ownership rules.
 */
#include "core/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>

#include "core/admission.h"
#include "core/auth.h"
#include "core/conn.h"
#include "net/tls.h"
#include "core/router.h"
#include "core/session.h"
#include "core/sys.h"
#include "util/log.h"

#define RBUF_SIZE (64 * 1024)
#define SWEEP_MS 250

uint64_t hmq_worker_now(hmq_worker_t *w)
{
    return uv_now(&w->loop);
}

uint32_t hmq_worker_home(const hmq_broker_t *b, const char *client_id, size_t len)
{
    if (b->nworkers == 1) return 0;
    return (uint32_t)(hmq_hash_bytes(client_id, len) % b->nworkers);
}

void hmq_worker_mark_dirty(hmq_worker_t *w, hmq_conn_t *c)
{
    if (c->dirty) return;
    c->dirty = true;
    c->dirty_next = w->dirty;
    w->dirty = c;
}

/* ---- cross-worker deliveries --------------------------------------------------------------- */

void hmq_worker_post_delivery(hmq_worker_t *w, uint32_t target, const hmq_delivery_t *d)
{
    hmq_deliver_batch_t *b = w->outgoing[target];
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b) goto fail;
        b->mail.kind = HMQ_MAIL_DELIVER;
        w->outgoing[target] = b;
    }
    if (b->count == b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 64;
        hmq_delivery_t *items = realloc(b->items, cap * sizeof *items);
        if (!items) goto fail;
        b->items = items;
        b->cap = cap;
    }
    b->items[b->count++] = *d;
    return;
fail:
    /* Out of memory: the delivery is lost; count it like a full queue. */
    HMQ_STAT_ADD(w->stats.dropped_queue_full, 1);
    if (!(d->flags & HMQ_DLV_MORE_ID)) hmq_msg_unref(d->msg);
}

static void post_outgoing(hmq_worker_t *w)
{
    for (uint32_t i = 0; i < w->broker->nworkers; i++) {
        hmq_deliver_batch_t *b = w->outgoing[i];
        if (!b) continue;
        w->outgoing[i] = NULL;
        hmq_mailbox_post(&w->broker->workers[i]->mailbox, &b->mail);
    }
}

int hmq_worker_call(hmq_worker_t *target, void (*fn)(hmq_worker_t *, void *), void *arg)
{
    hmq_mail_call_t *m = malloc(sizeof *m);
    if (!m) return -ENOMEM;
    m->mail.kind = HMQ_MAIL_CALL;
    m->fn = fn;
    m->arg = arg;
    hmq_mailbox_post(&target->mailbox, &m->mail);
    return 0;
}

/* ---- accepting ------------------------------------------------------------------------------ */

static void on_connection(uv_stream_t *server, int status)
{
    hmq_worker_t *w = server->data;
    if (status < 0 || w->stopping) return;
    uint32_t listener = (uint32_t)((uv_tcp_t *)server - w->listeners);
    hmq_conn_t *c = hmq_conn_new(w, listener);
    if (!c) {
        /* Accept and drop so the backlog does not fill up with connections we cannot serve. */
        uv_tcp_t tmp;
        uv_tcp_init(&w->loop, &tmp);
        if (uv_accept(server, (uv_stream_t *)&tmp) == 0) uv_close((uv_handle_t *)&tmp, NULL);
        return;
    }
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        hmq_conn_close(c, 0, NULL);
        return;
    }
    const hmq_config_t *cfg = w->cfg;
    int open = atomic_fetch_add(&w->broker->connections, 1) + 1;
    uint32_t lmax = cfg->listeners[listener].max_connections;
    if ((cfg->max_connections && (uint32_t)open > cfg->max_connections) ||
        (lmax && (uint32_t)open > lmax)) {
        LOG_WARN("connection_refused", "reason=max_connections open=%d", open);
        hmq_conn_close(c, 0, NULL);
        return;
    }
    /* Admission control before any TLS work: connect rates per listener and per address (on a
     * PROXY listener the address is known only after the header: checked in conn.c). */
    const hmq_listener_config_t *lc = &cfg->listeners[listener];
    struct sockaddr_storage peer;
    int plen = sizeof peer;
    bool later =
        lc->proxy_protocol || ((lc->kind == HMQ_LISTENER_WS || lc->kind == HMQ_LISTENER_WSS) &&
                               lc->ws_trust_forwarded); /* address known later */
    if (!hmq_admit_listener(w, listener) ||
        (!later && uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &plen) == 0 &&
         !hmq_admit_address(w, listener, (struct sockaddr *)&peer))) {
        HMQ_STAT_ADD(w->stats.refused_rate, 1);
        LOG_DEBUG("connection_refused", "reason=connect_rate listener=%s", lc->name);
        hmq_conn_close(c, 0, NULL);
        return;
    }
    c->proxy_pending = lc->proxy_protocol;
    if ((w->tls[listener] && hmq_conn_use_tls(c, w->tls[listener]) < 0) ||
        ((lc->kind == HMQ_LISTENER_WS || lc->kind == HMQ_LISTENER_WSS) &&
         hmq_conn_use_ws(c, &w->broker->ws[listener]) < 0)) {
        hmq_conn_close(c, 0, NULL);
        return;
    }
    hmq_conn_start(c, NULL, 0);
}

static void set_tls(hmq_worker_t *w, void *arg)
{
    struct tls_swap {
        uint32_t listener;
        hmq_tls_ctx_t *ctx;
    } *sw = arg;
    if (w->tls[sw->listener]) hmq_tls_ctx_unref(w->tls[sw->listener]);
    w->tls[sw->listener] = sw->ctx;
    free(sw);
}

int hmq_worker_set_tls(hmq_worker_t *w, uint32_t listener, hmq_tls_ctx_t *ctx)
{
    struct tls_swap {
        uint32_t listener;
        hmq_tls_ctx_t *ctx;
    } *sw = malloc(sizeof *sw);
    if (!sw) return -ENOMEM;
    sw->listener = listener;
    sw->ctx = ctx;
    int rc = hmq_worker_call(w, set_tls, sw);
    if (rc < 0) free(sw);
    return rc;
}

int hmq_worker_listen(hmq_worker_t *w, uint32_t listener, int fd)
{
    uv_tcp_t *t = &w->listeners[listener];
    int rc = uv_tcp_init(&w->loop, t);
    if (rc < 0) return rc;
    t->data = w;
    if (listener >= w->nlisteners) w->nlisteners = listener + 1;
    if ((rc = uv_tcp_open(t, fd)) < 0) return rc;
    return uv_listen((uv_stream_t *)t, 1024, on_connection);
}

/* ---- mailbox -------------------------------------------------------------------------------- */

static void on_migrate(hmq_worker_t *w, hmq_migrate_t *m)
{
    hmq_conn_t *c = w->stopping ? NULL : hmq_conn_new(w, m->listener);
    if (!c) {
        close(m->fd);
        atomic_fetch_sub(&w->broker->connections, 1);
        return;
    }
    if (uv_tcp_open(&c->tcp, m->fd) < 0) {
        close(m->fd);
        hmq_conn_close(c, 0, NULL);
        return;
    }
    c->accepted_ms = m->accepted_ms;
    c->real_peer = m->real_peer;
    m->real_peer = NULL;
    c->proxy_tls = m->proxy_tls;
    m->proxy_tls = NULL;
    if (m->ws) {
        hmq_conn_adopt_ws(c, m->ws);
        m->ws = NULL;
    }
    if (m->tls) {
        hmq_conn_adopt_tls(c, m->tls, m->wire, m->wire_len);
        m->tls = NULL;
    }
    hmq_conn_start(c, m->data, m->len);
}

static void migrate_free(hmq_migrate_t *m)
{
    if (m->tls) hmq_tls_free(m->tls);
    if (m->ws) hmq_ws_free(m->ws);
    hmq_conn_free_proxy_tls(m->proxy_tls);
    free(m->real_peer);
    free(m->wire);
    free(m->data);
    free(m);
}

static void on_mail(hmq_mail_t *mail, void *data)
{
    hmq_worker_t *w = data;
    switch (mail->kind) {
    case HMQ_MAIL_DELIVER: {
        hmq_deliver_batch_t *b = (hmq_deliver_batch_t *)mail;
        hmq_route_deliver_batch(w, b->items, b->count);
        free(b->items);
        free(b);
        break;
    }
    case HMQ_MAIL_MIGRATE: {
        hmq_migrate_t *m = (hmq_migrate_t *)mail;
        on_migrate(w, m);
        migrate_free(m);
        break;
    }
    case HMQ_MAIL_CALL: {
        hmq_mail_call_t *m = (hmq_mail_call_t *)mail;
        m->fn(w, m->arg);
        free(m);
        break;
    }
    case HMQ_MAIL_STOP:
        free(mail);
        w->stopping = true;
        uv_stop(&w->loop);
        break;
    }
}

/* ---- end of turn and periodic work ---------------------------------------------------------- */

static void on_flush(uv_prepare_t *p)
{
    hmq_worker_t *w = p->data;
    /* Other workers first: they wake up and deliver while this one writes its sockets. */
    post_outgoing(w);
    /* Delivering may make more connections dirty; the list is taken whole each round. */
    while (w->dirty) {
        hmq_conn_t *c = w->dirty;
        w->dirty = NULL;
        while (c) {
            hmq_conn_t *next = c->dirty_next;
            c->dirty = false;
            c->dirty_next = NULL;
            hmq_conn_flush(c);
            c = next;
        }
    }
    post_outgoing(w);
}

static void on_sweep(uv_timer_t *t)
{
    hmq_worker_t *w = t->data;
    uint64_t now = hmq_worker_now(w);
    hmq_conn_t *c = w->conns;
    while (c) {
        hmq_conn_t *next = c->next;
        hmq_conn_sweep(c, now);
        c = next;
    }
    hmq_session_sweep_all(w, now);
    hmq_admission_sweep(w, now);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

hmq_worker_t *hmq_worker_new(hmq_broker_t *b, uint32_t id)
{
    hmq_worker_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->id = id;
    w->broker = b;
    w->cfg = b->cfg;
    w->rbuf_cap = RBUF_SIZE;
    w->rbuf = malloc(w->rbuf_cap);
    w->pbuf_cap = 17 * 1024; /* one TLS record of plaintext */
    w->pbuf = malloc(w->pbuf_cap);
    w->outgoing = calloc(b->nworkers, sizeof *w->outgoing);
    if (!w->rbuf || !w->pbuf || !w->outgoing || uv_loop_init(&w->loop) < 0) goto fail;
    hmq_map_init(&w->sessions);
    hmq_map_init(&w->sessions_uid);
    if (hmq_mailbox_init(&w->mailbox, &w->loop, on_mail, w) < 0) goto fail;
    uv_timer_init(&w->loop, &w->sweep);
    w->sweep.data = w;
    uv_timer_init(&w->loop, &w->sys);
    w->sys.data = w;
    uv_prepare_init(&w->loop, &w->flush);
    w->flush.data = w;
    uv_timer_init(&w->loop, &w->pressure);
    w->pressure.data = w;
    return w;
fail:
    free(w->rbuf);
    free(w->pbuf);
    free(w->outgoing);
    free(w);
    return NULL;
}

static void close_any(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void on_shutdown_deadline(uv_timer_t *t)
{
    /* Clients that do not read their DISCONNECT do not hold the shutdown up. */
    uv_walk(t->loop, close_any, NULL);
}

/* Two phases so no worker posts to a mailbox that is already closed: first every worker stops
 * reading from clients and sends its last deliveries; after the barrier, each drains its mailbox
 * (nothing new can arrive), frees its sessions and closes its handles. Wills are not published on
 * shutdown: the clients did nothing wrong and will reconnect. */
static void hooks_loop_closed(hmq_hooks_loop_t *hl)
{
    free(hl);
}

static void worker_shutdown(hmq_worker_t *w)
{
    w->stopping = true;
    for (uint32_t i = 0; i < w->nlisteners; i++)
        if (!uv_is_closing((uv_handle_t *)&w->listeners[i]))
            uv_close((uv_handle_t *)&w->listeners[i], NULL);
    for (hmq_conn_t *c = w->conns; c; c = c->next) {
        c->will_suppressed = true;
        hmq_conn_close(c, HMQ_RC_SERVER_SHUTTING_DOWN, NULL);
    }
    on_flush(&w->flush);
    uv_barrier_wait(&w->broker->stop_barrier);

    hmq_mailbox_close(&w->mailbox);
    hmq_session_free_all(w);
    if (w->id == 0) hmq_sys_stop(w);
    uv_close((uv_handle_t *)&w->sweep, NULL);
    uv_close((uv_handle_t *)&w->sys, NULL);
    uv_close((uv_handle_t *)&w->flush, NULL);
    uv_close((uv_handle_t *)&w->pressure, NULL);
    if (w->hooks_loop) hmq_hooks_loop_close(w->hooks_loop, hooks_loop_closed);
    uv_timer_t deadline;
    uv_timer_init(&w->loop, &deadline);
    uv_timer_start(&deadline, on_shutdown_deadline, 3000, 0);
    uv_unref((uv_handle_t *)&deadline);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    hmq_router_scratch_free(w);
    hmq_admission_free(w);
    if (uv_loop_close(&w->loop) != 0) LOG_WARN("worker_loop_busy", "worker=%u", w->id);
}

static void worker_main(void *arg)
{
    hmq_worker_t *w = arg;
    char name[16];
    snprintf(name, sizeof name, "hmq-worker-%u", w->id);
    pthread_setname_np(pthread_self(), name);
    urcu_memb_register_thread();
    if (w->broker->hooks && (w->hooks_loop = calloc(1, sizeof *w->hooks_loop)) &&
        hmq_hooks_loop_init(w->broker->hooks, &w->loop, w->hooks_loop) < 0) {
        free(w->hooks_loop);
        w->hooks_loop = NULL;
    }
    uv_prepare_start(&w->flush, on_flush);
    uv_timer_start(&w->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    if (w->id == 0) hmq_sys_start(w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    worker_shutdown(w);
    urcu_memb_unregister_thread();
}

int hmq_worker_run(hmq_worker_t *w)
{
    return uv_thread_create(&w->thread, worker_main, w);
}

void hmq_worker_stop(hmq_worker_t *w)
{
    hmq_mail_t *m = malloc(sizeof *m);
    if (!m) return;
    m->kind = HMQ_MAIL_STOP;
    hmq_mailbox_post(&w->mailbox, m);
}

void hmq_worker_join_free(hmq_worker_t *w)
{
    uv_thread_join(&w->thread);
    hmq_map_free(&w->sessions);
    hmq_map_free(&w->sessions_uid);
    for (uint32_t i = 0; i < HMQ_MAX_LISTENERS; i++)
        if (w->tls[i]) hmq_tls_ctx_unref(w->tls[i]);
    free(w->outgoing);
    free(w->paused);
    free(w->rbuf);
    free(w->pbuf);
    free(w);
}
