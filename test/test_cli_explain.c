/* test_cli_explain.c — `attx explain` as a user runs it: --json parsed back (one score per
 * player, the class, logits, costs), the terminal output without a TTY, --trace's steps and
 * efficiency check, an image model on a PNG, and the exit statuses of usage and input errors. */
#include "testutil.h"

#include "attx_explain.h"

#include <math.h>

#include "attx_engine.h"
#include "attx_explain.h"

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

/* Parses the JSON of `explain --json` and checks its shape: tokens, class, logits and every
 * method with one score per player. Returns the number of players. */
static int check_json(const char *out, int want_methods, int num_labels, const char *first_method)
{
    attx_json_doc *doc;
    attx_error err;
    if (attx_json_parse(out, strlen(out), NULL, &doc, &err) != 0) fail_msg("%s in %s", err.msg, out);
    const attx_json_value *root = attx_json_root(doc), *tokens = attx_json_get(root, "tokens");
    assert_non_null(tokens);
    assert_int_equal(attx_json_kind(tokens), ATTX_JSON_ARRAY);
    int n = (int)attx_json_len(tokens);
    assert_true(n > 0);
    int64_t klass;
    assert_int_equal(attx_json_i64(attx_json_get(root, "class"), &klass), 0);
    assert_true(klass >= 0 && klass < num_labels);
    assert_int_equal(attx_json_len(attx_json_get(root, "logits")), (size_t)num_labels);
    const attx_json_value *methods = attx_json_get(root, "methods");
    assert_int_equal(attx_json_len(methods), (size_t)want_methods);
    assert_string_equal(attx_json_key(methods, 0, NULL), first_method);
    for (size_t i = 0; i < attx_json_len(methods); i++) {
        const attx_json_value *m = attx_json_member(methods, i), *scores = attx_json_get(m, "scores");
        assert_int_equal(attx_json_len(scores), (size_t)n);
        for (int j = 0; j < n; j++) {
            double v;
            assert_int_equal(attx_json_double(attx_json_item(scores, (size_t)j), &v), 0);
        }
        double t;
        uint64_t f, b;
        assert_int_equal(attx_json_double(attx_json_get(m, "time_ms"), &t), 0);
        assert_int_equal(attx_json_u64(attx_json_get(m, "forward_passes"), &f), 0);
        assert_int_equal(attx_json_u64(attx_json_get(m, "backward_passes"), &b), 0);
        assert_true(t >= 0 && f >= 1);
    }
    attx_json_free(doc);
    return n;
}

static void test_json(void **state)
{
    (void)state;
    int status;
    char *err, *out = run_attx("explain test/fixtures/bert/heads4 'the movie was not good' --json "
                               "--method grad-att-max-mutual,att-cls,shapley-input,integrated-gradients", &status, &err);
    if (status != 0) fail_msg("exit %d: %s", status, err);
    assert_int_equal(check_json(out, 4, 3, "grad-att-max-mutual"), 5);
    assert_contains(out, "\"tokens\":[\"the\",\"movie\",\"was\",\"not\",\"good\"]");
    assert_contains(out, "\"completeness_error\":");
    assert_string_equal(err, "");
    free(out);
    free(err);

    /* all methods, sampled, chosen layers, a class, @FILE */
    char *dir = tu_mkdtemp(), *file = tu_path(dir, "text.txt"), args[8192];
    tu_write_str(file, "a great film , really fun !\n");
    snprintf(args, sizeof args, "explain test/fixtures/bert/batch @%s --json --method all --samples 20 --sampler kernel "
                                "--seed 3 --layers 0-1 --class 1 --steps 8", file);
    out = run_attx(args, &status, &err);
    if (status != 0) fail_msg("exit %d: %s", status, err);
    assert_int_equal(check_json(out, attx_method_count(), 2, "att-cls"), 7);
    assert_contains(out, "\"class\":1");
    free(out);
    free(err);
    free(file);
    tu_rmdir(dir);
}

