/* ws_http.c - the WebSocket opening handshake, server side (RFC 6455 §4.2): the HTTP/1.1
 * request head parsed with http_parser, checked, and the 101 or error response written.
 *
 * Called by ws.c while a connection is in phase 1. The head may arrive in any chunks; only the
 * request target and the values of the headers the handshake needs are kept (copied into one
 * growing buffer, bounded by HMQ_WS_HEAD_MAX since every byte kept was fed). Forwarded and
 * X-Forwarded-For are read only when the listener trusts the peer.
 */
#include "net/ws_int.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>
#include <openssl/evp.h>

enum {
    H_OTHER,
    H_HOST,
    H_UPGRADE,
    H_CONNECTION,
    H_VERSION,
    H_KEY,
    H_PROTOCOL,
    H_FORWARDED,
    H_XFF,
    H_KINDS,
};

static const char *const header_names[H_KINDS] = {
    [H_HOST] = "Host",
    [H_UPGRADE] = "Upgrade",
    [H_CONNECTION] = "Connection",
    [H_VERSION] = "Sec-WebSocket-Version",
    [H_KEY] = "Sec-WebSocket-Key",
    [H_PROTOCOL] = "Sec-WebSocket-Protocol",
    [H_FORWARDED] = "Forwarded",
    [H_XFF] = "X-Forwarded-For",
};

#define MAX_VALUES 32 /* kept header lines; a real upgrade request has about 8 */

typedef struct {
    uint32_t off, len; /* in text */
} span_t;

struct hmq_ws_http {
    http_parser parser;
    const hmq_ws_config_t *cfg;
    size_t head_len; /* bytes given to the parser so far */
    char *text;      /* request target, then kept header values */
    size_t text_len, text_cap;
    span_t url;
    struct {
        uint8_t kind;
        span_t v;
    } values[MAX_VALUES];
    size_t nvalues;
    char field[24]; /* the header name being read (longer names are not kept) */
    size_t field_len;
    bool in_value; /* the last callback was on_header_value */
    bool dropped;  /* the current value is not kept */
    hmq_ws_request_t req;
};

/* ---- collecting ------------------------------------------------------------------------------ */

static bool append(hmq_ws_http_t *h, span_t *s, const char *at, size_t len)
{
    if (h->text_len + len > h->text_cap) {
        size_t cap = h->text_cap ? h->text_cap : 256;
        while (cap < h->text_len + len)
            cap *= 2;
        char *p = realloc(h->text, cap);
        if (!p) return false;
        h->text = p;
        h->text_cap = cap;
    }
    if (s->len == 0) s->off = (uint32_t)h->text_len;
    memcpy(h->text + h->text_len, at, len);
    h->text_len += len;
    s->len += (uint32_t)len;
    return true;
}

static void refuse(hmq_ws_http_t *h, int status, const char *reason)
{
    if (h->req.status) return; /* keep the first cause */
    h->req.status = status;
    h->req.reason = reason;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    hmq_ws_http_t *h = p->data;
    if (!append(h, &h->url, at, len)) {
        refuse(h, 500, "out of memory");
        return -1;
    }
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    hmq_ws_http_t *h = p->data;
    if (h->in_value) h->field_len = 0; /* a new header line */
    h->in_value = false;
    if (h->field_len < sizeof(h->field)) {
        size_t room = sizeof(h->field) - h->field_len;
        memcpy(h->field + h->field_len, at, len < room ? len : room);
    }
    h->field_len += len; /* may exceed sizeof(field): then not a name we keep */
    return 0;
}

