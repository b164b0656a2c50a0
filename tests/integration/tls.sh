# tests/integration/tls.sh - TLS toward clients on an instance of its own: tls_cases
# starts it (client_tls_sslmode = require, certificates from tlsca.sh made for this run)
# and runs test_tls.py.  Sourced by run.sh (which provides start_pgrouter, run_py,
# node_deps, ITEST_DIR, HERE, NODE_DIR).
# shellcheck shell=bash

TLS_CA_DIR=""

# tls_ini FILE: TLS toward clients with the run's CA.
tls_ini() {
    sed -i "s|^\[pgrouter\]\$|[pgrouter]\nclient_tls_sslmode = require\nclient_tls_cert_file = $TLS_CA_DIR/server.crt\nclient_tls_key_file = $TLS_CA_DIR/server.key\nclient_tls_ca_file = $TLS_CA_DIR/ca.crt|" "$1"
}

# tls_cases: a fresh CA (and a second one, "other", that signed nothing of pgrouter's),
# the instance, and test_tls.py.
tls_cases() {
    local node_ok=0
    if [ -n "$ITEST_ONLY" ] && ! [[ tls =~ $ITEST_ONLY ]]; then
        return 0
    fi
    TLS_CA_DIR=$ITEST_DIR/tls/ca
    rm -rf "$TLS_CA_DIR"
    if ! bash "$HERE/tlsca.sh" "$TLS_CA_DIR" app >"$LOGDIR/tlsca.log" 2>&1 ||
        ! bash "$HERE/tlsca.sh" "$TLS_CA_DIR/other" app >>"$LOGDIR/tlsca.log" 2>&1; then
        echo "not ok - tls: tlsca.sh failed: $(tail -n 1 "$LOGDIR/tlsca.log")"
        FAILED=$((FAILED + 1))
        return
    fi
    if [ "$ITEST_DIRECT" != 1 ]; then
        start_pgrouter tls scram-sha-256 tls_ini
    fi
    node_deps >/dev/null 2>&1 && node_ok=1
    TLS_PORT=${PORT_tls:-} TLS_PID=${PID_tls:-} TLS_DIR=$ITEST_DIR/tls \
        TLS_CA_DIR=$TLS_CA_DIR PGBIN=$PGBIN PGROUTER_BIN=$PGROUTER_BIN NODE_DIR=$NODE_DIR \
        NODE_OK=$node_ok run_py tls test_tls.py 300
}
