/* test_vit.c — ViT parity with PyTorch: logits, patch embeddings, attention probabilities,
 * hidden states, the final LayerNorm and the gradients of each image's predicted logit with
 * respect to attention probabilities, block outputs and patch embeddings, for the
 * configurations in test/fixtures/vit (made by tools/reference/make_vit_fixtures.py: square
 * and rectangular grids, patch 8 and 16, qkv_bias on and off, F32 and F16 weights, a bare
 * ViTModel); the same bits with 1 and 2 threads; the tape-off forward; bad batches. */
#include "testutil.h"

#include <math.h>

#include "model.h"
#include "parallel.h"
#include "ops.h"

static const char *CLASSIFIERS[] = {"p8", "grid3", "rect"};
#define N_CLASSIFIERS (sizeof CLASSIFIERS / sizeof CLASSIFIERS[0])

typedef struct {
    attx_model *model;
    attx_tensor_file ref;
    int B;
    float *pixels;            /* [B, C, H, W] */
    int64_t *predicted;       /* [B]; NULL for a bare model */
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
    snprintf(path, sizeof path, "test/fixtures/vit/%s", config);
    if (attx_model_open(&f->model, path, &err) != 0) fail_msg("%s", err.msg);
    snprintf(path, sizeof path, "test/fixtures/vit/%s/reference.safetensors", config);
    if (attx_safetensors_open(&f->ref, path, &err) != 0) fail_msg("%s", err.msg);
    const attx_config *c = f->model->config;
    const attx_stored_tensor *px = ref_tensor(f, "pixel_values", 0);
    assert_int_equal(px->ndim, 4);
    assert_int_equal(px->shape[1], c->num_channels);
    assert_int_equal(px->shape[2], c->image_height);
    assert_int_equal(px->shape[3], c->image_width);
    f->B = (int)px->shape[0];
    f->pixels = malloc(px->numel * sizeof *f->pixels);
    if (attx_stored_tensor_to_f32(px, f->pixels, &err) != 0) fail_msg("%s", err.msg);
    const attx_stored_tensor *pred = attx_tensor_file_find(&f->ref, "predicted");
    if (pred) {
        assert_int_equal(pred->dtype, ATTX_I64);
        f->predicted = malloc((size_t)f->B * sizeof *f->predicted);
        memcpy(f->predicted, pred->data, (size_t)f->B * 8);
    }
}

static void free_fixture(fixture *f)
{
    attx_model_close(f->model);
    attx_tensor_file_close(&f->ref);
    free(f->pixels);
    free(f->predicted);
}

/* max |got − ref| must be ≤ atol + rtol·|ref| element-wise; returns the max abs error. */
static double compare(const char *what, const attx_tensor *got, const float *values,
                      const attx_stored_tensor *ref, double atol, double rtol)
{
    assert_int_equal(ref->dtype, ATTX_F32);
    if (!got || !values) fail_msg("%s: attx has no such tensor", what);
    if ((uint64_t)got->numel != ref->numel)
        fail_msg("%s: attx has %lld values, PyTorch %llu", what, (long long)got->numel,
                 (unsigned long long)ref->numel);
    for (int d = 0; d < got->ndim && d < ref->ndim; d++)
        if ((uint64_t)got->shape[d] != ref->shape[d]) fail_msg("%s: dimension %d differs", what, d);
    double worst = 0;
    for (uint64_t i = 0; i < ref->numel; i++) {
        float r;
        memcpy(&r, ref->data + 4 * i, 4);
        double e = fabs((double)values[i] - r);
        if (!(e <= atol + rtol * fabs(r)))
            fail_msg("%s[%llu]: attx %.7g, PyTorch %.7g", what, (unsigned long long)i, values[i], r);
        if (e > worst) worst = e;
    }
    return worst;
}

static double compare_data(const char *what, const attx_tensor *t, const attx_stored_tensor *ref)
{
    return compare(what, t, t ? t->data : NULL, ref, 1e-4, 0);
}

static double compare_grad(const char *what, const attx_tensor *t, const attx_stored_tensor *ref)
{
    return compare(what, t, t ? t->grad : NULL, ref, 1e-4, 1e-3);
}

static attx_batch image_batch(const fixture *f)
{
    return (attx_batch){.B = f->B, .pixels = f->pixels};
}

/* Forward with the tape, then (with a classifier) backward from each image's predicted logit. */
static attx_ctx *run(fixture *f, attx_outputs *out)
{
    attx_error err;
    attx_batch batch = image_batch(f);
    attx_ctx *ctx = attx_ctx_new();
    attx_ctx_set_tape(ctx, 1);
    if (attx_forward(f->model, ctx, &batch, out, &err) != 0) fail_msg("%s", err.msg);
    if (!f->predicted) return ctx;
    int C = f->model->config->num_labels;
    float *seed = calloc((size_t)(f->B * C), sizeof *seed);
    for (int b = 0; b < f->B; b++) seed[b * C + f->predicted[b]] = 1.0f;
    assert_int_equal(attx_backward(ctx, out->logits, seed), 0);
    free(seed);
    return ctx;
}

