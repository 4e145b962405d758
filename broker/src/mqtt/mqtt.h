/* mqtt.h - the MQTT 3.1, 3.1.1 and 5.0 codec: packet structs, decoding, encoding, validation.
 *
 * Pure: no I/O, no allocation, no globals. Decoding reads from the caller's buffer and returns
 * slices (hmq_bytes_t) that point into it, so a decoded packet is valid only as long as the buffer.
 * Used by core/ (connections), bench/ (load generator), tests and fuzzers.
 */
#ifndef HMQ_MQTT_H
#define HMQ_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Protocol levels as they appear in CONNECT. */
enum { HMQ_MQTT_V31 = 3, HMQ_MQTT_V311 = 4, HMQ_MQTT_V5 = 5 };

enum hmq_ptype {
    HMQ_CONNECT = 1,
    HMQ_CONNACK = 2,
    HMQ_PUBLISH = 3,
    HMQ_PUBACK = 4,
    HMQ_PUBREC = 5,
    HMQ_PUBREL = 6,
    HMQ_PUBCOMP = 7,
    HMQ_SUBSCRIBE = 8,
    HMQ_SUBACK = 9,
    HMQ_UNSUBSCRIBE = 10,
    HMQ_UNSUBACK = 11,
    HMQ_PINGREQ = 12,
    HMQ_PINGRESP = 13,
    HMQ_DISCONNECT = 14,
    HMQ_AUTH = 15,
};

/* MQTT 5 reason codes (also used internally to classify v3 errors). */
enum hmq_rc {
    HMQ_RC_SUCCESS = 0x00, /* = normal disconnection = granted QoS 0 */
    HMQ_RC_GRANTED_QOS1 = 0x01,
    HMQ_RC_GRANTED_QOS2 = 0x02,
    HMQ_RC_DISCONNECT_WITH_WILL = 0x04,
    HMQ_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
    HMQ_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
    HMQ_RC_CONTINUE_AUTH = 0x18,
    HMQ_RC_REAUTHENTICATE = 0x19,
    HMQ_RC_UNSPECIFIED = 0x80,
    HMQ_RC_MALFORMED_PACKET = 0x81,
    HMQ_RC_PROTOCOL_ERROR = 0x82,
    HMQ_RC_IMPL_SPECIFIC = 0x83,
    HMQ_RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84,
    HMQ_RC_CLIENT_ID_NOT_VALID = 0x85,
    HMQ_RC_BAD_USERNAME_OR_PASSWORD = 0x86,
    HMQ_RC_NOT_AUTHORIZED = 0x87,
    HMQ_RC_SERVER_UNAVAILABLE = 0x88,
    HMQ_RC_SERVER_BUSY = 0x89,
    HMQ_RC_BANNED = 0x8A,
    HMQ_RC_SERVER_SHUTTING_DOWN = 0x8B,
    HMQ_RC_BAD_AUTH_METHOD = 0x8C,
    HMQ_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
    HMQ_RC_SESSION_TAKEN_OVER = 0x8E,
    HMQ_RC_TOPIC_FILTER_INVALID = 0x8F,
    HMQ_RC_TOPIC_NAME_INVALID = 0x90,
    HMQ_RC_PACKET_ID_IN_USE = 0x91,
    HMQ_RC_PACKET_ID_NOT_FOUND = 0x92,
    HMQ_RC_RECEIVE_MAX_EXCEEDED = 0x93,
    HMQ_RC_TOPIC_ALIAS_INVALID = 0x94,
    HMQ_RC_PACKET_TOO_LARGE = 0x95,
    HMQ_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
    HMQ_RC_QUOTA_EXCEEDED = 0x97,
    HMQ_RC_ADMIN_ACTION = 0x98,
    HMQ_RC_PAYLOAD_FORMAT_INVALID = 0x99,
    HMQ_RC_RETAIN_NOT_SUPPORTED = 0x9A,
    HMQ_RC_QOS_NOT_SUPPORTED = 0x9B,
    HMQ_RC_USE_ANOTHER_SERVER = 0x9C,
    HMQ_RC_SERVER_MOVED = 0x9D,
    HMQ_RC_SHARED_SUBS_NOT_SUPPORTED = 0x9E,
    HMQ_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
    HMQ_RC_MAX_CONNECT_TIME = 0xA0,
    HMQ_RC_SUB_IDS_NOT_SUPPORTED = 0xA1,
    HMQ_RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2,
};

