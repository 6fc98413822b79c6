/* test_embed.c — sentence embeddings against sentence-transformers: the 64 golden texts of
 * ../shared/models/golden (input ids equal, embeddings within 1e-5 of what
 * SentenceTransformer("all-MiniLM-L6-v2").encode gives), every pooling mode against the
 * definition applied to the recorded hidden states, the settings files of sentence-transformers
 * and their refusals, `attx embed` (JSON lines, .npy, batching by length) and `attx similar`. */
#include "testutil.h"

#include <math.h>

#include "attx_engine.h"

#define MINILM "../shared/models/all-MiniLM-L6-v2"
#define GOLDEN "../shared/models/golden/all-MiniLM-L6-v2.embeddings.jsonl"

typedef struct golden {
    size_t n;
    char **text;
    int32_t **ids;
    int *n_ids;
    float **embedding;
    int dim;
} golden;

static void golden_read(golden *g)
{
    size_t len;
    char *data = tu_read(GOLDEN, &len);
    memset(g, 0, sizeof *g);
    size_t cap = 128;
    g->text = calloc(cap, sizeof *g->text);
    g->ids = calloc(cap, sizeof *g->ids);
    g->n_ids = calloc(cap, sizeof *g->n_ids);
    g->embedding = calloc(cap, sizeof *g->embedding);
    for (char *line = data; *line;) {
        char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        attx_json_doc *doc;
        attx_error err;
        if (n == 0) break;
        if (attx_json_parse(line, n, NULL, &doc, &err) != 0) fail_msg("%s: %s", GOLDEN, err.msg);
        assert_true(g->n < cap);
        const attx_json_value *root = attx_json_root(doc);
        g->text[g->n] = strdup(attx_json_str(attx_json_get(root, "text"), NULL));
        const attx_json_value *ids = attx_json_get(root, "input_ids"), *emb = attx_json_get(root, "embedding");
        g->n_ids[g->n] = (int)attx_json_len(ids);
        g->ids[g->n] = malloc(attx_json_len(ids) * sizeof(int32_t));
        for (size_t k = 0; k < attx_json_len(ids); k++) {
            int64_t v;
            assert_int_equal(attx_json_i64(attx_json_item(ids, k), &v), 0);
            g->ids[g->n][k] = (int32_t)v;
        }
        g->dim = (int)attx_json_len(emb);
        g->embedding[g->n] = malloc((size_t)g->dim * sizeof(float));
        for (int k = 0; k < g->dim; k++) {
            double v;
            assert_int_equal(attx_json_double(attx_json_item(emb, (size_t)k), &v), 0);
            g->embedding[g->n][k] = (float)v;
        }
        attx_json_free(doc);
        g->n++;
        line = end ? end + 1 : line + n;
    }
    free(data);
}

static void golden_free(golden *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->text[i]);
        free(g->ids[i]);
        free(g->embedding[i]);
    }
    free(g->text);
    free(g->ids);
    free(g->n_ids);
    free(g->embedding);
}

/* One text through the library: encode with the model's max_seq_length, forward, pool. */
static void embed_one(attx_model *m, attx_ctx *ctx, const attx_sentence_config *sc, const char *text,
                      attx_encoding *enc, float *out)
{
    attx_error err;
    if (attx_encode_text_max(m, text, strlen(text), sc->max_seq_length, enc, &err) != 0) fail_msg("%s", err.msg);
    attx_batch batch = {.B = 1, .T = enc->length, .ids = enc->ids, .lengths = &enc->length};
    attx_outputs o;
    attx_ctx_reset(ctx);
    if (attx_forward(m, ctx, &batch, &o, &err) != 0 || attx_pool_embeddings(m, sc, &batch, &o, out, &err) != 0)
        fail_msg("%s", err.msg);
}