/* HF's last_hidden_state: the final LayerNorm of the last block's output (attx applies it
 * only on the way to the classifier, so the test applies it with the loaded weights). */
static double compare_last_hidden(const fixture *f, attx_ctx *ctx, const attx_outputs *out)
{
    const attx_config *c = f->model->config;
    const attx_vit_weights *w = &f->model->vit;
    attx_tensor *last = attx_op_layernorm(ctx, out->hidden[c->num_layers], w->final_ln_g, w->final_ln_b,
                                          c->layer_norm_eps);
    return compare_data("last_hidden_state", last, ref_tensor(f, "last_hidden_state", 0));
}

/* attention probabilities and hidden states (and their gradients when with_grads) */
static void compare_layers(const fixture *f, const char *name, const attx_outputs *out, int with_grads,
                           double e[4])
{
    const attx_config *cfg = f->model->config;
    char what[64];
    e[0] = e[1] = e[2] = e[3] = 0;
    for (int l = 0; l < cfg->num_layers; l++) {
        snprintf(what, sizeof what, "%s attn.%d", name, l);
        e[0] = fmax(e[0], compare_data(what, out->attn[l], ref_tensor(f, "attn.%d", l)));
        if (!with_grads) continue;
        snprintf(what, sizeof what, "%s grad_attn.%d", name, l);
        e[2] = fmax(e[2], compare_grad(what, out->attn[l], ref_tensor(f, "grad_attn.%d", l)));
    }
    for (int l = 0; l <= cfg->num_layers; l++) {
        snprintf(what, sizeof what, "%s hidden.%d", name, l);
        e[1] = fmax(e[1], compare_data(what, out->hidden[l], ref_tensor(f, "hidden.%d", l)));
        if (!with_grads) continue;
        snprintf(what, sizeof what, "%s grad_hidden.%d", name, l);
        e[3] = fmax(e[3], compare_grad(what, out->hidden[l], ref_tensor(f, "grad_hidden.%d", l)));
    }
}

static void test_parity(void **state)
{
    (void)state;
    for (size_t c = 0; c < N_CLASSIFIERS; c++) {
        fixture f;
        load_fixture(&f, CLASSIFIERS[c]);
        assert_true(attx_model_has_classifier(f.model));
        assert_non_null(f.predicted);
        attx_outputs out;
        attx_ctx *ctx = run(&f, &out);
        const attx_config *cfg = f.model->config;
        double e_logits = compare_data("logits", out.logits, ref_tensor(&f, "logits", 0));
        for (int b = 0; b < f.B; b++) {            /* the predicted class agrees */
            const float *z = out.logits->data + b * cfg->num_labels;
            int best = 0;
            for (int k = 1; k < cfg->num_labels; k++) if (z[k] > z[best]) best = k;
            assert_int_equal(best, f.predicted[b]);
        }
        double e[4];
        compare_layers(&f, CLASSIFIERS[c], &out, 1, e);
        double e_emb = compare_data("inputs_embeds", out.inputs_embeds, ref_tensor(&f, "inputs_embeds", 0));
        double e_gemb = compare_grad("grad_inputs_embeds", out.inputs_embeds, ref_tensor(&f, "grad_inputs_embeds", 0));
        double e_last = compare_last_hidden(&f, ctx, &out);
        print_message("%-6s %dx%d/%d B=%d T=%lld qkv_bias %d max |err|: logits %.1e patches %.1e attn %.1e "
                      "hidden %.1e final LN %.1e | grads: attn %.1e hidden %.1e patches %.1e\n",
                      CLASSIFIERS[c], cfg->image_height, cfg->image_width, cfg->patch_size, f.B,
                      (long long)out.hidden[0]->shape[1], cfg->qkv_bias, e_logits, e_emb, e[0], e[1], e_last,
                      e[2], e[3], e_gemb);

        /* the tape-off forward (layers released as they finish) gives the same logits */
        attx_ctx *plain = attx_ctx_new();
        attx_outputs out2;
        attx_error err;
        attx_batch batch = image_batch(&f);
        assert_int_equal(attx_forward(f.model, plain, &batch, &out2, &err), 0);
        assert_null(out2.attn);
        assert_null(out2.hidden);
        assert_memory_equal(out2.logits->data, out.logits->data, out.logits->numel * sizeof(float));
        attx_ctx_free(plain);
        attx_ctx_free(ctx);
        free_fixture(&f);
    }
}