static void test_terminal_and_trace(void **state)
{
    (void)state;
    int status;
    char *err, *out = run_attx("explain test/fixtures/bert/tiny 'the movie was good' --method att-mutual,grad-x-input",
                               &status, &err);
    if (status != 0) fail_msg("exit %d: %s", status, err);
    assert_contains(out, "4 players (content tokens)");
    assert_contains(out, "att-mutual  (closed form");
    assert_contains(out, "movie(");               /* plain text with the numbers: not a TTY */
    assert_contains(out, "ranked: 1.");
    assert_contains(out, "scores: ");
    assert_null(strstr(out, "\033["));
    free(out);
    free(err);

    out = run_attx("explain test/fixtures/bert/heads4 'the movie was not good' --trace --method grad-att-mutual "
                   "--trace-layer 1 --trace-head 2", &status, &err);
    if (status != 0) fail_msg("exit %d: %s", status, err);
    for (int s = 1; s <= 5; s++) {
        char step[32];
        snprintf(step, sizeof step, "== step %d:", s);
        assert_contains(out, step);
    }
    assert_contains(out, "layer 1 head 2");
    assert_contains(out, "A * ReLU(dA)");
    assert_contains(out, "the game Mutual");
    assert_contains(out, "v(empty) = 0.000000");
    assert_contains(out, "efficiency: sum(phi) = ");
    /* the efficiency difference printed is at rounding level */
    const char *d = strstr(out, "difference ");
    assert_non_null(d);
    assert_true(fabs(atof(d + strlen("difference "))) < 1e-9);
    free(out);
    free(err);

    /* --trace with --json: the trace goes to stderr, stdout stays one JSON object */
    out = run_attx("explain test/fixtures/bert/tiny 'good fun' --trace --json --method att-cls", &status, &err);
    assert_int_equal(status, 0);
    check_json(out, 1, 2, "att-cls");
    assert_contains(err, "== step 5:");
    free(out);
    free(err);
}

/* An image model: a random ViT saved here, explained on a PNG fixture (resized to 8x8). */
static void test_image_model(void **state)
{
    (void)state;
    static const char *config =
        "{\"model_type\": \"vit\", \"hidden_size\": 8, \"num_hidden_layers\": 2, \"num_attention_heads\": 2,"
        " \"intermediate_size\": 16, \"image_size\": 8, \"patch_size\": 4, \"num_channels\": 3,"
        " \"initializer_range\": 0.5, \"num_labels\": 3}";
    attx_model *m;
    attx_error e;
    if (attx_model_create(&m, config, NULL, 0, 11, &e) != 0) fail_msg("%s", e.msg);
    char *dir = tu_mkdtemp(), *path = tu_path(dir, "vit.safetensors"), args[8192];
    if (attx_model_save(m, path, ATTX_F32, &e) != 0) fail_msg("%s", e.msg);
    attx_model_close(m);
    int status;
    char *err;
    snprintf(args, sizeof args, "explain %s test/fixtures/images/noise_13x9.png --json --method all", path);
    char *out = run_attx(args, &status, &err);
    if (status != 0) fail_msg("exit %d: %s", status, err);
    assert_int_equal(check_json(out, attx_method_count(), 3, "att-cls"), 4);
    assert_contains(out, "\"patch 1,1\"");
    free(out);
    free(err);
    snprintf(args, sizeof args, "explain %s test/fixtures/images/noise_13x9.png --method rollout --trace", path);
    out = run_attx(args, &status, &err);
    if (status != 0) fail_msg("exit %d: %s", status, err);
    assert_contains(out, "4 patches; token 0 is [CLS]");
    assert_contains(out, "efficiency");
    free(out);
    free(err);
    snprintf(args, sizeof args, "explain %s test/fixtures/images/no_such.png", path);
    out = run_attx(args, &status, &err);
    assert_int_equal(status, 1);
    assert_contains(err, "no_such.png");
    assert_int_equal(count_lines(err), 1);
    free(out);
    free(err);
    free(path);
    tu_rmdir(dir);
}

static void expect_status(const char *args, int want, const char *phrase)
{
    int status;
    char *err, *out = run_attx(args, &status, &err);
    if (status != want) fail_msg("attx %s: exit %d (want %d), stderr: %s", args, status, want, err);
    assert_contains(err, phrase);
    if (want == 1) {
        assert_int_equal(count_lines(err), 1);
        assert_contains(err, "attx: error: ");
    }
    assert_string_equal(out, "");
    free(out);
    free(err);
}

