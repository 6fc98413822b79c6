/* test_readme.c — the README's library example, extracted from README.md between its example
 * markers, compiled with the Makefile's compiler ($CC, with its sanitizer flags $SAN) and run
 * on a fixture model, three ways: against $BUILD/libattx.a as the README's first command does;
 * after `make install` into a temporary prefix, against libattx.so through
 * `pkg-config --cflags --libs attx`; and against the installed libattx.a through
 * `pkg-config --static`. Then `make uninstall` must remove every file install wrote. And the
 * README's two commands are there. */
#include "testutil.h"

#define RUN_ARGS "test/fixtures/bert/tiny 'the movie was good'"

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* Runs cmd; fails the test with its stderr unless it exits 0. Returns its stdout. */
static char *must_run(const char *what, const char *cmd)
{
    char *out, *err;
    if (tu_run(cmd, &out, &err) != 0) fail_msg("%s failed: %s\n%s", what, cmd, err);
    free(err);
    return out;
}

/* The example's output: the lines the README shows after its run command. */
static void check_output(const char *readme, const char *bin)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' " RUN_ARGS, bin);
    char *out = must_run("the README example", cmd);
    assert_contains(out, "negative (logit");
    assert_contains(out, "attention [CLS] -> 'the' = ");
    assert_contains(out, "gradient");
    const char *shown = strstr(readme, "$ ./example test/fixtures/bert/tiny \"the movie was good\"\n");
    assert_non_null(shown);
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) assert_contains(shown, line);
    free(out);
}

/* 1 when the program's dynamic section needs a library whose name starts with lib. */
static int needs_library(const char *bin, const char *lib)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "(readelf -d '%s' || true)", bin);
    char *out = must_run("readelf", cmd);
    char needle[256];
    snprintf(needle, sizeof needle, "[%s", lib);
    int found = strstr(out, needle) != NULL;
    free(out);
    return found;
}

/* Every file and symbolic link under dir, one per line, sorted. */
static char *files_under(const char *dir)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "(cd '%s' && find . ! -type d | sort)", dir);
    return must_run("find", cmd);
}

static void test_example_compiles_and_runs(void **state)
{
    (void)state;
    size_t len;
    char *readme = tu_read("README.md", &len);
    char *start = strstr(readme, "<!-- example:start -->\n```c\n");
    assert_non_null(start);
    start += strlen("<!-- example:start -->\n```c\n");
    char *end = strstr(start, "```\n<!-- example:end -->");
    assert_non_null(end);

    char *dir = tu_mkdtemp(), *src = tu_path(dir, "example.c"), *prefix = tu_path(dir, "prefix");
    tu_write(src, start, (size_t)(end - start));
    const char *cc = env_or("CC", "cc"), *san = env_or("SAN", ""), *build = env_or("BUILD", "build");
    char cmd[32768], bin[1024], *out;
    const char *warn = "-std=c11 -Wall -Wextra -Werror";

    /* 1. the build folder's static library, as the README's first command */
    snprintf(bin, sizeof bin, "%s/example-build", dir);
    snprintf(cmd, sizeof cmd, "%s %s -Iweights -Iengine '%s' %s/libattx.a -fopenmp -lpng -ljpeg -lm %s -o '%s'", cc,
             warn, src, build, san, bin);
    free(must_run("compiling the README example against libattx.a", cmd));
    check_output(readme, bin);

    /* 2. make install into a temporary prefix (what `make` built, nothing remade) */
    snprintf(cmd, sizeof cmd, "make -s -o all install BUILD='%s' PREFIX='%s'", build, prefix);
    free(must_run("make install", cmd));
    char *installed = files_under(prefix);
    const char *expected[] = {"./bin/attx", "./include/attx/attx_engine.h", "./include/attx/attx_weights.h",
                              "./include/attx/attx_explain.h", "./lib/libattx.a", "./lib/libattx.so",
                              "./lib/libattx.so.0", "./lib/pkgconfig/attx.pc"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) assert_contains(installed, expected[i]);
    free(installed);
    char pkg[2048];
    snprintf(pkg, sizeof pkg, "PKG_CONFIG_PATH='%s/lib/pkgconfig' pkg-config", prefix);

    /* 3. dynamic: pkg-config --cflags --libs attx, and the program needs libattx.so.0 */
    snprintf(bin, sizeof bin, "%s/example-shared", dir);
    snprintf(cmd, sizeof cmd, "%s %s '%s' $(%s --cflags --libs attx) %s -Wl,-rpath,'%s/lib' -o '%s'", cc, warn, src,
             pkg, san, prefix, bin);
    free(must_run("compiling the README example with pkg-config --cflags --libs attx", cmd));
    assert_true(needs_library(bin, "libattx.so.0]"));
    check_output(readme, bin);

    /* 4. static: pkg-config --static gives every library libattx.a needs; -lattx taken as the
     * archive (the linker prefers libattx.so beside it) */
    snprintf(bin, sizeof bin, "%s/example-static", dir);
    snprintf(cmd, sizeof cmd, "%s %s '%s' $(%s --cflags attx) $(%s --static --libs attx | sed "
             "'s/-lattx/-Wl,-Bstatic -lattx -Wl,-Bdynamic/') %s -o '%s'", cc, warn, src, pkg, pkg, san, bin);
    free(must_run("compiling the README example with pkg-config --static --libs attx", cmd));
    assert_false(needs_library(bin, "libattx"));
    check_output(readme, bin);
    /* and wholly static as the README shows it (gcc: clang's OpenMP runtime has no static
     * archive; sanitizers cannot link statically) */
    snprintf(cmd, sizeof cmd, "(%s --version | grep -qi clang)", cc);
    if (!*san && tu_run(cmd, NULL, NULL) != 0) {
        snprintf(cmd, sizeof cmd, "%s %s -static '%s' $(%s --static --cflags --libs attx) -o '%s'", cc, warn, src, pkg,
                 bin);
        free(must_run("compiling the README example with -static", cmd));
        snprintf(cmd, sizeof cmd, "readelf -d '%s'", bin);
        out = must_run("readelf", cmd);
        assert_contains(out, "no dynamic section");
        free(out);
        check_output(readme, bin);
    }

    /* 5. make uninstall removes every file install wrote, and include/attx */
    snprintf(cmd, sizeof cmd, "make -s uninstall PREFIX='%s'", prefix);
    free(must_run("make uninstall", cmd));
    char *left = files_under(prefix);
    assert_string_equal(left, "");
    free(left);
    struct stat st;
    char *inc = tu_path(prefix, "include/attx");
    assert_int_not_equal(stat(inc, &st), 0);
    free(inc);

    free(src);
    free(prefix);
    tu_rmdir(dir);
    free(readme);
}

static void test_two_commands(void **state)
{
    (void)state;
    size_t len;
    char *readme = tu_read("README.md", &len);
    assert_contains(readme, "make test");
    assert_contains(readme, "make demo");
    free(readme);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_compiles_and_runs),
        cmocka_unit_test(test_two_commands),
    };
    return cmocka_run_group_tests_name("readme", tests, NULL, NULL);
}