/* MQTT 3.1.1 CONNACK return codes. */
enum hmq_v3_connack {
    HMQ_V3_ACCEPTED = 0,
    HMQ_V3_REFUSED_PROTOCOL_VERSION = 1,
    HMQ_V3_REFUSED_IDENTIFIER = 2,
    HMQ_V3_REFUSED_SERVER_UNAVAILABLE = 3,
    HMQ_V3_REFUSED_BAD_CREDENTIALS = 4,
    HMQ_V3_REFUSED_NOT_AUTHORIZED = 5,
};

/* A slice of bytes inside the decoded buffer (or, for encoding, inside the caller's memory).
 * Strings are NOT NUL terminated. p may be NULL when len == 0. */
typedef struct {
    const uint8_t *p;
    uint32_t len;
} hmq_bytes_t;

/* MQTT 5 property identifiers. */
enum hmq_prop_id {
    HMQ_PROP_PAYLOAD_FORMAT = 0x01,
    HMQ_PROP_MESSAGE_EXPIRY = 0x02,
    HMQ_PROP_CONTENT_TYPE = 0x03,
    HMQ_PROP_RESPONSE_TOPIC = 0x08,
    HMQ_PROP_CORRELATION_DATA = 0x09,
    HMQ_PROP_SUBSCRIPTION_ID = 0x0B,
    HMQ_PROP_SESSION_EXPIRY = 0x11,
    HMQ_PROP_ASSIGNED_CLIENT_ID = 0x12,
    HMQ_PROP_SERVER_KEEP_ALIVE = 0x13,
    HMQ_PROP_AUTH_METHOD = 0x15,
    HMQ_PROP_AUTH_DATA = 0x16,
    HMQ_PROP_REQUEST_PROBLEM_INFO = 0x17,
    HMQ_PROP_WILL_DELAY = 0x18,
    HMQ_PROP_REQUEST_RESPONSE_INFO = 0x19,
    HMQ_PROP_RESPONSE_INFO = 0x1A,
    HMQ_PROP_SERVER_REFERENCE = 0x1C,
    HMQ_PROP_REASON_STRING = 0x1F,
    HMQ_PROP_RECEIVE_MAXIMUM = 0x21,
    HMQ_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,
    HMQ_PROP_TOPIC_ALIAS = 0x23,
    HMQ_PROP_MAXIMUM_QOS = 0x24,
    HMQ_PROP_RETAIN_AVAILABLE = 0x25,
    HMQ_PROP_USER_PROPERTY = 0x26,
    HMQ_PROP_MAXIMUM_PACKET_SIZE = 0x27,
    HMQ_PROP_WILDCARD_SUB_AVAILABLE = 0x28,
    HMQ_PROP_SUB_ID_AVAILABLE = 0x29,
    HMQ_PROP_SHARED_SUB_AVAILABLE = 0x2A,
};

/* Bit for property id X in hmq_props_t.present: (1ull << X). Ids are all < 64. */
#define HMQ_PROP_BIT(id) (1ull << (id))

/* Decoded (or to-be-encoded) MQTT 5 properties. A field is meaningful only when its bit is set
 * in `present`. User properties are not expanded: iterate them with hmq_props_user_next().
 *
 * Decoding: `raw` is the whole property block (without its length prefix), `user_count` the
 * number of user properties in it.
 * Encoding: fields with their bit set are written, then `raw` is appended verbatim: it must hold
 * already-encoded properties (e.g. the user properties a broker forwards). `sub_ids`/`sub_id_count`
 * write several subscription identifiers (PUBLISH to a subscriber); when sub_ids is NULL and the
 * SUBSCRIPTION_ID bit is set, the single `sub_id` is written.
 * Decoding sets sub_id to the first subscription identifier, sub_id_count to how many there were
 * (a PUBLISH to a client may carry several: iterate them with hmq_props_sub_id_next()), sub_ids to
 * NULL, and raw_decoded to true: raw then holds every property, so encoding such a struct writes
 * the fields whose bits are set plus only the user properties of raw (clear bits to drop
 * properties, e.g. the Topic Alias, before forwarding). A zero-initialised struct has
 * raw_decoded false and raw is appended verbatim. */
