/* test_cli_tcav.c — `attx tcav` as a user runs it: a random tiny ViT on PNG concept folders
 * written here (JSON checked against the library run on the same images, the tests' p-values
 * recomputed from the printed scores, the PNG heatmap decoded back), classic mode with random
 * folders, the tiny BERT on text files (table and shaded-token heatmap), and the errors. */
#include "testutil.h"

#include <math.h>
#include <png.h>

#include "attx_explain.h"

static char *run_attx(const char *args, int *status, char **err)
{
    char cmd[16384], *out;
    snprintf(cmd, sizeof cmd, "%s %s", tu_attx(), args);
    *status = tu_run(cmd, &out, err);
    return out;
}

/* An 8x8 RGB PNG: kind 0 horizontal stripes, 1 dots, 2 a flat colour, 3 noise; seed varies it. */
static void write_png(const char *path, int kind, uint64_t seed)
{
    unsigned char rgb[8 * 8 * 3];
    uint64_t s = seed * 2654435761u + 1;
    int phase = (int)(tu_random(&s) % 2), shade = 100 + (int)(tu_random(&s) % 100);
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++)
            for (int c = 0; c < 3; c++) {
                int v;
                if (kind == 0) v = (y + phase) % 2 ? 250 : 10;
                else if (kind == 1) v = (x % 3 == 1 && y % 3 == 1) ? 250 : 20;
                else if (kind == 2) v = c == 0 ? shade : 30;
                else v = (int)(tu_random(&s) % 256);
                rgb[(y * 8 + x) * 3 + c] = (unsigned char)v;
            }
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = 8;
    img.height = 8;
    img.format = PNG_FORMAT_RGB;
    assert_true(png_image_write_to_file(&img, path, 0, rgb, 0, NULL));
}

static char *make_folder(const char *dir, const char *name, int kind, int count, uint64_t seed)
{
    char *p = tu_path(dir, name);
    assert_int_equal(mkdir(p, 0755), 0);
    for (int i = 0; i < count; i++) {
        char file[64];
        snprintf(file, sizeof file, "%s/img%02d.png", p, i);
        write_png(file, kind, seed + (uint64_t)i);
    }
    return p;
}

static const char *VIT_CONFIG =
    "{\"model_type\": \"vit\", \"hidden_size\": 8, \"num_hidden_layers\": 2, \"num_attention_heads\": 2,"
    " \"intermediate_size\": 16, \"image_size\": 8, \"patch_size\": 4, \"num_channels\": 3,"
    " \"initializer_range\": 0.5, \"num_labels\": 3, \"id2label\": {\"0\": \"cat\", \"1\": \"zebra\", \"2\": \"dog\"}}";

static double json_num(const attx_json_value *v)
{
    double d = NAN;
    if (attx_json_kind(v) != ATTX_JSON_NULL) assert_int_equal(attx_json_double(v, &d), 0);
    return d;
}

/* Loads the images of a folder (img00.png ...) as attx tcav does. */
static float *folder_pixels(const attx_model *m, const char *dir, int count)
{
    float *px = malloc((size_t)count * 192 * sizeof *px);
    attx_error err;
    for (int i = 0; i < count; i++) {
        char file[4200];
        snprintf(file, sizeof file, "%s/img%02d.png", dir, i);
        if (attx_encode_image(m, file, px + (size_t)i * 192, &err) != 0) fail_msg("%s", err.msg);
    }
    return px;
}

