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
/* The JSON document a teaching page embeds (<script type="application/json" id="attx-data">),
 * parsed. */
static attx_json_doc *page_document(const char *html)
{
    static const char open_tag[] = "<script type=\"application/json\" id=\"attx-data\">";
    const char *start = strstr(html, open_tag);
    assert_non_null(start);
    start += strlen(open_tag);
    const char *end = strstr(start, "</script>");
    assert_non_null(end);
    attx_json_doc *doc;
    attx_error e;
    if (attx_json_parse(start, (size_t)(end - start), NULL, &doc, &e) != 0) fail_msg("the page's JSON: %s", e.msg);
    return doc;
}

/* No resource from the network: no src, href, url() or @import outside the page. */
static void assert_self_contained(const char *html)
{
    static const char *const remote[] = {"src=\"http", "src='http", "href=\"http", "href='http", "url(http",
                                         "url(\"http", "@import", "<link", "src=\"//", "href=\"//"};
    for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++)
        if (strstr(html, remote[i])) fail_msg("the page loads '%s...'", remote[i]);
    assert_null(strstr(html, "<script src"));
}

static double json_number(const attx_json_value *v)
{
    double x;
    assert_int_equal(attx_json_double(v, &x), 0);
    return x;
}

/* Two JSON arrays of numbers nested alike, equal number for number. */
static void assert_same_numbers(const attx_json_value *a, const attx_json_value *b)
{
    if (attx_json_kind(a) != ATTX_JSON_ARRAY) {
        assert_true(json_number(a) == json_number(b));
        return;
    }
    assert_int_equal(attx_json_kind(b), ATTX_JSON_ARRAY);
    assert_int_equal(attx_json_len(a), attx_json_len(b));
    for (size_t i = 0; i < attx_json_len(a); i++) assert_same_numbers(attx_json_item(a, i), attx_json_item(b, i));
}

/* --html: the teaching page. Self-contained, its script inline; the embedded document holds
 * the prediction, every method's scores as --json gives them, the attention of every layer and
 * head equal to --json --attentions', dA of the same shape, the influence matrices, each
 * attention game's closed form (equal to the method's scores), the faithfulness curves and the
 * samplers' convergence towards the closed form. */
