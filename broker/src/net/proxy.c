/* proxy.c - PROXY protocol v1/v2 header parser (see proxy.h for the strictness rules).
 *
 * Called by listeners with proxy_protocol enabled on the first bytes of a connection, possibly
 * many times as bytes trickle in: every call re-parses from the start (a header is at most a few
 * hundred bytes in practice), returns 0 while a valid prefix is incomplete and fails as soon as a
 * byte cannot belong to a valid header.
 */
#include "net/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#define NEED 0

static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* ---- CRC32C: reflected polynomial 0x82F63B78, processed a nibble at a time ---------------- */

static const uint32_t crc32c_nibble[16] = {
    0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
    0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9, 0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

uint32_t hmq_crc32c(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ crc32c_nibble[crc & 0xF];
        crc = (crc >> 4) ^ crc32c_nibble[crc & 0xF];
    }
    return ~crc;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- v1 ------------------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end;
} cursor_t;

typedef enum { CH_PROTO, CH_IP4, CH_IP6, CH_PORT } chclass_t;

static bool char_ok(chclass_t cls, uint8_t ch)
{
    bool digit = ch >= '0' && ch <= '9';
    switch (cls) {
    case CH_PROTO:
        return digit || (ch >= 'A' && ch <= 'Z');
    case CH_IP4:
        return digit || ch == '.';
    case CH_IP6:
        return digit || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') || ch == ':' ||
               ch == '.';
    case CH_PORT:
        return digit;
    }
    return false;
}

/* One field up to `term`: 1 (token set, terminator consumed), NEED, or MALFORMED. */
static int v1_field(cursor_t *c, chclass_t cls, size_t max, uint8_t term, const uint8_t **tok,
                    size_t *tok_len)
{
    const uint8_t *start = c->p;
    for (; c->p < c->end; c->p++) {
        uint8_t ch = *c->p;
        size_t n = (size_t)(c->p - start);
        if (ch == term) {
            if (n == 0) return HMQ_PROXY_E_MALFORMED;
            *tok = start;
            *tok_len = n;
            c->p++;
            return 1;
        }
        if (n >= max || !char_ok(cls, ch)) return HMQ_PROXY_E_MALFORMED;
    }
    return NEED;
}

/* Decimal without leading zeroes, at most `max`. */
static bool v1_number(const uint8_t *s, size_t n, unsigned max, unsigned *out)
{
    if (n == 0 || n > 5 || (n > 1 && s[0] == '0')) return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max) return false;
    *out = v;
    return true;
}

static bool v1_ip4(const uint8_t *s, size_t n, struct in_addr *out)
{
    uint8_t b[4];
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t j = i;
        while (j < n && s[j] != '.')
            j++;
        unsigned v;
        if (!v1_number(s + i, j - i, 255, &v) || j - i > 3) return false;
        b[part] = (uint8_t)v;
        if (part < 3 && j == n) return false;
        i = j + 1;
    }
    if (i != n + 1) return false; /* trailing characters after the fourth number */
    memcpy(&out->s_addr, b, 4);
    return true;
}

static bool v1_ip6(const uint8_t *s, size_t n, struct in6_addr *out)
{
    char text[INET6_ADDRSTRLEN];
    if (n >= sizeof(text)) return false;
    memcpy(text, s, n);
    text[n] = 0;
    return inet_pton(AF_INET6, text, out) == 1;
}

static int v1_addr(const uint8_t *s, size_t n, uint8_t family, struct sockaddr_storage *ss)
{
    if (family == HMQ_PROXY_FAMILY_TCP4) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        if (!v1_ip4(s, n, &sin->sin_addr)) return HMQ_PROXY_E_MALFORMED;
        sin->sin_family = AF_INET;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        if (!v1_ip6(s, n, &sin6->sin6_addr)) return HMQ_PROXY_E_MALFORMED;
        sin6->sin6_family = AF_INET6;
    }
    return 0;
}

