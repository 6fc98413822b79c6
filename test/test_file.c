/* test_file.c — weights/file.c, the one way attx opens a file to read it: a FIFO, a device or
 * a directory is refused with the path and what it is, at once (a FIFO opened for reading
 * would block until a writer came: every test here runs under alarm(), so a hang fails the
 * run instead of stalling it), through every reader that takes a path; regular files read
 * whole, mapped or by their first bytes. */
#include "testutil.h"

#include <signal.h>

#include "attx_engine.h"

#define BERT "test/fixtures/bert/tiny"

static char *dir, *fifo;

static int setup(void **state)
{
    (void)state;
    dir = tu_mkdtemp();
    fifo = tu_path(dir, "pipe");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(fifo);
    tu_rmdir(dir);
    return 0;
}

static void expect_refused(int rc, const attx_error *err, const char *path, const char *kind)
{
    assert_int_equal(rc, -1);
    char want[4200];
    snprintf(want, sizeof want, "%s: is %s, not a regular file", path, kind);
    assert_contains(err->msg, want);
}

static void test_file_functions(void **state)
{
    (void)state;
    attx_error err;
    char *text, head[8];
    void *map;
    size_t len, got;
    const struct { const char *path, *kind; } cases[] = {
        {fifo, "a FIFO (named pipe)"},
        {"/dev/null", "a character device"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_refused(attx_read_file(cases[i].path, 1 << 20, &text, &len, &err), &err, cases[i].path, cases[i].kind);
        expect_refused(attx_map_file(cases[i].path, &map, &len, &err), &err, cases[i].path, cases[i].kind);
        expect_refused(attx_read_file_head(cases[i].path, head, sizeof head, &got, &err), &err, cases[i].path,
                       cases[i].kind);
    }
    assert_int_equal(attx_read_file(dir, 1 << 20, &text, &len, &err), -1);
    assert_contains(err.msg, "is a directory, expected a file");
    assert_int_equal(attx_read_file_head(dir, head, sizeof head, &got, &err), -1);
    assert_contains(err.msg, "is a directory");
    assert_int_equal(attx_read_file("/nonexistent/x", 1 << 20, &text, &len, &err), -1);
    assert_contains(err.msg, "/nonexistent/x: No such file or directory");

    /* regular files: the first bytes, fewer when the file is shorter */
    char *small = tu_path(dir, "small");
    tu_write(small, "PK", 2);
    assert_int_equal(attx_read_file_head(small, head, sizeof head, &got, &err), 0);
    assert_int_equal(got, 2);
    assert_memory_equal(head, "PK", 2);
    assert_int_equal(attx_read_file_head(BERT "/vocab.txt", head, 5, &got, &err), 0);
    assert_int_equal(got, 5);
    assert_memory_equal(head, "[PAD]", 5);
    assert_int_equal(attx_read_file(small, 1 << 20, &text, &len, &err), 0);
    assert_int_equal(len, 2);
    assert_string_equal(text, "PK");
    free(text);
    assert_int_equal(attx_read_file(small, 1, &text, &len, &err), -1);
    assert_contains(err.msg, "more than the 1 allowed");
    free(small);
}

/* Every reader that takes a path: the FIFO is named, nothing blocks. */
static void test_readers(void **state)
{
    (void)state;
    attx_error err;
    attx_model *m;
    expect_refused(attx_model_open(&m, fifo, &err), &err, fifo, "a FIFO (named pipe)");
    attx_tensor_file tf;
    expect_refused(attx_safetensors_open(&tf, fifo, &err), &err, fifo, "a FIFO (named pipe)");
    attx_image img;
    expect_refused(attx_image_load(&img, fifo, &err), &err, fifo, "a FIFO (named pipe)");
    attx_dataset ds;
    expect_refused(attx_dataset_read(&ds, fifo, NULL, &err), &err, fifo, "a FIFO (named pipe)");

    /* a model directory whose weights, config or vocabulary is a FIFO */
    const char *pieces[] = {"model.safetensors", "config.json", "vocab.txt"};
    for (int p = 0; p < 3; p++) {
        char *model = tu_path(dir, "model");
        assert_int_equal(mkdir(model, 0700), 0);
        for (int q = 0; q < 3; q++) {
            char *path = tu_path(model, pieces[q]);
            if (q == p) {
                assert_int_equal(mkfifo(path, 0600), 0);
            } else {
                char *src = tu_path(BERT, pieces[q]);
                size_t len;
                char *bytes = tu_read(src, &len);
                tu_write(path, bytes, len);
                free(bytes);
                free(src);
            }
            free(path);
        }
        char *named = tu_path(model, pieces[p]);
        expect_refused(attx_model_open(&m, model, &err), &err, named, "a FIFO (named pipe)");
        free(named);
        char cmd[4300];
        snprintf(cmd, sizeof cmd, "rm -r '%s'", model);
        assert_int_equal(system(cmd), 0);
        free(model);
    }
}

int main(void)
{
    alarm(60);   /* a reader that blocks on the FIFO ends the run (SIGALRM) instead of hanging it */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_functions),
        cmocka_unit_test(test_readers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
