/* test_metrics.c — comprehensiveness, sufficiency and AOPC on hand-computed cases, the ranking
 * rule, and the prediction F1 on a hand-counted confusion table.
 *
 * The games are tables (n = 1, 3: every coalition's value written out, so a wrong coalition
 * gives a wrong number) or additive with distinct weights (n = 7). Every expected value below is
 * worked out in the comment next to it from research-notes §1.4:
 *   k_n = ceil(n k / 100), comp = sum_k [v(N) - v(N \ top_k)] / (|K|+1),
 *   suff = sum_k [v(N) - v(top_k)] / (|K|+1), K = {0,10,20,50} (P1) or {1,5,10,20,50} (ERASER). */
#include "testutil.h"

#include <math.h>

#include "attx_explain.h"

typedef struct table_game {
    const double *table;    /* [2^n] for n <= 16, else NULL */
    const double *add;      /* additive weights (with base) when table is NULL */
    double base;
    size_t evaluated, calls;
} table_game;

static int table_eval(void *user, int n, size_t count, const uint64_t *masks, double *values,
                      attx_error *err)
{
    (void)err;
    table_game *t = user;
    size_t words = attx_mask_words(n);
    t->calls++;
    for (size_t k = 0; k < count; k++) {
        const uint64_t *m = masks + k * words;
        if (t->table) {
            assert_true(n >= 64 || m[0] >> n == 0);
            values[k] = t->table[m[0]];
        } else {
            double v = t->base;
            for (int i = 0; i < n; i++)
                if (attx_mask_has(m, i)) v += t->add[i];
            values[k] = v;
        }
        t->evaluated++;
    }
    return 0;
}

static void assert_near(double got, double want, const char *what)
{
    if (!(fabs(got - want) <= 1e-12))
        fail_msg("%s: got %.17g want %.17g", what, got, want);
}

static attx_faithfulness run(int n, table_game *t, const double *scores, attx_faith_bins bins,
                             int by_abs)
{
    attx_game g = {.n = n, .eval = table_eval, .user = t};
    attx_faithfulness_options o = {.bins = bins, .rank_by_abs = by_abs};
    attx_faithfulness r;
    attx_error err;
    t->evaluated = t->calls = 0;
    if (attx_faithfulness_eval(&g, scores, &o, &r, &err) != 0) fail_msg("%s", err.msg);
    assert_true(t->calls == 1);   /* one batch */
    assert_true(r.evaluations == t->evaluated);
    return r;
}

/* n = 3, mask bits: player 0 = 1, player 1 = 2, player 2 = 4 */
static const double T3[8] = {
    0.10,   /* {}      */
    0.30,   /* {0}     */
    0.45,   /* {1}     */
    0.65,   /* {0,1}   */
    0.15,   /* {2}     */
    0.35,   /* {0,2}   */
    0.50,   /* {1,2}   */
    0.70,   /* {0,1,2} */
};

static void test_p1_n3(void **state)
{
    (void)state;
    table_game t = {.table = T3};
    /* scores (0.5, 0.9, 0.1): order 1, 0, 2. k_n = 0, ceil(0.3) = 1, ceil(0.6) = 1,
     * ceil(1.5) = 2: top = {}, {1}, {1}, {1,0}.
     * comp = [0 + (0.70-0.35) + (0.70-0.35) + (0.70-0.15)] / 5 = 1.25 / 5 = 0.25
     * suff = [(0.70-0.10) + (0.70-0.45) + (0.70-0.45) + (0.70-0.65)] / 5 = 1.15 / 5 = 0.23
     * distinct coalitions: N, {}, {0,2}, {1}, {2}, {0,1} = 6 */
    const double s[3] = {0.5, 0.9, 0.1};
    attx_faithfulness r = run(3, &t, s, ATTX_FAITH_P1, 0);
    assert_near(r.comprehensiveness, 0.25, "comp");
    assert_near(r.sufficiency, 0.23, "suff");
    assert_near(r.v_full, 0.70, "v(N)");
    assert_int_equal(r.bins, 4);
    const int k[4] = {0, 1, 1, 2}, pct[4] = {0, 10, 20, 50};
    for (int b = 0; b < 4; b++) {
        assert_int_equal(r.k[b], k[b]);
        assert_int_equal(r.percent[b], pct[b]);
    }
    assert_near(r.v_kept[0], 0.10, "v(empty)");
    assert_near(r.v_removed[0], 0.70, "comp at k = 0");
    assert_int_equal((int)r.evaluations, 6);

    /* ERASER: k_n = ceil(0.03), ceil(0.15), ceil(0.3), ceil(0.6) = 1 and ceil(1.5) = 2.
     * comp = [4 (0.70-0.35) + (0.70-0.15)] / 6 = 1.95 / 6
     * suff = [4 (0.70-0.45) + (0.70-0.65)] / 6 = 1.05 / 6; coalitions N, {0,2}, {1}, {2}, {0,1} */
    r = run(3, &t, s, ATTX_FAITH_ERASER, 0);
    assert_near(r.comprehensiveness, 1.95 / 6, "AOPC comp");
    assert_near(r.sufficiency, 1.05 / 6, "AOPC suff");
    assert_int_equal(r.bins, 5);
    assert_int_equal((int)r.evaluations, 5);
}