/* The 64 texts of the golden file: the same ids, embeddings within 1e-5 (max abs). */
static void test_golden_embeddings(void **state)
{
    (void)state;
    tu_need_file(GOLDEN);
    tu_need_file(MINILM "/model.safetensors");
    golden g;
    golden_read(&g);
    assert_int_equal(g.n, 64);
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, MINILM, &err) != 0) fail_msg("%s", err.msg);
    int found;
    const attx_sentence_config *sc = attx_model_sentence_config(m, &found);
    assert_int_equal(found, 1);
    assert_int_equal(sc->max_seq_length, 256);
    assert_int_equal(sc->pooling, ATTX_POOL_MEAN);
    assert_int_equal(sc->normalize, 1);
    assert_int_equal(attx_embedding_dim(m, sc), g.dim);
    attx_ctx *ctx = attx_ctx_new();
    float *v = malloc((size_t)g.dim * sizeof *v);
    double worst = 0;
    int truncated = 0, empty = 0;
    for (size_t i = 0; i < g.n; i++) {
        attx_encoding enc;
        embed_one(m, ctx, sc, g.text[i], &enc, v);
        if (enc.length != g.n_ids[i] || memcmp(enc.ids, g.ids[i], (size_t)enc.length * sizeof(int32_t)) != 0)
            fail_msg("text %zu: input ids differ from Hugging Face's (%d against %d tokens)", i, enc.length,
                     g.n_ids[i]);
        truncated += enc.n_dropped > 0;
        empty += enc.tokens.n == 0;
        for (int k = 0; k < g.dim; k++) worst = fmax(worst, fabs((double)v[k] - g.embedding[i][k]));
        attx_encoding_free(&enc);
    }
    print_message("golden: %zu texts (%d truncated to 256 tokens, %d empty), max |attx - sentence-transformers| = "
                  "%.2e\n", g.n, truncated, empty, worst);
    assert_true(truncated >= 1);
    assert_int_equal(empty >= 1, 1);
    assert_true(worst < 1e-5);
    free(v);
    attx_ctx_free(ctx);
    attx_model_close(m);
    golden_free(&g);
}

/* The model shipped in data/ (all-MiniLM-L6-v2 converted by attx to F16) carries the
 * sentence-transformers settings in its metadata (no ../shared needed), and its embeddings stay
 * within F16's rounding of sentence-transformers' (checked when ../shared is there). */
static void test_shipped_f16_model(void **state)
{
    (void)state;
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, "data/all-MiniLM-L6-v2-f16.safetensors", &err) != 0) fail_msg("%s", err.msg);
    int found;
    const attx_sentence_config *sc = attx_model_sentence_config(m, &found);
    assert_int_equal(found, 1);
    assert_int_equal(sc->max_seq_length, 256);
    assert_int_equal(sc->pooling, ATTX_POOL_MEAN);
    assert_int_equal(sc->normalize, 1);
    if (access(GOLDEN, R_OK) == 0) {
        golden g;
        golden_read(&g);
        attx_ctx *ctx = attx_ctx_new();
        float *v = malloc((size_t)g.dim * sizeof *v);
        double worst = 0;
        for (size_t i = 0; i < g.n; i++) {
            attx_encoding enc;
            embed_one(m, ctx, sc, g.text[i], &enc, v);
            for (int k = 0; k < g.dim; k++) worst = fmax(worst, fabs((double)v[k] - g.embedding[i][k]));
            attx_encoding_free(&enc);
        }
        print_message("data/all-MiniLM-L6-v2-f16: max |attx F16 - sentence-transformers F32| = %.2e\n", worst);
        assert_true(worst < 1e-3);
        free(v);
        attx_ctx_free(ctx);
        golden_free(&g);
    }
    attx_model_close(m);
}

/* Every pooling mode against its definition applied to the last hidden state of a padded
 * batch, computed here from the recorded hidden states, token by token. */
