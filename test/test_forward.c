/* test_forward.c — attx_forward's guard against outputs that are not numbers: a model whose
 * weights hold a NaN or an infinity (written here as copies of the tiny fixtures with one value
 * changed) is an error naming the file, the tensor and the index, from the library and from
 * `attx predict`, `explain` and `eval` (exit 1, one line); finite weights that overflow name
 * the op where the first non-finite value appears; non-finite inputs are named as inputs; the
 * unchanged fixtures still run. */
#include "testutil.h"

#include <math.h>

#include "attx_engine.h"

#define BERT "test/fixtures/bert/tiny"
#define VIT "test/fixtures/vit/p8"
#define VIT_BARE "test/fixtures/vit/bare"
#define ATTN1 "test/fixtures/attn1"
#define IMAGE "test/fixtures/images/checker_16x12.png"

/* One change to a copied model: element `index` of tensor `name` (-1: every element) := value. */
typedef struct { const char *name; int64_t index; float value; } change;

static void copy_file(const char *src_dir, const char *dst_dir, const char *name)
{
    char *src = tu_path(src_dir, name), *dst = tu_path(dst_dir, name);
    struct stat st;
    if (stat(src, &st) == 0) {
        size_t len;
        char *text = tu_read(src, &len);
        tu_write(dst, text, len);
        free(text);
    }
    free(src);
    free(dst);
}

/* A copy of the model directory src in a new temporary directory, with the changes made to
 * its weights (every tensor written as F32; bare: without the classifier and the pooler).
 * Returns the directory (tu_rmdir). */
static char *model_copy_as(const char *src, const change *changes, int n_changes, int bare)
{
    char *dir = tu_mkdtemp();
    const char *others[] = {"config.json", "vocab.txt", "preprocessor_config.json"};
    for (int i = 0; i < 3; i++) copy_file(src, dir, others[i]);
    char *in = tu_path(src, "model.safetensors"), *out = tu_path(dir, "model.safetensors");
    attx_tensor_file f;
    attx_error err;
    if (attx_safetensors_open(&f, in, &err) != 0) fail_msg("%s", err.msg);
    int *used = calloc((size_t)n_changes + 1, sizeof *used);
    attx_st_entry *entries = calloc(f.n_tensors, sizeof *entries);
    float **data = calloc(f.n_tensors, sizeof *data);
    size_t n = 0;
    for (size_t t = 0; t < f.n_tensors; t++) {
        const attx_stored_tensor *st = &f.tensors[t];
        data[t] = malloc(st->numel * sizeof(float) + 1);
        if (bare && (strncmp(st->name, "classifier.", 11) == 0 || strncmp(st->name, "bert.pooler.", 12) == 0)) continue;
        if (attx_stored_tensor_to_f32(st, data[t], &err) != 0) fail_msg("%s", err.msg);
        for (int c = 0; c < n_changes; c++) {
            if (strcmp(changes[c].name, st->name) != 0) continue;
            used[c] = 1;
            for (int64_t k = 0; k < (int64_t)st->numel; k++)
                if (changes[c].index < 0 || changes[c].index == k) data[t][k] = changes[c].value;
        }
        entries[n] = (attx_st_entry){.name = st->name, .dtype = ATTX_F32, .ndim = st->ndim, .f32 = data[t]};
        memcpy(entries[n++].shape, st->shape, sizeof st->shape);
    }
    if (attx_safetensors_write(out, entries, n, (const char *const *)f.meta_keys,
                               (const char *const *)f.meta_values, f.n_meta, &err) != 0)
        fail_msg("%s", err.msg);
    for (int c = 0; c < n_changes; c++)
        if (!used[c]) fail_msg("%s has no tensor '%s'", in, changes[c].name);
    for (size_t t = 0; t < f.n_tensors; t++) free(data[t]);
    free(used);
    free(data);
    free(entries);
    attx_tensor_file_close(&f);
    free(in);
    free(out);
    return dir;
}