static int header_kind(const hmq_ws_http_t *h)
{
    if (h->field_len >= sizeof(h->field)) return H_OTHER;
    for (int k = H_OTHER + 1; k < H_KINDS; k++)
        if (strlen(header_names[k]) == h->field_len &&
            strncasecmp(header_names[k], h->field, h->field_len) == 0)
            return k;
    return H_OTHER;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    hmq_ws_http_t *h = p->data;
    if (!h->in_value) { /* the first piece of this value */
        h->in_value = true;
        int kind = header_kind(h);
        bool forwarded = kind == H_FORWARDED || kind == H_XFF;
        h->dropped = kind == H_OTHER || (forwarded && !h->cfg->trust_forwarded);
        if (h->dropped) return 0;
        if (h->nvalues == MAX_VALUES) {
            refuse(h, 400, "too many WebSocket header lines");
            return -1;
        }
        h->values[h->nvalues].kind = (uint8_t)kind;
        h->values[h->nvalues].v = (span_t){0, 0};
        h->nvalues++;
    }
    if (h->dropped || len == 0) return 0;
    if (!append(h, &h->values[h->nvalues - 1].v, at, len)) {
        refuse(h, 500, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- checking -------------------------------------------------------------------------------- */

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_ows(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_ows((*s)[*len - 1]))
        (*len)--;
}

/* Next element of a comma-separated list (RFC 7230 §7: empty elements are skipped). */
static bool list_next(const char **s, size_t *len, const char **item, size_t *ilen)
{
    while (*len > 0) {
        const char *comma = memchr(*s, ',', *len);
        size_t n = comma ? (size_t)(comma - *s) : *len;
        *item = *s;
        *ilen = n;
        *s += comma ? n + 1 : n;
        *len -= comma ? n + 1 : n;
        trim(item, ilen);
        if (*ilen > 0) return true;
    }
    return false;
}

static const char *value_of(const hmq_ws_http_t *h, size_t i, size_t *len)
{
    *len = h->values[i].v.len;
    return h->text + h->values[i].v.off;
}

static int count(const hmq_ws_http_t *h, int kind)
{
    int n = 0;
    for (size_t i = 0; i < h->nvalues; i++)
        n += h->values[i].kind == kind;
    return n;
}

/* The only value of a header that must appear once (trimmed); NULL when absent or repeated. */
static const char *single(const hmq_ws_http_t *h, int kind, size_t *len)
{
    const char *found = NULL;
    for (size_t i = 0; i < h->nvalues; i++) {
        if (h->values[i].kind != kind) continue;
        if (found) return NULL;
        found = value_of(h, i, len);
    }
    if (found) trim(&found, len);
    return found;
}

/* Whether any value of a list header holds token (case-insensitively when nocase). */
static bool has_token(const hmq_ws_http_t *h, int kind, const char *token, bool nocase)
{
    size_t tlen = strlen(token);
    for (size_t i = 0; i < h->nvalues; i++) {
        if (h->values[i].kind != kind) continue;
        size_t len;
        const char *s = value_of(h, i, &len), *item;
        size_t ilen;
        while (list_next(&s, &len, &item, &ilen))
            if (ilen == tlen &&
                (nocase ? strncasecmp(item, token, tlen) == 0 : memcmp(item, token, tlen) == 0))
                return true;
    }
    return false;
}

/* Printable copy of untrusted text for the log, truncated. */
static void describe(char *out, size_t cap, const char *label, const char *s, size_t len)
{
    char clean[64];
    size_t n = len < sizeof(clean) - 1 ? len : sizeof(clean) - 1;
    for (size_t i = 0; i < n; i++) {
        clean[i] = s[i];
        if (s[i] < 0x20 || s[i] >= 0x7f || s[i] == '"') clean[i] = '?';
    }
    clean[n] = 0;
    snprintf(out, cap, "%s \"%s%s\"", label, clean, len > n ? "..." : "");
}

static bool check_path(hmq_ws_http_t *h)
{
    const char *url = h->text + h->url.off;
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (h->url.len == 0 || http_parser_parse_url(url, h->url.len, 0, &u) != 0) {
        describe(h->req.detail, sizeof(h->req.detail), "request target", url, h->url.len);
        refuse(h, 400, "malformed request target");
        return false;
    }
    const char *path = "/";
    size_t len = 1;
    if (u.field_set & (1 << UF_PATH)) {
        path = url + u.field_data[UF_PATH].off;
        len = u.field_data[UF_PATH].len;
    }
    const char *want = h->cfg->path;
    if (strlen(want) != len || memcmp(want, path, len) != 0) {
        describe(h->req.detail, sizeof(h->req.detail), "path", path, len);
        refuse(h, 404, "path not served");
        return false;
    }
    return true;
}

static bool check_key(hmq_ws_http_t *h)
{
    size_t len;
    const char *key = single(h, H_KEY, &len);
    unsigned char raw[20];
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    /* 16 bytes in base64: 22 characters and "==" */
    if (!key || len != 24 || key[22] != '=' || key[23] != '=' || strspn(key, b64) < 22 ||
        EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18) {
        refuse(h, 400, "missing or malformed Sec-WebSocket-Key");
        return false;
    }
    if (hmq_ws_accept_key(key, len, h->req.accept) != 0) {
        refuse(h, 500, "SHA-1 unavailable");
        return false;
    }
    return true;
}

static bool check_subprotocol(hmq_ws_http_t *h)
{
    for (const char *const *p = h->cfg->subprotocols; *p; p++)
        if (has_token(h, H_PROTOCOL, *p, false)) {
            h->req.subprotocol = *p;
            return true;
        }
    refuse(h, 400,
           count(h, H_PROTOCOL) ? "no supported Sec-WebSocket-Protocol offered (mqtt)"
                                : "missing Sec-WebSocket-Protocol (mqtt)");
    return false;
}

/* One node of Forwarded (RFC 7239 §6) or X-Forwarded-For: an address with an optional port,
 * IPv6 in brackets when a port follows. Writes inet_ntop text; false for anything else. */
static bool parse_node(const char *s, size_t len, char *out, size_t cap)
{
    char buf[64];
    if (len >= sizeof(buf)) return false;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *host = buf;
    if (host[0] == '[') {
        char *end = strchr(host, ']');
        if (!end || (end[1] != 0 && end[1] != ':')) return false;
        *end = 0;
        host++;
    } else {
        char *colon = strchr(host, ':');
        if (colon && !strchr(colon + 1, ':')) *colon = 0; /* "192.0.2.1:4711"; IPv6 kept */
    }
    unsigned char addr[16];
    int af = strchr(host, ':') ? AF_INET6 : AF_INET;
    return inet_pton(af, host, addr) == 1 && inet_ntop(af, addr, out, (socklen_t)cap) != NULL;
}

/* for= of the first element of Forwarded: "for=192.0.2.60;proto=http, for=..." or
 * for="[2001:db8::17]:4711". A node holds no quoted-pair, so none is decoded. */
static bool forwarded_for(const char *s, size_t len, char *out, size_t cap)
{
    size_t i = 0;
    while (i < len) {
        size_t start = i; /* one pair: up to ';' or ',' outside quotes */
        bool quoted = false;
        while (i < len && (quoted || (s[i] != ';' && s[i] != ','))) {
            if (s[i] == '"') quoted = !quoted;
            i++;
        }
        if (quoted) return false;
        const char *pair = s + start;
        size_t plen = i - start;
        trim(&pair, &plen);
        if (plen > 4 && strncasecmp(pair, "for=", 4) == 0) {
            const char *v = pair + 4;
            size_t vlen = plen - 4;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            return parse_node(v, vlen, out, cap);
        }
        if (i < len && s[i] == ',') return false; /* the first element has no for= */
        i++;
    }
    return false;
}

static void find_client_address(hmq_ws_http_t *h)
{
    const int kinds[2] = {H_FORWARDED, H_XFF}; /* the standard header first */
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < h->nvalues; i++) {
            if (h->values[i].kind != kinds[k]) continue;
            size_t len, ilen;
            const char *s = value_of(h, i, &len), *item;
            char *out = h->req.forwarded;
            size_t cap = sizeof(h->req.forwarded);
            if (kinds[k] == H_FORWARDED
                    ? forwarded_for(s, len, out, cap)
                    : list_next(&s, &len, &item, &ilen) && parse_node(item, ilen, out, cap))
                return;
            out[0] = 0;
            break; /* only the first line of each header counts */
        }
}

static bool check_body(hmq_ws_http_t *h)
{
    const http_parser *p = &h->parser;
    bool body = (p->flags & F_CHUNKED) || p->uses_transfer_encoding ||
                ((p->flags & F_CONTENTLENGTH) && p->content_length > 0);
    if (body) refuse(h, 400, "an upgrade request has no body");
    return !body;
}

static void check_request(hmq_ws_http_t *h)
{
    const http_parser *p = &h->parser;
    size_t len;
    const char *v;
    if (p->method != HTTP_GET) {
        refuse(h, 405, "method must be GET");
        return;
    }
    if (p->http_major != 1 || p->http_minor < 1) {
        refuse(h, 400, "HTTP/1.1 required");
        return;
    }
    if (!check_path(h)) return;
    if (count(h, H_HOST) != 1) {
        refuse(h, 400, "exactly one Host header required");
        return;
    }
    if (!has_token(h, H_UPGRADE, "websocket", true)) {
        refuse(h, 400, "not a WebSocket upgrade (Upgrade: websocket)");
        return;
    }
    if (!has_token(h, H_CONNECTION, "upgrade", true)) {
        refuse(h, 400, "not a WebSocket upgrade (Connection: Upgrade)");
        return;
    }
    if (!check_body(h)) return;
    if (!count(h, H_VERSION)) {
        refuse(h, 400, "missing Sec-WebSocket-Version");
        return;
    }
    v = single(h, H_VERSION, &len);
    if (!v || len != 2 || memcmp(v, "13", 2) != 0) {
        if (v) describe(h->req.detail, sizeof(h->req.detail), "version", v, len);
        refuse(h, 426, "unsupported Sec-WebSocket-Version (13 required)");
        return;
    }
    if (!check_key(h) || !check_subprotocol(h)) return;
    if (h->cfg->trust_forwarded) find_client_address(h);
    h->req.status = 101;
}

static int on_headers_complete(http_parser *p)
{
    hmq_ws_http_t *h = p->data;
    check_request(h);
    /* 2: an upgrade, whatever http_parser concluded from the headers: the head ends here */
    return h->req.status == 101 ? 2 : -1;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
};

/* ---- API ------------------------------------------------------------------------------------- */

hmq_ws_http_t *hmq_ws_http_new(const hmq_ws_config_t *cfg)
{
    hmq_ws_http_t *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    http_parser_init(&h->parser, HTTP_REQUEST);
    h->parser.data = h;
    h->cfg = cfg;
    return h;
}

void hmq_ws_http_free(hmq_ws_http_t *h)
{
    if (!h) return;
    free(h->text);
    free(h);
}

size_t hmq_ws_http_feed(hmq_ws_http_t *h, const uint8_t *in, size_t len)
{
    if (h->req.status || len == 0) return 0; /* http_parser takes 0 bytes for end of input */
    size_t room = HMQ_WS_HEAD_MAX - h->head_len;
    size_t n = len < room ? len : room;
    size_t used = http_parser_execute(&h->parser, &settings, (const char *)in, n);
    h->head_len += used;
    if (h->req.status) return used; /* decided in a callback */
    enum http_errno e = HTTP_PARSER_ERRNO(&h->parser);
    if (e != HPE_OK) {
        snprintf(h->req.detail, sizeof(h->req.detail), "%s", http_errno_description(e));
        refuse(h, 400, "malformed HTTP request");
    } else if (h->head_len == HMQ_WS_HEAD_MAX) {
        refuse(h, 431, "request head too large");
    }
    return used;
}

const hmq_ws_request_t *hmq_ws_http_result(const hmq_ws_http_t *h)
{
    return &h->req;
}

static const char *status_text(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return "Internal Server Error";
    }
}

