# attx — build, test, demo, bench, sanitize, install.
#
#   make            release build: build/attx, build/libattx.a and build/libattx.so (.so.0, .so.0.1.0)
#   make test       every cmocka test (prints each summary and a total)
#   make test-isa   the numeric tests with the AVX2 and the portable kernels forced (ATTX_ISA)
#   make sanitize   the tests again under AddressSanitizer + UndefinedBehaviorSanitizer
#                   (make sanitize CC=clang: the same with clang's, which check more)
#   make demo       explain a few sentences with the SST-2 model attx trained (data/)
#   make bench      benchmarks on this machine
#   make mpi        build/attx-mpi (attx eval split across MPI ranks), when mpicc is there
#   make web        build/web/attx.html + attx.wasm: the teaching page live in the browser (emscripten)
#   make test-web   that page in headless chromium against native attx (skipped without emcc/chromium)
#   make install PREFIX=/usr/local     (make uninstall PREFIX=... removes what it wrote)
#
# Missing build dependencies are installed with apt-get when run as root; otherwise the exact
# command is printed.

CC      ?= gcc
PREFIX  ?= /usr/local
BUILD   ?= build
OPT     ?= -O3
SAN     ?=
# clang, told apart by its --version, takes OpenMP from libomp and its sanitizers from compiler-rt
CC_IS_CLANG := $(shell $(CC) --version 2>/dev/null | grep -qi clang && echo 1)

# -fno-trapping-math / -fno-math-errno change no result (no reassociation, no contraction in ISO
# C mode); they let gcc if-convert and vectorise the branch-free exp/erf/tanh loops.
# -ffp-contract=off: no a·b + c fused into one rounding, which gcc's ISO mode already does not do
# and clang otherwise does, at least when it folds constants (attx_expf(88.3f) came out 1 ulp off).
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
CFLAGS  := -std=c11 $(OPT) -g $(WARN) -fopenmp -fno-trapping-math -fno-math-errno -ffp-contract=off -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 \
           -I. -Iweights -Iengine -Iexplain $(SAN) $(EXTRA_CFLAGS)
LDLIBS  := -lpng -ljpeg -lm
LDFLAGS := -fopenmp $(SAN) $(EXTRA_LDFLAGS)

