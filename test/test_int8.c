/* test_int8.c — a real model with its encoder in int8 (attx_model_quantize_int8), on the SST-2
 * MiniLM shipped in data/: logits close to fp32's and the same predictions on SST-2-like
 * sentences; the same bits with the AVX-512 (VNNI) and AVX2 kernels, for 1 and 2 threads, and for
 * a sentence alone or in a batch (activations are quantised per token); a backward pass runs on
 * the fp32 weights; training and attn1 models are refused or drop the quantisation. */
#include "testutil.h"

#include <math.h>
#include <omp.h>

#include "attx_engine.h"
#include "attx_weights.h"
#include "kernels.h"
#include "parallel.h"

#define MODEL "data/sst2-minilm.safetensors"

static const char *sentences[] = {
    "a gripping , funny and moving film .",
    "the plot is a tired mess and the acting is worse .",
    "it 's not great , but it 's not bad either",
    "an utterly charming and hilarious film that reminded me why i love movies",
    "dull , lifeless and far too long .",
};
#define N_SENT (sizeof sentences / sizeof sentences[0])

/* logits[2] of one sentence */
static void logits_of(attx_model *m, const char *text, float *logits)
{
    attx_encoding enc;
    attx_error err;
    if (attx_encode_text(m, text, strlen(text), &enc, &err) != 0) fail_msg("%s", err.msg);
    attx_batch b = {.B = 1, .T = enc.length, .ids = enc.ids, .lengths = &enc.length};
    attx_ctx *ctx = attx_ctx_new();
    attx_outputs out;
    if (attx_forward(m, ctx, &b, &out, &err) != 0) fail_msg("%s", err.msg);
    memcpy(logits, out.logits->data, 2 * sizeof(float));
    attx_ctx_free(ctx);
    attx_encoding_free(&enc);
}