static int v1_port(const uint8_t *s, size_t n, struct sockaddr_storage *ss)
{
    unsigned port;
    if (!v1_number(s, n, 65535, &port)) return HMQ_PROXY_E_MALFORMED;
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    return 0;
}

/* "PROXY UNKNOWN" then optionally " anything" up to CRLF; c is just after "UNKNOWN". */
static int v1_unknown(cursor_t *c)
{
    if (c->p < c->end && *c->p != '\r' && *c->p != ' ') return HMQ_PROXY_E_MALFORMED;
    for (; c->p < c->end; c->p++) {
        if (*c->p == '\n') return HMQ_PROXY_E_MALFORMED; /* LF without CR */
        if (*c->p != '\r') continue;
        if (c->p + 1 == c->end) return NEED;
        if (c->p[1] != '\n') return HMQ_PROXY_E_MALFORMED;
        c->p += 2;
        return 1;
    }
    return NEED;
}

#define V1_STEP(expr)                                                                              \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ <= 0) return rc_;                                                                  \
    } while (0)

static int v1_body(cursor_t *c, hmq_proxy_info_t *out)
{
    const uint8_t *tok;
    size_t n;
    /* the protocol ends with a space, or with CR for a bare "UNKNOWN" */
    const uint8_t *proto = c->p;
    while (c->p < c->end && char_ok(CH_PROTO, *c->p) && c->p - proto < 7)
        c->p++;
    n = (size_t)(c->p - proto);
    if (c->p == c->end) {
        /* still a prefix of one of the three names? */
        static const char *names[] = {"TCP4", "TCP6", "UNKNOWN"};
        for (int i = 0; i < 3; i++)
            if (n <= strlen(names[i]) && memcmp(proto, names[i], n) == 0) return NEED;
        return HMQ_PROXY_E_MALFORMED;
    }
    if (n == 7 && memcmp(proto, "UNKNOWN", 7) == 0) {
        out->family = HMQ_PROXY_FAMILY_UNSPEC;
        return v1_unknown(c);
    }
    if (n != 4 || memcmp(proto, "TCP", 3) != 0 || (proto[3] != '4' && proto[3] != '6') ||
        *c->p != ' ')
        return HMQ_PROXY_E_MALFORMED;
    c->p++;
    bool v4 = proto[3] == '4';
    out->family = v4 ? HMQ_PROXY_FAMILY_TCP4 : HMQ_PROXY_FAMILY_TCP6;
    chclass_t cls = v4 ? CH_IP4 : CH_IP6;
    size_t amax = v4 ? 15 : INET6_ADDRSTRLEN - 1;

    V1_STEP(v1_field(c, cls, amax, ' ', &tok, &n));
    if (v1_addr(tok, n, out->family, &out->src) < 0) return HMQ_PROXY_E_MALFORMED;
    V1_STEP(v1_field(c, cls, amax, ' ', &tok, &n));
    if (v1_addr(tok, n, out->family, &out->dst) < 0) return HMQ_PROXY_E_MALFORMED;
    V1_STEP(v1_field(c, CH_PORT, 5, ' ', &tok, &n));
    if (v1_port(tok, n, &out->src) < 0) return HMQ_PROXY_E_MALFORMED;
    V1_STEP(v1_field(c, CH_PORT, 5, '\r', &tok, &n));
    if (v1_port(tok, n, &out->dst) < 0) return HMQ_PROXY_E_MALFORMED;
    if (c->p == c->end) return NEED;
    if (*c->p != '\n') return HMQ_PROXY_E_MALFORMED;
    c->p++;
    return 1;
}