static char *model_copy(const char *src, const change *changes, int n_changes)
{
    return model_copy_as(src, changes, n_changes, 0);
}

/* attx_forward of one text (or, for a ViT, the test image) with the tape on or off; returns
 * its status, err filled on failure. */
static int forward_one(attx_model *m, int tape, attx_error *err)
{
    const attx_config *c = attx_model_config(m);
    attx_ctx *ctx = attx_ctx_new();
    attx_ctx_set_tape(ctx, tape);
    attx_outputs out;
    attx_encoding enc = {0};
    float *pixels = NULL;
    attx_batch batch = {.B = 1};
    if (c->arch == ATTX_ARCH_VIT) {
        pixels = malloc((size_t)c->num_channels * c->image_height * c->image_width * sizeof *pixels);
        if (attx_encode_image(m, IMAGE, pixels, err) != 0) fail_msg("%s", err->msg);
        batch.pixels = pixels;
    } else {
        const char *text = "the movie was good";
        if (attx_encode_text(m, text, strlen(text), &enc, err) != 0) fail_msg("%s", err->msg);
        batch.T = enc.length;
        batch.ids = enc.ids;
        batch.lengths = &enc.length;
    }
    int rc = attx_forward(m, ctx, &batch, &out, err);
    attx_encoding_free(&enc);
    free(pixels);
    attx_ctx_free(ctx);
    return rc;
}

/* Opens dir/model.safetensors's model and expects its forward to fail with each phrase. */
static void expect_forward_error(const char *dir, int tape, const char *const *phrases, int n)
{
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, dir, &err) != 0) fail_msg("%s", err.msg);
    if (forward_one(m, tape, &err) != -1)
        fail_msg("%s (tape %d): the forward pass succeeded; expected %s", dir, tape, phrases[n - 1]);
    char *file = tu_path(dir, "model.safetensors");
    assert_contains(err.msg, file);
    free(file);
    for (int i = 0; i < n; i++) assert_contains(err.msg, phrases[i]);
    assert_null(strchr(err.msg, '\n'));
    attx_model_close(m);
}

static void expect_forward_ok(const char *dir)
{
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, dir, &err) != 0) fail_msg("%s", err.msg);
    if (forward_one(m, 0, &err) != 0 || forward_one(m, 1, &err) != 0) fail_msg("%s: %s", dir, err.msg);
    attx_model_close(m);
}

