from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HookType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOOK_TYPE_UNSPECIFIED: _ClassVar[HookType]
    HOOK_TYPE_AUTHENTICATE: _ClassVar[HookType]
    HOOK_TYPE_AUTHORIZE: _ClassVar[HookType]
    HOOK_TYPE_ON_PUBLISH: _ClassVar[HookType]
    HOOK_TYPE_ON_SUBSCRIBE: _ClassVar[HookType]
    HOOK_TYPE_EVENTS: _ClassVar[HookType]

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_UNSPECIFIED: _ClassVar[Decision]
    DECISION_CONTINUE: _ClassVar[Decision]
    DECISION_ALLOW: _ClassVar[Decision]
    DECISION_DENY: _ClassVar[Decision]
    DECISION_FAILURE: _ClassVar[Decision]

class CacheScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CACHE_SCOPE_UNSPECIFIED: _ClassVar[CacheScope]
    CACHE_SCOPE_TOPIC: _ClassVar[CacheScope]
    CACHE_SCOPE_FILTER: _ClassVar[CacheScope]
    CACHE_SCOPE_CLIENT: _ClassVar[CacheScope]
    CACHE_SCOPE_USERNAME: _ClassVar[CacheScope]

class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_UNSPECIFIED: _ClassVar[Action]
    ACTION_PUBLISH: _ClassVar[Action]
    ACTION_SUBSCRIBE: _ClassVar[Action]

class QosLimit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QOS_LIMIT_NONE: _ClassVar[QosLimit]
    QOS_LIMIT_0: _ClassVar[QosLimit]
    QOS_LIMIT_1: _ClassVar[QosLimit]
    QOS_LIMIT_2: _ClassVar[QosLimit]

class AuthPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUTH_PHASE_UNSPECIFIED: _ClassVar[AuthPhase]
    AUTH_PHASE_CONNECT: _ClassVar[AuthPhase]
    AUTH_PHASE_CONTINUE: _ClassVar[AuthPhase]
    AUTH_PHASE_REAUTHENTICATE: _ClassVar[AuthPhase]

