# gobi's libFuzzer targets (clang): make fuzz [FUZZ_SECONDS=N]
#
# Each t/fuzz/fuzz_<name>.c is built into build/fuzz/fuzz_<name> and run
# for FUZZ_SECONDS on a scratch copy of t/fuzz/corpus/<name>/ (the
# checked-in corpus never grows here).  One summary line per target; any
# crash, leak, sanitizer report or timeout fails the run and leaves its
# input in build/fuzz/crash/.  See t/fuzz/README.md.

SHELL         := /bin/bash
FUZZ_SECONDS  ?= 10
FUZZ_CC       ?= clang
FUZZ_EXTRA    ?=
FUZZ_DIR      := build/fuzz
FUZZ_SAN      := -fsanitize=fuzzer,address,undefined \
                 -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   := -g -O1 $(FUZZ_SAN) -Wall -Wextra -Werror -std=gnu99 \
                 -D_GNU_SOURCE -Ilib -Iclient \
                 $(shell pkg-config --cflags yajl libsodium)
FUZZ_CFLAGS   += $(FUZZ_EXTRA)
FUZZ_LIBS     := $(shell pkg-config --libs yajl libsodium) -lpthread

TARGETS       := $(patsubst t/fuzz/fuzz_%.c,%, \
                   $(sort $(wildcard t/fuzz/fuzz_*.c)))
BINS          := $(addprefix $(FUZZ_DIR)/fuzz_,$(TARGETS))

LIB_SRCS      := $(sort $(wildcard lib/*.c))
LIB_HDRS      := $(wildcard lib/*.h)
LIB_OBJS      := $(patsubst lib/%.c,$(FUZZ_DIR)/lib/%.o,$(LIB_SRCS))

# the client readers: its sources but main() and the two the target
# includes itself (to reach their static functions)
CLI_PKGS      := sqlite3 libcurl
CLI_INCLUDED  := client/gobi_api.c client/gobi_pull.c
CLI_SRCS      := $(filter-out client/gobi_main.c $(CLI_INCLUDED), \
                   $(sort $(wildcard client/*.c)))
CLI_OBJS      := $(patsubst client/%.c,$(FUZZ_DIR)/client/%.o,$(CLI_SRCS))

.PHONY: run build
.SECONDARY:

run: build
	@t/fuzz/run $(FUZZ_DIR) $(FUZZ_SECONDS) $(TARGETS)

build: $(BINS)

$(FUZZ_DIR)/lib/%.o: lib/%.c $(LIB_HDRS)
	@mkdir -p $(@D)
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/client/%.o: client/%.c $(wildcard client/*.h) $(LIB_HDRS)
	@mkdir -p $(@D)
	@$(FUZZ_CC) $(FUZZ_CFLAGS) $(shell pkg-config --cflags $(CLI_PKGS)) \
	    -c -o $@ $<

$(FUZZ_DIR)/fuzz_client: t/fuzz/fuzz_client.c t/fuzz/fuzz.h $(LIB_OBJS) \
                         $(CLI_OBJS) $(CLI_INCLUDED)
	@$(FUZZ_CC) $(FUZZ_CFLAGS) $(shell pkg-config --cflags $(CLI_PKGS)) \
	    -o $@ $< $(LIB_OBJS) $(CLI_OBJS) \
	    $(FUZZ_LIBS) $(shell pkg-config --libs $(CLI_PKGS))
	@echo "built $@"

$(FUZZ_DIR)/fuzz_%: t/fuzz/fuzz_%.c t/fuzz/fuzz.h $(LIB_OBJS)
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(LIB_OBJS) $(FUZZ_LIBS)
	@echo "built $@"