static int parse_v1(const uint8_t *buf, size_t len, hmq_proxy_info_t *out)
{
    size_t n = len < HMQ_PROXY_V1_MAX ? len : HMQ_PROXY_V1_MAX;
    if (memcmp(buf, "PROXY", n < 5 ? n : 5) != 0) return HMQ_PROXY_E_NOT_PROXY;
    if (n < 6) return NEED;
    if (buf[5] != ' ') return HMQ_PROXY_E_MALFORMED;
    cursor_t c = {buf + 6, buf + n};
    out->version = 1;
    out->command = HMQ_PROXY_CMD_PROXY;
    int rc = v1_body(&c, out);
    if (rc == NEED && n == HMQ_PROXY_V1_MAX) return HMQ_PROXY_E_MALFORMED; /* no CRLF in 107 */
    if (rc <= 0) return rc;
    return (int)(c.p - buf);
}

/* ---- v2 ------------------------------------------------------------------------------------ */

static bool has_nul(const uint8_t *p, size_t n)
{
    return memchr(p, 0, n) != NULL;
}

/* Set a slice once; string slices must not hold NUL. */
static int set_once(hmq_proxy_slice_t *s, bool *seen, const uint8_t *v, size_t n, bool string)
{
    if (*seen || (string && has_nul(v, n))) return HMQ_PROXY_E_MALFORMED;
    *seen = true;
    s->p = v;
    s->len = n;
    return 0;
}

static int parse_ssl(const uint8_t *v, size_t n, hmq_proxy_info_t *out)
{
    if (n < 5) return HMQ_PROXY_E_MALFORMED;
    out->ssl.present = true;
    out->ssl.client = v[0];
    out->ssl.verify = be32(v + 1);
    bool seen[5] = {0};
    for (size_t p = 5; p < n;) {
        if (n - p < 3) return HMQ_PROXY_E_MALFORMED;
        uint8_t type = v[p];
        size_t l = be16(v + p + 1);
        if (n - p - 3 < l) return HMQ_PROXY_E_MALFORMED;
        const uint8_t *val = v + p + 3;
        hmq_proxy_slice_t *dst = NULL;
        switch (type) {
        case HMQ_PP2_SUBTYPE_SSL_VERSION:
            dst = &out->ssl.version;
            break;
        case HMQ_PP2_SUBTYPE_SSL_CN:
            dst = &out->ssl.cn;
            break;
        case HMQ_PP2_SUBTYPE_SSL_CIPHER:
            dst = &out->ssl.cipher;
            break;
        case HMQ_PP2_SUBTYPE_SSL_SIG_ALG:
            dst = &out->ssl.sig_alg;
            break;
        case HMQ_PP2_SUBTYPE_SSL_KEY_ALG:
            dst = &out->ssl.key_alg;
            break;
        default:
            break; /* unknown sub-TLV: skipped */
        }
        if (dst && set_once(dst, &seen[type - HMQ_PP2_SUBTYPE_SSL_VERSION], val, l, true) < 0)
            return HMQ_PROXY_E_MALFORMED;
        p += 3 + l;
    }
    return 0;
}

enum { SEEN_ALPN, SEEN_AUTH, SEEN_CRC, SEEN_UID, SEEN_SSL, SEEN_NETNS, SEEN_N };

static int parse_tlv(uint8_t type, const uint8_t *v, size_t l, bool *seen, hmq_proxy_info_t *out)
{
    switch (type) {
    case HMQ_PP2_TYPE_ALPN:
        return set_once(&out->alpn, &seen[SEEN_ALPN], v, l, false);
    case HMQ_PP2_TYPE_AUTHORITY:
        return set_once(&out->authority, &seen[SEEN_AUTH], v, l, true);
    case HMQ_PP2_TYPE_NETNS:
        return set_once(&out->netns, &seen[SEEN_NETNS], v, l, true);
    case HMQ_PP2_TYPE_UNIQUE_ID:
        if (l > 128) return HMQ_PROXY_E_MALFORMED;
        return set_once(&out->unique_id, &seen[SEEN_UID], v, l, false);
    case HMQ_PP2_TYPE_CRC32C:
        if (l != 4 || seen[SEEN_CRC]) return HMQ_PROXY_E_MALFORMED;
        seen[SEEN_CRC] = true;
        out->has_crc32c = true;
        out->crc32c = be32(v);
        return 0;
    case HMQ_PP2_TYPE_SSL:
        if (seen[SEEN_SSL]) return HMQ_PROXY_E_MALFORMED;
        seen[SEEN_SSL] = true;
        return parse_ssl(v, l, out);
    default:
        return 0; /* NOOP, custom, experimental, future: skipped */
    }
}

