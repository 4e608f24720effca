# wsgate — plain Makefile. See README.md.
#   make                 build ./wsgate (release, -O2)
#   make test            unit tests (ASan+UBSan), the bench table's own check, integration tests
#   make run             run on ./gateway.conf with the demo backend
#   make SANITIZER=address,undefined   sanitized build in build/san-*/
#   make WERROR=1        warnings are errors (CI)
#   make install PREFIX=/usr/local DESTDIR=
#   make fuzz            build libFuzzer drivers (clang) and run each briefly

VERSION    := 0.1.0
CC         ?= cc
PKG_CONFIG ?= pkg-config
PYTHON     ?= /usr/bin/python3
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
LIBDIR     ?= $(PREFIX)/lib
DATADIR    ?= $(PREFIX)/share
DOCDIR     ?= $(PREFIX)/share/doc/wsgate
# websockify's command line for migrating users, out of the way of
# Debian's own /usr/bin/websockify: put this directory first on PATH.
COMPATDIR  ?= $(LIBDIR)/wsgate/compat
SYSCONFDIR ?= /etc
DESTDIR    ?=

PKGS       := libevent libevent_openssl libevent_pthreads openssl inih zlib \
	      libsystemd hiredis jansson
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wformat=2 -Wcast-qual -Wwrite-strings -Wundef \
	-Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif

OPT      ?= -O2 -g
CFLAGS   ?=
CPPFLAGS += -Iinclude -D_GNU_SOURCE -DWSGATE_VERSION='"$(VERSION)"' \
	    -DWSGATE_LIBDIR='"$(LIBDIR)"'
ALL_CFLAGS = -std=c11 $(OPT) $(WARN) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP

comma := ,
ifneq ($(SANITIZER),)
BUILD    := build/san-$(subst $(comma),-,$(SANITIZER))
OPT      := -O1 -g
ALL_CFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZER)
else
BUILD    := build/release
endif
ifeq ($(V),1)
Q :=
else
Q := @
endif

PURE_MODS := addr loadfile pct config route upgrade ws_frame ws_utf8 proxy_proto auth token_file \
	     iplimit target pmd zstream framing exec_env cli_websockify \
	     record_fmt
DAEMON_MODS := main worker log listener session session_leg leg_read bev_pool handshake ws_conn upstream \
	       heartbeat metrics tls tls_sock admin confgen static registry admin_sessions cli_front \
	       lifecycle post lookup redis token_source token_api pwcheck basic_auth \
	       wrap record fleet fleet_order exec xform
# The config loader's other files: pure, tested through test_config.
CONFIG_PARTS := config_keys config_value config_addr
# auth's JSON reader: pure, tested through test_auth.
AUTH_PARTS := auth_json
SRCS := $(addprefix src/,$(addsuffix .c,$(PURE_MODS) $(CONFIG_PARTS) \
	$(AUTH_PARTS) $(DAEMON_MODS)))
OBJS := $(patsubst src/%.c,$(BUILD)/%.o,$(SRCS))

UNIT_TESTS := $(addprefix $(BUILD)/test_,$(PURE_MODS))
# Event-driven modules tested on a real event_base (libevent's regress
# style): they link libevent, and stub the rest of the daemon.
EVENT_UNIT_TESTS := $(BUILD)/test_lookup $(BUILD)/test_redis \
		    $(BUILD)/test_ws_conn $(BUILD)/test_leg_read \
		    $(BUILD)/test_bev_pool $(BUILD)/test_tls_bev

# Which pure objects each unit test links (never libevent).
UNIT_DEPS_addr     := addr
UNIT_DEPS_loadfile := loadfile
UNIT_DEPS_pct      := pct
UNIT_DEPS_ws_utf8  := ws_utf8
UNIT_DEPS_ws_frame := ws_frame ws_utf8
UNIT_DEPS_upgrade  := upgrade
UNIT_DEPS_config   := config $(CONFIG_PARTS) target token_file exec_env addr loadfile pct
UNIT_DEPS_route    := route config $(CONFIG_PARTS) target token_file exec_env addr loadfile pct
UNIT_DEPS_proxy_proto := proxy_proto addr
UNIT_DEPS_auth     := auth $(AUTH_PARTS) ws_utf8 loadfile pct
UNIT_DEPS_token_file := token_file addr loadfile
UNIT_DEPS_iplimit  := iplimit addr
UNIT_DEPS_target   := target token_file addr loadfile
UNIT_DEPS_pmd      := pmd
UNIT_DEPS_zstream  := zstream
UNIT_DEPS_framing  := framing ws_utf8
UNIT_DEPS_exec_env := exec_env pct addr
UNIT_DEPS_cli_websockify := cli_websockify config $(CONFIG_PARTS) target token_file exec_env addr loadfile pct
UNIT_DEPS_record_fmt := record_fmt

