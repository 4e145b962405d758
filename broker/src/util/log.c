/* log.c - implementation of the logger declared in log.h. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static hmq_log_level_t log_level = HMQ_LOG_INFO; /* set once at start-up by main */
static hmq_log_format_t log_format = HMQ_LOG_FMT_LOGFMT;
static const char *level_names[] = {"trace", "debug", "info", "warn", "error"};

void hmq_log_setup(hmq_log_level_t level, hmq_log_format_t format)
{
    log_level = level;
    log_format = format;
}

bool hmq_log_enabled(hmq_log_level_t level)
{
    return level >= log_level;
}

/* Convert "k=v k2=v2" into ,"k":"v","k2":"v2" (values up to the next space). */
static size_t fields_to_json(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    const char *p = in;
    while (*p && o + 8 < cap) {
        while (*p == ' ')
            p++;
        if (!*p) break;
        out[o++] = ',';
        out[o++] = '"';
        while (*p && *p != '=' && *p != ' ' && o + 6 < cap)
            out[o++] = *p++;
        out[o++] = '"';
        out[o++] = ':';
        out[o++] = '"';
        if (*p == '=') p++;
        while (*p && *p != ' ' && o + 4 < cap) {
            if (*p == '"' || *p == '\\') out[o++] = '\\';
            out[o++] = *p++;
        }
        out[o++] = '"';
    }
    out[o] = 0;
    return o;
}

void hmq_log(hmq_log_level_t level, const char *msg, const char *fmt, ...)
{
    char fields[1024] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fields, sizeof fields, fmt, ap);
        va_end(ap);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t wl = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + wl, sizeof when - wl, ".%03ldZ", ts.tv_nsec / 1000000);

    char line[2048];
    int n;
    if (log_format == HMQ_LOG_FMT_JSON) {
        char jf[1400];
        fields_to_json(fields, jf, sizeof jf);
        n = snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"%s}\n", when,
                     level_names[level], msg, jf);
    } else {
        n = snprintf(line, sizeof line, "ts=%s level=%s msg=%s%s%s\n", when, level_names[level],
                     msg, fields[0] ? " " : "", fields);
    }
    if (n < 0) return;
    if ((size_t)n >= sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
