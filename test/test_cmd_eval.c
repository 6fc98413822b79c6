/* test_cmd_eval.c — `attx eval` and the attx_eval.h library on the tiny fixtures: the reported
 * metrics equal attx_faithfulness_eval called directly on attx_explain_ids's attributions; the
 * F1 equals a hand count; CSV rows, JSON, HTML with <svg>, --limit; a partial report after
 * SIGINT; the presets select the right examples; p2-theorem41 on the attn1 fixture; the
 * sampling study's Kernel SHAP error is 0 when the budget covers every coalition; mpirun -n 2
 * build/attx-mpi gives the single process's report. */
#include "testutil.h"
#include "attx_eval.h"

#include <math.h>
#include <signal.h>
#include <time.h>
#include <sys/stat.h>

#define TINY "test/fixtures/bert/tiny"
#define ATTN1 "test/fixtures/attn1"
#define SST2_DEV "../shared/data/sst2/dev.tsv"

static const char *TSV =
    "label\tsentence\n"
    "1\tthe movie was good fun\n"
    "0\ta boring plot and a bad actor\n"
    "1\tgreat story , really great\n"
    "0\ti hate the film\n"
    "1\tlove it , very good\n";
#define TSV_ROWS 5
static const char *TSV_TEXT[TSV_ROWS] = {"the movie was good fun", "a boring plot and a bad actor",
                                         "great story , really great", "i hate the film", "love it , very good"};
static const int TSV_GOLD[TSV_ROWS] = {1, 0, 1, 0, 1};

static char *write_tsv(char **dir)
{
    *dir = tu_mkdtemp();
    char *p = tu_path(*dir, "tiny.tsv");
    tu_write_str(p, TSV);
    return p;
}

static attx_json_doc *parse(const char *text)
{
    attx_json_doc *doc;
    attx_error err;
    if (attx_json_parse(text, strlen(text), NULL, &doc, &err) != 0) fail_msg("JSON: %s in %.300s", err.msg, text);
    return doc;
}

static double num(const attx_json_value *v, const char *key)
{
    double x = 0;   /* clang does not know that fail_msg does not return */
    const attx_json_value *f = attx_json_get(v, key);
    if (!f || attx_json_double(f, &x) != 0) fail_msg("no number %s", key);
    return x;
}

static int64_t inum(const attx_json_value *v, const char *key)
{
    int64_t x = 0;
    const attx_json_value *f = attx_json_get(v, key);
    if (!f || attx_json_i64(f, &x) != 0) fail_msg("no integer %s", key);
    return x;
}

/* Prediction on ids with the players outside mask replaced by [MASK], here with attx_forward. */
static int predict(const attx_model *m, const int32_t *ids, int length, const uint64_t *mask)
{
    int32_t row[64];
    assert_true(length <= 64);
    int32_t mask_id = attx_wordpiece_special_ids(attx_model_tokenizer(m)).mask;
    for (int t = 0; t < length; t++) row[t] = (t >= 1 && t < length - 1 && !attx_mask_has(mask, t - 1)) ? mask_id : ids[t];
    attx_ctx *ctx = attx_ctx_new();
    attx_batch b = {.B = 1, .T = length, .ids = row, .lengths = &length};
    attx_outputs out;
    attx_error err;
    if (attx_forward(m, ctx, &b, &out, &err) != 0) fail_msg("%s", err.msg);
    int p = out.logits->data[1] > out.logits->data[0];
    attx_ctx_free(ctx);
    return p;
}

