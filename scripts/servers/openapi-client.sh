#!/usr/bin/env bash
# openapi-python-client (which generates a Python client from the host's
# /v1/openapi.json) in a virtualenv of its own under target/servers,
# created when missing; prints the path of the program. Its own venv: it
# brings pydantic and httpx versions that need not agree with
# scim2-server's.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=target/servers/openapi-client-venv
version=0.29.1
if [ ! -x "$venv/bin/openapi-python-client" ] \
    || ! "$venv/bin/pip" show openapi-python-client 2>/dev/null | grep -qx "Version: $version"; then
    echo "==> installing openapi-python-client $version into $venv" >&2
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
        sudo=""
        [ "$(id -u)" = 0 ] || sudo="sudo"
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3 python3-venv >&2
    fi
    rm -rf "$venv"
    mkdir -p target/servers
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check "openapi-python-client==$version" >&2
fi
echo "$PWD/$venv/bin/openapi-python-client"