#define HMQ_MAX_SUB_IDS 32
typedef struct {
    uint64_t present;
    uint8_t payload_format;
    uint8_t request_problem_info;
    uint8_t request_response_info;
    uint8_t maximum_qos;
    uint8_t retain_available;
    uint8_t wildcard_sub_available;
    uint8_t sub_id_available;
    uint8_t shared_sub_available;
    uint16_t server_keep_alive;
    uint16_t receive_maximum;
    uint16_t topic_alias_maximum;
    uint16_t topic_alias;
    uint32_t message_expiry;
    uint32_t session_expiry;
    uint32_t will_delay;
    uint32_t maximum_packet_size;
    hmq_bytes_t content_type;
    hmq_bytes_t response_topic;
    hmq_bytes_t correlation_data;
    hmq_bytes_t assigned_client_id;
    hmq_bytes_t auth_method;
    hmq_bytes_t auth_data;
    hmq_bytes_t response_info;
    hmq_bytes_t server_reference;
    hmq_bytes_t reason_string;
    const uint32_t *sub_ids; /* encode: array of sub_id_count identifiers */
    uint32_t sub_id_count;
    uint32_t sub_id;     /* decode: the one subscription identifier of a SUBSCRIBE/PUBLISH */
    uint16_t user_count; /* decode: number of user properties (saturates at 65535) */
    hmq_bytes_t raw;
    bool raw_decoded; /* raw is a whole decoded block: encode copies only its user properties */
} hmq_props_t;

/* Iterate user properties of a decoded property block. *pos starts at 0. Returns false at end. */
bool hmq_props_user_next(const hmq_props_t *props, uint32_t *pos, hmq_bytes_t *key,
                         hmq_bytes_t *value);
/* Iterate the subscription identifiers of a decoded property block (same protocol as above). */
bool hmq_props_sub_id_next(const hmq_props_t *props, uint32_t *pos, uint32_t *id);

typedef struct {
    uint8_t version; /* 3, 4 or 5 */
    bool clean_start;
    bool will_flag;
    uint8_t will_qos;
    bool will_retain;
    bool has_username;
    bool has_password;
    uint16_t keepalive;
    hmq_bytes_t protocol_name;
    hmq_bytes_t client_id;
    hmq_props_t props;
    hmq_props_t will_props;
    hmq_bytes_t will_topic;
    hmq_bytes_t will_payload;
    hmq_bytes_t username;
    hmq_bytes_t password;
} hmq_connect_t;

typedef struct {
    bool session_present;
    uint8_t code; /* v3 return code or v5 reason code */
    hmq_props_t props;
} hmq_connack_t;

typedef struct {
    bool dup;
    uint8_t qos;
    bool retain;
    uint16_t packet_id; /* 0 for QoS 0 */
    hmq_bytes_t topic;  /* may be empty in v5 when a topic alias is used */
    hmq_props_t props;
    hmq_bytes_t payload;
} hmq_publish_t;

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
typedef struct {
    uint16_t packet_id;
    uint8_t code; /* v5 reason code; 0 when absent */
    hmq_props_t props;
} hmq_ack_t;

/* Subscription options byte (v5 layout; v3 uses only qos). */
typedef struct {
    uint8_t qos;
    bool no_local;
    bool retain_as_published;
    uint8_t retain_handling; /* 0, 1, 2 */
} hmq_subopts_t;

/* SUBSCRIBE and UNSUBSCRIBE: the entries are validated by decode; iterate them with
 * hmq_subscribe_next() / hmq_unsubscribe_next(). */
typedef struct {
    uint16_t packet_id;
    hmq_props_t props;
    hmq_bytes_t entries; /* raw payload */
    uint32_t count;
} hmq_subscribe_t;

