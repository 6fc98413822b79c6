/* test_bert_base.c — the real-size check: a BERT-base-sized random model (12 layers, 768
 * hidden, 12 heads, 3072 FFN, the 30,522-token bert-base-uncased vocabulary from ../shared)
 * written as an HF directory, converted by `attx convert` to one file in F32, F16 and BF16, and
 * run by `attx predict`: the F32 file gives the HF directory's logits bit for bit, F16 and BF16
 * the same top class with logits within their rounding. */
#include "testutil.h"

#include <math.h>

static const char *VOCAB = "../shared/data/bert-vocab/vocab.txt";

static uint64_t rng = 0x853C49E6748FEA9Bull;
static float normal(float sd)   /* Box-Muller on a xorshift generator */
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        u[i] = ((rng >> 11) + 0.5) / 9007199254740992.0;
    }
    return sd * (float)(sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

/* config.json + model.safetensors + vocab.txt of a random bert-base-sized classifier */
static void write_bert_base(const char *dir)
{
    const char *config =
        "{\"model_type\": \"bert\", \"vocab_size\": 30522, \"hidden_size\": 768, \"num_hidden_layers\": 12,"
        " \"num_attention_heads\": 12, \"intermediate_size\": 3072, \"max_position_embeddings\": 512,"
        " \"id2label\": {\"0\": \"negative\", \"1\": \"positive\"}}";
    attx_config c;
    attx_error err;
    assert_int_equal(attx_config_parse(&c, config, strlen(config), "config.json", &err), 0);
    attx_tensor_spec *specs;
    size_t n;
    assert_int_equal(attx_config_tensor_specs(&c, &specs, &n, &err), 0);
    attx_st_entry *e = calloc(n, sizeof *e);
    float **values = calloc(n, sizeof *values);
    for (size_t i = 0; i < n; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < specs[i].ndim; d++) numel *= specs[i].shape[d];
        values[i] = malloc(numel * sizeof(float));
        int is_norm_weight = strstr(specs[i].name, "LayerNorm.weight") != NULL;
        /* BERT's initialisation (N(0, 0.02)), except a wide classifier so that the two logits
         * are far enough apart for the top class to survive BF16 rounding */
        float sd = strncmp(specs[i].name, "classifier", 10) == 0 ? 1.0f : 0.02f;
        for (uint64_t k = 0; k < numel; k++) values[i][k] = (is_norm_weight ? 1.0f : 0.0f) + normal(sd);
        e[i] = (attx_st_entry){.name = specs[i].name, .dtype = ATTX_F32, .ndim = specs[i].ndim, .f32 = values[i]};
        memcpy(e[i].shape, specs[i].shape, sizeof specs[i].shape);
    }
    char *cfg = tu_path(dir, "config.json"), *weights = tu_path(dir, "model.safetensors"), *vocab = tu_path(dir, "vocab.txt");
    tu_write_str(cfg, config);
    assert_int_equal(attx_safetensors_write(weights, e, n, NULL, NULL, 0, &err), 0);
    size_t len;
    char *v = tu_read(VOCAB, &len);
    tu_write(vocab, v, len);
    free(v);
    for (size_t i = 0; i < n; i++) free(values[i]);
    free(values);
    free(e);
    free(specs);
    free(cfg);
    free(weights);
    free(vocab);
    attx_config_free(&c);
}

typedef struct { float logits[2]; int predicted; } prediction;

static prediction predict(const char *model)
{
    char cmd[4096], *out, *err;
    snprintf(cmd, sizeof cmd, "%s predict '%s' 'a sentence of ordinary words, with punctuation!' --json",
             tu_attx(), model);
    int status = tu_run(cmd, &out, &err);
    if (status != 0) fail_msg("%s: %s", cmd, err);
    attx_json_doc *doc;
    attx_error e;
    if (attx_json_parse(out, strlen(out), NULL, &doc, &e) != 0) fail_msg("%s", e.msg);
    const attx_json_value *root = attx_json_root(doc), *logits = attx_json_get(root, "logits");
    prediction p;
    double x;
    for (int k = 0; k < 2; k++) {
        assert_int_equal(attx_json_double(attx_json_item(logits, (size_t)k), &x), 0);
        p.logits[k] = (float)x;
    }
    int64_t k;
    assert_int_equal(attx_json_i64(attx_json_get(root, "predicted"), &k), 0);
    p.predicted = (int)k;
    attx_json_free(doc);
    free(out);
    free(err);
    return p;
}

static void convert(const char *from, const char *to, const char *dtype)
{
    char cmd[4096], *err;
    snprintf(cmd, sizeof cmd, "%s convert '%s' '%s' --dtype %s", tu_attx(), from, to, dtype);
    if (tu_run(cmd, NULL, &err) != 0) fail_msg("%s: %s", cmd, err);
    free(err);
}

static void test_bert_base_forms(void **state)
{
    (void)state;
    if (access(VOCAB, R_OK) != 0) fail_msg("%s is missing (../shared must be beside the checkout)", VOCAB);
    char *dir = tu_mkdtemp(), *hf = tu_path(dir, "hf");
    assert_int_equal(mkdir(hf, 0755), 0);
    write_bert_base(hf);
    prediction ref = predict(hf);
    const char *dtypes[] = {"f32", "f16", "bf16"};
    /* |Δ logit| allowed: 0 for F32 (same bits), else 4 unit roundoffs of the dtype (2^-11 for
     * F16, 2^-8 for BF16) times the largest |logit|; measured: 0.006 and 0.07 at |logit| 25 */
    const double roundoff[] = {0.0, 0x1p-11, 0x1p-8};
    double scale = fmax(fabs(ref.logits[0]), fabs(ref.logits[1]));
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "base-%s.safetensors", dtypes[i]);
        char *file = tu_path(dir, name);
        convert(hf, file, dtypes[i]);
        prediction p = predict(file);
        assert_int_equal(p.predicted, ref.predicted);
        for (int k = 0; k < 2; k++) {
            double d = fabs((double)p.logits[k] - ref.logits[k]);
            if (d > 4 * roundoff[i] * scale) fail_msg("%s logit %d: %g vs %g", dtypes[i], k, p.logits[k], ref.logits[k]);
        }
        print_message("%-4s logits %+.6f %+.6f (HF directory %+.6f %+.6f)\n", dtypes[i], p.logits[0], p.logits[1],
                      ref.logits[0], ref.logits[1]);
        unlink(file);
        free(file);
    }
    free(hf);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bert_base_forms)};
    return cmocka_run_group_tests_name("bert_base", tests, NULL, NULL);
}
