# test/arm/arm.mk: the card runtime on ARM cores under QEMU (issue #17),
# included by the Makefile.
#
#   make arm        builds the firmware images of both machines into $(ARM_BUILD)/<machine>/
#   make test-arm   runs the card suites on both machines (test/arm/run.sh)
#
# Machines (qemu-system-arm): mps2 = -M mps2-an385, Cortex-M3, NVM in RAM,
# runs the suites; microbit = -M microbit, Cortex-M0 (ARMv6-M), 16 KiB RAM,
# NVM in a host file through semihosting, runs mb_replay (test/arm/run.sh).  The port is card/port/qemu/; AES is BearSSL's aes_ct
# from Debian's bearssl source package (card/port/qemu/bearssl.sh); the test
# suites of test/card/ are compiled unchanged against the CMocka shim of
# test/arm/ (cmocka.h), one ELF per suite, with newlib + librdimon for
# semihosting stdio and exit status.
ARM_BUILD   ?= build-arm
ARM_CC      ?= arm-none-eabi-gcc
ARM_BEARSSL  = $(firstword $(wildcard $(ARM_BUILD)/deps/bearssl-*/))
ARM_BSSL_SRC = src/symcipher/aes_ct.c src/symcipher/aes_ct_enc.c src/symcipher/aes_ct_dec.c \
               src/symcipher/aes_ct_cbcenc.c src/symcipher/aes_ct_cbcdec.c src/codec/dec32le.c \
               src/codec/enc32le.c src/codec/dec32be.c src/codec/enc32be.c \
               src/symcipher/aes_big_cbcdec.c src/symcipher/aes_big_cbcenc.c \
               src/symcipher/aes_big_dec.c src/symcipher/aes_big_enc.c src/symcipher/aes_common.c
# (aes_big*: the suites' host-side AES, test/arm/arm_sim.c; no firmware
# links it.)
# MC_STACK_SCRUB (card/mc_apdu.c): BearSSL's aes_ct keeps the expanded key
# schedule in its own frames, up to 1,040 bytes below mc_port_aes on the
# Cortex-M0 (-fstack-usage: mq_aes_block 304, br_aes_ct_cbcdec_run 608,
# br_aes_ct_bitslice_decrypt 88, invSbox 40), under the runtime's deepest
# path of 848 bytes below mc_process: the scrub after each command must
# reach 1,888 bytes, 2,048 with a margin (docs/porting.md).
ARM_SCRUB         := -DMC_STACK_SCRUB=2048
ARM_CPU_mps2      := -mcpu=cortex-m3 -mthumb $(ARM_SCRUB)
ARM_CPU_microbit  := -mcpu=cortex-m0 -mthumb -DMQ_NVM_HOST $(ARM_SCRUB)
ARM_LD_mps2       := card/port/qemu/mps2-an385.ld
ARM_LD_microbit   := card/port/qemu/microbit.ld
ARM_CFLAGS  = -std=c11 -Os -g -ffunction-sections -fdata-sections -Wall -Wextra -Wno-unused-parameter \
              --specs=rdimon.specs -Itest/arm -I. -Icommon -Icard -Icard/port/qemu -Icard/port/sim \
              -Itools/lib -Itest/support -I$(ARM_BEARSSL)inc -I$(ARM_BEARSSL)src -I$(ARM_BUILD)/deps/inc
# The runtime and everything the suites link besides the suite itself.
# The suites' port is the simulator's (mc_sim) rebuilt for the target
# (test/arm/arm_sim*.c) over the QEMU port's start-up and AES.
ARM_LIB_SRC = $(COMMON_SRC) $(CARD_SRC) $(CARD_FW_SRC) card/port/qemu/mq_start.c card/port/qemu/mq_aes.c \
              $(wildcard test/arm/arm_*.c) card/port/sim/sim_card.c card/port/sim/sim_tear.c card/port/sim/sim_det.c \
              test/support/card_harness.c test/support/card_setup.c test/support/test_aes.c \
              test/support/tear_runner.c test/support/tear_models.c \
              tools/lib/mt_json.c
# Suites of test/card/ that run on the target; test/arm/run.sh says why the
# others do not (ARM_SKIP).
ARM_SKIP    := test_sim test_proto_scp03_ref test_store
ARM_SUITES  := $(filter-out $(ARM_SKIP),$(patsubst test/card/%.c,%,$(wildcard test/card/test_*.c)))
ARM_MACHINES := mps2 microbit

arm_obj = $(patsubst %.c,$(ARM_BUILD)/$(2)/obj/%.o,$(1))

define ARM_MACHINE
$(ARM_BUILD)/$(1)/obj/%.o: %.c | $(ARM_BUILD)/deps/.ok
	@mkdir -p $$(@D)
	$$(call say,CC-$(1),$$@)$$(ARM_CC) $$(ARM_CPU_$(1)) $$(ARM_CFLAGS) -MMD -MP -c -o $$@ $$<
