#!/usr/bin/env bash
# The SCIM 2.0 service provider the tests run against: PyPI's scim2-server
# in a virtualenv under target/servers (created when missing).
#
#   scim.sh install    create the venv and install scim2-server; prints the
#                      path of the scim2-server program
#   scim.sh openapi-validator
#                      the same venv, with openapi-spec-validator (which
#                      checks the host's /v1/openapi.json); prints its path
#
# The tests start one server per test on a free loopback port
# (tests/support/scim.rs) and stop it with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=target/servers/scim-venv
# The cursor extra (RFC 9865 cursor pagination) brings `cryptography`.
if [ -x "$venv/bin/scim2-server" ] && ! "$venv/bin/python" -c 'import cryptography' 2>/dev/null; then
    echo "==> adding the cursor extra to $venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check 'scim2-server[cursor]==0.8.3' >&2
fi
if [ ! -x "$venv/bin/scim2-server" ]; then
    echo "==> installing scim2-server into $venv" >&2
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
        sudo=""
        [ "$(id -u)" = 0 ] || sudo="sudo"
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3 python3-venv >&2
    fi
    rm -rf "$venv"
    mkdir -p target/servers
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check 'scim2-server[cursor]==0.8.3' >&2
fi
if [ "${1:-}" = openapi-validator ]; then
    if [ ! -x "$venv/bin/openapi-spec-validator" ]; then
        echo "==> installing openapi-spec-validator into $venv" >&2
        "$venv/bin/pip" install -q --disable-pip-version-check 'openapi-spec-validator==0.7.2' >&2
    fi
    echo "$PWD/$venv/bin/openapi-spec-validator"
    exit 0
fi
echo "$PWD/$venv/bin/scim2-server"