static void test_metrics_match_direct_calls(void **state)
{
    (void)state;
    char *dir, *tsv = write_tsv(&dir), *csv = tu_path(dir, "rows.csv"), *html = tu_path(dir, "report.html");
    static const char *methods[] = {"att-cls", "grad-att-cls", "shapley-input", "shap"};
    enum { NM = 4 };
    char cmd[2048], *out, *errout;
    snprintf(cmd, sizeof cmd, "%s eval " TINY " '%s' --methods att-cls,grad-att-cls,shapley-input,shap --json "
                              "--csv '%s' --html '%s' --threads 1", tu_attx(), tsv, csv, html);
    int rc = tu_run(cmd, &out, &errout);
    if (rc != 0) fail_msg("exit %d: %s", rc, errout);
    attx_json_doc *doc = parse(out);
    const attx_json_value *root = attx_json_root(doc), *rows = attx_json_get(root, "rows");
    assert_int_equal(inum(root, "examples_done"), TSV_ROWS);
    assert_int_equal(attx_json_len(rows), TSV_ROWS * NM);

    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, TINY, &err) != 0) fail_msg("%s", err.msg);
    int pred[NM][TSV_ROWS];
    double worst = 0;
    for (int i = 0; i < TSV_ROWS; i++) {
        attx_encoding enc;
        if (attx_encode_text(m, TSV_TEXT[i], strlen(TSV_TEXT[i]), &enc, &err) != 0) fail_msg("%s", err.msg);
        attx_explanation ex;
        if (attx_explain_ids(m, enc.ids, enc.length, methods, NM, NULL, &ex, &err) != 0) fail_msg("%s", err.msg);
        attx_game g;
        attx_model_game_options go = {.klass = ex.predicted, .value = ATTX_VALUE_PROB, .mask_id = -1};
        if (attx_game_model_text(&g, m, enc.ids, enc.length, &go, &err) != 0) fail_msg("%s", err.msg);
        for (int k = 0; k < NM; k++) {
            const attx_json_value *row = attx_json_item(rows, (size_t)(i * NM + k));
            assert_int_equal(inum(row, "example"), i);
            assert_string_equal(attx_json_str(attx_json_get(row, "method"), NULL), methods[k]);
            int by_abs = strcmp(methods[k], "shap") == 0;
            attx_faithfulness_options p1 = {.bins = ATTX_FAITH_P1, .rank_by_abs = by_abs};
            attx_faithfulness_options er = {.bins = ATTX_FAITH_ERASER, .rank_by_abs = by_abs};
            attx_faithfulness f1, f2;
            if (attx_faithfulness_eval(&g, ex.methods[k].scores, &p1, &f1, &err) != 0) fail_msg("%s", err.msg);
            if (attx_faithfulness_eval(&g, ex.methods[k].scores, &er, &f2, &err) != 0) fail_msg("%s", err.msg);
            double want[4] = {f1.comprehensiveness, f1.sufficiency, f2.comprehensiveness, f2.sufficiency};
            const char *keys[4] = {"comp", "suff", "aopc_comp", "aopc_suff"};
            for (int q = 0; q < 4; q++) {
                double got = num(row, keys[q]);
                if (fabs(got - want[q]) > 1e-12) fail_msg("example %d %s %s: eval %.17g, direct %.17g", i, methods[k],
                                                          keys[q], got, want[q]);
                worst = fmax(worst, fabs(got - want[q]));
            }
            assert_int_equal(inum(row, "gold"), TSV_GOLD[i]);
            assert_int_equal(inum(row, "predicted"), ex.predicted);
            assert_int_equal(inum(row, "n_players"), enc.length - 2);
            uint64_t mask[1] = {0};
            attx_faithfulness_options rank = {.rank_by_abs = by_abs};
            if (attx_top_players_mask(ex.n_players, ex.methods[k].scores, &rank, 20, mask, NULL, &err) != 0)
                fail_msg("%s", err.msg);
            pred[k][i] = predict(m, enc.ids, enc.length, mask);
            assert_int_equal(inum(row, "suff_predicted"), pred[k][i]);
        }
        attx_game_free(&g);
        attx_explanation_free(&ex);
        attx_encoding_free(&enc);
    }
    /* F1 by hand: per label 2tp / (2tp + fp + fn), macro = mean, weighted by gold support */
    const attx_json_value *summary = attx_json_get(root, "summary");
    for (int k = 0; k < NM; k++) {
        double f1[2], support[2] = {0, 0}, macro = 0, weighted = 0;
        int labels = 0;
        for (int c = 0; c < 2; c++) {
            int tp = 0, fp = 0, fn = 0;
            for (int i = 0; i < TSV_ROWS; i++) {
                tp += pred[k][i] == c && TSV_GOLD[i] == c;
                fp += pred[k][i] == c && TSV_GOLD[i] != c;
                fn += pred[k][i] != c && TSV_GOLD[i] == c;
                support[c] += TSV_GOLD[i] == c;
            }
            f1[c] = 2 * tp + fp + fn ? 2.0 * tp / (2 * tp + fp + fn) : 0;
            macro += f1[c];
            labels++;
            weighted += f1[c] * support[c] / TSV_ROWS;
        }
        macro /= labels;
        const attx_json_value *s = attx_json_get(summary, methods[k]);
        assert_non_null(s);
        assert_true(fabs(num(s, "f1_macro") - macro) < 1e-12);
        assert_true(fabs(num(s, "f1_weighted") - weighted) < 1e-12);
    }
    /* CSV: a header and one row per example and method; HTML: a table and an inline SVG */
    size_t len;
    char *text = tu_read(csv, &len);
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    assert_int_equal(lines, 1 + TSV_ROWS * NM);
    assert_true(strncmp(text, "example,method,", 15) == 0);
    free(text);
    text = tu_read(html, &len);
    assert_contains(text, "<svg");
    assert_contains(text, "<table>");
    assert_contains(text, "shapley-input");
    assert_true(strstr(text, "http://") == strstr(text, "http://www.w3.org/2000/svg"));   /* only the SVG namespace */
    free(text);
    printf("attx eval vs attx_faithfulness_eval on the same attributions: max |difference| %.2e\n", worst);
    attx_json_free(doc);
    attx_model_close(m);
    free(out), free(errout);

    /* --limit and the text table */
    snprintf(cmd, sizeof cmd, "%s eval " TINY " '%s' --methods att-cls --limit 2", tu_attx(), tsv);
    rc = tu_run(cmd, &out, &errout);
    assert_int_equal(rc, 0);
    assert_contains(out, "2 examples");
    assert_contains(out, "att-cls");
    assert_true(strstr(out, "partial") == NULL);
    free(out), free(errout);
    /* a T x T method on attn1 is a clear error (every example skipped, exit 1) */
    snprintf(cmd, sizeof cmd, "%s eval " ATTN1 " '%s' --methods att-mutual --limit 1", tu_attx(), tsv);
    rc = tu_run(cmd, &out, &errout);
    assert_int_equal(rc, 1);
    assert_contains(errout, "[CLS] row");
    free(out), free(errout);
    free(tsv), free(csv), free(html);
    tu_rmdir(dir);
}

