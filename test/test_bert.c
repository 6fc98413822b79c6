/* test_bert.c — BERT parity with PyTorch: logits, attention probabilities, hidden states and
 * the gradients of each example's predicted logit with respect to attention probabilities,
 * block outputs and input embeddings, for the configurations in test/fixtures/bert (made by
 * tools/reference/make_bert_fixtures.py); and the same bits with 1 and 2 threads. */
#include "testutil.h"

#include <math.h>

#include "model.h"
#include "parallel.h"

static const char *CONFIGS[] = {"tiny", "heads4", "batch", "deep1head"};
#define N_CONFIGS (sizeof CONFIGS / sizeof CONFIGS[0])

typedef struct {
    attx_model *model;
    attx_tensor_file ref;
    int B, T;
    int32_t *ids, *lengths;
    int64_t *predicted;
} fixture;

static const attx_stored_tensor *ref_tensor(const fixture *f, const char *fmt, int i)
{
    char name[64];
    snprintf(name, sizeof name, fmt, i);
    const attx_stored_tensor *t = attx_tensor_file_find(&f->ref, name);
    if (!t) fail_msg("reference has no %s", name);
    return t;
}

static void load_fixture(fixture *f, const char *config)
{
    char path[256];
    attx_error err;
    memset(f, 0, sizeof *f);
    snprintf(path, sizeof path, "test/fixtures/bert/%s", config);
    if (attx_model_open(&f->model, path, &err) != 0) fail_msg("%s", err.msg);
    snprintf(path, sizeof path, "test/fixtures/bert/%s/reference.safetensors", config);
    if (attx_safetensors_open(&f->ref, path, &err) != 0) fail_msg("%s", err.msg);
    const attx_stored_tensor *ids = attx_tensor_file_find(&f->ref, "input_ids");
    const attx_stored_tensor *mask = attx_tensor_file_find(&f->ref, "attention_mask");
    const attx_stored_tensor *pred = attx_tensor_file_find(&f->ref, "predicted");
    assert_true(ids && mask && pred && ids->dtype == ATTX_I64);
    f->B = (int)ids->shape[0];
    f->T = (int)ids->shape[1];
    f->ids = malloc(ids->numel * sizeof *f->ids);
    f->lengths = calloc((size_t)f->B, sizeof *f->lengths);
    f->predicted = malloc((size_t)f->B * sizeof *f->predicted);
    for (uint64_t i = 0; i < ids->numel; i++) {
        int64_t id, m;
        memcpy(&id, ids->data + 8 * i, 8);
        memcpy(&m, mask->data + 8 * i, 8);
        f->ids[i] = (int32_t)id;
        f->lengths[i / (uint64_t)f->T] += (int32_t)m;
    }
    memcpy(f->predicted, pred->data, (size_t)f->B * 8);
}

static void free_fixture(fixture *f)
{
    attx_model_close(f->model);
    attx_tensor_file_close(&f->ref);
    free(f->ids);
    free(f->lengths);
    free(f->predicted);
}

/* max |got − ref| must be ≤ atol + rtol·|ref| element-wise; returns the max abs error. */
static double compare(const char *what, const float *got, const attx_stored_tensor *ref, double atol,
                      double rtol)
{
    assert_int_equal(ref->dtype, ATTX_F32);
    double worst = 0;
    for (uint64_t i = 0; i < ref->numel; i++) {
        float r;
        memcpy(&r, ref->data + 4 * i, 4);
        double e = fabs((double)got[i] - r);
        if (e > atol + rtol * fabs(r))
            fail_msg("%s[%llu]: attx %.7g, PyTorch %.7g", what, (unsigned long long)i, got[i], r);
        if (e > worst) worst = e;
    }
    return worst;
}

/* Forward with the tape, then backward from each example's predicted logit. */
static attx_ctx *run(fixture *f, attx_outputs *out)
{
    attx_error err;
    attx_batch batch = {.B = f->B, .T = f->T, .ids = f->ids, .lengths = f->lengths};
    attx_ctx *ctx = attx_ctx_new();
    attx_ctx_set_tape(ctx, 1);
    if (attx_forward(f->model, ctx, &batch, out, &err) != 0) fail_msg("%s", err.msg);
    int C = f->model->config->num_labels;
    float *seed = calloc((size_t)(f->B * C), sizeof *seed);
    for (int b = 0; b < f->B; b++) seed[b * C + f->predicted[b]] = 1.0f;
    assert_int_equal(attx_backward(ctx, out->logits, seed), 0);
    free(seed);
    return ctx;
}