/* The CRC32C of the whole header with the 4 checksum bytes (at crc_off) taken as zero. */
static uint32_t header_crc(const uint8_t *hdr, size_t len, size_t crc_off)
{
    static const uint8_t zero[4] = {0};
    uint32_t crc = hmq_crc32c(0, hdr, crc_off);
    crc = hmq_crc32c(crc, zero, 4);
    return hmq_crc32c(crc, hdr + crc_off + 4, len - crc_off - 4);
}

static int parse_tlvs(const uint8_t *hdr, size_t hlen, size_t off, hmq_proxy_info_t *out)
{
    bool seen[SEEN_N] = {0};
    size_t crc_off = 0;
    out->tlvs.p = hdr + off;
    out->tlvs.len = hlen - off;
    for (size_t p = off; p < hlen;) {
        if (hlen - p < 3) return HMQ_PROXY_E_MALFORMED;
        uint8_t type = hdr[p];
        size_t l = be16(hdr + p + 1);
        if (hlen - p - 3 < l) return HMQ_PROXY_E_MALFORMED;
        if (parse_tlv(type, hdr + p + 3, l, seen, out) < 0) return HMQ_PROXY_E_MALFORMED;
        if (type == HMQ_PP2_TYPE_CRC32C) crc_off = p + 3;
        p += 3 + l;
    }
    if (out->has_crc32c && header_crc(hdr, hlen, crc_off) != out->crc32c) return HMQ_PROXY_E_CRC;
    return 0;
}

static void v2_addresses(const uint8_t *a, uint8_t fam, hmq_proxy_info_t *out)
{
    switch (fam >> 4) {
    case 1: {
        struct sockaddr_in *s = (struct sockaddr_in *)&out->src,
                           *d = (struct sockaddr_in *)&out->dst;
        s->sin_family = d->sin_family = AF_INET;
        memcpy(&s->sin_addr, a, 4);
        memcpy(&d->sin_addr, a + 4, 4);
        memcpy(&s->sin_port, a + 8, 2);
        memcpy(&d->sin_port, a + 10, 2);
        out->family = HMQ_PROXY_FAMILY_TCP4;
        break;
    }
    case 2: {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out->src;
        struct sockaddr_in6 *d = (struct sockaddr_in6 *)&out->dst;
        s->sin6_family = d->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, a, 16);
        memcpy(&d->sin6_addr, a + 16, 16);
        memcpy(&s->sin6_port, a + 32, 2);
        memcpy(&d->sin6_port, a + 34, 2);
        out->family = HMQ_PROXY_FAMILY_TCP6;
        break;
    }
    case 3: {
        struct sockaddr_un *s = (struct sockaddr_un *)&out->src,
                           *d = (struct sockaddr_un *)&out->dst;
        _Static_assert(sizeof(s->sun_path) >= 108, "sun_path holds a v2 UNIX address");
        s->sun_family = d->sun_family = AF_UNIX;
        memcpy(s->sun_path, a, 108);
        memcpy(d->sun_path, a + 108, 108);
        out->family = HMQ_PROXY_FAMILY_UNIX;
        break;
    }
    }
}

