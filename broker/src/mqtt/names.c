/* names.c - codec errors to MQTT 5 reason codes and human-readable names (see mqtt.h).
 * Used by core/ to pick the CONNACK/DISCONNECT reason code after a failed decode, and by logs.
 */
#include "mqtt/mqtt.h"

uint8_t hmq_mqtt_err_rc(int err)
{
    switch (err) {
    case HMQ_MQTT_OK:
        return HMQ_RC_SUCCESS;
    case HMQ_MQTT_E_MALFORMED:
        return HMQ_RC_MALFORMED_PACKET;
    case HMQ_MQTT_E_PROTOCOL:
        return HMQ_RC_PROTOCOL_ERROR;
    case HMQ_MQTT_E_TOO_LARGE:
        return HMQ_RC_PACKET_TOO_LARGE;
    case HMQ_MQTT_E_VERSION:
        return HMQ_RC_UNSUPPORTED_PROTOCOL_VERSION;
    case HMQ_MQTT_E_CLIENT_ID:
        return HMQ_RC_CLIENT_ID_NOT_VALID;
    case HMQ_MQTT_E_TOPIC_NAME:
        return HMQ_RC_TOPIC_NAME_INVALID;
    /* A syntactically invalid filter (wildcard placement, empty, bad $share/) is reported as 0x8F
     * rather than 0x81: the packet parses, and the 4.7 rules carry no receiver action. The v5
     * spec allows 0x8F in DISCONNECT; a broker may instead answer SUBACK 0x8F per entry, since the
     * decoder returns this error only with the rest of the packet fully decoded. */
    case HMQ_MQTT_E_TOPIC_FILTER:
        return HMQ_RC_TOPIC_FILTER_INVALID;
    case HMQ_MQTT_E_PAYLOAD_FORMAT:
        return HMQ_RC_PAYLOAD_FORMAT_INVALID;
    case HMQ_MQTT_E_TOPIC_ALIAS:
        return HMQ_RC_TOPIC_ALIAS_INVALID;
    default:
        return HMQ_RC_UNSPECIFIED;
    }
}

const char *hmq_mqtt_err_str(int err)
{
    switch (err) {
    case HMQ_MQTT_OK:
        return "ok";
    case HMQ_MQTT_E_MALFORMED:
        return "malformed packet";
    case HMQ_MQTT_E_PROTOCOL:
        return "protocol error";
    case HMQ_MQTT_E_TOO_LARGE:
        return "packet too large";
    case HMQ_MQTT_E_VERSION:
        return "unsupported protocol version";
    case HMQ_MQTT_E_CLIENT_ID:
        return "client identifier not valid";
    case HMQ_MQTT_E_TOPIC_NAME:
        return "topic name invalid";
    case HMQ_MQTT_E_TOPIC_FILTER:
        return "topic filter invalid";
    case HMQ_MQTT_E_PAYLOAD_FORMAT:
        return "payload format invalid";
    case HMQ_MQTT_E_TOPIC_ALIAS:
        return "topic alias invalid";
    default:
        return "unknown error";
    }
}

const char *hmq_mqtt_type_name(uint8_t type)
{
    static const char *const names[16] = {
        "RESERVED", "CONNECT",  "CONNACK",    "PUBLISH", "PUBACK",      "PUBREC",
        "PUBREL",   "PUBCOMP",  "SUBSCRIBE",  "SUBACK",  "UNSUBSCRIBE", "UNSUBACK",
        "PINGREQ",  "PINGRESP", "DISCONNECT", "AUTH",
    };
    return type < 16 ? names[type] : "UNKNOWN";
}
