/* test_bert_base.c — the real-size check: a BERT-base-sized random model (12 layers, 768
 * hidden, 12 heads, 3072 FFN, the 30,522-token bert-base-uncased vocabulary from ../shared)
 * written as an HF directory, converted by `attx convert` to one file in F32, F16 and BF16, and
 * run by `attx predict`: the F32 file gives the HF directory's logits bit for bit, F16 and BF16
 * the same top class with logits within their rounding. */
#include "testutil.h"

#include <math.h>

#include "random_model.h"

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
    tu_need_file(BERT_VOCAB);
    char *dir = tu_mkdtemp(), *hf = tu_path(dir, "hf");
    assert_int_equal(mkdir(hf, 0755), 0);
    write_bert_base(hf, BERT_VOCAB);
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