/* SIGINT to a slow run: after the current example the reports are written and say partial. */
static void test_sigint_partial_report(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *tsv = tu_path(dir, "many.tsv"), *json = tu_path(dir, "out.json"),
         *err = tu_path(dir, "err.txt"), *csv = tu_path(dir, "rows.csv");
    attx_buf b = {0};
    attx_buf_puts(&b, "label\tsentence\n");
    for (int i = 0; i < 400; i++) attx_buf_printf(&b, "%d\t%s\n", TSV_GOLD[i % TSV_ROWS], TSV_TEXT[i % TSV_ROWS]);
    tu_write(tsv, b.data, b.len);
    attx_buf_free(&b);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen(json, "w", stdout) || !freopen(err, "w", stderr)) _exit(99);
        execl(tu_attx(), tu_attx(), "eval", TINY, tsv, "--methods", "shapley-input", "--samples", "400", "--json",
              "--csv", csv, "--threads", "1", (char *)NULL);
        _exit(98);
    }
    /* wait for the first example to finish (a progress line on stderr), then interrupt */
    for (int tries = 0; tries < 600; tries++) {
        size_t len = 0;
        char *text = access(err, R_OK) == 0 ? tu_read(err, &len) : NULL;
        int started = text && strstr(text, "] 1/400") != NULL;
        free(text);
        if (started) break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGINT);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 130);
    size_t len;
    char *text = tu_read(json, &len), *etext = tu_read(err, &len);
    attx_json_doc *doc = parse(text);
    const attx_json_value *root = attx_json_root(doc);
    int done;
    assert_int_equal(attx_json_bool(attx_json_get(root, "partial"), &done), 0);
    assert_true(done);
    int64_t n = inum(root, "examples_done");
    assert_true(n >= 1 && n < 400);
    assert_int_equal(attx_json_len(attx_json_get(root, "rows")), (size_t)n);
    assert_contains(etext, "partial:");
    printf("SIGINT after %lld of 400 examples: a valid partial report\n", (long long)n);
    free(text), free(etext);
    text = tu_read(csv, &len);
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    assert_int_equal(lines, 1 + n);
    free(text);
    attx_json_free(doc);
    free(tsv), free(json), free(err), free(csv);
    tu_rmdir(dir);
}