size_t hmq_ws_http_response(const hmq_ws_http_t *h, int status, char *buf, size_t cap)
{
    int n;
    if (status == 101) {
        n = snprintf(buf, cap,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n"
                     "Sec-WebSocket-Protocol: %s\r\n"
                     "\r\n",
                     h->req.accept, h->req.subprotocol);
    } else {
        const char *body = status == h->req.status ? h->req.reason : status_text(status);
        const char *extra = status == 426   ? "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                            : status == 405 ? "Allow: GET\r\n"
                                            : "";
        n = snprintf(buf, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "Connection: %s\r\n"
                     "%s"
                     "Content-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n"
                     "\r\n"
                     "%s\n",
                     status, status_text(status), status == 426 ? "Upgrade, close" : "close", extra,
                     strlen(body) + 1, body);
    }
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

int hmq_ws_accept_key(const char *key, size_t key_len, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char in[64 + sizeof(guid)];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (key_len > 64) return -1;
    memcpy(in, key, key_len);
    memcpy(in + key_len, guid, sizeof(guid) - 1);
    if (!EVP_Digest(in, key_len + sizeof(guid) - 1, md, &md_len, EVP_sha1(), NULL) || md_len != 20)
        return -1;
    return EVP_EncodeBlock((unsigned char *)out, md, 20) == 28 ? 0 : -1;
}
