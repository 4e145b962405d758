/* broker.c - broker start-up and shutdown: shared state, listening sockets (one per worker and
 * listener, SO_REUSEPORT, so the kernel spreads accepts over workers), worker threads.
 */
#include "core/broker.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/auth.h"
#include "core/worker.h"
#include "net/tls.h"
#include "util/log.h"

uint64_t hmq_broker_new_uid(hmq_broker_t *b)
{
    return atomic_fetch_add(&b->next_uid, 1);
}

void hmq_broker_stats(hmq_broker_t *b, hmq_stats_t *out)
{
    memset(out, 0, sizeof *out);
    for (uint32_t i = 0; i < b->nworkers; i++) {
        hmq_stats_t *s = &b->workers[i]->stats;
#define SUM(f) HMQ_STAT_ADD(out->f, HMQ_STAT_GET(s->f))
        SUM(msgs_received);
        SUM(msgs_sent);
        SUM(bytes_received);
        SUM(bytes_sent);
        SUM(connects);
        SUM(dropped_queue_full);
        SUM(dropped_expired);
        SUM(dropped_too_large);
        SUM(dropped_slow);
        SUM(dropped_offline_qos0);
        SUM(protocol_errors);
        SUM(refused_rate);
        SUM(dropped_not_authorized);
        SUM(dropped_by_hook);
#undef SUM
    }
}

/* A listening socket bound to addr:port with SO_REUSEPORT. Returns fd or -errno. */
static int listen_socket(const char *addr, uint16_t port, uint16_t *bound)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (strchr(addr, ':')) {
        if (uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&ss) < 0) return -EINVAL;
        len = sizeof(struct sockaddr_in6);
    } else {
        if (uv_ip4_addr(addr, port, (struct sockaddr_in *)&ss) < 0) return -EINVAL;
        len = sizeof(struct sockaddr_in);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&ss, len) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *bound = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                           : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

/* The TLS context of a `type: tls` listener, from its configuration (reads the files now). */
static int tls_context(const hmq_listener_config_t *lc, hmq_tls_ctx_t **out)
{
    hmq_tls_config_t tc;
    hmq_tls_config_init(&tc);
    tc.cert_file = lc->tls_cert_file;
    tc.key_file = lc->tls_key_file;
    tc.key_passphrase = or_null(lc->tls_key_passphrase);
    tc.ca_file = or_null(lc->tls_ca_file);
    tc.crl_file = or_null(lc->tls_crl_file);
    tc.client_cert = lc->tls_client_cert == HMQ_TLS_CERT_REQUIRED   ? HMQ_TLS_CLIENT_CERT_REQUIRED
                     : lc->tls_client_cert == HMQ_TLS_CERT_OPTIONAL ? HMQ_TLS_CLIENT_CERT_OPTIONAL
                                                                    : HMQ_TLS_CLIENT_CERT_NONE;
    tc.min_version = lc->tls_min_version == HMQ_TLS_MIN_1_3 ? HMQ_TLS_V1_3 : HMQ_TLS_V1_2;
    tc.ciphers = or_null(lc->tls_ciphers);
    tc.ciphersuites = or_null(lc->tls_ciphersuites);
    tc.groups = or_null(lc->tls_groups);
    tc.session_tickets = lc->tls_session_tickets;
    tc.session_cache_size = lc->tls_session_cache_size;
    tc.session_timeout = lc->tls_session_timeout_s;
    /* tls_sni_certs was checked when the configuration was loaded */
    hmq_config_sni_t e[HMQ_MAX_SNI_CERTS];
    hmq_tls_sni_cert_t sni[HMQ_MAX_SNI_CERTS];
    char *buf = lc->tls_sni_certs ? strdup(lc->tls_sni_certs) : NULL;
    const char *why = NULL;
    int n = buf ? hmq_config_sni_split(buf, e, HMQ_MAX_SNI_CERTS, &why) : 0;
    for (int i = 0; i < n; i++)
        sni[i] = (hmq_tls_sni_cert_t){e[i].server_name, e[i].cert_file, e[i].key_file,
                                      tc.key_passphrase}; /* same passphrase, if encrypted */
    tc.sni = sni;
    tc.sni_count = n > 0 ? (size_t)n : 0;
    char err[512] = "";
    int rc = hmq_tls_ctx_new(out, &tc, err, sizeof err); /* copies the SNI entries */
    free(buf);
    if (rc < 0) LOG_ERROR("tls_config_failed", "listener=%s error=\"%s\"", lc->name, err);
    return rc;
}

