"""Generated protobuf and gRPC modules for hookmq.v1 (from proto/hookmq/v1/hooks.proto).

Regenerate with ``python scripts/gen_proto.py`` in sdk-python; do not edit the ``*_pb2*`` files.
"""
