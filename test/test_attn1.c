/* test_attn1.c — the one-layer [CLS]-query attention classifier of Lopardo et al.: parity
 * with tools/reference/attn1_ref.py (logits, α per head, e = W_e[x] + PE and the gradients of
 * the class-1 and predicted logits with respect to α and e), Theorem 4.1's closed-form gradient
 * against the tape, torchtext basic_english on tricky strings, the vocabulary order
 * (build_vocab_from_iterator) on corpora with ties, encoding to exactly T ids with byte ranges,
 * P2's initialisation, a tiny model trained to 100% on a separable task, save/reopen, bad
 * input, and `attx predict` / `attx info` on an attn1 model. */
#include "testutil.h"

#include <math.h>
#include <time.h>

#include "model.h"
#include "attx_explain.h"

#define FIXTURE "test/fixtures/attn1"

/* ---- helpers ---- */

typedef struct word_list {
    char words[64][64];
    int n;
} word_list;

static void collect_word(void *user, const char *w, size_t len)
{
    word_list *l = user;
    assert_true(l->n < 64 && len < 64);
    memcpy(l->words[l->n], w, len);
    l->words[l->n][len] = '\0';
    l->n++;
}

static word_list words_of(const char *text, size_t len)
{
    word_list l = {.n = 0};
    attx_error err;
    if (attx_basic_english(text, len, collect_word, &l, &err) != 0) fail_msg("%s", err.msg);
    return l;
}

static void expect_words(const char *text, const char *const *expected, int n)
{
    word_list l = words_of(text, strlen(text));
    if (l.n != n) fail_msg("\"%s\": %d words, expected %d", text, l.n, n);
    for (int i = 0; i < n; i++)
        if (strcmp(l.words[i], expected[i]) != 0)
            fail_msg("\"%s\": word %d is \"%s\", expected \"%s\"", text, i, l.words[i], expected[i]);
}

static const attx_stored_tensor *ref_tensor(const attx_tensor_file *ref, const char *name)
{
    const attx_stored_tensor *t = attx_tensor_file_find(ref, name);
    if (!t) fail_msg("reference has no %s", name);
    return t;
}

/* |got − ref| ≤ atol + rtol·|ref| element-wise; returns the largest |got − ref| */
static double compare(const char *what, const float *got, const attx_stored_tensor *ref, double atol, double rtol)
{
    assert_int_equal(ref->dtype, ATTX_F32);
    double worst = 0;
    for (uint64_t i = 0; i < ref->numel; i++) {
        float r;
        memcpy(&r, ref->data + 4 * i, 4);
        double e = fabs((double)got[i] - r);
        if (e > atol + rtol * fabs(r))
            fail_msg("%s[%llu]: attx %.8g, PyTorch %.8g", what, (unsigned long long)i, got[i], r);
        if (e > worst) worst = e;
    }
    return worst;
}

static char *vocab_of(const char *const *texts, size_t n, size_t *len)
{
    attx_buf out;
    attx_error err;
    if (attx_attn1_vocab_build(texts, n, 0, 1, &out, &err) != 0) fail_msg("%s", err.msg);
    *len = out.len;
    return out.data;
}

static const char *attn1_config(int V, int T, int D, int K, int d, int pad)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"model_type\": \"attx-attn1\", \"vocab_size\": %d, \"hidden_size\": %d, \"num_attention_heads\": %d,"
             " \"attention_head_size\": %d, \"value_head_size\": %d, \"max_position_embeddings\": %d,"
             " \"pad_token_id\": %d, \"id2label\": {\"0\": \"negative\", \"1\": \"positive\"}}",
             V, D, K, d, d, T, pad);
    return buf;
}

/* ---- basic_english ---- */

