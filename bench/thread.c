/* thread.c - one hmq-bench thread: a libuv loop that owns a share of the connections.
 *
 * main.c fills the thread's connections, starts it, then changes the run phase and wakes the
 * threads through a uv_async. Every loop turn the prepare handle starts pending connects (a
 * bounded number of handshakes at once), lets load.c generate messages, publishes counters for
 * main.c, and flushes every connection that queued packets: one write per connection per turn.
 * While publishing, a 1 ms timer wakes the loop for pacing and backlog accounting; another timer
 * sends PINGREQs every keepalive/2 seconds.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t hb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Connect mode: the CONNACK latency is recorded and the connection goes away at once. */
static void churn_done(hb_thread_t *th, hb_conn_t *c, uint64_t now)
{
    hb_hist_record(&th->stats.lat, now - c->t_connect_ns);
    hmq_packet_t d;
    memset(&d, 0, sizeof(d));
    d.type = HMQ_DISCONNECT;
    uint8_t buf[16];
    size_t n = hmq_mqtt_encode(&d, c->version, buf, sizeof(buf));
    if (!c->writing && c->out.len == 0 && n > 0 && n <= sizeof(buf)) {
        uv_buf_t b = uv_buf_init((char *)buf, (unsigned)n);
        (void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    }
    hb_conn_close(c);
}

void hb_thread_conn_ready(hb_thread_t *th, hb_conn_t *c)
{
    hb_run_t *run = th->run;
    th->handshakes--;
    uint64_t now = hb_now_ns();
    if (run->opts->churn) churn_done(th, c, now);
    uint64_t last = atomic_load(&run->t_last_connected_ns);
    while (last < now && !atomic_compare_exchange_weak(&run->t_last_connected_ns, &last, now)) {
    }
    atomic_fetch_add(&run->ready, 1);
}

void hb_thread_conn_failed(hb_thread_t *th, hb_conn_t *c, const char *why)
{
    th->handshakes--;
    if (atomic_fetch_add(&th->run->failed, 1) < 3)
        fprintf(stderr, "hmq-bench: connection %u failed: %s\n", c->id, why);
}

static void pump_connects(hb_thread_t *th)
{
    while (th->handshakes < th->handshake_limit && th->next_connect < th->nconns) {
        hb_conn_t *c = &th->conns[th->next_connect++];
        th->handshakes++;
        int rc = hb_conn_start(c);
        if (rc < 0) hb_thread_conn_failed(th, c, uv_strerror(rc));
    }
}

static void on_prepare(uv_prepare_t *h)
{
    hb_thread_t *th = h->data;
    int phase = atomic_load(&th->run->phase);
    if (phase >= HB_PH_STOP) return;
    pump_connects(th);
    if (phase == HB_PH_RUN || phase == HB_PH_STOP_PUB) hb_load_pump(th);
    hb_load_flush_counts(th);
    while (th->dirty) {
        hb_conn_t *c = th->dirty;
        th->dirty = c->next_dirty;
        hb_conn_flush(c);
    }
}

static void on_tick(uv_timer_t *t)
{
    hb_load_tick(t->data);
}

static void on_ping(uv_timer_t *t)
{
    hb_thread_t *th = t->data;
    hmq_packet_t p;
    memset(&p, 0, sizeof(p));
    p.type = HMQ_PINGREQ;
    for (uint32_t i = 0; i < th->nconns; i++) {
        hb_conn_t *c = &th->conns[i];
        if (c->state == HB_C_READY && !c->closing) (void)hb_conn_send(c, &p);
    }
}

/* Say DISCONNECT where nothing else is queued (best effort, no waiting), close everything. */
static void stop_all(hb_thread_t *th)
{
    hmq_packet_t d;
    memset(&d, 0, sizeof(d));
    d.type = HMQ_DISCONNECT;
    for (uint32_t i = 0; i < th->nconns; i++) {
        hb_conn_t *c = &th->conns[i];
        if (!c->inited || c->closing) continue;
        if (c->state == HB_C_READY && !c->writing && c->out.len == 0) {
            uint8_t buf[16];
            size_t n = hmq_mqtt_encode(&d, c->version, buf, sizeof(buf));
            if (n > 0 && n <= sizeof(buf)) {
                uv_buf_t b = uv_buf_init((char *)buf, (unsigned)n);
                (void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
            }
        }
        hb_conn_close(c);
    }
    uv_close((uv_handle_t *)&th->wake, NULL);
    uv_close((uv_handle_t *)&th->flush, NULL);
    uv_close((uv_handle_t *)&th->tick, NULL);
    uv_close((uv_handle_t *)&th->ping, NULL);
}

static void on_wake(uv_async_t *h)
{
    hb_thread_t *th = h->data;
    int phase = atomic_load(&th->run->phase);
    if (phase == th->phase) return;
    th->phase = phase;
    if (phase >= HB_PH_STOP) {
        stop_all(th);
        return;
    }
    if (phase == HB_PH_RUN && !uv_is_active((uv_handle_t *)&th->tick))
        uv_timer_start(&th->tick, on_tick, 1, 1);
}

static void *thread_main(void *arg)
{
    hb_thread_t *th = arg;
    uv_run(&th->loop, UV_RUN_DEFAULT);
    return NULL;
}

int hb_thread_start(hb_thread_t *th)
{
    const hb_opts_t *o = th->run->opts;
    int rc = uv_loop_init(&th->loop);
    if (rc < 0) return rc;
    rc = uv_ip4_addr(o->host, o->port, &th->dst);
    if (rc < 0) return rc;
    uv_async_init(&th->loop, &th->wake, on_wake);
    uv_prepare_init(&th->loop, &th->flush);
    uv_timer_init(&th->loop, &th->tick);
    uv_timer_init(&th->loop, &th->ping);
    th->wake.data = th->flush.data = th->tick.data = th->ping.data = th;
    uv_prepare_start(&th->flush, on_prepare);
    if (o->keepalive > 0) {
        uint64_t ms = (uint64_t)o->keepalive * 500;
        uv_timer_start(&th->ping, on_ping, ms, ms);
    }
    th->phase = HB_PH_CONNECT;
    rc = pthread_create(&th->tid, NULL, thread_main, th);
    return rc ? -rc : 0;
}

void hb_thread_wake(hb_thread_t *th)
{
    uv_async_send(&th->wake);
}

void hb_thread_join(hb_thread_t *th)
{
    pthread_join(th->tid, NULL);
    uv_loop_close(&th->loop);
}

void hb_thread_free(hb_thread_t *th)
{
    for (uint32_t i = 0; i < th->nconns; i++) {
        hb_conn_t *c = &th->conns[i];
        hb_load_conn_free(c);
        hb_buf_free(&c->in);
        hb_buf_free(&c->out);
        hb_buf_free(&c->wbuf);
        hb_buf_free(&c->cout);
        if (c->ssl) hb_tls_free(c);
    }
    free(th->conns);
    free(th->pubs);
    free(th->pub_floor);
}
