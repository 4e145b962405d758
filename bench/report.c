/* report.c - hmq-bench's output: a human-readable summary on stdout and, with --json, one JSON
 * line (flat numbers; the schema is documented in docs/benchmarks.md) that bench/compare.sh
 * parses. Called by main.c at the end of a run (idle mode: once every connection is up).
 */
#include "bench.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *mode_name(hb_mode_t m)
{
    return m == HB_MODE_IDLE ? "idle" : m == HB_MODE_FANOUT ? "fanout" : "pubsub";
}

static double per_s(double n, double s)
{
    return s > 0 ? n / s : 0;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static int64_t rss_per_conn(const hb_result_t *r)
{
    if (!r->connected || r->rss_after_kb < r->rss_before_kb) return 0;
    return (int64_t)((r->rss_after_kb - r->rss_before_kb) * 1024 / r->connected);
}

/* Kernel slab growth per connection and side: each loopback connection is two sockets (the
 * bench's and the broker's), so half the growth is the broker's. Whole-machine figure: noisy
 * when other processes allocate at the same time. */
static int64_t slab_per_socket(const hb_result_t *r)
{
    if (!r->connected || r->slab_after_kb < r->slab_before_kb) return 0;
    return (int64_t)((r->slab_after_kb - r->slab_before_kb) * 1024 / (2 * (uint64_t)r->connected));
}

static void text_broker(const hb_opts_t *o, const hb_result_t *r)
{
    if (o->mode == HB_MODE_IDLE && r->slab_after_kb)
        printf("  kernel       slab %llu kB before, %llu kB after: about %lld bytes per socket\n",
               (unsigned long long)r->slab_before_kb, (unsigned long long)r->slab_after_kb,
               (long long)slab_per_socket(r));
    if (!r->have_broker) return;
    if (o->mode == HB_MODE_IDLE) {
        printf("  broker       pid %d: RSS %llu kB before, %llu kB after: %lld bytes per "
               "connection\n",
               o->broker_pid, (unsigned long long)r->rss_before_kb,
               (unsigned long long)r->rss_after_kb, (long long)rss_per_conn(r));
        return;
    }
    printf("  broker       pid %d: %.2f CPU s, %.0f deliveries per CPU s, RSS %llu kB\n",
           o->broker_pid, r->broker_cpu_s, per_s((double)r->delivered, r->broker_cpu_s),
           (unsigned long long)r->rss_after_kb);
}

static void text_load(const hb_opts_t *o, const hb_result_t *r)
{
    if (o->rate > 0)
        printf("  offered      %.0f msg/s in total, publishers at most %.2f ms behind schedule\n",
               o->rate, r->max_lag_ms);
    printf("  sent         %llu msg (%.0f msg/s)", (unsigned long long)r->sent,
           per_s((double)r->sent, r->pub_s));
    if (o->qos > 0)
        printf(", %llu acknowledged, %llu still in flight, %llu ack errors",
               (unsigned long long)r->acked, (unsigned long long)r->unacked,
               (unsigned long long)r->ack_errors);
    printf("\n  delivered    %llu of %llu expected (%.0f msg/s over %.2f s)\n",
           (unsigned long long)r->delivered, (unsigned long long)r->expected,
           per_s((double)r->delivered, r->run_s), r->run_s);
    const hb_hist_t *h = &r->lat;
    printf("  latency ms   p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (mean %.3f)\n",
           us(hb_hist_quantile(h, 0.50)) / 1000, us(hb_hist_quantile(h, 0.90)) / 1000,
           us(hb_hist_quantile(h, 0.99)) / 1000, us(hb_hist_quantile(h, 0.999)) / 1000,
           us(h->max) / 1000, hb_hist_mean(h) / 1e6);
    printf("  lost %llu  duplicated %llu  %s%llu  reordered %llu", (unsigned long long)r->lost,
           (unsigned long long)(o->qos == 1 ? 0 : r->dups), "dups allowed at QoS 1 ",
           (unsigned long long)(o->qos == 1 ? r->dups : 0), (unsigned long long)r->reordered);
    if (r->foreign || r->protocol_errors)
        printf("  foreign %llu  protocol errors %llu", (unsigned long long)r->foreign,
               (unsigned long long)r->protocol_errors);
    printf("\n");
}

void hb_report_text(const hb_opts_t *o, const hb_result_t *r)
{
    if (o->mode == HB_MODE_IDLE) {
        printf("hmq-bench idle: %u connections, MQTT %s, keepalive %u s, %u source addresses\n",
               r->connections, o->version == 5 ? "5" : "3.1.1", o->keepalive, o->src_addrs);
    } else {
        printf("hmq-bench %s: %u pubs -> %u subs (%s), QoS %u, %u B payload, ", mode_name(o->mode),
               o->pubs, o->subs, hb_load_submode_name(o->sub_mode), o->qos, o->payload);
        if (o->rate > 0)
            printf("%.0f msg/s offered", o->rate);
        else
            printf("max rate (window %u, backlog %u)", o->window, o->max_backlog);
        if (o->by_count)
            printf(", %llu messages\n", (unsigned long long)o->count);
        else
            printf(", %.1f s\n", o->duration_s);
    }
    printf("  connect      %u of %u in %.3f s (%.0f/s), %u failed, %u dropped later\n",
           r->connected, r->connections, r->connect_s, per_s(r->connected, r->connect_s), r->failed,
           r->dropped);
    if (o->mode != HB_MODE_IDLE) text_load(o, r);
    text_broker(o, r);
    printf("  bench        %.2f CPU s", r->bench_cpu_s);
    if (r->window_s > 0)
        printf("; other processes used %.2f CPU s of the machine in those %.2f s", r->other_cpu_s,
               r->window_s);
    printf("%s\n", r->signalled ? " (interrupted by a signal)" : "");
    fflush(stdout);
}

static void json_label(const char *s)
{
    putchar('"');
    for (; s && *s; s++)
        putchar(isalnum((unsigned char)*s) || strchr("._:/+-", *s) ? *s : '_');
    putchar('"');
}

void hb_report_json(const hb_opts_t *o, const hb_result_t *r)
{
    const hb_hist_t *h = &r->lat;
    printf("{\"mode\":\"%s\",\"label\":", mode_name(o->mode));
    json_label(o->label);
    printf(",\"version\":%u,\"connections\":%u,\"connected\":%u,\"connect_failed\":%u,"
           "\"dropped\":%u,\"connect_s\":%.4f,\"connect_rate\":%.1f",
           o->version, r->connections, r->connected, r->failed, r->dropped, r->connect_s,
           per_s(r->connected, r->connect_s));
    if (o->mode != HB_MODE_IDLE) {
        printf(",\"sub_mode\":\"%s\"", hb_load_submode_name(o->sub_mode));
        printf(",\"pubs\":%u,\"subs\":%u,\"qos\":%u,\"payload\":%u,\"window\":%u,"
               "\"rate_offered\":%.1f,\"max_lag_ms\":%.3f,\"sent\":%llu,\"sent_per_s\":%.1f,"
               "\"acked\":%llu,\"unacked\":%llu,\"ack_errors\":%llu,\"delivered\":%llu,"
               "\"expected\":%llu,\"run_s\":%.4f,\"delivered_per_s\":%.1f,",
               o->pubs, o->subs, o->qos, o->payload, o->window, o->rate, r->max_lag_ms,
               (unsigned long long)r->sent, per_s((double)r->sent, r->pub_s),
               (unsigned long long)r->acked, (unsigned long long)r->unacked,
               (unsigned long long)r->ack_errors, (unsigned long long)r->delivered,
               (unsigned long long)r->expected, r->run_s, per_s((double)r->delivered, r->run_s));
        printf("\"lat_p50_us\":%.2f,\"lat_p90_us\":%.2f,\"lat_p99_us\":%.2f,\"lat_p999_us\":%.2f,"
               "\"lat_max_us\":%.2f,\"lat_mean_us\":%.2f,",
               us(hb_hist_quantile(h, 0.50)), us(hb_hist_quantile(h, 0.90)),
               us(hb_hist_quantile(h, 0.99)), us(hb_hist_quantile(h, 0.999)), us(h->max),
               hb_hist_mean(h) / 1000);
        printf("\"lost\":%llu,\"dup\":%llu,\"dup_qos1\":%llu,\"reordered\":%llu,\"foreign\":%llu,"
               "\"protocol_errors\":%llu",
               (unsigned long long)r->lost, (unsigned long long)(o->qos == 1 ? 0 : r->dups),
               (unsigned long long)(o->qos == 1 ? r->dups : 0), (unsigned long long)r->reordered,
               (unsigned long long)r->foreign, (unsigned long long)r->protocol_errors);
    }
    if (r->have_broker && o->mode == HB_MODE_IDLE) {
        printf(",\"rss_before_kb\":%llu,\"rss_after_kb\":%llu,\"rss_per_conn_bytes\":%lld",
               (unsigned long long)r->rss_before_kb, (unsigned long long)r->rss_after_kb,
               (long long)rss_per_conn(r));
        printf(",\"slab_before_kb\":%llu,\"slab_after_kb\":%llu,\"slab_per_socket_bytes\":%lld",
               (unsigned long long)r->slab_before_kb, (unsigned long long)r->slab_after_kb,
               (long long)slab_per_socket(r));
    } else if (r->have_broker) {
        printf(",\"broker_cpu_s\":%.3f,\"deliveries_per_cpu_s\":%.1f,\"rss_after_kb\":%llu",
               r->broker_cpu_s, per_s((double)r->delivered, r->broker_cpu_s),
               (unsigned long long)r->rss_after_kb);
    }
    printf(",\"bench_cpu_s\":%.3f,\"window_s\":%.3f,\"other_cpu_s\":%.3f,\"signalled\":%s}\n",
           r->bench_cpu_s, r->window_s, r->other_cpu_s, r->signalled ? "true" : "false");
    fflush(stdout);
}