static void test_vit_relative(void **state)
{
    (void)state;
    attx_model *m;
    attx_error err;
    if (attx_model_create(&m, VIT_CONFIG, NULL, 0, 3, &err) != 0) fail_msg("%s", err.msg);
    char *dir = tu_mkdtemp(), *model = tu_path(dir, "vit.safetensors"), *png = tu_path(dir, "heat.png");
    if (attx_model_save(m, model, ATTX_F32, &err) != 0) fail_msg("%s", err.msg);
    int sizes[3] = {5, 4, 6};
    char *concept[3] = {make_folder(dir, "striped", 0, 5, 10), make_folder(dir, "dotted", 1, 4, 20), make_folder(dir, "red", 2, 6, 30)};
    char *targets = make_folder(dir, "targets", 3, 7, 40);
    char args[8192];
    snprintf(args, sizeof args, "tcav %s --target zebra --concept %s %s --concept %s --targets %s --cavs 4 --seed 2 --json "
                                "--png %s --html %s/report.html --heat-layer 0 --heat-concept dotted --heat-cav 3 --heat-target 2 --threads 1",
             model, concept[0], concept[1], concept[2], targets, png, dir);
    int status;
    char *errout, *out = run_attx(args, &status, &errout);
    if (status != 0) fail_msg("exit %d: %s", status, errout);
    assert_contains(errout, "targets 7/7");
    assert_contains(errout, "wrote ");

    /* the same run through the library on the same pixels */
    float *px[3], *tpx = folder_pixels(m, targets, 7);
    attx_tcav_memory mem[3], tmem = {7, NULL, NULL, tpx, 192};
    attx_tcav_source src[3], tsrc = attx_tcav_source_memory(&tmem);
    for (int c = 0; c < 3; c++) {
        px[c] = folder_pixels(m, concept[c], sizes[c]);
        mem[c] = (attx_tcav_memory){sizes[c], NULL, NULL, px[c], 192};
        src[c] = attx_tcav_source_memory(&mem[c]);
    }
    attx_tcav_options o;
    attx_tcav_options_init(&o);
    o.klass = 1;
    o.n_cavs = 4;
    o.seed = 2;
    o.heat_target = 2;
    o.heat_layer_index = 0;   /* layer 0: at the last layer only [CLS] has a gradient */
    o.heat_concept = 1;
    o.heat_cav = 3;
    attx_tcav_result r;
    if (attx_tcav_run(m, src, 3, NULL, 0, &tsrc, &o, &r, &err) != 0) fail_msg("%s", err.msg);

    attx_json_doc *doc;
    if (attx_json_parse(out, strlen(out), NULL, &doc, &err) != 0) fail_msg("%s in %s", err.msg, out);
    const attx_json_value *root = attx_json_root(doc), *layers = attx_json_get(root, "layers");
    assert_string_equal(attx_json_str(attx_json_get(root, "mode"), NULL), "relative");
    assert_string_equal(attx_json_str(attx_json_get(root, "objective"), NULL), "logit");
    assert_int_equal(attx_json_len(layers), 2);
    int64_t tests;
    assert_int_equal(attx_json_i64(attx_json_get(root, "tests"), &tests), 0);
    assert_int_equal(tests, 6);
    for (int j = 0; j < 2; j++) {
        const attx_json_value *cs = attx_json_get(attx_json_item(layers, (size_t)j), "concepts");
        assert_int_equal(attx_json_len(cs), 3);
        for (int c = 0; c < 3; c++) {
            const attx_json_value *cell = attx_json_item(cs, (size_t)c);
            for (int kind = 0; kind < ATTX_TCAV_KINDS; kind++) {
                const attx_json_value *k = attx_json_get(cell, attx_tcav_kind_name(kind)), *sc = attx_json_get(k, "scores");
                assert_int_equal(attx_json_len(sc), 4);
                double scores[4];
                for (int i = 0; i < 4; i++) {
                    scores[i] = json_num(attx_json_item(sc, (size_t)i));
                    assert_true(scores[i] >= 0 && scores[i] <= 1);
                    assert_true(fabs(scores[i] - r.cells[j * 3 + c].score[kind][i]) < 1e-12);   /* same as the library */
                    assert_true(fabs(scores[i] * 7 - round(scores[i] * 7)) < 1e-9);             /* a fraction of 7 */
                }
                /* the test, recomputed from the printed scores */
                attx_ttest t = attx_ttest_1samp(4, scores, 0.5);
                double p = json_num(attx_json_get(k, "p")), pb = json_num(attx_json_get(k, "p_bonferroni"));
                const char *verdict = attx_json_str(attx_json_get(k, "verdict"), NULL);
                if (isnan(t.p)) {
                    assert_true(isnan(p) && isnan(pb));
                    assert_string_equal(verdict, "undefined");
                } else {
                    assert_true(fabs(p - t.p) < 1e-15 && fabs(pb - fmin(1, 6 * t.p)) < 1e-15);
                    assert_string_equal(verdict, pb >= 0.05 ? "not significant"
                                                 : t.t > 0  ? "significant (+)"
                                                            : "significant (-)");
                }
            }
        }
    }
    /* the heatmap: [CLS] + 4 patches of target 2 (img02.png), the library's numbers */
    const attx_json_value *heat = attx_json_get(root, "heatmap"), *ts = attx_json_get(heat, "token_scores");
    assert_int_equal(attx_json_len(ts), 5);
    for (int t = 0; t < 5; t++) assert_true(fabs(json_num(attx_json_item(ts, (size_t)t)) - r.heat[t]) < 1e-12);
    assert_contains(attx_json_str(attx_json_get(heat, "input"), NULL), "targets/img02.png");
    assert_string_equal(attx_json_str(attx_json_get(heat, "concept"), NULL), "dotted");
    attx_json_free(doc);

    /* the PNG: 224 x 224 (8 pixels enlarged 28 times), each patch one colour; the patch with the
     * largest |s| is the most tinted (red when s > 0, blue when s < 0) */
    attx_image img;
    if (attx_image_load(&img, png, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(img.width, 224);
    assert_int_equal(img.height, 224);
    assert_true(r.heat[1] != 0 && r.heat[4] != 0);
    int best = 1;
    for (int t = 2; t < 5; t++) best = fabs(r.heat[t]) > fabs(r.heat[best]) ? t : best;
    int py = (best - 1) / 2, pxl = (best - 1) % 2;
    const unsigned char *c = img.rgb + ((size_t)(py * 112 + 56) * 224 + (size_t)(pxl * 112 + 56)) * 3;
    if (r.heat[best] > 0) assert_true(c[0] > c[2]);
    else assert_true(c[2] > c[0]);
    attx_image_free(&img);

    /* the HTML report: both layers' tables and strip plots, and the PNG itself as a data: URI */
    char *report_path = tu_path(dir, "report.html"), *png_bytes;
    size_t report_len, png_len;
    char *report = tu_read(report_path, &report_len);
    png_bytes = tu_read(png, &png_len);
    assert_contains(report, "<h2>layer 0</h2>");
    assert_contains(report, "<h2>layer 1</h2>");
    assert_contains(report, "<td>dotted</td>");
    assert_contains(report, "layer 1, TCAV: each CAV's score");
    const char *uri = strstr(report, "src=\"data:image/png;base64,");
    assert_non_null(uri);
    uri += strlen("src=\"data:image/png;base64,");
    size_t decoded = 0;
    unsigned char *bytes = malloc(png_len + 3);
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (const char *q = uri; *q != '"'; q += 4) {   /* RFC 4648 base64, 4 digits -> 3 bytes */
        unsigned v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            const char *at = q[k] == '=' ? NULL : strchr(digits, q[k]);
            if (q[k] == '=') pad++;
            else assert_non_null(at);
            v = v << 6 | (at ? (unsigned)(at - digits) : 0);
        }
        assert_true(decoded + 3 - pad <= png_len);
        for (int k = 0; k < 3 - pad; k++) bytes[decoded++] = (unsigned char)(v >> (16 - 8 * k));
    }
    assert_int_equal(decoded, png_len);
    assert_memory_equal(bytes, png_bytes, png_len);
    free(bytes);
    free(report);
    free(png_bytes);
    free(report_path);

    /* the table */
    snprintf(args, sizeof args, "tcav %s --target 1 --concept %s %s %s --targets %s --cavs 3 --layers 1", model, concept[0],
             concept[1], concept[2], targets);
    free(out);
    free(errout);
    out = run_attx(args, &status, &errout);
    if (status != 0) fail_msg("exit %d: %s", status, errout);
    assert_contains(out, "class 1 (zebra), 7 targets; relative CAVs (P1), 3 CAVs");
    assert_contains(out, "layer 1\n");
    assert_null(strstr(out, "layer 0\n"));
    assert_contains(out, "  striped ");
    assert_contains(out, "  dotted ");
    assert_contains(out, "p(corr)");
    free(out);
    free(errout);
    /* --centred says so */
    snprintf(args, sizeof args, "tcav %s --target 1 --concept %s %s %s --targets %s --cavs 3 --layers 1 --centred --json",
             model, concept[0], concept[1], concept[2], targets);
    out = run_attx(args, &status, &errout);
    if (status != 0) fail_msg("exit %d: %s", status, errout);
    assert_contains(out, "\"objective\":\"centred_logit\"");
    free(out);
    free(errout);
    /* --objective: each says so in the JSON and the table; a bad one is a usage error */
    const char *objectives[2] = {"logsoftmax", "margin"};
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "tcav %s --target 1 --concept %s %s %s --targets %s --cavs 3 --layers 1 --objective %s%s",
                 model, concept[0], concept[1], concept[2], targets, objectives[k], k ? "" : " --json");
        out = run_attx(args, &status, &errout);
        if (status != 0) fail_msg("exit %d: %s", status, errout);
        if (k == 0) assert_contains(out, "\"objective\":\"logsoftmax\"");
        else assert_contains(out, "margin to the runner-up (not P1's)");
        free(out);
        free(errout);
    }
    snprintf(args, sizeof args, "tcav %s --target 1 --concept %s %s --targets %s --objective bogus", model, concept[0],
             concept[1], targets);
    out = run_attx(args, &status, &errout);
    assert_int_equal(status, 2);
    assert_contains(errout, "--objective must be");
    free(out);
    free(errout);

    /* classic mode: 3 random folders -> 2 CAVs per concept and a random baseline */
    char *rnd[3] = {make_folder(dir, "random0", 3, 4, 50), make_folder(dir, "random1", 3, 5, 60), make_folder(dir, "random2", 3, 4, 70)};
    snprintf(args, sizeof args, "tcav %s --target dog --concept %s --random %s %s %s --targets %s --json", model, concept[0], rnd[0],
             rnd[1], rnd[2], targets);
    out = run_attx(args, &status, &errout);
    if (status != 0) fail_msg("exit %d: %s", status, errout);
    if (attx_json_parse(out, strlen(out), NULL, &doc, &err) != 0) fail_msg("%s in %s", err.msg, out);
    root = attx_json_root(doc);
    assert_string_equal(attx_json_str(attx_json_get(root, "mode"), NULL), "classic");
    const attx_json_value *l0 = attx_json_item(attx_json_get(root, "layers"), 0);
    const attx_json_value *cell = attx_json_item(attx_json_get(l0, "concepts"), 0), *base = attx_json_get(l0, "random_baseline");
    double a[2], b[2];
    for (int i = 0; i < 2; i++) {
        a[i] = json_num(attx_json_item(attx_json_get(attx_json_get(cell, "ttcav"), "scores"), (size_t)i));
        b[i] = json_num(attx_json_item(attx_json_get(attx_json_get(base, "ttcav"), "scores"), (size_t)i));
    }
    assert_int_equal(attx_json_len(attx_json_get(attx_json_get(cell, "ttcav"), "scores")), 2);
    attx_ttest t = attx_ttest_ind(2, a, 2, b, 0);
    double p = json_num(attx_json_get(attx_json_get(cell, "ttcav"), "p"));
    assert_true((isnan(t.p) && isnan(p)) || fabs(t.p - p) < 1e-15);
    attx_json_free(doc);
    free(out);
    free(errout);

    /* errors: an empty concept folder, a file that is not an image, an unknown class */
    char *empty = tu_path(dir, "empty");
    assert_int_equal(mkdir(empty, 0755), 0);
    snprintf(args, sizeof args, "tcav %s --target 1 --concept %s %s --targets %s", model, concept[0], empty, targets);
    out = run_attx(args, &status, &errout);
    assert_int_equal(status, 1);
    assert_contains(errout, "empty: no images in the folder");
    free(out);
    free(errout);
    char *notes = tu_path(concept[1], "notes.txt");
    tu_write_str(notes, "not an image\n");
    snprintf(args, sizeof args, "tcav %s --target 1 --concept %s %s --targets %s", model, concept[0], concept[1], targets);
    out = run_attx(args, &status, &errout);
    assert_int_equal(status, 1);
    assert_contains(errout, "notes.txt: not an image");
    free(out);
    free(errout);
    unlink(notes);
    snprintf(args, sizeof args, "tcav %s --target horse --concept %s %s --targets %s", model, concept[0], concept[1], targets);
    out = run_attx(args, &status, &errout);
    assert_int_equal(status, 1);
    assert_contains(errout, "unknown target class 'horse' (the model's classes: cat, zebra, dog)");
    free(out);
    free(errout);
    snprintf(args, sizeof args, "tcav %s --target 7 --concept %s %s --targets %s", model, concept[0], concept[1], targets);
    out = run_attx(args, &status, &errout);
    assert_int_equal(status, 1);
    assert_contains(errout, "unknown target class 7");
    free(out);
    free(errout);
    snprintf(args, sizeof args, "tcav %s --target 1 --concept %s %s --targets %s/no_such", model, concept[0], concept[1], dir);
    out = run_attx(args, &status, &errout);
    assert_int_equal(status, 1);
    assert_contains(errout, "no_such: no such file or folder");
    free(out);
    free(errout);
    /* usage errors: no targets, one concept without random sets, two random sets */
    const char *usage[] = {"--target 1 --concept A B", "--target 1 --concept A --targets T", "--target 1 --concept A --random R S --targets T",
                           "--target 1 --concept A B --targets T --layers 1-0", "--concept A B --targets T",
                           "--target 1 --concept A --random R S U --null --targets T"};
    for (size_t k = 0; k < sizeof usage / sizeof usage[0]; k++) {
        snprintf(args, sizeof args, "tcav %s %s", model, usage[k]);
        out = run_attx(args, &status, &errout);
        if (status != 2) fail_msg("'%s': exit %d (%s)", usage[k], status, errout);
        assert_contains(errout, "usage error");
        free(out);
        free(errout);
    }
    snprintf(args, sizeof args, "tcav %s --target 1 --concept %s %s --targets %s --layers 5", model, concept[0], concept[1], targets);
    out = run_attx(args, &status, &errout);
    assert_int_equal(status, 1);
    assert_contains(errout, "layer 5: the model has 2 layers");
    free(out);
    free(errout);

    attx_tcav_result_free(&r);
    for (int k = 0; k < 3; k++) {
        free(px[k]);
        free(concept[k]);
        free(rnd[k]);
    }
    free(tpx);
    free(notes);
    free(empty);
    free(targets);
    free(model);
    free(png);
    tu_rmdir(dir);
    attx_model_close(m);
}