/* --html: a row per method, a shaded token per player whose hover value is the JSON score */
static void test_html(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *page = tu_path(dir, "e.html"), args[4096];
    const char *common = "explain test/fixtures/bert/heads4 'the movie was not good , really' --method att-cls,grad-x-input,lime "
                         "--samples 200";
    snprintf(args, sizeof args, "%s --html %s", common, page);
    int status;
    char *err, *out = run_attx(args, &status, &err);
    if (status != 0) fail_msg("exit %d: %s", status, err);
    assert_contains(err, "wrote");
    free(out);
    free(err);
    snprintf(args, sizeof args, "%s --json", common);
    out = run_attx(args, &status, &err);
    assert_int_equal(status, 0);
    attx_json_doc *doc;
    attx_error e;
    if (attx_json_parse(out, strlen(out), NULL, &doc, &e) != 0) fail_msg("%s", e.msg);
    const attx_json_value *methods = attx_json_get(attx_json_root(doc), "methods");
    size_t len;
    char *html = tu_read(page, &len);
    assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    assert_non_null(strstr(html, "</html>"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "http"));                       /* self-contained */
    const char *p = html;
    for (size_t k = 0; k < attx_json_len(methods); k++) {
        char row[64];
        snprintf(row, sizeof row, "<tr><th>%s<", attx_json_key(methods, k, NULL));
        p = strstr(p, row);
        if (!p) fail_msg("no row for %s", attx_json_key(methods, k, NULL));
        const attx_json_value *scores = attx_json_get(attx_json_member(methods, k), "scores");
        for (size_t i = 0; i < attx_json_len(scores); i++) {
            p = strstr(p, "<span class=\"tok\"");
            assert_non_null(p);
            p = strstr(p, "title=\"");
            double shown, want;
            assert_int_equal(sscanf(p + 7, "%lf", &shown), 1);
            assert_int_equal(attx_json_double(attx_json_item(scores, i), &want), 0);
            assert_true(fabs(shown - want) <= 1e-5 * fmax(1e-3, fabs(want)));
        }
    }
    assert_null(strstr(p, "<span class=\"tok\""));          /* no more tokens than players */
    attx_json_free(doc);
    free(html);
    free(out);
    free(err);
    free(page);
    tu_rmdir(dir);
}

/* --png on a ViT: a PNG of the image at the model's size enlarged to 224, and refused for text */
static void test_png(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *png = tu_path(dir, "h.png"), args[4096];
    snprintf(args, sizeof args, "explain test/fixtures/vit/p8 test/fixtures/images/picture_319x241.png --method grad-att-cls "
                                "--png %s", png);
    int status;
    char *err, *out = run_attx(args, &status, &err);
    if (status != 0) fail_msg("exit %d: %s", status, err);
    free(out);
    free(err);
    attx_image img;
    attx_error e;
    if (attx_image_load(&img, png, &e) != 0) fail_msg("%s", e.msg);
    assert_int_equal(img.width, 224);      /* 32 pixels x 7 */
    assert_int_equal(img.height, 224);
    attx_image_free(&img);
    out = run_attx("explain test/fixtures/bert/tiny good --png /tmp/never.png", &status, &err);
    assert_int_equal(status, 1);
    assert_contains(err, "text model");
    free(out);
    free(err);
    free(png);
    tu_rmdir(dir);
}

static void test_errors(void **state)
{
    (void)state;
    expect_status("explain test/fixtures/bert/tiny 'good' --method att-cls,frobnicate", 2, "unknown method 'frobnicate'");
    expect_status("explain test/fixtures/bert/tiny 'good' --method frobnicate", 2, "grad-att-max-mutual");
    expect_status("explain test/fixtures/bert/tiny 'good' --sampler bogus --samples 3", 2, "--sampler must be");
    expect_status("explain test/fixtures/bert/tiny 'good' --sampler kernel", 2, "--sampler needs --samples");
    expect_status("explain test/fixtures/bert/tiny 'good' --exact --samples 4", 2, "exclude each other");
    expect_status("explain test/fixtures/bert/tiny 'good' --layers 1-x", 2, "--layers");
    expect_status("explain test/fixtures/bert/tiny 'good' --exact --max-players 31", 2, "--max-players");
    /* --max-players moves exact shapley-input's limit (16 by default) both ways */
    expect_status("explain test/fixtures/bert/tiny 'the movie was good fun' --method shapley-input --exact "
                  "--max-players 4", 1, "5 players is too many");
    {
        int st;
        char *e, *o = run_attx("explain test/fixtures/bert/tiny 'the movie was good fun' --method shapley-input "
                               "--exact --max-players 5 --json", &st, &e);
        assert_int_equal(st, 0);
        assert_int_equal(check_json(o, 1, 2, "shapley-input"), 5);
        assert_contains(o, "\"forward_passes\":32");   /* 2^5 coalitions, each a forward pass */
        free(o);
        free(e);
    }
    expect_status("explain test/fixtures/bert/tiny", 2, "MODEL and INPUT");
    expect_status("explain test/fixtures/bert/tiny 'good' --class 5", 1, "class 5 is out of range");
    expect_status("explain test/fixtures/bert/tiny 'good' --layers 4", 1, "layer 4 is out of range");
    expect_status("explain test/fixtures/bert/tiny @/nonexistent/text.txt", 1, "/nonexistent/text.txt");
    expect_status("explain /nonexistent/model 'good'", 1, "/nonexistent/model");
    int status;
    char *err, *out = run_attx("explain --help", &status, &err);
    assert_int_equal(status, 0);
    assert_contains(out, "usage: attx explain MODEL INPUT");
    free(out);
    free(err);
    out = run_attx("--help", &status, &err);
    assert_contains(out, "explain");
    free(out);
    free(err);
}