static void test_pooling_modes(void **state)
{
    (void)state;
    tu_need_file(MINILM "/model.safetensors");
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, MINILM, &err) != 0) fail_msg("%s", err.msg);
    const char *texts[2] = {"a short one", "a somewhat longer sentence about the weather in paris"};
    attx_encoding enc[2];
    for (int b = 0; b < 2; b++)
        if (attx_encode_text(m, texts[b], strlen(texts[b]), &enc[b], &err) != 0) fail_msg("%s", err.msg);
    int T = enc[1].length, D = attx_model_config(m)->hidden_size;
    int32_t ids[64] = {0}, lengths[2] = {enc[0].length, enc[1].length};
    assert_true(2 * T <= 64);
    for (int b = 0; b < 2; b++) memcpy(ids + b * T, enc[b].ids, (size_t)enc[b].length * sizeof(int32_t));
    attx_batch batch = {.B = 2, .T = T, .ids = ids, .lengths = lengths};
    attx_ctx *ctx = attx_ctx_new();
    attx_ctx_set_tape(ctx, 1);
    attx_outputs o;
    if (attx_forward(m, ctx, &batch, &o, &err) != 0) fail_msg("%s", err.msg);
    const attx_tensor *h = o.hidden[attx_model_config(m)->num_layers];
    assert_ptr_equal(h, o.last_hidden);
    attx_sentence_config sc;
    attx_sentence_config_default(&sc);
    sc.pooling = ATTX_POOL_CLS | ATTX_POOL_MAX | ATTX_POOL_MEAN | ATTX_POOL_MEAN_SQRT_LEN | ATTX_POOL_WEIGHTED_MEAN |
                 ATTX_POOL_LAST_TOKEN;
    int dim = attx_embedding_dim(m, &sc);
    assert_int_equal(dim, 6 * D);
    float *got = malloc(2 * (size_t)dim * sizeof *got);
    if (attx_pool_embeddings(m, &sc, &batch, &o, got, &err) != 0) fail_msg("%s", err.msg);
    double worst = 0;
    for (int b = 0; b < 2; b++) {
        int n = lengths[b];
        for (int d = 0; d < D; d++) {
            const float *x = h->data + (size_t)b * (size_t)T * (size_t)D + d;   /* x[t * D] */
            double mx = -INFINITY, sum = 0, wsum = 0, w = 0;
            for (int t = 0; t < n; t++) {
                mx = fmax(mx, x[t * D]);
                sum += x[t * D];
                wsum += (t + 1.0) * x[t * D];
                w += t + 1.0;
            }
            double want[6] = {x[0], mx, sum / n, sum / sqrt(n), wsum / w, x[(n - 1) * D]};
            for (int k = 0; k < 6; k++)
                worst = fmax(worst, fabs(want[k] - got[(size_t)b * (size_t)dim + (size_t)k * D + (size_t)d]));
        }
    }
    assert_true(worst < 1e-6);
    /* normalisation: unit length */
    sc.normalize = 1;
    if (attx_pool_embeddings(m, &sc, &batch, &o, got, &err) != 0) fail_msg("%s", err.msg);
    for (int b = 0; b < 2; b++) {
        double sq = 0;
        for (int k = 0; k < dim; k++) sq += (double)got[b * dim + k] * got[b * dim + k];
        assert_true(fabs(sq - 1) < 1e-5);
    }
    free(got);
    for (int b = 0; b < 2; b++) attx_encoding_free(&enc[b]);
    attx_ctx_free(ctx);
    attx_model_close(m);
}

static void test_pooling_names(void **state)
{
    (void)state;
    unsigned bits;
    assert_int_equal(attx_pooling_parse("mean", &bits), 0);
    assert_int_equal(bits, ATTX_POOL_MEAN);
    assert_int_equal(attx_pooling_parse("max,cls,mean-sqrt-len", &bits), 0);
    assert_int_equal(bits, ATTX_POOL_MAX | ATTX_POOL_CLS | ATTX_POOL_MEAN_SQRT_LEN);
    char name[64];
    assert_int_equal(attx_pooling_name(bits, name, sizeof name), 0);
    assert_string_equal(name, "cls+max+mean-sqrt-len");   /* sentence-transformers' order */
    assert_int_equal(attx_pooling_count(bits), 3);
    assert_int_equal(attx_pooling_parse("avg", &bits), -1);
    assert_int_equal(attx_pooling_parse("", &bits), -1);
    assert_int_equal(attx_pooling_parse("mean,", &bits), 0);
}