static void test_bert_text(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *good = tu_path(dir, "good-words.csv"), *bad = tu_path(dir, "bad-words.txt"),
         *plain = tu_path(dir, "plain.txt"), *tg = tu_path(dir, "targets.txt"), args[8192];
    tu_write_str(good, "good film\ngreat story\n\nvery good plot\r\nreally great\n");
    tu_write_str(bad, "bad film\nbad plot\nthe actor was bad\n");
    tu_write_str(plain, "the film\na story\nit was a movie\nthe plot\n");
    tu_write_str(tg, "the movie was good\na great film\nthe story was not bad");   /* no final newline */
    snprintf(args, sizeof args, "tcav test/fixtures/bert/tiny --target positive --concept %s %s %s --targets %s --cavs 4 "
                                "--layers 0 --heat-target 1",
             good, bad, plain, tg);
    int status;
    char *errout, *out = run_attx(args, &status, &errout);
    if (status != 0) fail_msg("exit %d: %s", status, errout);
    assert_contains(out, "class 1 (positive), 3 targets; relative CAVs (P1), 4 CAVs");
    assert_contains(out, "  good-words ");
    assert_contains(out, "  bad-words ");
    assert_contains(out, "heatmap: target 1, layer 0, concept good-words, CAV 0: S = ");
    assert_contains(out, "[CLS](");                    /* not a TTY: tokens with their scores */
    assert_contains(out, "great(");
    assert_contains(out, "[SEP](");
    assert_null(strstr(out, "\033["));
    free(out);
    free(errout);

    snprintf(args, sizeof args, "tcav test/fixtures/bert/tiny --target 1 --concept %s %s --targets %s --cavs 3 --json --heat-target 2",
             good, bad, tg);
    out = run_attx(args, &status, &errout);
    if (status != 0) fail_msg("exit %d: %s", status, errout);
    attx_json_doc *doc;
    attx_error err;
    if (attx_json_parse(out, strlen(out), NULL, &doc, &err) != 0) fail_msg("%s in %s", err.msg, out);
    const attx_json_value *root = attx_json_root(doc), *heat = attx_json_get(root, "heatmap");
    const attx_json_value *toks = attx_json_get(heat, "tokens");
    assert_int_equal(attx_json_len(toks), 7);           /* [CLS] the story was not bad [SEP] */
    assert_string_equal(attx_json_str(attx_json_item(toks, 0), NULL), "[CLS]");
    assert_int_equal(attx_json_len(attx_json_get(heat, "token_scores")), 7);
    const attx_json_value *cs = attx_json_get(attx_json_item(attx_json_get(root, "layers"), 0), "concepts");
    int64_t examples;
    assert_int_equal(attx_json_i64(attx_json_get(attx_json_item(attx_json_get(root, "concepts"), 0), "examples"), &examples), 0);
    assert_int_equal(examples, 4);                      /* the blank line is skipped */
    assert_int_equal(attx_json_len(attx_json_get(attx_json_get(attx_json_item(cs, 1), "ttcav"), "scores")), 3);
    attx_json_free(doc);
    free(out);
    free(errout);

    /* a folder for a text model; --png for a text model */
    snprintf(args, sizeof args, "tcav test/fixtures/bert/tiny --target 1 --concept %s %s --targets %s", dir, bad, tg);
    out = run_attx(args, &status, &errout);
    assert_int_equal(status, 1);
    assert_contains(errout, "a folder; a text model takes a text file");
    free(out);
    free(errout);
    snprintf(args, sizeof args, "tcav test/fixtures/bert/tiny --target 1 --concept %s %s --targets %s --png x.png", good, bad, tg);
    out = run_attx(args, &status, &errout);
    assert_int_equal(status, 1);
    assert_contains(errout, "--png draws image heatmaps");
    free(out);
    free(errout);
    free(good);
    free(bad);
    free(plain);
    free(tg);
    tu_rmdir(dir);
}

