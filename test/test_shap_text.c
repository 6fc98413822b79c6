/* test_shap_text.c — P1's SHAP: shap's Text masker (string-level masks), shap's token tree and
 * the partition explainer on an explicit tree, against values shap 0.46 itself produced with
 * P1's call on data/sst2-bert.safetensors (test/fixtures/shap/p1_shap.json, written by
 * tools/reference/shap_ref.py): for every fixture sentence the segments, the tree, the masked
 * strings and their ids, and the SHAP value of every token to 1e-5. */
#include "testutil.h"

#include "attx_explain.h"

#define MODEL "data/sst2-bert.safetensors"
#define FIXTURE "test/fixtures/shap/p1_shap.json"
#define TOL 1e-5

typedef struct fixture {
    attx_model *model;
    attx_json_doc *doc;
    const attx_json_value *cases;
    char *text;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    attx_error err;
    size_t len;
    if (!f || !(f->text = tu_read(FIXTURE, &len))) return -1;
    if (attx_json_parse(f->text, len, NULL, &f->doc, &err) != 0) {
        fprintf(stderr, "%s: %s\n", FIXTURE, err.msg);
        return -1;
    }
    f->cases = attx_json_get(attx_json_root(f->doc), "cases");
    if (!f->cases || attx_json_len(f->cases) < 8) return -1;
    if (attx_model_open(&f->model, MODEL, &err) != 0) {
        fprintf(stderr, "%s: %s\n", MODEL, err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f) return 0;
    attx_model_close(f->model);
    attx_json_free(f->doc);
    free(f->text);
    free(f);
    return 0;
}

static const char *case_text(const attx_json_value *c, size_t *len)
{
    return attx_json_str(attx_json_get(c, "text"), len);
}

static int64_t int_at(const attx_json_value *arr, size_t i)
{
    int64_t v = -1;
    assert_int_equal(attx_json_i64(attx_json_item(arr, i), &v), 0);
    return v;
}

/* The segments, ids and shap's tree of one fixture entry, from its text. */
static void check_tree(const fixture *f, const attx_json_value *c)
{
    attx_error err;
    size_t len;
    const char *text = case_text(c, &len);
    const attx_json_value *segs = attx_json_get(c, "segments"), *ids = attx_json_get(c, "ids");
    const attx_json_value *tree = attx_json_get(c, "tree"), *sizes = attx_json_get(c, "tree_size");
    attx_text_segments s;
    assert_int_equal(attx_text_segments_from_text(f->model, text, len, &s, &err), 0);
    int M = s.length;
    assert_int_equal(M, (int)attx_json_len(segs));
    for (int t = 0; t < M; t++) {
        size_t sl;
        const char *want = attx_json_str(attx_json_item(segs, (size_t)t), &sl);
        assert_int_equal(s.end[t] - s.start[t], sl);
        assert_memory_equal(s.text + s.start[t], want, sl);
    }
    attx_encoding enc;
    assert_int_equal(attx_encode_text(f->model, text, len, &enc, &err), 0);
    assert_int_equal(enc.length, M);
    for (int t = 0; t < M; t++) assert_int_equal(enc.ids[t], int_at(ids, (size_t)t));
    attx_encoding_free(&enc);

    int32_t *got = malloc((size_t)(2 * (M - 1)) * sizeof *got), *size = malloc((size_t)(M - 1) * sizeof *size);
    assert_non_null(got);
    assert_non_null(size);
    assert_int_equal(attx_shap_text_tree(&s, got, size, &err), 0);
    assert_int_equal(attx_json_len(tree), (size_t)(M - 1));
    for (int i = 0; i < M - 1; i++) {
        const attx_json_value *row = attx_json_item(tree, (size_t)i);
        if (got[2 * i] != int_at(row, 0) || got[2 * i + 1] != int_at(row, 1))
            fail_msg("'%s': merge %d is (%d, %d), shap's (%d, %d)", text, i, got[2 * i], got[2 * i + 1],
                     (int)int_at(row, 0), (int)int_at(row, 1));
        assert_int_equal(size[i], int_at(sizes, (size_t)i));
    }
    free(got);
    free(size);
    attx_text_segments_free(&s);
}

/* (a) segments, ids and shap's tree of every fixture sentence */
static void test_tree_matches_shap(void **state)
{
    fixture *f = *state;
    for (size_t k = 0; k < attx_json_len(f->cases); k++) check_tree(f, attx_json_item(f->cases, k));
}

/* The tree's rules on hand-made texts (apostrophes, parentheses, nested ones, commas,
 * connectors, sentence ends, capitals, word pieces, "[MASK]" and "[SEP]" in the text). */
static void test_tree_rules(void **state)
{
    fixture *f = *state;
    const attx_json_value *trees = attx_json_get(attx_json_root(f->doc), "trees");
    assert_true(attx_json_len(trees) >= 5);
    for (size_t k = 0; k < attx_json_len(trees); k++) check_tree(f, attx_json_item(trees, k));
}

/* (b) P1's SHAP (text masker, shap's tree, class 1's logit-odds, 500 evaluations) against shap,
 * from the text and from the ids (attx eval's path) */
static void test_values_match_shap(void **state)
{
    fixture *f = *state;
    attx_error err;
    attx_explain_options o;
    attx_explain_options_init(&o);
    o.shap_p1 = 1;
    o.shap_masker = ATTX_SHAP_MASKER_TEXT;
    o.shap_tree = ATTX_SHAP_TREE_SHAP;
    const char *names[] = {"shap"};
    double worst = 0, worst_ids = 0;
    for (size_t k = 0; k < attx_json_len(f->cases); k++) {
        const attx_json_value *c = attx_json_item(f->cases, k);
        const attx_json_value *values = attx_json_get(c, "values");
        size_t len;
        const char *text = case_text(c, &len);
        attx_explanation ex, ex_ids;
        assert_int_equal(attx_explain_text(f->model, text, len, names, 1, &o, &ex, &err), 0);
        int n = ex.n_players;
        assert_int_equal((size_t)n + 2, attx_json_len(values));
        assert_int_equal(attx_explain_ids(f->model, ex.enc.ids, ex.enc.length, names, 1, &o, &ex_ids, &err), 0);
        assert_non_null(strstr(ex.methods[0].how, "text masks, shap's tree"));
        for (int i = 0; i < n; i++) {
            double want;
            assert_int_equal(attx_json_double(attx_json_item(values, (size_t)i + 1), &want), 0);
            double d = fabs(ex.methods[0].scores[i] - want), d_ids = fabs(ex_ids.methods[0].scores[i] - want);
            if (d > worst) worst = d;
            if (d_ids > worst_ids) worst_ids = d_ids;
            if (d > TOL || d_ids > TOL)
                fail_msg("'%s' token %d: attx %.9f (from ids %.9f), shap %.9f", text, i, ex.methods[0].scores[i],
                         ex_ids.methods[0].scores[i], want);
        }
        attx_explanation_free(&ex);
        attx_explanation_free(&ex_ids);
    }
    print_message("max |attx - shap| over the fixtures: %.3g (from the text), %.3g (from the ids)\n", worst,
                  worst_ids);
}

static void mask_of(const attx_json_value *kept, uint64_t *mask, int special_players)
{
    mask[0] = 0;
    int M = (int)attx_json_len(kept);
    for (int t = 0; t < M; t++) {
        if (!special_players && (t == 0 || t == M - 1)) continue;
        if (int_at(kept, (size_t)t)) attx_mask_set(mask, special_players ? t : t - 1);
    }
}

/* (c) the masked strings and their ids: shap's for every fixture mask (each content token
 * removed alone, all removed), and a word piece where ids and strings differ */
static void test_masked_strings(void **state)
{
    fixture *f = *state;
    attx_error err;
    for (size_t k = 0; k < attx_json_len(f->cases); k++) {
        const attx_json_value *c = attx_json_item(f->cases, k), *masks = attx_json_get(c, "masks");
        size_t len;
        const char *text = case_text(c, &len);
        attx_text_segments s;
        assert_int_equal(attx_text_segments_from_text(f->model, text, len, &s, &err), 0);
        for (size_t j = 0; j < attx_json_len(masks); j++) {
            const attx_json_value *mc = attx_json_item(masks, j), *ids = attx_json_get(mc, "ids");
            for (int special = 0; special <= 1; special++) {   /* both player numberings */
                uint64_t mask[1];
                mask_of(attx_json_get(mc, "kept"), mask, special);
                char *str;
                size_t sl, wl;
                assert_int_equal(attx_text_segments_mask(&s, mask, special, &str, &sl, &err), 0);
                const char *want = attx_json_str(attx_json_get(mc, "text"), &wl);
                assert_string_equal(str, want);
                attx_encoding enc;
                assert_int_equal(attx_encode_text(f->model, str, sl, &enc, &err), 0);
                assert_int_equal((size_t)enc.length, attx_json_len(ids));
                for (int t = 0; t < enc.length; t++) assert_int_equal(enc.ids[t], int_at(ids, (size_t)t));
                attx_encoding_free(&enc);
                free(str);
            }
        }
        attx_text_segments_free(&s);
    }

    /* "gutterball" is gut ##ter ##ball: removing ##ter leaves "gut [MASK]ball", whose "ball" is a
     * word of its own, where id masking keeps ##ball */
    static const char sentence[] = "they should have called it gutterball .";
    attx_text_segments s;
    attx_encoding orig, enc;
    assert_int_equal(attx_text_segments_from_text(f->model, sentence, sizeof sentence - 1, &s, &err), 0);
    assert_int_equal(attx_encode_text(f->model, sentence, sizeof sentence - 1, &orig, &err), 0);
    const attx_wordpiece *wp = attx_model_tokenizer(f->model);
    assert_int_equal(orig.length, 11);
    assert_string_equal(attx_wordpiece_token(wp, orig.ids[7]), "##ter");
    assert_string_equal(attx_wordpiece_token(wp, orig.ids[8]), "##ball");
    uint64_t mask = ~(uint64_t)0 & ~((uint64_t)1 << 6);   /* content token 6 = ##ter removed */
    char *str;
    size_t sl;
    assert_int_equal(attx_text_segments_mask(&s, &mask, 0, &str, &sl, &err), 0);
    assert_string_equal(str, "they should have called it gut [MASK]ball .");
    assert_int_equal(attx_encode_text(f->model, str, sl, &enc, &err), 0);
    assert_int_equal(enc.length, orig.length);
    assert_int_equal(enc.ids[7], attx_wordpiece_special_ids(wp).mask);
    assert_string_equal(attx_wordpiece_token(wp, enc.ids[8]), "ball");   /* not ##ball: ids differ */
    assert_int_not_equal(enc.ids[8], orig.ids[8]);
    free(str);
    attx_encoding_free(&enc);
    /* every content token removed: one [MASK] per token, whitespace collapsed */
    mask = 0;
    assert_int_equal(attx_text_segments_mask(&s, &mask, 0, &str, &sl, &err), 0);
    assert_string_equal(str, "[MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK]");
    free(str);
    /* the same from the ids (attx eval's path): the pieces written out glued */
    attx_text_segments from_ids;
    assert_int_equal(attx_text_segments_from_ids(f->model, orig.ids, orig.length, &from_ids, &err), 0);
    assert_string_equal(from_ids.text, "they should have called it gutterball .");
    mask = ~(uint64_t)0 & ~((uint64_t)1 << 6);
    assert_int_equal(attx_text_segments_mask(&from_ids, &mask, 0, &str, &sl, &err), 0);
    assert_string_equal(str, "they should have called it gut [MASK]ball .");
    free(str);
    attx_text_segments_free(&from_ids);
    attx_encoding_free(&orig);
    attx_text_segments_free(&s);
}

/* The partition explainer on an explicit tree: the balanced tree given explicitly gives the
 * same bits as the default; a malformed tree is refused. */
static double sq_game_value(int n, const uint64_t *m)
{
    double v = 0, w = 0;
    for (int i = 0; i < n; i++)
        if (attx_mask_has(m, i)) {
            v += (i + 1) * 0.5;
            w += i % 3 == 0;
        }
    return v + w * w;   /* interactions among players 0, 3, 6 */
}

static int sq_game_eval(void *user, int n, size_t count, const uint64_t *masks, double *values, attx_error *err)
{
    (void)user;
    (void)err;
    for (size_t k = 0; k < count; k++) values[k] = sq_game_value(n, masks + k * attx_mask_words(n));
    return 0;
}

static void test_partition_explicit_tree(void **state)
{
    (void)state;
    enum { N = 9 };
    attx_game g = {.n = N, .eval = sq_game_eval};
    int32_t tree[2 * (N - 1)];
    attx_partition_balanced_tree(N, tree);
    double a[N], b[N], c[N];
    attx_error err;
    attx_partition_options o = {.seed = 3, .max_evals = 40};
    assert_int_equal(attx_shapley_partition(&g, &o, a, NULL, &err), 0);
    o.tree = tree;
    assert_int_equal(attx_shapley_partition(&g, &o, b, NULL, &err), 0);
    assert_memory_equal(a, b, sizeof a);
    /* a chain tree ((((0 1) 2) 3) ...) fully expanded: efficiency, and different values */
    int32_t chain[2 * (N - 1)];
    chain[0] = 0;
    chain[1] = 1;
    for (int k = 1; k < N - 1; k++) {
        chain[2 * k] = N + k - 1;
        chain[2 * k + 1] = k + 1;
    }
    o.tree = chain;
    o.max_evals = 100000;
    assert_int_equal(attx_shapley_partition(&g, &o, c, NULL, &err), 0);
    uint64_t full = (1u << N) - 1, none = 0;
    double sum = 0;
    for (int i = 0; i < N; i++) sum += c[i];
    assert_true(fabs(sum - (sq_game_value(N, &full) - sq_game_value(N, &none))) < 1e-12);
    /* a node with a child id not below its own, and a child used twice */
    chain[2 * 3] = N + 3;
    assert_int_equal(attx_shapley_partition(&g, &o, c, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "tree"));
    chain[2 * 3] = 0;
    assert_int_equal(attx_shapley_partition(&g, &o, c, NULL, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_matches_shap),
        cmocka_unit_test(test_tree_rules),
        cmocka_unit_test(test_values_match_shap),
        cmocka_unit_test(test_masked_strings),
        cmocka_unit_test(test_partition_explicit_tree),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