class MessageField(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_FIELD_UNSPECIFIED: _ClassVar[MessageField]
    MESSAGE_FIELD_TOPIC: _ClassVar[MessageField]
    MESSAGE_FIELD_PAYLOAD: _ClassVar[MessageField]
    MESSAGE_FIELD_QOS: _ClassVar[MessageField]
    MESSAGE_FIELD_RETAIN: _ClassVar[MessageField]
    MESSAGE_FIELD_MESSAGE_EXPIRY: _ClassVar[MessageField]
    MESSAGE_FIELD_USER_PROPERTIES: _ClassVar[MessageField]
    MESSAGE_FIELD_CONTENT_TYPE: _ClassVar[MessageField]
    MESSAGE_FIELD_PAYLOAD_FORMAT: _ClassVar[MessageField]
    MESSAGE_FIELD_RESPONSE_TOPIC: _ClassVar[MessageField]
    MESSAGE_FIELD_CORRELATION_DATA: _ClassVar[MessageField]

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_CLIENT_CONNECTED: _ClassVar[EventType]
    EVENT_TYPE_CLIENT_DISCONNECTED: _ClassVar[EventType]
    EVENT_TYPE_SUBSCRIBED: _ClassVar[EventType]
    EVENT_TYPE_UNSUBSCRIBED: _ClassVar[EventType]
    EVENT_TYPE_MESSAGE_DELIVERED: _ClassVar[EventType]
    EVENT_TYPE_MESSAGE_ACKED: _ClassVar[EventType]
    EVENT_TYPE_MESSAGE_DROPPED: _ClassVar[EventType]
    EVENT_TYPE_SESSION_CREATED: _ClassVar[EventType]
    EVENT_TYPE_SESSION_TERMINATED: _ClassVar[EventType]
HOOK_TYPE_UNSPECIFIED: HookType
HOOK_TYPE_AUTHENTICATE: HookType
HOOK_TYPE_AUTHORIZE: HookType
HOOK_TYPE_ON_PUBLISH: HookType
HOOK_TYPE_ON_SUBSCRIBE: HookType
HOOK_TYPE_EVENTS: HookType
DECISION_UNSPECIFIED: Decision
DECISION_CONTINUE: Decision
DECISION_ALLOW: Decision
DECISION_DENY: Decision
DECISION_FAILURE: Decision
CACHE_SCOPE_UNSPECIFIED: CacheScope
CACHE_SCOPE_TOPIC: CacheScope
CACHE_SCOPE_FILTER: CacheScope
CACHE_SCOPE_CLIENT: CacheScope
CACHE_SCOPE_USERNAME: CacheScope
ACTION_UNSPECIFIED: Action
ACTION_PUBLISH: Action
ACTION_SUBSCRIBE: Action
QOS_LIMIT_NONE: QosLimit
QOS_LIMIT_0: QosLimit
QOS_LIMIT_1: QosLimit
QOS_LIMIT_2: QosLimit
AUTH_PHASE_UNSPECIFIED: AuthPhase
AUTH_PHASE_CONNECT: AuthPhase
AUTH_PHASE_CONTINUE: AuthPhase
AUTH_PHASE_REAUTHENTICATE: AuthPhase
MESSAGE_FIELD_UNSPECIFIED: MessageField
MESSAGE_FIELD_TOPIC: MessageField
MESSAGE_FIELD_PAYLOAD: MessageField
MESSAGE_FIELD_QOS: MessageField
MESSAGE_FIELD_RETAIN: MessageField
MESSAGE_FIELD_MESSAGE_EXPIRY: MessageField
MESSAGE_FIELD_USER_PROPERTIES: MessageField
MESSAGE_FIELD_CONTENT_TYPE: MessageField
MESSAGE_FIELD_PAYLOAD_FORMAT: MessageField
MESSAGE_FIELD_RESPONSE_TOPIC: MessageField
MESSAGE_FIELD_CORRELATION_DATA: MessageField
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_CLIENT_CONNECTED: EventType
EVENT_TYPE_CLIENT_DISCONNECTED: EventType
EVENT_TYPE_SUBSCRIBED: EventType
EVENT_TYPE_UNSUBSCRIBED: EventType
EVENT_TYPE_MESSAGE_DELIVERED: EventType
EVENT_TYPE_MESSAGE_ACKED: EventType
EVENT_TYPE_MESSAGE_DROPPED: EventType
EVENT_TYPE_SESSION_CREATED: EventType
EVENT_TYPE_SESSION_TERMINATED: EventType

class HandshakeRequest(_message.Message):
    __slots__ = ("protocol_versions", "broker_version", "node", "server_name", "capabilities", "listeners", "max_batch_size")
    PROTOCOL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    BROKER_VERSION_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    SERVER_NAME_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    LISTENERS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    protocol_versions: _containers.RepeatedScalarFieldContainer[int]
    broker_version: str
    node: str
    server_name: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    listeners: _containers.RepeatedScalarFieldContainer[str]
    max_batch_size: int
    def __init__(self, protocol_versions: _Optional[_Iterable[int]] = ..., broker_version: _Optional[str] = ..., node: _Optional[str] = ..., server_name: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., listeners: _Optional[_Iterable[str]] = ..., max_batch_size: _Optional[int] = ...) -> None: ...

class HandshakeResponse(_message.Message):
    __slots__ = ("protocol_version", "server_version", "capabilities", "hooks", "max_batch_size", "instance_id")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    HOOKS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    server_version: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    hooks: _containers.RepeatedCompositeFieldContainer[HookRegistration]
    max_batch_size: int
    instance_id: str
    def __init__(self, protocol_version: _Optional[int] = ..., server_version: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., hooks: _Optional[_Iterable[_Union[HookRegistration, _Mapping]]] = ..., max_batch_size: _Optional[int] = ..., instance_id: _Optional[str] = ...) -> None: ...

class HookRegistration(_message.Message):
    __slots__ = ("id", "type", "filter", "actions", "events", "want_payload", "identity", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    WANT_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: int
    type: HookType
    filter: HookFilter
    actions: _containers.RepeatedScalarFieldContainer[Action]
    events: _containers.RepeatedScalarFieldContainer[EventType]
    want_payload: bool
    identity: IdentityOptions
    name: str
    def __init__(self, id: _Optional[int] = ..., type: _Optional[_Union[HookType, str]] = ..., filter: _Optional[_Union[HookFilter, _Mapping]] = ..., actions: _Optional[_Iterable[_Union[Action, str]]] = ..., events: _Optional[_Iterable[_Union[EventType, str]]] = ..., want_payload: _Optional[bool] = ..., identity: _Optional[_Union[IdentityOptions, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...

class HookFilter(_message.Message):
    __slots__ = ("topics", "listeners", "usernames", "client_ids")
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    LISTENERS_FIELD_NUMBER: _ClassVar[int]
    USERNAMES_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IDS_FIELD_NUMBER: _ClassVar[int]
    topics: _containers.RepeatedScalarFieldContainer[str]
    listeners: _containers.RepeatedScalarFieldContainer[str]
    usernames: _containers.RepeatedScalarFieldContainer[str]
    client_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, topics: _Optional[_Iterable[str]] = ..., listeners: _Optional[_Iterable[str]] = ..., usernames: _Optional[_Iterable[str]] = ..., client_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class IdentityOptions(_message.Message):
    __slots__ = ("connect_properties", "tls", "tls_chain", "attributes")
    CONNECT_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    TLS_FIELD_NUMBER: _ClassVar[int]
    TLS_CHAIN_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    connect_properties: bool
    tls: bool
    tls_chain: bool
    attributes: bool
    def __init__(self, connect_properties: _Optional[bool] = ..., tls: _Optional[bool] = ..., tls_chain: _Optional[bool] = ..., attributes: _Optional[bool] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("decision", "reason_code", "reason", "cache", "error")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    reason_code: int
    reason: str
    cache: CachePolicy
    error: str
    def __init__(self, decision: _Optional[_Union[Decision, str]] = ..., reason_code: _Optional[int] = ..., reason: _Optional[str] = ..., cache: _Optional[_Union[CachePolicy, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class CachePolicy(_message.Message):
    __slots__ = ("ttl_ms", "scope")
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ttl_ms: int
    scope: CacheScope
    def __init__(self, ttl_ms: _Optional[int] = ..., scope: _Optional[_Union[CacheScope, str]] = ...) -> None: ...

class UserProperty(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class ClientInfo(_message.Message):
    __slots__ = ("client_id", "username", "has_username", "protocol_version", "listener", "peer_address", "peer_port", "keepalive", "clean_start", "properties", "user_properties", "tls", "attributes", "node")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    HAS_USERNAME_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    LISTENER_FIELD_NUMBER: _ClassVar[int]
    PEER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PEER_PORT_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    CLEAN_START_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    USER_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    TLS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    username: str
    has_username: bool
    protocol_version: int
    listener: str
    peer_address: str
    peer_port: int
    keepalive: int
    clean_start: bool
    properties: ConnectProperties
    user_properties: _containers.RepeatedCompositeFieldContainer[UserProperty]
    tls: TlsInfo
    attributes: _containers.ScalarMap[str, str]
    node: str
    def __init__(self, client_id: _Optional[str] = ..., username: _Optional[str] = ..., has_username: _Optional[bool] = ..., protocol_version: _Optional[int] = ..., listener: _Optional[str] = ..., peer_address: _Optional[str] = ..., peer_port: _Optional[int] = ..., keepalive: _Optional[int] = ..., clean_start: _Optional[bool] = ..., properties: _Optional[_Union[ConnectProperties, _Mapping]] = ..., user_properties: _Optional[_Iterable[_Union[UserProperty, _Mapping]]] = ..., tls: _Optional[_Union[TlsInfo, _Mapping]] = ..., attributes: _Optional[_Mapping[str, str]] = ..., node: _Optional[str] = ...) -> None: ...

class ConnectProperties(_message.Message):
    __slots__ = ("session_expiry_interval", "receive_maximum", "maximum_packet_size", "topic_alias_maximum", "request_response_information", "request_problem_information", "authentication_method")
    SESSION_EXPIRY_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    RECEIVE_MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_PACKET_SIZE_FIELD_NUMBER: _ClassVar[int]
    TOPIC_ALIAS_MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    REQUEST_RESPONSE_INFORMATION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_PROBLEM_INFORMATION_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATION_METHOD_FIELD_NUMBER: _ClassVar[int]
    session_expiry_interval: int
    receive_maximum: int
    maximum_packet_size: int
    topic_alias_maximum: int
    request_response_information: bool
    request_problem_information: bool
    authentication_method: str
    def __init__(self, session_expiry_interval: _Optional[int] = ..., receive_maximum: _Optional[int] = ..., maximum_packet_size: _Optional[int] = ..., topic_alias_maximum: _Optional[int] = ..., request_response_information: _Optional[bool] = ..., request_problem_information: _Optional[bool] = ..., authentication_method: _Optional[str] = ...) -> None: ...

class TlsInfo(_message.Message):
    __slots__ = ("version", "cipher", "sni", "alpn", "peer_certificate", "chain_pem", "via_proxy")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CIPHER_FIELD_NUMBER: _ClassVar[int]
    SNI_FIELD_NUMBER: _ClassVar[int]
    ALPN_FIELD_NUMBER: _ClassVar[int]
    PEER_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_PEM_FIELD_NUMBER: _ClassVar[int]
    VIA_PROXY_FIELD_NUMBER: _ClassVar[int]
    version: str
    cipher: str
    sni: str
    alpn: str
    peer_certificate: Certificate
    chain_pem: str
    via_proxy: bool
    def __init__(self, version: _Optional[str] = ..., cipher: _Optional[str] = ..., sni: _Optional[str] = ..., alpn: _Optional[str] = ..., peer_certificate: _Optional[_Union[Certificate, _Mapping]] = ..., chain_pem: _Optional[str] = ..., via_proxy: _Optional[bool] = ...) -> None: ...

class Certificate(_message.Message):
    __slots__ = ("subject", "issuer", "common_name", "serial", "fingerprint_sha256", "san_dns", "san_ip", "san_email", "san_uri", "not_before_unix_ms", "not_after_unix_ms")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    COMMON_NAME_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_SHA256_FIELD_NUMBER: _ClassVar[int]
    SAN_DNS_FIELD_NUMBER: _ClassVar[int]
    SAN_IP_FIELD_NUMBER: _ClassVar[int]
    SAN_EMAIL_FIELD_NUMBER: _ClassVar[int]
    SAN_URI_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    issuer: str
    common_name: str
    serial: str
    fingerprint_sha256: str
    san_dns: _containers.RepeatedScalarFieldContainer[str]
    san_ip: _containers.RepeatedScalarFieldContainer[str]
    san_email: _containers.RepeatedScalarFieldContainer[str]
    san_uri: _containers.RepeatedScalarFieldContainer[str]
    not_before_unix_ms: int
    not_after_unix_ms: int
    def __init__(self, subject: _Optional[str] = ..., issuer: _Optional[str] = ..., common_name: _Optional[str] = ..., serial: _Optional[str] = ..., fingerprint_sha256: _Optional[str] = ..., san_dns: _Optional[_Iterable[str]] = ..., san_ip: _Optional[_Iterable[str]] = ..., san_email: _Optional[_Iterable[str]] = ..., san_uri: _Optional[_Iterable[str]] = ..., not_before_unix_ms: _Optional[int] = ..., not_after_unix_ms: _Optional[int] = ...) -> None: ...

class PublishMessage(_message.Message):
    __slots__ = ("topic", "payload", "payload_size", "qos", "retain", "message_expiry_interval", "has_message_expiry", "payload_format_indicator", "content_type", "response_topic", "correlation_data", "user_properties", "received_unix_ms")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SIZE_FIELD_NUMBER: _ClassVar[int]
    QOS_FIELD_NUMBER: _ClassVar[int]
    RETAIN_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_EXPIRY_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    HAS_MESSAGE_EXPIRY_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FORMAT_INDICATOR_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_TOPIC_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_DATA_FIELD_NUMBER: _ClassVar[int]
    USER_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    topic: str
    payload: bytes
    payload_size: int
    qos: int
    retain: bool
    message_expiry_interval: int
    has_message_expiry: bool
    payload_format_indicator: int
    content_type: str
    response_topic: str
    correlation_data: bytes
    user_properties: _containers.RepeatedCompositeFieldContainer[UserProperty]
    received_unix_ms: int
    def __init__(self, topic: _Optional[str] = ..., payload: _Optional[bytes] = ..., payload_size: _Optional[int] = ..., qos: _Optional[int] = ..., retain: _Optional[bool] = ..., message_expiry_interval: _Optional[int] = ..., has_message_expiry: _Optional[bool] = ..., payload_format_indicator: _Optional[int] = ..., content_type: _Optional[str] = ..., response_topic: _Optional[str] = ..., correlation_data: _Optional[bytes] = ..., user_properties: _Optional[_Iterable[_Union[UserProperty, _Mapping]]] = ..., received_unix_ms: _Optional[int] = ...) -> None: ...

class AuthenticateRequest(_message.Message):
    __slots__ = ("client", "password", "has_password", "phase", "auth_method", "auth_data", "auth_state", "step", "will", "hook_ids")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    HAS_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    AUTH_METHOD_FIELD_NUMBER: _ClassVar[int]
    AUTH_DATA_FIELD_NUMBER: _ClassVar[int]
    AUTH_STATE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    WILL_FIELD_NUMBER: _ClassVar[int]
    HOOK_IDS_FIELD_NUMBER: _ClassVar[int]
    client: ClientInfo
    password: bytes
    has_password: bool
    phase: AuthPhase
    auth_method: str
    auth_data: bytes
    auth_state: bytes
    step: int
    will: PublishMessage
    hook_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, client: _Optional[_Union[ClientInfo, _Mapping]] = ..., password: _Optional[bytes] = ..., has_password: _Optional[bool] = ..., phase: _Optional[_Union[AuthPhase, str]] = ..., auth_method: _Optional[str] = ..., auth_data: _Optional[bytes] = ..., auth_state: _Optional[bytes] = ..., step: _Optional[int] = ..., will: _Optional[_Union[PublishMessage, _Mapping]] = ..., hook_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class AuthenticateResponse(_message.Message):
    __slots__ = ("result", "grants", "superuser", "attributes", "expires_unix_ms", "challenge", "auth_data")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RESULT_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    SUPERUSER_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    AUTH_DATA_FIELD_NUMBER: _ClassVar[int]
    result: Result
    grants: GrantSet
    superuser: bool
    attributes: _containers.ScalarMap[str, str]
    expires_unix_ms: int
    challenge: AuthChallenge
    auth_data: bytes
    def __init__(self, result: _Optional[_Union[Result, _Mapping]] = ..., grants: _Optional[_Union[GrantSet, _Mapping]] = ..., superuser: _Optional[bool] = ..., attributes: _Optional[_Mapping[str, str]] = ..., expires_unix_ms: _Optional[int] = ..., challenge: _Optional[_Union[AuthChallenge, _Mapping]] = ..., auth_data: _Optional[bytes] = ...) -> None: ...

class AuthChallenge(_message.Message):
    __slots__ = ("auth_data", "state")
    AUTH_DATA_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    auth_data: bytes
    state: bytes
    def __init__(self, auth_data: _Optional[bytes] = ..., state: _Optional[bytes] = ...) -> None: ...

class GrantSet(_message.Message):
    __slots__ = ("rules", "fallthrough")
    RULES_FIELD_NUMBER: _ClassVar[int]
    FALLTHROUGH_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[Grant]
    fallthrough: bool
    def __init__(self, rules: _Optional[_Iterable[_Union[Grant, _Mapping]]] = ..., fallthrough: _Optional[bool] = ...) -> None: ...

class Grant(_message.Message):
    __slots__ = ("pattern", "action", "max_qos", "no_retain", "deny")
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    MAX_QOS_FIELD_NUMBER: _ClassVar[int]
    NO_RETAIN_FIELD_NUMBER: _ClassVar[int]
    DENY_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    action: Action
    max_qos: QosLimit
    no_retain: bool
    deny: bool
    def __init__(self, pattern: _Optional[str] = ..., action: _Optional[_Union[Action, str]] = ..., max_qos: _Optional[_Union[QosLimit, str]] = ..., no_retain: _Optional[bool] = ..., deny: _Optional[bool] = ...) -> None: ...

class AuthorizeRequest(_message.Message):
    __slots__ = ("client", "action", "topic", "qos", "retain", "share_group", "message", "hook_ids", "id", "deadline_ms", "traceparent")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    QOS_FIELD_NUMBER: _ClassVar[int]
    RETAIN_FIELD_NUMBER: _ClassVar[int]
    SHARE_GROUP_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    HOOK_IDS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    client: ClientInfo
    action: Action
    topic: str
    qos: int
    retain: bool
    share_group: str
    message: PublishMessage
    hook_ids: _containers.RepeatedScalarFieldContainer[int]
    id: int
    deadline_ms: int
    traceparent: str
    def __init__(self, client: _Optional[_Union[ClientInfo, _Mapping]] = ..., action: _Optional[_Union[Action, str]] = ..., topic: _Optional[str] = ..., qos: _Optional[int] = ..., retain: _Optional[bool] = ..., share_group: _Optional[str] = ..., message: _Optional[_Union[PublishMessage, _Mapping]] = ..., hook_ids: _Optional[_Iterable[int]] = ..., id: _Optional[int] = ..., deadline_ms: _Optional[int] = ..., traceparent: _Optional[str] = ...) -> None: ...

class AuthorizeResponse(_message.Message):
    __slots__ = ("result", "id")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    result: Result
    id: int
    def __init__(self, result: _Optional[_Union[Result, _Mapping]] = ..., id: _Optional[int] = ...) -> None: ...

class Subscription(_message.Message):
    __slots__ = ("filter", "qos", "share_group", "no_local", "retain_as_published", "retain_handling")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    QOS_FIELD_NUMBER: _ClassVar[int]
    SHARE_GROUP_FIELD_NUMBER: _ClassVar[int]
    NO_LOCAL_FIELD_NUMBER: _ClassVar[int]
    RETAIN_AS_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    RETAIN_HANDLING_FIELD_NUMBER: _ClassVar[int]
    filter: str
    qos: int
    share_group: str
    no_local: bool
    retain_as_published: bool
    retain_handling: int
    def __init__(self, filter: _Optional[str] = ..., qos: _Optional[int] = ..., share_group: _Optional[str] = ..., no_local: _Optional[bool] = ..., retain_as_published: _Optional[bool] = ..., retain_handling: _Optional[int] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("client", "subscriptions", "subscription_identifier", "user_properties", "hook_ids")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    USER_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    HOOK_IDS_FIELD_NUMBER: _ClassVar[int]
    client: ClientInfo
    subscriptions: _containers.RepeatedCompositeFieldContainer[Subscription]
    subscription_identifier: int
    user_properties: _containers.RepeatedCompositeFieldContainer[UserProperty]
    hook_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, client: _Optional[_Union[ClientInfo, _Mapping]] = ..., subscriptions: _Optional[_Iterable[_Union[Subscription, _Mapping]]] = ..., subscription_identifier: _Optional[int] = ..., user_properties: _Optional[_Iterable[_Union[UserProperty, _Mapping]]] = ..., hook_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SubscriptionResult]
    def __init__(self, results: _Optional[_Iterable[_Union[SubscriptionResult, _Mapping]]] = ...) -> None: ...

class SubscriptionResult(_message.Message):
    __slots__ = ("result", "filter", "max_qos")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    MAX_QOS_FIELD_NUMBER: _ClassVar[int]
    result: Result
    filter: str
    max_qos: QosLimit
    def __init__(self, result: _Optional[_Union[Result, _Mapping]] = ..., filter: _Optional[str] = ..., max_qos: _Optional[_Union[QosLimit, str]] = ...) -> None: ...

class MessageBatch(_message.Message):
    __slots__ = ("publish", "authorize")
    PUBLISH_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZE_FIELD_NUMBER: _ClassVar[int]
    publish: _containers.RepeatedCompositeFieldContainer[PublishRequest]
    authorize: _containers.RepeatedCompositeFieldContainer[AuthorizeRequest]
    def __init__(self, publish: _Optional[_Iterable[_Union[PublishRequest, _Mapping]]] = ..., authorize: _Optional[_Iterable[_Union[AuthorizeRequest, _Mapping]]] = ...) -> None: ...

class PublishRequest(_message.Message):
    __slots__ = ("id", "deadline_ms", "hook_ids", "traceparent", "client", "message")
    ID_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    HOOK_IDS_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: int
    deadline_ms: int
    hook_ids: _containers.RepeatedScalarFieldContainer[int]
    traceparent: str
    client: ClientInfo
    message: PublishMessage
    def __init__(self, id: _Optional[int] = ..., deadline_ms: _Optional[int] = ..., hook_ids: _Optional[_Iterable[int]] = ..., traceparent: _Optional[str] = ..., client: _Optional[_Union[ClientInfo, _Mapping]] = ..., message: _Optional[_Union[PublishMessage, _Mapping]] = ...) -> None: ...

class DecisionBatch(_message.Message):
    __slots__ = ("credits", "publish", "authorize")
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZE_FIELD_NUMBER: _ClassVar[int]
    credits: int
    publish: _containers.RepeatedCompositeFieldContainer[PublishResponse]
    authorize: _containers.RepeatedCompositeFieldContainer[AuthorizeResponse]
    def __init__(self, credits: _Optional[int] = ..., publish: _Optional[_Iterable[_Union[PublishResponse, _Mapping]]] = ..., authorize: _Optional[_Iterable[_Union[AuthorizeResponse, _Mapping]]] = ...) -> None: ...

class PublishResponse(_message.Message):
    __slots__ = ("result", "changes", "id")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    result: Result
    changes: MessageChanges
    id: int
    def __init__(self, result: _Optional[_Union[Result, _Mapping]] = ..., changes: _Optional[_Union[MessageChanges, _Mapping]] = ..., id: _Optional[int] = ...) -> None: ...

class MessageChanges(_message.Message):
    __slots__ = ("fields", "message")
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.RepeatedScalarFieldContainer[MessageField]
    message: PublishMessage
    def __init__(self, fields: _Optional[_Iterable[_Union[MessageField, str]]] = ..., message: _Optional[_Union[PublishMessage, _Mapping]] = ...) -> None: ...

class EventBatch(_message.Message):
    __slots__ = ("sequence", "source_id", "events")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    source_id: str
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, sequence: _Optional[int] = ..., source_id: _Optional[str] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class EventAck(_message.Message):
    __slots__ = ("sequences", "retry_sequences", "credits")
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    RETRY_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    sequences: _containers.RepeatedScalarFieldContainer[int]
    retry_sequences: _containers.RepeatedScalarFieldContainer[int]
    credits: int
    def __init__(self, sequences: _Optional[_Iterable[int]] = ..., retry_sequences: _Optional[_Iterable[int]] = ..., credits: _Optional[int] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("type", "timestamp_unix_ms", "client", "hook_ids", "connected", "disconnected", "subscribed", "unsubscribed", "delivered", "acked", "dropped", "session_created", "session_terminated")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    HOOK_IDS_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    DISCONNECTED_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBED_FIELD_NUMBER: _ClassVar[int]
    UNSUBSCRIBED_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    ACKED_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    SESSION_CREATED_FIELD_NUMBER: _ClassVar[int]
    SESSION_TERMINATED_FIELD_NUMBER: _ClassVar[int]
    type: EventType
    timestamp_unix_ms: int
    client: ClientInfo
    hook_ids: _containers.RepeatedScalarFieldContainer[int]
    connected: ClientConnected
    disconnected: ClientDisconnected
    subscribed: Subscribed
    unsubscribed: Unsubscribed
    delivered: MessageDelivered
    acked: MessageAcked
    dropped: MessageDropped
    session_created: SessionCreated
    session_terminated: SessionTerminated
    def __init__(self, type: _Optional[_Union[EventType, str]] = ..., timestamp_unix_ms: _Optional[int] = ..., client: _Optional[_Union[ClientInfo, _Mapping]] = ..., hook_ids: _Optional[_Iterable[int]] = ..., connected: _Optional[_Union[ClientConnected, _Mapping]] = ..., disconnected: _Optional[_Union[ClientDisconnected, _Mapping]] = ..., subscribed: _Optional[_Union[Subscribed, _Mapping]] = ..., unsubscribed: _Optional[_Union[Unsubscribed, _Mapping]] = ..., delivered: _Optional[_Union[MessageDelivered, _Mapping]] = ..., acked: _Optional[_Union[MessageAcked, _Mapping]] = ..., dropped: _Optional[_Union[MessageDropped, _Mapping]] = ..., session_created: _Optional[_Union[SessionCreated, _Mapping]] = ..., session_terminated: _Optional[_Union[SessionTerminated, _Mapping]] = ...) -> None: ...

class ClientConnected(_message.Message):
    __slots__ = ("session_present", "session_expiry_interval")
    SESSION_PRESENT_FIELD_NUMBER: _ClassVar[int]
    SESSION_EXPIRY_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    session_present: bool
    session_expiry_interval: int
    def __init__(self, session_present: _Optional[bool] = ..., session_expiry_interval: _Optional[int] = ...) -> None: ...

class ClientDisconnected(_message.Message):
    __slots__ = ("reason_code", "reason", "will_published")
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    WILL_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    reason_code: int
    reason: str
    will_published: bool
    def __init__(self, reason_code: _Optional[int] = ..., reason: _Optional[str] = ..., will_published: _Optional[bool] = ...) -> None: ...

class Subscribed(_message.Message):
    __slots__ = ("subscription", "granted_qos")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    GRANTED_QOS_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    granted_qos: int
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ..., granted_qos: _Optional[int] = ...) -> None: ...

class Unsubscribed(_message.Message):
    __slots__ = ("filter", "share_group")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SHARE_GROUP_FIELD_NUMBER: _ClassVar[int]
    filter: str
    share_group: str
    def __init__(self, filter: _Optional[str] = ..., share_group: _Optional[str] = ...) -> None: ...

class MessageDelivered(_message.Message):
    __slots__ = ("message", "from_client_id", "packet_id")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FROM_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    PACKET_ID_FIELD_NUMBER: _ClassVar[int]
    message: PublishMessage
    from_client_id: str
    packet_id: int
    def __init__(self, message: _Optional[_Union[PublishMessage, _Mapping]] = ..., from_client_id: _Optional[str] = ..., packet_id: _Optional[int] = ...) -> None: ...

class MessageAcked(_message.Message):
    __slots__ = ("message", "from_client_id", "packet_id", "reason_code")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FROM_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    PACKET_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    message: PublishMessage
    from_client_id: str
    packet_id: int
    reason_code: int
    def __init__(self, message: _Optional[_Union[PublishMessage, _Mapping]] = ..., from_client_id: _Optional[str] = ..., packet_id: _Optional[int] = ..., reason_code: _Optional[int] = ...) -> None: ...

class MessageDropped(_message.Message):
    __slots__ = ("message", "from_client_id", "reason", "reason_code")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FROM_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    message: PublishMessage
    from_client_id: str
    reason: str
    reason_code: int
    def __init__(self, message: _Optional[_Union[PublishMessage, _Mapping]] = ..., from_client_id: _Optional[str] = ..., reason: _Optional[str] = ..., reason_code: _Optional[int] = ...) -> None: ...

class SessionCreated(_message.Message):
    __slots__ = ("session_expiry_interval",)
    SESSION_EXPIRY_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    session_expiry_interval: int
    def __init__(self, session_expiry_interval: _Optional[int] = ...) -> None: ...

class SessionTerminated(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class ControlCommand(_message.Message):
    __slots__ = ("id", "kick", "grants", "invalidate_cache", "publish")
    ID_FIELD_NUMBER: _ClassVar[int]
    KICK_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    INVALIDATE_CACHE_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_FIELD_NUMBER: _ClassVar[int]
    id: int
    kick: KickCommand
    grants: GrantsCommand
    invalidate_cache: InvalidateCacheCommand
    publish: PublishCommand
    def __init__(self, id: _Optional[int] = ..., kick: _Optional[_Union[KickCommand, _Mapping]] = ..., grants: _Optional[_Union[GrantsCommand, _Mapping]] = ..., invalidate_cache: _Optional[_Union[InvalidateCacheCommand, _Mapping]] = ..., publish: _Optional[_Union[PublishCommand, _Mapping]] = ...) -> None: ...

class ClientSelector(_message.Message):
    __slots__ = ("client_id", "username")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    username: str
    def __init__(self, client_id: _Optional[str] = ..., username: _Optional[str] = ...) -> None: ...

class KickCommand(_message.Message):
    __slots__ = ("clients", "reason_code", "reason", "discard_session")
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DISCARD_SESSION_FIELD_NUMBER: _ClassVar[int]
    clients: ClientSelector
    reason_code: int
    reason: str
    discard_session: bool
    def __init__(self, clients: _Optional[_Union[ClientSelector, _Mapping]] = ..., reason_code: _Optional[int] = ..., reason: _Optional[str] = ..., discard_session: _Optional[bool] = ...) -> None: ...

class GrantsCommand(_message.Message):
    __slots__ = ("clients", "grants", "superuser")
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    SUPERUSER_FIELD_NUMBER: _ClassVar[int]
    clients: ClientSelector
    grants: GrantSet
    superuser: bool
    def __init__(self, clients: _Optional[_Union[ClientSelector, _Mapping]] = ..., grants: _Optional[_Union[GrantSet, _Mapping]] = ..., superuser: _Optional[bool] = ...) -> None: ...

class InvalidateCacheCommand(_message.Message):
    __slots__ = ("hook", "client_id", "username", "topic_filter")
    HOOK_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FILTER_FIELD_NUMBER: _ClassVar[int]
    hook: HookType
    client_id: str
    username: str
    topic_filter: str
    def __init__(self, hook: _Optional[_Union[HookType, str]] = ..., client_id: _Optional[str] = ..., username: _Optional[str] = ..., topic_filter: _Optional[str] = ...) -> None: ...

class PublishCommand(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: PublishMessage
    def __init__(self, message: _Optional[_Union[PublishMessage, _Mapping]] = ...) -> None: ...

class ControlResult(_message.Message):
    __slots__ = ("id", "code", "message", "affected")
    ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    AFFECTED_FIELD_NUMBER: _ClassVar[int]
    id: int
    code: int
    message: str
    affected: int
    def __init__(self, id: _Optional[int] = ..., code: _Optional[int] = ..., message: _Optional[str] = ..., affected: _Optional[int] = ...) -> None: ...