/* A bare ViTModel (HF names without "vit.", a pooler attx does not use) loads and its blocks
 * and final LayerNorm match; there are no logits. */
static void test_bare_model(void **state)
{
    (void)state;
    fixture f;
    load_fixture(&f, "bare");
    assert_false(attx_model_has_classifier(f.model));
    assert_null(f.predicted);
    attx_outputs out;
    attx_ctx *ctx = run(&f, &out);
    assert_null(out.logits);
    double e[4];
    compare_layers(&f, "bare", &out, 0, e);
    double e_emb = compare_data("inputs_embeds", out.inputs_embeds, ref_tensor(&f, "inputs_embeds", 0));
    double e_last = compare_last_hidden(&f, ctx, &out);
    print_message("bare   ViTModel B=%d max |err|: patches %.1e attn %.1e hidden %.1e final LN %.1e\n", f.B,
                  e_emb, e[0], e[1], e_last);
    attx_ctx_free(ctx);
    /* tape off: runs, nothing to return but no failure */
    ctx = attx_ctx_new();
    attx_error err;
    attx_batch batch = image_batch(&f);
    assert_int_equal(attx_forward(f.model, ctx, &batch, &out, &err), 0);
    assert_null(out.logits);
    attx_ctx_free(ctx);
    free_fixture(&f);
}

/* 1 and 2 threads give the same bits for logits and every gradient. */
static void test_threads_same_bits(void **state)
{
    (void)state;
    for (size_t c = 0; c < N_CLASSIFIERS; c++) {
        fixture f;
        load_fixture(&f, CLASSIFIERS[c]);
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
        assert_memory_equal(o1.inputs_embeds->grad, o2.inputs_embeds->grad,
                            o1.inputs_embeds->numel * sizeof(float));
        for (int l = 0; l < f.model->config->num_layers; l++) {
            assert_memory_equal(o1.attn[l]->data, o2.attn[l]->data, o1.attn[l]->numel * sizeof(float));
            assert_memory_equal(o1.attn[l]->grad, o2.attn[l]->grad, o1.attn[l]->numel * sizeof(float));
            assert_memory_equal(o1.hidden[l]->grad, o2.hidden[l]->grad, o1.hidden[l]->numel * sizeof(float));
        }
        attx_ctx_free(c1);
        attx_ctx_free(c2);
        free_fixture(&f);
    }
}

/* The patch projection is bound as the matrix [D, C·P·P] over the Conv2d weight's values,
 * also when the file stores it F16 (converted on load): every value is the file's. */
static void test_patch_weight_binding(void **state)
{
    (void)state;
    const char *cases[] = {"p8", "grid3"};
    for (size_t i = 0; i < 2; i++) {
        fixture f;
        load_fixture(&f, cases[i]);
        const attx_config *c = f.model->config;
        const char *name = "vit.embeddings.patch_embeddings.projection.weight";
        const attx_stored_tensor *st = attx_model_tensor(&f.model->files, name);
        attx_tensor *w = f.model->vit.patch_w;
        assert_non_null(st);
        assert_ptr_equal(w, attx_model_param(f.model, name));
        assert_int_equal(st->ndim, 4);          /* the file's description is untouched */
        assert_int_equal(w->ndim, 2);
        assert_int_equal(w->shape[0], c->hidden_size);
        assert_int_equal(w->shape[1], (int64_t)c->num_channels * c->patch_size * c->patch_size);
        assert_int_equal((uint64_t)w->numel, st->numel);
        assert_int_equal(st->dtype, i == 0 ? ATTX_F32 : ATTX_F16);
        float *want = malloc(st->numel * sizeof *want);
        attx_error err;
        assert_int_equal(attx_stored_tensor_to_f32(st, want, &err), 0);
        assert_memory_equal(w->data, want, st->numel * sizeof *want);
        free(want);
        free_fixture(&f);
    }
}

/* No pixels (a text batch), an empty batch, and pixels for a text model are errors. */
/* A model whose declared image size is over the pixel limit is refused when opened (every
 * input would be resized to it): the bare fixture made 9472 x 9472 with 74-pixel patches (a
 * 1 MB file). ATTX_MAX_IMAGE_PIXELS raises the limit; a lower one does not refuse models. */
