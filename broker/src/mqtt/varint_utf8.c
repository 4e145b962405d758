/* varint_utf8.c - Variable Byte Integers and UTF-8 validation for the codec (see mqtt.h).
 *
 * UTF-8 is checked on every string the decoder reads (client ids, topics, property strings), so
 * the validator skips 8 ASCII bytes at a time and only walks multi-byte sequences byte by byte.
 */
#include "mqtt/mqtt_int.h"

#include <string.h>

size_t hmq_mqtt_varint_size(uint32_t v)
{
    return v < 128u ? 1 : v < 16384u ? 2 : v < 2097152u ? 3 : 4;
}

size_t hmq_mqtt_varint_write(uint32_t v, uint8_t *out)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7F;
        v >>= 7;
        out[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v && n < 4);
    return n;
}

/* True when none of the 8 bytes is 0x00 or >= 0x80. (A byte 0x00 borrows in the subtraction and
 * sets its top bit; borrows only start at such a byte, so there are no false "clean" answers.) */
static inline bool ascii8_clean(const uint8_t *s)
{
    uint64_t v;
    memcpy(&v, s, 8);
    return (((v - 0x0101010101010101ull) | v) & 0x8080808080808080ull) == 0;
}

static inline bool is_cont(uint8_t c)
{
    return (c & 0xC0) == 0x80;
}

bool hmq_mqtt_utf8_check(const uint8_t *s, size_t len, bool allow_nul)
{
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8 && ascii8_clean(s + i)) {
            i += 8;
            continue;
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c == 0 && !allow_nul) return false;
            i++;
            continue;
        }
        if (c < 0xC2 || c > 0xF4) return false; /* continuation, overlong 2-byte, > U+10FFFF */
        if (c < 0xE0) {
            if (len - i < 2 || !is_cont(s[i + 1])) return false;
            i += 2;
        } else if (c < 0xF0) {
            if (len - i < 3) return false;
            uint8_t c1 = s[i + 1];
            if (c == 0xE0 && c1 < 0xA0) return false; /* overlong */
            if (c == 0xED && c1 > 0x9F) return false; /* U+D800..U+DFFF surrogates */
            if (!is_cont(c1) || !is_cont(s[i + 2])) return false;
            i += 3;
        } else {
            if (len - i < 4) return false;
            uint8_t c1 = s[i + 1];
            if (c == 0xF0 && c1 < 0x90) return false; /* overlong */
            if (c == 0xF4 && c1 > 0x8F) return false; /* > U+10FFFF */
            if (!is_cont(c1) || !is_cont(s[i + 2]) || !is_cont(s[i + 3])) return false;
            i += 4;
        }
    }
    return true;
}

bool hmq_mqtt_utf8_valid(const uint8_t *s, size_t len)
{
    return hmq_mqtt_utf8_check(s, len, false);
}
