#!/usr/bin/env bash
# Installs the Debian packages hookmq needs to build, test and benchmark.
# Idempotent and quiet when everything is already present. Called by `make run` / `make test`.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev libssl-dev libyaml-dev libcyaml-dev liburcu-dev libcmocka-dev
  libwslay-dev libhttp-parser-dev
  libgrpc-dev protobuf-compiler protobuf-c-compiler libprotobuf-c-dev protobuf-compiler-grpc
  librdkafka-dev librocksdb-dev
  clang libclang-rt-14-dev clang-format clang-tidy
  mosquitto mosquitto-clients valgrind openssl haproxy
  python3-venv
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's mosquitto package enables a system service; the tests and benchmarks start their own.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
