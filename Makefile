# mnap: one GNU Makefile for the whole project.
#
#   make            build libraries, tools and tests
#   make test       build and run every test suite
#   make check      the same suites under AddressSanitizer + UBSan (own build dir)
#   make demo       the README's main job
#   make install    PREFIX=/usr/local DESTDIR=  (libraries, tools, man pages, completion, Python)
#   make uninstall  removes what make install put there
#   make deps       install the Debian packages (only the missing ones)
#   make size       the card runtime's Cortex-M0+ footprint
#   make clean
#
# Sources are found by directory, so a new .c file needs no Makefile edit:
#   common/*.c              -> libmnapcommon.a   (freestanding, shared by card and host)
#   card/*.c                -> libmnapcard.a     (freestanding card runtime)
#   card/port/sim/*.c       -> libmnapsim.a      (the host port: OpenSSL, file NVM, tearing)
#   host/*.c                -> libmnap.a / libmnap.so (the host library, PC/SC)
#   host/inproc/*.c         -> libmnapinproc.a   (in-process transport: links the card)
#   host/registry/*.c       -> libmnapreg.a      (the registry: SQLite, PostgreSQL)
#   tools/lib/*.c           -> libmnaptools.a    (JSON, hex: tools and tests only)
#   tools/<name>/*.c        -> <name>            (one program per directory)
#   test/support/*.c        -> libmnaptest.a
#   test/<suite>/test_*.c   -> one CMocka binary each
#
# BUILD selects the output directory, so several builds (or several developers'
# builds in one tree) never share object files.

BUILD    ?= build
V        ?= 0
ifeq ($(V),0)
Q        := @
say      = @echo "  $(1) $(2)";
else
Q        :=
say      =
endif
CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
SAN      ?=

ifeq ($(origin CC),default)
CC := gcc
endif

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wvla -Wformat=2
OPT      ?= -O2 -g
CSTD     := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
ifneq ($(SAN),)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT      := -O1 -g
endif
ifeq ($(SAN),fuzz)
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
PCSC_CFLAGS := $(shell pkg-config --cflags libpcsclite 2>/dev/null || echo -I/usr/include/PCSC)
PCSC_LIBS   := $(shell pkg-config --libs libpcsclite 2>/dev/null || echo -lpcsclite)
# PKCS#11 key source (host/p11.c): p11-kit's module loading and URI parsing.
MHD_LIBS    := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
P11_CFLAGS  := $(shell pkg-config --cflags p11-kit-1 2>/dev/null || echo -I/usr/include/p11-kit-1)
P11_LIBS    := $(shell pkg-config --libs p11-kit-1 2>/dev/null || echo -lp11-kit)

# Include paths per folder: each gets only the headers ARCHITECTURE.md's
# dependency rules allow it (test/depcheck.py checks the same rules line by
# line in make test).  Tests, fuzz targets and the ctcheck programs see
# everything (INC's default).
INC      = -I. -Icommon -Icard -Icard/port/sim -Ihost/include -Ihost -Itools/lib -Itest/support
INC_COMMON := -Icommon
INC_CARD   := -Icard -Icommon
INC_SIM    := -Icard/port/sim -Icard -Icommon
INC_HOST   := -Ihost -Ihost/include -Icommon
INC_INPROC := -Ihost -Ihost/include -Icommon -Icard -Icard/port/sim
INC_REG    := -Ihost/registry -Ihost -Ihost/include -Icommon
INC_TLIB   := -Itools/lib -Icommon -Ihost/include
INC_TOOL   := -Itools/lib -Icommon -Ihost/include -Ihost/inproc
INC_VCARD  := -Itools/lib -Icommon -Icard -Icard/port/sim
INC_BENCH  := -Ibench -Icommon -Icard -Icard/port/sim -Ihost/include -Ihost/inproc
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) $(SANFLAGS) $(INC) -fPIC -MMD -MP $(EXTRA_CFLAGS) \
             -DMNAP_LOCALEDIR='"$(PREFIX)/share/locale"'