/* Writes text to file, then expects dir's settings to be refused with want in the message. */
static void refused(const char *dir, const char *file, const char *text, const char *want)
{
    attx_sentence_config sc;
    attx_error err;
    int found;
    tu_write_str(file, text);
    assert_int_equal(attx_sentence_config_read_dir(&sc, dir, &found, &err), -1);
    assert_contains(err.msg, want);
}

/* sentence-transformers' files in a model directory, and what is refused. */
static void test_settings_files(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *modules = tu_path(dir, "modules.json"), *sbert = tu_path(dir, "sentence_bert_config.json");
    char *pool_dir = tu_path(dir, "1_Pooling"), *pool = tu_path(dir, "1_Pooling/config.json");
    attx_sentence_config sc;
    attx_error err;
    int found = -1;
    assert_int_equal(attx_sentence_config_read_dir(&sc, dir, &found, &err), 0);   /* none: the default */
    assert_int_equal(found, 0);
    assert_int_equal(sc.pooling, ATTX_POOL_MEAN);
    assert_int_equal(sc.normalize, 0);

    assert_int_equal(mkdir(pool_dir, 0755), 0);
    tu_write_str(modules, "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
                          "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}]");
    tu_write_str(sbert, "{\"max_seq_length\": 128, \"do_lower_case\": false}");
    tu_write_str(pool, "{\"word_embedding_dimension\": 384, \"pooling_mode_cls_token\": true, "
                       "\"pooling_mode_mean_tokens\": false, \"pooling_mode_max_tokens\": true}");
    assert_int_equal(attx_sentence_config_read_dir(&sc, dir, &found, &err), 0);
    assert_int_equal(found, 1);
    assert_int_equal(sc.max_seq_length, 128);
    assert_int_equal(sc.pooling, ATTX_POOL_CLS | ATTX_POOL_MAX);
    assert_int_equal(sc.normalize, 0);

    /* attx.sentence round trip */
    attx_buf b = {0};
    attx_sentence_config back;
    attx_sentence_config_write(&sc, &b);
    assert_int_equal(attx_sentence_config_parse(&back, b.data, b.len, "x", &err), 0);
    assert_memory_equal(&back, &sc, sizeof sc);
    attx_buf_free(&b);

    /* refusals, each naming the file */
    refused(dir, pool, "{\"pooling_mode_mean_tokens\": false}", "1_Pooling/config.json: no pooling mode is true");
    refused(dir, pool, "{\"pooling_mode_mean_tokens\": \"yes\"}", "is not true or false");
    refused(dir, modules, "[{\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
                          "{\"path\":\"2_Dense\",\"type\":\"sentence_transformers.models.Dense\"}]",
            "modules.json: the sentence-transformers module 2_Dense (sentence_transformers.models.Dense)");
    refused(dir, modules, "[{\"path\":\"../x\",\"type\":\"sentence_transformers.models.Pooling\"}]", "modules.json");
    refused(dir, modules, "{\"not\": \"a list\"}", "not a JSON array");
    refused(dir, modules, "[", "modules.json");
    tu_write_str(modules, "[{\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
                          "{\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}]");
    tu_write_str(pool, "{\"pooling_mode_mean_tokens\": true}");
    refused(dir, sbert, "{\"max_seq_length\": 1}", "max_seq_length");
    assert_int_equal(attx_sentence_config_parse(&sc, "{\"pooling\":\"avg\"}", 17, "meta", &err), -1);
    assert_contains(err.msg, "meta: \"pooling\"");
    free(modules);
    free(sbert);
    free(pool);
    free(pool_dir);
    tu_rmdir(dir);
}

