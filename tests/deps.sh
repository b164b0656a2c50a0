#!/bin/sh
# tests/deps.sh - check that the Debian packages pgrouter needs are installed.
#
#   sh tests/deps.sh build   compiler, libuv, libpq, inih, OpenSSL, libidn, cmocka
#   sh tests/deps.sh test    the above plus PostgreSQL 15, psycopg 3, PgBouncer, PyYAML,
#                            docker-compose (only to validate docker/), prometheus (for
#                            promtool, to check the metrics endpoint), node and npm
#
# node and npm count as present when the commands are (a NodeSource nodejs
# package brings its own npm and conflicts with Debian's); otherwise Debian's
# nodejs and npm are installed.
# Quiet and fast when everything is present (make runs it on every build).
# When something is missing: as root it installs it with apt-get; as any other
# user it prints the exact command to run and exits 1.
set -eu

BUILD_PKGS="build-essential pkg-config libuv1-dev libpq-dev libinih-dev libssl-dev libidn-dev libcmocka-dev"
TEST_PKGS="postgresql-15 postgresql-client-15 python3 python3-psycopg pgbouncer python3-yaml
docker-compose iproute2 prometheus"

usage() {
    echo "usage: sh tests/deps.sh build|test" >&2
    exit 2
}

[ $# -eq 1 ] || usage
case $1 in
build) pkgs=$BUILD_PKGS ;;
test)  pkgs="$BUILD_PKGS $TEST_PKGS" ;;
*)     usage ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: not a Debian system; make sure these (or your distribution's" \
         "equivalents) are installed: $pkgs" >&2
    exit 0
fi

missing=""
for p in $pkgs; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case $status in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done
if [ "$1" = test ]; then
    command -v node >/dev/null 2>&1 || missing="$missing nodejs"
    command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
[ -n "$missing" ] || exit 0
missing=${missing# }

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages: $missing" >&2
    echo "deps.sh: install them with:" >&2
    echo "    sudo apt-get install -y --no-install-recommends $missing" >&2
    exit 1
fi

echo "deps.sh: installing missing packages: $missing" >&2

# Installing postgresql, pgbouncer or prometheus would start their system
# services (a cluster on port 5432, a Prometheus server); a policy-rc.d that answers 101 forbids that.  Only
# add one if the system has none, and remove only the one we added.
policy=/usr/sbin/policy-rc.d
added_policy=0
cleanup() {
    if [ "$added_policy" -eq 1 ]; then
        rm -f "$policy"
    fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# added by pgrouter tests/deps.sh during apt-get install\nexit 101\n' \
        >"$policy"
    chmod 755 "$policy"
    added_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-get update; then
    echo "deps.sh: apt-get update failed (is the network or the mirror reachable?)" >&2
    exit 1
fi
# $missing is a list of words on purpose.
# shellcheck disable=SC2086
if ! apt-get install -y --no-install-recommends $missing; then
    echo "deps.sh: apt-get install failed for: $missing" >&2
    exit 1
fi
echo "deps.sh: installed: $missing" >&2