$(ARM_BUILD)/$(1)/obj/bearssl/%.o: $(ARM_BUILD)/deps/.ok
	@mkdir -p $$(@D)
	$$(call say,CC-$(1),$$@)$$(ARM_CC) $$(ARM_CPU_$(1)) $$(ARM_CFLAGS) -c -o $$@ $$(ARM_BEARSSL)$$*.c
$(ARM_BUILD)/$(1)/libarm.a: $(call arm_obj,$(ARM_LIB_SRC),$(1)) \
                            $(patsubst %.c,$(ARM_BUILD)/$(1)/obj/bearssl/%.o,$(ARM_BSSL_SRC))
	@rm -f $$@
	$$(call say,AR-$(1),$$@)arm-none-eabi-ar rcs $$@ $$^
$(ARM_BUILD)/$(1)/%.elf: $(ARM_BUILD)/$(1)/obj/test/card/%.o $(ARM_BUILD)/$(1)/libarm.a $(ARM_LD_$(1))
	$$(call say,LD-$(1),$$@)$$(ARM_CC) $$(ARM_CPU_$(1)) --specs=rdimon.specs -nostartfiles \
	  -T $(ARM_LD_$(1)) -Wl,--gc-sections -Wl,-Map=$$(@:.elf=.map) -o $$@ $$< \
	  -Wl,--start-group $(ARM_BUILD)/$(1)/libarm.a -lc -lrdimon -lgcc -Wl,--end-group
endef
$(foreach m,$(ARM_MACHINES),$(eval $(call ARM_MACHINE,$(m))))

$(ARM_BUILD)/deps/.ok: card/port/qemu/bearssl.sh
	@sh card/port/qemu/bearssl.sh $(ARM_BUILD)/deps
	@# jsmn (tools/lib/mt_json.c's JSON tokenizer) is one header-only file: the
	@# target takes Debian's libjsmn-dev header alone, not the host's /usr/include
	@mkdir -p $(ARM_BUILD)/deps/inc && cp /usr/include/jsmn.h $(ARM_BUILD)/deps/inc/ && touch $@

