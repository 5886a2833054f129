#!/usr/bin/env bash
# A throwaway OpenLDAP slapd on 127.0.0.1 for the tests.
#
#   slapd.sh install                 install slapd and ldap-utils when missing
#   slapd.sh up DIR PORT TLSPORT     build a directory in DIR, start it on
#                                    ldap://127.0.0.1:PORT and
#                                    ldaps://127.0.0.1:TLSPORT; prints its env
#   slapd.sh start DIR               start a stopped server again
#   slapd.sh stop DIR                stop it
#
# The suffix is dc=example,dc=com. Two accounts: the root DN
# cn=admin,dc=example,dc=com (for test setup), and the service account
# cn=provisio,dc=example,dc=com that connectors bind as, with the rights
# docs/connectors/ldap.md asks for and no more: write (not manage) below the
# suffix, userPassword write-only, read elsewhere; it is held to a size
# limit of 500 entries per search unless it pages, like a real service
# account. Overlays: memberOf + refint (groupOfNames
# membership), sssvlv (server-side sort), ppolicy (account locking) and
# accesslog (deletes, for sync) into cn=accesslog. The TLS certificate is
# self-signed for IP 127.0.0.1; DIR/ca.pem verifies it. Writes are not
# synced: the data is thrown away.
set -euo pipefail

SUFFIX="dc=example,dc=com"
MODULES=/usr/lib/ldap
SCHEMAS=/etc/ldap/schema

sudo_if_needed() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install() {
    if [ -x "$(slapd_bin)" ] && command -v ldapadd >/dev/null && command -v openssl >/dev/null; then
        return
    fi
    echo "==> installing slapd, ldap-utils and openssl" >&2
    # No default database: the tests build their own.
    echo "slapd slapd/no_configuration boolean true" | sudo_if_needed debconf-set-selections
    sudo_if_needed apt-get update -qq >&2
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends slapd ldap-utils openssl >&2
}

slapd_bin() {
    command -v slapd 2>/dev/null || echo /usr/sbin/slapd
}

slapadd_bin() {
    command -v slapadd 2>/dev/null || echo /usr/sbin/slapadd
}