static int parse_v2(const uint8_t *buf, size_t len, size_t cap, hmq_proxy_info_t *out)
{
    size_t m = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
    if (memcmp(buf, v2_sig, m) != 0) return HMQ_PROXY_E_NOT_PROXY;
    if (len < 13) return NEED;
    if ((buf[12] >> 4) != 2 || (buf[12] & 0xF) > 1) return HMQ_PROXY_E_MALFORMED;
    if (len < 14) return NEED;
    uint8_t fam = buf[13];
    size_t addr_len;
    switch (fam) {
    case 0x00:
        addr_len = 0;
        break;
    case 0x11:
    case 0x12:
        addr_len = 12;
        break;
    case 0x21:
    case 0x22:
        addr_len = 36;
        break;
    case 0x31:
    case 0x32:
        addr_len = 216;
        break;
    default:
        return HMQ_PROXY_E_MALFORMED;
    }
    if (len < 16) return NEED;
    size_t hlen = 16 + (size_t)be16(buf + 14);
    if (hlen > cap) return HMQ_PROXY_E_TOO_LARGE;
    if (hlen - 16 < addr_len) return HMQ_PROXY_E_MALFORMED;
    if (len < hlen) return NEED;

    out->version = 2;
    out->command = buf[12] & 0xF;
    out->family = HMQ_PROXY_FAMILY_UNSPEC;
    /* Addresses only for a relayed stream connection; LOCAL and datagrams fall back to UNSPEC. */
    if (out->command == HMQ_PROXY_CMD_PROXY && (fam & 0xF) == 1) v2_addresses(buf + 16, fam, out);
    int rc = parse_tlvs(buf, hlen, 16 + addr_len, out);
    if (rc < 0) return rc;
    return (int)hlen;
}

/* ---- API ----------------------------------------------------------------------------------- */

int hmq_proxy_parse_ex(const uint8_t *buf, size_t len, size_t max_header, hmq_proxy_info_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len == 0) return NEED;
    if (max_header < HMQ_PROXY_V1_MAX) max_header = HMQ_PROXY_V1_MAX;
    if (max_header > HMQ_PROXY_V2_MAX) max_header = HMQ_PROXY_V2_MAX;
    int rc;
    if (buf[0] == 'P')
        rc = parse_v1(buf, len, out);
    else if (buf[0] == v2_sig[0])
        rc = parse_v2(buf, len, max_header, out);
    else
        rc = HMQ_PROXY_E_NOT_PROXY;
    if (rc <= 0) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->header_len = (uint32_t)rc;
    return rc;
}

int hmq_proxy_parse(const uint8_t *buf, size_t len, hmq_proxy_info_t *out)
{
    return hmq_proxy_parse_ex(buf, len, HMQ_PROXY_DEFAULT_MAX, out);
}

bool hmq_proxy_client_verified(const hmq_proxy_info_t *info)
{
    uint8_t need = HMQ_PP2_CLIENT_SSL | HMQ_PP2_CLIENT_CERT_CONN;
    return info->ssl.present && (info->ssl.client & need) == need && info->ssl.verify == 0;
}

bool hmq_proxy_tlv_next(const hmq_proxy_info_t *info, size_t *pos, uint8_t *type,
                        hmq_proxy_slice_t *value)
{
    const uint8_t *t = info->tlvs.p;
    size_t n = info->tlvs.len, p = *pos;
    if (!t || p >= n || n - p < 3) return false;
    size_t l = be16(t + p + 1);
    if (n - p - 3 < l) return false;
    *type = t[p];
    value->p = t + p + 3;
    value->len = l;
    *pos = p + 3 + l;
    return true;
}

const char *hmq_proxy_strerror(int err)
{
    switch (err) {
    case HMQ_PROXY_E_NOT_PROXY:
        return "not a PROXY protocol header";
    case HMQ_PROXY_E_MALFORMED:
        return "malformed PROXY protocol header";
    case HMQ_PROXY_E_TOO_LARGE:
        return "PROXY protocol header too large";
    case HMQ_PROXY_E_CRC:
        return "PROXY protocol v2 CRC32C mismatch";
    default:
        return err >= 0 ? "ok" : "unknown PROXY protocol error";
    }
}