/* Reads a 2-D float32 .npy as NumPy's format describes it; returns the data. */
static float *read_npy(const char *path, size_t *rows, size_t *cols)
{
    size_t len;
    char *data = tu_read(path, &len);
    assert_true(len >= 10);
    assert_memory_equal(data, "\x93NUMPY\x01\x00", 8);
    size_t header = (unsigned char)data[8] | (size_t)(unsigned char)data[9] << 8;
    assert_int_equal((10 + header) % 64, 0);
    assert_int_equal(data[10 + header - 1], '\n');
    assert_non_null(strstr(data + 10, "'descr': '<f4'"));
    assert_non_null(strstr(data + 10, "'fortran_order': False"));
    const char *shape = strstr(data + 10, "'shape': (");
    assert_non_null(shape);
    assert_int_equal(sscanf(shape, "'shape': (%zu, %zu)", rows, cols), 2);
    assert_int_equal(len, 10 + header + *rows * *cols * 4);
    float *v = malloc(*rows * *cols * sizeof *v + 1);
    memcpy(v, data + 10 + header, *rows * *cols * 4);
    free(data);
    return v;
}

/* `attx embed` on a file of the golden texts (those without line breaks): JSON lines and .npy
 * agree with each other and with sentence-transformers, whatever the batch size. */
static void test_cli_embed(void **state)
{
    (void)state;
    tu_need_file(GOLDEN);
    tu_need_file(MINILM "/model.safetensors");
    golden g;
    golden_read(&g);
    char *dir = tu_mkdtemp();
    char *texts = tu_path(dir, "texts.txt"), *npy = tu_path(dir, "e.npy"), *npy1 = tu_path(dir, "e1.npy");
    FILE *f = fopen(texts, "w");
    size_t *rows = malloc(g.n * sizeof *rows), n = 0;
    for (size_t i = 0; i < g.n; i++) {
        if (strpbrk(g.text[i], "\r\n")) continue;
        fprintf(f, "%s\n", g.text[i]);
        rows[n++] = i;
    }
    fclose(f);
    char cmd[8192];
    char *out, *errout;
    snprintf(cmd, sizeof cmd, "%s embed %s @%s --out %s --threads 2", tu_attx(), MINILM, texts, npy);
    assert_int_equal(tu_run(cmd, &out, &errout), 0);
    assert_contains(out, "mean pooling, L2-normalised, up to 256 tokens, 384 dimensions");
    free(out);
    free(errout);
    /* one text per forward pass, one thread: the same bits as the batches of mixed lengths */
    snprintf(cmd, sizeof cmd, "%s embed %s @%s --out %s --threads 1 --batch-tokens 1", tu_attx(), MINILM, texts, npy1);
    assert_int_equal(tu_run(cmd, NULL, NULL), 0);
    size_t r, c, r1, c1;
    float *v = read_npy(npy, &r, &c), *v1 = read_npy(npy1, &r1, &c1);
    assert_int_equal(r, n);
    assert_int_equal(c, 384);
    assert_int_equal(r1, n);
    assert_memory_equal(v, v1, r * c * sizeof *v);
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < c; k++) worst = fmax(worst, fabs((double)v[i * c + k] - g.embedding[rows[i]][k]));
    assert_true(worst < 1e-5);

    /* JSON lines: the first text's tokens and ids, the same numbers as the matrix */
    snprintf(cmd, sizeof cmd, "%s embed %s -- \"%s\"", tu_attx(), MINILM, g.text[0]);
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    attx_json_doc *doc;
    attx_error err;
    if (attx_json_parse(out, strlen(out), NULL, &doc, &err) != 0) fail_msg("%s", err.msg);
    const attx_json_value *root = attx_json_root(doc);
    assert_string_equal(attx_json_str(attx_json_get(root, "text"), NULL), g.text[0]);
    assert_string_equal(attx_json_str(attx_json_item(attx_json_get(root, "tokens"), 0), NULL), "[CLS]");
    assert_int_equal(attx_json_len(attx_json_get(root, "ids")), g.n_ids[0]);
    const attx_json_value *emb = attx_json_get(root, "embedding");
    assert_int_equal(attx_json_len(emb), 384);
    for (size_t k = 0; k < 384; k++) {
        double x;
        assert_int_equal(attx_json_double(attx_json_item(emb, k), &x), 0);
        assert_true((float)x == v[k]);   /* JSON floats round-trip */
    }
    attx_json_free(doc);
    free(out);

    /* options and refusals */
    snprintf(cmd, sizeof cmd, "%s embed %s hello --pooling avg", tu_attx(), MINILM);
    assert_int_equal(tu_run(cmd, NULL, &errout), 2);
    assert_contains(errout, "--pooling");
    free(errout);
    snprintf(cmd, sizeof cmd, "%s embed test/fixtures/vit/tiny x.png", tu_attx());
    assert_int_equal(tu_run(cmd, NULL, &errout), 1);
    free(errout);
    snprintf(cmd, sizeof cmd, "%s embed %s @%s/missing.txt", tu_attx(), MINILM, dir);
    assert_int_equal(tu_run(cmd, NULL, &errout), 1);
    assert_contains(errout, "missing.txt");
    free(errout);
    free(v);
    free(v1);
    free(rows);
    free(texts);
    free(npy);
    free(npy1);
    tu_rmdir(dir);
    golden_free(&g);
}

