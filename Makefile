# gobi: build the nginx module, the client and the tests.
#
#   make          build/ngx_http_gobi_module.so and build/gobi
#   make run      the server on 127.0.0.1:8080, state under ./var/
#   make test     unit tests and every prove suite

SHELL      := /bin/bash
NGX_SRC    ?= /usr/share/nginx/src
NGINX      ?= /usr/sbin/nginx
BUILD      := build
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

PKGS       := sqlite3 libsodium yajl hiredis libmongoc-1.0 libgit2 libcurl
CLIENT_PKGS := sqlite3 libsodium yajl libcurl

CC         ?= cc
WARN       := -Wall -Wextra -Werror
CFLAGS     ?= -O2 -g
MOD_DIRS   := ngx_gobi_module $(addprefix ngx_gobi_module/,store storage bus ws)
CFLAGS     += $(WARN) -std=gnu99 -D_GNU_SOURCE -Ilib $(addprefix -I,$(MOD_DIRS))

# sanitizers: SAN_FLAGS goes into the module, the client and the unit
# tests alike (see test-asan)
SAN_FLAGS  ?=
CFLAGS     += $(SAN_FLAGS)
PKG_CFLAGS  = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS    = $(shell pkg-config --libs $(PKGS)) -lpthread

LIB_SRCS   := $(sort $(wildcard lib/*.c))
LIB_HDRS   := $(wildcard lib/*.h)
# the nginx-free drivers and the merge, unit-tested without nginx
DRV_SRCS   := $(sort $(wildcard ngx_gobi_module/gobi_*.c \
                                ngx_gobi_module/store/gobi_*.c \
                                ngx_gobi_module/storage/gobi_*.c))
DRV_HDRS   := $(wildcard ngx_gobi_module/gobi_*.h \
                         ngx_gobi_module/store/gobi_*.h \
                         ngx_gobi_module/storage/gobi_*.h)
MOD_SRCS   := $(sort $(foreach d,$(MOD_DIRS),$(wildcard $(d)/*.c)) \
                     ngx_gobi_module/ngx_http_gobi_web_files.c)
MOD_HDRS   := $(foreach d,$(MOD_DIRS),$(wildcard $(d)/*.h))
CLI_SRCS   := $(sort $(wildcard client/*.c))
CLI_HDRS   := $(wildcard client/*.h)
UNIT_SRCS  := $(sort $(wildcard t/unit/test_*.c))
UNIT_BINS  := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

NGX_CC_OPT := -g -O2 -fPIC -fstack-protector-strong -Wformat \
              -Werror=format-security -Wdate-time -D_FORTIFY_SOURCE=2 $(WARN) \
              $(SAN_FLAGS)
NGX_LD_OPT := -Wl,-z,relro -Wl,-z,now -fPIC $(SAN_FLAGS)

.PHONY: all module client unit test prove run clean ferretdb minio fuzz \
           deps test-asan

all: module client

module: $(BUILD)/ngx_http_gobi_module.so

client: $(BUILD)/gobi

# optional drivers to leave out: GOBI_WITHOUT="mongodb redis" (see config)
export GOBI_WITHOUT

# the web page (gobi_web): web/* compiled into a C file that is committed,
# so that builds with --add-module / --add-dynamic-module need no generator
WEB_FILES  := $(sort $(wildcard web/*))
WEB_C      := ngx_gobi_module/ngx_http_gobi_web_files.c

$(WEB_C): $(WEB_FILES) scripts/web-embed
	@scripts/web-embed web > $@.tmp && mv -f $@.tmp $@
	@echo "embedded web/ in $@"

# nginx's configure runs again only when the set of source files (or of
# drivers left out) changes
SRCLIST := $(MOD_SRCS) $(LIB_SRCS) $(MOD_HDRS) $(LIB_HDRS)
$(shell mkdir -p $(BUILD); echo '$(SRCLIST) $(GOBI_WITHOUT)' \
          | cmp -s - $(BUILD)/.srclist \
          || echo '$(SRCLIST) $(GOBI_WITHOUT)' > $(BUILD)/.srclist)

# (the embedded web page must exist when configure globs the sources)
$(BUILD)/nginx/objs/Makefile: config $(BUILD)/.srclist | $(WEB_C)
	@rm -rf $(BUILD)/nginx && mkdir -p $(BUILD)/nginx
	@cp -r $(NGX_SRC)/. $(BUILD)/nginx/
	@echo "configuring nginx $$($(NGINX) -v 2>&1 | sed 's/.*\///') for the dynamic module"
	@cd $(BUILD)/nginx && source ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt='$(NGX_CC_OPT)' --with-ld-opt='$(NGX_LD_OPT)' \
	        --add-dynamic-module=$(CURDIR) > configure.log 2>&1 \
	    || { tail -30 configure.log; exit 1; }

$(BUILD)/ngx_http_gobi_module.so: $(BUILD)/nginx/objs/Makefile $(SRCLIST)
	@$(MAKE) --no-print-directory -s -C $(BUILD)/nginx -f objs/Makefile \
	    -j$(JOBS) modules
	@cp $(BUILD)/nginx/objs/ngx_http_gobi_module.so $@.tmp && mv -f $@.tmp $@
	@echo "built $@"

$(BUILD)/gobi: $(CLI_SRCS) $(CLI_HDRS) $(LIB_SRCS) $(LIB_HDRS)
	@if [ -n "$(CLI_SRCS)" ]; then \
	    $(CC) $(CFLAGS) -Iclient $(shell pkg-config --cflags $(CLIENT_PKGS)) \
	        -o $@ $(CLI_SRCS) $(LIB_SRCS) \
	        $(shell pkg-config --libs $(CLIENT_PKGS)) -lpthread \
	    && echo "built $@"; fi

# unit tests: each t/unit/test_*.c links lib/ and the nginx-free drivers
$(BUILD)/unit/%: t/unit/%.c t/unit/unit.h $(LIB_SRCS) $(LIB_HDRS) $(DRV_SRCS) $(DRV_HDRS)
	@mkdir -p $(BUILD)/unit
	@$(CC) $(CFLAGS) -It/unit $(PKG_CFLAGS) -o $@ $< $(LIB_SRCS) $(DRV_SRCS) \
	    $(PKG_LIBS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "# $$t"; $$t; done

ferretdb:
	@scripts/build-ferretdb $(BUILD)/ferretdb

# the S3 test server (scripts/with-s3), built from Go modules
minio:
	@scripts/build-minio $(BUILD)/minio

PROVE      := prove -I t/lib $(PROVE_FLAGS)
# the same, where a file that fails runs once more alone before the run
# fails (scripts/prove-retry names it FLAKY when it passes then)
PROVE_RETRY := scripts/prove-retry -I t/lib --timer $(PROVE_FLAGS) --
SUITES     ?= t/*.t
# the cluster suites (t/4*) run on MongoDB already; the crash storm (t/093)
# is about the local store's and the blobs' durability, on MongoDB that is
# the database server's (t/450 kills it)
# the file suites again on the other storage set-ups (GOBI_TEST_STORAGE in
# t/lib/Gobi/Server.pm): encrypted at rest on two local targets, and S3
# (MinIO); t/048 and t/049 set their storage up themselves
STORAGE_SUITES ?= $(filter-out t/048% t/049%,$(wildcard t/04*.t t/10*.t t/2*.t))
# the client's terminal and systemd unit, and the browser, know no store
MONGO_SUITES ?= $(filter-out t/4% t/093% t/130% t/207% t/209%,$(wildcard t/*.t))

prove: all
	$(PROVE) $(SUITES)

# the Debian packages gobi needs (idempotent, quiet when all are there)
deps:
	@scripts/deps

# every suite on SQLite, then on MongoDB (FerretDB, built from Go modules),
# then the file suites encrypted on two targets and on S3 (MinIO)
# a worker that crashes leaves a core there; scripts/prove-retry prints its
# backtrace (gdb) at the end of the pass
test: export GOBI_CORES = $(CURDIR)/$(BUILD)/cores
test: deps all unit ferretdb minio
	@rm -rf $(BUILD)/cores && mkdir -p -m 0777 $(BUILD)/cores
	$(PROVE_RETRY) $(SUITES)
	scripts/with-ferretdb build/unit/test_store
	scripts/with-ferretdb $(PROVE_RETRY) $(MONGO_SUITES)
	scripts/with-s3 build/unit/test_storage
	scripts/with-s3 build/unit/test_blob
	GOBI_TEST_STORAGE=encrypted,multi $(PROVE_RETRY) $(STORAGE_SUITES)
	scripts/with-s3 env GOBI_TEST_STORAGE=s3 $(PROVE_RETRY) \
	    $(STORAGE_SUITES) t/049-storage-targets.t

# the file suites on S3 alone
test-s3: all minio
	scripts/with-s3 env GOBI_TEST_STORAGE=s3 $(PROVE) $(STORAGE_SUITES) \
	    t/049-storage-targets.t

# the module, lib and client built with AddressSanitizer and UBSan into
# build-asan/ (nginx itself stays stock and preloads the runtime), the unit
# tests and every suite run against them; any report fails the run
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=all
test-asan: deps ferretdb
	@$(MAKE) --no-print-directory BUILD=build-asan SAN_FLAGS='$(ASAN_FLAGS)' \
	    all unit
	@$(CC) -shared -fPIC -O2 -o build-asan/nodlclose.so t/asan/nodlclose.c
	scripts/asan-prove $(PROVE_RETRY) $(SUITES)

# libFuzzer targets (clang): t/fuzz/fuzz.mk; FUZZ_SECONDS per target
FUZZ_SECONDS ?= 10
fuzz:
	@$(MAKE) --no-print-directory -f t/fuzz/fuzz.mk FUZZ_SECONDS=$(FUZZ_SECONDS)

run: deps
	@$(MAKE) --no-print-directory module
	@scripts/run

clean:
	rm -rf $(BUILD) build-asan t/servroot*