# The card runtime and common/ are compiled as freestanding code even on the host:
# no libc beyond memcpy/memset/memcmp (checked by test/card/freestanding.sh).
# CM_CHECK_NULL: common/ refuses NULL pointer arguments in every host build
# (common/cm_err.h); only a firmware build leaves those checks out.
CFLAGS_FREE = $(CFLAGS_ALL) -ffreestanding -DCM_CHECK_NULL
LIBMNAP_LIBS := $(PCSC_LIBS) $(P11_LIBS) -lssl -lcrypto -lpthread
# The registry (host/registry/, libmnapreg.a): SQLite and PostgreSQL clients.
REG_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
REG_LIBS := -lsqlite3 -lpq
# The tools' JSON output (strings escaped by jansson, errors as JSON objects).
JSON_LIBS := -ljansson
LDLIBS   := $(LIBMNAP_LIBS) $(REG_LIBS) $(JSON_LIBS)
TESTLIBS := -lcmocka

COMMON_SRC := $(wildcard common/*.c)
# card/mc_mem.c (memcpy, memset, memcmp) is for firmware builds only: the
# host's libc serves the host build (and its sanitizers).
CARD_FW_SRC := card/mc_mem.c
CARD_SRC   := $(filter-out $(CARD_FW_SRC),$(wildcard card/*.c))
SIM_SRC    := $(wildcard card/port/sim/*.c)
HOST_SRC   := $(wildcard host/*.c)
INPROC_SRC := $(wildcard host/inproc/*.c)
REG_SRC    := $(wildcard host/registry/*.c)
TLIB_SRC   := $(wildcard tools/lib/*.c)
TSUP_SRC   := $(wildcard test/support/*.c)
TOOL_DIRS  := $(filter-out tools/lib tools/examples,$(patsubst %/,%,$(sort $(dir $(wildcard tools/*/*.c)))))
TOOLS      := $(patsubst tools/%,$(BUILD)/bin/%,$(TOOL_DIRS))
PO_FILES   := $(wildcard po/*.po)
MO_FILES   := $(patsubst po/%.po,$(BUILD)/locale/%/LC_MESSAGES/mnap.mo,$(PO_FILES))
BENCH_SRC  := $(wildcard bench/*.c)
BENCHES    := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_COMMON := $(BUILD)/lib/libmnapcommon.a
LIB_CARD   := $(BUILD)/lib/libmnapcard.a
LIB_SIM    := $(BUILD)/lib/libmnapsim.a
LIB_HOST   := $(BUILD)/lib/libmnap.a
SO_HOST    := $(BUILD)/lib/libmnap.so
LIB_INPROC := $(BUILD)/lib/libmnapinproc.a
LIB_REG    := $(BUILD)/lib/libmnapreg.a
LIB_TOOLS  := $(BUILD)/lib/libmnaptools.a
LIB_TEST   := $(BUILD)/lib/libmnaptest.a

# Link groups, innermost dependency last.
LINK_COMMON := $(LIB_TEST) $(LIB_TOOLS) $(LIB_SIM) $(LIB_CARD) $(LIB_COMMON)
LINK_CARD   := $(LIB_TEST) $(LIB_TOOLS) $(LIB_SIM) $(LIB_CARD) $(LIB_COMMON)
LINK_HOST   := $(LIB_TEST) $(LIB_TOOLS) $(LIB_INPROC) $(LIB_HOST) $(LIB_SIM) $(LIB_CARD) $(LIB_COMMON)
LINK_REG    := $(LIB_REG) $(LINK_HOST)
# The card runtime calls its port (mc_port_*) and the sim port reaches back
# into the card struct, so libraries are linked as one group.
group = -Wl,--start-group $(1) -Wl,--end-group

TEST_SUITES := common card host tools registry
TEST_BINS := $(foreach s,$(TEST_SUITES),$(patsubst test/$(s)/%.c,$(BUILD)/test/$(s)/%,$(wildcard test/$(s)/test_*.c)))

.PHONY: all libs tools tests test check clean deps demo install uninstall size bench bench-smoke fuzz-bins \
        $(addprefix test-,$(TEST_SUITES)) test-e2e test-interop test-deps test-python test-long test-console fuzz ctcheck stress
.DEFAULT_GOAL := all
# Keep object files that pattern chains would treat as intermediate:
# incremental builds must not recompile them.
.SECONDARY:

all: libs tools tests $(BENCHES)
libs: $(LIB_COMMON) $(LIB_CARD) $(LIB_SIM) $(LIB_HOST) $(SO_HOST) $(LIB_INPROC) $(LIB_TOOLS) $(LIB_REG)
tools: $(TOOLS) $(MO_FILES)
tests: $(TEST_BINS)

# ---- objects -------------------------------------------------------------
# (GNU make picks the pattern with the shortest stem: card/port/sim/ before card/.)
$(BUILD)/obj/common/%.o:           INC = $(INC_COMMON)
$(BUILD)/obj/card/%.o:             INC = $(INC_CARD)
$(BUILD)/obj/card/port/sim/%.o:    INC = $(INC_SIM)
$(BUILD)/obj/host/%.o:             INC = $(INC_HOST)
$(BUILD)/obj/host/inproc/%.o:      INC = $(INC_INPROC)
$(BUILD)/obj/host/registry/%.o:    INC = $(INC_REG)
$(BUILD)/obj/tools/%.o:            INC = $(INC_TOOL)
$(BUILD)/obj/tools/lib/%.o:        INC = $(INC_TLIB)
$(BUILD)/obj/tools/mnap-vcard/%.o: INC = $(INC_VCARD)
$(BUILD)/obj/bench/%.o:            INC = $(INC_BENCH)
$(BUILD)/obj/common/%.o: common/%.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CFLAGS_FREE) -c $< -o $@
$(BUILD)/obj/card/port/sim/%.o: card/port/sim/%.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CFLAGS_ALL) -c $< -o $@
$(BUILD)/obj/card/%.o: card/%.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CFLAGS_FREE) -c $< -o $@
$(BUILD)/obj/host/%.o: host/%.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CFLAGS_ALL) $(PCSC_CFLAGS) $(P11_CFLAGS) -c $< -o $@
$(BUILD)/obj/host/registry/%.o: host/registry/%.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CFLAGS_ALL) $(REG_CFLAGS) -c $< -o $@
$(BUILD)/obj/test/registry/%.o: test/registry/%.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CFLAGS_ALL) $(REG_CFLAGS) -c $< -o $@
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CFLAGS_ALL) $(PCSC_CFLAGS) $(P11_CFLAGS) -c $< -o $@

# ---- libraries -----------------------------------------------------------
define mklib
$(1): $(2)
	@mkdir -p $$(@D)
	$$(call say,AR,$$@)rm -f $$@
	$$(Q)$$(AR) rcs $$@ $$^
endef
$(eval $(call mklib,$(LIB_COMMON),$(call obj,$(COMMON_SRC))))
$(eval $(call mklib,$(LIB_CARD),$(call obj,$(CARD_SRC))))
$(eval $(call mklib,$(LIB_SIM),$(call obj,$(SIM_SRC))))
# libmnap.a carries common/ too, so an installed static library is complete.
$(eval $(call mklib,$(LIB_HOST),$(call obj,$(HOST_SRC) $(COMMON_SRC))))
$(eval $(call mklib,$(LIB_INPROC),$(call obj,$(INPROC_SRC))))
$(eval $(call mklib,$(LIB_REG),$(call obj,$(REG_SRC))))
$(eval $(call mklib,$(LIB_TOOLS),$(call obj,$(TLIB_SRC))))
$(eval $(call mklib,$(LIB_TEST),$(call obj,$(TSUP_SRC))))

# Only the public API (mnap_ and a letter) is exported: host/libmnap.map.
$(SO_HOST): $(call obj,$(HOST_SRC)) $(LIB_COMMON) host/libmnap.map
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) -shared -Wl,-soname,libmnap.so.1 -Wl,--version-script=host/libmnap.map $(SANFLAGS) -o $@ $(call obj,$(HOST_SRC)) $(LIB_COMMON) $(LIBMNAP_LIBS)

# ---- message catalogues ----------------------------------------------------
# po/LANG.po -> $(BUILD)/locale/LANG/LC_MESSAGES/mnap.mo: BUILD/bin/mnap finds
# them there (../locale from its directory); make install puts them under
# $(PREFIX)/share/locale, which the program also knows (MNAP_LOCALEDIR).
$(BUILD)/locale/%/LC_MESSAGES/mnap.mo: po/%.po
	@mkdir -p $(@D)
	$(call say,MSGFMT,$<)msgfmt -c -o $@ $<

# ---- programs ------------------------------------------------------------
# Each program links what it needs: a tool the host library, the registry
# library and the in-process transport (which brings the card runtime and its simulator
# port: the CLI's --card-image); the virtual card only the card runtime, its
# simulator port (OpenSSL) and libmnaptools, no libmnap and no PC/SC client.
PROG_LIBS   = $(LIB_TOOLS) $(LIB_REG) $(LIB_INPROC) $(LIB_HOST) $(LIB_SIM) $(LIB_CARD) $(LIB_COMMON)
PROG_LDLIBS = $(LDLIBS)
$(BUILD)/bin/mnap-vcard: PROG_LIBS   = $(LIB_TOOLS) $(LIB_SIM) $(LIB_CARD) $(LIB_COMMON)
$(BUILD)/bin/mnap-vcard: PROG_LDLIBS = -lssl -lcrypto
# The operator console (docs/console.md): libmicrohttpd for HTTPS; no libmnap
# link of its own beyond the registry (card work runs the mnap CLI).
$(BUILD)/bin/mnap-console: PROG_LIBS   = $(LIB_TOOLS) $(LIB_REG) $(LIB_COMMON)
$(BUILD)/bin/mnap-console: PROG_LDLIBS = $(LDLIBS) $(MHD_LIBS)
.SECONDEXPANSION:
$(BUILD)/bin/%: $$(call obj,$$(wildcard tools/%/*.c)) $$(PROG_LIBS)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $(call obj,$(wildcard tools/$*/*.c)) $(call group,$(PROG_LIBS)) $(PROG_LDLIBS)

