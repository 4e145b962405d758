/* proxy.h - strict PROXY protocol v1 (text) and v2 (binary) header parser.
 *
 * A listener configured with `proxy_protocol` calls hmq_proxy_parse() on the first bytes of every
 * accepted connection, before TLS or MQTT, until it returns > 0 (header complete: skip that many
 * bytes and use the addresses) or < 0 (close the connection). Pure: no I/O, no allocation, no
 * globals. The specification is haproxy's doc/proxy-protocol.txt (2020/03/05).
 *
 * Strictness (a PROXY header is trusted identity, so anything unexpected is an error):
 *  - v1: exactly one space between fields, CRLF within 107 bytes, canonical IPv4 (no leading
 *    zeroes), ports 0..65535 without leading zeroes, addresses matching the family. "UNKNOWN"
 *    accepts anything up to the CRLF and reports HMQ_PROXY_FAMILY_UNSPEC.
 *  - v2: version 2, command LOCAL or PROXY, one of the 7 family/protocol bytes of the spec; the
 *    address block must fit in the announced length; TLVs must tile the rest exactly. Datagram
 *    families fall back to UNSPEC (allowed by the spec). A LOCAL header reports UNSPEC: the caller
 *    uses the real socket addresses.
 *  - TLVs: a CRC32C TLV is verified (bad CRC -> HMQ_PROXY_E_CRC); known TLVs may appear once;
 *    string TLVs (authority, netns, SSL version/CN/cipher/sig alg/key alg) must not contain NUL;
 *    unique id is at most 128 bytes; unknown and custom TLVs are skipped (walk them with
 *    hmq_proxy_tlv_next()).
 *  - Early rejection: bytes that cannot start a valid header fail at once, without waiting for
 *    more input; a v2 length above the cap fails as soon as the 16-byte preamble is in.
 */
#ifndef HMQ_PROXY_H
#define HMQ_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HMQ_PROXY_V1_MAX 107          /* longest v1 line including CRLF */
#define HMQ_PROXY_V2_MAX (16 + 65535) /* longest possible v2 header */
#define HMQ_PROXY_DEFAULT_MAX 4096    /* default cap on a v2 header (16 + length) */

enum hmq_proxy_err {
    HMQ_PROXY_E_NOT_PROXY = -1, /* neither the v1 nor the v2 signature */
    HMQ_PROXY_E_MALFORMED = -2, /* signature ok, but the header breaks the specification */
    HMQ_PROXY_E_TOO_LARGE = -3, /* v2 header longer than the configured cap */
    HMQ_PROXY_E_CRC = -4,       /* PP2_TYPE_CRC32C present and wrong */
};

typedef enum {
    HMQ_PROXY_CMD_LOCAL = 0, /* v2 LOCAL (health check): use the real socket addresses */
    HMQ_PROXY_CMD_PROXY = 1, /* relayed connection (v1 is always PROXY) */
} hmq_proxy_cmd_t;

typedef enum {
    HMQ_PROXY_FAMILY_UNSPEC = 0, /* v1 UNKNOWN, v2 UNSPEC/LOCAL/datagram: no addresses */
    HMQ_PROXY_FAMILY_TCP4 = 1,
    HMQ_PROXY_FAMILY_TCP6 = 2,
    HMQ_PROXY_FAMILY_UNIX = 3, /* v2 AF_UNIX stream: sockaddr_un, 108-byte paths */
} hmq_proxy_family_t;

/* v2 TLV types and SSL client flags, as in the specification. */
enum {
    HMQ_PP2_TYPE_ALPN = 0x01,
    HMQ_PP2_TYPE_AUTHORITY = 0x02,
    HMQ_PP2_TYPE_CRC32C = 0x03,
    HMQ_PP2_TYPE_NOOP = 0x04,
    HMQ_PP2_TYPE_UNIQUE_ID = 0x05,
    HMQ_PP2_TYPE_SSL = 0x20,
    HMQ_PP2_SUBTYPE_SSL_VERSION = 0x21,
    HMQ_PP2_SUBTYPE_SSL_CN = 0x22,
    HMQ_PP2_SUBTYPE_SSL_CIPHER = 0x23,
    HMQ_PP2_SUBTYPE_SSL_SIG_ALG = 0x24,
    HMQ_PP2_SUBTYPE_SSL_KEY_ALG = 0x25,
    HMQ_PP2_TYPE_NETNS = 0x30,
};
enum {
    HMQ_PP2_CLIENT_SSL = 0x01,
    HMQ_PP2_CLIENT_CERT_CONN = 0x02,
    HMQ_PP2_CLIENT_CERT_SESS = 0x04,
};

