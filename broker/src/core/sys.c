/* sys.c - $SYS topics (see sys.h). */
#include "core/sys.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/router.h"
#include "hookmq/hooks.h"

static void publish(hmq_worker_t *w, const char *topic, const char *value)
{
    hmq_msg_t *m = hmq_msg_new(topic, strlen(topic), value, strlen(value), NULL, 0, 0, true);
    if (!m) return;
    hmq_retained_set(w->broker->retained, m->topic, m->topic_len, m);
    hmq_route(w, m, NULL);
    hmq_msg_unref(m);
}

static void publish_u64(hmq_worker_t *w, const char *topic, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    publish(w, topic, buf);
}

/* Per provider and hook: the hook engine's counters and latency histogram (cumulative buckets,
 * the Prometheus convention: "le_ms=1:12 le_ms=2:30 ... le_ms=+Inf:100"). Only hooks that were
 * ever called (or hit in the cache) are published. */
static void publish_hooks(hmq_worker_t *w)
{
    static const char *const names[HMQ_HOOK__COUNT] = {"authenticate", "authorize", "on_publish",
                                                       "on_subscribe", "events"};
    hmq_hooks_t *h = w->broker->hooks;
    if (!h) return;
    char topic[256], hist[512];
    for (size_t i = 0; i < hmq_hooks_provider_count(h); i++) {
        const char *p = hmq_hooks_provider_name(h, i);
        for (int k = 0; k < HMQ_HOOK__COUNT; k++) {
            hmq_hooks_metrics_t m;
            if (hmq_hooks_metrics(h, i, (hmq_hook_t)k, &m) < 0 || (!m.calls && !m.cache_hits))
                continue;
            const struct {
                const char *name;
                uint64_t v;
            } rows[] = {{"calls", m.calls},           {"failures", m.failures},
                        {"timeouts", m.timeouts},     {"unavailable", m.unavailable},
                        {"cache_hits", m.cache_hits}, {"in_flight", m.in_flight}};
            for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
                snprintf(topic, sizeof topic, "$SYS/broker/hooks/%s/%s/%s", p, names[k],
                         rows[r].name);
                publish_u64(w, topic, rows[r].v);
            }
            uint64_t cum = 0;
            size_t off = 0;
            for (size_t b = 0; b < HMQ_HOOKS_LATENCY_BUCKETS && off < sizeof hist; b++) {
                cum += m.latency[b];
                if (b + 1 < HMQ_HOOKS_LATENCY_BUCKETS)
                    off += (size_t)snprintf(hist + off, sizeof hist - off, "le_ms=%u:%" PRIu64 " ",
                                            hmq_hooks_latency_bounds_ms[b], cum);
                else
                    off +=
                        (size_t)snprintf(hist + off, sizeof hist - off, "le_ms=+Inf:%" PRIu64, cum);
            }
            snprintf(topic, sizeof topic, "$SYS/broker/hooks/%s/%s/latency", p, names[k]);
            publish(w, topic, hist);
        }
    }
    publish_u64(w, "$SYS/broker/hooks/events/dropped", hmq_hooks_events_dropped(h));
}

void hmq_sys_publish(hmq_worker_t *w)
{
    hmq_broker_t *b = w->broker;
    hmq_stats_t st;
    hmq_broker_stats(b, &st);
    char buf[64];
    publish(w, "$SYS/broker/version", "hookmq " HOOKMQ_VERSION);
    snprintf(buf, sizeof buf, "%" PRIu64 " seconds", (hmq_wall_ms() - b->start_ms) / 1000);
    publish(w, "$SYS/broker/uptime", buf);
    publish_u64(w, "$SYS/broker/clients/connected", (uint64_t)atomic_load(&b->clients_connected));
    publish_u64(w, "$SYS/broker/connections", (uint64_t)atomic_load(&b->connections));
    publish_u64(w, "$SYS/broker/messages/received", HMQ_STAT_GET(st.msgs_received));
    publish_u64(w, "$SYS/broker/messages/sent", HMQ_STAT_GET(st.msgs_sent));
    publish_u64(w, "$SYS/broker/bytes/received", HMQ_STAT_GET(st.bytes_received));
    publish_u64(w, "$SYS/broker/bytes/sent", HMQ_STAT_GET(st.bytes_sent));
    publish_u64(w, "$SYS/broker/messages/dropped/queue_full", HMQ_STAT_GET(st.dropped_queue_full));
    publish_u64(w, "$SYS/broker/messages/dropped/expired", HMQ_STAT_GET(st.dropped_expired));
    publish_u64(w, "$SYS/broker/messages/dropped/too_large", HMQ_STAT_GET(st.dropped_too_large));
    publish_u64(w, "$SYS/broker/messages/dropped/slow_consumer", HMQ_STAT_GET(st.dropped_slow));
    publish_u64(w, "$SYS/broker/messages/dropped/offline_qos0",
                HMQ_STAT_GET(st.dropped_offline_qos0));
    publish_u64(w, "$SYS/broker/messages/dropped/not_authorized",
                HMQ_STAT_GET(st.dropped_not_authorized));
    publish_u64(w, "$SYS/broker/messages/dropped/hook", HMQ_STAT_GET(st.dropped_by_hook));
    publish_u64(w, "$SYS/broker/connections/refused_rate", HMQ_STAT_GET(st.refused_rate));
    publish_u64(w, "$SYS/broker/connections/protocol_errors", HMQ_STAT_GET(st.protocol_errors));
    publish_u64(w, "$SYS/broker/retained/count", hmq_retained_count(b->retained));
    publish_u64(w, "$SYS/broker/subscriptions/count", hmq_topic_index_count(b->index));
    publish_hooks(w);
}

static void on_tick(uv_timer_t *t)
{
    hmq_sys_publish(t->data);
}

void hmq_sys_start(hmq_worker_t *w)
{
    uint64_t ms = (uint64_t)w->cfg->sys_interval * 1000;
    if (!ms) return;
    hmq_sys_publish(w);
    uv_timer_start(&w->sys, on_tick, ms, ms);
}

void hmq_sys_stop(hmq_worker_t *w)
{
    uv_timer_stop(&w->sys);
}