static void test_basic_english_by_hand(void **state)
{
    (void)state;
    /* expectations worked out from the rule list, rule by rule */
    expect_words("Don't STOP!", (const char *[]){"don", "'", "t", "stop", "!"}, 5);
    /* deleting the quote makes a "<br />" that rule 4 then removes */
    expect_words("a<\"br />b", (const char *[]){"a", "b"}, 2);
    /* ";" becomes a space only after rule 4 ran: "<br />" survives as two words */
    expect_words("x<br;/>y", (const char *[]){"x<br", "/>y"}, 2);
    expect_words("e.g.,(x)", (const char *[]){"e", ".", "g", ".", ",", "(", "x", ")"}, 8);
    expect_words("\"quoted\"", (const char *[]){"quoted"}, 1);
    expect_words("a:b;c", (const char *[]){"a", "b", "c"}, 3);
    expect_words("[CLS] UNK", (const char *[]){"[cls]", "unk"}, 2);
    expect_words(" \t\r\n", NULL, 0);
    /* U+00A0 splits (Python str.split); U+200B does not */
    expect_words("a\xc2\xa0" "b\xe2\x80\x8b" "c", (const char *[]){"a", "b\xe2\x80\x8b" "c"}, 2);
    /* full lowercase: U+0130 -> i + U+0307 */
    expect_words("\xc4\xb0Z", (const char *[]){"i\xcc\x87z"}, 1);

    attx_error err;
    word_list l = {.n = 0};
    assert_int_equal(attx_basic_english("ok \xff", 4, collect_word, &l, &err), -1);
    assert_contains(err.msg, "invalid UTF-8 at byte 3");
}

/* basic_english.json: strings and the tokens of tools/reference/attn1_ref.py's port of
 * torchtext's rules (Python re and str.lower/str.split) */
static void test_basic_english_reference(void **state)
{
    (void)state;
    size_t len;
    char *text = tu_read(FIXTURE "/basic_english.json", &len);
    attx_json_doc *doc;
    attx_error err;
    if (attx_json_parse(text, len, NULL, &doc, &err) != 0) fail_msg("%s", err.msg);
    const attx_json_value *cases = attx_json_get(attx_json_root(doc), "cases");
    assert_non_null(cases);
    size_t n = attx_json_len(cases);
    assert_true(n >= 30);
    for (size_t i = 0; i < n; i++) {
        const attx_json_value *c = attx_json_item(cases, i), *tokens = attx_json_get(c, "tokens");
        size_t tlen;
        const char *s = attx_json_str(attx_json_get(c, "text"), &tlen);
        assert_non_null(s);
        word_list l = words_of(s, tlen);
        if ((size_t)l.n != attx_json_len(tokens))
            fail_msg("case %zu: %d words, Python %zu", i, l.n, attx_json_len(tokens));
        for (int k = 0; k < l.n; k++) {
            size_t wlen;
            const char *w = attx_json_str(attx_json_item(tokens, (size_t)k), &wlen);
            if (wlen != strlen(l.words[k]) || memcmp(w, l.words[k], wlen) != 0)
                fail_msg("case %zu word %d: attx \"%s\", Python \"%.*s\"", i, k, l.words[k], (int)wlen, w);
        }
    }
    printf("basic_english: %zu reference cases match\n", n);
    attx_json_free(doc);
    free(text);
}

/* ---- vocabulary ---- */

static void expect_vocab(const char *const *texts, size_t n, int max_size, int min_freq, const char *expected)
{
    attx_buf out;
    attx_error err;
    if (attx_attn1_vocab_build(texts, n, max_size, min_freq, &out, &err) != 0) fail_msg("%s", err.msg);
    if (strcmp(out.data, expected) != 0) fail_msg("vocabulary\n%s\nexpected\n%s", out.data, expected);
    attx_buf_free(&out);
}

static void test_vocab_order(void **state)
{
    (void)state;
    /* counts: the 4, a 3, b 2 and c 2 (a tie: b < c), then six words seen once, in byte order:
     * "[cls]" (0x5B) < "ab" < "dog" < "unk" < "z" < "\xc3\xa9" (U+00E9 > "z"); "[cls]" is taken
     * out (it is a special), "unk" (the lower-cased UNK) is an ordinary word */
    const char *corpus[] = {"The c b a", "the a ab THE", "b c a the", "z \xc3\xa9 dog", "[CLS] UNK"};
    expect_vocab(corpus, 5, 0, 1, "[cls]\nUNK\nthe\na\nb\nc\nab\ndog\nunk\nz\n\xc3\xa9\n");
}