up() {
    local dir=$1 port=$2 tlsport=$3
    install
    mkdir -p "$dir/slapd.d" "$dir/data" "$dir/accesslog" "$dir/run"
    dir=$(cd "$dir" && pwd)
    local admin_pw provisio_pw
    admin_pw=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    provisio_pw=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    echo "$port" >"$dir/port"
    echo "$tlsport" >"$dir/tlsport"

    # A throwaway CA, and the server's certificate for IP 127.0.0.1 signed by it.
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Provisio test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$dir/key.pem" -out "$dir/server.csr" >/dev/null 2>&1
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' \
        >"$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/cert.pem" >/dev/null 2>&1

    cat >"$dir/config.ldif" <<LDIF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $dir/run/slapd.pid
olcTLSCertificateFile: $dir/cert.pem
olcTLSCertificateKeyFile: $dir/key.pem

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: $MODULES
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: refint
olcModuleLoad: sssvlv
olcModuleLoad: ppolicy
olcModuleLoad: accesslog

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://$SCHEMAS/core.ldif
include: file://$SCHEMAS/cosine.ldif
include: file://$SCHEMAS/nis.ldif
include: file://$SCHEMAS/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: unlimited

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: cn=accesslog
olcDbDirectory: $dir/accesslog
olcRootDN: cn=admin,$SUFFIX
olcDbNoSync: TRUE
olcDbIndex: default eq
olcDbIndex: objectClass,entryCSN,reqEnd,reqResult,reqStart,reqType
olcAccess: {0}to * by dn.exact="cn=provisio,$SUFFIX" read by * none

dn: olcDatabase={2}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {2}mdb
olcSuffix: $SUFFIX
olcDbDirectory: $dir/data
olcRootDN: cn=admin,$SUFFIX
olcRootPW: $(slappasswd -s "$admin_pw")
olcDbNoSync: TRUE
olcDbMaxSize: 1073741824
olcDbIndex: objectClass eq
olcDbIndex: uid,cn,mail,member,memberOf,entryUUID,entryCSN eq
olcDbIndex: sn,givenName eq,sub
olcLimits: dn.exact="cn=provisio,$SUFFIX" size.soft=500 size.hard=500 size.prtotal=unlimited
olcAccess: {0}to attrs=userPassword by dn.exact="cn=provisio,$SUFFIX" =wx by self =wx by anonymous auth by * none
olcAccess: {1}to dn.exact="cn=provisio,$SUFFIX" by self read by * none
olcAccess: {2}to dn.children="$SUFFIX" by dn.exact="cn=provisio,$SUFFIX" write by self read by users read by * none
olcAccess: {3}to * by dn.exact="cn=provisio,$SUFFIX" read by users read by * none

dn: olcOverlay={0}memberof,olcDatabase={2}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf

dn: olcOverlay={1}refint,olcDatabase={2}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {1}refint
olcRefintAttribute: member

dn: olcOverlay={2}sssvlv,olcDatabase={2}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSssVlvConfig
olcOverlay: {2}sssvlv

dn: olcOverlay={3}ppolicy,olcDatabase={2}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {3}ppolicy
olcPPolicyDefault: cn=default,ou=policies,$SUFFIX
olcPPolicyUseLockout: FALSE
olcPPolicyHashCleartext: TRUE

dn: olcOverlay={4}accesslog,olcDatabase={2}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcAccessLogConfig
olcOverlay: {4}accesslog
olcAccessLogDB: cn=accesslog
olcAccessLogOps: delete
olcAccessLogSuccess: TRUE
olcAccessLogOld: (objectClass=*)
olcAccessLogOldAttr: objectClass
olcAccessLogPurge: 01+00:00 00+01:00
LDIF

    cat >"$dir/base.ldif" <<LDIF
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: cn=provisio,$SUFFIX
objectClass: person
objectClass: simpleSecurityObject
cn: provisio
sn: provisio
userPassword: $(slappasswd -s "$provisio_pw")

dn: ou=policies,$SUFFIX
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,$SUFFIX
objectClass: applicationProcess
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
LDIF

    cat >"$dir/accesslog.ldif" <<LDIF
dn: cn=accesslog
objectClass: auditContainer
cn: accesslog
LDIF

    "$(slapadd_bin)" -n0 -F "$dir/slapd.d" -l "$dir/config.ldif" >"$dir/slapadd.log" 2>&1 ||
        { cat "$dir/slapadd.log" >&2; exit 1; }
    "$(slapadd_bin)" -n1 -F "$dir/slapd.d" -l "$dir/accesslog.ldif" >>"$dir/slapadd.log" 2>&1 ||
        { cat "$dir/slapadd.log" >&2; exit 1; }
    "$(slapadd_bin)" -n2 -F "$dir/slapd.d" -l "$dir/base.ldif" >>"$dir/slapadd.log" 2>&1 ||
        { cat "$dir/slapadd.log" >&2; exit 1; }
    echo "$admin_pw" >"$dir/admin.pw"
    echo "$provisio_pw" >"$dir/provisio.pw"
    start "$dir"
    echo "PROVISIO_TEST_LDAP_URL=ldap://127.0.0.1:$port"
    echo "PROVISIO_TEST_LDAPS_URL=ldaps://127.0.0.1:$tlsport"
    echo "PROVISIO_TEST_LDAP_CA=$dir/ca.pem"
    echo "PROVISIO_TEST_LDAP_BASE=$SUFFIX"
    echo "PROVISIO_TEST_LDAP_ADMIN_DN=cn=admin,$SUFFIX"
    echo "PROVISIO_TEST_LDAP_ADMIN_PASSWORD=$admin_pw"
    echo "PROVISIO_TEST_LDAP_BIND_DN=cn=provisio,$SUFFIX"
    echo "PROVISIO_TEST_LDAP_BIND_PASSWORD=$provisio_pw"
}

start() {
    local dir=$1 port tlsport
    port=$(cat "$dir/port")
    tlsport=$(cat "$dir/tlsport")
    "$(slapd_bin)" -F "$dir/slapd.d" -h "ldap://127.0.0.1:$port/ ldaps://127.0.0.1:$tlsport/" \
        >"$dir/slapd.log" 2>&1 || { cat "$dir/slapd.log" >&2; exit 1; }
    # slapd binds its sockets, daemonises and writes its pid file, and only
    # then calls listen(): a client in between is refused. Wait until both
    # ports accept a connection.
    for _ in $(seq 1 200); do
        if [ -s "$dir/run/slapd.pid" ] && accepts "$port" && accepts "$tlsport"; then
            return
        fi
        sleep 0.05
    done
    echo "slapd did not start listening on $port and $tlsport within 10 s:" >&2
    cat "$dir/slapd.log" >&2
    exit 1
}

# Whether something accepts TCP connections on 127.0.0.1:PORT.
accepts() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

stop() {
    local dir=$1 pid
    [ -s "$dir/run/slapd.pid" ] || return 0
    pid=$(cat "$dir/run/slapd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$dir/run/slapd.pid"; return; }
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/run/slapd.pid"
}

case "${1:-}" in
install) install ;;
up) up "$2" "$3" "$4" ;;
start) start "$2" ;;
stop) stop "$2" ;;
*)
    echo "usage: $0 install | up DIR PORT TLSPORT | start DIR | stop DIR" >&2
    exit 2
    ;;
esac
