/* topic.c - topic name and topic filter validation and $share/ parsing (MQTT 5.0 4.7, 4.8.2).
 *
 * The decoder uses the *_check variants, which tell ill-formed UTF-8 (a Malformed Packet) apart
 * from a well-formed string that is not a valid topic. The name check is on the PUBLISH hot path:
 * one branch-free pass over the bytes, the full UTF-8 walk only for non-ASCII topics.
 */
#include "mqtt/mqtt_int.h"

#include <string.h>

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN 7

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Non-zero iff one of the 8 bytes of v is 0 (exact as a truth value). */
static inline uint64_t has_zero(uint64_t v)
{
    return (v - ONES) & ~v & HIGHS;
}

int hmq_mqtt_topic_name_check(const uint8_t *s, size_t len)
{
    if (len == 0) return HMQ_MQTT_E_TOPIC_NAME; /* [MQTT-4.7.3-1] */
    /* special: a byte >= 0x80 or 0x00 (needs the full UTF-8 check); wild: '+' or '#'. Eight
     * bytes at a time, no branches per byte. */
    uint64_t special = 0, wild = 0;
    if (len >= 8) {
        /* Whole words, then the last 8 bytes (overlapping) for the tail. */
        for (size_t i = 0;; i += 8) {
            if (i + 8 > len) i = len - 8;
            uint64_t v;
            memcpy(&v, s + i, 8);
            special |= (v & HIGHS) | has_zero(v);
            wild |= has_zero(v ^ (ONES * '+')) | has_zero(v ^ (ONES * '#'));
            if (i + 8 == len) break;
        }
    } else {
        for (size_t i = 0; i < len; i++) {
            uint8_t c = s[i];
            special |= (uint64_t)(c & 0x80) | (c == 0);
            wild |= (uint64_t)(c == '+') | (c == '#');
        }
    }
    if (special && !hmq_mqtt_utf8_valid(s, len)) return HMQ_MQTT_E_MALFORMED;
    return wild ? HMQ_MQTT_E_TOPIC_NAME : 0; /* [MQTT-3.3.2-2] */
}

bool hmq_mqtt_topic_name_valid(const uint8_t *s, size_t len)
{
    return hmq_mqtt_topic_name_check(s, len) == 0;
}

/* A plain (non-shared) filter: non-empty, '+' fills a whole level, '#' is a whole level and the
 * last one [MQTT-4.7.1-1], [MQTT-4.7.1-2], [MQTT-4.7.3-1]. */
static bool filter_syntax(const uint8_t *s, size_t len)
{
    if (len == 0) return false;
    size_t level = 0; /* index where the current level starts */
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        if (c == '/') {
            level = i + 1;
        } else if (c == '+') {
            if (i != level || (i + 1 < len && s[i + 1] != '/')) return false;
        } else if (c == '#') {
            if (i != level || i + 1 != len) return false;
        }
    }
    return true;
}

static bool is_shared(const uint8_t *s, size_t len)
{
    return len >= SHARE_PREFIX_LEN && memcmp(s, SHARE_PREFIX, SHARE_PREFIX_LEN) == 0;
}

/* $share/{ShareName}/{filter}: ShareName at least one character without '/', '+', '#', then a
 * '/' and a valid filter [MQTT-4.8.2-1], [MQTT-4.8.2-2]. The inner filter may not itself be a
 * shared one (nesting has no meaning), so it is always valid on its own. */
static bool filter_syntax_shared(const uint8_t *s, size_t len)
{
    if (!is_shared(s, len)) return filter_syntax(s, len);
    size_t j = SHARE_PREFIX_LEN;
    while (j < len && s[j] != '/') {
        if (s[j] == '+' || s[j] == '#') return false;
        j++;
    }
    if (j == SHARE_PREFIX_LEN || j == len) return false;
    if (is_shared(s + j + 1, len - j - 1)) return false;
    return filter_syntax(s + j + 1, len - j - 1);
}

int hmq_mqtt_topic_filter_check(const uint8_t *s, size_t len)
{
    if (!hmq_mqtt_utf8_valid(s, len)) return HMQ_MQTT_E_MALFORMED;
    return filter_syntax_shared(s, len) ? 0 : HMQ_MQTT_E_TOPIC_FILTER;
}

bool hmq_mqtt_topic_filter_valid(const uint8_t *s, size_t len)
{
    return hmq_mqtt_topic_filter_check(s, len) == 0;
}

bool hmq_mqtt_shared_split(hmq_bytes_t filter, hmq_bytes_t *group, hmq_bytes_t *inner)
{
    if (filter.len <= SHARE_PREFIX_LEN || !is_shared(filter.p, filter.len)) return false;
    const uint8_t *g = filter.p + SHARE_PREFIX_LEN;
    const uint8_t *end = filter.p + filter.len;
    const uint8_t *slash = memchr(g, '/', (size_t)(end - g));
    if (!slash || slash == g || slash + 1 == end) return false;
    group->p = g;
    group->len = (uint32_t)(slash - g);
    inner->p = slash + 1;
    inner->len = (uint32_t)(end - slash - 1);
    return true;
}