static void test_vocab_cut_and_min_freq(void **state)
{
    (void)state;
    const char *corpus[] = {"x [cls] [cls] [cls] y y", "x y"};
    /* sorted: [cls] 3, y 3, x 2; max_size 4 keeps 2 of them ([cls], y) before [cls] leaves */
    expect_vocab(corpus, 2, 4, 1, "[cls]\nUNK\ny\n");
    expect_vocab(corpus, 2, 0, 3, "[cls]\nUNK\ny\n");
    expect_vocab(corpus, 2, 0, 1, "[cls]\nUNK\ny\nx\n");
    expect_vocab(corpus, 0, 0, 1, "[cls]\nUNK\n");
    attx_buf out;
    attx_error err;
    assert_int_equal(attx_attn1_vocab_build(corpus, 2, 2, 1, &out, &err), -1);
    assert_contains(err.msg, "only the specials");
    const char *bad[] = {"fine", "bad \xc3("};
    assert_int_equal(attx_attn1_vocab_build(bad, 2, 0, 1, &out, &err), -1);
    assert_contains(err.msg, "text 2");
}

/* the fixture's vocab.txt is Python's Counter + sorted((-count, token)) over corpus.txt */
static void test_vocab_matches_python(void **state)
{
    (void)state;
    size_t len;
    char *corpus = tu_read(FIXTURE "/corpus.txt", &len);
    const char *lines[64];
    size_t n = 0;
    for (char *p = corpus, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        *nl = '\0';
        lines[n++] = p;
    }
    size_t vlen;
    char *vocab = vocab_of(lines, n, &vlen);
    char *expected = tu_read(FIXTURE "/vocab.txt", &len);
    assert_string_equal(vocab, expected);
    free(vocab);
    free(expected);
    free(corpus);
}

/* The vocabulary of the whole IMDb train split, read by attx's data set reader, and the
 * encodings of 2,000 test reviews with it, against the sizes and hashes that
 * tools/reference/attn1_ref.py --imdb ../shared/data/imdb prints for Python's (skipped without
 * ../shared). Also times the vocabulary builder. */
