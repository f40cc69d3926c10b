# pidcar: a process monitor for one PID namespace, served over HTTP.
# make | make run | make test | make unit | make integration | make install | make clean | make deps
# make test-container (podman + the docker CLI: the image, sidecar, agent, compose, pod, systemd)
# make fuzz (libFuzzer, clang)

VERSION	:= 0.1.0
PREFIX	?= /usr/local
DESTDIR	?=
CC	?= cc
BUILD	?= build

PKGS	:= libevent libmicrohttpd gnutls jansson libbsd libcap zlib libmnl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm

WARN	:= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
ifeq ($(CI),true)
WERROR	?= -Werror
endif
OPT	?= -O2
CFLAGS	?= $(OPT) -g
ALL_CFLAGS := -std=gnu11 $(CFLAGS) $(WARN) $(WERROR) -D_GNU_SOURCE \
	-DPIDCAR_VERSION='"$(VERSION)"' $(PKG_CFLAGS) -Idaemon
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS	+= -fsanitize=$(SANITIZE)
endif

# Every module but main.c goes into a library the unit tests link.
LIB_SRCS := daemon/log.c daemon/xmalloc.c daemon/util.c daemon/config.c \
	daemon/procfs.c daemon/users.c daemon/ptable.c daemon/route.c \
	daemon/api_json.c daemon/text.c daemon/prom.c daemon/poller.c \
	daemon/refresh.c daemon/http.c daemon/cnproc.c daemon/target.c daemon/taskstats.c daemon/docker.c daemon/agent.c daemon/auth.c daemon/tls.c \
	daemon/vet.c daemon/accept.c daemon/groups.c daemon/scrape.c daemon/redact.c \
	daemon/regex_guard.c daemon/events.c daemon/stream.c daemon/privdrop.c daemon/sdnotify.c \
	daemon/perfev.c daemon/fanexec.c
SRCS	:= $(LIB_SRCS) daemon/main.c
LIB_OBJS := $(LIB_SRCS:daemon/%.c=$(BUILD)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/%)

PYTEST	?= /usr/bin/python3 -m pytest

all: $(BUILD)/pidcar

