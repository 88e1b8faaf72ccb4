# rollbackd: build, check, install, demo.
#
#   make            build the programs into build/
#   make check      install missing build dependencies (Debian), build, run
#                   every test, then the unit tests again under ASan+UBSan
#   make demo       the tour (see README.md)
#   make install    PREFIX=/usr/local DESTDIR=
#   make deps       only the dependency step
#
# Everything generated goes to $(BUILD); nothing generated is tracked.

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   ?= $(PREFIX)/bin
SBINDIR  ?= $(PREFIX)/sbin
MANDIR   ?= $(PREFIX)/share/man
DOCDIR   ?= $(PREFIX)/share/doc/rollbackd
SYSCONFDIR ?= /etc
UNITDIR  ?= $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
# sysusers.d: the "rollbackd" group, which owns the control socket.
SYSUSERSDIR ?= $(shell d=$$(pkg-config --variable=sysusersdir systemd 2>/dev/null); echo $${d:-/usr/lib/sysusers.d})

CC       ?= cc
# Libraries found with pkg-config, and the Debian packages that provide them
# (same order). "make deps" installs whatever pkg-config cannot find.
PKGS     := libevent libcurl yaml-0.1 libsystemd jansson sqlite3 check
DEBS     := libevent-dev libcurl4-openssl-dev libyaml-dev libsystemd-dev \
            libjansson-dev libsqlite3-dev check
# Tools the build and the tests run, as command:package pairs: mandoc
# lints the man pages; the integration tests drive the demo with curl,
# read JSON with python3, and judge metrics through a real Prometheus.
TOOLS    := pkg-config:pkg-config mandoc:mandoc curl:curl python3:python3 \
            prometheus:prometheus promtool:prometheus flock:util-linux \
            pgrep:procps dbus-daemon:dbus-daemon \
            clang:clang clang:libclang-rt-14-dev

OPTFLAGS ?= -O2 -g
WARNFLAGS := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
             -Wmissing-prototypes -Wpointer-arith -Wvla -Wundef
# CI sets CI=true: warnings fail the build there.
ifneq ($(filter true 1 yes,$(CI)),)
WARNFLAGS += -Werror
endif
ifeq ($(WERROR),1)
WARNFLAGS += -Werror
endif
SANFLAGS ?=

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPTFLAGS) $(WARNFLAGS) $(SANFLAGS) \
             -Ilib -Idaemon $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

