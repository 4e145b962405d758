/* log.h - the one logger: levels and key=value (logfmt) or JSON lines on stderr.
 *
 * Thread-safe (each line is one write). Never pass passwords, tokens or payloads.
 * Usage: hmq_log(HMQ_LOG_INFO, "listening", "addr=%s port=%d", addr, port);
 */
#ifndef HMQ_LOG_H
#define HMQ_LOG_H

#include "config/config.h"

void hmq_log_setup(hmq_log_level_t level, hmq_log_format_t format);
bool hmq_log_enabled(hmq_log_level_t level);
/* msg: a short constant event name; fmt: printf-style "key=value key=value" fields (may be NULL).
 * In JSON format the fields are converted to JSON members. */
void hmq_log(hmq_log_level_t level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define HMQ_LOG(level, ...)                                                                        \
    do {                                                                                           \
        if (hmq_log_enabled(level)) hmq_log(level, __VA_ARGS__);                                   \
    } while (0)
#define LOG_TRACE(...) HMQ_LOG(HMQ_LOG_TRACE, __VA_ARGS__)
#define LOG_DEBUG(...) HMQ_LOG(HMQ_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) HMQ_LOG(HMQ_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...) HMQ_LOG(HMQ_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(...) HMQ_LOG(HMQ_LOG_ERROR, __VA_ARGS__)

#endif
