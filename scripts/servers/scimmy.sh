#!/usr/bin/env bash
# The second SCIM 2.0 service provider the tests run against: SCIMMY (npm
# `scimmy` + `scimmy-routers` under Express) as tests/scimmy/server.js,
# installed with `npm ci` from tests/scimmy/package-lock.json into
# target/servers/scimmy (re-installed when the lock file or the server
# changes). Prints the path of the installed server.js.
#
# The tests start one server per test on a free loopback port
# (tests/support/scimmy.rs): `node server.js PORT TOKEN`.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "==> installing Node.js and npm" >&2
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >&2
fi

source=tests/scimmy
dir=target/servers/scimmy
# Tests start servers concurrently: one installs, the others wait.
mkdir -p target/servers
exec 9>target/servers/scimmy.lock
flock 9
if [ ! -d "$dir/node_modules" ] \
    || ! cmp -s "$source/package-lock.json" "$dir/package-lock.json"; then
    echo "==> installing SCIMMY into $dir" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$source/package.json" "$source/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >&2)
fi
cmp -s "$source/server.js" "$dir/server.js" || cp "$source/server.js" "$dir/server.js"
echo "$PWD/$dir/server.js"
