# pgrouter - PostgreSQL routing proxy.  See README.md.
#
#   make            build ./pgrouter (objects in build/)
#   make test       unit tests, then integration tests against real PostgreSQL
#   make unit       cmocka unit tests only
#   make asan       unit + integration tests under ASan/UBSan (objects in build/asan/)
#   make bench      benchmarks, then the soak test for SOAK_SECS (300) s
#   make fuzz       libFuzzer harnesses (clang), FUZZ_SECS (60) each or FUZZ_TOTAL in all;
#                   FUZZ_RUNS, FUZZ_ONLY, FUZZ_JOBS, FUZZ_MAX_LEN: see tests/fuzz/run.sh
#   make demo       local primary + 2 replicas and 2 shard clusters, pgrouter in front
#                   (DEMO_PORT, DEMO_DIR override port and place; make demo-down stops it)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean      removes build/ only

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
BIN     ?= pgrouter
CC      ?= cc
PKGS    := libuv libpq inih openssl libidn
VERSION := 0.1.0

CFLAGS  ?= -g -O2
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
           -Wstrict-prototypes -Wmissing-prototypes -MMD -MP \
           -DPGROUTER_VERSION='"$(VERSION)"' -I.
CFLAGS  += $(SANFLAGS)
LDFLAGS += $(SANFLAGS)

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

LIB_SRC  := $(sort $(wildcard protocol/*.c config/*.c) $(wildcard router/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/router/main.o
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# unit tests that also run against the integration cluster (they read PGROUTER_TEST_PGPORT)
SERVER_UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,\
                   $(shell grep -l PGROUTER_TEST_PGPORT $(UNIT_SRC)))

.PHONY: all deps unit integration test asan asan-unit demo demo-down install clean bench fuzz
all: deps $(BIN)

deps:
	@sh tests/deps.sh build

$(BIN): $(LIB_OBJ) $(MAIN_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB_OBJ) $(LDFLAGS) $(PKG_LIBS) $(CMOCKA_LIBS)

# The session test runs the session files on a struct, without sockets or servers.
$(BUILD)/tests/test_session: LDFLAGS += -Wl,--wrap=dispatch_unit -Wl,--wrap=session_fatal \
    -Wl,--wrap=session_send -Wl,--wrap=authlimit_over -Wl,--wrap=connlog_tried \
    -Wl,--wrap=hbacheck_method

# The pool model test decides when fake server connections finish.
$(BUILD)/tests/test_poolmodel: LDFLAGS += -Wl,--wrap=backend_connect -Wl,--wrap=backend_start \
    -Wl,--wrap=backend_close

# The backend test plays the server over a loopback socket: nothing is dialled.
$(BUILD)/tests/test_backend: LDFLAGS += -Wl,--wrap=server_connect

# The console's commands are tested without a socket: the reply builder records cells.
$(BUILD)/tests/test_adminnode: LDFLAGS += -Wl,--wrap=admin_columns -Wl,--wrap=admin_cell_text \
    -Wl,--wrap=admin_cell_int -Wl,--wrap=admin_cell_fmt -Wl,--wrap=admin_row_end \
    -Wl,--wrap=admin_done -Wl,--wrap=admin_error -Wl,--wrap=admin_notice

unit: deps $(UNIT_BIN)
	@sh tests/unit/run.sh $(UNIT_BIN)

integration: all $(SERVER_UNIT_BIN)
	@sh tests/deps.sh test
	@PGROUTER_BIN=$(abspath $(BIN)) UNIT_TEST_DIR=$(abspath $(BUILD)/tests) \
	    bash tests/integration/run.sh

test: unit integration

asan:
	$(MAKE) BUILD=build/asan BIN=build/asan/pgrouter \
	    SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	    unit integration

asan-unit:
	$(MAKE) BUILD=build/asan BIN=build/asan/pgrouter \
	    SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	    unit

demo: all
	@sh tests/deps.sh test
	@bash tests/demo.sh up

demo-down:
	@bash tests/demo.sh down

# The isolated benchmark's fake server and load generator, optimised like a release.
$(BUILD)/bench/fakepg $(BUILD)/bench/loadgen: $(BUILD)/bench/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	    -Wmissing-prototypes -o $@ $< -lcrypto

bench: all $(BUILD)/bench/fakepg $(BUILD)/bench/loadgen
	@PGROUTER_BIN=$(abspath $(BIN)) BENCH_TOOLS=$(abspath $(BUILD)/bench) bash tests/bench/isolated.sh
	@bash tests/bench/run.sh
	@SOAK_SECS=$${SOAK_SECS:-300} PGROUTER_BIN=$(abspath $(BIN)) bash tests/integration/soak.sh

fuzz:
	@FUZZ_SECS='$(FUZZ_SECS)' FUZZ_TOTAL='$(FUZZ_TOTAL)' FUZZ_RUNS='$(FUZZ_RUNS)' \
	    FUZZ_ONLY='$(FUZZ_ONLY)' FUZZ_JOBS='$(FUZZ_JOBS)' FUZZ_MAX_LEN='$(FUZZ_MAX_LEN)' \
	    sh tests/fuzz/run.sh

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/pgrouter
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/pgrouter
	install -m 644 config/pgrouter.ini config/userlist.txt README.md \
	    $(DESTDIR)$(PREFIX)/share/doc/pgrouter/

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
