/* test_bf16.c — models with their encoder in bf16 (attx_model_convert_bf16): on the SST-2 MiniLM
 * shipped in data/, logits close to fp32's and the same predictions; on all-MiniLM-L6-v2 from
 * ../shared, sentence embeddings close to fp32's; the same bits with vdpbf16ps (AVX-512) and
 * the forced emulation (AVX2), for 1 and 2 threads, and for a sentence alone or in a batch; a
 * small random BERT (no files needed) through the same checks; a backward pass on the fp32
 * weights; int8 and bf16 exclusive, training and attn1 refused; --bf16 on the command line. */
#include "testutil.h"

#include <math.h>
#include <omp.h>

#include "attx_engine.h"
#include "attx_weights.h"
#include "kernels.h"
#include "parallel.h"

#define MODEL "data/sst2-minilm.safetensors"
#define MINILM "../shared/models/all-MiniLM-L6-v2"
#define VOCAB "test/fixtures/bert/tiny/vocab.txt"

/* The bounds, from measurements (test/bench_ort --accuracy, README): over the 872 SST-2 dev
 * sentences the largest |bf16 logit − fp32 logit| of the SST-2 MiniLM is 0.035 (0.005 on these
 * five), and the smallest cosine between bf16 and fp32 embeddings of all-MiniLM-L6-v2 0.999964
 * (its F16 copy in data/). bf16 keeps 8 significant bits, so each weight and each input of a
 * layer moves by up to 2^-9 (0.2%) of itself, and the errors of K such products mostly cancel;
 * the bounds leave about three times the largest deviation measured on the whole dev set. */
#define MAX_LOGIT_DIFF 0.1
#define MIN_COSINE 0.9999

static const char *sentences[] = {
    "a gripping , funny and moving film .",
    "the plot is a tired mess and the acting is worse .",
    "it 's not great , but it 's not bad either",
    "an utterly charming and hilarious film that reminded me why i love movies",
    "dull , lifeless and far too long .",
};
#define N_SENT (sizeof sentences / sizeof sentences[0])

static attx_model *open_model(const char *path, int bf16)
{
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, path, &err) != 0 || (bf16 && attx_model_convert_bf16(m, &err) != 0)) fail_msg("%s", err.msg);
    return m;
}

/* The model's outputs for one text: its logits (n_logits of them) or, with sc, its embedding. */
static void outputs_of(attx_model *m, const attx_sentence_config *sc, const char *text, float *out, int n)
{
    attx_encoding enc;
    attx_error err;
    if (attx_encode_text(m, text, strlen(text), &enc, &err) != 0) fail_msg("%s", err.msg);
    attx_batch b = {.B = 1, .T = enc.length, .ids = enc.ids, .lengths = &enc.length};
    attx_ctx *ctx = attx_ctx_new();
    attx_outputs o;
    if (attx_forward(m, ctx, &b, &o, &err) != 0) fail_msg("%s", err.msg);
    if (sc) {
        if (attx_pool_embeddings(m, sc, &b, &o, out, &err) != 0) fail_msg("%s", err.msg);
    } else {
        memcpy(out, o.logits->data, (size_t)n * sizeof(float));
    }
    attx_ctx_free(ctx);
    attx_encoding_free(&enc);
}

/* Every text's outputs (n floats each) are the same bits with vdpbf16ps and with the AVX2
 * emulation (the fp32 parts around the bf16 layers agree on those two ISAs), for 1 and 2
 * threads, as with the ISA forced to AVX2 on 1 thread. */
static void check_same_bits(attx_model *m, const attx_sentence_config *sc, const char *const *texts, size_t n_texts, int n)
{
    float *ref = malloc(n_texts * (size_t)n * sizeof *ref), *got = malloc((size_t)n * sizeof *got);
    attx_gemm_set_isa(ATTX_ISA_AVX2);
    omp_set_num_threads(1);
    for (size_t s = 0; s < n_texts; s++) outputs_of(m, sc, texts[s], ref + s * (size_t)n, n);
    int64_t saved = attx_parallel_min_work[ATTX_WORK_GEMM];
    attx_parallel_min_work[ATTX_WORK_GEMM] = 0;   /* threads on every layer */
    static const int isas[] = {ATTX_ISA_AVX2, ATTX_ISA_AVX512};
    for (size_t i = 0; i < 2; i++)
        for (int threads = 1; threads <= 2; threads++) {
            attx_gemm_set_isa(isas[i]);
            omp_set_num_threads(threads);
            for (size_t s = 0; s < n_texts; s++) {
                outputs_of(m, sc, texts[s], got, n);
                if (memcmp(got, ref + s * (size_t)n, (size_t)n * sizeof *got) != 0)
                    fail_msg("'%s': %s kernel, %d thread(s): not the bits of the AVX2 emulation on 1 thread", texts[s],
                             attx_bf16_kernel_name(), threads);
            }
        }
    attx_parallel_min_work[ATTX_WORK_GEMM] = saved;
    attx_gemm_set_isa(ATTX_ISA_AUTO);
    omp_set_num_threads(2);
    free(ref), free(got);
}

