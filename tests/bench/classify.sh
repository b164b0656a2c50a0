#!/bin/sh
# tests/bench/classify.sh - build bench_classify with -O2 and print the classifier's
# throughput in statements per second on one core.
#
#   sh tests/bench/classify.sh          # about 2 s
#   BENCH_SECONDS=10 sh tests/bench/classify.sh
#
# Fails only if the benchmark does not build or crashes; never on speed.

cd "$(dirname "$0")/../.." || exit 1

CC=${CC:-cc}
BENCH_SECONDS=${BENCH_SECONDS:-2}
OUT=build/bench
mkdir -p "$OUT" || exit 1

# shellcheck disable=SC2086 # CFLAGS is a list of words
if ! "$CC" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wshadow \
    -Wstrict-prototypes -Wmissing-prototypes -I. ${CFLAGS:-} \
    -o "$OUT/bench_classify" tests/bench/bench_classify.c \
    router/sql/classify.c router/sql/sqllex.c router/sql/funcset.c; then
    echo "bench: bench_classify: build failed" >&2
    exit 1
fi
"$OUT/bench_classify" "$BENCH_SECONDS"