/* `attx similar`: the corpus line that is the query itself comes first with cosine 1, and a
 * paraphrase beats unrelated lines. */
static void test_cli_similar(void **state)
{
    (void)state;
    tu_need_file(MINILM "/model.safetensors");
    char *dir = tu_mkdtemp();
    char *corpus = tu_path(dir, "corpus.txt");
    tu_write_str(corpus, "The stock market fell sharply today.\n"
                         "\n"
                         "How do I change my password?\n"
                         "A recipe for chocolate cake.\n"
                         "I forgot my login credentials and need to reset them.\n");
    char cmd[8192];
    char *out;
    snprintf(cmd, sizeof cmd, "%s similar %s \"How do I change my password?\" @%s --top 3 --json", tu_attx(), MINILM,
             corpus);
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    attx_json_doc *doc;
    attx_error err;
    if (attx_json_parse(out, strlen(out), NULL, &doc, &err) != 0) fail_msg("%s", err.msg);
    const attx_json_value *results = attx_json_get(attx_json_root(doc), "results");
    assert_int_equal(attx_json_len(results), 3);
    int64_t line;
    double score, score2;
    assert_int_equal(attx_json_i64(attx_json_get(attx_json_item(results, 0), "line"), &line), 0);
    assert_int_equal(line, 3);   /* 1-based, the empty line counted */
    assert_int_equal(attx_json_double(attx_json_get(attx_json_item(results, 0), "score"), &score), 0);
    assert_true(fabs(score - 1) < 1e-6);
    assert_int_equal(attx_json_i64(attx_json_get(attx_json_item(results, 1), "line"), &line), 0);
    assert_int_equal(line, 5);
    assert_int_equal(attx_json_double(attx_json_get(attx_json_item(results, 1), "score"), &score2), 0);
    assert_true(score2 < score);
    attx_json_free(doc);
    free(out);
    snprintf(cmd, sizeof cmd, "%s similar %s query corpus.txt", tu_attx(), MINILM);
    assert_int_equal(tu_run(cmd, NULL, NULL), 2);
    free(corpus);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_embeddings), cmocka_unit_test(test_shipped_f16_model),
        cmocka_unit_test(test_pooling_modes),
        cmocka_unit_test(test_pooling_names),     cmocka_unit_test(test_settings_files),
        cmocka_unit_test(test_cli_embed),         cmocka_unit_test(test_cli_similar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
