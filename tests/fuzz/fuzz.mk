# tests/fuzz/fuzz.mk: builds the libFuzzer harnesses with clang and runs
# them (GNU make; called by `make fuzz` and `make fuzz-run` in tests/, which
# pass top_srcdir, JANSSON_CFLAGS and JANSSON_LIBS).  The configured
# compiler and the normal build are not involved: everything here is
# compiled again, with clang, into FUZZ_DIR.
#
#   fuzz        build FUZZ_DIR/fuzz_NAME for every harness
#   fuzz-run    run each for FUZZ_SECONDS (FUZZ_JOBS at a time); fails on
#               any crash, broken promise, leak, input slower than
#               FUZZ_TIMEOUT seconds, or memory above FUZZ_RSS_MB
#   fuzz-clean  remove FUZZ_DIR
#
# A run starts from the seeds (tests/fuzz/corpus/NAME, read only) and the
# inputs earlier runs found (FUZZ_DIR/work/NAME), with the dictionary
# tests/fuzz/NAME.dict where there is one (the protocol's and the
# configuration's words: jansson is not instrumented, so the fuzzer cannot
# learn them from coverage).  A failing input is saved
# as FUZZ_DIR/crash/NAME-*; replay it in the gcc build with
#   tests/t_fuzz_corpus NAME FILE

FUZZ_CC ?= clang
FUZZ_DIR ?= fuzz/build
FUZZ_SECONDS ?= 60
FUZZ_TIMEOUT ?= 10
FUZZ_RSS_MB ?= 2048
HARNESSES = proto conf jsonv batch seal snapshot identity

fuzzsrc = $(top_srcdir)/tests/fuzz
SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wno-unused-parameter
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer -std=c11 -pthread $(SAN) \
	-fsanitize=fuzzer-no-link $(WARN) $(JANSSON_CFLAGS)
FUZZ_CPPFLAGS = -D_GNU_SOURCE -DFUZZ_LIBFUZZER -I$(top_srcdir)/store \
	-I$(top_srcdir)/src -I$(fuzzsrc)

# The parsers and what they need: all of store/, and the two parsers of src/.
LIB_SRC = $(wildcard $(top_srcdir)/store/*.c) $(top_srcdir)/src/proto.c \
	$(top_srcdir)/src/conf.c $(fuzzsrc)/fuzz_common.c
LIB_OBJ = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(notdir $(LIB_SRC)))
FUZZERS = $(HARNESSES:%=$(FUZZ_DIR)/fuzz_%)

vpath %.c $(top_srcdir)/store $(top_srcdir)/src $(fuzzsrc)

.PHONY: fuzz fuzz-run fuzz-clean $(HARNESSES:%=fuzz-run-%)
.DELETE_ON_ERROR:
# Keep the objects between builds.
.SECONDARY:

fuzz: $(FUZZERS)

# A clear message when clang or its libFuzzer runtime is missing.
$(FUZZ_DIR)/cc-ok:
	@mkdir -p $(FUZZ_DIR)/obj
	@printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return d && n; }' \
	    > $(FUZZ_DIR)/cc-check.c
	@$(FUZZ_CC) $(SAN) -fsanitize=fuzzer $(FUZZ_DIR)/cc-check.c \
	    -o $(FUZZ_DIR)/cc-check 2> $(FUZZ_DIR)/cc-check.log || { \
	    cat $(FUZZ_DIR)/cc-check.log >&2; \
	    echo "fuzz: $(FUZZ_CC) cannot build a libFuzzer program: install clang and libclang-rt-14-dev" >&2; \
	    exit 1; }
	@touch $@

# Library objects: not -Werror, so that a warning only clang gives in code
# the gcc build compiles cleanly does not stop the fuzzing.
$(FUZZ_DIR)/obj/%.o: %.c $(FUZZ_DIR)/cc-ok
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/obj/harness_%.o: $(fuzzsrc)/fuzz_%.c $(fuzzsrc)/fuzz.h $(FUZZ_DIR)/cc-ok
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -Werror -c $< -o $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/harness_%.o $(LIB_OBJ)
	$(FUZZ_CC) $(SAN) -fsanitize=fuzzer -pthread -o $@ $^ $(JANSSON_LIBS)

fuzz-run: $(HARNESSES:%=fuzz-run-%)

$(HARNESSES:%=fuzz-run-%): fuzz-run-%: $(FUZZ_DIR)/fuzz_%
	@mkdir -p $(FUZZ_DIR)/work/$* $(FUZZ_DIR)/crash
	@echo "fuzz $*: $(FUZZ_SECONDS) s from the seeds in $(fuzzsrc)/corpus/$*"
	@if ASAN_OPTIONS=detect_leaks=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(FUZZ_DIR)/fuzz_$* -max_total_time=$(FUZZ_SECONDS) \
	    -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=$(FUZZ_RSS_MB) \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/crash/$*- \
	    $(if $(wildcard $(fuzzsrc)/$*.dict),-dict=$(fuzzsrc)/$*.dict) \
	    $(FUZZ_DIR)/work/$* $(fuzzsrc)/corpus/$* > $(FUZZ_DIR)/$*.log 2>&1; then \
	    echo "fuzz $*: passed, $$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_DIR)/$*.log) inputs run"; \
	else \
	    tail -n 60 $(FUZZ_DIR)/$*.log >&2; \
	    echo "fuzz $*: FAILED (log $(FUZZ_DIR)/$*.log; input in $(FUZZ_DIR)/crash/)" >&2; \
	    exit 1; \
	fi

fuzz-clean:
	rm -rf $(FUZZ_DIR)