.PHONY: all test unit-test integration-test run clean install fuzz bench \
	bench-instr bench-instr-check bench-instr-record deps test-deps run-deps deb e2e test-valgrind test-tsan soak bench-fleet
all: wsgate

wsgate: $(BUILD)/wsgate
ifeq ($(SANITIZER),)
	$(Q)cp $< $@.tmp && mv -f $@.tmp $@
else
	@true
endif

# rebind.so goes into the programs wsgate wraps (wrap_command): plain
# -O2, never a sanitizer, since it runs inside someone else's process.
$(BUILD)/rebind.so: src/shim/rebind.c | $(BUILD)
	@echo "  CC      $@"
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -fPIC -shared $(CFLAGS) \
	  $(filter-out -fsanitize=%,$(LDFLAGS)) -o $@ $< -ldl

$(BUILD)/wsgate: $(OBJS) | $(BUILD)/rebind.so
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(OBJS) $(PKG_LIBS) -lcrypt -lm

$(BUILD)/%.o: src/%.c | $(BUILD)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/unit/%.c | $(BUILD)/tests
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD) $(BUILD)/tests:
	$(Q)mkdir -p $@

.SECONDARY:
.SECONDEXPANSION:
$(BUILD)/test_%: $(BUILD)/tests/test_%.o $$(addprefix $(BUILD)/,$$(addsuffix .o,$$(UNIT_DEPS_$$*)))
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -linih -lcrypto -lcrypt -ljansson -lz

# Unit tests always run under ASan + UBSan.
unit-test:
	$(Q)$(MAKE) --no-print-directory SANITIZER=address,undefined unit-test-run

unit-test-run: $(UNIT_TESTS) $(EVENT_UNIT_TESTS)
	$(Q)for t in $(UNIT_TESTS) $(EVENT_UNIT_TESTS); do echo "== $$t"; \
	  $$t || exit 1; done

$(BUILD)/test_lookup: $(BUILD)/tests/test_lookup.o $(BUILD)/lookup.o \
	    $(BUILD)/post.o
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(PKG_LIBS)

# The message layer on bufferevent_pair_new() legs; the session lifecycle
# it calls (session_close, the heartbeat's notes) is the test's own.
$(BUILD)/test_ws_conn: $(BUILD)/tests/test_ws_conn.o $(BUILD)/ws_conn.o \
	    $(BUILD)/ws_frame.o $(BUILD)/ws_utf8.o $(BUILD)/session_leg.o \
	    $(BUILD)/bev_pool.o
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(PKG_LIBS)

# leg_read against libevent's own read path, on real descriptors.
$(BUILD)/test_leg_read: $(BUILD)/tests/test_leg_read.o $(BUILD)/leg_read.o
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(PKG_LIBS)

# A reused pooled bufferevent against a new one, on real descriptors.
$(BUILD)/test_bev_pool: $(BUILD)/tests/test_bev_pool.o $(BUILD)/bev_pool.o \
	    $(BUILD)/leg_read.o
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(PKG_LIBS)

# tls.c's bufferevent constructors when libevent runs out of memory.
$(BUILD)/test_tls_bev: $(BUILD)/tests/test_tls_bev.o $(BUILD)/tls.o \
	    $(BUILD)/tls_sock.o $(BUILD)/addr.o $(BUILD)/loadfile.o
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(PKG_LIBS)

# Needs redis-server (a test dependency) to run; skips without it.
$(BUILD)/test_redis: $(BUILD)/tests/test_redis.o $(BUILD)/redis.o \
    $(BUILD)/loadfile.o
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(PKG_LIBS)

# Integration tests: the sanitized daemon for behaviour, the release build
# for memory figures (ASan's shadow and quarantine would swamp them).
integration-test:
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory SANITIZER=address,undefined $$(echo build/san-address-undefined/wsgate)
	$(Q)WSGATE_BIN=$(CURDIR)/build/san-address-undefined/wsgate \
	  WSGATE_RELEASE_BIN=$(CURDIR)/wsgate WSGATE_DEB_TEST=1 \
	  $(PYTHON) -m pytest -q tests/integration $(PYTEST_ARGS)

# The integration tests that cross threads (reload, signals, drain, several
# workers, the admin endpoint, exec:, lookups, the fleet) on a
# ThreadSanitizer build: a race report fails the test that ran it
# (tests/tsan.supp lists the known non-races). Not part of `make test`.
TSAN_TESTS := reload service cli close_first admin admin_limits exec \
	basic_auth sessions startup_signals rolling fleet token_sources tls
