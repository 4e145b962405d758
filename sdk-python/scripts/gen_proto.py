#!/usr/bin/env python3
"""Regenerate the protobuf/gRPC modules of the SDK from proto/hookmq/v1/hooks.proto.

The generated files are committed (src/hookmq/v1/hooks_pb2.py and .pyi) so that
``pip install ./sdk-python`` needs nothing but PyPI wheels at install time. Run this after every
change to the proto (with the dev requirements installed)::

    python scripts/gen_proto.py           # rewrite the generated files
    python scripts/gen_proto.py --check   # exit 1 if they are not current (run by the tests)
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

SDK = Path(__file__).resolve().parent.parent
PROTO_ROOT = SDK.parent / "proto"
PROTO = "hookmq/v1/hooks.proto"
OUT = SDK / "src"
# Messages only: the server registers its own method handlers (hookmq._server._add_servicer), so
# the gRPC plugin's servicer base class and stub would be dead code.
GENERATED = ("hooks_pb2.py", "hooks_pb2.pyi")


def generate(out: Path) -> None:
    """Run grpc_tools.protoc on the proto, writing hookmq/v1/* under ``out``."""
    from grpc_tools import protoc  # dev dependency (grpcio-tools)
    import grpc_tools

    include = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        PROTO,
    ]
    if protoc.main(args) != 0:
        raise SystemExit(f"protoc failed on {PROTO_ROOT / PROTO}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the files are current")
    check = parser.parse_args().check
    if not check:
        generate(OUT)
        print(f"generated {', '.join(GENERATED)} in {OUT / 'hookmq/v1'}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        stale = [
            name
            for name in GENERATED
            if not (OUT / "hookmq/v1" / name).exists()
            or not filecmp.cmp(Path(tmp) / "hookmq/v1" / name, OUT / "hookmq/v1" / name, shallow=False)
        ]
    if stale:
        print(f"stale generated files: {', '.join(stale)}; run: python scripts/gen_proto.py", file=sys.stderr)
        return 1
    print("generated files are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
