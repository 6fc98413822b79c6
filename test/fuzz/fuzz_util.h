/* fuzz_util.h — what the fuzz targets share. Each test/fuzz/fuzz_<target>.c defines
 * LLVMFuzzerTestOneInput and is built two ways: with libFuzzer (clang -fsanitize=fuzzer, by
 * `make fuzz`) and with replay.c's main (any compiler, by `make test`, which runs the committed
 * corpus and regression inputs through it; ATTX_FUZZ_REPLAY is then defined).
 *
 * FUZZ_CHECK states a property of the code under test (e.g. "a document the writer produced
 * parses again"); a violation aborts, which libFuzzer reports as a crash with its input. */
#ifndef ATTX_FUZZ_UTIL_H
#define ATTX_FUZZ_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);   /* optional: once, before the first input */

#define FUZZ_CHECK(cond)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                            \
        }                                                                                       \
    } while (0)

/* ---- a scratch directory, for the readers that only take a path ---- */

#define FUZZ_MAX_FILES 8
static char fuzz_dir[256];
static char fuzz_files[FUZZ_MAX_FILES][320];
static int fuzz_n_files;

static inline void fuzz_remove_scratch(void)
{
    for (int i = 0; i < fuzz_n_files; i++) unlink(fuzz_files[i]);
    if (fuzz_dir[0]) rmdir(fuzz_dir);
}

/* Writes bytes to the file `name` in this process's scratch directory (made on first use under
 * $TMPDIR, else /dev/shm or /tmp; removed at exit) and returns its path. Any failure here is the machine's, not the code's
 * under test: it aborts with a message. */
static inline const char *fuzz_write_file(const char *name, const void *bytes, size_t n)
{
    if (!fuzz_dir[0]) {
        /* memory-backed /dev/shm when there is one: thousands of writes a second stay off disk */
        const char *tmp = getenv("TMPDIR");
        if (!tmp || !*tmp) tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/attx-fuzz-XXXXXX", tmp);
        if (!mkdtemp(fuzz_dir)) {
            fprintf(stderr, "fuzz: cannot make a scratch directory %s: %s\n", fuzz_dir, strerror(errno));
            abort();
        }
        atexit(fuzz_remove_scratch);
    }
    char path[320];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir, name);
    int known = 0;
    for (int i = 0; i < fuzz_n_files; i++) known |= strcmp(fuzz_files[i], path) == 0;
    if (!known) {
        if (fuzz_n_files == FUZZ_MAX_FILES) abort();
        memcpy(fuzz_files[fuzz_n_files++], path, sizeof path);
    }
    /* a new file each time: ext4 flushes a file truncated and rewritten in place on close */
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
    const char *p = bytes;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
            abort();
        }
        p += w;
        n -= (size_t)w;
    }
    close(fd);
    for (int i = 0; i < fuzz_n_files; i++)
        if (strcmp(fuzz_files[i], path) == 0) return fuzz_files[i];
    abort();
}

#endif