test-tsan: test-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory SANITIZER=thread $$(echo build/san-thread/wsgate)
	$(Q)WSGATE_BIN=$(CURDIR)/build/san-thread/wsgate \
	  WSGATE_RELEASE_BIN=$(CURDIR)/wsgate \
	  $(PYTHON) -m pytest -q $(patsubst %,tests/integration/test_%.py,$(TSAN_TESTS)) $(PYTEST_ARGS)

test: test-deps
	$(Q)$(MAKE) --no-print-directory WERROR=1 unit-test
	$(Q)$(MAKE) --no-print-directory -C bench check
	$(Q)$(MAKE) --no-print-directory WERROR=1 integration-test

# Install build and run dependencies (Debian 12, as root); a no-op when
# they are present.
deps:
	$(Q)sh packaging/install-deps.sh build
test-deps:
	$(Q)sh packaging/install-deps.sh test
run-deps:
	$(Q)sh packaging/install-deps.sh build

run: run-deps
	$(Q)$(MAKE) --no-print-directory wsgate
	$(Q)sh packaging/demo-run.sh ./wsgate gateway.conf

FUZZ_SECONDS ?= 60
fuzz:
	$(Q)$(MAKE) -C tests/fuzz run FUZZ_SECONDS=$(FUZZ_SECONDS)

# The daemon under valgrind (leaks, fds, errors) in a few scenarios.
test-valgrind: test-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)WSGATE_RELEASE_BIN=$(CURDIR)/wsgate sh tests/valgrind/run.sh

# Thousands of mixed sessions for SOAK_SECONDS (default 600), then fds and
# RSS back at their baseline and every byte accounted for.
soak: test-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)WSGATE_RELEASE_BIN=$(CURDIR)/wsgate sh tests/soak/run.sh

# Browser tests: Debian's headless Chromium via playwright-core, noVNC to
# x11vnc on Xvfb; installs what it needs (as root).
e2e: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)sh tests/e2e/run.sh

# A Debian package in build/deb/ (installs its build tools as root).
deb:
	$(Q)sh packaging/build-deb.sh

bench: deps
	$(Q)$(MAKE) -C bench run

# Instructions per echoed message and per connect cycle under callgrind
# (bench/instr.sh): -check fails past 5 % over bench/instr-baseline.txt,
# -record rewrites that file (say why in the commit).
bench-instr: test-deps
	$(Q)bash bench/instr.sh show
# What the fleet's Redis costs a handshake and a session (bench/fleet.sh).
bench-fleet: test-deps
	$(Q)$(MAKE) --no-print-directory wsgate
	$(Q)bash bench/fleet.sh
bench-instr-check: test-deps
	$(Q)bash bench/instr.sh check
bench-instr-record: test-deps
	$(Q)bash bench/instr.sh record

install: wsgate
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 755 wsgate $(DESTDIR)$(BINDIR)/wsgate
	install -m 644 docs/wsgate.8 $(DESTDIR)$(MANDIR)/man8/wsgate.8
	install -m 644 docs/gateway.conf.5 $(DESTDIR)$(MANDIR)/man5/gateway.conf.5
	install -d $(DESTDIR)$(COMPATDIR) $(DESTDIR)$(DOCDIR)
	ln -sf $(BINDIR)/wsgate $(DESTDIR)$(COMPATDIR)/websockify
	install -m 644 $(BUILD)/rebind.so $(DESTDIR)$(LIBDIR)/wsgate/rebind.so
	install -m 644 docs/MIGRATING.md $(DESTDIR)$(DOCDIR)/MIGRATING.md
	install -d $(DESTDIR)$(SYSCONFDIR)/wsgate $(DESTDIR)$(DATADIR)/wsgate/www
	install -m 644 demo/www/index.html demo/www/demo.js demo/www/demo.css \
	  $(DESTDIR)$(DATADIR)/wsgate/www/
	# The demo page's root is relative to the tree's gateway.conf; the
	# installed one names where the page went.
	test -e $(DESTDIR)$(SYSCONFDIR)/wsgate/gateway.conf || \
	  sed 's|^root\( *\)= demo/www$$|root\1= $(DATADIR)/wsgate/www|' \
	  gateway.conf > $(DESTDIR)$(SYSCONFDIR)/wsgate/gateway.conf

clean:
	rm -rf build wsgate tests/fuzz/build

-include $(wildcard $(BUILD)/*.d $(BUILD)/tests/*.d)