static void test_close_to_fp32(void **state)
{
    (void)state;
    attx_model *f32 = NULL, *q8 = NULL;
    attx_error err;
    if (attx_model_open(&f32, MODEL, &err) != 0 || attx_model_open(&q8, MODEL, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(attx_model_is_int8(q8), 0);
    assert_int_equal(attx_model_quantize_int8(q8, &err), 0);
    assert_int_equal(attx_model_is_int8(q8), 1);
    double worst = 0;
    for (size_t s = 0; s < N_SENT; s++) {
        float a[2], b[2];
        logits_of(f32, sentences[s], a);
        logits_of(q8, sentences[s], b);
        for (int c = 0; c < 2; c++) worst = fmax(worst, fabs(a[c] - b[c]));
        assert_int_equal(a[1] > a[0], b[1] > b[0]);
        assert_true(a[0] != b[0] || a[1] != b[1]);   /* the int8 path did run */
    }
    print_message("int8 MiniLM: max |logit - fp32 logit| = %.4f over %zu sentences\n", worst, N_SENT);
    assert_true(worst < 0.1);
    attx_model_close(f32);
    attx_model_close(q8);
}

static void test_same_bits_everywhere(void **state)
{
    (void)state;
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, MODEL, &err) != 0 || attx_model_quantize_int8(m, &err) != 0) fail_msg("%s", err.msg);
    float ref[N_SENT][2];
    /* AVX2 against AVX-512 (VNNI, and AMX where the CPU has them): the fp32 parts around the
     * int8 layers agree on those (portable C rounds its products separately; test_gemm_q8
     * checks that its int8 layers give the same bits too) */
    attx_gemm_set_isa(ATTX_ISA_AVX2);
    omp_set_num_threads(1);
    for (size_t s = 0; s < N_SENT; s++) logits_of(m, sentences[s], ref[s]);
    int64_t saved = attx_parallel_min_work[ATTX_WORK_GEMM];
    attx_parallel_min_work[ATTX_WORK_GEMM] = 0;
    static const struct { int isa, amx; } kernels[] = {{ATTX_ISA_AVX2, 0}, {ATTX_ISA_AVX512, 0}, {ATTX_ISA_AVX512, 1}};
    for (size_t i = 0; i < 3; i++)
        for (int threads = 1; threads <= 2; threads++) {
            attx_gemm_set_isa(kernels[i].isa);
            attx_q8_set_amx(kernels[i].amx);
            omp_set_num_threads(threads);
            for (size_t s = 0; s < N_SENT; s++) {
                float l[2];
                logits_of(m, sentences[s], l);
                assert_memory_equal(l, ref[s], sizeof l);
            }
        }
    attx_parallel_min_work[ATTX_WORK_GEMM] = saved;
    attx_gemm_set_isa(ATTX_ISA_AUTO);
    attx_q8_set_amx(1);
    omp_set_num_threads(2);

    /* two sentences of the same length in one batch: each row as when alone */
    const char *pair[2] = {"a fine film .", "a dull film ."};
    attx_encoding e[2];
    for (int i = 0; i < 2; i++)
        if (attx_encode_text(m, pair[i], strlen(pair[i]), &e[i], &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(e[0].length, e[1].length);
    int32_t ids[64], lengths[2] = {e[0].length, e[1].length};
    memcpy(ids, e[0].ids, (size_t)e[0].length * sizeof *ids);
    memcpy(ids + e[0].length, e[1].ids, (size_t)e[1].length * sizeof *ids);
    attx_batch b = {.B = 2, .T = e[0].length, .ids = ids, .lengths = lengths};
    attx_ctx *ctx = attx_ctx_new();
    attx_outputs out;
    if (attx_forward(m, ctx, &b, &out, &err) != 0) fail_msg("%s", err.msg);
    for (int i = 0; i < 2; i++) {
        float alone[2];
        logits_of(m, pair[i], alone);
        assert_memory_equal(out.logits->data + 2 * i, alone, sizeof alone);
    }
    attx_ctx_free(ctx);
    for (int i = 0; i < 2; i++) attx_encoding_free(&e[i]);
    attx_model_close(m);
}

/* With the tape on, the forward is the same int8 forward, and a backward reaches the
 * attention probabilities with finite gradients (through the fp32 weights). */
static void test_backward_runs(void **state)
{
    (void)state;
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, MODEL, &err) != 0 || attx_model_quantize_int8(m, &err) != 0) fail_msg("%s", err.msg);
    attx_encoding enc;
    const char *text = sentences[0];
    if (attx_encode_text(m, text, strlen(text), &enc, &err) != 0) fail_msg("%s", err.msg);
    attx_batch b = {.B = 1, .T = enc.length, .ids = enc.ids, .lengths = &enc.length};
    attx_ctx *ctx = attx_ctx_new();
    attx_ctx_set_tape(ctx, 1);
    attx_outputs out;
    if (attx_forward(m, ctx, &b, &out, &err) != 0) fail_msg("%s", err.msg);
    float no_tape[2];
    logits_of(m, text, no_tape);
    assert_memory_equal(out.logits->data, no_tape, sizeof no_tape);
    float seed[2] = {0, 1};
    assert_int_equal(attx_backward(ctx, out.logits, seed), 0);
    const attx_tensor *probs = out.attn[0];
    assert_non_null(probs->grad);
    double norm = 0;
    for (int64_t i = 0; i < probs->numel; i++) {
        assert_true(isfinite(probs->grad[i]));
        norm += fabs(probs->grad[i]);
    }
    assert_true(norm > 0);
    attx_ctx_free(ctx);
    attx_encoding_free(&enc);
    /* training drops the quantisation; a model being trained is not quantised */
    assert_int_equal(attx_model_make_trainable(m, &err), 0);
    assert_int_equal(attx_model_is_int8(m), 0);
    assert_int_not_equal(attx_model_quantize_int8(m, &err), 0);
    assert_contains(err.msg, "trained");
    attx_model_close(m);
}

/* `attx convert --dtype int8` writes I8 weights with F32 scales; the file opens as an int8
 * model with the same bits as quantising the source; a file missing a scale, or with scales
 * of the wrong shape, is refused with the tensor named. */