/* `attx tcav-check` on a small synthetic benchmark and the shipped synthetic ViT: one truth
 * cell recomputed from the library's logits of the redrawn images, P1's verdicts equal to those
 * of `attx tcav` itself, and the agreement counts recomputed from the verdicts and the truth. */
static void test_tcav_check(void **state)
{
    (void)state;
    const char *model_path = "data/synth-vit.safetensors";
    tu_need_file(model_path);
    char *dir = tu_mkdtemp(), *synth = tu_path(dir, "s"), *plan = tu_path(dir, "plan.json");
    char args[8192];
    int status;
    char *errout, *out;
    snprintf(args, sizeof args, "synth %s --size 48 --per-class 1 --test-per-class 5 --concept-images 6 --random-sets 4 "
                                "--seed 3 --counterfactuals", synth);
    out = run_attx(args, &status, &errout);
    if (status != 0) fail_msg("synth: %s", errout);
    free(out);
    free(errout);
    tu_write_str(plan,
                 "{\"benchmark\": {\"classes\": [\"dalmatian\", \"fish\", \"snail\", \"zebra\"],"
                 " \"concepts\": [\"striped\", \"dotted\", \"zigzagged\", \"chequered\"], \"layers\": [0, 1, 2]},"
                 " \"models\": {\"qualify_min_dev_accuracy\": 0.97, \"qualify_max_mean_margin\": 4},"
                 " \"ground_truth\": {\"alpha\": 0.05, \"bonferroni_over\": 16, \"min_relative_size\": 0.1},"
                 " \"objectives\": [\"logit\", \"margin\"],"
                 " \"modes\": {\"p1\": {\"cavs\": 3}, \"kim\": {\"random_sets\": 3}, \"rank\": {\"null_cavs\": 4},"
                 " \"magnitude\": {\"null_cavs\": 4}},"
                 " \"alpha\": 0.05, \"bonferroni_over\": 12, \"success\": {\"min_agreement\": 0.9, \"max_null_flagged\": 0.1}}");
    snprintf(args, sizeof args, "tcav-check %s %s --plan %s --json --threads 1", synth, model_path, plan);
    out = run_attx(args, &status, &errout);
    if (status != 0) fail_msg("tcav-check exit %d: %s", status, errout);
    attx_json_doc *doc;
    attx_error err;
    if (attx_json_parse(out, strlen(out), NULL, &doc, &err) != 0) fail_msg("%s in %s", err.msg, out);
    const attx_json_value *m0 = attx_json_item(attx_json_get(attx_json_root(doc), "models"), 0);
    assert_non_null(m0);

    /* the truth of (margin, zebra, striped) from the library's logits */
    attx_model *m;
    if (attx_model_open(&m, model_path, &err) != 0) fail_msg("%s", err.msg);
    const char *textures[4] = {"striped", "dotted", "zigzagged", "chequered"};
    int zebra = 3;
    float pixels[3 * 48 * 48];
    double effect = 0;
    attx_ctx *ctx = attx_ctx_new();
    for (int i = 0; i < 5; i++) {
        double f[4];
        for (int t = 0; t < 4; t++) {
            char file[4200];
            snprintf(file, sizeof file, "%s/counterfactual/%s/zebra/%04d.png", synth, textures[t], i);
            if (attx_encode_image(m, file, pixels, &err) != 0) fail_msg("%s", err.msg);
            attx_batch b = {.B = 1, .pixels = pixels};
            attx_outputs o;
            attx_ctx_reset(ctx);
            if (attx_forward(m, ctx, &b, &o, &err) != 0) fail_msg("%s", err.msg);
            const float *z = o.logits->data;
            double other = -INFINITY;
            for (int j = 0; j < 4; j++)
                if (j != zebra) other = fmax(other, z[j]);
            f[t] = z[zebra] - other;
        }
        effect += f[0] - (f[1] + f[2] + f[3]) / 3;
    }
    effect /= 5;
    attx_ctx_free(ctx);
    attx_model_close(m);
    const attx_json_value *truth = attx_json_get(m0, "truth");
    int found = 0;
    int truth_verdict[2][4][4];
    for (size_t i = 0; i < attx_json_len(truth); i++) {
        const attx_json_value *t = attx_json_item(truth, i);
        const char *obj = attx_json_str(attx_json_get(t, "objective"), NULL), *cls = attx_json_str(attx_json_get(t, "class"), NULL);
        const char *con = attx_json_str(attx_json_get(t, "concept"), NULL);
        int64_t v;
        assert_int_equal(attx_json_i64(attx_json_get(t, "verdict"), &v), 0);
        truth_verdict[i / 16][(i / 4) % 4][i % 4] = (int)v;
        if (!strcmp(obj, "margin") && !strcmp(cls, "zebra") && !strcmp(con, "striped")) {
            double got;
            assert_int_equal(attx_json_double(attx_json_get(t, "mean_effect"), &got), 0);
            if (fabs(got - effect) > 1e-5 * (1 + fabs(effect))) fail_msg("truth %.9g, recomputed %.9g", got, effect);
            found = 1;
        }
    }
    assert_true(found);
    assert_int_equal(attx_json_len(truth), 2 * 16);

    /* P1 with the logit: the verdicts of `attx tcav` (same CAVs: seed 0, 3 CAVs) */
    snprintf(args, sizeof args, "tcav %s --target zebra --concept %s/concepts/striped %s/concepts/dotted "
                                "%s/concepts/zigzagged %s/concepts/chequered --targets %s/test/zebra --layers 0-2 --cavs 3 --json --threads 1",
             model_path, synth, synth, synth, synth, synth);
    char *errout2, *out2 = run_attx(args, &status, &errout2);
    if (status != 0) fail_msg("tcav: %s", errout2);
    attx_json_doc *doc2;
    if (attx_json_parse(out2, strlen(out2), NULL, &doc2, &err) != 0) fail_msg("%s", err.msg);
    const attx_json_value *combos = attx_json_get(m0, "combinations");
    assert_int_equal(attx_json_len(combos), 4 * 2 * 2);
    const attx_json_value *p1 = attx_json_item(combos, 0);     /* p1, logit, ttcav */
    assert_string_equal(attx_json_str(attx_json_get(p1, "mode"), NULL), "p1");
    assert_string_equal(attx_json_str(attx_json_get(p1, "score"), NULL), "ttcav");
    const attx_json_value *verdicts = attx_json_get(p1, "verdicts"), *layers = attx_json_get(attx_json_root(doc2), "layers");
    int compared = 0;
    for (int c = 0; c < 4; c++)
        for (int j = 0; j < 3; j++) {
            const attx_json_value *v = attx_json_item(verdicts, (size_t)(3 * 12 + c * 3 + j));   /* [class][concept][layer]; zebra: class 3 */
            assert_string_equal(attx_json_str(attx_json_get(v, "class"), NULL), "zebra");
            const attx_json_value *ref = attx_json_get(attx_json_item(attx_json_get(attx_json_item(layers, (size_t)j), "concepts"), (size_t)c), "ttcav");
            double p_check, p_tcav;
            int64_t verdict;
            if (attx_json_double(attx_json_get(ref, "p_bonferroni"), &p_tcav) != 0) p_tcav = NAN;     /* null: no p */
            if (attx_json_double(attx_json_get(v, "p_bonferroni"), &p_check) != 0) p_check = NAN;
            assert_int_equal(attx_json_i64(attx_json_get(v, "verdict"), &verdict), 0);
            assert_true((isnan(p_check) && isnan(p_tcav)) || fabs(p_check - p_tcav) <= 1e-12 * (1 + p_tcav));
            const char *word = attx_json_str(attx_json_get(ref, "verdict"), NULL);
            assert_int_equal(verdict, !strcmp(word, "significant (+)") ? 1 : !strcmp(word, "significant (-)") ? -1 : 0);
            compared++;
        }
    assert_int_equal(compared, 12);

    /* every combination's counts from its verdicts and the truth */
    for (size_t i = 0; i < attx_json_len(combos); i++) {
        const attx_json_value *cmb = attx_json_item(combos, i), *vs = attx_json_get(cmb, "verdicts");
        int o = !strcmp(attx_json_str(attx_json_get(cmb, "objective"), NULL), "margin");
        int agree = 0, flagged = 0;
        for (size_t k = 0; k < attx_json_len(vs); k++) {
            int64_t v;
            assert_int_equal(attx_json_i64(attx_json_get(attx_json_item(vs, k), "verdict"), &v), 0);
            int t = truth_verdict[o][k / 12][(k / 3) % 4];
            agree += v == t;
            flagged += t == 0 && v != 0;
        }
        int64_t a, f;
        assert_int_equal(attx_json_i64(attx_json_get(cmb, "agree"), &a), 0);
        assert_int_equal(attx_json_i64(attx_json_get(cmb, "null_flagged"), &f), 0);
        assert_int_equal(a, agree);
        assert_int_equal(f, flagged);
    }
    attx_json_free(doc);
    attx_json_free(doc2);
    free(out);
    free(errout);
    free(out2);
    free(errout2);

    /* errors: a folder without counterfactuals, a plan that is not one */
    snprintf(args, sizeof args, "tcav-check %s/concepts %s --plan %s", synth, model_path, plan);
    out = run_attx(args, &status, &errout);
    assert_int_equal(status, 1);
    assert_contains(errout, "test/dalmatian");
    free(out);
    free(errout);
    snprintf(args, sizeof args, "tcav-check %s %s --plan %s/s/test/fish/0000.png", synth, model_path, dir);
    out = run_attx(args, &status, &errout);
    assert_int_equal(status, 1);
    assert_contains(errout, "0000.png");
    free(out);
    free(errout);
    tu_rmdir(dir);
    free(synth);
    free(plan);
}

