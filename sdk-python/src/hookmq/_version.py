"""The SDK's version (also sent to the broker in the handshake)."""

__version__ = "0.1.0"