static void test_int8_file(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *path = tu_path(dir, "q8.safetensors"), *bad = tu_path(dir, "bad.safetensors");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s convert %s %s --dtype int8", tu_attx(), MODEL, path);
    char *out = NULL, *errout = NULL;
    assert_int_equal(tu_run(cmd, &out, &errout), 0);
    assert_contains(out, "int8 encoder weights");
    free(out), free(errout);
    attx_model *from_file = NULL, *quantised = NULL;
    attx_error err;
    if (attx_model_open(&from_file, path, &err) != 0 || attx_model_open(&quantised, MODEL, &err) != 0 ||
        attx_model_quantize_int8(quantised, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(attx_model_is_int8(from_file), 1);
    for (size_t s = 0; s < N_SENT; s++) {
        float a[2], b[2];
        logits_of(from_file, sentences[s], a);
        logits_of(quantised, sentences[s], b);
        assert_memory_equal(a, b, sizeof a);
    }
    attx_model_close(from_file);
    attx_model_close(quantised);

    /* the same tensors but one: a scale left out, or given the wrong length */
    attx_model_files mf;
    if (attx_model_files_open(&mf, path, &err) != 0) fail_msg("%s", err.msg);
    const char *keys[ATTX_MODEL_META_MAX], *values[ATTX_MODEL_META_MAX];
    attx_buf scratch = {0};
    size_t n_meta = attx_model_files_metadata(&mf, keys, values, &scratch);
    attx_st_entry *e = calloc(mf.weights.n_tensors, sizeof *e);
    assert_non_null(e);
    for (int variant = 0; variant < 2; variant++) {
        size_t n = 0;
        for (size_t i = 0; i < mf.weights.n_tensors; i++) {
            const attx_stored_tensor *t = &mf.weights.tensors[i];
            int victim = strcmp(t->name, "bert.encoder.layer.2.intermediate.dense.weight_scale") == 0;
            if (victim && variant == 0) continue;
            e[n] = (attx_st_entry){.name = t->name, .dtype = t->dtype, .ndim = t->ndim, .raw = t->data};
            memcpy(e[n].shape, t->shape, sizeof e[n].shape);
            if (victim) e[n].shape[0] = t->shape[0] / 2;
            n++;
        }
        if (attx_safetensors_write(bad, e, n, keys, values, n_meta, &err) != 0) fail_msg("%s", err.msg);
        attx_model *m;
        assert_int_not_equal(attx_model_open(&m, bad, &err), 0);
        assert_contains(err.msg, "bert.encoder.layer.2.intermediate.dense.weight");
        assert_contains(err.msg, variant == 0 ? "missing" : "scales");
        print_message("%s\n", err.msg);
    }
    free(e);
    attx_buf_free(&scratch);
    attx_model_files_close(&mf);
    free(path), free(bad);
    tu_rmdir(dir);   /* frees dir */
}

/* --int8 on the command line: the same logits as the library's int8 model, and refused by name
 * for an attn1 model */
static void test_cli_flag(void **state)
{
    (void)state;
    char cmd[1024], *out = NULL, *errout = NULL;
    snprintf(cmd, sizeof cmd, "%s predict %s --int8 --json -- '%s'", tu_attx(), MODEL, sentences[0]);
    assert_int_equal(tu_run(cmd, &out, &errout), 0);
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, MODEL, &err) != 0 || attx_model_quantize_int8(m, &err) != 0) fail_msg("%s", err.msg);
    float l[2];
    logits_of(m, sentences[0], l);
    char expect[128];
    snprintf(expect, sizeof expect, "\"logits\":[%.8g,%.8g]", l[0], l[1]);
    assert_contains(out, expect);
    attx_model_close(m);
    free(out), free(errout);
    snprintf(cmd, sizeof cmd, "%s explain %s --int8 --brief --method shap 'a fine film'", tu_attx(), MODEL);
    assert_int_equal(tu_run(cmd, &out, &errout), 0);
    assert_contains(out, "shap");
    free(out), free(errout);
    snprintf(cmd, sizeof cmd, "%s predict data/imdb-attn1.safetensors --int8 'a fine film'", tu_attx());
    assert_int_not_equal(tu_run(cmd, &out, &errout), 0);
    assert_contains(errout, "data/imdb-attn1.safetensors: int8: an attn1 model");
    free(out), free(errout);
}

static void test_attn1_refused(void **state)
{
    (void)state;
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, "data/imdb-attn1.safetensors", &err) != 0) fail_msg("%s", err.msg);
    assert_int_not_equal(attx_model_quantize_int8(m, &err), 0);
    assert_contains(err.msg, "attn1");
    assert_int_equal(attx_model_is_int8(m), 0);
    attx_model_close(m);
}

int main(void)
{
    omp_set_dynamic(0);
    omp_set_num_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_to_fp32),
        cmocka_unit_test(test_same_bits_everywhere),
        cmocka_unit_test(test_backward_runs),
        cmocka_unit_test(test_int8_file),
        cmocka_unit_test(test_cli_flag),
        cmocka_unit_test(test_attn1_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