bool hmq_subscribe_next(const hmq_subscribe_t *s, uint32_t *pos, hmq_bytes_t *filter,
                        hmq_subopts_t *opts);
bool hmq_unsubscribe_next(const hmq_subscribe_t *s, uint32_t *pos, hmq_bytes_t *filter);

/* SUBACK and UNSUBACK: one code per filter. */
typedef struct {
    uint16_t packet_id;
    hmq_props_t props;
    const uint8_t *codes;
    uint32_t count;
} hmq_suback_t;

/* DISCONNECT and AUTH. */
typedef struct {
    uint8_t code;
    hmq_props_t props;
} hmq_reason_t;

typedef struct {
    uint8_t type;  /* enum hmq_ptype */
    uint8_t flags; /* low 4 bits of the fixed header */
    union {
        hmq_connect_t connect;
        hmq_connack_t connack;
        hmq_publish_t publish;
        hmq_ack_t ack;
        hmq_subscribe_t subscribe; /* SUBSCRIBE, UNSUBSCRIBE */
        hmq_suback_t suback;       /* SUBACK, UNSUBACK */
        hmq_reason_t reason;       /* DISCONNECT, AUTH */
    };
} hmq_packet_t;

/* ---- Decoding ---------------------------------------------------------------------------- */

/* Decode results. Negative values are errors; hmq_mqtt_err_rc() maps them to a reason code. */
enum hmq_mqtt_err {
    HMQ_MQTT_OK = 0,
    HMQ_MQTT_E_MALFORMED = -1,      /* 0x81 */
    HMQ_MQTT_E_PROTOCOL = -2,       /* 0x82 */
    HMQ_MQTT_E_TOO_LARGE = -3,      /* 0x95 */
    HMQ_MQTT_E_VERSION = -4,        /* 0x84 (CONNECT with unknown protocol name/level) */
    HMQ_MQTT_E_CLIENT_ID = -5,      /* 0x85 */
    HMQ_MQTT_E_TOPIC_NAME = -6,     /* 0x90 */
    HMQ_MQTT_E_TOPIC_FILTER = -7,   /* 0x8F */
    HMQ_MQTT_E_PAYLOAD_FORMAT = -8, /* 0x99 (payload format 1 with invalid UTF-8 payload) */
    HMQ_MQTT_E_TOPIC_ALIAS = -9,    /* 0x94 (Topic Alias property with the value 0) */
};
uint8_t hmq_mqtt_err_rc(int err);
const char *hmq_mqtt_err_str(int err);

/* Find one packet at the start of buf. Returns 1 and sets *pkt_len (fixed header + remaining
 * length) when a whole packet is present; 0 when more bytes are needed (*pkt_len is set to the
 * total size once the remaining length is known, else 0); or a negative error: malformed
 * remaining length (more than 4 bytes, or a non-minimal encoding is accepted as the spec allows),
 * or HMQ_MQTT_E_TOO_LARGE when the total size exceeds max_packet (0 = no limit beyond the
 * protocol's 268435455 + 5). */
int hmq_mqtt_frame(const uint8_t *buf, size_t len, uint32_t max_packet, size_t *pkt_len);

/* Decode one whole packet (as framed by hmq_mqtt_frame). `version` is the connection's protocol
 * level (ignored for CONNECT, which carries its own; pass 0 before CONNECT). Validates everything
 * the specification requires of a receiver: reserved flags, QoS 3, packet id 0, UTF-8 validity
 * and U+0000 in strings, topic names (no wildcards, non-empty unless v5 alias), topic filters
 * (wildcard placement, $share/{group}/{filter} syntax), property ids allowed per packet type,
 * duplicate properties, property value ranges, trailing bytes, empty SUBSCRIBE/UNSUBSCRIBE.
 * Direction-specific rules (e.g. a server must not receive CONNACK) are the caller's.
 *
 * On error `out` is partly filled: type and flags always; for CONNECT, connect.version and
 * connect.protocol_name as soon as they were read (so the caller can pick the CONNACK format,
 * e.g. for HMQ_MQTT_E_VERSION). HMQ_MQTT_E_TOPIC_NAME, _TOPIC_FILTER and _PAYLOAD_FORMAT are
 * reported only when the rest of the packet is valid, and then `out` is completely decoded (so a
 * broker can answer PUBACK 0x99 with the packet id, or a per-entry SUBACK 0x8F). A non-CONNECT
 * packet with a `version` other than 3, 4 or 5 is HMQ_MQTT_E_PROTOCOL. */