LIB_SRC   := $(sort $(wildcard engine/*.c weights/*.c explain/*.c))
TOOL_SRC  := $(sort $(wildcard tools/*.c))
TEST_SRC  := $(sort $(wildcard test/test_*.c))
BENCH_SRC := $(sort $(wildcard test/bench_*.c))
PUB_HDR   := $(sort $(wildcard engine/attx_*.h weights/attx_*.h explain/attx_*.h))

# the teaching page's script and style (web/), made a C file for explain --html
PAGE_SRC  := $(BUILD)/gen/explain_page.c
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TOOL_OBJ  := $(TOOL_SRC:%.c=$(BUILD)/obj/%.o) $(PAGE_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN  := $(TEST_SRC:test/%.c=$(BUILD)/test/%)
# the fuzz targets (section "Fuzzing" below); make test replays their corpora and regressions
FUZZ_TARGETS := $(sort $(patsubst test/fuzz/fuzz_%.c,%,$(wildcard test/fuzz/fuzz_*.c)))
FUZZ_REPLAY  := $(FUZZ_TARGETS:%=$(BUILD)/test/fuzz_replay_%)
BENCH_BIN := $(BENCH_SRC:test/%.c=$(BUILD)/test/%)
DEPS_OK   := $(BUILD)/.deps-ok

# the shared library: $(SO_FILE), soname $(SO_NAME) (the version is attx --version's)
VERSION   := $(shell sed -n 's/^\#define ATTX_VERSION "\(.*\)"/\1/p' tools/attx.c)
SO_NAME   := libattx.so.$(firstword $(subst ., ,$(VERSION)))
SO_FILE   := libattx.so.$(VERSION)

MPICC     ?= mpicc
MPI_OBJ   := $(TOOL_SRC:%.c=$(BUILD)/mpi/%.o) $(PAGE_SRC:%.c=$(BUILD)/mpi/%.o)
HAVE_MPI  := $(shell command -v $(MPICC) 2>/dev/null)

.PHONY: all test test-isa sanitize bench install uninstall clean deps demo mpi tcav-synth
.DELETE_ON_ERROR:

all: $(BUILD)/attx $(BUILD)/libattx.a $(BUILD)/libattx.so

# ---------------------------------------------------------------------------------------------
# Build dependencies: gcc with OpenMP, cmocka, libpng, libjpeg.
APT_PKGS := gcc make libc6-dev libcmocka-dev libpng-dev libjpeg-dev pkg-config
ifneq ($(CC_IS_CLANG),)
APT_PKGS += clang libomp-dev libclang-rt-dev
endif
deps: $(DEPS_OK)
$(DEPS_OK):
	@mkdir -p $(@D)
	@missing=""; \
	for h in cmocka.h png.h jpeglib.h omp.h; do \
	  printf '#include <stdarg.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <setjmp.h>\n#include <stdio.h>\n#include <%s>\n' $$h \
	    | $(CC) -fsyntax-only -x c - 2>/dev/null || missing="$$missing $$h"; \
	done; \
	if [ -n "$(SAN)" ]; then \
	  echo 'int main(void) { return 0; }' | $(CC) $(SAN) -fopenmp -x c - -o $(@D)/.san-check 2>/dev/null \
	    || missing="$$missing sanitizer-runtime"; rm -f $(@D)/.san-check; \
	fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "attx: installing build dependencies (missing:$$missing)"; \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(APT_PKGS) || exit 1; \
	  else \
	    echo "attx: missing build dependencies:$$missing"; \
	    echo "attx: install them with: sudo apt-get install -y $(APT_PKGS)"; exit 1; \
	  fi; \
	fi
	@touch $@

# ---------------------------------------------------------------------------------------------
# $(FLAGS_FILE) holds the compiler and flags the objects were built with; it is rewritten only
# when they change, and every object and test depends on it, so that another CC, OPT or
# EXTRA_CFLAGS rebuilds everything instead of linking objects built with other flags.
FLAGS_FILE := $(BUILD)/.flags
FLAGS_NOW  := $(CC) $(CFLAGS) | $(LDFLAGS) | $(MPICC)
$(shell mkdir -p $(BUILD) && { [ "$$(cat $(FLAGS_FILE) 2>/dev/null)" = '$(FLAGS_NOW)' ] || printf '%s\n' '$(FLAGS_NOW)' > $(FLAGS_FILE); })

# the library's objects are position-independent, for libattx.so and libattx.a alike (it costs
# no speed: test/bench_bert and bench_gemm measured the same either way)
$(LIB_OBJ): PIC := -fPIC
$(BUILD)/obj/%.o: %.c $(FLAGS_FILE) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PIC) -MMD -MP -c $< -o $@

# each line a C string literal (backslash, quote and ? escaped: no trigraphs)
C_STRING := sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/"/' -e 's/$$/\\n"/'
$(PAGE_SRC): web/explain_page.js web/explain_page.css
	@mkdir -p $(@D)
	{ echo '/* generated by make from web/explain_page.js and web/explain_page.css */'; \
	  echo '#include "tools/explain_view.h"'; echo 'const char explain_page_js[] ='; $(C_STRING) web/explain_page.js; echo ';'; \
	  echo 'const char explain_page_css[] ='; $(C_STRING) web/explain_page.css; echo ';'; } > $@

$(BUILD)/libattx.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# --no-undefined: every library libattx.so needs is on its link line (not with sanitizers, whose
# runtime the program brings)
NO_UNDEFINED := -Wl,--no-undefined
$(BUILD)/$(SO_FILE): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SO_NAME) $(if $(SAN),,$(NO_UNDEFINED)) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libattx.so: $(BUILD)/$(SO_FILE)
	ln -sf $(SO_FILE) $(BUILD)/$(SO_NAME)
	ln -sf $(SO_NAME) $@

$(BUILD)/attx: $(TOOL_OBJ) $(BUILD)/libattx.a
	$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJ) $(BUILD)/libattx.a $(LDLIBS)

$(BUILD)/test/test_threads: LDLIBS += -lpthread
$(BUILD)/test/%: test/%.c $(BUILD)/libattx.a $(FLAGS_FILE) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(BUILD)/libattx.a -lcmocka $(LDLIBS) $(LDFLAGS)

# attx with MPI: the same tools compiled by mpicc with ATTX_MPI (attx eval splits examples
# across ranks), linked with the same library. mpicc is told to run $(CC) (Open MPI reads
# OMPI_CC, MPICH MPICH_CC), so that with CC=clang the link gets clang's OpenMP runtime, not gcc's.
MPICC_RUN := OMPI_CC="$(CC)" MPICH_CC="$(CC)" $(MPICC)
ifneq ($(HAVE_MPI),)
mpi: $(BUILD)/attx-mpi
else
mpi:
	@echo "attx: $(MPICC) not found; install it with: sudo apt-get install -y libopenmpi-dev openmpi-bin"; exit 1
endif

$(BUILD)/mpi/%.o: %.c $(FLAGS_FILE) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(MPICC_RUN) $(CFLAGS) -DATTX_MPI -MMD -MP -c $< -o $@