static void test_weight_named(void **state)
{
    (void)state;
    const struct {
        const char *model, *tensor;
        int64_t index;
        float value;
        const char *says;
    } cases[] = {
        /* query.weight is [16, 16]: element 21 is row 1, column 5 */
        {BERT, "bert.encoder.layer.0.attention.self.query.weight", 21, NAN, "holds NaN at [1, 5]"},
        {BERT, "bert.encoder.layer.1.output.dense.bias", 3, INFINITY, "holds +inf at [3]"},
        {BERT, "bert.embeddings.word_embeddings.weight", 2 * 16, -INFINITY, "holds -inf at [2, 0]"},   /* [CLS] */
        {BERT, "classifier.weight", 0, NAN, "holds NaN at [0, 0]"},
        /* the patch projection is named with the shape it has in the file, [D, C, P, P] */
        {VIT, "vit.embeddings.patch_embeddings.projection.weight", 0, NAN, "holds NaN at [0, 0, 0, 0]"},
        {VIT, "vit.layernorm.weight", 1, NAN, "holds NaN at [1]"},
        {ATTN1, "attn1.value.weight", 0, NAN, "holds NaN at [0, 0]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        change ch = {cases[i].tensor, cases[i].index, cases[i].value};
        char *dir = model_copy(cases[i].model, &ch, 1);
        char quoted[160];
        snprintf(quoted, sizeof quoted, "weight tensor '%s'", cases[i].tensor);
        const char *phrases[] = {"the logits are not finite", quoted, cases[i].says};
        expect_forward_error(dir, 0, phrases, 3);
        expect_forward_error(dir, 1, phrases, 3);
        tu_rmdir(dir);
    }
    /* the copies without a change run, so the error came from the change */
    char *dir = model_copy(BERT, NULL, 0);
    expect_forward_ok(dir);
    tu_rmdir(dir);
    expect_forward_ok(BERT);
    expect_forward_ok(VIT);
    expect_forward_ok(ATTN1);

    /* a bare encoder: its last hidden states are checked (a ViT leaves them with the tape on,
     * a BERT always) */
    change ch = {"encoder.layer.0.output.dense.weight", 7, NAN};   /* a bare ViTModel's names lack "vit." */
    dir = model_copy(VIT_BARE, &ch, 1);
    const char *phrases[] = {"the last hidden states are not finite",
                             "weight tensor 'encoder.layer.0.output.dense.weight' holds NaN at [0, 7]"};
    expect_forward_error(dir, 1, phrases, 2);
    tu_rmdir(dir);
    ch = (change){"bert.encoder.layer.1.output.LayerNorm.bias", 2, INFINITY};
    dir = model_copy_as(BERT, &ch, 1, 1);
    const char *bert_phrases[] = {"the last hidden states are not finite",
                                  "weight tensor 'bert.encoder.layer.1.output.LayerNorm.bias' holds +inf at [2]"};
    expect_forward_error(dir, 0, bert_phrases, 2);
    expect_forward_error(dir, 1, bert_phrases, 2);
    tu_rmdir(dir);
    dir = model_copy_as(BERT, NULL, 0, 1);
    expect_forward_ok(dir);
    tu_rmdir(dir);
}

/* Finite weights whose products overflow: the op where the first non-finite value appears. */
static void test_overflow_named(void **state)
{
    (void)state;
    /* LayerNorm scales of 1e37 keep its output finite (|x̂| ≤ √15); the next linear's
     * products (1e37 · 1e37 · x̂) overflow */
    change big_ffn[] = {{"bert.encoder.layer.0.attention.output.LayerNorm.weight", -1, 1e37f},
                        {"bert.encoder.layer.0.intermediate.dense.weight", -1, 1e37f}};
    char *dir = model_copy(BERT, big_ffn, 2);
    const char *ffn[] = {"the logits of example 0 are not finite",
                         "the first non-finite value is in the output of bert.encoder.layer.0.intermediate.dense"};
    expect_forward_error(dir, 0, ffn, 2);
    expect_forward_error(dir, 1, ffn, 2);
    tu_rmdir(dir);
    /* query and key biases of 3e38: q and k are finite, q · k is not */
    change big_qk[] = {{"bert.encoder.layer.1.attention.self.query.bias", -1, 3e38f},
                       {"bert.encoder.layer.1.attention.self.key.bias", -1, 3e38f}};
    dir = model_copy(BERT, big_qk, 2);
    const char *scores[] = {"the first non-finite value is in the attention scores of layer 1 "
                            "(bert.encoder.layer.1.attention.self)"};
    expect_forward_error(dir, 0, scores, 1);
    tu_rmdir(dir);
}

/* Non-finite inputs of one example of a batch are named as inputs, with the example. */
static void test_inputs_named(void **state)
{
    (void)state;
    attx_model *m;
    attx_error err;
    attx_ctx *ctx = attx_ctx_new();
    attx_outputs out;
    if (attx_model_open(&m, BERT, &err) != 0) fail_msg("%s", err.msg);
    int32_t ids[2 * 4] = {2, 10, 11, 3, 2, 12, 13, 3}, lengths[2] = {4, 4};
    float *embeds = calloc(2 * 4 * 16, sizeof *embeds);
    attx_batch batch = {.B = 2, .T = 4, .ids = ids, .lengths = lengths, .inputs_embeds = embeds};
    assert_int_equal(attx_forward(m, ctx, &batch, &out, &err), 0);
    embeds[4 * 16 + 5] = NAN;   /* example 1, token 0 */
    assert_int_equal(attx_forward(m, ctx, &batch, &out, &err), -1);
    assert_contains(err.msg, "the logits of example 1 are not finite: the inputs_embeds given hold NaN");
    free(embeds);
    attx_model_close(m);

    if (attx_model_open(&m, VIT, &err) != 0) fail_msg("%s", err.msg);
    const attx_config *c = attx_model_config(m);
    size_t n = (size_t)c->num_channels * c->image_height * c->image_width;
    float *pixels = calloc(n, sizeof *pixels);
    batch = (attx_batch){.B = 1, .pixels = pixels};
    assert_int_equal(attx_forward(m, ctx, &batch, &out, &err), 0);
    pixels[n - 1] = INFINITY;
    assert_int_equal(attx_forward(m, ctx, &batch, &out, &err), -1);
    assert_contains(err.msg, "the logits of example 0 are not finite: its input pixels hold +inf");
    free(pixels);
    attx_model_close(m);
    attx_ctx_free(ctx);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* The commands exit 1 with one line naming the tensor, and print nothing on stdout. */
static void expect_cli_error(const char *args, const char *phrase)
{
    char cmd[8192], *out, *err;
    snprintf(cmd, sizeof cmd, "%s %s", tu_attx(), args);
    int rc = tu_run(cmd, &out, &err);
    if (rc != 1) fail_msg("attx %s: exit %d, stderr: %s", args, rc, err);
    assert_contains(err, "attx: error: ");
    assert_contains(err, phrase);
    assert_int_equal(count_lines(err), 1);
    assert_string_equal(out, "");
    free(out);
    free(err);
}

static void test_commands(void **state)
{
    (void)state;
    change ch = {"bert.encoder.layer.1.attention.self.value.weight", 3, NAN};
    char *dir = model_copy(BERT, &ch, 1), args[4096];
    const char *named = "weight tensor 'bert.encoder.layer.1.attention.self.value.weight' holds NaN at [0, 3]";
    snprintf(args, sizeof args, "predict %s 'the movie was good'", dir);
    expect_cli_error(args, named);
    snprintf(args, sizeof args, "predict %s 'the movie was good' --json", dir);
    expect_cli_error(args, named);
    snprintf(args, sizeof args, "explain %s 'the movie was good'", dir);
    expect_cli_error(args, named);
    char *tsv = tu_path(dir, "data.tsv");
    tu_write_str(tsv, "label\tsentence\n1\tthe movie was good\n0\tthe plot was bad\n");
    /* attx eval skips an example that fails (with a warning that names the cause) and exits 1
     * when none could be evaluated */
    const char *evals[] = {"--methods att-cls", "--accuracy"};
    for (int i = 0; i < 2; i++) {
        char cmd[8192], *out, *err;
        snprintf(cmd, sizeof cmd, "%s eval %s %s %s", tu_attx(), dir, tsv, evals[i]);
        int rc = tu_run(cmd, &out, &err);
        if (rc != 1) fail_msg("%s: exit %d, stderr: %s", cmd, rc, err);
        assert_contains(err, named);
        free(out);
        free(err);
    }
    free(tsv);
    tu_rmdir(dir);

    ch = (change){"vit.encoder.layer.0.attention.attention.query.bias", 0, NAN};
    dir = model_copy(VIT, &ch, 1);
    snprintf(args, sizeof args, "predict %s " IMAGE, dir);
    expect_cli_error(args, "weight tensor 'vit.encoder.layer.0.attention.attention.query.bias' holds NaN at [0]");
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weight_named),
        cmocka_unit_test(test_overflow_named),
        cmocka_unit_test(test_inputs_named),
        cmocka_unit_test(test_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
