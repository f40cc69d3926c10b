# pidcar: a process monitor for one PID namespace, served over HTTP.
# make | make run | make test | make unit | make integration | make install | make clean | make deps
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
	daemon/regex_guard.c
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
	daemon/cnproc.c daemon/taskstats.c daemon/target.c daemon/regex_guard.c
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

install: $(BUILD)/pidcar
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/pidcar
	install -m 0755 $(BUILD)/pidcar $(DESTDIR)$(PREFIX)/bin/pidcar
	test -e $(DESTDIR)/etc/pidcar/pidcar.conf || \
		install -m 0644 config/pidcar.conf $(DESTDIR)/etc/pidcar/pidcar.conf

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all deps run unit integration test install clean fuzz fuzz-deps