/* Two texts of the same length in one batch: each row's logits as when alone. */
static void check_batch_as_alone(attx_model *m, const char *a, const char *b, int n_logits)
{
    const char *pair[2] = {a, b};
    attx_encoding e[2];
    attx_error err;
    for (int i = 0; i < 2; i++)
        if (attx_encode_text(m, pair[i], strlen(pair[i]), &e[i], &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(e[0].length, e[1].length);
    int32_t ids[128], lengths[2] = {e[0].length, e[1].length};
    assert_true(2 * e[0].length <= 128);
    memcpy(ids, e[0].ids, (size_t)e[0].length * sizeof *ids);
    memcpy(ids + e[0].length, e[1].ids, (size_t)e[1].length * sizeof *ids);
    attx_batch batch = {.B = 2, .T = e[0].length, .ids = ids, .lengths = lengths};
    attx_ctx *ctx = attx_ctx_new();
    attx_outputs out;
    if (attx_forward(m, ctx, &batch, &out, &err) != 0) fail_msg("%s", err.msg);
    for (int i = 0; i < 2; i++) {
        float alone[16];
        outputs_of(m, NULL, pair[i], alone, n_logits);
        assert_memory_equal(out.logits->data + n_logits * i, alone, (size_t)n_logits * sizeof(float));
    }
    attx_ctx_free(ctx);
    for (int i = 0; i < 2; i++) attx_encoding_free(&e[i]);
}

static void test_close_to_fp32(void **state)
{
    (void)state;
    attx_model *f32 = open_model(MODEL, 0), *b16 = open_model(MODEL, 0);
    attx_error err;
    assert_int_equal(attx_model_is_bf16(b16), 0);
    assert_int_equal(attx_model_convert_bf16(b16, &err), 0);
    assert_int_equal(attx_model_is_bf16(b16), 1);
    assert_int_equal(attx_model_is_int8(b16), 0);
    double worst = 0;
    int moved = 0;
    for (size_t s = 0; s < N_SENT; s++) {
        float a[2], b[2];
        outputs_of(f32, NULL, sentences[s], a, 2);
        outputs_of(b16, NULL, sentences[s], b, 2);
        for (int c = 0; c < 2; c++) worst = fmax(worst, fabs(a[c] - b[c]));
        assert_int_equal(a[1] > a[0], b[1] > b[0]);
        moved += a[0] != b[0] || a[1] != b[1];
    }
    print_message("bf16 SST-2 MiniLM: max |logit - fp32 logit| = %.4f over %zu sentences\n", worst, N_SENT);
    assert_true(moved > 0);   /* the bf16 layers did run */
    assert_true(worst < MAX_LOGIT_DIFF);
    check_same_bits(b16, NULL, sentences, N_SENT, 2);
    attx_gemm_set_isa(ATTX_ISA_AVX2);   /* the emulation in a batch too */
    check_batch_as_alone(b16, "a fine film .", "a dull film .", 2);
    attx_gemm_set_isa(ATTX_ISA_AUTO);
    check_batch_as_alone(b16, "a fine film .", "a dull film .", 2);
    attx_model_close(f32);
    attx_model_close(b16);
}

/* all-MiniLM-L6-v2's sentence embeddings: cosine to fp32's, and the same bits everywhere */
static void test_embeddings(void **state)
{
    (void)state;
    tu_need_file(MINILM "/model.safetensors");
    attx_model *f32 = open_model(MINILM, 0), *b16 = open_model(MINILM, 1);
    int found = 0;
    const attx_sentence_config *sc = attx_model_sentence_config(f32, &found);
    assert_true(found);
    int dim = attx_embedding_dim(f32, sc);
    float *a = malloc((size_t)dim * sizeof *a), *b = malloc((size_t)dim * sizeof *b);
    double worst = 1;
    for (size_t s = 0; s < N_SENT; s++) {
        outputs_of(f32, sc, sentences[s], a, dim);
        outputs_of(b16, sc, sentences[s], b, dim);
        double dot = 0, na = 0, nb = 0;
        for (int d = 0; d < dim; d++) dot += (double)a[d] * b[d], na += (double)a[d] * a[d], nb += (double)b[d] * b[d];
        double cosine = dot / sqrt(na * nb);
        worst = fmin(worst, cosine);
        assert_true(cosine < 1.0 || memcmp(a, b, (size_t)dim * sizeof *a) != 0);
    }
    print_message("bf16 all-MiniLM-L6-v2: min cosine to fp32 %.6f over %zu sentences\n", worst, N_SENT);
    assert_true(worst > MIN_COSINE);
    check_same_bits(b16, sc, sentences, N_SENT, dim);
    free(a), free(b);
    attx_model_close(f32);
    attx_model_close(b16);
}

/* a 2-layer BERT with random weights N(0, 0.2²) (hidden 32, FFN 64; attx_model_create), no files
 * from ../shared */
static attx_model *random_bert(void)
{
    static const char *config =
        "{\"architectures\": [\"BertForSequenceClassification\"], \"model_type\": \"bert\","
        " \"vocab_size\": 64, \"hidden_size\": 32, \"num_hidden_layers\": 2, \"num_attention_heads\": 2,"
        " \"intermediate_size\": 64, \"max_position_embeddings\": 24, \"type_vocab_size\": 2,"
        " \"initializer_range\": 0.2, \"id2label\": {\"0\": \"a\", \"1\": \"b\", \"2\": \"c\"}}";
    size_t len;
    char *vocab = tu_read(VOCAB, &len);
    attx_model *m;
    attx_error err;
    if (attx_model_create(&m, config, vocab, len, 11, &err) != 0) fail_msg("%s", err.msg);
    free(vocab);
    return m;
}

static void test_random_model(void **state)
{
    (void)state;
    attx_model *f32 = random_bert(), *b16 = random_bert();
    attx_error err;
    assert_int_equal(attx_model_convert_bf16(b16, &err), 0);
    assert_int_equal(attx_model_is_bf16(b16), 1);
    static const char *texts[] = {"the movie was good", "a bad plot", "great actor , very good story"};
    double worst = 0, largest = 0;
    for (size_t s = 0; s < 3; s++) {
        float a[3], b[3];
        outputs_of(f32, NULL, texts[s], a, 3);
        outputs_of(b16, NULL, texts[s], b, 3);
        for (int c = 0; c < 3; c++) worst = fmax(worst, fabs(a[c] - b[c])), largest = fmax(largest, fabs(a[c]));
    }
    print_message("bf16 random BERT: max |logit - fp32 logit| = %.5f (largest |logit| %.3f)\n", worst, largest);
    assert_true(worst > 0);   /* the bf16 layers ran */
    /* measured: 0.7% of the largest logit (weights N(0, 0.2²) amplify rounding more than a
     * trained model's; 0.15% with N(0, 0.1²)); the bound leaves three times that */
    assert_true(worst < 0.02 * largest);
    check_same_bits(b16, NULL, texts, 3, 3);
    check_batch_as_alone(b16, "a good movie", "a bad plot", 3);
    attx_model_close(f32);
    attx_model_close(b16);
}

/* With the tape on, the forward is the same bf16 forward, and a backward reaches the attention
 * probabilities with finite gradients (through the fp32 weights); training drops the bf16
 * weights, and a model being trained is not converted. */
static void test_backward_and_training(void **state)
{
    (void)state;
    attx_model *m = open_model(MODEL, 1);
    attx_error err;
    attx_encoding enc;
    const char *text = sentences[0];
    if (attx_encode_text(m, text, strlen(text), &enc, &err) != 0) fail_msg("%s", err.msg);
    attx_batch b = {.B = 1, .T = enc.length, .ids = enc.ids, .lengths = &enc.length};
    attx_ctx *ctx = attx_ctx_new();
    attx_ctx_set_tape(ctx, 1);
    attx_outputs out;
    if (attx_forward(m, ctx, &b, &out, &err) != 0) fail_msg("%s", err.msg);
    float no_tape[2];
    outputs_of(m, NULL, text, no_tape, 2);
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
    assert_int_equal(attx_model_make_trainable(m, &err), 0);
    assert_int_equal(attx_model_is_bf16(m), 0);
    assert_int_not_equal(attx_model_convert_bf16(m, &err), 0);
    assert_contains(err.msg, "trained");
    attx_model_close(m);
}

/* int8 or bf16, not both, in either order; attn1 models stay fp32 */
static void test_refusals(void **state)
{
    (void)state;
    attx_error err;
    attx_model *m = open_model(MODEL, 1);
    assert_int_not_equal(attx_model_quantize_int8(m, &err), 0);
    assert_contains(err.msg, "bf16");
    assert_int_equal(attx_model_is_int8(m), 0);
    assert_int_equal(attx_model_convert_bf16(m, &err), 0);   /* again: nothing to do */
    attx_model_close(m);
    m = open_model(MODEL, 0);
    assert_int_equal(attx_model_quantize_int8(m, &err), 0);
    assert_int_not_equal(attx_model_convert_bf16(m, &err), 0);
    assert_contains(err.msg, "int8");
    assert_int_equal(attx_model_is_bf16(m), 0);
    attx_model_close(m);
    m = open_model("data/imdb-attn1.safetensors", 0);
    assert_int_not_equal(attx_model_convert_bf16(m, &err), 0);
    assert_contains(err.msg, "attn1");
    assert_int_equal(attx_model_is_bf16(m), 0);
    attx_model_close(m);
}

/* the two logits of `attx predict --json`'s output are l's bits */
static void check_logits(const char *json, const float *l)
{
    const char *at = strstr(json, "\"logits\":[");
    assert_non_null(at);
    char *end;
    float a = strtof(at + 10, &end);
    assert_int_equal(*end, ',');
    float b = strtof(end + 1, &end);
    assert_int_equal(*end, ']');
    assert_memory_equal(&a, &l[0], sizeof a);
    assert_memory_equal(&b, &l[1], sizeof b);
}

/* --bf16 on the command line: the library's logits; a note on stderr exactly when the kernel is
 * an emulation; --int8 with it is a usage error; embed and eval take it too */
static void test_cli_flag(void **state)
{
    (void)state;
    char cmd[1024], *out = NULL, *errout = NULL;
    snprintf(cmd, sizeof cmd, "%s predict %s --bf16 --json -- '%s'", tu_attx(), MODEL, sentences[0]);
    assert_int_equal(tu_run(cmd, &out, &errout), 0);
    attx_model *m = open_model(MODEL, 1);
    float l[2];
    outputs_of(m, NULL, sentences[0], l, 2);
    check_logits(out, l);
    if (attx_cpu_has_bf16()) assert_string_equal(errout, "");
    else assert_contains(errout, "exact emulation");
    attx_model_close(m);
    free(out), free(errout);

    /* the emulation forced: AVX2, or portable when the tests run so (the same fp32 parts as here) */
    const char *emulated = attx_isa_name(attx_cpu_isa() < ATTX_ISA_AVX2 ? attx_cpu_isa() : ATTX_ISA_AVX2);
    snprintf(cmd, sizeof cmd, "ATTX_ISA=%s %s predict %s --bf16 --json -- '%s'", emulated, tu_attx(), MODEL, sentences[0]);
    assert_int_equal(tu_run(cmd, &out, &errout), 0);
    check_logits(out, l);   /* the emulation: the same logits */
    assert_contains(errout, "attx: note: this CPU has no AVX512_BF16");
    assert_true(strchr(errout, '\n') == errout + strlen(errout) - 1);   /* one line */
    free(out), free(errout);

    snprintf(cmd, sizeof cmd, "%s predict %s --bf16 --int8 'a fine film'", tu_attx(), MODEL);
    assert_int_equal(tu_run(cmd, &out, &errout), 2);
    assert_contains(errout, "--int8 and --bf16 exclude each other");
    free(out), free(errout);

    snprintf(cmd, sizeof cmd, "%s embed data/all-MiniLM-L6-v2-f16.safetensors --bf16 'a fine film'", tu_attx());
    assert_int_equal(tu_run(cmd, &out, &errout), 0);
    assert_contains(out, "[");
    free(out), free(errout);

    char *dir = tu_mkdtemp(), *tsv = tu_path(dir, "dev.tsv");
    tu_write_str(tsv, "sentence\tlabel\na gripping , funny and moving film .\t1\ndull , lifeless and far too long .\t0\n");
    snprintf(cmd, sizeof cmd, "%s eval %s %s --accuracy --bf16", tu_attx(), MODEL, tsv);
    assert_int_equal(tu_run(cmd, &out, &errout), 0);
    assert_contains(out, "(bf16)");
    free(out), free(errout), free(tsv);
    tu_rmdir(dir);
}

int main(void)
{
    omp_set_dynamic(0);
    omp_set_num_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_to_fp32),
        cmocka_unit_test(test_embeddings),
        cmocka_unit_test(test_random_model),
        cmocka_unit_test(test_backward_and_training),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_cli_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
