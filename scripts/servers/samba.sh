#!/usr/bin/env bash
# A throwaway Samba Active Directory domain controller on 127.0.0.1 for
# the tests, on the standard LDAP ports (389, 636): needs root.
#
#   samba.sh install          install Samba's AD DC packages when missing
#   samba.sh up DIR           provision a domain in DIR (offline, without any
#                             network: unshare -n) and start it; prints its env
#   samba.sh stop DIR         stop it
#
# Realm EXAMPLE.TEST, base DC=example,DC=test, Administrator's password in
# DIR/admin.pw. Simple binds are allowed on 389 (for the tests' own checks;
# the AD connector refuses to send passwords there). The LDAPS certificate is
# signed by a throwaway CA for IP 127.0.0.1; DIR/ca.pem verifies it.
set -euo pipefail

REALM=EXAMPLE.TEST
DOMAIN=EXAMPLE
BASE="DC=example,DC=test"
ADMIN_PASSWORD='Passw0rd!'

sudo_if_needed() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install() {
    if command -v samba-tool >/dev/null && [ -x /usr/sbin/samba ] && command -v ldapadd >/dev/null; then
        return
    fi
    echo "==> installing Samba (AD DC)" >&2
    sudo_if_needed apt-get update -qq >&2
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends samba samba-ad-dc samba-ad-provision samba-dsdb-modules \
        winbind ldap-utils openssl >&2
}

up() {
    local dir=$1
    install
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    mkdir -p "$dir/private/tls" "$dir/run" "$dir/log" "$dir/state" "$dir/cache" "$dir/lock"

    unshare -n samba-tool domain provision --targetdir="$dir" --realm=$REALM --domain=$DOMAIN \
        --server-role=dc --dns-backend=NONE --use-rfc2307 --adminpass="$ADMIN_PASSWORD" \
        --host-name=dc1 --host-ip=127.0.0.1 --option="ldb:nosync = true" \
        --option="interfaces = lo" --option="bind interfaces only = yes" \
        --option="disable netbios = yes" \
        --option="server services = ldap, cldap, kdc, rpc, drepl, kcc, ntp_signd" \
        --option="pid directory = $dir/run" --option="ncalrpc dir = $dir/run/ncalrpc" \
        --option="ntp signd socket directory = $dir/run/ntp_signd" \
        --option="log file = $dir/log/samba.log" \
        >"$dir/provision.log" 2>&1 || { tail -40 "$dir/provision.log" >&2; exit 1; }

    # Provision drops this option when given on the command line.
    sed -i 's/^\[global\]$/[global]\n\tldap server require strong auth = no/' "$dir/etc/smb.conf"

    # A throwaway CA, and the DC's certificate for IP 127.0.0.1 signed by it.
    local tls="$dir/private/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Provisio test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
        -keyout "$dir/ca.key" -out "$tls/ca.pem" >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$tls/key.pem" -out "$dir/server.csr" >/dev/null 2>&1
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' \
        >"$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$tls/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$tls/cert.pem" >/dev/null 2>&1
    chmod 600 "$tls/key.pem"
    cp "$tls/ca.pem" "$dir/ca.pem"
    echo "$ADMIN_PASSWORD" >"$dir/admin.pw"

    start "$dir"
    echo "PROVISIO_TEST_AD_URL=ldap://127.0.0.1:389"
    echo "PROVISIO_TEST_AD_LDAPS_URL=ldaps://127.0.0.1:636"
    echo "PROVISIO_TEST_AD_CA=$dir/ca.pem"
    echo "PROVISIO_TEST_AD_BASE=$BASE"
    echo "PROVISIO_TEST_AD_BIND_DN=CN=Administrator,CN=Users,$BASE"
    echo "PROVISIO_TEST_AD_BIND_PASSWORD=$ADMIN_PASSWORD"
}

start() {
    local dir=$1
    samba -s "$dir/etc/smb.conf" -F --no-process-group -M single --maximum-runtime=5400 \
        >"$dir/samba.out" 2>&1 &
    echo $! >"$dir/samba.pid"
    # LDAP answers about a second after start.
    for _ in $(seq 1 150); do
        if ldapsearch -x -H ldap://127.0.0.1:389 -b "" -s base -LLL dn >/dev/null 2>&1; then
            return
        fi
        if ! kill -0 "$(cat "$dir/samba.pid")" 2>/dev/null; then
            tail -40 "$dir/samba.out" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "samba did not answer on 389; see $dir/samba.out" >&2
    exit 1
}

stop() {
    local dir=$1 pid
    [ -s "$dir/samba.pid" ] || return 0
    pid=$(cat "$dir/samba.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$dir/samba.pid"; return; }
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/samba.pid"
}

case "${1:-}" in
install) install ;;
up) up "$2" ;;
start) start "$2" ;;
stop) stop "$2" ;;
*)
    echo "usage: $0 install | up DIR | start DIR | stop DIR" >&2
    exit 2
    ;;
esac
