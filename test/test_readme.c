/* test_readme.c — the README's library example, extracted from README.md between its
 * example markers, compiled against build/libattx.a and run on a fixture model; and the
 * README's two commands are there. */
#include "testutil.h"

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

    char *dir = tu_mkdtemp(), *src = tu_path(dir, "example.c"), *bin = tu_path(dir, "example");
    tu_write(src, start, (size_t)(end - start));
    const char *build = getenv("BUILD");
    char cmd[8192], *out, *err;
    snprintf(cmd, sizeof cmd, "cc -std=c11 -Wall -Wextra -Werror -Iweights -Iengine '%s' %s/libattx.a -fopenmp "
             "-lpng -ljpeg -lm %s -o '%s'", src, build && *build ? build : "build",
             strstr(build ? build : "", "san") ? "-fsanitize=address,undefined" : "", bin);
    if (tu_run(cmd, NULL, &err) != 0) fail_msg("the README example does not compile: %s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "'%s' test/fixtures/bert/tiny 'the movie was good'", bin);
    int status = tu_run(cmd, &out, &err);
    if (status != 0) fail_msg("the README example failed: %s", err);
    assert_contains(out, "negative (logit");
    assert_contains(out, "attention [CLS] -> 'the' = ");
    assert_contains(out, "gradient");
    /* the output shown in the README is this output */
    char *shown = strstr(readme, "$ ./example test/fixtures/bert/tiny \"the movie was good\"\n");
    assert_non_null(shown);
    char *line = strtok(out, "\n");
    while (line) {
        assert_contains(shown, line);
        line = strtok(NULL, "\n");
    }
    free(out);
    free(err);
    free(src);
    free(bin);
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
