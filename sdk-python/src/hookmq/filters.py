"""Topic and pattern matching, with the exact semantics the broker applies in C.

Used by the SDK to dispatch requests to the right handler, by the test kit to decide whether a
handler would be called at all, and as the executable specification of the filters declared in
the handshake (see ``HookFilter`` in ``proto/hookmq/v1/hooks.proto``).
"""

from __future__ import annotations

import functools
import re

__all__ = [
    "validate_topic_filter",
    "validate_topic_name",
    "topic_matches",
    "filters_overlap",
    "filter_covers",
    "glob_matches",
]


def validate_topic_filter(topic_filter: str) -> None:
    """Raise :class:`ValueError` unless ``topic_filter`` is a valid MQTT topic filter.

    ``#`` must be a whole level and the last one; ``+`` must be a whole level.
    """
    if not topic_filter:
        raise ValueError("a topic filter cannot be empty")
    if "\0" in topic_filter:
        raise ValueError(f"topic filter {topic_filter!r} contains a NUL character")
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError(
                f"topic filter {topic_filter!r}: '#' must be a whole level and the last one"
            )
        if "+" in level and level != "+":
            raise ValueError(f"topic filter {topic_filter!r}: '+' must be a whole level")


def validate_topic_name(topic: str) -> None:
    """Raise :class:`ValueError` unless ``topic`` is a valid MQTT topic name (no wildcards)."""
    if not topic:
        raise ValueError("a topic name cannot be empty")
    if "+" in topic or "#" in topic:
        raise ValueError(f"topic name {topic!r} must not contain the wildcards '+' or '#'")
    if "\0" in topic:
        raise ValueError(f"topic name {topic!r} contains a NUL character")


@functools.lru_cache(maxsize=4096)
def _levels(s: str) -> tuple[str, ...]:
    return tuple(s.split("/"))


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether the MQTT ``topic_filter`` matches the topic name ``topic``.

    A filter starting with a wildcard does not match topics starting with ``$`` (MQTT 4.7.2).
    """
    if topic_filter == "#":
        return not topic.startswith("$")
    f = _levels(topic_filter)
    t = topic.split("/")
    if topic.startswith("$") and f[0] in ("+", "#"):
        return False
    n = len(f)
    for i, level in enumerate(f):
        if level == "#":
            return True
        if i >= len(t):
            return False
        if level != "+" and level != t[i]:
            return False
    return n == len(t)


def filters_overlap(a: str, b: str) -> bool:
    """Whether some topic name is matched by both topic filters ``a`` and ``b``.

    This is how a subscription is matched against a hook's topic filters: a hook registered for
    ``pay/#`` sees subscriptions to ``#``, ``pay/+/notify`` and ``+/1/notify``.
    """
    fa, fb = _levels(a), _levels(b)
    # `$` topics: a leading wildcard on one side cannot meet a `$...` literal on the other.
    if (fa[0] in ("+", "#") and fb[0].startswith("$")) or (
        fb[0] in ("+", "#") and fa[0].startswith("$")
    ):
        return False
    for i in range(max(len(fa), len(fb))):
        la = fa[i] if i < len(fa) else None
        lb = fb[i] if i < len(fb) else None
        if la == "#" or lb == "#":
            return True
        if la is None or lb is None:
            return False
        if la != "+" and lb != "+" and la != lb:
            return False
    return True


def filter_covers(pattern: str, topic_filter: str) -> bool:
    """Whether every topic matched by ``topic_filter`` is also matched by ``pattern``.

    This is how a subscribe grant is checked: ``pay/c1/#`` covers ``pay/c1/notify`` and
    ``pay/c1/+``, but not ``pay/+/notify``.
    """
    p, f = _levels(pattern), _levels(topic_filter)
    if p[0] in ("+", "#") and f[0].startswith("$"):
        return False
    for i, lp in enumerate(p):
        if lp == "#":
            return True
        if i >= len(f):
            return False
        lf = f[i]
        if lf == "#":
            return False
        if lp != "+" and (lf == "+" or lf != lp):
            return False
    return len(p) == len(f)


@functools.lru_cache(maxsize=1024)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def glob_matches(pattern: str, value: str) -> bool:
    """Whether ``value`` matches the glob ``pattern`` as a whole.

    ``*`` matches any run of characters (including none and ``/``), ``?`` exactly one character;
    every other character matches itself.
    """
    if "*" not in pattern and "?" not in pattern:
        return pattern == value
    return _glob_regex(pattern).fullmatch(value) is not None