/* sst2-short = the dev sentences with 1..15 WordPiece tokens, counted here from the file. */
static void test_presets(void **state)
{
    (void)state;
    tu_need_file(SST2_DEV);
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, TINY, &err) != 0) fail_msg("%s", err.msg);
    size_t len;
    char *dev = tu_read(SST2_DEV, &len);
    size_t rows = 0, shorts = 0;
    char *first = NULL;
    for (char *line = strchr(dev, '\n') + 1, *next; line && *line; line = next) {   /* skip the header */
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        rows++;
        attx_tokens tk = {0};
        if (attx_wordpiece_encode(attx_model_tokenizer(m), tab + 1, strlen(tab + 1), &tk, &err) != 0) fail_msg("%s", err.msg);
        if (tk.n >= 1 && tk.n <= 15) {
            if (!first) first = tab + 1;
            shorts++;
        }
        attx_tokens_free(&tk);
    }
    assert_int_equal(rows, 872);
    attx_eval_data d;
    if (attx_eval_data_load(&d, m, "sst2-short", NULL, NULL, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(d.ds.n, shorts);
    assert_int_equal(d.rows_read, 872);
    assert_string_equal(d.ds.texts[0], first);
    printf("sst2-short with the tiny fixture's tokenizer: %zu of 872 sentences\n", shorts);
    attx_eval_data_free(&d);
    free(dev);
    if (attx_eval_data_load(&d, m, "sst2", NULL, NULL, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(d.ds.n, 872);
    attx_eval_data_free(&d);
    if (attx_eval_data_load(&d, NULL, "agnews", NULL, NULL, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(d.ds.n, 7600);
    assert_int_equal(d.ds.num_labels, 4);
    assert_contains(d.note, "5,000");
    assert_contains(d.note, "120,000");
    attx_eval_data_free(&d);
    /* imdb: all 25,000, and the seeded order mixes the labels (the file is sorted by label) */
    if (attx_eval_data_load(&d, NULL, "imdb", NULL, NULL, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(d.ds.n, 25000);
    int pos = 0;
    for (int i = 0; i < 100; i++) pos += d.ds.labels[i];
    assert_true(pos > 20 && pos < 80);
    attx_eval_data_free(&d);
    /* p2-imdb: the same order, cleaned as P2 (only letters, digits and single spaces) */
    attx_eval_data p2;
    if (attx_eval_data_load(&p2, NULL, "p2-imdb", NULL, NULL, &err) != 0) fail_msg("%s", err.msg);
    for (const char *c = p2.ds.texts[0]; *c; c++) assert_true(*c == ' ' || (*c >= '0' && *c <= '9') || ((*c | 32) >= 'a' && (*c | 32) <= 'z'));
    assert_null(strstr(p2.ds.texts[0], "  "));
    attx_eval_data_free(&p2);
    assert_int_equal(attx_eval_data_load(&d, NULL, "no/such/file.tsv", NULL, NULL, &err), -1);
    attx_model_close(m);
}

/* p2-theorem41 on the attn1 fixture: every position t >= 1 within 1e-4 (relative) */
static void test_p2_theorem41(void **state)
{
    (void)state;
    char *dir, *tsv = write_tsv(&dir), cmd[1024], *out, *errout;
    snprintf(cmd, sizeof cmd, "%s eval " ATTN1 " p2-theorem41 --data '%s' --json", tu_attx(), tsv);
    int rc = tu_run(cmd, &out, &errout);
    if (rc != 0) fail_msg("exit %d: %s", rc, errout);
    attx_json_doc *doc = parse(out);
    const attx_json_value *root = attx_json_root(doc), *rel = attx_json_get(root, "relative_error_max_per_example");
    assert_int_equal(inum(root, "examples_done"), TSV_ROWS);
    double worst = num(rel, "max");
    assert_true(worst < 1e-4);
    assert_int_equal(inum(root, "examples_below_1e-4"), TSV_ROWS);
    printf("p2-theorem41 on the attn1 fixture: max relative error %.2e\n", worst);
    attx_json_free(doc);
    free(out), free(errout);
    /* p2-lime and p2-correlations run and give finite statistics */
    snprintf(cmd, sizeof cmd, "%s eval " ATTN1 " p2-correlations --data '%s' --samples 200 --limit 2 --json", tu_attx(), tsv);
    rc = tu_run(cmd, &out, &errout);
    if (rc != 0) fail_msg("exit %d: %s", rc, errout);
    doc = parse(out);
    root = attx_json_root(doc);
    double r = num(attx_json_get(root, "corr_alpha_avg_g_avg"), "mean");
    assert_true(r >= -1 && r <= 1);
    attx_json_free(doc);
    free(out), free(errout);
    /* P2's experiments need attn1 */
    snprintf(cmd, sizeof cmd, "%s eval " TINY " p2-theorem41 --data '%s'", tu_attx(), tsv);
    assert_int_equal(tu_run(cmd, &out, &errout), 1);
    assert_contains(errout, "attn1");
    free(out), free(errout);
    free(tsv);
    tu_rmdir(dir);
}

/* Sampling study: with a budget above 2^n - 2 Kernel SHAP enumerates every coalition, so its
 * error is 0; the table and the HTML plot are written. */
static void test_sampling_study(void **state)
{
    (void)state;
    char *dir, *tsv = write_tsv(&dir), *html = tu_path(dir, "study.html"), cmd[1024], *out, *errout;
    snprintf(cmd, sizeof cmd, "%s eval " TINY " '%s' --sampling-study --methods grad-att-mutual --limit 2 "
                              "--samplers kernel,permutation --counts 20,100000 --json --html '%s'", tu_attx(), tsv, html);
    int rc = tu_run(cmd, &out, &errout);
    if (rc != 0) fail_msg("exit %d: %s", rc, errout);
    attx_json_doc *doc = parse(out);
    const attx_json_value *mae = attx_json_get(attx_json_get(attx_json_root(doc), "mae"), "grad-att-mutual");
    const attx_json_value *kernel = attx_json_get(mae, "kernel");
    double big;
    assert_int_equal(attx_json_double(attx_json_item(kernel, 1), &big), 0);
    assert_true(big < 1e-9);
    attx_json_free(doc);
    size_t len;
    char *text = tu_read(html, &len);
    assert_contains(text, "<svg");
    assert_contains(text, "polyline");
    free(text);
    free(out), free(errout), free(tsv), free(html);
    tu_rmdir(dir);
}

/* The CSV without its time_ms column (the 12th), which differs from run to run. */
static char *csv_without_time(const char *path)
{
    size_t len;
    char *text = tu_read(path, &len), *out = malloc(len + 1), *w = out;
    int field = 1;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\n') field = 1;
        else if (c == ',') field++;
        if (field != 12 || c == '\n') *w++ = c;
    }
    *w = 0;
    free(text);
    return out;
}

/* mpirun -n 2 build/attx-mpi eval gives the single process's report (times aside). */
static void test_mpi_same_report(void **state)
{
    (void)state;
    const char *mpi = getenv("ATTX_MPI_BIN") ? getenv("ATTX_MPI_BIN") : "build/attx-mpi";
    if (access(mpi, X_OK) != 0 || system("command -v mpirun >/dev/null 2>&1") != 0) {
        print_message("skipped: %s or mpirun is not there (make mpi)\n", mpi);
        skip();
    }
    char *dir, *tsv = write_tsv(&dir), *one = tu_path(dir, "one.csv"), *two = tu_path(dir, "two.csv");
    char cmd[2048], *out1, *out2, *errout;
    snprintf(cmd, sizeof cmd, "%s eval " TINY " '%s' --methods att-cls,grad-att-mutual,shapley-input,shap "
                              "--threads 1 --csv '%s' --json", tu_attx(), tsv, one);
    assert_int_equal(tu_run(cmd, &out1, &errout), 0);
    free(errout);
    snprintf(cmd, sizeof cmd, "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=detect_leaks=0 "
                              "mpirun -n 2 --oversubscribe %s eval " TINY " '%s' --methods "
                              "att-cls,grad-att-mutual,shapley-input,shap --threads 1 --csv '%s' --json", mpi, tsv, two);
    int rc = tu_run(cmd, &out2, &errout);
    if (rc != 0) fail_msg("mpirun: exit %d: %s", rc, errout);
    char *a = csv_without_time(one), *b = csv_without_time(two);
    assert_string_equal(a, b);
    /* the summaries' metrics agree too */
    attx_json_doc *d1 = parse(out1), *d2 = parse(out2);
    const attx_json_value *s1 = attx_json_get(attx_json_root(d1), "summary"), *s2 = attx_json_get(attx_json_root(d2), "summary");
    static const char *keys[] = {"comp", "comp_se", "suff", "aopc_comp", "aopc_suff", "f1_macro", "f1_weighted"};
    for (size_t k = 0; k < attx_json_len(s1); k++)
        for (size_t q = 0; q < sizeof keys / sizeof keys[0]; q++)
            assert_true(num(attx_json_member(s1, k), keys[q]) == num(attx_json_member(s2, k), keys[q]));
    assert_int_equal(inum(attx_json_root(d2), "examples_done"), TSV_ROWS);
    printf("mpirun -n 2: the same %d rows and summary as one process\n", TSV_ROWS * 4);
    attx_json_free(d1), attx_json_free(d2);
    free(a), free(b), free(out1), free(out2), free(errout), free(tsv), free(one), free(two);
    tu_rmdir(dir);
}

/* The JSON confusion matrix (rows gold, columns predicted) equals expected[C * C]. */
static void assert_confusion(const attx_json_value *conf, const int64_t *expected, int C)
{
    assert_int_equal(attx_json_len(conf), C);
    for (int g = 0; g < C; g++)
        for (int p = 0; p < C; p++) {
            int64_t x;
            assert_int_equal(attx_json_i64(attx_json_item(attx_json_item(conf, (size_t)g), (size_t)p), &x), 0);
            assert_int_equal(x, expected[g * C + p]);
        }
}

/* --accuracy: the confusion matrix equals the argmax of attx_forward's logits, row by row */
static void test_accuracy(void **state)
{
    (void)state;
    char *dir, *tsv = write_tsv(&dir), cmd[2048], *out;
    snprintf(cmd, sizeof cmd, "%s eval " TINY " %s --accuracy --json --threads 1", tu_attx(), tsv);
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    attx_json_doc *doc = parse(out);
    const attx_json_value *root = attx_json_root(doc), *conf = attx_json_get(root, "confusion");
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, TINY, &err) != 0) fail_msg("%s", err.msg);
    attx_ctx *ctx = attx_ctx_new();
    int64_t expected[2][2] = {{0}}, correct = 0;
    for (int r = 0; r < TSV_ROWS; r++) {
        attx_encoding enc = {0};
        if (attx_encode_text(m, TSV_TEXT[r], strlen(TSV_TEXT[r]), &enc, &err) != 0) fail_msg("%s", err.msg);
        attx_batch b = {.B = 1, .T = enc.length, .ids = enc.ids, .lengths = &enc.length};
        attx_outputs o;
        attx_ctx_reset(ctx);
        assert_int_equal(attx_forward(m, ctx, &b, &o, &err), 0);
        int predicted = o.logits->data[1] > o.logits->data[0];
        expected[TSV_GOLD[r]][predicted]++;
        correct += predicted == TSV_GOLD[r];
        attx_encoding_free(&enc);
    }
    assert_int_equal(inum(root, "examples"), TSV_ROWS);
    assert_int_equal(inum(root, "correct"), correct);
    assert_true(fabs(num(root, "accuracy") - (double)correct / TSV_ROWS) < 1e-12);
    assert_confusion(conf, &expected[0][0], 2);
    attx_json_free(doc);
    free(out);
    /* the table names the classes with their support */
    snprintf(cmd, sizeof cmd, "%s eval " TINY " %s --accuracy --threads 1", tu_attx(), tsv);
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    assert_contains(out, "accuracy ");
    assert_contains(out, "support");
    free(out);
    attx_ctx_free(ctx);
    attx_model_close(m);
    free(tsv);
    tu_rmdir(dir);
}

/* p2-correlations on a BERT: one line per correlation over the examples; with --json the
 * counts and means, each r within [-1, 1]; the closed forms of P2 are refused with a message
 * saying what does run. */
static void test_p2_correlations_bert(void **state)
{
    (void)state;
    char *dir, *tsv = write_tsv(&dir), cmd[2048], *out, *err;
    snprintf(cmd, sizeof cmd, "%s eval " TINY " p2-correlations --data %s --limit 3 --samples 64 --json --threads 1",
             tu_attx(), tsv);
    if (tu_run(cmd, &out, &err) != 0) fail_msg("p2-correlations: %s", err);
    attx_json_doc *doc = parse(out);
    const attx_json_value *root = attx_json_root(doc);
    assert_int_equal(inum(root, "examples_done"), 3);
    const char *keys[] = {"corr_alpha_avg_g_avg", "corr_alpha_avg_lime", "corr_lime_words_lime_tokens"};
    for (int k = 0; k < 3; k++) {
        const attx_json_value *st = attx_json_get(root, keys[k]);
        assert_non_null(st);
        double mean = num(st, "mean");
        assert_true(mean >= -1 && mean <= 1);
    }
    attx_json_free(doc);
    free(out), free(err);
    snprintf(cmd, sizeof cmd, "%s eval " TINY " p2-theorem41 --data %s --threads 1", tu_attx(), tsv);
    assert_int_equal(tu_run(cmd, NULL, &err), 1);
    assert_contains(err, "p2-theorem41 is P2's closed form on the attn1 model; this is a bert model");
    free(err), free(tsv);
    tu_rmdir(dir);
}

/* A model whose weights hold a NaN is one error naming the tensor, for --accuracy and for the
 * explanation protocol alike: not every example skipped with a warning and a report of none. */
static void test_nonfinite_model(void **state)
{
    (void)state;
    char *dir, *tsv = write_tsv(&dir), *copy = tu_path(dir, "nan-model"), cmd[4096], *err;
    assert_int_equal(mkdir(copy, 0700), 0);
    const char *names[] = {"config.json", "vocab.txt"};
    for (int i = 0; i < 2; i++) {
        char *from = tu_path(TINY, names[i]), *to = tu_path(copy, names[i]);
        size_t n;
        char *bytes = tu_read(from, &n);
        tu_write(to, bytes, n);
        free(bytes), free(from), free(to);
    }
    char *weights = tu_path(copy, "model.safetensors");
    tu_write_with_nan(TINY "/model.safetensors", weights, "bert.encoder.layer.1.attention.self.key.weight", 5);
    const char *modes[] = {"--accuracy", "--methods att,grad-att-cls"};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "%s eval %s %s %s --threads 1", tu_attx(), copy, tsv, modes[k]);
        assert_int_equal(tu_run(cmd, NULL, &err), 1);
        assert_contains(err, "weight tensor 'bert.encoder.layer.1.attention.self.key.weight' holds NaN at [0, 5]");
        assert_true(strstr(err, "skipped") == NULL);
        free(err);
    }
    free(weights), free(copy), free(tsv);
    tu_rmdir(dir);
}

/* --accuracy on an image folder (ViT): class folders matched to the labels by name; the
 * confusion matrix equals the argmax of attx_forward's logits on attx_encode_image's pixels */
static void test_accuracy_images(void **state)
{
    (void)state;
    static const char *files[] = {"checker_16x12.png", "gradient_17x11.png", "baseline_19x13.jpg", "bilevel_11x3.png",
                                  "gamma_rgb_5x5.png"};
    static const char *classes[] = {"cat", "dog", "bird", "cat", "bird"};   /* test/fixtures/vit/p8's labels */
    char *dir = tu_mkdtemp(), cmd[2048], *out;
    for (int i = 0; i < 5; i++) {
        char sub[1100], src[256];
        snprintf(sub, sizeof sub, "%s/%s", dir, classes[i]);
        mkdir(sub, 0755);
        snprintf(src, sizeof src, "test/fixtures/images/%s", files[i]);
        size_t len;
        char *bytes = tu_read(src, &len), *dst = tu_path(sub, files[i]);
        tu_write(dst, bytes, len);
        free(bytes);
        free(dst);
    }
    snprintf(cmd, sizeof cmd, "%s eval test/fixtures/vit/p8 %s --accuracy --json --threads 1", tu_attx(), dir);
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    attx_json_doc *doc = parse(out);
    const attx_json_value *root = attx_json_root(doc), *conf = attx_json_get(root, "confusion");
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, "test/fixtures/vit/p8", &err) != 0) fail_msg("%s", err.msg);
    const attx_config *cfg = attx_model_config(m);
    float *pixels = malloc(3 * (size_t)cfg->image_height * cfg->image_width * sizeof *pixels);
    attx_ctx *ctx = attx_ctx_new();
    int64_t expected[3][3] = {{0}}, correct = 0;
    for (int i = 0; i < 5; i++) {
        char path[1300];
        snprintf(path, sizeof path, "%s/%s/%s", dir, classes[i], files[i]);
        if (attx_encode_image(m, path, pixels, &err) != 0) fail_msg("%s", err.msg);
        attx_batch b = {.B = 1, .pixels = pixels};
        attx_outputs o;
        attx_ctx_reset(ctx);
        assert_int_equal(attx_forward(m, ctx, &b, &o, &err), 0);
        int best = 0, gold = -1;
        for (int c = 1; c < 3; c++) best = o.logits->data[c] > o.logits->data[best] ? c : best;
        for (int c = 0; c < 3; c++) gold = strcmp(cfg->labels[c], classes[i]) == 0 ? c : gold;
        expected[gold][best]++;
        correct += best == gold;
    }
    assert_int_equal(inum(root, "examples"), 5);
    assert_int_equal(inum(root, "correct"), correct);
    assert_confusion(conf, &expected[0][0], 3);
    attx_json_free(doc);
    free(out);
    /* a folder whose class the model lacks */
    char *odd = tu_path(dir, "horse");
    mkdir(odd, 0755);
    char *img = tu_path(odd, "a.png");
    size_t len;
    char *bytes = tu_read("test/fixtures/images/checker_16x12.png", &len);
    tu_write(img, bytes, len);
    char *errout;
    assert_int_equal(tu_run(cmd, NULL, &errout), 1);
    assert_contains(errout, "the class folder 'horse' is not one of the model's classes");
    free(errout);
    free(bytes);
    free(img);
    free(odd);
    free(pixels);
    attx_ctx_free(ctx);
    attx_model_close(m);
    tu_rmdir(dir);
}

