#!/usr/bin/env bash
# Runs every Provisio test on a fresh machine: installs what is missing
# (the pinned toolchain's wasm32-wasip2 target, rustfmt, clippy, and the
# servers the tests run against: PostgreSQL, OpenLDAP slapd, a Samba AD
# domain controller, scim2-server in a virtualenv, SCIMMY from npm, and
# openapi-python-client in another virtualenv), checks formatting and
# lints, then runs the tests of the whole workspace. The
# connectors and test fixtures are built for wasm32-wasip2 by build scripts
# during `cargo test`, once per change.
set -euo pipefail
cd "$(dirname "$0")/.."
# A from-scratch run gains nothing from incremental caches, and they took
# 1.9 GB of a clean build's 5.7 GB.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup toolchain list | grep -q "^$toolchain"; then
    echo "==> installing Rust $toolchain"
    rustup toolchain install "$toolchain" --profile minimal
fi
if ! rustup target list --installed --toolchain "$toolchain" | grep -qx wasm32-wasip2; then
    echo "==> installing the wasm32-wasip2 target"
    rustup target add wasm32-wasip2 --toolchain "$toolchain"
fi
for component in rustfmt clippy; do
    if ! rustup component list --installed --toolchain "$toolchain" | grep -q "^$component"; then
        echo "==> installing $component"
        rustup component add "$component" --toolchain "$toolchain"
    fi
done

# Test servers: each test starts its own throwaway instance on loopback
# (scripts/servers/*.sh); here they are only installed when missing.
echo "==> test servers"
bash scripts/servers/postgres.sh install
bash scripts/servers/slapd.sh install
bash scripts/servers/samba.sh install
bash scripts/servers/scim.sh >/dev/null
bash scripts/servers/scimmy.sh >/dev/null
bash scripts/servers/scim.sh openapi-validator >/dev/null
bash scripts/servers/openapi-client.sh >/dev/null

echo "==> module cycles (host, SDK, connectors)"
for src in host/src sdk/src plugins/*/src; do
    python3 scripts/module-cycles.py "$src"
done

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked
# What connector authors depend on packages and builds on its own, as it
# would from a registry (the WIT inside it, no path-only dependency).
echo "==> cargo package (provisio-filter, provisio-sdk)"
cargo package -p provisio-filter -p provisio-sdk --locked --allow-dirty --quiet