int hmq_mqtt_decode(const uint8_t *pkt, size_t len, uint8_t version, hmq_packet_t *out);

/* ---- Validation helpers ------------------------------------------------------------------ */

/* UTF-8 well-formed per RFC 3629, no surrogates, no U+0000. (Control characters and
 * non-characters are allowed, as the specification permits.) */
bool hmq_mqtt_utf8_valid(const uint8_t *s, size_t len);
/* Topic name: valid UTF-8, 1..65535 bytes, no '+' or '#'. */
bool hmq_mqtt_topic_name_valid(const uint8_t *s, size_t len);
/* Topic filter: valid UTF-8, non-empty, '+' occupies a whole level, '#' is alone and last.
 * Also validates $share/{group}/{filter}: group non-empty without '+', '#' or '/', filter valid
 * and not itself a $share/ filter. */
bool hmq_mqtt_topic_filter_valid(const uint8_t *s, size_t len);
/* If filter is a shared subscription ($share/group/filter), set group and the inner filter. */
bool hmq_mqtt_shared_split(hmq_bytes_t filter, hmq_bytes_t *group, hmq_bytes_t *inner);

/* ---- Encoding ---------------------------------------------------------------------------- */

/* Every encoder writes one whole packet into out[0..cap) and returns its size. If the packet does
 * not fit, nothing useful is written and the required size is returned, so callers can size
 * buffers with a first call of cap 0. `version` selects the wire format (v5 adds reason codes and
 * properties; properties are ignored for v3). Returns 0 when the packet cannot be encoded: version
 * not 3..5, unknown type, AUTH below v5, QoS > 2, a string or binary field over 65535 bytes, or a
 * remaining length over 268435455. CONNECT is written with protocol level `version` and
 * connect.protocol_name, or "MQIsdp"/"MQTT" when that is empty. SUBSCRIBE/UNSUBSCRIBE write
 * subscribe.entries verbatim (build it with hmq_mqtt_sub_entry_write); a v3 SUBACK turns every
 * failure code (>= 0x80) into 0x80. */
size_t hmq_mqtt_encode(const hmq_packet_t *p, uint8_t version, uint8_t *out, size_t cap);

/* Append one SUBSCRIBE entry (filter and options byte) or, with opts NULL, one UNSUBSCRIBE entry
 * to a payload being built. Returns the entry size; writes only when it is <= cap; 0 when the
 * filter is longer than 65535 bytes. */
size_t hmq_mqtt_sub_entry_write(hmq_bytes_t filter, const hmq_subopts_t *opts, uint8_t version,
                                uint8_t *out, size_t cap);

/* Hot path for deliveries: encode a PUBLISH's fixed header, topic, packet id and properties, but
 * not the payload (the caller appends payload_len bytes right after). Returns the header size, or
 * the required size when cap is too small, or 0 when it cannot be encoded (as hmq_mqtt_encode). */
size_t hmq_mqtt_encode_publish_head(const hmq_publish_t *pub, uint8_t version, size_t payload_len,
                                    uint8_t *out, size_t cap);

/* Encoded size of a property block body (without its length prefix). */
size_t hmq_mqtt_props_size(const hmq_props_t *props);
/* Write one property block body; returns bytes written (== hmq_mqtt_props_size). String and
 * binary fields must be at most 65535 bytes (hmq_mqtt_encode checks this and returns 0). */
size_t hmq_mqtt_props_write(const hmq_props_t *props, uint8_t *out);
/* Variable byte integer helpers. */
size_t hmq_mqtt_varint_size(uint32_t v);
size_t hmq_mqtt_varint_write(uint32_t v, uint8_t *out);

/* Human-readable packet type name ("PUBLISH"). */
const char *hmq_mqtt_type_name(uint8_t type);

#endif