static void test_image_size_limit(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *cfg_path = tu_path(dir, "config.json"), *st_path = tu_path(dir, "model.safetensors");
    size_t len;
    char *cfg = tu_read("test/fixtures/vit/bare/config.json", &len), *big = malloc(len + 16);
    const char *size_was = "\"image_size\": 16,", *patch_was = "\"patch_size\": 4,";
    char *at = strstr(cfg, size_was), *pat = strstr(cfg, patch_was);
    assert_non_null(at);
    assert_non_null(pat);
    assert_true(at < pat);
    const char *between = at + strlen(size_was), *after = pat + strlen(patch_was);
    snprintf(big, len + 16, "%.*s\"image_size\": 9472,%.*s\"patch_size\": 74,%s", (int)(at - cfg), cfg,
             (int)(pat - between), between, after);
    tu_write_str(cfg_path, big);
    attx_tensor_file f;
    attx_error err;
    if (attx_safetensors_open(&f, "test/fixtures/vit/bare/model.safetensors", &err) != 0) fail_msg("%s", err.msg);
    attx_st_entry *entries = calloc(f.n_tensors, sizeof *entries);
    float **data = calloc(f.n_tensors, sizeof *data);
    for (size_t t = 0; t < f.n_tensors; t++) {
        const attx_stored_tensor *st = &f.tensors[t];
        entries[t] = (attx_st_entry){.name = st->name, .dtype = ATTX_F32, .ndim = st->ndim};
        memcpy(entries[t].shape, st->shape, sizeof st->shape);
        if (strcmp(st->name, "embeddings.position_embeddings") == 0) entries[t].shape[1] = 128 * 128 + 1;
        if (strcmp(st->name, "embeddings.patch_embeddings.projection.weight") == 0)
            entries[t].shape[2] = entries[t].shape[3] = 74;
        size_t numel = 1;
        for (int d = 0; d < st->ndim; d++) numel *= (size_t)entries[t].shape[d];
        data[t] = calloc(numel, sizeof(float));   /* zeros: only the shapes matter here */
        entries[t].f32 = data[t];
    }
    if (attx_safetensors_write(st_path, entries, f.n_tensors, NULL, NULL, 0, &err) != 0) fail_msg("%s", err.msg);
    attx_model *m;
    assert_int_equal(unsetenv("ATTX_MAX_IMAGE_PIXELS"), 0);
    assert_int_equal(attx_model_open(&m, dir, &err), -1);
    assert_non_null(strstr(err.msg, dir));
    assert_non_null(strstr(err.msg, "image size 9472x9472 is 89718784 pixels, over the limit of 89478485 "
                                    "(ATTX_MAX_IMAGE_PIXELS)"));
    assert_int_equal(setenv("ATTX_MAX_IMAGE_PIXELS", "89718784", 1), 0);
    if (attx_model_open(&m, dir, &err) != 0) fail_msg("%s", err.msg);
    attx_model_close(m);
    assert_int_equal(setenv("ATTX_MAX_IMAGE_PIXELS", "100", 1), 0);   /* p8 is 32 x 32 */
    if (attx_model_open(&m, "test/fixtures/vit/p8", &err) != 0) fail_msg("%s", err.msg);
    attx_model_close(m);
    assert_int_equal(unsetenv("ATTX_MAX_IMAGE_PIXELS"), 0);
    for (size_t t = 0; t < f.n_tensors; t++) free(data[t]);
    free(data), free(entries), free(cfg), free(big), free(cfg_path), free(st_path);
    attx_tensor_file_close(&f);
    tu_rmdir(dir);
}

static void test_bad_batches(void **state)
{
    (void)state;
    fixture f;
    load_fixture(&f, "p8");
    attx_ctx *ctx = attx_ctx_new();
    attx_outputs out;
    attx_error err;
    int32_t ids[3] = {2, 5, 3}, len[1] = {3};
    attx_batch text = {.B = 1, .T = 3, .ids = ids, .lengths = len};
    assert_int_equal(attx_forward(f.model, ctx, &text, &out, &err), -1);
    assert_contains(err.msg, "needs pixels");
    attx_batch empty = {.B = 0, .pixels = f.pixels};
    assert_int_equal(attx_forward(f.model, ctx, &empty, &out, &err), -1);
    assert_contains(err.msg, "at least one image");
    attx_batch negative = {.B = -3, .pixels = f.pixels};
    assert_int_equal(attx_forward(f.model, ctx, &negative, &out, &err), -1);
    assert_contains(err.msg, "at least one image");
    attx_ctx_free(ctx);

    attx_model *bert;
    assert_int_equal(attx_model_open(&bert, "test/fixtures/bert/tiny", &err), 0);
    ctx = attx_ctx_new();
    attx_batch image = image_batch(&f);
    assert_int_equal(attx_forward(bert, ctx, &image, &out, &err), -1);
    assert_contains(err.msg, "needs token ids");
    attx_ctx_free(ctx);
    attx_model_close(bert);
    free_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parity),
        cmocka_unit_test(test_bare_model),
        cmocka_unit_test(test_threads_same_bits),
        cmocka_unit_test(test_patch_weight_binding),
        cmocka_unit_test(test_bad_batches),
        cmocka_unit_test(test_image_size_limit),
    };
    return cmocka_run_group_tests_name("vit", tests, NULL, NULL);
}
