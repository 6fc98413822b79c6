/* replay.c — a fuzz target without libFuzzer: runs LLVMFuzzerTestOneInput of one target
 * (compiled in beside this file, its name in FUZZ_TARGET) on every file of its committed seed
 * corpus, test/fuzz/corpus/<target>/, and of its regressions, test/fuzz/regressions/<target>/
 * (inputs that once crashed a fuzzer, kept after the fix). `make test` builds and runs one such
 * binary per target with the normal compiler from the repository root, and `make sanitize`
 * under ASan + UBSan, so the fixed bugs stay fixed on machines without clang. A test fails
 * when its directory cannot be read; an input that crashes ends the binary (run_tests.sh
 * reports that), after naming the input on stderr.
 *
 * With file arguments it runs just those files, outside cmocka: to reproduce a crash with gdb. */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name the target, e.g. -DFUZZ_TARGET='\"json\"'"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* optional in a target */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static const char *current_input = "(none)";

/* write(2) only: called from a signal handler */
static void say(const char *s)
{
    if (write(STDERR_FILENO, s, strlen(s)) < 0) return;
}

static void name_the_input(int sig)
{
    say("fuzz replay " FUZZ_TARGET ": crashed on ");
    say(current_input);
    say("\n");
    signal(sig, SIG_DFL);
    raise(sig);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One file through the target; 0, or -1 when it cannot be read. */
static int replay_file(const char *path)
{
    struct stat st;
    FILE *f = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? fopen(path, "rb") : NULL;
    if (!f) return -1;
    /* an exactly-sized heap copy, so that ASan sees a read past the end */
    uint8_t *bytes = malloc(st.st_size ? (size_t)st.st_size : 1);
    size_t got = bytes ? fread(bytes, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!bytes || got != (size_t)st.st_size) {
        free(bytes);
        return -1;
    }
    current_input = path;
    LLVMFuzzerTestOneInput(bytes, got);
    current_input = "(none)";
    free(bytes);
    return 0;
}

/* Every regular file of dir, in name order, through the target. Returns the number run, or
 * -1 when dir is missing (missing_ok: 0 files). */
static int replay_dir(const char *dir, int missing_ok)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (missing_ok) return 0;
        print_error("cannot read %s\n", dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
            assert_non_null(names);
        }
        names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2);
        assert_non_null(names[n]);
        sprintf(names[n], "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    /* installed here, over cmocka's handlers: a crash ends the binary and names its input */
    void (*old[4])(int);
    const int sigs[4] = {SIGSEGV, SIGABRT, SIGFPE, SIGBUS};
    for (int s = 0; s < 4; s++) old[s] = signal(sigs[s], name_the_input);
    int run = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(names[i]) != 0) {
                print_error("cannot read %s\n", names[i]);
                run = -1;
            } else if (run >= 0) {
                run++;
            }
        }
        free(names[i]);
    }
    for (int s = 0; s < 4; s++) signal(sigs[s], old[s]);
    free(names);
    return run;
}

static void test_corpus(void **state)
{
    (void)state;
    int n = replay_dir("test/fuzz/corpus/" FUZZ_TARGET, 0);
    assert_true(n > 0);
    print_message("%d seed inputs of %s\n", n, FUZZ_TARGET);
}

static void test_regressions(void **state)
{
    (void)state;
    int n = replay_dir("test/fuzz/regressions/" FUZZ_TARGET, 1);
    assert_true(n >= 0);
    print_message("%d regression inputs of %s\n", n, FUZZ_TARGET);
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            if (replay_file(argv[i]) != 0) {
                fprintf(stderr, "%s: cannot read this file\n", argv[i]);
                return 1;
            }
            fprintf(stderr, "%s: ran\n", argv[i]);
        }
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_regressions),
    };
    return cmocka_run_group_tests_name("fuzz_" FUZZ_TARGET, tests, NULL, NULL);
}