$(BUILD)/test/common/%: $(BUILD)/obj/test/common/%.o $(LINK_COMMON)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $< $(call group,$(LINK_COMMON)) $(TESTLIBS) $(LDLIBS)
$(BUILD)/test/card/%: $(BUILD)/obj/test/card/%.o $(LINK_CARD)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $< $(call group,$(LINK_CARD)) $(TESTLIBS) $(LDLIBS)
$(BUILD)/test/host/%: $(BUILD)/obj/test/host/%.o $(LINK_HOST)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $< $(call group,$(LINK_HOST)) $(TESTLIBS) $(LDLIBS)
$(BUILD)/test/tools/%: $(BUILD)/obj/test/tools/%.o $(LINK_HOST)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $< $(call group,$(LINK_HOST)) $(TESTLIBS) $(LDLIBS)
$(BUILD)/test/registry/%: $(BUILD)/obj/test/registry/%.o $(LINK_REG)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $< $(call group,$(LINK_REG)) $(TESTLIBS) $(LDLIBS)
$(BUILD)/test/ct/%: $(BUILD)/obj/test/ct/%.o $(LINK_HOST)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $< $(call group,$(LINK_HOST)) $(LDLIBS)
$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LINK_HOST)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $< $(call group,$(LINK_HOST)) $(LDLIBS)

