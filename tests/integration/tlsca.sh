#!/usr/bin/env bash
# tests/integration/tlsca.sh DIR [CN ...] - a throw-away certificate authority for the
# TLS tests, made fresh in each test run (never checked in):
#   DIR/ca.crt, DIR/ca.key          the CA (CN "pgrouter test CA")
#   DIR/server.crt, DIR/server.key  CN localhost, SAN DNS:localhost and IP:127.0.0.1,
#                                   for pgrouter and the PostgreSQL servers alike
#   DIR/CN.crt, DIR/CN.key          a client certificate per CN given (HBA "cert")
# Keys are mode 600. Running it again keeps what exists, so tests may share DIR.
set -euo pipefail
dir=${1:?usage: tlsca.sh DIR [CN ...]}
shift
mkdir -p "$dir"
cd "$dir"
umask 077
days=30

if [ ! -s ca.crt ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days "$days" \
        -subj "/CN=pgrouter test CA" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

# sign NAME CN EXT: NAME.key and NAME.crt signed by the CA
sign() {
    local name=$1 cn=$2 ext=$3
    [ -s "$name.crt" ] && return 0
    openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" \
        -subj "/CN=$cn" 2>/dev/null
    printf '%s\n' "$ext" > "$name.ext"
    openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
        -out "$name.crt" -days "$days" -extfile "$name.ext" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}

sign server localhost "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
for cn in "$@"; do
    sign "$cn" "$cn" "extendedKeyUsage=clientAuth"
done
chmod 644 ./*.crt