static void test_html(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *page = tu_path(dir, "e.html"), args[4096];
    const char *common = "explain test/fixtures/bert/heads4 'the movie was not good , really' "
                         "--method grad-att-max-mutual,att-cls,grad-att-mutual,grad-x-input,shapley-input";
    snprintf(args, sizeof args, "%s --html %s", common, page);
    int status;
    char *err, *out = run_attx(args, &status, &err);
    if (status != 0) fail_msg("exit %d: %s", status, err);
    assert_contains(err, "wrote");
    free(out);
    free(err);
    snprintf(args, sizeof args, "%s --json --attentions", common);
    out = run_attx(args, &status, &err);
    assert_int_equal(status, 0);
    attx_json_doc *native;
    attx_error e;
    if (attx_json_parse(out, strlen(out), NULL, &native, &e) != 0) fail_msg("%s", e.msg);
    const attx_json_value *want = attx_json_root(native);
    size_t len;
    char *html = tu_read(page, &len);
    assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    assert_non_null(strstr(html, "</html>"));
    assert_non_null(strstr(html, "function attxRender"));   /* the renderer, inline */
    assert_self_contained(html);
    attx_json_doc *doc = page_document(html);
    const attx_json_value *got = attx_json_root(doc);

    /* the prediction, the players, the scores and the attention: as --json --attentions */
    int64_t klass, want_klass;
    assert_int_equal(attx_json_i64(attx_json_get(got, "class"), &klass), 0);
    assert_int_equal(attx_json_i64(attx_json_get(want, "class"), &want_klass), 0);
    assert_int_equal(klass, want_klass);
    const attx_json_value *tokens = attx_json_get(got, "tokens");
    int n = (int)attx_json_len(tokens);
    assert_int_equal(n, 7);
    for (int i = 0; i < n; i++)
        assert_string_equal(attx_json_str(attx_json_item(tokens, (size_t)i), NULL),
                            attx_json_str(attx_json_item(attx_json_get(want, "tokens"), (size_t)i), NULL));
    assert_same_numbers(attx_json_get(got, "logits"), attx_json_get(want, "logits"));
    const attx_json_value *methods = attx_json_get(got, "methods"), *want_methods = attx_json_get(want, "methods");
    assert_int_equal(attx_json_len(methods), 5);
    for (size_t k = 0; k < attx_json_len(methods); k++) {
        const char *name = attx_json_key(methods, k, NULL);
        assert_string_equal(name, attx_json_key(want_methods, k, NULL));
        assert_same_numbers(attx_json_get(attx_json_member(methods, k), "scores"),
                            attx_json_get(attx_json_member(want_methods, k), "scores"));
    }
    const attx_json_value *att = attx_json_get(got, "attentions"), *grad = attx_json_get(got, "gradients");
    assert_int_equal(attx_json_len(att), 3);                          /* heads4: 3 layers of 4 heads */
    assert_int_equal(attx_json_len(attx_json_item(att, 0)), 4);
    assert_same_numbers(att, attx_json_get(want, "attentions"));
    assert_int_equal(attx_json_len(grad), 3);
    assert_int_equal(attx_json_len(attx_json_item(attx_json_item(attx_json_item(grad, 1), 3), 8)), 9);   /* T = 9 */

    /* the influence matrices and each attention game's closed form = attx's scores */
    const attx_json_value *M = attx_json_get(attx_json_get(attx_json_get(got, "influence"), "grad-att"), "M");
    assert_int_equal(attx_json_len(M), (size_t)n);
    assert_int_equal(attx_json_len(attx_json_item(M, 0)), (size_t)n);
    const attx_json_value *views = attx_json_get(got, "views");
    int games = 0;
    for (size_t k = 0; k < attx_json_len(methods); k++) {
        const char *name = attx_json_key(methods, k, NULL);
        const attx_json_value *view = attx_json_get(views, name), *cf = attx_json_get(view, "closed_form");
        const attx_json_value *scores = attx_json_get(attx_json_member(methods, k), "scores");
        assert_non_null(view);
        if (strncmp(name, "grad-att", 8) == 0 || strcmp(name, "att-cls") == 0) {
            assert_non_null(cf);
            games++;
            for (int i = 0; i < n; i++) {
                double a = json_number(attx_json_item(cf, (size_t)i)), b = json_number(attx_json_item(scores, (size_t)i));
                if (fabs(a - b) > 1e-12 * fmax(1e-6, fabs(b))) fail_msg("%s player %d: closed form %.17g, score %.17g", name, i, a, b);
            }
        } else {
            assert_null(cf);
        }
        /* the faithfulness curve: every tenth of the players, v at 0% removed = v(N) */
        const attx_json_value *f = attx_json_get(view, "faithfulness");
        assert_int_equal(attx_json_len(attx_json_get(f, "percent")), 11);
        double v_full = json_number(attx_json_get(f, "v_full"));
        assert_true(v_full > 0 && v_full <= 1);
        assert_true(json_number(attx_json_item(attx_json_get(f, "v_removed"), 0)) == v_full);
        assert_true(json_number(attx_json_item(attx_json_get(f, "v_kept"), 10)) == v_full);
    }
    assert_int_equal(games, 3);
    /* convergence: the first game's samplers approach its closed form */
    const attx_json_value *conv = attx_json_get(got, "convergence");
    assert_string_equal(attx_json_str(attx_json_get(conv, "method"), NULL), "grad-att-max-mutual");
    assert_same_numbers(attx_json_get(conv, "exact"), attx_json_get(attx_json_get(views, "grad-att-max-mutual"), "closed_form"));
    const attx_json_value *runs = attx_json_get(attx_json_item(attx_json_get(conv, "samplers"), 1), "runs");
    assert_true(attx_json_len(runs) >= 3);
    attx_json_free(doc);
    attx_json_free(native);
    free(html);
    free(out);
    free(err);
    free(page);
    tu_rmdir(dir);
}

/* The page's own script in a real browser (Debian's chromium, headless; skipped without it):
 * its closed form and its enumeration of every coalition (n <= 10), computed from the embedded
 * influence matrix, equal attx's closed form and scores (#attx-checks). */
static void test_html_in_browser(void **state)
{
    (void)state;
    if (tu_run("command -v chromium >/dev/null 2>&1", NULL, NULL) != 0) {
        print_message("skipped: chromium is not installed (apt-get install -y chromium)\n");
        skip();
    }
    char *dir = tu_mkdtemp(), *page = tu_path(dir, "b.html"), args[4096], cmd[8192];
    snprintf(args, sizeof args, "explain test/fixtures/bert/heads4 'the movie was not good , really' "
                                "--method grad-att-max-mutual,grad-att-mutual,att-cls --html %s", page);
    int status;
    char *err, *out = run_attx(args, &status, &err);
    if (status != 0) fail_msg("exit %d: %s", status, err);
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir=%s/profile "
                              "--dump-dom file://%s%s 2>/dev/null", dir, page[0] == '/' ? "" : "$PWD/", page);
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    const char *checks = strstr(out, "id=\"attx-checks\"");
    if (!checks) fail_msg("no #attx-checks in the page the browser drew");
    checks = strchr(checks, '>') + 1;
    const char *end = strstr(checks, "</pre>");
    assert_non_null(end);
    attx_json_doc *doc;
    attx_error e;
    /* the DOM escapes nothing in this JSON but &quot; would not appear inside <pre> text */
    if (attx_json_parse(checks, (size_t)(end - checks), NULL, &doc, &e) != 0) fail_msg("#attx-checks: %s", e.msg);
    const attx_json_value *root = attx_json_root(doc);
    assert_int_equal(attx_json_len(root), 3);
    for (size_t k = 0; k < attx_json_len(root); k++) {
        const attx_json_value *c = attx_json_member(root, k);
        double to_attx = json_number(attx_json_get(c, "closed_form_vs_attx"));
        double to_scores = json_number(attx_json_get(c, "closed_form_vs_scores"));
        double enumeration = json_number(attx_json_get(c, "enumeration_vs_closed_form"));   /* 7 players */
        if (to_attx > 1e-12 || to_scores > 1e-12 || enumeration > 1e-12)
            fail_msg("%s: the page's closed form is %.3g from attx's, %.3g from the scores; its enumeration %.3g",
                     attx_json_key(root, k, NULL), to_attx, to_scores, enumeration);
    }
    attx_json_free(doc);
    free(out);
    free(page);
    tu_rmdir(dir);
}