$(BUILD)/obj/%.o: daemon/%.c $(wildcard daemon/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libpidcar.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/pidcar: $(BUILD)/obj/main.o $(BUILD)/libpidcar.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/test_%: tests/unit/test_%.c $(BUILD)/libpidcar.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libpidcar.a $(PKG_LIBS) -lcmocka

deps:
	@tests/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@echo "pidcar: serving this machine's PID namespace; try:"
	@echo "  curl http://127.0.0.1:9723/ps"
	@echo "  curl http://127.0.0.1:9723/tree"
	@echo "  curl 'http://127.0.0.1:9723/api/v1/processes?sort=cpu&limit=5'"
	@echo "  curl http://127.0.0.1:9723/metrics"
	@echo "  (Ctrl-C stops it)"
	exec $(BUILD)/pidcar -f config/pidcar.conf

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; CMOCKA_MESSAGE_OUTPUT=stdout $$t; done

integration: $(BUILD)/pidcar
	PIDCAR_BIN=$(abspath $(BUILD)/pidcar) $(PYTEST) -q tests/integration

# The image and every container deployment, through podman and the docker CLI
# (tests/container): installs what `tests/deps.sh container` lists first.
test-container: $(BUILD)/pidcar
	@tests/deps.sh container
	PIDCAR_BIN=$(abspath $(BUILD)/pidcar) $(PYTEST) -q tests/container

# The whole suite, then again under AddressSanitizer + UBSan: any report stops
# the binary, and the harness fails a test whose pidcar printed one (leaks at
# a clean exit included).
SAN_ENV	:= ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test: deps
	@$(MAKE) --no-print-directory unit integration
	@$(SAN_ENV) $(MAKE) --no-print-directory BUILD=build-asan SANITIZE=address,undefined OPT=-O1 unit integration

# libFuzzer targets (clang): `make fuzz` builds them and runs each for
# FUZZ_SECONDS over its corpus (build-fuzz/corpus/T, seeded from tests/data and
# tests/fuzz/seeds).  A crash is saved in build-fuzz/crashes; its fix comes with
# the input in tests/fuzz/regress/T, which `make unit` replays.
FUZZ_CC		?= clang
FUZZ_BUILD	?= build-fuzz
FUZZ_SECONDS	?= 60
FUZZ_TARGETS	:= procfs users config route redact netlink
FUZZ_SRCS	:= daemon/log.c daemon/xmalloc.c daemon/util.c daemon/config.c \
	daemon/procfs.c daemon/users.c daemon/route.c daemon/redact.c \
	daemon/cnproc.c daemon/taskstats.c daemon/target.c daemon/regex_guard.c \
	daemon/privdrop.c daemon/events.c daemon/ptable.c
FUZZ_OBJS	:= $(FUZZ_SRCS:daemon/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_CFLAGS	:= -std=gnu11 -g -O1 -fno-omit-frame-pointer $(WARN) -D_GNU_SOURCE \
	-DPIDCAR_VERSION='"$(VERSION)"' $(PKG_CFLAGS) -Idaemon \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_SEEDS_procfs := tests/data/proc
FUZZ_SEEDS_users  := tests/data/passwd
FUZZ_SEEDS_config := tests/data/config config
FUZZ_SEEDS_route  := tests/fuzz/seeds/route
FUZZ_SEEDS_redact := tests/fuzz/seeds/redact
FUZZ_SEEDS_netlink := tests/data/netlink
FUZZ_MAXLEN_config := 16384
FUZZ_FLAGS	?= -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

.SECONDARY: $(FUZZ_OBJS)
$(FUZZ_BUILD)/obj/%.o: daemon/%.c $(wildcard daemon/*.h) Makefile
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(PKG_LIBS)

# Absolute paths: fuzz_config works in an empty directory of its own.
define fuzz_run
	@mkdir -p $(FUZZ_BUILD)/corpus/$(1) $(FUZZ_BUILD)/crashes
	@echo "== fuzz_$(1) for $(FUZZ_SECONDS)s"
	$(abspath $(FUZZ_BUILD))/fuzz_$(1) -max_total_time=$(FUZZ_SECONDS) \
		-max_len=$(or $(FUZZ_MAXLEN_$(1)),4096) $(FUZZ_FLAGS) \
		-artifact_prefix=$(abspath $(FUZZ_BUILD))/crashes/$(1)- \
		$(abspath $(FUZZ_BUILD)/corpus/$(1) $(FUZZ_SEEDS_$(1)) \
		$(wildcard tests/fuzz/regress/$(1)))

endef

fuzz-deps:
	@tests/deps.sh fuzz

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t)))

# The binary, the units (ExecStart= pointing at SBINDIR), the man pages and,
# unless one is there, the example config.  A real install (no DESTDIR, as
# root) also creates the pidcar system user that pidcar.service runs as.
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
UNITDIR	?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
install: $(BUILD)/pidcar
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSCONFDIR)/pidcar
	install -m 0755 $(BUILD)/pidcar $(DESTDIR)$(SBINDIR)/pidcar
	for u in pidcar.service pidcar@.service; do \
		sed 's|/usr/local/sbin/pidcar|$(SBINDIR)/pidcar|; s|/etc/pidcar/|$(SYSCONFDIR)/pidcar/|' \
			systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.tmp && \
		mv $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 man/pidcar.8 $(DESTDIR)$(MANDIR)/man8/pidcar.8
	install -m 0644 man/pidcar.conf.5 $(DESTDIR)$(MANDIR)/man5/pidcar.conf.5
	test -e $(DESTDIR)$(SYSCONFDIR)/pidcar/pidcar.conf || \
		install -m 0644 config/pidcar.conf $(DESTDIR)$(SYSCONFDIR)/pidcar/pidcar.conf
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && ! getent passwd pidcar >/dev/null; then \
		echo "useradd --system pidcar"; \
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --comment "pidcar process monitor" pidcar; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/pidcar $(DESTDIR)$(UNITDIR)/pidcar.service \
		$(DESTDIR)$(UNITDIR)/pidcar@.service $(DESTDIR)$(MANDIR)/man8/pidcar.8 \
		$(DESTDIR)$(MANDIR)/man5/pidcar.conf.5
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/pidcar and the pidcar user"

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all deps run unit integration test test-container install uninstall clean fuzz \
	fuzz-deps

# Benchmarks (tests/bench/README.md), as root: pidcar in agent and sidecar mode
# against process-exporter, forkstat, a bare proc-connector listener, the /proc
# floor and ps, in one run.  `make bench` writes tests/bench/results/latest.*;
# `make bench-quick` (100 and 1 000 processes, short windows) writes
# $(BUILD)/bench/results/ for development.
BENCH_SIZES	?= 100 1000 10000
BENCH_IDLE	?= 30
BENCH_ENV	= PIDCAR_BIN=$(abspath $(BUILD)/pidcar) BENCH_BUILD=$(abspath $(BUILD))/bench
bench: $(BUILD)/pidcar
	@tests/bench/deps.sh
	$(BENCH_ENV) BENCH_SIZES="$(BENCH_SIZES)" BENCH_IDLE=$(BENCH_IDLE) tests/bench/bench.sh

bench-quick: $(BUILD)/pidcar
	@tests/bench/deps.sh
	$(BENCH_ENV) BENCH_SIZES="100 1000" BENCH_IDLE=5 BENCH_SCRAPE_S=3 BENCH_STORM_S=2 \
		BENCH_BURNERS=500 BENCH_OUT=$(abspath $(BUILD))/bench/results tests/bench/bench.sh

.PHONY: bench bench-quick
