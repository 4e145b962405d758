"""The contract file itself: generated code is current, every field is documented, and the C
side's code generator (protoc-c, protobuf-c 1.4) accepts it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SDK = Path(__file__).resolve().parent.parent
PROTO_ROOT = SDK.parent / "proto"
PROTO = PROTO_ROOT / "hookmq" / "v1" / "hooks.proto"


def test_generated_python_is_current() -> None:
    r = subprocess.run([sys.executable, str(SDK / "scripts" / "gen_proto.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_every_field_and_enum_value_is_documented() -> None:
    """Each field / enum value has a comment on its line or right above it (or its block's)."""
    undocumented = []
    lines = PROTO.read_text().splitlines()
    field = re.compile(r"^\s+(repeated\s+)?[\w.<>, ]+\s+\w+\s*=\s*\d+;|^\s+[A-Z0-9_]+\s*=\s*\d+;")
    for i, line in enumerate(lines):
        if not field.match(line) or "//" in line:
            continue
        j = i - 1
        # a run of fields directly under one comment shares it (e.g. "san_dns, san_ip, ...")
        while j >= 0 and field.match(lines[j]) and "//" not in lines[j]:
            j -= 1
        prev = lines[j].strip() if j >= 0 else ""
        if not (prev.startswith("//") or ("//" in lines[j] and field.match(lines[j]))):
            undocumented.append(f"{PROTO.name}:{i + 1}: {line.strip()}")
    assert not undocumented, "undocumented:\n" + "\n".join(undocumented)


def test_no_proto3_optional_or_imports() -> None:
    """protobuf-c 1.4 (the C side) supports neither; presence uses messages and flags."""
    text = PROTO.read_text()
    assert not re.search(r"^\s*optional\s", text, re.M)
    assert not re.search(r"^\s*import\s", text, re.M)


@pytest.mark.skipif(shutil.which("protoc-c") is None, reason="protoc-c (protobuf-c-compiler) not installed")
def test_protoc_c_accepts_the_contract(tmp_path: Path) -> None:
    r = subprocess.run(["protoc-c", f"-I{PROTO_ROOT}", f"--c_out={tmp_path}", str(PROTO)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    header = (tmp_path / "hookmq" / "v1" / "hooks.pb-c.h").read_text()
    assert "hookmq__v1__hook_provider__descriptor" in header
    assert "Hookmq__V1__MessageBatch" in header
