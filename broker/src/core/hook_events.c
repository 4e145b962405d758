/* hook_events.c - notifications to event hooks (see hook_events.h). */
#include "core/hook_events.h"

#include <stdlib.h>
#include <string.h>

#include "core/auth.h"

/* The engine, when some hook wants this type of event about this connection; else NULL. */
static hmq_hooks_t *wanted(hmq_conn_t *c, hmq_hooks_event_type_t type)
{
    hmq_hooks_t *h = c->w->broker->hooks;
    if (!h || !c->ident || !hmq_hooks_wants_event(h, type)) return NULL;
    return h;
}

static void emit(hmq_hooks_t *h, hmq_conn_t *c, hmq_hooks_event_t *ev)
{
    ev->client = hmq_auth_client(c);
    ev->timestamp_unix_ms = hmq_wall_ms();
    hmq_hooks_event(h, ev);
}

void hmq_event_connected(hmq_conn_t *c, bool session_present, uint32_t session_expiry)
{
    hmq_hooks_t *h = wanted(c, HMQ_EVENT_CONNECTED);
    if (!h) return;
    hmq_hooks_event_t ev = {.type = HMQ_EVENT_CONNECTED,
                            .session_present = session_present,
                            .session_expiry_interval = session_expiry};
    emit(h, c, &ev);
}

void hmq_event_disconnected(hmq_conn_t *c, uint8_t code, const char *reason, bool will)
{
    hmq_hooks_t *h = wanted(c, HMQ_EVENT_DISCONNECTED);
    if (!h) return;
    hmq_hooks_event_t ev = {.type = HMQ_EVENT_DISCONNECTED,
                            .reason_code = code,
                            .reason = reason,
                            .will_published = will};
    emit(h, c, &ev);
}

/* A filter as hooks see it: without "$share/<group>/", the group apart. */
static void split(const char *f, size_t len, char **filter, char **group)
{
    *group = NULL;
    if (len > 7 && memcmp(f, "$share/", 7) == 0) {
        const char *slash = memchr(f + 7, '/', len - 7);
        if (slash) {
            *group = strndup(f + 7, (size_t)(slash - f - 7));
            len -= (size_t)(slash + 1 - f);
            f = slash + 1;
        }
    }
    *filter = strndup(f, len);
}

static void emit_sub(hmq_conn_t *c, hmq_hooks_event_type_t type, const char *f, size_t len,
                     hmq_subopts_t opts, uint8_t granted)
{
    hmq_hooks_t *h = wanted(c, type);
    if (!h) return;
    char *filter, *group;
    split(f, len, &filter, &group);
    if (filter) {
        hmq_hooks_subscription_t s = {.filter = filter,
                                      .share_group = group,
                                      .qos = opts.qos,
                                      .no_local = opts.no_local,
                                      .retain_as_published = opts.retain_as_published,
                                      .retain_handling = opts.retain_handling};
        hmq_hooks_event_t ev = {.type = type, .subscription = &s, .granted_qos = granted};
        emit(h, c, &ev);
    }
    free(filter);
    free(group);
}

void hmq_event_subscribed(hmq_conn_t *c, const char *filter, size_t len, hmq_subopts_t opts,
                          uint8_t granted_qos)
{
    emit_sub(c, HMQ_EVENT_SUBSCRIBED, filter, len, opts, granted_qos);
}

void hmq_event_unsubscribed(hmq_conn_t *c, const char *filter, size_t len)
{
    hmq_subopts_t none = {0};
    emit_sub(c, HMQ_EVENT_UNSUBSCRIBED, filter, len, none, 0);
}

void hmq_event_message(hmq_conn_t *c, hmq_hooks_event_type_t type, const hmq_msg_t *msg,
                       uint16_t packet_id, uint8_t code, const char *reason)
{
    hmq_hooks_t *h = wanted(c, type);
    if (!h || !msg) return;
    /* The forwarded v5 properties stay encoded in the message: events carry topic, payload,
     * QoS, retain and expiry. */
    hmq_hooks_message_t m = {.topic = msg->topic,
                             .payload = msg->payload,
                             .payload_len = msg->payload_len,
                             .qos = msg->qos,
                             .retain = msg->retain};
    if (msg->expiry_at_ms) {
        uint32_t left = hmq_msg_remaining_s(msg, hmq_wall_ms());
        m.has_message_expiry = true;
        m.message_expiry_interval = left;
    }
    hmq_hooks_event_t ev = {.type = type,
                            .message = &m,
                            .packet_id = packet_id,
                            .reason_code = code,
                            .reason = reason,
                            .from_client_id = ""};
    emit(h, c, &ev);
}

void hmq_event_session(hmq_conn_t *c, hmq_hooks_event_type_t type)
{
    hmq_hooks_t *h = wanted(c, type);
    if (!h) return;
    hmq_hooks_event_t ev = {.type = type};
    emit(h, c, &ev);
}