/* The bytes of a base64 text (RFC 4648), malloc'd. */
static unsigned char *base64_decode(const char *s, size_t n, size_t *out_n)
{
    unsigned char *out = malloc(n / 4 * 3 + 3);
    assert_non_null(out);
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        const char *digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", *d = strchr(digits, s[i]);
        assert_non_null(d);
        v = v << 6 | (unsigned)(d - digits);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(v >> bits & 255);
        }
    }
    *out_n = o;
    return out;
}

/* --html on an image model: the page embeds the picture (a PNG data: URI) that the overlay is
 * drawn on: the input as the model sees it (resized as its preprocessing does), enlarged to 224
 * pixels a side; and a score for each patch of the grid. */
static void test_html_image(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *page = tu_path(dir, "v.html"), *png = tu_path(dir, "embedded.png"), args[4096];
    const char *image = "test/fixtures/images/picture_319x241.png";
    snprintf(args, sizeof args, "explain test/fixtures/vit/p8 %s --method grad-att-cls,grad-x-input --html %s", image, page);
    int status;
    char *err, *out = run_attx(args, &status, &err);
    if (status != 0) fail_msg("exit %d: %s", status, err);
    free(out);
    free(err);
    size_t len;
    char *html = tu_read(page, &len);
    assert_self_contained(html);
    attx_json_doc *doc = page_document(html);
    const attx_json_value *root = attx_json_root(doc);
    const char *uri = attx_json_str(attx_json_get(root, "image"), NULL);
    assert_non_null(uri);
    const char *prefix = "data:image/png;base64,";
    assert_true(strncmp(uri, prefix, strlen(prefix)) == 0);
    size_t bytes_n;
    unsigned char *bytes = base64_decode(uri + strlen(prefix), strlen(uri + strlen(prefix)), &bytes_n);
    tu_write(png, bytes, bytes_n);
    free(bytes);
    attx_image shown, input, small;
    attx_error e;
    if (attx_image_load(&shown, png, &e) != 0) fail_msg("the embedded image: %s", e.msg);
    assert_int_equal(shown.width, 224);    /* 32 pixels x 7 */
    assert_int_equal(shown.height, 224);
    /* the same pixels as the input resized to the model's 32 x 32, each repeated 7 x 7 */
    attx_model *m;
    if (attx_model_open(&m, "test/fixtures/vit/p8", &e) != 0) fail_msg("%s", e.msg);
    const attx_config *cfg = attx_model_config(m);
    attx_preprocessor pp;
    const char *source = NULL, *json = attx_model_preprocessor_json(m, &source);
    assert_int_equal(attx_preprocessor_parse(&pp, json, json ? strlen(json) : 0, "preprocessor", cfg->image_height,
                                             cfg->image_width, &e), 0);
    assert_int_equal(attx_image_load(&input, image, &e), 0);
    assert_int_equal(attx_image_resize(&input, cfg->image_width, cfg->image_height, (attx_resample)pp.resample, &small, &e), 0);
    for (int y = 0; y < shown.height; y++)
        for (int x = 0; x < shown.width; x++)
            for (int c = 0; c < 3; c++)
                assert_int_equal(shown.rgb[((size_t)y * shown.width + x) * 3 + c],
                                 small.rgb[((size_t)(y / 7) * small.width + x / 7) * 3 + c]);
    /* a score per patch of the grid */
    const attx_json_value *grid = attx_json_get(root, "grid");
    double gh = json_number(attx_json_item(grid, 0)), gw = json_number(attx_json_item(grid, 1));
    assert_true(gh == 4 && gw == 4);
    const attx_json_value *scores = attx_json_get(attx_json_member(attx_json_get(root, "methods"), 0), "scores");
    assert_int_equal(attx_json_len(scores), 16);
    assert_int_equal(attx_json_len(attx_json_item(attx_json_item(attx_json_get(root, "attentions"), 0), 0)), 17);
    attx_image_free(&shown);
    attx_image_free(&input);
    attx_image_free(&small);
    attx_model_close(m);
    attx_json_free(doc);
    free(html);
    free(png);
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
        cmocka_unit_test(test_html_image),
        cmocka_unit_test(test_html_in_browser),
        cmocka_unit_test(test_png),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