$(BUILD)/attx-mpi: $(MPI_OBJ) $(BUILD)/libattx.a
	$(MPICC_RUN) $(LDFLAGS) -o $@ $(MPI_OBJ) $(BUILD)/libattx.a $(LDLIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------------------------------------
# test_readme compiles the README's example with $(CC) and $(SAN), and installs libattx.so
test: $(BUILD)/attx $(BUILD)/libattx.so $(TEST_BIN) $(FUZZ_REPLAY) $(if $(HAVE_MPI),$(BUILD)/attx-mpi)
	@ATTX=$(BUILD)/attx ATTX_MPI_BIN=$(BUILD)/attx-mpi BUILD=$(BUILD) CC="$(CC)" SAN="$(SAN)" \
	    sh test/run_tests.sh $(TEST_BIN) $(FUZZ_REPLAY)

# the numeric tests again with the kernels forced lower (ATTX_ISA), so that a machine with
# AVX-512 also checks the AVX2 and portable paths against the same references
ISA_TESTS := $(addprefix $(BUILD)/test/,test_dtype test_gemm test_gemm_q8 test_int8 test_gemm_bf16 test_bf16 test_ops test_forward test_bert test_vit test_embed test_explain test_threads)
test-isa: $(BUILD)/attx $(ISA_TESTS)
	@for isa in avx2 portable; do echo "== ATTX_ISA=$$isa"; \
	  out=$$(ATTX_ISA=$$isa ATTX=$(BUILD)/attx BUILD=$(BUILD) sh test/run_tests.sh $(ISA_TESTS)); status=$$?; \
	  printf '%s\n' "$$out" | grep -E '^(tests|test binaries|\[  FAILED|\[  ERROR)'; [ $$status -eq 0 ] || exit 1; done

demo: $(BUILD)/attx
	@sh tools/demo.sh $(BUILD)/attx data/sst2-minilm.safetensors data/demo-sentences.txt \
	    data/all-MiniLM-L6-v2-f16.safetensors data/search-lines.txt

# CC passes through to the sub-make (make sanitize CC=clang); clang's objects go to their own folder
SAN_BUILD ?= build-san$(if $(CC_IS_CLANG),-clang)
SAN_FLAGS ?= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
sanitize:
	$(MAKE) BUILD=$(SAN_BUILD) OPT=-O1 SAN="$(SAN_FLAGS)" test

# the pre-registered T-TCAV evaluation of the README (attx tcav-check on the synthetic ViTs; about 10 minutes)
tcav-synth: $(BUILD)/attx
	@sh tools/tcav_synth.sh $(BUILD)/attx $(BUILD)/synth-tcav

bench: $(BUILD)/attx $(BENCH_BIN)
	@for b in $(BENCH_BIN); do $$b || exit 1; done

# install writes the files of INSTALLED (making the folders it needs); uninstall removes them and
# include/attx, the one folder that is attx's alone
INSTALLED := bin/attx lib/libattx.a lib/$(SO_FILE) lib/$(SO_NAME) lib/libattx.so lib/pkgconfig/attx.pc \
             $(addprefix include/attx/,$(notdir $(PUB_HDR)))
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/attx
	install -m 755 $(BUILD)/attx $(DESTDIR)$(PREFIX)/bin/attx
	install -m 644 $(BUILD)/libattx.a $(DESTDIR)$(PREFIX)/lib/libattx.a
	install -m 755 $(BUILD)/$(SO_FILE) $(DESTDIR)$(PREFIX)/lib/$(SO_FILE)
	ln -sf $(SO_FILE) $(DESTDIR)$(PREFIX)/lib/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(PREFIX)/lib/libattx.so
	install -m 644 $(PUB_HDR) $(DESTDIR)$(PREFIX)/include/attx/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' tools/attx.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/attx.pc

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALLED))
	if [ -d $(DESTDIR)$(PREFIX)/include/attx ]; then rmdir $(DESTDIR)$(PREFIX)/include/attx; fi

clean:
	rm -rf build build-san build-san-clang

# ---------------------------------------------------------------------------------------------
# The teaching page live in the browser: the library, tools/explain_view.c and web/attx_web.c
# compiled to WebAssembly by emscripten (Debian's `emscripten`), no OpenMP (one thread), no
# libpng/libjpeg (ATTX_NO_CODECS: the page explains text models). `make web` writes
# $(BUILD)/web/attx.html with attx.js and attx.wasm beside it; `make test-web` drives it in
# headless chromium from a loopback server and compares it with native attx.
EMCC      ?= emcc
WEB_DIR   := $(BUILD)/web
WEB_SRC   := $(LIB_SRC) tools/explain_view.c web/attx_web.c
WEB_OBJ   := $(WEB_SRC:%.c=$(WEB_DIR)/obj/%.o)
WEB_CFLAGS := -std=c11 -O2 $(WARN) -Wno-unknown-pragmas -Wno-unused-function -fno-math-errno -ffp-contract=off \
              -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 -DATTX_NO_CODECS -I. -Iweights -Iengine -Iexplain