/* `attx tcav-check --text` with the tiny BERT: the concept's words by the plan's rule, the
 * targets, and one class's ground truth recomputed from the library's logits of the sentences
 * with the concept's words swapped for the neutral words. */
static void test_tcav_check_text(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *concept = tu_path(dir, "positive.txt"), *data = tu_path(dir, "data.tsv"),
         *plan = tu_path(dir, "plan.json"), *r[3] = {tu_path(dir, "r1.txt"), tu_path(dir, "r2.txt"), tu_path(dir, "r3.txt")};
    /* "the" is in the random sets' lines (more than 1% of them): not a concept word; pad never */
    tu_write_str(concept, "good film pad\ngreat fun\nthe love\nvery good\n");
    tu_write_str(r[0], "the city\nrain on the market\n");
    tu_write_str(r[1], "a time of sun\nthe team\n");
    tu_write_str(r[2], "price of stock\nthe game was lost\n");
    tu_write_str(data, "sentence\tlabel\nthe plot was bad\t0\na good movie\t1\nbad film , not fun\t0\nthe story\t1\n"
                       "great actor , great plot\t1\nboring and bad , very boring\t0\nlove it\t1\nhate the film\t0\n");
    tu_write_str(plan,
                 "{\"benchmark\": {\"classes\": [\"x\"], \"concepts\": [\"y\"], \"layers\": [0]},"
                 " \"models\": {\"qualify_min_dev_accuracy\": 0.97, \"qualify_max_mean_margin\": 4},"
                 " \"ground_truth\": {\"alpha\": 0.05, \"bonferroni_over\": 1, \"min_relative_size\": 0.1},"
                 " \"objectives\": [\"logit\", \"logsoftmax\"],"
                 " \"modes\": {\"p1\": {\"cavs\": 3}, \"kim\": {\"random_sets\": 2}, \"rank\": {\"null_cavs\": 4},"
                 " \"magnitude\": {\"null_cavs\": 4}},"
                 " \"alpha\": 0.05, \"bonferroni_over\": 1, \"success\": {\"min_agreement\": 0.9, \"max_null_flagged\": 0.1},"
                 " \"text\": {\"targets_per_class\": 3, \"word_max_neutral_fraction\": 0.01,"
                 " \"neutral_words\": [\"time\", \"city\"]}}");
    char args[8192];
    snprintf(args, sizeof args, "tcav-check --text test/fixtures/bert/tiny %s --concept %s --random %s %s %s --plan %s --json --threads 1",
             data, concept, r[0], r[1], r[2], plan);
    int status;
    char *errout, *out = run_attx(args, &status, &errout);
    if (status != 0) fail_msg("exit %d: %s", status, errout);
    attx_json_doc *doc;
    attx_error err;
    if (attx_json_parse(out, strlen(out), NULL, &doc, &err) != 0) fail_msg("%s in %s", err.msg, out);
    const attx_json_value *root = attx_json_root(doc), *words = attx_json_get(root, "concept_words");
    const char *expected[] = {"good", "film", "great", "fun", "love", "very"};
    assert_int_equal(attx_json_len(words), 6);
    for (int i = 0; i < 6; i++) assert_string_equal(attx_json_str(attx_json_item(words, (size_t)i), NULL), expected[i]);

    /* the positive class's targets: the first 3 positive sentences with a concept word */
    const char *positive[3] = {"a good movie", "great actor , great plot", "love it"};
    const char *swapped[3][2] = {{"a time movie", "a city movie"},
                                 {"time actor , time plot", "city actor , city plot"},
                                 {"time it", "city it"}};
    attx_model *m;
    if (attx_model_open(&m, "test/fixtures/bert/tiny", &err) != 0) fail_msg("%s", err.msg);
    attx_ctx *ctx = attx_ctx_new();
    double effect = 0;
    for (int i = 0; i < 3; i++) {
        double f[3];
        for (int v = 0; v < 3; v++) {
            const char *text = v == 0 ? positive[i] : swapped[i][v - 1];
            attx_encoding enc;
            if (attx_encode_text(m, text, strlen(text), &enc, &err) != 0) fail_msg("%s", err.msg);
            attx_batch b = {.B = 1, .T = enc.length, .ids = enc.ids, .lengths = &enc.length};
            attx_outputs o;
            attx_ctx_reset(ctx);
            if (attx_forward(m, ctx, &b, &o, &err) != 0) fail_msg("%s", err.msg);
            const float *z = o.logits->data;
            double mx = fmax(z[0], z[1]);
            f[v] = z[1] - (mx + log(exp(z[0] - mx) + exp(z[1] - mx)));      /* log p_positive */
            attx_encoding_free(&enc);
        }
        effect += f[0] - (f[1] + f[2]) / 2;
    }
    effect /= 3;
    attx_ctx_free(ctx);
    attx_model_close(m);
    const attx_json_value *truth = attx_json_get(root, "truth");
    int found = 0;
    for (size_t i = 0; i < attx_json_len(truth); i++) {
        const attx_json_value *t = attx_json_item(truth, i);
        if (strcmp(attx_json_str(attx_json_get(t, "objective"), NULL), "logsoftmax") ||
            strcmp(attx_json_str(attx_json_get(t, "class"), NULL), "positive"))
            continue;
        double got;
        assert_int_equal(attx_json_double(attx_json_get(t, "mean_effect"), &got), 0);
        if (fabs(got - effect) > 1e-5 * (1 + fabs(effect))) fail_msg("truth %.9g, recomputed %.9g", got, effect);
        found = 1;
    }
    assert_true(found);
    /* 4 modes x 2 objectives x 2 scores x 2 classes, a verdict per layer (2) */
    const attx_json_value *combos = attx_json_get(root, "combinations");
    assert_int_equal(attx_json_len(combos), 32);
    assert_int_equal(attx_json_len(attx_json_get(attx_json_item(combos, 0), "verdicts")), 2);
    attx_json_free(doc);
    free(out);
    free(errout);

    /* too few sentences with a concept word for the plan */
    tu_write_str(data, "sentence\tlabel\na good movie\t1\nbad\t0\n");
    out = run_attx(args, &status, &errout);
    assert_int_equal(status, 1);
    assert_contains(errout, "contain a concept word");
    free(out);
    free(errout);
    for (int i = 0; i < 3; i++) free(r[i]);
    free(concept);
    free(data);
    free(plan);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vit_relative),
        cmocka_unit_test(test_bert_text),
        cmocka_unit_test(test_tcav_check),
        cmocka_unit_test(test_tcav_check_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