static void test_parity(void **state)
{
    (void)state;
    for (size_t c = 0; c < N_CONFIGS; c++) {
        fixture f;
        load_fixture(&f, CONFIGS[c]);
        attx_outputs out;
        attx_ctx *ctx = run(&f, &out);
        const attx_config *cfg = f.model->config;
        char what[64];
        double e_logits = compare("logits", out.logits->data, ref_tensor(&f, "logits", 0), 1e-4, 0);
        for (int b = 0; b < f.B; b++) {            /* the predicted class agrees */
            const float *z = out.logits->data + b * cfg->num_labels;
            int best = 0;
            for (int k = 1; k < cfg->num_labels; k++) if (z[k] > z[best]) best = k;
            assert_int_equal(best, f.predicted[b]);
        }
        double e_attn = 0, e_hidden = 0, e_gattn = 0, e_ghidden = 0;
        for (int l = 0; l < cfg->num_layers; l++) {
            snprintf(what, sizeof what, "%s attn.%d", CONFIGS[c], l);
            e_attn = fmax(e_attn, compare(what, out.attn[l]->data, ref_tensor(&f, "attn.%d", l), 1e-4, 0));
            snprintf(what, sizeof what, "%s grad_attn.%d", CONFIGS[c], l);
            e_gattn = fmax(e_gattn, compare(what, out.attn[l]->grad, ref_tensor(&f, "grad_attn.%d", l), 1e-4, 1e-3));
        }
        for (int l = 0; l <= cfg->num_layers; l++) {
            snprintf(what, sizeof what, "%s hidden.%d", CONFIGS[c], l);
            e_hidden = fmax(e_hidden, compare(what, out.hidden[l]->data, ref_tensor(&f, "hidden.%d", l), 1e-4, 0));
            snprintf(what, sizeof what, "%s grad_hidden.%d", CONFIGS[c], l);
            e_ghidden = fmax(e_ghidden, compare(what, out.hidden[l]->grad, ref_tensor(&f, "grad_hidden.%d", l), 1e-4, 1e-3));
        }
        compare("inputs_embeds", out.inputs_embeds->data, ref_tensor(&f, "inputs_embeds", 0), 1e-6, 0);
        double e_gemb = compare("grad_inputs_embeds", out.inputs_embeds->grad,
                                ref_tensor(&f, "grad_inputs_embeds", 0), 1e-4, 1e-3);
        print_message("%-10s B=%d T=%-2d max |err|: logits %.1e attn %.1e hidden %.1e | grads: attn %.1e "
                      "hidden %.1e embeds %.1e\n", CONFIGS[c], f.B, f.T, e_logits, e_attn, e_hidden, e_gattn,
                      e_ghidden, e_gemb);

        /* the tape-off forward (layers released as they finish) gives the same logits */
        attx_ctx *plain = attx_ctx_new();
        attx_outputs out2;
        attx_error err;
        attx_batch batch = {.B = f.B, .T = f.T, .ids = f.ids, .lengths = f.lengths};
        assert_int_equal(attx_forward(f.model, plain, &batch, &out2, &err), 0);
        assert_null(out2.attn);
        assert_memory_equal(out2.logits->data, out.logits->data, out.logits->numel * sizeof(float));
        attx_ctx_free(plain);
        attx_ctx_free(ctx);
        free_fixture(&f);
    }
}

/* 1 and 2 threads give the same bits for logits and every gradient. */
static void test_threads_same_bits(void **state)
{
    (void)state;
    fixture f;
    load_fixture(&f, "batch");
    attx_outputs o1, o2;
    attx_set_threads(1);
    attx_ctx *c1 = run(&f, &o1);
    int64_t saved[ATTX_WORK_KINDS];   /* every loop on the two threads, however small */
    memcpy(saved, attx_parallel_min_work, sizeof saved);
    memset(attx_parallel_min_work, 0, sizeof saved);
    attx_set_threads(2);
    attx_ctx *c2 = run(&f, &o2);
    memcpy(attx_parallel_min_work, saved, sizeof saved);
    assert_memory_equal(o1.logits->data, o2.logits->data, o1.logits->numel * sizeof(float));
    assert_memory_equal(o1.inputs_embeds->grad, o2.inputs_embeds->grad, o1.inputs_embeds->numel * sizeof(float));
    for (int l = 0; l < f.model->config->num_layers; l++) {
        assert_memory_equal(o1.attn[l]->grad, o2.attn[l]->grad, o1.attn[l]->numel * sizeof(float));
        assert_memory_equal(o1.hidden[l]->grad, o2.hidden[l]->grad, o1.hidden[l]->numel * sizeof(float));
    }
    attx_ctx_free(c1);
    attx_ctx_free(c2);
    free_fixture(&f);
}

/* Ids outside the vocabulary and sequences longer than the positions are errors, not reads
 * out of bounds. */
static void test_bad_batches(void **state)
{
    (void)state;
    fixture f;
    load_fixture(&f, "tiny");
    attx_ctx *ctx = attx_ctx_new();
    attx_outputs out;
    attx_error err;
    int32_t ids[3] = {2, 9999, 3}, len[1] = {3};
    attx_batch bad = {.B = 1, .T = 3, .ids = ids, .lengths = len};
    assert_int_equal(attx_forward(f.model, ctx, &bad, &out, &err), -1);
    assert_contains(err.msg, "token id 9999 is outside the vocabulary");
    int32_t *many = calloc(100, sizeof *many), len2[1] = {100};
    attx_batch longer = {.B = 1, .T = 100, .ids = many, .lengths = len2};
    assert_int_equal(attx_forward(f.model, ctx, &longer, &out, &err), -1);
    assert_contains(err.msg, "100 tokens is more than the model's 16 positions");
    free(many);
    attx_ctx_free(ctx);
    free_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parity),
        cmocka_unit_test(test_threads_same_bits),
        cmocka_unit_test(test_bad_batches),
    };
    return cmocka_run_group_tests_name("bert", tests, NULL, NULL);
}
