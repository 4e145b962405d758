/* sys.c - $SYS topics (see sys.h). */
#include "core/sys.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/router.h"

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
    publish_u64(w, "$SYS/broker/messages/dropped/offline_qos0", HMQ_STAT_GET(st.dropped_offline_qos0));
    publish_u64(w, "$SYS/broker/messages/dropped/not_authorized", HMQ_STAT_GET(st.dropped_not_authorized));
    publish_u64(w, "$SYS/broker/connections/refused_rate", HMQ_STAT_GET(st.refused_rate));
    publish_u64(w, "$SYS/broker/connections/protocol_errors", HMQ_STAT_GET(st.protocol_errors));
    publish_u64(w, "$SYS/broker/retained/count", hmq_retained_count(b->retained));
    publish_u64(w, "$SYS/broker/subscriptions/count", hmq_topic_index_count(b->index));
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