-include $(wildcard $(ARM_BUILD)/*/obj/*/*.d $(ARM_BUILD)/*/obj/*/*/*.d $(ARM_BUILD)/*/obj/*/*/*/*.d)

# The microbit's 16 KiB run none of the CMocka suites (the harness alone
# keeps ~300 KiB of static buffers; the two that link need 64 KiB NVM
# copies on the heap): it runs ARM_MB_SUITES (none).
ARM_MB_SUITES ?=
# The microbit's firmware: the runtime on the QEMU port proper
# (card/port/qemu/, its own mq_port context), replaying test/arm/record.c's
# script; mc_debug.c is test-only and stays out.
ARM_FW_SRC = $(COMMON_SRC) $(filter-out card/mc_debug.c,$(CARD_SRC)) $(CARD_FW_SRC) $(wildcard card/port/qemu/*.c) \
             test/arm/mb_replay.c
$(ARM_BUILD)/microbit/mb_replay.elf: $(call arm_obj,$(ARM_FW_SRC),microbit) \
    $(patsubst %.c,$(ARM_BUILD)/microbit/obj/bearssl/%.o,$(ARM_BSSL_SRC)) $(ARM_LD_microbit)
	$(call say,LD-microbit,$@)$(ARM_CC) $(ARM_CPU_microbit) --specs=rdimon.specs -nostartfiles \
	  -T $(ARM_LD_microbit) -Wl,--gc-sections -Wl,-Map=$(@:.elf=.map) -o $@ \
	  $(filter %.o,$^) -Wl,--start-group -lc -lrdimon -lgcc -Wl,--end-group
	@sh test/arm/rammap.sh $@
$(ARM_BUILD)/microbit/mb_unaligned.elf: $(call arm_obj,card/port/qemu/mq_start.c test/arm/mb_unaligned.c,microbit) \
    $(ARM_LD_microbit)
	$(call say,LD-microbit,$@)$(ARM_CC) $(ARM_CPU_microbit) --specs=rdimon.specs -nostartfiles \
	  -T $(ARM_LD_microbit) -Wl,--gc-sections -o $@ $(filter %.o,$^) \
	  -Wl,--start-group -lc -lrdimon -lgcc -Wl,--end-group
# The microbit's tear runner: the runtime on the QEMU port proper torn
# through its card/port_tear.h by the one tear runner, with the test-only
# state dump (mc_debug.c) and the tear models of test/support/; the cases
# come from test/arm/record.c's tear script.
ARM_TEAR_SRC = $(COMMON_SRC) $(CARD_SRC) $(CARD_FW_SRC) $(wildcard card/port/qemu/*.c) test/arm/mb_tear.c \
               test/support/tear_runner.c test/support/tear_models.c
$(ARM_BUILD)/microbit/mb_tear.elf: $(call arm_obj,$(ARM_TEAR_SRC),microbit) \
    $(patsubst %.c,$(ARM_BUILD)/microbit/obj/bearssl/%.o,$(ARM_BSSL_SRC)) $(ARM_LD_microbit)
	$(call say,LD-microbit,$@)$(ARM_CC) $(ARM_CPU_microbit) --specs=rdimon.specs -nostartfiles \
	  -T $(ARM_LD_microbit) -Wl,--gc-sections -Wl,-Map=$(@:.elf=.map) -o $@ \
	  $(filter %.o,$^) -Wl,--start-group -lc -lrdimon -lgcc -Wl,--end-group
	@sh test/arm/rammap.sh $@
# The mps2 card behind UART0 for the PC/SC tests (test/arm/vcard_arm.py).
$(ARM_BUILD)/mps2/uart_card.elf: $(call arm_obj,$(filter-out test/arm/mb_replay.c,$(ARM_FW_SRC)) test/arm/uart_card.c,mps2) \
    $(patsubst %.c,$(ARM_BUILD)/mps2/obj/bearssl/%.o,$(ARM_BSSL_SRC)) $(ARM_LD_mps2)
	$(call say,LD-mps2,$@)$(ARM_CC) $(ARM_CPU_mps2) --specs=rdimon.specs -nostartfiles \
	  -T $(ARM_LD_mps2) -Wl,--gc-sections -o $@ $(filter %.o,$^) \
	  -Wl,--start-group -lc -lrdimon -lgcc -Wl,--end-group
# The host recorder of its script (libmnap + the simulator card).
$(BUILD)/obj/test/arm/%.o: INC = $(INC_BENCH)
$(BUILD)/test/arm/record: $(BUILD)/obj/test/arm/record.o $(LINK_HOST)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $< $(call group,$(LINK_HOST)) $(LDLIBS)
$(ARM_BUILD)/microbit/mb-script.bin: $(BUILD)/test/arm/record
	@mkdir -p $(@D)
	@$(BUILD)/test/arm/record $@
$(ARM_BUILD)/microbit/mb-tear.bin $(ARM_BUILD)/microbit/mb-tear-long.bin: $(ARM_BUILD)/microbit/mb-%.bin: $(BUILD)/test/arm/record
	@mkdir -p $(@D)
	@$(BUILD)/test/arm/record $@ $*

ARM_ELFS = $(ARM_BUILD)/mps2/uart_card.elf $(ARM_BUILD)/microbit/mb_replay.elf \
           $(ARM_BUILD)/microbit/mb_tear.elf $(ARM_BUILD)/microbit/mb-tear.bin $(ARM_BUILD)/microbit/mb-tear-long.bin $(ARM_BUILD)/microbit/mb_unaligned.elf $(ARM_BUILD)/microbit/mb-script.bin $(patsubst %,$(ARM_BUILD)/mps2/%.elf,$(ARM_SUITES)) \
           $(patsubst %,$(ARM_BUILD)/microbit/%.elf,$(ARM_MB_SUITES))
# Instructions per command on the Cortex-M0 (docs/PERFORMANCE.md §1a):
# about a minute, not part of make test.
.PHONY: bench-arm
bench-arm: arm
	@$(BUILD)/test/arm/record $(ARM_BUILD)/microbit/mb-measure.bin measure
	@/usr/bin/python3 test/arm/icount.py $(ARM_BUILD)/microbit/mb_replay.elf \
	  $(ARM_BUILD)/microbit/mb-measure.bin > bench/arm_m0.md.tmp && mv bench/arm_m0.md.tmp bench/arm_m0.md
	@cat bench/arm_m0.md

# What the linker says of the CMocka suites on the microbit's 16 KiB (28
# overflow the RAM; docs/porting.md); never fails.
.PHONY: arm-microbit-suites
arm-microbit-suites: arm
	@for s in $(ARM_SUITES); do printf '%s: ' $$s; \
	  if $(MAKE) --no-print-directory -s $(ARM_BUILD)/microbit/$$s.elf > $(ARM_BUILD)/microbit/$$s.link.log 2>&1; \
	  then echo links; else grep -m1 -o "region .RAM. overflowed by [0-9]* bytes\|no room for the stack" \
	  $(ARM_BUILD)/microbit/$$s.link.log || tail -1 $(ARM_BUILD)/microbit/$$s.link.log; fi; done

.PHONY: arm arm-elfs test-arm
# In two steps: the BearSSL directory must exist before its path is known.
arm:
	@$(MAKE) --no-print-directory $(ARM_BUILD)/deps/.ok
	@$(MAKE) --no-print-directory arm-elfs
arm-elfs: $(ARM_ELFS)
# The card suites on both machines (test/arm/run.sh) and, at the same time
# (QEMU is one host thread per machine; the PC/SC half waits on pcscd and
# the bridge much of the time), the PC/SC half: the e2e lifecycle suite and
# the interop peer through the ARM card, over T=1.
test-arm: arm $(TOOLS) $(E2E_BINS)
	@$(MAKE) --no-print-directory test-arm-pcsc ARM_PCSC_E2E=lifecycle ARM_PCSC_INTEROP=t1 \
	  > $(ARM_BUILD)/pcsc.log 2>&1 & pcsc=$$!; \
	  ARM_BUILD=$(ARM_BUILD) sh test/arm/run.sh $(ARM_SUITES); rc=$$?; \
	  wait $$pcsc; prc=$$?; cat $(ARM_BUILD)/pcsc.log; \
	  if [ $$prc != 0 ]; then echo "make test-arm: the PC/SC tests through the ARM card failed"; fi; \
	  [ $$rc = 0 ] && [ $$prc = 0 ]

# The PC/SC end-to-end tests through the ARM card: pcscd + vpcd + the
# Cortex-M3 card behind QEMU's UART (test/arm/vcard_arm.py in mnap-vcard's
# place, MNAP_VCARD).  make test-arm runs the e2e lifecycle suite (area
# setup, LOAD AP of two APs, the kiosk flow on each AP, PIN, restart) and
# the independent interop peer (test/interop/) over T=1; make test-long
# runs the lifecycle suite over all three transports, the sharing suite
# (another program on the reader) and the interop peer in all three modes.
# Start pcscd-based runs inside /work/isolate.sh when other pcscd users
# share the machine.  The e2e suites and the peer start their own pcscd in
# turn, never two at once.
ARM_PCSC_E2E ?= lifecycle lifecycle:t0 lifecycle:contactless sharing
ARM_PCSC_INTEROP ?= t1 t0 contactless
.PHONY: test-arm-pcsc test-long test-arm-tear-long
test-arm-pcsc: arm $(TOOLS) $(E2E_BINS)
	@rm -f $(ARM_BUILD)/pcsc-cards.log
	@test -z "$(ARM_PCSC_E2E)" || MNAP_VCARD=$(CURDIR)/test/arm/vcard_arm.py MNAP_ARM_MARK=$(CURDIR)/$(ARM_BUILD)/pcsc-cards.log ARM_BUILD=$(ARM_BUILD) \
	  BUILD=$(BUILD) sh test/e2e/run.sh $(ARM_PCSC_E2E) > $(ARM_BUILD)/pcsc-e2e.log 2>&1 || \
	  { cat $(ARM_BUILD)/pcsc-e2e.log; exit 1; }
	@test -z "$(ARM_PCSC_E2E)" || { sed -n 's/^/  arm mps2 pcsc /p' $(ARM_BUILD)/pcsc-e2e.log | grep -E 'PASS|e2e:'; \
	  if grep -q 'SKIP' $(ARM_BUILD)/pcsc-e2e.log; then echo "test-arm-pcsc: skipped tests"; exit 1; fi; }
	@test -z "$(ARM_PCSC_INTEROP)" || MNAP_VCARD=$(CURDIR)/test/arm/vcard_arm.py MNAP_ARM_MARK=$(CURDIR)/$(ARM_BUILD)/pcsc-cards.log ARM_BUILD=$(ARM_BUILD) \
	  BUILD=$(BUILD) test/interop/run.sh $(ARM_PCSC_INTEROP) > $(ARM_BUILD)/pcsc-interop.log 2>&1 || \
	  { cat $(ARM_BUILD)/pcsc-interop.log; exit 1; }
	@test -z "$(ARM_PCSC_INTEROP)" || sed -n 's/^ *\(interop [a-z0-9]*: .*passed.*\)/  arm mps2 pcsc \1/p' $(ARM_BUILD)/pcsc-interop.log | sort -u
	@n=$$(cat $(ARM_BUILD)/pcsc-cards.log 2>/dev/null | wc -l); \
	  if [ "$$n" -eq 0 ]; then echo "test-arm-pcsc: no ARM card was started"; exit 1; fi; \
	  echo "  arm mps2 pcsc: $$n ARM card starts (QEMU, Cortex-M3) served the tests above"
# The microbit's tear runner on every write with every model (record.c's
# tear-long script; minutes).
test-arm-tear-long: arm
	@MB_TEAR=long ARM_MACHINES=microbit ARM_TIMEOUT=3600 ARM_BUILD=$(ARM_BUILD) sh test/arm/run.sh
test-long: test-arm-tear-long
test-long: test-arm-pcsc