static void test_vocab_imdb(void **state)
{
    (void)state;
    const char *path = "../shared/data/imdb/train.tsv";
    tu_need_file(path);
    tu_need_file("../shared/data/imdb/test.tsv");
    attx_dataset ds;
    attx_dataset_spec spec = {.format = "imdb"};
    attx_error err;
    if (attx_dataset_read(&ds, path, &spec, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(ds.n, 25000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    attx_buf out;
    if (attx_attn1_vocab_build((const char *const *)ds.texts, ds.n, 0, 1, &out, &err) != 0) fail_msg("%s", err.msg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t h = 0xcbf29ce484222325ull;
    size_t lines = 0;
    for (size_t i = 0; i < out.len; i++) {
        h = (h ^ (unsigned char)out.data[i]) * 0x100000001B3ull;
        lines += out.data[i] == '\n';
    }
    printf("IMDb train vocabulary: %zu tokens, %zu bytes, FNV-1a %#llx, built in %.2f s\n", lines, out.len,
           (unsigned long long)h, (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    assert_int_equal(lines, 100685);
    assert_int_equal(out.len, 965043);
    assert_true(h == 0xfa7fe6e2ee58bdb6ull);

    /* the first 2,000 test reviews encoded to T = 256 with that vocabulary ("[cls] " + text,
     * cut, UNK padding), hashed as int32 little-endian ids */
    attx_model *m;
    if (attx_model_create(&m, attn1_config((int)lines, 256, 2, 1, 1, 1), out.data, out.len, 1, &err) != 0)
        fail_msg("%s", err.msg);
    attx_dataset test;
    if (attx_dataset_read(&test, "../shared/data/imdb/test.tsv", &spec, &err) != 0) fail_msg("%s", err.msg);
    h = 0xcbf29ce484222325ull;
    int cut = 0;
    for (size_t i = 0; i < 2000; i++) {
        attx_encoding enc;
        if (attx_encode_text(m, test.texts[i], strlen(test.texts[i]), &enc, &err) != 0) fail_msg("%s", err.msg);
        assert_int_equal(enc.length, 256);
        cut += enc.n_dropped > 0;
        for (int t = 0; t < 256; t++)
            for (int k = 0; k < 4; k++) h = (h ^ (((uint32_t)enc.ids[t] >> (8 * k)) & 0xFF)) * 0x100000001B3ull;
        attx_encoding_free(&enc);
    }
    printf("IMDb test, first 2000 reviews at T = 256: %d truncated, ids FNV-1a %#llx\n", cut, (unsigned long long)h);
    assert_int_equal(cut, 689);
    assert_true(h == 0x310294c4b9869fffull);
    attx_dataset_free(&test);
    attx_model_close(m);
    attx_buf_free(&out);
    attx_dataset_free(&ds);
}

/* ---- parity with the reference ---- */

typedef struct fixture {
    attx_model *model;
    attx_tensor_file ref;
    int B, T;
    int32_t ids[64];
} fixture;

static void load_fixture(fixture *f)
{
    attx_error err;
    memset(f, 0, sizeof *f);
    if (attx_model_open(&f->model, FIXTURE, &err) != 0) fail_msg("%s", err.msg);
    if (attx_safetensors_open(&f->ref, FIXTURE "/reference.safetensors", &err) != 0) fail_msg("%s", err.msg);
    const attx_stored_tensor *ids = ref_tensor(&f->ref, "input_ids");
    assert_int_equal(ids->dtype, ATTX_I64);
    f->B = (int)ids->shape[0];
    f->T = (int)ids->shape[1];
    assert_true(f->B * f->T <= 64);
    for (uint64_t i = 0; i < ids->numel; i++) {
        int64_t id;
        memcpy(&id, ids->data + 8 * i, 8);
        f->ids[i] = (int32_t)id;
    }
}

static void free_fixture(fixture *f)
{
    attx_model_close(f->model);
    attx_tensor_file_close(&f->ref);
}

/* forward with the tape, backward from seed(b) = one-hot on class cls[b] of each example */
static attx_ctx *run(fixture *f, const int *cls, attx_outputs *out)
{
    attx_error err;
    int32_t lengths[8];
    for (int b = 0; b < f->B; b++) lengths[b] = f->T;
    attx_batch batch = {.B = f->B, .T = f->T, .ids = f->ids, .lengths = lengths};
    attx_ctx *ctx = attx_ctx_new();
    attx_ctx_set_tape(ctx, 1);
    if (attx_forward(f->model, ctx, &batch, out, &err) != 0) fail_msg("%s", err.msg);
    int C = f->model->config->num_labels;
    float seed[16] = {0};
    for (int b = 0; b < f->B; b++) seed[b * C + cls[b]] = 1.0f;
    assert_int_equal(attx_backward(ctx, out->logits, seed), 0);
    return ctx;
}

static void test_encode_matches_reference(void **state)
{
    (void)state;
    fixture f;
    load_fixture(&f);
    attx_error err;
    for (int b = 0; b < f.B; b++) {
        char key[32];
        snprintf(key, sizeof key, "text.%d", b);
        const char *text = attx_tensor_file_meta(&f.ref, key);
        assert_non_null(text);
        attx_encoding enc;
        if (attx_encode_text(f.model, text, strlen(text), &enc, &err) != 0) fail_msg("%s", err.msg);
        assert_int_equal(enc.length, f.T);
        for (int t = 0; t < f.T; t++)
            if (enc.ids[t] != f.ids[b * f.T + t])
                fail_msg("text %d position %d: id %d, Python %d", b, t, enc.ids[t], f.ids[b * f.T + t]);
        word_list l = words_of(text, strlen(text));
        assert_int_equal(enc.tokens.n + enc.n_dropped, (size_t)l.n);
        if (b == 1) assert_true(enc.n_dropped > 0);     /* the long text is cut */
        attx_encoding_free(&enc);
    }
    free_fixture(&f);
}

static void test_forward_and_gradients(void **state)
{
    (void)state;
    fixture f;
    load_fixture(&f);
    const attx_config *c = f.model->config;
    int K = c->num_heads, T = f.T, D = c->hidden_size;
    int ones[8], pred[8];
    attx_outputs out;
    for (int b = 0; b < f.B; b++) ones[b] = 1;
    attx_ctx *ctx = run(&f, ones, &out);
    /* shapes documented in attx_engine.h */
    assert_int_equal(out.attn[0]->ndim, 4);
    assert_true(out.attn[0]->shape[0] == f.B && out.attn[0]->shape[1] == K && out.attn[0]->shape[2] == 1 &&
                out.attn[0]->shape[3] == T);
    assert_true(out.inputs_embeds->shape[1] == T && out.inputs_embeds->shape[2] == D);
    assert_ptr_equal(out.hidden[0], out.inputs_embeds);
    assert_int_equal(out.hidden[1]->shape[2], K * c->value_dim);
    assert_null(out.key_valid);
    double worst[8];
    worst[0] = compare("logits", out.logits->data, ref_tensor(&f.ref, "logits"), 1e-5, 1e-5);
    worst[1] = compare("alpha", out.attn[0]->data, ref_tensor(&f.ref, "alpha"), 1e-5, 1e-5);
    worst[2] = compare("inputs_embeds", out.inputs_embeds->data, ref_tensor(&f.ref, "inputs_embeds"), 1e-5, 1e-5);
    worst[3] = compare("grad1_alpha", out.attn[0]->grad, ref_tensor(&f.ref, "grad1_alpha"), 1e-5, 1e-5);
    worst[4] = compare("grad1_inputs_embeds", out.inputs_embeds->grad, ref_tensor(&f.ref, "grad1_inputs_embeds"),
                       1e-5, 1e-5);
    for (int b = 0; b < f.B; b++) {
        const float *z = out.logits->data + b * c->num_labels;
        pred[b] = z[1] > z[0];
    }
    attx_ctx_free(ctx);
    ctx = run(&f, pred, &out);
    worst[5] = compare("gradp_alpha", out.attn[0]->grad, ref_tensor(&f.ref, "gradp_alpha"), 1e-5, 1e-5);
    worst[6] = compare("gradp_inputs_embeds", out.inputs_embeds->grad, ref_tensor(&f.ref, "gradp_inputs_embeds"),
                       1e-5, 1e-5);
    printf("attn1 vs PyTorch (float64), max |error|: logits %.2e alpha %.2e e %.2e; class 1: dalpha %.2e de %.2e;"
           " predicted: dalpha %.2e de %.2e\n", worst[0], worst[1], worst[2], worst[3], worst[4], worst[5], worst[6]);
    attx_ctx_free(ctx);

    /* the tape off gives the same logits, bit for bit */
    attx_ctx *plain = attx_ctx_new();
    attx_outputs o2;
    attx_error err;
    int32_t lengths[8] = {T, T};
    attx_batch batch = {.B = f.B, .T = T, .ids = f.ids, .lengths = lengths};
    if (attx_forward(f.model, plain, &batch, &o2, &err) != 0) fail_msg("%s", err.msg);
    compare("logits (tape off)", o2.logits->data, ref_tensor(&f.ref, "logits"), 1e-5, 1e-5);
    attx_ctx_free(plain);
    free_fixture(&f);
}

/* Theorem 4.1 (Lopardo et al.), t ≥ 1 (attx_attn1_theorem41, explain/p2_theory.c):
 *   ∇_{e_t} f = (1/K) Σ_i α_t^i [ W_v^iᵀ w^i + (w^i·v_t^i − f_i) W_k^iᵀ q_0^i / √d_att ]
 * with w^i the class-1 row of head i's columns of W_ℓ and f_i = Σ_s α_s^i w^i·v_s^i; computed
 * in double from the weights, e and α, against the tape's gradient. */
static void test_theorem_4_1(void **state)
{
    (void)state;
    fixture f;
    load_fixture(&f);
    const attx_config *c = f.model->config;
    int K = c->num_heads, T = f.T, D = c->hidden_size, cls = 1;
    int ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    attx_outputs out;
    attx_error err;
    attx_ctx *ctx = run(&f, ones, &out);
    double worst = 0, worst_cls = 0;
    for (int b = 0; b < f.B; b++) {
        double g[64 * 64];
        assert_true(T * D <= 64 * 64);
        if (attx_attn1_theorem41(f.model, out.inputs_embeds->data + (size_t)b * T * D,
                                 out.attn[0]->data + (size_t)b * K * T, cls, g, &err) != 0)
            fail_msg("%s", err.msg);
        for (int t = 0; t < T; t++)
            for (int k = 0; k < D; k++) {
                double tape = out.inputs_embeds->grad[(b * T + t) * D + k], d = fabs(tape - g[t * D + k]);
                if (t == 0) {
                    worst_cls = fmax(worst_cls, fabs(tape));   /* the closed form leaves row 0 at 0 */
                    continue;
                }
                if (d > 1e-5 + 1e-5 * fabs(g[t * D + k]))
                    fail_msg("example %d position %d feature %d: tape %.8g, Theorem 4.1 %.8g", b, t, k, tape,
                             g[t * D + k]);
                worst = fmax(worst, d);
            }
    }
    /* at t = 0 the gradient has the [CLS] query's own dependence on e_0 the formula leaves out */
    assert_true(worst_cls > 1e-3);
    printf("Theorem 4.1 vs tape, t >= 1: max |error| %.2e (the [CLS] row's gradient, not covered, is up to %.2e)\n",
           worst, worst_cls);
    attx_ctx_free(ctx);
    free_fixture(&f);
}

/* ---- encoding ---- */

static void test_encode_text(void **state)
{
    (void)state;
    fixture f;
    load_fixture(&f);
    const attx_wordpiece *tok = attx_model_tokenizer(f.model);
    assert_non_null(tok);
    attx_special_ids sp = attx_wordpiece_special_ids(tok);
    assert_int_equal(sp.cls, 0);
    assert_int_equal(sp.unk, 1);
    assert_int_equal(sp.pad, 1);
    assert_int_equal(sp.sep, -1);
    assert_string_equal(attx_wordpiece_token(tok, 0), "[cls]");
    assert_string_equal(attx_wordpiece_token(tok, 1), "UNK");
    const char *text = "Don't STOP!<br />Now \xc4\xb0x the movie";
    attx_encoding enc;
    attx_error err;
    if (attx_encode_text(f.model, text, strlen(text), &enc, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(enc.length, 16);
    assert_int_equal(enc.tokens.n, 9);
    assert_int_equal(enc.n_dropped, 0);
    static const uint32_t start[] = {0, 3, 4, 6, 10, 17, 21, 25, 29}, end[] = {3, 4, 5, 10, 11, 20, 24, 28, 34};
    const char *words[] = {"don", "'", "t", "stop", "!", "now", "i\xcc\x87x", "the", "movie"};
    for (size_t i = 0; i < 9; i++) {
        assert_int_equal(enc.tokens.start[i], start[i]);
        assert_int_equal(enc.tokens.end[i], end[i]);
        int32_t id = attx_wordpiece_id(tok, words[i]);
        assert_int_equal(enc.ids[1 + i], id >= 0 ? id : 1);
    }
    assert_int_equal(enc.ids[0], 0);
    assert_true(attx_wordpiece_id(tok, "'") > 1 && attx_wordpiece_id(tok, "the") > 1);
    assert_int_equal(attx_wordpiece_id(tok, "don"), -1);
    for (int t = 10; t < 16; t++) assert_int_equal(enc.ids[t], 1);
    attx_encoding_free(&enc);

    /* a batch of another length is refused, not silently run on a different function */
    int32_t ids[8] = {0, 1, 1, 1, 1, 1, 1, 1}, len8 = 8;
    attx_batch batch = {.B = 1, .T = 8, .ids = ids, .lengths = &len8};
    attx_ctx *ctx = attx_ctx_new();
    attx_outputs out;
    assert_int_equal(attx_forward(f.model, ctx, &batch, &out, &err), -1);
    assert_contains(err.msg, "exactly 16 positions");
    int32_t big[16] = {0, 99};
    int32_t len16 = 16;
    batch = (attx_batch){.B = 1, .T = 16, .ids = big, .lengths = &len16};
    assert_int_equal(attx_forward(f.model, ctx, &batch, &out, &err), -1);
    assert_contains(err.msg, "outside the vocabulary");
    attx_ctx_free(ctx);
    /* a text with no words (basic_english drops quotes) is [cls] then UNK padding, as
     * attx_engine.h says of a text without tokens ([CLS] [SEP] for BERT) */
    if (attx_encode_text(f.model, "\"\"", 2, &enc, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(enc.tokens.n, 0);
    assert_int_equal(enc.length, 16);
    assert_int_equal(enc.ids[0], 0);
    for (int t = 1; t < 16; t++) assert_int_equal(enc.ids[t], 1);
    attx_encoding_free(&enc);
    free_fixture(&f);
}

/* ---- new models, training, saving ---- */

static double mean_var(const attx_tensor *t, double *var, float *lo, float *hi)
{
    double s = 0, s2 = 0;
    *lo = *hi = t->data[0];
    for (int64_t i = 0; i < t->numel; i++) {
        s += t->data[i];
        s2 += (double)t->data[i] * t->data[i];
        *lo = fminf(*lo, t->data[i]);
        *hi = fmaxf(*hi, t->data[i]);
    }
    double m = s / (double)t->numel;
    *var = s2 / (double)t->numel - m * m;
    return m;
}

static void test_init(void **state)
{
    (void)state;
    const char *texts[] = {"a b c d e f g h i j k l m n o p q r s t u v w x y z"};
    size_t vlen;
    char *vocab = vocab_of(texts, 1, &vlen);
    attx_model *m, *m2;
    attx_error err;
    const char *cfg = attn1_config(64, 32, 32, 4, 16, 1);
    if (attx_model_create(&m, cfg, vocab, vlen, 5, &err) != 0) fail_msg("%s", err.msg);
    if (attx_model_create(&m2, cfg, vocab, vlen, 5, &err) != 0) fail_msg("%s", err.msg);
    const char *names[8];
    attx_tensor *p[8], *p2[8];
    assert_int_equal(attx_model_params(m, p, names), 5);
    attx_model_params(m2, p2, NULL);
    for (int k = 0; k < 5; k++) {
        double var;
        float lo, hi;
        double mean = mean_var(p[k], &var, &lo, &hi);
        assert_memory_equal(p[k]->data, p2[k]->data, (size_t)p[k]->numel * sizeof(float));   /* seeded */
        if (strcmp(names[k], "attn1.word_embeddings.weight") == 0) {        /* N(0, 1) */
            assert_true(fabs(mean) < 0.1 && var > 0.85 && var < 1.15);
        } else {                                                             /* U(-0.1, 0.1) */
            assert_true(lo >= -0.1f && hi < 0.1f && fabs(mean) < 0.01);
            assert_true(fabs(var / (0.01 / 3.0) - 1.0) < 0.15);
        }
    }
    attx_model_close(m);
    attx_model_close(m2);

    /* bad configurations and vocabularies */
    assert_int_equal(attx_model_create(&m, cfg, "[cls]\nfoo\n", 10, 1, &err), -1);
    assert_contains(err.msg, "no \"UNK\" token");
    assert_int_equal(attx_model_create(&m, attn1_config(64, 32, 32, 4, 16, 0), vocab, vlen, 1, &err), -1);
    assert_contains(err.msg, "pad_token_id is 0");
    assert_int_equal(attx_model_create(&m, attn1_config(8, 32, 32, 4, 16, 1), vocab, vlen, 1, &err), -1);
    assert_contains(err.msg, "more than the config's vocab_size 8");
    assert_int_equal(attx_model_create(&m, attn1_config(64, 32, 31, 4, 16, 1), vocab, vlen, 1, &err), -1);
    assert_contains(err.msg, "must be even");
    free(vocab);
}

#define N_TOY 16
#define TOY_T 12

/* sentences of filler words with "good" (label 1) or "bad" (label 0) somewhere among them */
static void toy_data(char texts[N_TOY][128], int32_t *labels)
{
    static const char *filler[] = {"the", "movie", "plot", "was", "a", "film", "story", "it", "and", "very"};
    uint64_t rng = 42;
    for (int s = 0; s < N_TOY; s++) {
        int n = 4 + (int)(tu_random(&rng) % 6), at = (int)(tu_random(&rng) % (uint64_t)n);
        labels[s] = s % 2;
        texts[s][0] = '\0';
        for (int k = 0; k < n; k++) {
            strcat(texts[s], k == at ? (labels[s] ? "good" : "bad") : filler[tu_random(&rng) % 10]);
            strcat(texts[s], k + 1 < n ? " " : ".");
        }
    }
}

static void encode_all(const attx_model *m, char texts[N_TOY][128], int32_t *ids)
{
    attx_error err;
    for (int s = 0; s < N_TOY; s++) {
        attx_encoding enc;
        if (attx_encode_text(m, texts[s], strlen(texts[s]), &enc, &err) != 0) fail_msg("%s", err.msg);
        assert_int_equal(enc.length, TOY_T);
        memcpy(ids + s * TOY_T, enc.ids, TOY_T * sizeof *ids);
        attx_encoding_free(&enc);
    }
}

static void test_train_save_reopen(void **state)
{
    (void)state;
    char texts[N_TOY][128];
    int32_t labels[N_TOY], ids[N_TOY * TOY_T], lengths[N_TOY];
    toy_data(texts, labels);
    const char *ptrs[N_TOY];
    for (int s = 0; s < N_TOY; s++) {
        ptrs[s] = texts[s];
        lengths[s] = TOY_T;
    }
    size_t vlen;
    char *vocab = vocab_of(ptrs, N_TOY, &vlen);
    attx_model *m;
    attx_error err;
    if (attx_model_create(&m, attn1_config(32, TOY_T, 16, 2, 8, 1), vocab, vlen, 3, &err) != 0)
        fail_msg("%s", err.msg);
    encode_all(m, texts, ids);
    attx_batch batch = {.B = N_TOY, .T = TOY_T, .ids = ids, .lengths = lengths};

    if (attx_model_make_trainable(m, &err) != 0) fail_msg("%s", err.msg);
    size_t n = attx_model_params(m, NULL, NULL);
    attx_tensor *params[8];
    uint8_t decay[8];
    attx_model_params(m, params, NULL);
    attx_weight_decay_mask(m, decay);
    for (size_t k = 0; k < n; k++) assert_int_equal(decay[k], 1);    /* no biases or norms to spare */
    attx_adamw_config cfg = attx_adamw_defaults();
    cfg.lr = 1e-2;
    attx_adamw opt;
    if (attx_adamw_init(&opt, params, decay, n, &cfg, &err) != 0) fail_msg("%s", err.msg);
    attx_ctx *ctx = attx_ctx_new();
    attx_step_stats st = {0};
    double first_loss = 0;
    int steps = 0;
    for (; steps < 300; steps++) {
        if (attx_train_step(m, ctx, &opt, &batch, labels, &(attx_step_config){.lr = cfg.lr, .max_grad_norm = 1.0}, &st, &err) != 0) fail_msg("%s", err.msg);
        if (steps == 0) first_loss = st.loss;
        if (st.correct == N_TOY && st.loss < 0.05) break;
    }
    printf("toy attn1: loss %.4f -> %.4f, %d/%d correct after %d steps\n", first_loss, st.loss, st.correct, N_TOY,
           steps + 1);
    assert_true(steps < 300);

    /* evaluation after the last update: 100% on the training set */
    attx_outputs out;
    attx_ctx_reset(ctx);
    attx_ctx_set_tape(ctx, 0);
    if (attx_forward(m, ctx, &batch, &out, &err) != 0) fail_msg("%s", err.msg);
    float logits[N_TOY * 2];
    memcpy(logits, out.logits->data, sizeof logits);
    for (int s = 0; s < N_TOY; s++) assert_int_equal(logits[2 * s + 1] > logits[2 * s], labels[s]);

    /* save, reopen: same logits, bit for bit, and the vocabulary travels in the file */
    char *dir = tu_mkdtemp(), *path = tu_path(dir, "toy.safetensors");
    if (attx_model_save(m, path, ATTX_F32, &err) != 0) fail_msg("%s", err.msg);
    attx_model *r;
    if (attx_model_open(&r, path, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(attx_model_config(r)->arch, ATTX_ARCH_ATTN1);
    int32_t ids2[N_TOY * TOY_T];
    encode_all(r, texts, ids2);
    assert_memory_equal(ids, ids2, sizeof ids);
    attx_ctx *ctx2 = attx_ctx_new();
    if (attx_forward(r, ctx2, &batch, &out, &err) != 0) fail_msg("%s", err.msg);
    assert_memory_equal(out.logits->data, logits, sizeof logits);

    /* `attx predict` and `attx info` on it */
    char cmd[4200], *o, *e;
    snprintf(cmd, sizeof cmd, "%s predict '%s' 'A good film.'", tu_attx(), path);
    int rc = tu_run(cmd, &o, &e);
    if (rc != 0) fail_msg("predict: %d %s", rc, e);
    assert_contains(o, "positive");
    assert_contains(o, "tokens (5): [cls] a good film .");
    free(o);
    free(e);
    snprintf(cmd, sizeof cmd, "%s info '%s'", tu_attx(), path);
    rc = tu_run(cmd, &o, &e);
    if (rc != 0) fail_msg("info: %d %s", rc, e);
    assert_contains(o, "attn1");
    assert_contains(o, "basic_english");
    free(o);
    free(e);

    attx_ctx_free(ctx2);
    attx_model_close(r);
    tu_rmdir(dir);
    free(path);
    attx_ctx_free(ctx);
    attx_adamw_free(&opt);
    attx_model_close(m);
    free(vocab);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_english_by_hand),
        cmocka_unit_test(test_basic_english_reference),
        cmocka_unit_test(test_vocab_order),
        cmocka_unit_test(test_vocab_cut_and_min_freq),
        cmocka_unit_test(test_vocab_matches_python),
        cmocka_unit_test(test_vocab_imdb),
        cmocka_unit_test(test_encode_matches_reference),
        cmocka_unit_test(test_forward_and_gradients),
        cmocka_unit_test(test_theorem_4_1),
        cmocka_unit_test(test_encode_text),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_train_save_reopen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