static void test_abs_ranking(void **state)
{
    (void)state;
    table_game t = {.table = T3};
    const double s[3] = {0.5, -0.9, 0.1};
    /* plain: order 0, 2, 1; top = {}, {0}, {0}, {0,2}.
     * comp = [0 + (0.70-0.50) + (0.70-0.50) + (0.70-0.45)] / 5 = 0.65 / 5 = 0.13
     * suff = [0.60 + (0.70-0.30) + (0.70-0.30) + (0.70-0.35)] / 5 = 1.75 / 5 = 0.35 */
    attx_faithfulness r = run(3, &t, s, ATTX_FAITH_P1, 0);
    assert_near(r.comprehensiveness, 0.13, "comp plain");
    assert_near(r.sufficiency, 0.35, "suff plain");
    /* |score|: order 1, 0, 2, as in test_p1_n3 */
    r = run(3, &t, s, ATTX_FAITH_P1, 1);
    assert_near(r.comprehensiveness, 0.25, "comp abs");
    assert_near(r.sufficiency, 0.23, "suff abs");
}

static void test_p1_n1(void **state)
{
    (void)state;
    const double T1[2] = {0.2, 0.9};
    table_game t = {.table = T1};
    /* k_n = 0, ceil(0.1) = 1, ceil(0.2) = 1, ceil(0.5) = 1: one player is 10% of n = 1.
     * comp = [0 + 3 (0.9 - 0.2)] / 5 = 0.42, suff = [(0.9 - 0.2) + 3 * 0] / 5 = 0.14 */
    const double s[1] = {-3.0};
    attx_faithfulness r = run(1, &t, s, ATTX_FAITH_P1, 0);
    assert_near(r.comprehensiveness, 0.42, "comp");
    assert_near(r.sufficiency, 0.14, "suff");
    assert_int_equal((int)r.evaluations, 2);
    /* ERASER: every bin removes the one player: comp = 5 * 0.7 / 6, suff = 0 */
    r = run(1, &t, s, ATTX_FAITH_ERASER, 0);
    assert_near(r.comprehensiveness, 3.5 / 6, "AOPC comp");
    assert_near(r.sufficiency, 0, "AOPC suff");
}

/* n = 7, ties: the lower index ranks first among equal scores. */
static const double A7[7] = {0.10, 0.20, 0.05, 0.01, 0.15, 0.03, 0.08};   /* sum 0.62 */