# ---- tests ---------------------------------------------------------------
# Each suite runs its binaries from the project root (they read vectors/),
# then its shell checks (test/<suite>/*.sh), and stops at the first failure.
# Scripts that start a database server (ONCE_SCRIPTS) run once, in make test:
# make check repeats the C suites under the sanitizers, not the PostgreSQL ones.
ONCE_SCRIPTS := test/registry/pg.sh
define suite
test-$(1): $$(filter $(BUILD)/test/$(1)/%,$$(TEST_BINS)) $$(if $$(filter tools,$(1)),$(TOOLS))
	@set -e; for t in $$(filter $(BUILD)/test/$(1)/%,$$(TEST_BINS)); do \
	  echo "== $$$$t"; $$$$t; done; \
	for s in $$(if $(SAN),$$(filter-out $(ONCE_SCRIPTS),$$(wildcard test/$(1)/*.sh)),$$(wildcard test/$(1)/*.sh)); do \
	  echo "== $$$$s"; BUILD=$(BUILD) CC=$(CC) sh $$$$s; done; \
	$$(if $(SAN),for s in $$(filter $(ONCE_SCRIPTS),$$(wildcard test/$(1)/*.sh)); do \
	  echo "== $$$$s: runs once in make test; not repeated under the sanitizers"; done)
endef
$(foreach s,$(TEST_SUITES),$(eval $(call suite,$(s))))

# End-to-end clients: test/e2e/*.c, one program each, run by test/e2e/run.sh.
E2E_BINS := $(patsubst test/e2e/%.c,$(BUILD)/test/e2e/%,$(wildcard test/e2e/*.c))
# Part of every build: other suites' PC/SC scripts use these clients too.
tests: $(E2E_BINS)
$(BUILD)/test/e2e/%: $(BUILD)/obj/test/e2e/%.o $(LINK_HOST)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $< $(call group,$(LINK_HOST)) $(LDLIBS)

test-e2e: $(TOOLS) $(TEST_BINS) $(E2E_BINS)
	@if [ -x test/e2e/run.sh ]; then BUILD=$(BUILD) test/e2e/run.sh; else echo "test-e2e: no end-to-end suite yet"; fi

# The operator console in headless Chromium (issue #22, docs/console.md):
# its own registry, CA, private pcscd and virtual card; screenshots in
# $(BUILD)/test/console.
test-console: $(TOOLS) $(MO_FILES) $(E2E_BINS)
	@BUILD=$(BUILD) test/console/run.sh

# The independent interop peer (issue #14): test/interop/ in Python (pyscard,
# python3-cryptography, its own SCP03 host) against mnap-vcard through a
# private pcscd, in the T=1, T=0 and contactless modes.
test-interop: $(TOOLS) $(E2E_BINS)
	@BUILD=$(BUILD) test/interop/run.sh

# Stress test: test/stress/*.c make one program, mnap-stress, built with
# ASan+LSan in $(STRESS_BUILD) and run by test/stress/run.sh for
# STRESS_SECONDS against its own pcscd (docs/security.md).
STRESS_SECONDS ?= 60
STRESS_BUILD ?= build-stress
$(BUILD)/test/stress/mnap-stress: $(call obj,$(wildcard test/stress/*.c)) $(LINK_HOST)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $(call obj,$(wildcard test/stress/*.c)) $(call group,$(LINK_HOST)) $(LDLIBS)
stress:
	@$(MAKE) --no-print-directory BUILD=$(STRESS_BUILD) SAN=1 CC=$(CC) \
	  $(STRESS_BUILD)/test/stress/mnap-stress $(STRESS_BUILD)/bin/mnap-vcard $(STRESS_BUILD)/test/e2e/e2e_pcsc
	@BUILD=$(STRESS_BUILD) STRESS_SECONDS=$(STRESS_SECONDS) test/stress/run.sh

# The Python binding (python/mnap, ctypes over libmnap.so) through a private
# pcscd: a Python suite, run once by `make test` (not under `make check`).
test-python: libs $(TOOLS) $(E2E_BINS)
	@BUILD=$(BUILD) test/python/run.sh

# ARCHITECTURE.md's dependency rules: which folder may include which
# headers (test/depcheck.py; under a second).
test-deps:
	@/usr/bin/python3 test/depcheck.py

# The suites run one at a time even under make -j: several of them start a
# pcscd, and pcscd's socket (/run/pcscd/pcscd.comm) is one per machine.
test: deps-check
	@$(MAKE) --no-print-directory test-deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory -j1 $(addprefix test-,$(TEST_SUITES)) test-e2e test-interop test-python test-console
	@t0=$$(date +%s); $(MAKE) --no-print-directory test-arm && \
	  echo "make test-arm took $$(( $$(date +%s) - t0 )) s (issue #17's CI budget: 240 s)"
	@echo "make test: all suites passed"

# The tearing suites at every cut point under every model of the interrupted
# byte (card/port.h: a torn write's interrupted byte may hold any value):
# make test samples the models beyond "old" with a fixed seed
# (test/support/tear_models.h); MNAP_TEAR_LONG=1 runs them all.  Not in CI.
TEAR_BINS := $(addprefix $(BUILD)/test/card/,test_store_tear test_tearing test_internal_tear)
test-long: $(TEAR_BINS)
	@set -e; for t in $(TEAR_BINS); do echo "== $$t (every cut point, every model)"; \
	  MNAP_TEAR_LONG=1 $$t; done

# Benchmarks: bench/run.sh runs bench/*.c and writes docs/PERFORMANCE.md
# (BENCH_QUICK=1: tiny counts, into $(BUILD)/bench/PERFORMANCE.md).
bench: $(BENCHES) $(BUILD)/bin/mnap $(BUILD)/bin/mnap-vcard $(BUILD)/test/e2e/e2e_pcsc $(BUILD)/test/registry/test_registry_stress
	@BUILD=$(BUILD) CC=$(CC) sh bench/run.sh
# CI's check of the benchmarks: each runs once with tiny counts (nothing timed).
bench-smoke:
	@BUILD=$(BUILD) CC=$(CC) sh bench/smoke.sh

# Sanitizer build in its own directory so it never mixes with the normal objects.
# The operator console (a network-facing C server) is driven in the browser
# once more, built with the sanitizers (about a minute).
check:
	@$(MAKE) --no-print-directory BUILD=build-check SAN=1 CC=$(CC) all
	@$(MAKE) --no-print-directory -j1 BUILD=build-check SAN=1 CC=$(CC) $(addprefix test-,$(TEST_SUITES))
	@$(MAKE) --no-print-directory BUILD=build-check SAN=1 CC=$(CC) test-console
	@echo "make check: all suites passed under ASan+UBSan"

# Constant-time check (ctgrind): test/ct/ct_*.c built with -DCM_CTGRIND (which
# turns CM_CT_DECLASSIFY on) and run under valgrind memcheck; any report of a
# branch or index on a secret fails.  Each program's "leaky" mode is a negative
# control that memcheck must flag.
CT_BINS := $(patsubst test/ct/%.c,build-ct/test/ct/%,$(wildcard test/ct/ct_*.c))
VALGRIND_CT := valgrind -q --error-exitcode=99 --track-origins=yes
ctcheck:
	@$(MAKE) --no-print-directory BUILD=build-ct EXTRA_CFLAGS=-DCM_CTGRIND CC=$(CC) $(CT_BINS)
	@set -e; for t in $(CT_BINS); do \
	  echo "== ctcheck $$t"; $(VALGRIND_CT) $$t; \
	  if $(VALGRIND_CT) $$t leaky >/dev/null 2>&1; then \
	    echo "ctcheck: negative control of $$t was not flagged"; exit 1; fi; \
	  echo "   negative control flagged, as it must be"; done
	@echo "make ctcheck: no secret-dependent branch or index (valgrind memcheck)"

# Fuzzing: test/fuzz/fuzz_*.c are libFuzzer targets built with clang and
# ASan+UBSan in $(FUZZ_BUILD)/ (build-fuzz unless told otherwise, so that
# several developers can fuzz in one tree).  Each runs FUZZ_TIME seconds on a
# scratch corpus seeded from the committed one (test/fuzz/corpus/<name>/
# stays untouched).  docs/fuzzing.md describes the targets.
FUZZ_TIME ?= 60
# The APDU codec's target (two length fields, no state) runs ten million
# inputs in 20 s: a few seconds cover it, and keep CI's time.
FUZZ_TIME_APDU ?= 3
FUZZ_BUILD ?= build-fuzz
FUZZ_BINS := $(patsubst test/fuzz/fuzz_%.c,$(FUZZ_BUILD)/fuzz/fuzz_%,$(wildcard test/fuzz/fuzz_*.c))
$(FUZZ_BUILD)/fuzz/fuzz_%: $(FUZZ_BUILD)/obj/test/fuzz/fuzz_%.o $(subst $(BUILD)/,$(FUZZ_BUILD)/,$(LINK_HOST))
	$(call say,LD,$@)mkdir -p $(@D) && $(CC) -fsanitize=fuzzer,address,undefined -o $@ $< $(call group,$(filter %.a,$^)) $(LDLIBS)
fuzz-bins: $(FUZZ_BINS)
fuzz:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) FUZZ_BUILD=$(FUZZ_BUILD) CC=clang SAN=fuzz fuzz-bins
	@set -e; for f in $(FUZZ_BINS); do n=$${f##*/fuzz_}; \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$n test/fuzz/corpus/$$n; \
	  if [ -d test/fuzz/repro/$$n ]; then \
	    echo "== fuzz $$n: replaying the regression inputs of test/fuzz/repro/$$n"; \
	    $$f test/fuzz/repro/$$n/* > $(FUZZ_BUILD)/repro-$$n.log 2>&1 || { tail -40 $(FUZZ_BUILD)/repro-$$n.log; exit 1; }; fi; \
	  t=$(FUZZ_TIME); if [ $$n = apdu ] && [ $$t -gt $(FUZZ_TIME_APDU) ]; then t=$(FUZZ_TIME_APDU); fi; \
	  echo "== fuzz $$n for $$t s"; \
	  $$f -max_total_time=$$t -print_final_stats=1 $(FUZZ_BUILD)/corpus/$$n test/fuzz/corpus/$$n \
	    > $(FUZZ_BUILD)/fuzz-$$n.log 2>&1 || { tail -40 $(FUZZ_BUILD)/fuzz-$$n.log; exit 1; }; \
	  grep -E 'stat::number_of_executed_units|cov:' $(FUZZ_BUILD)/fuzz-$$n.log | tail -2; done

# ---- ARM cores under QEMU (issue #17) -------------------------------------
include test/arm/arm.mk

# ---- dependencies --------------------------------------------------------
DEB_PKGS := build-essential pkg-config libpcsclite-dev pcscd libssl-dev libcmocka-dev libjsmn-dev \
            vsmartcard-vpcd pcsc-tools opensc clang libclang-rt-14-dev valgrind \
            gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm dpkg-dev python3 \
            vsmartcard-vpicc python3-pycryptodome python3-pyscard python3-cryptography \
            p11-kit libp11-kit-dev softhsm2 libnss3 libnss3-tools opensc-pkcs11 \
            libsqlite3-dev sqlite3 libpq-dev postgresql postgresql-15-pgtap \
            libjansson-dev gettext locales groff-base \
            libmicrohttpd-dev chromium chromium-driver python3-selenium fonts-noto-cjk
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	echo "deps: installing $$missing"; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing
	@# BearSSL's source for the ARM port's AES (test/arm/arm.mk), from Debian's source package
	@$(MAKE) --no-print-directory $(ARM_BUILD)/deps/.ok
deps-check: deps

# ---- demo ----------------------------------------------------------------
demo: deps
	@$(MAKE) --no-print-directory all
	@if [ -x tools/demo.sh ]; then BUILD=$(BUILD) tools/demo.sh; else BUILD=$(BUILD) tools/selftest.sh; fi

# ---- footprint -----------------------------------------------------------
size:
	@BUILD=$(BUILD) sh tools/size.sh

# ---- install -------------------------------------------------------------
# The Python binding goes where Debian's python3 looks for packages of this
# prefix: /usr/local/lib/python3.X/dist-packages, /usr/lib/python3/dist-packages.
PYTHON_VER := $(shell /usr/bin/python3 -c 'import sys; print("python%d.%d" % sys.version_info[:2])' 2>/dev/null || echo python3)
PYTHON_DIR ?= $(if $(filter /usr,$(PREFIX)),$(PREFIX)/lib/python3/dist-packages,$(PREFIX)/lib/$(PYTHON_VER)/dist-packages)
# install needs the libraries and the tools only, not the tests.
MANDIR  ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALLED_HEADERS := $(notdir $(wildcard host/include/mnap/*.h))
install: libs tools
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/mnap $(DESTDIR)$(PREFIX)/bin \
	           $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
	           $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(PYTHON_DIR)/mnap
	install -m 644 $(LIB_HOST) $(LIB_REG) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SO_HOST) $(DESTDIR)$(PREFIX)/lib/libmnap.so.1
	ln -sf libmnap.so.1 $(DESTDIR)$(PREFIX)/lib/libmnap.so
	install -m 644 host/include/mnap/*.h $(DESTDIR)$(PREFIX)/include/mnap/
	for t in $(TOOLS); do install -m 755 $$t $(DESTDIR)$(PREFIX)/bin/; done
	sed -e 's|@PREFIX@|$(PREFIX)|g' tools/mnap.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mnap.pc
	sed -e 's|@PREFIX@|$(PREFIX)|g' tools/mnapreg.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mnapreg.pc
	install -m 644 python/mnap/__init__.py $(DESTDIR)$(PYTHON_DIR)/mnap/
	install -m 644 docs/man/mnap.1 docs/man/mnap-vcard.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 docs/man/libmnap.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 tools/completion/mnap $(DESTDIR)$(BASHCOMPDIR)/mnap
	for m in $(MO_FILES); do l=$${m#$(BUILD)/locale/}; l=$${l%%/*}; \
	  install -d $(DESTDIR)$(PREFIX)/share/locale/$$l/LC_MESSAGES; \
	  install -m 644 $$m $(DESTDIR)$(PREFIX)/share/locale/$$l/LC_MESSAGES/mnap.mo; done

# Removes exactly what install put there (and the directories it made, when
# they are left empty).
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libmnap.a $(DESTDIR)$(PREFIX)/lib/libmnapreg.a \
	      $(DESTDIR)$(PREFIX)/lib/libmnap.so.1 $(DESTDIR)$(PREFIX)/lib/libmnap.so \
	      $(addprefix $(DESTDIR)$(PREFIX)/include/mnap/,$(INSTALLED_HEADERS)) \
	      $(patsubst $(BUILD)/bin/%,$(DESTDIR)$(PREFIX)/bin/%,$(TOOLS)) \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/mnap.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/mnapreg.pc \
	      $(DESTDIR)$(PYTHON_DIR)/mnap/__init__.py \
	      $(DESTDIR)$(MANDIR)/man1/mnap.1 $(DESTDIR)$(MANDIR)/man1/mnap-vcard.1 \
	      $(DESTDIR)$(MANDIR)/man3/libmnap.3 $(DESTDIR)$(BASHCOMPDIR)/mnap \
	      $(patsubst po/%.po,$(DESTDIR)$(PREFIX)/share/locale/%/LC_MESSAGES/mnap.mo,$(PO_FILES))
	rm -rf $(DESTDIR)$(PYTHON_DIR)/mnap/__pycache__
	-rmdir $(DESTDIR)$(PYTHON_DIR)/mnap $(DESTDIR)$(PREFIX)/include/mnap 2>/dev/null

clean:
	rm -rf build build-check build-* 

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