WEB_LDFLAGS := -O2 -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=2147483648 -sFORCE_FILESYSTEM=1 -sENVIRONMENT=web \
               -sEXPORTED_FUNCTIONS=_attx_web_open,_attx_web_explain -sEXPORTED_RUNTIME_METHODS=ccall,FS
.PHONY: web test-web web-deps web-browser
web: $(WEB_DIR)/attx.html $(WEB_DIR)/attx.js $(WEB_DIR)/attx-serve

web-deps:
	@if ! command -v $(EMCC) >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "attx: installing emscripten"; apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y emscripten || exit 1; \
	  else echo "attx: emcc not found; install it with: sudo apt-get install -y emscripten"; exit 1; fi; fi

$(WEB_DIR)/obj/%.o: %.c | web-deps
	@mkdir -p $(@D)
	$(EMCC) $(WEB_CFLAGS) -MMD -MP -c $< -o $@

# Debian's emscripten finds its acorn in /usr/share/nodejs, where a node not built by Debian
# does not look
WEB_NODE_PATH := $(if $(wildcard /usr/share/nodejs/acorn),NODE_PATH=/usr/share/nodejs)
$(WEB_DIR)/attx.js: $(WEB_OBJ)
	$(WEB_NODE_PATH) $(EMCC) $(WEB_LDFLAGS) -o $@ $(WEB_OBJ)

# the page: web/attx.html with the renderer's style and script put in
$(WEB_DIR)/attx.html: web/attx.html web/explain_page.js web/explain_page.css
	@mkdir -p $(@D)
	sed -e '/@EXPLAIN_PAGE_CSS@/{r web/explain_page.css' -e 'd;}' -e '/@EXPLAIN_PAGE_JS@/{r web/explain_page.js' -e 'd;}' \
	    web/attx.html > $@

# attx-serve: the loopback-only server that the live page needs (a native program)
$(WEB_DIR)/attx-serve: web/serve.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

# headless chromium for test-web: installed as the other dependencies are (apt-get as root);
# without it (and not root) the test says so and skips
web-browser:
	@if ! command -v chromium >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "attx: installing chromium"; apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium || \
	  echo "attx: chromium did not install; test-web will skip"; fi

test-web: web-browser $(BUILD)/attx $(WEB_DIR)/attx-serve $(BUILD)/test/web_check
	@sh test/web.sh $(BUILD)/attx $(WEB_DIR) "$(MAKE) BUILD=$(BUILD) web" $(BUILD)/test

# ---------------------------------------------------------------------------------------------
# Fuzzing (test/fuzz/README.md). `make fuzz` builds every test/fuzz/fuzz_<target>.c as a libFuzzer
# binary with $(CC_FUZZ) (clang), ASan and UBSan into $(BUILD)/fuzz/, and runs each one in turn
# for FUZZ_SECONDS on a copy of its seed corpus, printing its executions and coverage; it fails
# when a target crashes (the input is then in $(BUILD)/fuzz/<target>/). `make fuzz-long`: an hour
# each. `make test` runs the same files, built with $(CC) and replay.c, on the committed corpora
# and regressions.
CC_FUZZ      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_RSS_MB  ?= 2048
FUZZ_SAN     ?= -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := $(filter-out -O% -fsanitize% -fno-sanitize%,$(CFLAGS)) -O1 $(FUZZ_SAN)
FUZZ_OBJ     := $(LIB_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

.PHONY: fuzz fuzz-long fuzz-build
fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@sh test/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ_RSS_MB) $(FUZZ_TARGETS)

fuzz-long:
	$(MAKE) fuzz FUZZ_SECONDS=3600

# the library instrumented for coverage (fuzzer-no-link), linked into every target
$(BUILD)/fuzz/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC_FUZZ) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(BUILD)/fuzz/libattx.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: test/fuzz/fuzz_%.c test/fuzz/fuzz_util.h $(BUILD)/fuzz/libattx.a
	$(CC_FUZZ) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/fuzz/libattx.a $(LDLIBS) -fopenmp

$(FUZZ_REPLAY): $(BUILD)/test/fuzz_replay_%: test/fuzz/fuzz_%.c test/fuzz/replay.c test/fuzz/fuzz_util.h \
                $(BUILD)/libattx.a | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DATTX_FUZZ_REPLAY -DFUZZ_TARGET='"$*"' -o $@ $< test/fuzz/replay.c \
	    $(BUILD)/libattx.a -lcmocka $(LDLIBS) $(LDFLAGS)
