# pidcar: a process monitor for one PID namespace, served over HTTP.
# make | make run | make test | make unit | make integration | make install | make clean | make deps

VERSION	:= 0.1.0
PREFIX	?= /usr/local
DESTDIR	?=
CC	?= cc
BUILD	?= build

PKGS	:= libevent libmicrohttpd jansson libbsd libcap libmnl
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
	daemon/refresh.c daemon/http.c daemon/cnproc.c daemon/target.c \
	daemon/taskstats.c daemon/docker.c
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
	@echo "  curl http://127.0.0.1:9723/api/v1/processes?sort=cpu&limit=5"
	@echo "  curl http://127.0.0.1:9723/metrics"
	@echo "  (Ctrl-C stops it)"
	exec $(BUILD)/pidcar -f config/pidcar.conf

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; CMOCKA_MESSAGE_OUTPUT=stdout $$t; done

integration: $(BUILD)/pidcar
	PIDCAR_BIN=$(abspath $(BUILD)/pidcar) $(PYTEST) -q tests/integration

# The whole suite, then again under AddressSanitizer + UBSan.
test: deps
	@$(MAKE) --no-print-directory unit integration
	@$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=address,undefined OPT=-O1 unit integration

install: $(BUILD)/pidcar
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/pidcar
	install -m 0755 $(BUILD)/pidcar $(DESTDIR)$(PREFIX)/bin/pidcar
	test -e $(DESTDIR)/etc/pidcar/pidcar.conf || \
		install -m 0644 config/pidcar.conf $(DESTDIR)/etc/pidcar/pidcar.conf

clean:
	rm -rf build build-asan

.PHONY: all deps run unit integration test install clean