/* Bytes inside the parsed buffer (not NUL terminated). len == 0: absent (or empty). */
typedef struct {
    const uint8_t *p;
    size_t len;
} hmq_proxy_slice_t;

typedef struct {
    uint8_t version;     /* 1 or 2 */
    uint8_t command;     /* hmq_proxy_cmd_t */
    uint8_t family;      /* hmq_proxy_family_t */
    uint32_t header_len; /* bytes consumed (the return value of hmq_proxy_parse) */
    /* src = the client as seen by the proxy, dst = the address the client connected to.
     * ss_family is AF_UNSPEC when family is UNSPEC. Ports in network order, as in sockaddr. */
    struct sockaddr_storage src, dst;

    /* v2 TLVs: slices into the buffer given to hmq_proxy_parse(); valid while it is. */
    hmq_proxy_slice_t alpn;      /* PP2_TYPE_ALPN: negotiated protocol, e.g. "mqtt" */
    hmq_proxy_slice_t authority; /* PP2_TYPE_AUTHORITY: SNI host name */
    hmq_proxy_slice_t unique_id; /* PP2_TYPE_UNIQUE_ID: opaque, <= 128 bytes */
    hmq_proxy_slice_t netns;     /* PP2_TYPE_NETNS */
    bool has_crc32c;             /* a CRC32C TLV was present (and matched) */
    uint32_t crc32c;
    struct {
        bool present;    /* PP2_TYPE_SSL seen */
        uint8_t client;  /* HMQ_PP2_CLIENT_* bits */
        uint32_t verify; /* 0: the client certificate was verified by the proxy */
        hmq_proxy_slice_t version, cn, cipher, sig_alg, key_alg;
    } ssl;
    hmq_proxy_slice_t tlvs; /* every TLV byte (for hmq_proxy_tlv_next) */
} hmq_proxy_info_t;

/* Parse a PROXY header at the start of buf[0..len) with the default cap
 * (HMQ_PROXY_DEFAULT_MAX). Returns the header length (> 0) when a complete valid header is
 * present, 0 when more bytes are needed, or a negative HMQ_PROXY_E_* code. *out is filled only
 * on success (and zeroed otherwise). */
int hmq_proxy_parse(const uint8_t *buf, size_t len, hmq_proxy_info_t *out);

/* Same with an explicit cap on a v2 header (16 + length), clamped to
 * [HMQ_PROXY_V1_MAX, HMQ_PROXY_V2_MAX]. v1 lines are always capped at 107 bytes. */
int hmq_proxy_parse_ex(const uint8_t *buf, size_t len, size_t max_header, hmq_proxy_info_t *out);

/* True when the proxy terminated TLS and verified a client certificate on this connection:
 * PP2_CLIENT_SSL and PP2_CLIENT_CERT_CONN set and verify == 0. Only then is ssl.cn an identity. */
bool hmq_proxy_client_verified(const hmq_proxy_info_t *info);

/* Walk all TLVs (including unknown/custom ones such as cloud load balancer ids). *pos starts at
 * 0. Returns true and sets type/value for the next TLV, false at the end. */
bool hmq_proxy_tlv_next(const hmq_proxy_info_t *info, size_t *pos, uint8_t *type,
                        hmq_proxy_slice_t *value);

/* CRC32C (Castagnoli, RFC 4960 appendix B) of data, continuing from crc (start with 0). */
uint32_t hmq_crc32c(uint32_t crc, const void *data, size_t len);

/* Constant text for a HMQ_PROXY_E_* code, for logs. */
const char *hmq_proxy_strerror(int err);

#endif