/* --json --attentions: every layer's and head's attention probabilities, [layer][head][query][key],
 * the same numbers as the library's forward pass on the same tokens (which test_bert checks
 * against PyTorch), each row summing to 1; "sequence" names every position. */
static void test_attentions(void **state)
{
    (void)state;
    char cmd[1024], *out;
    snprintf(cmd, sizeof cmd, "%s explain test/fixtures/bert/tiny \"the movie was good\" --method att-cls --json "
             "--attentions", tu_attx());
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    attx_json_doc *doc;
    attx_error err;
    if (attx_json_parse(out, strlen(out), NULL, &doc, &err) != 0) fail_msg("%s", err.msg);
    const attx_json_value *root = attx_json_root(doc), *seq = attx_json_get(root, "sequence");
    const attx_json_value *att = attx_json_get(root, "attentions");

    attx_model *m;
    if (attx_model_open(&m, "test/fixtures/bert/tiny", &err) != 0) fail_msg("%s", err.msg);
    attx_encoding enc;
    if (attx_encode_text(m, "the movie was good", 18, &enc, &err) != 0) fail_msg("%s", err.msg);
    attx_ctx *ctx = attx_ctx_new();
    attx_ctx_set_tape(ctx, 1);
    attx_batch batch = {.B = 1, .T = enc.length, .ids = enc.ids, .lengths = &enc.length};
    attx_outputs o;
    if (attx_forward(m, ctx, &batch, &o, &err) != 0) fail_msg("%s", err.msg);
    const attx_config *c = attx_model_config(m);
    int T = enc.length;
    assert_int_equal(attx_json_len(seq), T);
    assert_string_equal(attx_json_str(attx_json_item(seq, 0), NULL), "[CLS]");
    assert_string_equal(attx_json_str(attx_json_item(seq, 2), NULL), "movie");
    assert_string_equal(attx_json_str(attx_json_item(seq, (size_t)T - 1), NULL), "[SEP]");
    assert_int_equal(attx_json_len(att), c->num_layers);
    for (int l = 0; l < c->num_layers; l++) {
        const attx_json_value *layer = attx_json_item(att, (size_t)l);
        assert_int_equal(attx_json_len(layer), c->num_heads);
        for (int h = 0; h < c->num_heads; h++)
            for (int q = 0; q < T; q++) {
                const attx_json_value *row = attx_json_item(attx_json_item(layer, (size_t)h), (size_t)q);
                assert_int_equal(attx_json_len(row), T);
                double sum = 0;
                for (int k = 0; k < T; k++) {
                    double v;
                    assert_int_equal(attx_json_double(attx_json_item(row, (size_t)k), &v), 0);
                    assert_true((float)v == o.attn[l]->data[((size_t)h * T + q) * T + k]);
                    sum += v;
                }
                assert_true(fabs(sum - 1) < 1e-5);
            }
    }
    attx_json_free(doc);
    free(out);
    attx_ctx_free(ctx);
    attx_encoding_free(&enc);
    attx_model_close(m);
    /* without --json it is a usage error */
    snprintf(cmd, sizeof cmd, "%s explain test/fixtures/bert/tiny good --attentions", tu_attx());
    assert_int_equal(tu_run(cmd, NULL, NULL), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attentions),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_terminal_and_trace),
        cmocka_unit_test(test_image_model),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_png),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