/* `attx eval --p1` against P1's pipeline run in PyTorch with shap itself
 * (tools/reference/p1_ref.py --shap) on the first ten sst2-short sentences with
 * data/sst2-bert.safetensors: SHAP's and Grad-SAM's comp/suff on every example, and Att's on
 * every example where P1's own float32 scores tie exactly (9 of 10: on the tenth PyTorch's
 * float32 sums leave one token 1 ulp lower, which attx cannot reproduce from its own attention
 * probabilities). With --ties first (attx's default), Att's values differ: the rule matters. */
static void test_p1_pipeline_reference(void **state)
{
    (void)state;
    tu_need_file(SST2_DEV);
    size_t len;
    char *fixture = tu_read("test/fixtures/p1/sst2-bert-short10.json", &len);
    attx_json_doc *ref = parse(fixture);
    const attx_json_value *examples = attx_json_get(attx_json_root(ref), "examples");
    assert_int_equal(attx_json_len(examples), 10);
    const char *runs[2] = {"--p1 --methods att,grad-sam,shap", "--ties first --methods att"};
    int att_matches[2] = {0, 0};
    for (int run = 0; run < 2; run++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "%s eval data/sst2-bert.safetensors sst2-short --limit 10 %s --json --threads 1",
                 tu_attx(), runs[run]);
        char *out;
        assert_int_equal(tu_run(cmd, &out, NULL), 0);
        attx_json_doc *doc = parse(out);
        const attx_json_value *rows = attx_json_get(attx_json_root(doc), "rows");
        assert_int_equal(attx_json_len(rows), run == 0 ? 30 : 10);
        for (size_t r = 0; r < attx_json_len(rows); r++) {
            const attx_json_value *row = attx_json_item(rows, r);
            int64_t example = inum(row, "example");
            const char *method = attx_json_str(attx_json_get(row, "method"), NULL);
            const attx_json_value *e = attx_json_item(examples, (size_t)example);
            assert_int_equal(inum(row, "n_players"), inum(e, "n_players"));
            int tied = 0;
            assert_int_equal(attx_json_bool(attx_json_get(attx_json_get(e, "all_tied"), method), &tied), 0);
            double dc = fabs(num(row, "comp") - num(attx_json_get(e, "comp"), method));
            double ds = fabs(num(row, "suff") - num(attx_json_get(e, "suff"), method));
            int same = dc <= 1e-5 && ds <= 1e-5;
            if (strcmp(method, "att") == 0) {
                att_matches[run] += same;
                if (run == 0 && tied && !same)
                    fail_msg("att, example %lld (all tied in P1): comp differs by %.3g, suff by %.3g",
                             (long long)example, dc, ds);
            } else if (!same) {
                fail_msg("%s, example %lld: comp differs by %.3g, suff by %.3g", method, (long long)example, dc, ds);
            }
        }
        attx_json_free(doc);
        free(out);
    }
    printf("P1's pipeline: shap and grad-sam equal on 10 of 10 sentences; att on %d of 10 with --p1, %d with "
           "--ties first\n", att_matches[0], att_matches[1]);
    assert_true(att_matches[0] >= 9);
    assert_true(att_matches[1] < att_matches[0]);
    attx_json_free(ref);
    free(fixture);
}

