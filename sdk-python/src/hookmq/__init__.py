"""hookmq: write hookmq broker hooks (authentication, authorization, message checks) in Python.

::

    from hookmq import Hooks, allow, deny, grant

    hooks = Hooks("device-registry")

    @hooks.authenticate
    def login(req):
        if req.password == b"s3cret":
            return allow(grants=[grant("dev/%c/#")])
        return deny("unknown device")

    hooks.serve("127.0.0.1:50051")

The broker calls this server over gRPC (``hookmq.v1.HookProvider``, see
``proto/hookmq/v1/hooks.proto``); the guide is ``docs/hooks.md``.
"""

from hookmq._version import __version__
from hookmq._dispatch import RetryLater
from hookmq.app import Hooks
from hookmq.control import Control, ControlReply, NoBrokerConnected
from hookmq.models import (
    AuthenticateRequest,
    AuthorizeRequest,
    CacheScope,
    Certificate,
    Challenge,
    ClientInfo,
    ConnectProperties,
    Decision,
    Event,
    Grant,
    Message,
    PublishRequest,
    ReasonCode,
    Result,
    SubscribeRequest,
    Subscription,
    TlsInfo,
)
from hookmq.results import allow, challenge, continue_, deny, drop, failure, grant, rewrite
from hookmq._server import HookServer, ServerTLS

__all__ = [
    "__version__",
    "Hooks",
    "HookServer",
    "ServerTLS",
    "allow",
    "deny",
    "drop",
    "continue_",
    "challenge",
    "rewrite",
    "failure",
    "grant",
    "RetryLater",
    "Control",
    "ControlReply",
    "NoBrokerConnected",
    "AuthenticateRequest",
    "AuthorizeRequest",
    "PublishRequest",
    "SubscribeRequest",
    "Event",
    "Message",
    "Subscription",
    "ClientInfo",
    "TlsInfo",
    "Certificate",
    "ConnectProperties",
    "Result",
    "Decision",
    "CacheScope",
    "ReasonCode",
    "Grant",
    "Challenge",
]
