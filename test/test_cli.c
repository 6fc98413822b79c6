/* test_cli.c — the `attx` program as a user runs it: exit statuses, one-line errors that name
 * the file, `attx convert` of a torch.save checkpoint against PyTorch's own tensors, and
 * `attx info` text and JSON (BERT and ViT). */
#include "testutil.h"

#include <math.h>

static char *run_attx(const char *args, int *status, char **err)
{
    char cmd[8192], *out;
    snprintf(cmd, sizeof cmd, "%s %s", tu_attx(), args);
    *status = tu_run(cmd, &out, err);
    return out;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* Expects exit status 1 and exactly one stderr line "attx: error: ..." containing phrase. */
static void expect_bad_input(const char *args, const char *phrase)
{
    int status;
    char *err, *out = run_attx(args, &status, &err);
    if (status != 1) fail_msg("attx %s: exit %d, stderr: %s", args, status, err);
    assert_contains(err, "attx: error: ");
    assert_contains(err, phrase);
    assert_int_equal(count_lines(err), 1);
    assert_string_equal(out, "");
    free(out);
    free(err);
}

static void expect_usage_error(const char *args, const char *phrase)
{
    int status;
    char *err, *out = run_attx(args, &status, &err);
    if (status != 2) fail_msg("attx %s: exit %d, stderr: %s", args, status, err);
    assert_contains(err, phrase);
    free(out);
    free(err);
}

static void test_usage(void **state)
{
    (void)state;
    int status;
    char *err, *out = run_attx("--help", &status, &err);
    assert_int_equal(status, 0);
    assert_contains(out, "info");
    assert_contains(out, "convert");
    free(out);
    free(err);
    out = run_attx("convert --help", &status, &err);
    assert_int_equal(status, 0);
    assert_contains(out, "usage: attx convert MODEL OUT.safetensors");
    free(out);
    free(err);
    expect_usage_error("", "usage: attx COMMAND");
    expect_usage_error("frobnicate", "unknown command 'frobnicate'");
    expect_usage_error("info", "MODEL is missing");
    expect_usage_error("info a b", "unexpected argument 'b'");
    expect_usage_error("info --wat x", "unknown option '--wat'");
    expect_usage_error("convert test/fixtures/tiny_bert_bin /tmp/x.safetensors --dtype f8", "--dtype must be");
    expect_usage_error("convert test/fixtures/tiny_bert_bin /tmp/x.safetensors --dtype", "--dtype needs a value");
    expect_usage_error("train --data x --dev y --out z --vocab v --lr-decay 1.5", "--lr-decay must be a number in [0.01, 1]");
    expect_usage_error("train --data x --dev y --out z --vocab v --label-smoothing 1", "--label-smoothing must be a number in [0, 0.99]");
    expect_usage_error("tcav-check", "SYNTH_DIR and at least one MODEL");
    expect_usage_error("tcav-check --text m d --concept c", "--random");
    expect_usage_error("tcav-check s m --random r1 r2", "--concept and --random are for --text");
}

static void test_bad_inputs(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char args[8192];
    expect_bad_input("info /nonexistent/model", "/nonexistent/model: No such file or directory");
    snprintf(args, sizeof args, "info %s", dir);
    expect_bad_input(args, "no model.safetensors or pytorch_model.bin");

    char *junk = tu_path(dir, "junk.safetensors");
    tu_write(junk, "\x10\0\0\0\0\0\0\0{\"a\":}          ", 24);
    snprintf(args, sizeof args, "info %s", junk);
    expect_bad_input(args, "junk.safetensors: header: invalid JSON");
    tu_write(junk, "\x40\0\0\0\0\0\0\0{}", 10);
    expect_bad_input(args, "junk.safetensors: header length 64 is larger than the file");
    tu_write(junk, "", 0);
    expect_bad_input(args, "junk.safetensors: file is 0 bytes");
    tu_write(junk, "PK\3\4 not really a zip", 22);
    expect_bad_input(args, "junk.safetensors");
    free(junk);

    snprintf(args, sizeof args, "convert test/fixtures/tiny_bert_bin %s/no/such/dir/out.safetensors", dir);
    expect_bad_input(args, "cannot create");
    tu_rmdir(dir);
}

/* `attx convert` of the torch.save checkpoint gives exactly PyTorch's tensors under canonical
 * names (test/fixtures/tiny_bert_bin.expected.safetensors, written by the reference script). */
static void test_convert_torch_checkpoint(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *out_path = tu_path(dir, "tiny.safetensors"), args[8192];
    int status;
    char *err;
    snprintf(args, sizeof args, "convert test/fixtures/tiny_bert_bin %s", out_path);
    char *out = run_attx(args, &status, &err);
    if (status != 0) fail_msg("convert failed: %s", err);
    assert_contains(out, "41 tensors");
    assert_contains(out, "left out 2 tensors");
    free(out);
    free(err);

    attx_tensor_file got, want;
    attx_error e;
    assert_int_equal(attx_safetensors_open(&got, out_path, &e), 0);
    assert_int_equal(attx_safetensors_open(&want, "test/fixtures/tiny_bert_bin.expected.safetensors", &e), 0);
    assert_int_equal(got.n_tensors, want.n_tensors);
    for (size_t i = 0; i < want.n_tensors; i++) {
        const attx_stored_tensor *w = &want.tensors[i], *g = attx_tensor_file_find(&got, w->name);
        if (!g) fail_msg("converted file lacks %s", w->name);
        assert_int_equal(g->dtype, w->dtype);
        assert_int_equal(g->ndim, w->ndim);
        assert_memory_equal(g->shape, w->shape, sizeof g->shape);
        assert_memory_equal(g->data, w->data, w->nbytes);
    }
    size_t len;
    char *config = tu_read("test/fixtures/tiny_bert_bin/config.json", &len);
    char *vocab = tu_read("test/fixtures/tiny_bert_bin/vocab.txt", &len);
    assert_string_equal(attx_tensor_file_meta(&got, "attx.config"), config);
    assert_string_equal(attx_tensor_file_meta(&got, "attx.vocab"), vocab);
    free(config);
    free(vocab);

    /* --dtype f16: every value is PyTorch's value rounded to nearest even */
    char *half_path = tu_path(dir, "tiny16.safetensors");
    snprintf(args, sizeof args, "convert %s %s --dtype f16", out_path, half_path);
    out = run_attx(args, &status, &err);
    if (status != 0) fail_msg("convert --dtype f16 failed: %s", err);
    free(out);
    free(err);
    attx_tensor_file half;
    assert_int_equal(attx_safetensors_open(&half, half_path, &e), 0);
    for (size_t i = 0; i < want.n_tensors; i++) {
        const attx_stored_tensor *w = &want.tensors[i], *h = attx_tensor_file_find(&half, w->name);
        assert_int_equal(h->dtype, ATTX_F16);
        for (uint64_t k = 0; k < w->numel; k++) {
            float x;
            memcpy(&x, w->data + 4 * k, 4);
            uint16_t bits = (uint16_t)(h->data[2 * k] | h->data[2 * k + 1] << 8);
            assert_int_equal(bits, attx_f32_to_f16(x));
        }
    }
    assert_string_equal(attx_tensor_file_meta(&half, "attx.config"), attx_tensor_file_meta(&got, "attx.config"));
    attx_tensor_file_close(&half);
    attx_tensor_file_close(&got);
    attx_tensor_file_close(&want);
    free(half_path);
    free(out_path);
    tu_rmdir(dir);
}

static void test_info(void **state)
{
    (void)state;
    int status;
    char *err, *out = run_attx("info test/fixtures/tiny_bert_bin", &status, &err);
    if (status != 0) fail_msg("info failed: %s", err);
    assert_contains(out, "BertForSequenceClassification");
    assert_contains(out, "2 layers, hidden 8, 2 heads of 4, feed-forward 16");
    assert_contains(out, "labels        3: 0=World 1=Sports 2=Business");
    assert_contains(out, "PyTorch zip");
    assert_contains(out, "not used      2 tensors");
    free(out);
    free(err);

    out = run_attx("info test/fixtures/tiny_bert_bin --json", &status, &err);
    assert_int_equal(status, 0);
    attx_json_doc *doc;
    attx_error e;
    if (attx_json_parse(out, strlen(out), NULL, &doc, &e) != 0) fail_msg("%s in %s", e.msg, out);
    const attx_json_value *root = attx_json_root(doc);
    assert_string_equal(attx_json_str(attx_json_get(root, "class"), NULL), "BertForSequenceClassification");
    uint64_t params;
    assert_int_equal(attx_json_u64(attx_json_get(root, "parameters"), &params), 0);
    /* embeddings + 2 layers + pooler + classifier of the reference script's sizes */
    assert_int_equal(params, 24 * 8 + 12 * 8 + 2 * 8 + 16 + 2 * (4 * 72 + 16 + 16 * 8 + 16 + 8 * 16 + 8 + 16) +
                                 72 + 3 * 8 + 3);
    const attx_json_value *labels = attx_json_get(root, "labels");
    assert_int_equal(attx_json_len(labels), 3);
    assert_string_equal(attx_json_str(attx_json_item(labels, 2), NULL), "Business");
    assert_int_equal(attx_json_len(attx_json_get(root, "ignored_tensors")), 2);
    attx_json_free(doc);
    free(out);
    free(err);
}

/* `attx info` on ViTs: image size, grid and token count, qkv bias and labels, as text and JSON
 * (the sizes are the ones tools/reference/make_vit_fixtures.py wrote). */
/* `attx predict` on image files: logits of PIL's decoding and ViTImageProcessor's resizing run
 * through the float64 PyTorch ViT (tools/reference/make_vit_predict_fixture.py). */
static void test_predict_images(void **state)
{
    (void)state;
    size_t len;
    char *text = tu_read("test/fixtures/vit/predict_expected.json", &len);
    attx_json_doc *ref;
    attx_error e;
    if (attx_json_parse(text, len, NULL, &ref, &e) != 0) fail_msg("%s", e.msg);
    const attx_json_value *root = attx_json_root(ref);
    double worst = 0;
    for (size_t i = 0; i < attx_json_len(root); i++) {
        const char *key = attx_json_key(root, i, NULL);
        const attx_json_value *want = attx_json_member(root, i);
        char model[64], image[64], args[512];
        assert_int_equal(sscanf(key, "%63[^/]/%63s", model, image), 2);
        snprintf(args, sizeof args, "predict test/fixtures/vit/%s test/fixtures/images/%s --json", model, image);
        int status;
        char *err, *out = run_attx(args, &status, &err);
        if (status != 0) fail_msg("attx %s: %s", args, err);
        attx_json_doc *doc;
        if (attx_json_parse(out, strlen(out), NULL, &doc, &e) != 0) fail_msg("%s in %s", e.msg, out);
        const attx_json_value *logits = attx_json_get(attx_json_root(doc), "logits");
        assert_int_equal(attx_json_len(logits), attx_json_len(want));
        for (size_t k = 0; k < attx_json_len(want); k++) {
            double got, exp;
            assert_int_equal(attx_json_double(attx_json_item(logits, k), &got), 0);
            assert_int_equal(attx_json_double(attx_json_item(want, k), &exp), 0);
            if (fabs(got - exp) > 1e-4) fail_msg("%s logit %zu: attx %.7f, PyTorch %.7f", key, k, got, exp);
            worst = fmax(worst, fabs(got - exp));
        }
        assert_non_null(attx_json_get(attx_json_root(doc), "patches"));
        attx_json_free(doc);
        free(out);
        free(err);
    }
    print_message("attx predict on %zu image/model pairs: largest logit difference from PIL + PyTorch %.2g\n",
                  attx_json_len(root), worst);
    attx_json_free(ref);
    free(text);

    int status;
    char *err, *out = run_attx("predict test/fixtures/vit/p8 test/fixtures/images/checker_16x12.png --top 1", &status, &err);
    assert_int_equal(status, 0);
    assert_contains(out, "(2 more classes; --top 3 shows them all)");
    assert_contains(out, "32x32 pixels in 16 patches of 8x8");
    free(out);
    free(err);
    expect_bad_input("predict test/fixtures/vit/p8 test/fixtures/vit/p8/config.json", "test/fixtures/vit/p8/config.json");
    expect_bad_input("predict test/fixtures/vit/p8 /nonexistent.png", "/nonexistent.png");
    expect_usage_error("predict test/fixtures/vit/p8 x.png --top 0", "--top");
}

static void test_info_vit(void **state)
{
    (void)state;
    int status;
    char *err, *out = run_attx("info test/fixtures/vit/rect", &status, &err);
    if (status != 0) fail_msg("info failed: %s", err);
    assert_contains(out, "ViTForImageClassification (vit)");
    assert_contains(out, "2 layers, hidden 12, 3 heads of 4, feed-forward 16, gelu, eps 1e-05");
    assert_contains(out, "image         26x40 (height x width), 3 channels, qkv bias yes");
    assert_contains(out, "patches       8x8 in a 3x5 grid: 15 patches + [CLS] = 16 tokens "
                         "(last 2 rows and 0 columns of pixels unused)");
    assert_contains(out, "labels        2: 0=day 1=night");
    assert_contains(out, "preprocessor  test/fixtures/vit/rect/preprocessor_config.json");
    free(out);
    free(err);

    out = run_attx("info test/fixtures/vit/grid3", &status, &err);
    assert_int_equal(status, 0);
    assert_contains(out, "qkv bias no");
    assert_contains(out, "16x16 in a 3x3 grid: 9 patches + [CLS] = 10 tokens\n");
    assert_contains(out, "in 34 tensors (F16: 34)");   /* no query/key/value biases */
    free(out);
    free(err);

    out = run_attx("info test/fixtures/vit/bare", &status, &err);
    assert_int_equal(status, 0);
    assert_contains(out, "ViTModel (vit)");
    assert_contains(out, "labels        none");
    assert_contains(out, "not used      2 tensors: pooler.dense.weight pooler.dense.bias");
    free(out);
    free(err);

    out = run_attx("info test/fixtures/vit/rect --json", &status, &err);
    assert_int_equal(status, 0);
    attx_json_doc *doc;
    attx_error e;
    if (attx_json_parse(out, strlen(out), NULL, &doc, &e) != 0) fail_msg("%s in %s", e.msg, out);
    const attx_json_value *root = attx_json_root(doc);
    assert_string_equal(attx_json_str(attx_json_get(root, "class"), NULL), "ViTForImageClassification");
    int64_t v;
    const attx_json_value *size = attx_json_get(root, "image_size"), *grid = attx_json_get(root, "grid");
    assert_int_equal(attx_json_len(size), 2);
    assert_int_equal(attx_json_i64(attx_json_item(size, 0), &v), 0);
    assert_int_equal(v, 26);
    assert_int_equal(attx_json_i64(attx_json_item(size, 1), &v), 0);
    assert_int_equal(v, 40);
    assert_int_equal(attx_json_i64(attx_json_item(grid, 0), &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(attx_json_i64(attx_json_item(grid, 1), &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(attx_json_i64(attx_json_get(root, "tokens"), &v), 0);
    assert_int_equal(v, 16);
    assert_int_equal(attx_json_i64(attx_json_get(root, "patch_size"), &v), 0);
    assert_int_equal(v, 8);
    assert_int_equal(attx_json_i64(attx_json_get(root, "num_channels"), &v), 0);
    assert_int_equal(v, 3);
    int b;
    assert_int_equal(attx_json_bool(attx_json_get(root, "qkv_bias"), &b), 0);
    assert_true(b);
    const attx_json_value *labels = attx_json_get(root, "labels");
    assert_int_equal(attx_json_len(labels), 2);
    assert_string_equal(attx_json_str(attx_json_item(labels, 1), NULL), "night");
    /* D=12, C=3, P=8, 16 tokens, FFN 16, 2 classes; qkv with biases */
    uint64_t params;
    assert_int_equal(attx_json_u64(attx_json_get(root, "parameters"), &params), 0);
    uint64_t layer = 2 * 12 + 4 * (12 * 12 + 12) + 2 * 12 + (16 * 12 + 16) + (12 * 16 + 12);
    assert_int_equal(params, 12 + 16 * 12 + 12 * 3 * 8 * 8 + 12 + 2 * layer + 2 * 12 + 2 * 12 + 2);
    attx_json_free(doc);
    free(out);
    free(err);
}

/* A FIFO or a device where a file is expected is refused at once, named, exit 1. Each command
 * runs under timeout(1): a FIFO opened for reading would block until a writer came (exit 124). */
static void expect_refused_in_time(const char *args, const char *phrase)
{
    char cmd[8192], *out, *err;
    snprintf(cmd, sizeof cmd, "timeout 30 %s %s", tu_attx(), args);
    int status = tu_run(cmd, &out, &err);
    if (status != 1) fail_msg("attx %s: exit %d, stderr: %s", args, status, err);
    assert_contains(err, "attx: error: ");
    assert_contains(err, phrase);
    assert_int_equal(count_lines(err), 1);
    free(out);
    free(err);
}

static void test_not_regular_files(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *fifo = tu_path(dir, "pipe"), args[8192], want[4200];
    assert_int_equal(mkfifo(fifo, 0600), 0);
    snprintf(want, sizeof want, "%s: is a FIFO (named pipe), not a regular file", fifo);
    const char *forms[] = {
        "info %s",                                                    /* the model */
        "predict %s 'a text'",
        "predict test/fixtures/bert/tiny @%s",                        /* @FILE */
        "explain test/fixtures/bert/tiny @%s",
        "predict test/fixtures/vit/p8 %s",                            /* an image */
        "eval test/fixtures/bert/tiny %s --methods att-cls",          /* a data set */
        "train --data %s --dev-split 2 --vocab test/fixtures/bert/tiny/vocab.txt --labels a,b --out /dev/null",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(args, sizeof args, forms[i], fifo);
        expect_refused_in_time(args, want);
    }
    expect_refused_in_time("predict test/fixtures/bert/tiny @/dev/zero",
                           "/dev/zero: is a character device, not a regular file");
    free(fifo);
    tu_rmdir(dir);
}

/* A text model given the path of an image file: an error that says so (the path would
 * otherwise be classified as a text); @- still reads any text, the path too. */
static void test_image_path_to_text_model(void **state)
{
    (void)state;
    const char *image = "test/fixtures/images/checker_16x12.png";
    char args[8192];
    snprintf(args, sizeof args, "predict test/fixtures/bert/tiny %s", image);
    expect_bad_input(args, "test/fixtures/images/checker_16x12.png is an image file, but this model reads text");
    snprintf(args, sizeof args, "explain test/fixtures/attn1 %s", image);
    expect_bad_input(args, "is an image file, but this model reads text");
    /* a text file's path and a path that does not exist are texts like any other */
    int status;
    char *err, *out = run_attx("predict test/fixtures/bert/tiny test/fixtures/bert/tiny/vocab.txt", &status, &err);
    assert_int_equal(status, 0);
    free(out), free(err);
    out = run_attx("predict test/fixtures/bert/tiny no/such/picture.png", &status, &err);
    assert_int_equal(status, 0);
    free(out), free(err);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "printf %%s %s | %s predict test/fixtures/bert/tiny @- --json", image, tu_attx());
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    assert_int_equal(pclose(p), 0);
    assert_contains(buf, "\"predicted\"");
}

/* "--" ends the options (POSIX): a text starting with '-' is classified, not refused as an
 * unknown option; an empty text is classified as [CLS] [SEP], as Hugging Face does. */
static void test_end_of_options(void **state)
{
    (void)state;
    char cmd[512], *out, *errout;
    snprintf(cmd, sizeof cmd, "%s predict test/fixtures/bert/tiny -lrb- a film", tu_attx());
    assert_int_equal(tu_run(cmd, NULL, &errout), 2);
    assert_contains(errout, "unknown option '-lrb-'");
    free(errout);
    snprintf(cmd, sizeof cmd, "%s predict test/fixtures/bert/tiny --json -- \"-lrb- a film\"", tu_attx());
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    assert_contains(out, "\"a\",\"film\",\"[SEP]\"]");   /* -lrb- is [UNK]s in the tiny vocabulary */
    free(out);
    snprintf(cmd, sizeof cmd, "%s predict test/fixtures/bert/tiny -- --help", tu_attx());   /* a text, not --help */
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    assert_null(strstr(out, "usage:"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s predict test/fixtures/bert/tiny --json \"\"", tu_attx());
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    assert_contains(out, "\"tokens\":[\"[CLS]\",\"[SEP]\"]");
    free(out);
    snprintf(cmd, sizeof cmd, "%s explain test/fixtures/bert/tiny \"\"", tu_attx());   /* nothing to explain */
    assert_int_equal(tu_run(cmd, NULL, &errout), 1);
    assert_contains(errout, "no tokens to explain");
    free(errout);
}

/* info --json of a bare encoder lists no labels (its config's LABEL_0/LABEL_1 name nothing). */
static void test_info_bare_labels(void **state)
{
    (void)state;
    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "%s info test/fixtures/vit/bare --json", tu_attx());
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    assert_contains(out, "\"has_classifier\":false");
    assert_contains(out, "\"labels\":[]");
    free(out);
    snprintf(cmd, sizeof cmd, "%s info test/fixtures/vit/p8 --json", tu_attx());
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    assert_contains(out, "\"labels\":[\"cat\",\"dog\",\"bird\"]");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_end_of_options),
        cmocka_unit_test(test_info_bare_labels),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_convert_torch_checkpoint),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_info_vit),
        cmocka_unit_test(test_predict_images),
        cmocka_unit_test(test_not_regular_files),
        cmocka_unit_test(test_image_path_to_text_model),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