/* --p1 is --shap-p1 (text masker, shap's tree) with --ties p1: the same rows as those flags
 * given one by one, and the report says which protocol ran. */
static void test_p1_flag(void **state)
{
    (void)state;
    char *dir, *tsv = write_tsv(&dir);
    const char *variants[2] = {"--p1", "--shap-p1 --shap-masker text --shap-tree shap --ties p1"};
    char *outs[2];
    attx_json_doc *docs[2];
    for (int v = 0; v < 2; v++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "%s eval " TINY " '%s' --methods att,shap --json --threads 1 %s", tu_attx(), tsv,
                 variants[v]);
        assert_int_equal(tu_run(cmd, &outs[v], NULL), 0);
        docs[v] = parse(outs[v]);
        const attx_json_value *protocol = attx_json_get(attx_json_root(docs[v]), "protocol");
        if (v == 0) assert_non_null(strstr(attx_json_str(protocol, NULL), "P1's pipeline"));
        else assert_null(protocol);
    }
    const attx_json_value *a = attx_json_get(attx_json_root(docs[0]), "rows");
    const attx_json_value *b = attx_json_get(attx_json_root(docs[1]), "rows");
    assert_int_equal(attx_json_len(a), attx_json_len(b));
    assert_true(attx_json_len(a) > 0);
    const char *keys[5] = {"comp", "suff", "aopc_comp", "aopc_suff", "tied_bins"};
    for (size_t r = 0; r < attx_json_len(a); r++)
        for (int k = 0; k < 5; k++)
            assert_true(num(attx_json_item(a, r), keys[k]) == num(attx_json_item(b, r), keys[k]));
    for (int v = 0; v < 2; v++) {
        attx_json_free(docs[v]);
        free(outs[v]);
    }
    /* bad values of the new options: usage errors that name the option */
    const char *bad[5][2] = {{"--ties bogus", "--ties must be"}, {"--tie-samples 0", "--tie-samples"},
                             {"--shap-masker words", "--shap-masker must be"}, {"--shap-tree deep", "--shap-tree must be"},
                             {"--max-players 31", "--max-players"}};
    for (int q = 0; q < 5; q++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "%s eval " TINY " '%s' --methods att %s", tu_attx(), tsv, bad[q][0]);
        char *out, *err;
        assert_int_equal(tu_run(cmd, &out, &err), 2);
        assert_non_null(strstr(err, bad[q][1]));
        free(out);
        free(err);
    }
    tu_rmdir(dir);
    free(tsv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_match_direct_calls),
        cmocka_unit_test(test_sigint_partial_report),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_p2_theorem41),
        cmocka_unit_test(test_sampling_study),
        cmocka_unit_test(test_accuracy),
        cmocka_unit_test(test_nonfinite_model),
        cmocka_unit_test(test_p2_correlations_bert),
        cmocka_unit_test(test_accuracy_images),
        cmocka_unit_test(test_mpi_same_report),
        cmocka_unit_test(test_p1_pipeline_reference),
        cmocka_unit_test(test_p1_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
