/* test_threads.c — what attx_engine.h says may be shared between threads: one model (and its
 * tokenizer) used by two pthreads at once, each with its own context and encodings, gives the
 * same bits as one thread alone (logits, and the gradient of the predicted logit with respect to
 * the last layer's attention probabilities); with one OpenMP thread per pthread, and with every
 * loop forced onto a team of two inside each pthread. */
#include "testutil.h"

#include <omp.h>
#include <pthread.h>

#include "attx_engine.h"
#include "parallel.h"

#define MODEL "test/fixtures/bert/tiny"
#define ROUNDS 30
#define N_TEXTS 4

static const char *const texts[N_TEXTS] = {
    "the movie was good", "a long , boring mess", "not bad at all , actually quite charming .", "",
};

/* One text's results: logits[C], then d logit[best] / d attention of the last layer. */
typedef struct result {
    float *values;
    size_t n;
} result;

/* Encodes text, runs the forward pass with the tape and the backward pass from the best
 * logit, and returns the results (malloc'd), or values = NULL after an error. */
static result run_text(const attx_model *m, attx_ctx *ctx, const char *text)
{
    result r = {NULL, 0};
    attx_error err;
    attx_encoding enc;
    if (attx_encode_text(m, text, strlen(text), &enc, &err) != 0) return r;
    const attx_config *cfg = attx_model_config(m);
    attx_ctx_reset(ctx);
    attx_ctx_set_tape(ctx, 1);
    attx_batch batch = {.B = 1, .T = enc.length, .ids = enc.ids, .lengths = &enc.length};
    attx_outputs out;
    float *seed = calloc((size_t)cfg->num_labels, sizeof *seed);
    if (seed && attx_forward(m, ctx, &batch, &out, &err) == 0) {
        const float *logits = out.logits->data;
        int best = 0;
        for (int k = 1; k < cfg->num_labels; k++)
            if (logits[k] > logits[best]) best = k;
        seed[best] = 1;
        const attx_tensor *a = out.attn[cfg->num_layers - 1];
        if (attx_backward(ctx, out.logits, seed) == 0 && a->grad) {
            r.n = (size_t)cfg->num_labels + (size_t)a->numel;
            r.values = malloc(r.n * sizeof *r.values);
            memcpy(r.values, logits, (size_t)cfg->num_labels * sizeof *r.values);
            memcpy(r.values + cfg->num_labels, a->grad, (size_t)a->numel * sizeof *r.values);
        }
    }
    free(seed);
    attx_encoding_free(&enc);
    return r;
}

typedef struct worker {
    const attx_model *model;
    const result *expected;    /* [N_TEXTS], from one thread alone */
    int omp_threads;
    int first;                 /* text this worker starts with: the two interleave differently */
    int runs, mismatches, errors;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    attx_set_threads(w->omp_threads);   /* this pthread's OpenMP thread count */
    attx_ctx *ctx = attx_ctx_new();
    for (int round = 0; ctx && round < ROUNDS; round++)
        for (int i = 0; i < N_TEXTS; i++) {
            int t = (w->first + i) % N_TEXTS;
            result r = run_text(w->model, ctx, texts[t]);
            w->runs++;
            if (!r.values) w->errors++;
            else if (r.n != w->expected[t].n || memcmp(r.values, w->expected[t].values, r.n * sizeof *r.values) != 0)
                w->mismatches++;
            free(r.values);
        }
    if (!ctx) w->errors++;
    attx_ctx_free(ctx);
    return NULL;
}

/* Two pthreads on one model, each with omp_threads OpenMP threads, against one thread alone. */
static void check_two_pthreads(int omp_threads)
{
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, MODEL, &err) != 0) fail_msg("%s", err.msg);
    result expected[N_TEXTS];
    attx_set_threads(1);
    attx_ctx *ctx = attx_ctx_new();
    assert_non_null(ctx);
    for (int t = 0; t < N_TEXTS; t++) {
        expected[t] = run_text(m, ctx, texts[t]);
        assert_non_null(expected[t].values);
    }
    attx_ctx_free(ctx);

    worker w[2] = {{m, expected, omp_threads, 0, 0, 0, 0}, {m, expected, omp_threads, 1, 0, 0, 0}};
    pthread_t tid[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&tid[i], NULL, work, &w[i]), 0);
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_join(tid[i], NULL), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(w[i].runs, ROUNDS * N_TEXTS);
        assert_int_equal(w[i].errors, 0);
        assert_int_equal(w[i].mismatches, 0);
    }
    for (int t = 0; t < N_TEXTS; t++) free(expected[t].values);
    attx_model_close(m);
}

static void test_two_pthreads_one_openmp_thread_each(void **state)
{
    (void)state;
    check_two_pthreads(1);
}

/* every threshold at 0: each loop of each forward and backward pass runs on a team of two
 * started by its pthread (and the GEMM's buffer pool is shared by all of them) */
static void test_two_pthreads_with_openmp_teams(void **state)
{
    (void)state;
    int64_t saved[ATTX_WORK_KINDS];
    memcpy(saved, attx_parallel_min_work, sizeof saved);
    for (int k = 0; k < ATTX_WORK_KINDS; k++) attx_parallel_min_work[k] = 0;
    check_two_pthreads(2);
    memcpy(attx_parallel_min_work, saved, sizeof saved);
}

static void *set_three(void *arg)
{
    attx_set_threads(3);
    *(int *)arg = omp_get_max_threads();
    return NULL;
}

/* the thread count attx_set_threads sets is the calling thread's (OpenMP's nthreads-var) */
static void test_thread_count_is_per_thread(void **state)
{
    (void)state;
    attx_set_threads(1);
    int in_pthread = 0;
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, set_three, &in_pthread), 0);
    assert_int_equal(pthread_join(tid, NULL), 0);
    assert_int_equal(in_pthread, 3);
    assert_int_equal(omp_get_max_threads(), 1);
    attx_set_threads(0);   /* ignored */
    assert_int_equal(omp_get_max_threads(), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_pthreads_one_openmp_thread_each),
        cmocka_unit_test(test_two_pthreads_with_openmp_teams),
        cmocka_unit_test(test_thread_count_is_per_thread),
    };
    return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