int hmq_broker_reload_tls(hmq_broker_t *b)
{
    int failed = 0;
    for (uint32_t l = 0; l < b->cfg->listener_count; l++) {
        if (!b->tls[l]) continue;
        hmq_tls_ctx_t *ctx;
        char err[512] = "";
        if (hmq_tls_ctx_reload(&ctx, b->tls[l], err, sizeof err) < 0) {
            /* the listener keeps serving with the certificates it had */
            LOG_ERROR("tls_reload_failed", "listener=%s error=\"%s\"", b->cfg->listeners[l].name,
                      err);
            failed++;
            continue;
        }
        for (uint32_t i = 0; i < b->nworkers; i++)
            hmq_worker_set_tls(b->workers[i], l, hmq_tls_ctx_ref(ctx));
        hmq_tls_ctx_unref(b->tls[l]);
        b->tls[l] = ctx;
        LOG_INFO("tls_reloaded", "listener=%s", b->cfg->listeners[l].name);
    }
    return failed ? -EINVAL : 0;
}

static int open_listeners(hmq_broker_t *b)
{
    for (uint32_t l = 0; l < b->cfg->listener_count; l++) {
        const hmq_listener_config_t *lc = &b->cfg->listeners[l];
        uint16_t port = lc->port;
        if (lc->kind == HMQ_LISTENER_WS || lc->kind == HMQ_LISTENER_WSS) {
            hmq_ws_config_t *wc = &b->ws[l];
            hmq_ws_config_init(wc);
            wc->path = lc->ws_path && *lc->ws_path ? lc->ws_path : "/mqtt";
            wc->trust_forwarded = lc->ws_trust_forwarded;
            wc->max_message = b->cfg->max_packet_size;
        }
        if (lc->kind == HMQ_LISTENER_TLS || lc->kind == HMQ_LISTENER_WSS) {
            int rc = tls_context(lc, &b->tls[l]);
            if (rc < 0) return rc;
            for (uint32_t i = 0; i < b->nworkers; i++)
                b->workers[i]->tls[l] = hmq_tls_ctx_ref(b->tls[l]);
        }
        for (uint32_t i = 0; i < b->nworkers; i++) {
            int fd = listen_socket(lc->bind, port, &port);
            if (fd < 0) {
                LOG_ERROR("listen_failed", "name=%s addr=%s port=%u error=\"%s\"", lc->name,
                          lc->bind, lc->port, strerror(-fd));
                return fd;
            }
            int rc = hmq_worker_listen(b->workers[i], l, fd);
            if (rc < 0) {
                LOG_ERROR("listen_failed", "name=%s error=\"%s\"", lc->name, uv_strerror(rc));
                return rc;
            }
        }
        b->ports[l] = port;
        static const char *const kinds[] = {"tcp", "tls", "ws", "wss"};
        LOG_INFO("listening", "name=%s type=%s addr=%s port=%u workers=%u", lc->name,
                 kinds[lc->kind], lc->bind, port, b->nworkers);
    }
    return 0;
}

int hmq_broker_start(hmq_broker_t *b, const hmq_config_t *cfg, uv_loop_t *home)
{
    memset(b, 0, sizeof *b);
    b->cfg = cfg;
    b->nworkers = cfg->workers;
    if (!b->nworkers) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        b->nworkers = n > 0 ? (uint32_t)n : 1;
    }
    atomic_init(&b->next_uid, 1);
    b->start_ms = hmq_wall_ms();
    b->index = hmq_topic_index_new();
    b->retained = hmq_retained_new();
    b->workers = calloc(b->nworkers, sizeof *b->workers);
    if (!b->index || !b->retained || !b->workers) return -ENOMEM;
    uv_barrier_init(&b->stop_barrier, b->nworkers);
    for (uint32_t i = 0; i < b->nworkers; i++)
        if (!(b->workers[i] = hmq_worker_new(b, i))) return -ENOMEM;
    int rc = open_listeners(b);
    if (rc < 0) return rc;
    if ((rc = hmq_auth_engine_start(b, home)) < 0) return rc;
    for (uint32_t i = 0; i < b->nworkers; i++)
        if ((rc = hmq_worker_run(b->workers[i])) < 0) return rc;
    return 0;
}

void hmq_broker_stop(hmq_broker_t *b)
{
    for (uint32_t i = 0; i < b->nworkers; i++)
        hmq_worker_stop(b->workers[i]);
    for (uint32_t i = 0; i < b->nworkers; i++)
        hmq_worker_join_free(b->workers[i]);
    uv_barrier_destroy(&b->stop_barrier);
    free(b->workers);
    hmq_topic_index_free(b->index);
    hmq_retained_free(b->retained);
    for (uint32_t l = 0; l < HMQ_MAX_LISTENERS; l++)
        if (b->tls[l]) hmq_tls_ctx_unref(b->tls[l]);
}
