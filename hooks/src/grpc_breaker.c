/* grpc_breaker.c - the circuit breaker and health checks of one hook server (gRPC provider).
 *
 * CLOSED: calls go through; breaker_failures consecutive failed calls (timeout, unavailable,
 * error; not FAILURE answers: the server is alive) open it. OPEN: route() answers NOT_READY so
 * the engine applies on_failure at once, without waiting for a dead server's deadline. After
 * the open time, a grpc.health.v1 Check probes the server: SERVING closes it, anything else
 * opens it again for twice as long (up to breaker_open_max_ms). A server without the health
 * service (UNIMPLEMENTED) is probed by real calls instead (HALF_OPEN: the first call to end
 * decides). If the breaker opens again before any call succeeded after a probe, the open time
 * doubles too (a server that answers health checks but not calls). While closed and connected,
 * a periodic health check every health_interval_ms opens the breaker on NOT_SERVING.
 * Results come from any thread (CQ thread, home-loop tick); probes start on the home loop.
 */
#include "grpc_int.h"
#include "util/log.h"

#define SERVING 1
#define NOT_SERVING 2

void hmq_grpc_breaker_init(hmq_grpc_server_t *s, const hmq_hooks_server_config_t *cfg)
{
    s->b_threshold = cfg->breaker_failures ? cfg->breaker_failures : 5;
    s->b_open_base_ms = cfg->breaker_open_ms ? cfg->breaker_open_ms : 1000;
    s->b_open_max_ms = cfg->breaker_open_max_ms ? cfg->breaker_open_max_ms : 30000;
    if (s->b_open_max_ms < s->b_open_base_ms) s->b_open_max_ms = s->b_open_base_ms;
    s->b_open_ms = s->b_open_base_ms;
    s->health_interval_ms = cfg->health_interval_ms ? cfg->health_interval_ms : 5000;
    atomic_init(&s->bstate, BREAKER_CLOSED);
}

static void open_locked(hmq_grpc_server_t *s, bool longer, const char *why)
{
    if (longer) {
        s->b_open_ms *= 2;
        if (s->b_open_ms > s->b_open_max_ms) s->b_open_ms = s->b_open_max_ms;
    }
    s->b_open_until_ms = hmq_hooks_now_ms() + s->b_open_ms;
    s->b_failures = 0;
    atomic_store(&s->bstate, BREAKER_OPEN);
    LOG_WARN("hooks_breaker_open", "server=%s reason=%s open_ms=%u", s->name, why, s->b_open_ms);
}

static void close_locked(hmq_grpc_server_t *s, const char *why)
{
    s->b_failures = 0;
    atomic_store(&s->bstate, BREAKER_CLOSED);
    LOG_INFO("hooks_breaker_closed", "server=%s reason=%s", s->name, why);
}

void hmq_grpc_breaker_result(hmq_grpc_server_t *s, hmq_hooks_call_status_t st)
{
    if (st == HMQ_CALL_CANCELLED) return;
    uv_mutex_lock(&s->bmu);
    int state = atomic_load(&s->bstate);
    if (st == HMQ_CALL_OK) {
        s->b_failures = 0;
        if (state == BREAKER_HALF_OPEN) close_locked(s, "call_succeeded");
        if (state != BREAKER_OPEN) {
            s->b_open_ms = s->b_open_base_ms;
            s->b_after_probe = false;
        }
    } else if (state == BREAKER_HALF_OPEN) {
        open_locked(s, true, "call_failed");
    } else if (state == BREAKER_CLOSED && ++s->b_failures >= s->b_threshold) {
        open_locked(s, s->b_after_probe, "failures");
    }
    uv_mutex_unlock(&s->bmu);
}

bool hmq_grpc_breaker_allows(hmq_grpc_server_t *s)
{
    return atomic_load_explicit(&s->bstate, memory_order_relaxed) != BREAKER_OPEN;
}

static endpoint_t *ready_endpoint(hmq_grpc_server_t *s)
{
    for (size_t i = 0; i < s->n_eps; i++)
        if (atomic_load(&s->eps[i].ready)) return &s->eps[i];
    return NULL;
}

void hmq_grpc_breaker_tick(hmq_grpc_server_t *s, uint64_t now_ms)
{
    uv_mutex_lock(&s->bmu);
    int state = atomic_load(&s->bstate);
    if (state == BREAKER_OPEN && now_ms >= s->b_open_until_ms && !s->b_probing) {
        if (s->health_unimplemented) {
            atomic_store(&s->bstate, BREAKER_HALF_OPEN);
            LOG_INFO("hooks_breaker_half_open", "server=%s", s->name);
            uv_mutex_unlock(&s->bmu);
            return;
        }
        s->b_probing = true;
        uv_mutex_unlock(&s->bmu);
        if (hmq_grpc_health_check(s, hmq_grpc_pick_endpoint(s), true) < 0) {
            uv_mutex_lock(&s->bmu);
            s->b_probing = false;
            open_locked(s, true, "probe_not_started");
            uv_mutex_unlock(&s->bmu);
        }
        return;
    }
    bool periodic = state == BREAKER_CLOSED && !s->health_in_flight && !s->health_unimplemented &&
                    now_ms >= s->health_next_ms;
    endpoint_t *ep = periodic ? ready_endpoint(s) : NULL;
    if (ep) {
        s->health_in_flight = true;
        s->health_next_ms = now_ms + s->health_interval_ms;
    }
    uv_mutex_unlock(&s->bmu);
    if (ep && hmq_grpc_health_check(s, ep, false) < 0) {
        uv_mutex_lock(&s->bmu);
        s->health_in_flight = false;
        uv_mutex_unlock(&s->bmu);
    }
}

void hmq_grpc_breaker_health_done(hmq_grpc_server_t *s, gcall_t *gc)
{
    uv_mutex_lock(&s->bmu);
    if (gc->health == -2 && !s->health_unimplemented) {
        s->health_unimplemented = true;
        LOG_INFO("hooks_health_unimplemented", "server=%s", s->name);
    }
    if (gc->probe) {
        s->b_probing = false;
        if (gc->health == SERVING) {
            close_locked(s, "health_serving");
            s->b_after_probe = true; /* until a call succeeds */
        } else if (gc->health == -2) {
            atomic_store(&s->bstate, BREAKER_HALF_OPEN); /* one real call decides */
            LOG_INFO("hooks_breaker_half_open", "server=%s", s->name);
        } else {
            open_locked(s, true, gc->health == NOT_SERVING ? "not_serving" : "probe_failed");
        }
    } else {
        s->health_in_flight = false;
        if (gc->health == NOT_SERVING && atomic_load(&s->bstate) == BREAKER_CLOSED)
            open_locked(s, false, "not_serving");
    }
    uv_mutex_unlock(&s->bmu);
}

void hmq_grpc_breaker_handshaken(hmq_grpc_server_t *s)
{
    uv_mutex_lock(&s->bmu);
    if (atomic_load(&s->bstate) == BREAKER_OPEN) s->b_open_until_ms = 0; /* probe it now */
    s->health_next_ms = hmq_hooks_now_ms() + s->health_interval_ms;
    uv_mutex_unlock(&s->bmu);
}
