"""Topic matching, filter overlap and coverage, glob patterns: the semantics the broker uses."""

from __future__ import annotations

import pytest

from hookmq.filters import (
    filter_covers,
    filters_overlap,
    glob_matches,
    topic_matches,
    validate_topic_filter,
    validate_topic_name,
)


@pytest.mark.parametrize(
    "flt,topic,expected",
    [
        ("pay/+/notify", "pay/0001/notify", True),
        ("pay/+/notify", "pay/0001/other", False),
        ("pay/+/notify", "pay/0001/notify/x", False),
        ("pay/#", "pay", True),
        ("pay/#", "pay/a/b/c", True),
        ("#", "anything/at/all", True),
        ("#", "$SYS/broker/uptime", False),
        ("+/x", "$SYS/x", False),
        ("$SYS/#", "$SYS/broker", True),
        ("a/+", "a/", True),
        ("a", "a/b", False),
    ],
)
def test_topic_matches(flt: str, topic: str, expected: bool) -> None:
    assert topic_matches(flt, topic) is expected


@pytest.mark.parametrize(
    "a,b,expected",
    [
        ("pay/#", "#", True),
        ("pay/#", "pay/+/notify", True),
        ("pay/+/notify", "+/1/notify", True),
        ("pay/+/notify", "pay/1/other", False),
        ("pay/+/notify", "pay/#", True),
        ("pay/+/notify", "dev/#", False),
        ("a/b", "a/b/c", False),
        ("#", "$SYS/#", False),
        ("$SYS/#", "$SYS/broker", True),
    ],
)
def test_filters_overlap(a: str, b: str, expected: bool) -> None:
    assert filters_overlap(a, b) is expected
    assert filters_overlap(b, a) is expected


@pytest.mark.parametrize(
    "pattern,flt,expected",
    [
        ("pay/c1/#", "pay/c1/notify", True),
        ("pay/c1/#", "pay/c1/+", True),
        ("pay/c1/#", "pay/c1/#", True),
        ("pay/c1/#", "pay/+/notify", False),
        ("pay/+/notify", "pay/c1/notify", True),
        ("pay/+/notify", "pay/#", False),
        ("#", "$SYS/x", False),
        ("a/b", "a/b", True),
        ("a/b", "a/+", False),
    ],
)
def test_filter_covers(pattern: str, flt: str, expected: bool) -> None:
    assert filter_covers(pattern, flt) is expected


def test_glob() -> None:
    assert glob_matches("pos-*", "pos-0001")
    assert not glob_matches("pos-*", "spk-0001")
    assert glob_matches("pos-????", "pos-0001")
    assert not glob_matches("pos-????", "pos-00011")
    assert glob_matches("*", "")
    assert not glob_matches("?*", "")
    assert glob_matches("a.b[1]", "a.b[1]")  # only * and ? are special
    assert not glob_matches("a.b", "axb")


@pytest.mark.parametrize("bad", ["", "a/#/b", "a#", "a/b+", "+a/b"])
def test_invalid_filters_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        validate_topic_filter(bad)


@pytest.mark.parametrize("bad", ["", "a/+", "a/#"])
def test_invalid_topic_names_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        validate_topic_name(bad)
