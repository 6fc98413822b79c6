/* testutil.h — small helpers shared by the cmocka tests (header-only; tests are one file each). */
#ifndef ATTX_TESTUTIL_H
#define ATTX_TESTUTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "attx_weights.h"

/* A fresh directory under $TMPDIR (or /tmp) for one test; removed by tu_rmdir. */
static inline char *tu_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/attx-test-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(path));
    return path;
}

static inline void tu_rmdir(char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
    free(path);
}

static inline char *tu_path(const char *dir, const char *name)
{
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/%s", dir, name);
    return p;
}

static inline void tu_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static inline void tu_write_str(const char *path, const char *s)
{
    tu_write(path, s, strlen(s));
}

static inline char *tu_read(const char *path, size_t *len)
{
    char *data[1] = {NULL};   /* an array, so gcc 12's -Wdangling-pointer does not misfire */
    attx_error err;
    if (attx_read_file(path, (size_t)1 << 30, &data[0], len, &err) != 0) fail_msg("%s", err.msg);
    return data[0];
}

/* Runs a shell command, capturing stdout and stderr into malloc'd strings; returns the exit
 * status (or -1 if it did not exit normally, e.g. a crash). */
static inline int tu_run(const char *cmd, char **out, char **errout)
{
    char *dir = tu_mkdtemp();
    char *o = tu_path(dir, "out"), *e = tu_path(dir, "err");
    size_t n = strlen(cmd) + 2 * 4096 + 32;
    char *full = malloc(n);
    snprintf(full, n, "%s >'%s' 2>'%s' </dev/null", cmd, o, e);
    int status = system(full);
    size_t len;
    char *so = tu_read(o, &len), *se = tu_read(e, &len);
    if (out) *out = so; else free(so);
    if (errout) *errout = se; else free(se);
    free(full);
    free(o);
    free(e);
    tu_rmdir(dir);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* xorshift64: a seeded, reproducible stream of 64-bit values for the tests. */
static inline uint64_t tu_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Skips the calling test (cmocka's skip) with a one-line reason when a file it needs cannot be
 * read: the data of ../shared is beside the developers' checkout, not in a user's fresh clone.
 * Call it before allocating anything, so a skipped test leaks nothing. */
static inline void tu_need_file(const char *path)
{
    if (access(path, R_OK) == 0) return;
    print_message("skipped: %s is not there (../shared is not beside this checkout)\n", path);
    skip();
}

/* Path of the attx binary under test ($ATTX, else build/attx). */
static inline const char *tu_attx(void)
{
    const char *p = getenv("ATTX");
    return p && *p ? p : "build/attx";
}

#define assert_contains(haystack, needle)                                                       \
    do {                                                                                        \
        const char *h_ = (haystack), *n_ = (needle);                                            \
        if (!h_ || !strstr(h_, n_)) fail_msg("expected \"%s\" in \"%s\"", n_, h_ ? h_ : "(null)"); \
    } while (0)

/* Rewrites the safetensors file `from` as `to` (metadata kept, tensors as F32) with element
 * `index` of tensor `name` set to NaN. */
static inline void tu_write_with_nan(const char *from, const char *to, const char *name, uint64_t index)
{
    attx_tensor_file f;
    attx_error e;
    if (attx_safetensors_open(&f, from, &e) != 0) fail_msg("%s", e.msg);
    attx_st_entry *entries = calloc(f.n_tensors, sizeof *entries);
    float **data = calloc(f.n_tensors, sizeof *data);
    int found = 0;
    for (size_t t = 0; t < f.n_tensors; t++) {
        const attx_stored_tensor *st = &f.tensors[t];
        data[t] = malloc(st->numel * sizeof(float));
        if (attx_stored_tensor_to_f32(st, data[t], &e) != 0) fail_msg("%s", e.msg);
        if (strcmp(st->name, name) == 0) data[t][index] = NAN, found = 1;
        entries[t] = (attx_st_entry){.name = st->name, .dtype = ATTX_F32, .ndim = st->ndim, .f32 = data[t]};
        memcpy(entries[t].shape, st->shape, sizeof st->shape);
    }
    if (!found) fail_msg("%s has no tensor %s", from, name);
    if (attx_safetensors_write(to, entries, f.n_tensors, (const char *const *)f.meta_keys,
                               (const char *const *)f.meta_values, f.n_meta, &e) != 0)
        fail_msg("%s", e.msg);
    for (size_t t = 0; t < f.n_tensors; t++) free(data[t]);
    free(data), free(entries);
    attx_tensor_file_close(&f);
}

#endif