static void test_p1_n7_ties(void **state)
{
    (void)state;
    table_game t = {.add = A7, .base = 0.05};   /* v(N) = 0.67, v({}) = 0.05 */
    /* scores: order 1, 4 (0.7), 0, 2, 6 (0.3), 3 (0), 5 (-0.2).
     * k_n = 0, ceil(0.7) = 1, ceil(1.4) = 2, ceil(3.5) = 4: top = {}, {1}, {1,4}, {1,4,0,2}
     * comp = [0 + a1 + (a1+a4) + (a1+a4+a0+a2)] / 5 = (0.20 + 0.35 + 0.50) / 5 = 0.21
     * suff = [0.62 + (0.67-0.25) + (0.67-0.40) + (0.67-0.55)] / 5 = 1.43 / 5 = 0.286 */
    const double s[7] = {0.3, 0.7, 0.3, 0.0, 0.7, -0.2, 0.3};
    attx_faithfulness r = run(7, &t, s, ATTX_FAITH_P1, 0);
    assert_near(r.comprehensiveness, 0.21, "comp");
    assert_near(r.sufficiency, 0.286, "suff");
    int order[7];
    attx_error err;
    assert_int_equal(attx_rank_players(7, s, 0, order, &err), 0);
    const int want[7] = {1, 4, 0, 2, 6, 3, 5};
    for (int i = 0; i < 7; i++) assert_int_equal(order[i], want[i]);

    /* ERASER: k_n = ceil(0.07), ceil(0.35), ceil(0.7) = 1, ceil(1.4) = 2, ceil(3.5) = 4
     * comp = (3 * 0.20 + 0.35 + 0.50) / 6 = 1.45 / 6, suff = (3 * 0.42 + 0.27 + 0.12) / 6 */
    r = run(7, &t, s, ATTX_FAITH_ERASER, 0);
    assert_near(r.comprehensiveness, 1.45 / 6, "AOPC comp");
    assert_near(r.sufficiency, 1.65 / 6, "AOPC suff");

    /* abs with a negative top score: |s| order 1, 4, 0, 2, 6, 5, 3 (same top 4 as above);
     * plain order 4, 0, 2, 6, 3, 5, 1: top = {}, {4}, {4,0}, {4,0,2,6}
     * comp = (0.15 + 0.25 + 0.38) / 5 = 0.156
     * suff = [0.62 + (0.67-0.20) + (0.67-0.30) + (0.67-0.43)] / 5 = 1.70 / 5 = 0.34 */
    const double sn[7] = {0.3, -0.7, 0.3, 0.0, 0.7, -0.2, 0.3};
    r = run(7, &t, sn, ATTX_FAITH_P1, 1);
    assert_near(r.comprehensiveness, 0.21, "comp abs");
    assert_near(r.sufficiency, 0.286, "suff abs");
    r = run(7, &t, sn, ATTX_FAITH_P1, 0);
    assert_near(r.comprehensiveness, 0.156, "comp plain");
    assert_near(r.sufficiency, 0.34, "suff plain");
    /* -0 and +0 tie */
    const double z[3] = {-0.0, 0.0, -0.0};
    assert_int_equal(attx_rank_players(3, z, 0, order, &err), 0);
    for (int i = 0; i < 3; i++) assert_int_equal(order[i], i);
}

/* ceil in integers where a float product would round the wrong way, bins that are exact
 * multiples, custom bins, more than 64 players, and the 20% sufficiency mask. */
