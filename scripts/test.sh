#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine with a Rust toolchain:
# installs what is missing (system packages, nats-server, the tansu
# Kafka-protocol broker, cargo-nextest when possible), then runs rustfmt,
# clippy and every test. Tests start their own brokers on free loopback
# ports and stop them; nothing already running is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

export PATH="$HOME/.cargo/bin:$PATH:/usr/sbin:/sbin"
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo -n"; fi

apt_install() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

step "system packages"
# librdkafka is built from source by rdkafka-sys (2.12, bundled): it needs a
# C toolchain, make, pkg-config, OpenSSL and zlib headers; no cmake.
apt_install build-essential pkg-config libssl-dev zlib1g-dev python3 nats-server

step "Rust components"
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "Kafka-protocol broker (tansu)"
if ! command -v tansu >/dev/null; then
    echo "tansu missing: cargo install tansu --locked --features dynostore,libsql (12-20 min on 2 cores, once)"
    cargo install tansu --locked --features dynostore,libsql
fi
tansu --version || true

EVENTRELAY_TEST_NATS_SERVER="$(command -v nats-server)"
EVENTRELAY_TEST_TANSU="$(command -v tansu)"
export EVENTRELAY_TEST_NATS_SERVER EVENTRELAY_TEST_TANSU
# With both brokers present, a test that cannot find one is a failure.
export EVENTRELAY_TEST_REQUIRE_BROKERS=1
echo "nats-server: $EVENTRELAY_TEST_NATS_SERVER"
echo "tansu:       $EVENTRELAY_TEST_TANSU"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked --no-fail-fast
    cargo test --locked --doc
else
    cargo test --locked --no-fail-fast
fi

step "done"