LIB_SRCS   := $(sort $(wildcard lib/*.c))
# daemon/: every file but the programs' main files goes into the shell
# library, so the tests can link the store, the runner and so on.
PROG_SRCS  := $(wildcard daemon/rollbackd.c daemon/rollbackctl.c)
SHELL_SRCS := $(filter-out $(PROG_SRCS),$(sort $(wildcard daemon/*.c)))
TEST_SRCS  := $(sort $(wildcard tests/unit/check_*.c))
TEST_HELPER_SRCS := $(filter-out $(TEST_SRCS),$(wildcard tests/unit/*.c))

LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/%.o)
SHELL_OBJS := $(SHELL_SRCS:%.c=$(BUILD)/%.o)
TEST_HELPER_OBJS := $(TEST_HELPER_SRCS:%.c=$(BUILD)/%.o)
PROGS      := $(PROG_SRCS:daemon/%.c=$(BUILD)/%)
TESTS      := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# The demo service: the tour's and the integration tests' HTTP service.
DEMO_SRCS  := $(wildcard tests/demo/*.c)
DEMO_PROGS := $(DEMO_SRCS:tests/demo/%.c=$(BUILD)/%)

LIBRBD     := $(BUILD)/librbd.a
LIBSHELL   := $(BUILD)/librbdshell.a

.PHONY: all deps check unit unit-san integration lint-man demo install clean
.DEFAULT_GOAL := all

all: deps
	@$(MAKE) --no-print-directory build-all

.PHONY: build-all
build-all: $(LIBRBD) $(LIBSHELL) $(PROGS) $(TESTS) $(DEMO_PROGS)

# Install what pkg-config cannot find. As root this runs apt-get; otherwise
# it prints the exact command and stops. Checked every time: it is cheap.
deps:
	@missing=""; \
	for t in $(TOOLS); do \
		command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t#*:}"; \
	done; \
	if command -v pkg-config >/dev/null 2>&1; then \
		set -- $(DEBS); \
		for p in $(PKGS); do \
			pkg-config --exists $$p || missing="$$missing $$1"; shift; \
		done; \
	else \
		missing="$$missing $(DEBS)"; \
	fi; \
	if [ -n "$$missing" ]; then \
		missing=$$(echo $$missing | tr ' ' '\n' | sort -u | tr '\n' ' '); \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "deps: installing $$missing"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
				|| { echo "deps: apt-get failed; run: apt-get install $$missing" >&2; exit 1; }; \
		else \
			echo "deps: missing build dependencies; as root run:" >&2; \
			echo "  apt-get install $$missing" >&2; \
			exit 1; \
		fi; \
	fi

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBRBD): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(LIBSHELL): $(SHELL_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(PROGS): $(BUILD)/%: $(BUILD)/daemon/%.o $(LIBSHELL) $(LIBRBD)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBSHELL) $(LIBRBD) $(PKG_LIBS)

$(DEMO_PROGS): $(BUILD)/%: $(BUILD)/tests/demo/%.o
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(PKG_LIBS)

# Tests find their fixtures through RBD_SRCDIR.
$(BUILD)/tests/unit/%.o: ALL_CFLAGS += -DRBD_SRCDIR='"$(CURDIR)"' -Itests/unit
$(BUILD)/tests/check_%: $(BUILD)/tests/unit/check_%.o $(TEST_HELPER_OBJS) $(LIBSHELL) $(LIBRBD)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_HELPER_OBJS) $(LIBSHELL) $(LIBRBD) $(PKG_LIBS)

# Run every unit test binary; any failure fails the target, after all ran.
unit: build-all
	@fail=0; for t in $(TESTS); do \
		echo "== $$t"; $$t || fail=1; \
	done; exit $$fail

# The unit tests again, built with AddressSanitizer and UBSan in their own
# tree. Any finding aborts the test process and so fails the run.
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
unit-san:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/san OPTFLAGS="-O1 -g" SANFLAGS="$(SAN)" \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 unit

# Integration tests: the real daemon, client and demo service on private
# sockets and temporary directories. The crash-point tests run the test
# build below.
integration: build-all crash-build
	@sh tests/integration/run.sh $(BUILD)

# A test build of the daemon, client and demo service with crash points
# (daemon/crashpoint.h) into $(BUILD)/crash: RBD_CRASHPOINT=PATTERN makes it
# SIGKILL itself at a matching point. Never installed; the production
# build does not contain them.
.PHONY: crash-build
crash-build:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/crash \
		CFLAGS="$(CFLAGS) -DRBD_CRASHPOINTS" \
		$(BUILD)/crash/rollbackd $(BUILD)/crash/rollbackctl $(BUILD)/crash/demo-service

# The system tests: rollbackd installed into a Debian 12 container booted
# with systemd-nspawn (root only; the first run builds and caches the tree
# under ~/.cache/rollbackd). Part of "check".
.PHONY: check-system
check-system: all
	@sh tests/system/run.sh $(BUILD)

lint-man:
	mandoc -Tlint -Wwarning man/*.[0-9]

check: deps
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory unit-san
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory lint-man
	@$(MAKE) --no-print-directory demo-check
	@if [ -f tests/integration/run.sh ]; then $(MAKE) --no-print-directory integration; fi
	@$(MAKE) --no-print-directory check-system
	@$(MAKE) --no-print-directory bench-smoke

# The config test on the shipped examples must pass.
.PHONY: demo-check
demo-check: build-all
	$(BUILD)/rollbackd -t -c conf/rollbackd.yaml

demo: deps
	@$(MAKE) --no-print-directory build-all
	@sh tests/demo.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR)/examples/policies.d
	install -m 0755 $(BUILD)/rollbackd $(DESTDIR)$(SBINDIR)/rollbackd
	$(if $(wildcard daemon/rollbackctl.c),install -d $(DESTDIR)$(BINDIR) && install -m 0755 $(BUILD)/rollbackctl $(DESTDIR)$(BINDIR)/rollbackctl)
	$(if $(wildcard man/*.1),install -d $(DESTDIR)$(MANDIR)/man1 && install -m 0644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1/)
	install -m 0644 $(wildcard man/*.5) $(DESTDIR)$(MANDIR)/man5/
	$(if $(wildcard man/*.8),install -m 0644 $(wildcard man/*.8) $(DESTDIR)$(MANDIR)/man8/)
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
		-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		systemd/rollbackd.service.in > $(DESTDIR)$(UNITDIR)/rollbackd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/rollbackd.service
	install -m 0644 systemd/rollbackd.socket $(DESTDIR)$(UNITDIR)/rollbackd.socket
	install -d $(DESTDIR)$(SYSUSERSDIR)
	install -m 0644 systemd/rollbackd.sysusers $(DESTDIR)$(SYSUSERSDIR)/rollbackd.conf
# Installed on this system: create the group now, as a package's postinst
# does; rollbackd.socket cannot start without it. (With DESTDIR, that is
# the package's job.)
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null 2>&1; then \
		echo "systemd-sysusers $(SYSUSERSDIR)/rollbackd.conf"; \
		systemd-sysusers $(SYSUSERSDIR)/rollbackd.conf; \
	fi
	install -m 0644 conf/rollbackd.yaml $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 conf/policies.d/*.yaml $(DESTDIR)$(DOCDIR)/examples/policies.d/

# The benchmarks, outside CI: bench/*.c built and linked like the tests,
# then bench/run.sh runs them and writes bench/RESULTS.md.
BENCH_SRCS  := $(sort $(wildcard bench/*.c))
BENCH_PROGS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

.PHONY: bench
bench: deps
	@$(MAKE) --no-print-directory build-all $(BENCH_PROGS)
	@sh bench/run.sh $(BUILD)

# A short run of every benchmark section but the peers, so it never rots.
.PHONY: bench-smoke
bench-smoke: build-all $(BENCH_PROGS)
	@BENCH_SMOKE=1 sh bench/run.sh $(BUILD)

# The soak run of issue 9, by hand, not in "check" (tests/soak/run.sh):
# SOAK_CHECKS checks and a deploy every few seconds under ASan + UBSan for
# SOAK_MINUTES (default 30), then the plain build under valgrind (default
# 200 checks, 5 min). Fails on a leak, an invalid access, or growth in
# memory or descriptors after warm-up.
.PHONY: soak
soak: deps
	@command -v valgrind >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq valgrind >/dev/null; } \
		|| { echo "soak: needs valgrind: apt-get install valgrind" >&2; exit 1; }
	@$(MAKE) --no-print-directory build-all $(BENCH_PROGS)
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/soak-asan OPTFLAGS="-O1 -g" SANFLAGS="$(SAN)" build-all
	@TARGET_BUILD=$(BUILD) SOAK_CHECKS=$(SOAK_CHECKS) SOAK_MINUTES=$(SOAK_MINUTES) \
		sh tests/soak/run.sh asan $(BUILD)/soak-asan
	@TARGET_BUILD=$(BUILD) SOAK_CHECKS=$(SOAK_VG_CHECKS) SOAK_MINUTES=$(SOAK_VG_MINUTES) \
		sh tests/soak/run.sh valgrind $(BUILD)
SOAK_CHECKS     ?= 2000
SOAK_MINUTES    ?= 30
SOAK_VG_CHECKS  ?= 200
SOAK_VG_MINUTES ?= 5

$(BENCH_PROGS): $(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBSHELL) $(LIBRBD)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBSHELL) $(LIBRBD) $(PKG_LIBS)

# The fuzz harnesses (tests/fuzz/, see its README): libFuzzer with ASan
# and UBSan, built with clang in $(BUILD)/fuzz. "fuzz" runs each for
# FUZZ_SECONDS and prints its executions per second and coverage;
# "fuzz-smoke" runs each for FUZZ_SMOKE_SECONDS and also replays the seed
# corpora through the same harnesses built with $(CC) and a plain main()
# (tests/fuzz/driver.c), the way a crash is replayed without libFuzzer.
# Either fails on any crash, leak or timeout. FUZZ_JOBS harnesses at once.
FUZZ_SECONDS       ?= 180
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_JOBS          ?= 1
FUZZ_CC            ?= clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
# Warnings, but never fatal here: the $(CC) build is the one that gates them.
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -g -O1 $(filter-out -Werror,$(WARNFLAGS)) \
                $(FUZZ_SAN) -Ilib \
                $(shell pkg-config --cflags yaml-0.1 jansson libcurl 2>/dev/null)
FUZZ_LIBS     = $(shell pkg-config --libs yaml-0.1 jansson libcurl 2>/dev/null) -lm
FUZZ_SRCS    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_PROGS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_REPLAYS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/replay/%)
FUZZ_LIB     := $(BUILD)/fuzz/librbd.a
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/fuzz/%.o)

.PHONY: fuzz fuzz-smoke fuzz-build
fuzz: fuzz-build
	@FUZZ_JOBS=$(FUZZ_JOBS) sh tests/fuzz/run.sh $(BUILD) $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build $(FUZZ_REPLAYS)
	@for p in $(FUZZ_REPLAYS); do \
		$$p tests/fuzz/corpus/$${p##*/fuzz_} || exit 1; \
	done
	@FUZZ_JOBS=$(FUZZ_JOBS) sh tests/fuzz/run.sh $(BUILD) $(FUZZ_SMOKE_SECONDS)

# libclang-rt-14-dev is only a recommendation of clang: say so, not a link error.
fuzz-build: deps
	@rt=$$($(FUZZ_CC) -print-resource-dir 2>/dev/null)/lib/linux; \
	ls $$rt/libclang_rt.fuzzer-*.a >/dev/null 2>&1 || { \
		echo "fuzz: libFuzzer is missing ($$rt); as root run:" >&2; \
		echo "  apt-get install libclang-rt-14-dev" >&2; exit 1; }
	@$(MAKE) --no-print-directory $(FUZZ_PROGS)

$(BUILD)/fuzz/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(FUZZ_LIBS)

.SECONDARY: $(FUZZ_SRCS:%.c=$(BUILD)/fuzz/%.o) $(FUZZ_SRCS:%.c=$(BUILD)/%.o) \
            $(BUILD)/tests/fuzz/driver.o
$(BUILD)/fuzz/replay/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/driver.o $(LIBRBD)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(FUZZ_LIBS)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