static void test_bins_and_masks(void **state)
{
    (void)state;
    attx_error err;
    double s[130];
    for (int i = 0; i < 130; i++) s[i] = (double)((i * 37) % 130);   /* a permutation of 0..129 */
    uint64_t mask[3];
    int k;
    const struct {
        int n, percent, k;
    } cases[] = {{10, 10, 1}, {10, 20, 2}, {11, 10, 2}, {100, 7, 7}, {3, 50, 2}, {7, 1, 1},
                 {130, 50, 65}, {130, 0, 0}, {130, 100, 130}, {1, 20, 1}, {0, 50, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int n = cases[c].n;
        if (attx_top_players_mask(n, s, NULL, cases[c].percent, mask, &k, &err) != 0)
            fail_msg("%s", err.msg);
        assert_int_equal(k, cases[c].k);
        /* the mask holds the k largest scores */
        int count = 0;
        for (int i = 0; i < n; i++) {
            if (!attx_mask_has(mask, i)) continue;
            count++;
            int better = 0;
            for (int j = 0; j < n; j++) better += s[j] > s[i];
            assert_true(better < k);
        }
        assert_int_equal(count, k);
    }
    assert_int_equal(attx_top_players_mask(10, s, NULL, 101, mask, &k, &err), -1);

    /* custom bins {0, 100}: comp = [0 + v(N) - v({})] / 3, suff = [v(N) - v({}) + 0] / 3 */
    const double A[130] = {[0] = 0.25, [64] = 0.5, [129] = 0.125};
    table_game t = {.add = A, .base = 0.1};
    attx_game g = {.n = 130, .eval = table_eval, .user = &t};
    const int pct[2] = {0, 100};
    attx_faithfulness_options o = {.count = 2, .percents = pct};
    attx_faithfulness r;
    if (attx_faithfulness_eval(&g, s, &o, &r, &err) != 0) fail_msg("%s", err.msg);
    assert_near(r.comprehensiveness, 0.875 / 3, "custom comp");
    assert_near(r.sufficiency, 0.875 / 3, "custom suff");
    assert_int_equal((int)r.evaluations, 2);

    /* n = 130 with P1: top_k of the permutation scores; players 0, 64, 129 carry the value.
     * s[0] = 0, s[64] = 64*37 % 130 = 28, s[129] = 129*37 % 130 = 93: ranks 129, 101, 36
     * (0-based, by descending score). k_n = 0, 13, 26, 65: only player 129 (rank 36) is in
     * the top 65. comp = [0 + 0 + 0 + 0.125] / 5, suff = [0.875 + 3 * 0.875 - 0.125] / 5 */
    if (attx_faithfulness_eval(&g, s, NULL, &r, &err) != 0) fail_msg("%s", err.msg);
    assert_near(r.comprehensiveness, 0.125 / 5, "n=130 comp");
    assert_near(r.sufficiency, (0.875 * 4 - 0.125) / 5, "n=130 suff");

    /* errors */
    double bad[3] = {0.1, NAN, 0.2};
    table_game t3 = {.table = T3};
    attx_game g3 = {.n = 3, .eval = table_eval, .user = &t3};
    assert_int_equal(attx_faithfulness_eval(&g3, bad, NULL, &r, &err), -1);
    assert_non_null(strstr(err.msg, "player 1"));
    const int badpct[1] = {120};
    o = (attx_faithfulness_options){.count = 1, .percents = badpct};
    assert_int_equal(attx_faithfulness_eval(&g3, s, &o, &r, &err), -1);
    o = (attx_faithfulness_options){.bins = (attx_faith_bins)7};
    assert_int_equal(attx_faithfulness_eval(&g3, s, &o, &r, &err), -1);
}

/* attx_torch_topk_set against torch.topk itself (tools/reference/make_topk_fixture.py):
 * P1's layout with every player tied, and vectors of a few repeated values, on both of
 * torch's paths (partial_sort when k * 64 <= n, nth_element otherwise). */
static void test_torch_topk(void **state)
{
    (void)state;
    size_t len;
    char *text = tu_read("test/fixtures/topk/torch_topk.json", &len);
    attx_json_doc *doc;
    attx_error err;
    if (attx_json_parse(text, len, NULL, &doc, &err) != 0) fail_msg("%s", err.msg);
    const attx_json_value *cases = attx_json_get(attx_json_root(doc), "cases");
    assert_non_null(cases);
    size_t n_cases = attx_json_len(cases), partial = 0;
    assert_true(n_cases > 500);
    for (size_t c = 0; c < n_cases; c++) {
        const attx_json_value *item = attx_json_item(cases, c);
        const attx_json_value *vals = attx_json_get(item, "values"), *sel = attx_json_get(item, "selected");
        int64_t k;
        assert_int_equal(attx_json_i64(attx_json_get(item, "k"), &k), 0);
        int n = (int)attx_json_len(vals);
        float *v = malloc((size_t)n * sizeof *v);
        int *got = malloc((size_t)k * sizeof *got), *want = calloc((size_t)n, sizeof *want);
        for (int i = 0; i < n; i++) {
            double x;
            const attx_json_value *e = attx_json_item(vals, (size_t)i);
            v[i] = attx_json_double(e, &x) == 0 ? (float)x : -INFINITY;   /* "-inf" */
        }
        for (size_t i = 0; i < attx_json_len(sel); i++) {
            int64_t idx;
            assert_int_equal(attx_json_i64(attx_json_item(sel, i), &idx), 0);
            want[idx] = 1;
        }
        if (attx_torch_topk_set(v, n, (int)k, got, &err) != 0) fail_msg("%s", err.msg);
        for (int t = 0; t < k; t++)
            if (!want[got[t]])
                fail_msg("case %zu (n %d, k %lld): attx picks %d, which torch.topk does not", c, n, (long long)k,
                         got[t]);
        partial += k * 64 <= n;
        free(v), free(got), free(want);
    }
    assert_true(partial > 20);   /* both paths were exercised */
    print_message("torch.topk's tie choices: %zu cases equal (%zu on the partial_sort path)\n", n_cases, partial);
    attx_json_free(doc);
    free(text);
    float one[2] = {1, NAN};
    int out[2];
    assert_int_equal(attx_torch_topk_set(one, 2, 3, out, &err), -1);
    assert_int_equal(attx_torch_topk_set(one, 2, 1, out, &err), -1);   /* NaN */
}

/* The tie rules on an additive game with every player tied (P1's "Att"): FIRST takes the lowest
 * indices, P1 the players torch.topk takes, AVERAGE the expectation over the tied choices:
 * for an additive game E[v(top)] = base + (k / n) sum(w), exactly when C(n, k) <= tie_samples,
 * and near it when the choices are sampled. */
static void test_tie_rules(void **state)
{
    (void)state;
    const double w[7] = {0.10, 0.20, 0.05, 0.01, 0.15, 0.03, 0.08};   /* sum 0.62 */
    table_game t = {.add = w, .base = 0.05};
    attx_game g = {.n = 7, .eval = table_eval, .user = &t};
    const double tied[7] = {0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25};
    attx_faithfulness r;
    attx_error err;
    /* P1 bins on n = 7: k = 0, 1, 2, 4; bins 1, 2 and 3 are tied (0 < k < 7) */
    attx_faithfulness_options o = {.bins = ATTX_FAITH_P1};
    if (attx_faithfulness_eval(&g, tied, &o, &r, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(r.tied_bins, 3);
    /* FIRST: {0}, {0,1}, {0,1,2,3} */
    assert_near(r.v_kept[1], 0.05 + 0.10, "first k=1");
    assert_near(r.v_kept[3], 0.05 + 0.36, "first k=4");
    /* P1, padded to 9: torch.topk on [-inf, 1 x 7, -inf] picks positions {6}, {5,6},
     * {1,5,6,7} (torch 1.13, CPU), i.e. players {5}, {4,5}, {0,4,5,6} */
    o.ties = ATTX_TIES_P1;
    o.padded_length = 9;
    if (attx_faithfulness_eval(&g, tied, &o, &r, &err) != 0) fail_msg("%s", err.msg);
    assert_near(r.v_kept[1], 0.05 + 0.03, "p1 k=1");
    assert_near(r.v_kept[2], 0.05 + 0.18, "p1 k=2");
    assert_near(r.v_kept[3], 0.05 + 0.10 + 0.15 + 0.03 + 0.08, "p1 k=4");
    assert_near(r.v_removed[3], 0.05 + 0.62 - 0.36, "p1 k=4 removed");
    uint64_t mask[1];
    int k;
    if (attx_top_players_mask(7, tied, &o, 20, mask, &k, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(k, 2);
    assert_true(mask[0] == ((1u << 4) | (1u << 5)));
    /* AVERAGE, exact: C(7,1) = 7, C(7,2) = 21, C(7,4) = 35 choices, all within 64 */
    o.ties = ATTX_TIES_AVERAGE;
    if (attx_faithfulness_eval(&g, tied, &o, &r, &err) != 0) fail_msg("%s", err.msg);
    const int kk[4] = {0, 1, 2, 4};
    for (int b = 0; b < 4; b++) {
        double kept = 0.05 + kk[b] / 7.0 * 0.62;
        if (fabs(r.v_kept[b] - kept) > 1e-12 || fabs(r.v_removed[b] - (0.67 - kept + 0.05)) > 1e-12)
            fail_msg("average, bin %d: kept %.17g (want %.17g), removed %.17g", b, r.v_kept[b], kept,
                     r.v_removed[b]);
    }
    /* AVERAGE, sampled: 8 choices of C(7,4) = 35 draw a random half; the mean is near the
     * expectation (each draw's v lies within 0.05 + [0.09, 0.53]) and changes with the seed */
    o.tie_samples = 8;
    if (attx_faithfulness_eval(&g, tied, &o, &r, &err) != 0) fail_msg("%s", err.msg);
    double first = r.v_kept[3];
    assert_true(fabs(first - (0.05 + 4 / 7.0 * 0.62)) < 0.12);
    assert_near(r.v_kept[1], 0.05 + 0.62 / 7, "k=1 is still exact: 7 choices <= 8");
    o.seed = 99;
    if (attx_faithfulness_eval(&g, tied, &o, &r, &err) != 0) fail_msg("%s", err.msg);
    assert_true(r.v_kept[3] != first);
    /* partial ties: 0.7 above a tied pair at 0.3, k = 2 takes one of the pair */
    const double part[7] = {0.3, 0.7, 0.3, 0.0, 0.1, -0.2, 0.2};
    o = (attx_faithfulness_options){.bins = ATTX_FAITH_P1, .ties = ATTX_TIES_AVERAGE};
    if (attx_faithfulness_eval(&g, part, &o, &r, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(r.tied_bins, 1);                               /* k = 2 only */
    assert_near(r.v_kept[2], 0.05 + 0.20 + (0.10 + 0.05) / 2, "partial tie k=2");
    assert_near(r.v_kept[3], 0.05 + 0.20 + 0.10 + 0.05 + 0.08, "k=4: no tie");
    /* scores equal in float32 but not in double are tied */
    const double near[7] = {0.25, 0.25 + 1e-12, 0.25, 0.25, 0.25, 0.25, 0.25};
    o.ties = ATTX_TIES_FIRST;
    if (attx_faithfulness_eval(&g, near, &o, &r, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(r.tied_bins, 3);
    assert_near(r.v_kept[1], 0.05 + 0.20, "first: the double score decides");
    o.ties = (attx_tie_rule)9;
    assert_int_equal(attx_faithfulness_eval(&g, near, &o, &r, &err), -1);
}

static void test_f1(void **state)
{
    (void)state;
    attx_error err;
    /* label 0: gold 4, predicted 4, tp 3 -> F1 6/8; label 1: gold 2, predicted 2, tp 1 -> 2/4;
     * label 2: gold 4, predicted 4, tp 3 -> 6/8.
     * macro = (0.75 + 0.5 + 0.75) / 3, weighted = (0.75*4 + 0.5*2 + 0.75*4) / 10 = 0.7 */
    const int gold[10] = {0, 0, 0, 1, 1, 2, 2, 2, 2, 0};
    const int pred[10] = {0, 1, 0, 1, 2, 2, 2, 0, 2, 0};
    double macro, weighted;
    assert_int_equal(attx_f1_scores(10, gold, pred, &macro, &weighted, &err), 0);
    assert_near(macro, 2.0 / 3, "macro");
    assert_near(weighted, 0.7, "weighted");
    /* a label only predicted (2) counts in macro with F1 0 and weight 0:
     * label 0: gold 2, pred 1, tp 1 -> 2/3; label 1: 1, 1, 1 -> 1; label 2: 0, 1, 0 -> 0
     * macro = 5/9, weighted = (2/3 * 2 + 1) / 3 = 7/9 */
    const int g2[3] = {0, 0, 1}, p2[3] = {0, 2, 1};
    assert_int_equal(attx_f1_scores(3, g2, p2, &macro, &weighted, &err), 0);
    assert_near(macro, 5.0 / 9, "macro 2");
    assert_near(weighted, 7.0 / 9, "weighted 2");
    /* labels absent from both are not counted (0 and 5 only) */
    const int g3[2] = {0, 5};
    assert_int_equal(attx_f1_scores(2, g3, g3, &macro, &weighted, &err), 0);
    assert_near(macro, 1, "macro 3");
    assert_near(weighted, 1, "weighted 3");
    const int neg[2] = {0, -1};
    assert_int_equal(attx_f1_scores(2, g3, neg, &macro, &weighted, &err), -1);
    assert_non_null(strstr(err.msg, "example 1"));
    assert_int_equal(attx_f1_scores(0, g3, g3, &macro, &weighted, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p1_n3),
        cmocka_unit_test(test_abs_ranking),
        cmocka_unit_test(test_p1_n1),
        cmocka_unit_test(test_p1_n7_ties),
        cmocka_unit_test(test_bins_and_masks),
        cmocka_unit_test(test_torch_topk),
        cmocka_unit_test(test_tie_rules),
        cmocka_unit_test(test_f1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
