/* test_tcav.c — the T-TCAV building blocks against independent references: logistic
 * regression against sklearn (1e-4 on coefficients), the t distribution and t-tests against
 * scipy (1e-6), the per-example scores against the formulas worked by hand, P1's relative
 * negatives, the streamed gradients / block outputs / [CLS] attention against PyTorch's
 * fixture tensors, and the whole protocol against a recomputation from those pieces. */
#include "testutil.h"

#include <math.h>

#include "attx_explain.h"
#include "test/fixtures/tcav/reference.h"

/* ---- logistic regression vs sklearn ---- */

static double fit_and_compare(const char *name, int n, int d, double C, const float *x, const unsigned char *y,
                              const double *want_coef, double want_intercept)
{
    const float **rows = malloc((size_t)n * sizeof *rows);
    uint8_t *labels = malloc((size_t)n);
    for (int i = 0; i < n; i++) {
        rows[i] = x + (size_t)i * (size_t)d;
        labels[i] = y[i];
    }
    double coef[8], b;
    attx_logreg_options o = {.C = C};
    attx_logreg_info info;
    attx_error err;
    if (attx_logreg_fit((size_t)n, d, rows, labels, &o, coef, &b, &info, &err) != 0) fail_msg("%s", err.msg);
    assert_true(info.converged);
    double worst = fabs(b - want_intercept);
    for (int j = 0; j < d; j++) worst = fmax(worst, fabs(coef[j] - want_coef[j]));
    print_message("%s: %d iterations, max |coef - sklearn| %.2e (gradient %.1e)\n", name, info.iterations, worst,
                  info.grad_max);
    assert_true(worst < 1e-4);
    free(rows);
    free(labels);
    return worst;
}

static void test_logreg_sklearn(void **state)
{
    (void)state;
    fit_and_compare("lr1", LR1_N, LR1_D, lr1_C, lr1_x, lr1_y, lr1_coef, lr1_intercept);
    fit_and_compare("lr2", LR2_N, LR2_D, lr2_C, lr2_x, lr2_y, lr2_coef, lr2_intercept);
    fit_and_compare("lr3", LR3_N, LR3_D, lr3_C, lr3_x, lr3_y, lr3_coef, lr3_intercept);

    /* the same problem as token rows: positive rows grouped into examples of 1-3 tokens in one
     * activation set, negatives in another; the CAV is sklearn's coef / ||coef|| */
    attx_tcav_acts sets[2];
    int64_t starts[2][LR1_N + 1];
    float *h[2];
    for (int s = 0; s < 2; s++) {
        h[s] = malloc(sizeof lr1_x);
        int rows = 0, ex = 0;
        starts[s][0] = 0;
        for (int i = 0; i < LR1_N; i++) {
            if (lr1_y[i] != (s == 0)) continue;
            memcpy(h[s] + (size_t)rows * LR1_D, lr1_x + (size_t)i * LR1_D, LR1_D * sizeof(float));
            rows++;
            if (rows % 3 == 0 || rows % 5 == 1) starts[s][++ex] = rows;   /* uneven example lengths */
        }
        if (starts[s][ex] != rows) starts[s][++ex] = rows;
        sets[s] = (attx_tcav_acts){.count = ex, .dim = LR1_D, .n_layers = 1, .start = starts[s], .h = &h[s]};
    }
    attx_tcav_ref pos[LR1_N], neg[LR1_N];
    for (int i = 0; i < sets[0].count; i++) pos[i] = (attx_tcav_ref){0, i};
    for (int i = 0; i < sets[1].count; i++) neg[i] = (attx_tcav_ref){1, i};
    double cav[LR1_D], norm = 0, worst = 0;
    attx_error err;
    attx_logreg_options o = {.C = lr1_C};
    if (attx_cav_train(sets, 0, pos, sets[0].count, neg, sets[1].count, &o, cav, NULL, &err) != 0) fail_msg("%s", err.msg);
    for (int j = 0; j < LR1_D; j++) norm += lr1_coef[j] * lr1_coef[j];
    for (int j = 0; j < LR1_D; j++) worst = fmax(worst, fabs(cav[j] - lr1_coef[j] / sqrt(norm)));
    print_message("CAV from token rows: max |cav - coef/||coef||| %.2e\n", worst);
    assert_true(worst < 1e-4);
    /* a warm start at sklearn's optimum stays there */
    const float *rows1[LR1_N];
    uint8_t y1[LR1_N];
    for (int i = 0; i < LR1_N; i++) {
        rows1[i] = lr1_x + (size_t)i * LR1_D;
        y1[i] = lr1_y[i];
    }
    attx_logreg_options warm = {.C = lr1_C, .init_coef = lr1_coef, .init_intercept = lr1_intercept};
    attx_logreg_info wi;
    double wc[LR1_D], wb;
    if (attx_logreg_fit(LR1_N, LR1_D, rows1, y1, &warm, wc, &wb, &wi, &err) != 0) fail_msg("%s", err.msg);
    print_message("warm start at sklearn's optimum: %d iterations\n", wi.iterations);
    assert_true(wi.iterations <= 8 && fabs(wb - lr1_intercept) < 1e-5 && fabs(wi.intercept - wb) == 0);
    for (int j = 0; j < LR1_D; j++) assert_true(fabs(wc[j] - lr1_coef[j]) < 1e-4);
    /* errors */
    assert_int_equal(attx_cav_train(sets, 0, pos, 0, neg, 1, &o, cav, NULL, &err), -1);
    assert_contains(err.msg, "both sides");
    uint8_t bad = 2;
    const float *row = lr1_x;
    assert_int_equal(attx_logreg_fit(1, 2, &row, &bad, NULL, cav, NULL, NULL, &err), -1);
    assert_contains(err.msg, "not 0 or 1");
    free(h[0]);
    free(h[1]);
}

/* ---- statistics vs scipy ---- */

static void test_t_distribution(void **state)
{
    (void)state;
    double worst = 0;
    for (size_t i = 0; i < sizeof tcdf_t / sizeof tcdf_t[0]; i++) {
        double got = attx_student_t_cdf(tcdf_t[i], tcdf_df[i]);
        double e = fabs(got - tcdf_p[i]);
        if (e > 1e-6) fail_msg("t cdf(%g, df %g) = %.17g, scipy %.17g", tcdf_t[i], tcdf_df[i], got, tcdf_p[i]);
        worst = fmax(worst, e);
    }
    print_message("t cdf: max |err| vs scipy %.2e\n", worst);
    /* closed forms: I_x(1, 1) = x, I_x(a, 1) = x^a, t with 1 df is Cauchy */
    assert_true(fabs(attx_betainc(1, 1, 0.3) - 0.3) < 1e-14);
    assert_true(fabs(attx_betainc(2.5, 1, 0.4) - pow(0.4, 2.5)) < 1e-14);
    assert_true(fabs(attx_student_t_cdf(1.7, 1) - (0.5 + atan(1.7) / M_PI)) < 1e-14);
    assert_true(isnan(attx_student_t_cdf(1, 0)));
    assert_true(isnan(attx_betainc(1, 1, 1.5)));
}

static void test_ttests(void **state)
{
    (void)state;
    double worst = 0;
    struct { const double *x; int n; double t, p; } one[] = {
        {one1_x, 50, one1_t, one1_p}, {one2_x, 50, one2_t, one2_p}, {one3_x, 3, one3_t, one3_p}};
    for (int k = 0; k < 3; k++) {
        attx_ttest r = attx_ttest_1samp(one[k].n, one[k].x, 0.5);
        assert_true(fabs(r.t - one[k].t) < 1e-9);
        assert_true(fabs(r.p - one[k].p) < 1e-6);
        assert_true(fabs(r.p - one[k].p) <= 1e-9 * one[k].p + 1e-15);   /* relative, for tiny p */
        worst = fmax(worst, fabs(r.p - one[k].p));
    }
    attx_ttest st = attx_ttest_ind(12, two_a, 9, two_b, 0), we = attx_ttest_ind(12, two_a, 9, two_b, 1);
    assert_true(fabs(st.t - two_student_t) < 1e-9 && fabs(st.p - two_student_p) < 1e-6);
    assert_true(fabs(we.t - two_welch_t) < 1e-9 && fabs(we.p - two_welch_p) < 1e-6);
    assert_true(fabs(st.df - 19) < 1e-12);
    worst = fmax(worst, fmax(fabs(st.p - two_student_p), fabs(we.p - two_welch_p)));
    print_message("t-tests: max |p - scipy| %.2e\n", worst);
    /* P1's rule: no variation gives NaN; too few values too */
    double flat[5] = {0.7, 0.7, 0.7, 0.7, 0.7};
    assert_true(isnan(attx_ttest_1samp(5, flat, 0.5).p));
    assert_true(isnan(attx_ttest_1samp(1, one1_x, 0.5).p));
    assert_true(isnan(attx_ttest_ind(5, flat, 5, flat, 0).p));
    assert_true(fabs(attx_bonferroni(0.01, 12) - 0.12) < 1e-15);
    assert_true(attx_bonferroni(0.2, 12) == 1);
    assert_true(isnan(attx_bonferroni(NAN, 3)));
}

/* ---- per-example scores, worked by hand ---- */

static void test_example_scores(void **state)
{
    (void)state;
    /* T = 3: d = (1, -2, 0.5), a = (0.5, 0.3, 0.2): ||a|| = sqrt(0.38), ||d|| = sqrt(5.25) */
    double d[3] = {1, -2, 0.5}, s[3];
    float a[3] = {0.5f, 0.3f, 0.2f};
    attx_tcav_example_score r = attx_tcav_example(3, d, a, s);
    double af[3] = {0.5f, 0.3f, 0.2f};   /* a as the floats hold it */
    double scale = sqrt(af[0] * af[0] + af[1] * af[1] + af[2] * af[2]) / sqrt(5.25) + 1e-8;
    for (int t = 0; t < 3; t++) assert_true(fabs(s[t] - af[t] * d[t] * scale) < 1e-15);
    assert_true(fabs(r.ttcav - (af[0] * 1 - af[1] * 2 + af[2] * 0.5) * scale / 3) < 1e-15);
    assert_true(r.ttcav < 0);
    assert_true(fabs(r.tcav - (-0.5)) < 1e-15 && fabs(r.ablation - (-0.5 / 3)) < 1e-15);
    /* the magnitude before P1's rescaling: mean_t a_t d_t */
    assert_true(fabs(r.ttcav_raw - (af[0] * 1 - af[1] * 2 + af[2] * 0.5) / 3) < 1e-15);

    /* the [CLS] token counts: a = (0.6, 0.2, 0.2), d = (1, -1, -1): with t = 0 S > 0, without
     * it S would be < 0; the 1e-8 is added to the ratio ||a|| / ||d|| */
    double d2[3] = {1, -1, -1};
    float a2[3] = {0.6f, 0.2f, 0.2f};
    r = attx_tcav_example(3, d2, a2, s);
    double a20 = 0.6f, a21 = 0.2f;
    double scale2 = sqrt(a20 * a20 + 2 * a21 * a21) / sqrt(3.0) + 1e-8;
    assert_true(r.ttcav > 0);
    assert_true(fabs(r.ttcav - (a20 - 2 * a21) * scale2 / 3) < 1e-15);
    assert_true(r.tcav < 0);                          /* classic TCAV disagrees here */

    /* the epsilon alone when a = 0: d~ = d * 1e-8, s = 0 */
    float a0[2] = {0, 0};
    double d3[2] = {2, 1};
    r = attx_tcav_example(2, d3, a0, s);
    assert_true(r.ttcav == 0 && s[0] == 0);
    /* the epsilon matters when ||a|| << ||d||: ratio 1e-9 + 1e-8 */
    float a4[1] = {1e-9f};
    double d4[1] = {1.0};
    r = attx_tcav_example(1, d4, a4, s);
    double a4d = 1e-9f;
    assert_true(fabs(r.ttcav - a4d * (a4d / 1.0 + 1e-8)) < 1e-30);
    /* d = 0: S = 0, not NaN */
    double dz[2] = {0, 0};
    r = attx_tcav_example(2, dz, a2, s);
    assert_true(r.ttcav == 0 && r.tcav == 0 && !isnan(s[1]));

    /* directional derivatives */
    float g[6] = {1, 2, 3, -1, 0, 0.5f};
    double v[3] = {0.5, -0.25, 1}, dd[2];
    attx_tcav_directional(2, 3, g, v, dd);
    assert_true(fabs(dd[0] - (0.5 - 0.5 + 3)) < 1e-15 && fabs(dd[1] - (-0.5 + 0.5)) < 1e-15);
}

/* ---- relative negatives ---- */

static void test_relative_negatives(void **state)
{
    (void)state;
    int sizes[3] = {7, 5, 9};
    attx_tcav_ref a[9], b[9];
    for (int c = 0; c < 3; c++) {
        int n = attx_tcav_relative_negatives(3, sizes, c, 4, a);
        int pool = 21 - sizes[c];
        assert_int_equal(n, sizes[c] < pool ? sizes[c] : pool);
        for (int i = 0; i < n; i++) {
            assert_true(a[i].set != c && a[i].set >= 0 && a[i].set < 3);
            assert_true(a[i].example >= 0 && a[i].example < sizes[a[i].set]);
            for (int k = 0; k < i; k++) assert_false(a[k].set == a[i].set && a[k].example == a[i].example);
        }
        assert_int_equal(attx_tcav_relative_negatives(3, sizes, c, 4, b), n);   /* same seed, same draw */
        assert_memory_equal(a, b, (size_t)n * sizeof *a);
    }
    /* different seeds give different draws (at least one of ten differs from seed 0) */
    attx_tcav_relative_negatives(3, sizes, 0, 0, a);
    int differ = 0;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        attx_tcav_relative_negatives(3, sizes, 0, seed, b);
        differ += memcmp(a, b, 7 * sizeof *a) != 0;
    }
    assert_true(differ >= 9);
    /* every pool example can be drawn: the union over 200 seeds covers the pool */
    int seen[3][9] = {{0}};
    for (uint64_t seed = 0; seed < 200; seed++) {
        int n = attx_tcav_relative_negatives(3, sizes, 1, seed, a);
        for (int i = 0; i < n; i++) seen[a[i].set][a[i].example] = 1;
    }
    for (int s = 0; s < 3; s += 2)
        for (int e = 0; e < sizes[s]; e++) assert_true(seen[s][e]);
}

/* ---- gradients, block outputs and [CLS] attention vs the PyTorch fixture ---- */

typedef struct grad_check {
    const attx_tensor_file *ref;
    int b, T_ref, D, H;
    double e_h, e_g, e_a;
    int views;
} grad_check;

static const float *ref_f32(const attx_tensor_file *f, const char *name)
{
    const attx_stored_tensor *t = attx_tensor_file_find(f, name);
    if (!t) fail_msg("no %s", name);
    assert_int_equal(t->dtype, ATTX_F32);
    return (const float *)t->data;
}

static int check_view(void *user, const attx_tcav_view *v, attx_error *err)
{
    (void)err;
    grad_check *c = user;
    char name[64];
    size_t off = (size_t)c->b * (size_t)c->T_ref * (size_t)c->D;
    snprintf(name, sizeof name, "hidden.%d", v->layer + 1);
    const float *h = ref_f32(c->ref, name) + off;
    snprintf(name, sizeof name, "grad_hidden.%d", v->layer + 1);
    const float *g = ref_f32(c->ref, name) + off;
    snprintf(name, sizeof name, "attn.%d", v->layer);
    const float *A = ref_f32(c->ref, name);
    for (int t = 0; t < v->T; t++) {
        for (int k = 0; k < v->D; k++) {
            c->e_h = fmax(c->e_h, fabs(v->h[t * v->D + k] - h[t * c->D + k]));
            c->e_g = fmax(c->e_g, fabs(v->g[t * v->D + k] - g[t * c->D + k]));
        }
        double a = 0;
        for (int hh = 0; hh < c->H; hh++) a += A[(((size_t)c->b * c->H + hh) * c->T_ref) * c->T_ref + t];
        c->e_a = fmax(c->e_a, fabs(v->a[t] - a / c->H));
    }
    c->views++;
    return 0;
}

/* null halves: two disjoint sides of min(smallest, pool / 2) examples from the whole pool, in
 * pool order, the same for the same seed, other draws for other seeds */
static void test_null_halves(void **state)
{
    (void)state;
    int sizes[3] = {4, 6, 5};
    attx_tcav_ref a[4], b[4], a2[4], b2[4];
    int differs = 0;
    for (uint64_t seed = 0; seed < 20; seed++) {
        int m = attx_tcav_null_halves(3, sizes, seed, a, b);
        assert_int_equal(m, 4);
        int used[3][6] = {{0}};
        for (int i = 0; i < m; i++) {
            for (int side = 0; side < 2; side++) {
                attx_tcav_ref x = side ? b[i] : a[i];
                assert_true(x.set >= 0 && x.set < 3 && x.example >= 0 && x.example < sizes[x.set]);
                assert_int_equal(used[x.set][x.example]++, 0);   /* no example twice, on either side */
            }
            if (i) {   /* pool order */
                assert_true(a[i - 1].set < a[i].set || (a[i - 1].set == a[i].set && a[i - 1].example < a[i].example));
                assert_true(b[i - 1].set < b[i].set || (b[i - 1].set == b[i].set && b[i - 1].example < b[i].example));
            }
        }
        assert_int_equal(attx_tcav_null_halves(3, sizes, seed, a2, b2), 4);
        assert_memory_equal(a, a2, sizeof a);
        assert_memory_equal(b, b2, sizeof b);
        if (seed) differs |= memcmp(a, a2, sizeof a) != 0 || memcmp(b, b2, sizeof b) != 0;
        attx_tcav_null_halves(3, sizes, seed + 100, a2, b2);
        differs |= memcmp(a, a2, sizeof a) != 0;
    }
    assert_true(differs);
    int tiny[2] = {1, 1};
    assert_int_equal(attx_tcav_null_halves(2, tiny, 3, a, b), 1);
}

static void test_gradients_fixture(void **state)
{
    (void)state;
    attx_model *m;
    attx_error err;
    attx_tensor_file ref;
    if (attx_model_open(&m, "test/fixtures/bert/batch", &err) != 0) fail_msg("%s", err.msg);
    if (attx_safetensors_open(&ref, "test/fixtures/bert/batch/reference.safetensors", &err) != 0) fail_msg("%s", err.msg);
    const attx_config *cfg = attx_model_config(m);
    const attx_stored_tensor *ids = attx_tensor_file_find(&ref, "input_ids"), *mask = attx_tensor_file_find(&ref, "attention_mask"),
                             *pred = attx_tensor_file_find(&ref, "predicted");
    int B = (int)ids->shape[0], T = (int)ids->shape[1];
    grad_check c = {&ref, 0, T, cfg->hidden_size, cfg->num_heads, 0, 0, 0, 0};
    for (int b = 0; b < B; b++) {
        int32_t row[64], len = 0;
        for (int t = 0; t < T; t++) {
            int64_t id, mk;
            memcpy(&id, ids->data + 8 * ((size_t)b * T + t), 8);
            memcpy(&mk, mask->data + 8 * ((size_t)b * T + t), 8);
            row[t] = (int32_t)id;
            len += (int32_t)mk;
        }
        int64_t klass;
        memcpy(&klass, pred->data + 8 * b, 8);
        const int32_t *rows[1] = {row};
        attx_tcav_memory mem = {1, rows, &len, NULL, 0};
        attx_tcav_source src = attx_tcav_source_memory(&mem);
        int layers[2] = {1, 0};
        c.b = b;
        if (attx_tcav_gradients(m, &src, (int)klass, 0, layers, 2, 0, check_view, &c, &err) != 0) fail_msg("%s", err.msg);
    }
    print_message("vs PyTorch: max |err| h %.1e, g %.1e, CLS attention %.1e (%d views)\n", c.e_h, c.e_g, c.e_a, c.views);
    assert_int_equal(c.views, 2 * B);
    assert_true(c.e_h < 1e-4 && c.e_g < 1e-4 && c.e_a < 1e-5);
    attx_tensor_file_close(&ref);
    attx_model_close(m);
}

/* ---- the whole protocol on a random ViT, against a recomputation from the pieces ---- */

static const char *VIT_CONFIG =
    "{\"model_type\": \"vit\", \"hidden_size\": 8, \"num_hidden_layers\": 3, \"num_attention_heads\": 2,"
    " \"intermediate_size\": 16, \"image_size\": 8, \"patch_size\": 4, \"num_channels\": 3,"
    " \"initializer_range\": 0.5, \"num_labels\": 3}";

#define NPX (3 * 8 * 8)

/* count images: a colour tint per set plus noise */
static float *images(int count, float tint, uint64_t seed)
{
    float *p = malloc((size_t)count * NPX * sizeof *p);
    for (int i = 0; i < count * NPX; i++) {
        uint64_t r = tu_random(&seed);
        p[i] = tint * (float)((i / 64) % 3 - 1) + (float)((r >> 11) * (1.0 / 9007199254740992.0) - 0.5);
    }
    return p;
}

typedef struct recompute {
    const double *cav;          /* [D] */
    int layer;
    int positive, count;
    double sum_raw;             /* of ttcav_raw */
    double heat[8];
    int heat_T;
} recompute;

static int recompute_view(void *user, const attx_tcav_view *v, attx_error *err)
{
    (void)err;
    recompute *r = user;
    if (v->layer != r->layer) return 0;
    double d[8];
    attx_tcav_directional(v->T, v->D, v->g, r->cav, d);
    attx_tcav_example_score s = attx_tcav_example(v->T, d, v->a, v->example == 1 ? r->heat : NULL);
    if (v->example == 1) r->heat_T = v->T;
    r->positive += s.ttcav > 0;
    r->sum_raw += s.ttcav_raw;
    r->count++;
    return 0;
}

/* ---- the other objectives from the raw logits' gradients: centred g_k - (1/C) sum_j g_j,
 * log-softmax g_k - sum_j p_j g_j, margin g_k - g_r ---- */

typedef struct grad_store {
    float g[6][5 * 8];                  /* [example][T * D] at the layer */
} grad_store;

static int store_view(void *user, const attx_tcav_view *v, attx_error *err)
{
    (void)err;
    grad_store *s = user;
    assert_int_equal(v->T * v->D, 5 * 8);
    memcpy(s->g[v->example], v->g, sizeof s->g[0]);
    return 0;
}

static void test_objectives(void **state)
{
    (void)state;
    attx_model *m;
    attx_error err;
    if (attx_model_create(&m, VIT_CONFIG, NULL, 0, 11, &err) != 0) fail_msg("%s", err.msg);
    float *tg = images(6, 0, 99);
    attx_tcav_memory tmem = {6, NULL, NULL, tg, NPX};
    attx_tcav_source targets = attx_tcav_source_memory(&tmem);
    int layer = 1;
    static grad_store raw[3], centred;
    for (int k = 0; k < 3; k++)
        if (attx_tcav_gradients(m, &targets, k, 0, &layer, 1, 4, store_view, &raw[k], &err) != 0) fail_msg("%s", err.msg);
    if (attx_tcav_gradients(m, &targets, 2, 1, &layer, 1, 4, store_view, &centred, &err) != 0) fail_msg("%s", err.msg);
    double worst = 0, scale = 0, moved = 0;
    for (int b = 0; b < 6; b++)
        for (int i = 0; i < 5 * 8; i++) {
            double want = raw[2].g[b][i] - (raw[0].g[b][i] + raw[1].g[b][i] + raw[2].g[b][i]) / 3.0;
            worst = fmax(worst, fabs(centred.g[b][i] - want));
            scale = fmax(scale, fabs(want));
            moved = fmax(moved, fabs(centred.g[b][i] - raw[2].g[b][i]));
        }
    print_message("centred logit: max |err| %.1e of gradients up to %.1e (%.1e from the raw logit's)\n", worst, scale,
                  moved);
    assert_true(worst < 1e-5 * scale);
    assert_true(moved > 0.01 * scale);      /* and it is not the raw logit's gradient */

    /* log-softmax and margin: backpropagation is linear in its seed, so with p = softmax(z) and
     * r the largest other logit, d log p_k = g_k - sum_j p_j g_j and d(z_k - z_r) = g_k - g_r,
     * from the raw logits' gradients (which test_gradients_match_torch checks against PyTorch) */
    attx_ctx *ctx = attx_ctx_new();
    attx_batch batch = {.B = 6, .pixels = tg};
    attx_outputs out;
    if (attx_forward(m, ctx, &batch, &out, &err) != 0) fail_msg("%s", err.msg);
    static grad_store logsoftmax, margin[3];
    if (attx_tcav_gradients(m, &targets, 2, ATTX_TCAV_LOGSOFTMAX, &layer, 1, 4, store_view, &logsoftmax, &err) != 0)
        fail_msg("%s", err.msg);
    for (int k = 0; k < 3; k++)
        if (attx_tcav_gradients(m, &targets, k, ATTX_TCAV_MARGIN, &layer, 1, 4, store_view, &margin[k], &err) != 0)
            fail_msg("%s", err.msg);
    double worst_ls = 0, worst_mg = 0;
    int runner_ups[3] = {0, 0, 0};
    for (int b = 0; b < 6; b++) {
        const float *z = out.logits->data + 3 * b;
        double mx = fmax(z[0], fmax(z[1], z[2])), p[3], sum = 0;
        for (int j = 0; j < 3; j++) sum += (p[j] = exp(z[j] - mx));
        for (int i = 0; i < 5 * 8; i++) {
            double ls = raw[2].g[b][i];
            for (int j = 0; j < 3; j++) ls -= p[j] / sum * raw[j].g[b][i];
            worst_ls = fmax(worst_ls, fabs(logsoftmax.g[b][i] - ls));
        }
        for (int k = 0; k < 3; k++) {
            int r = -1;   /* the largest of the other classes */
            for (int j = 0; j < 3; j++)
                if (j != k && (r < 0 || z[j] > z[r])) r = j;
            runner_ups[r] += k == 2;
            for (int i = 0; i < 5 * 8; i++)
                worst_mg = fmax(worst_mg, fabs(margin[k].g[b][i] - (raw[k].g[b][i] - raw[r].g[b][i])));
        }
    }
    print_message("log-softmax: max |err| %.1e; margin (each class): %.1e (class 2's runner-up: 0 in %d, 1 in %d of 6)\n", worst_ls,
                  worst_mg, runner_ups[0], runner_ups[1]);
    assert_true(worst_ls < 1e-5 * scale);
    assert_true(worst_mg < 1e-5 * scale);
    attx_ctx_free(ctx);
    free(tg);
    attx_model_close(m);
}

static void test_protocol_vit(void **state)
{
    (void)state;
    attx_model *m;
    attx_error err;
    if (attx_model_create(&m, VIT_CONFIG, NULL, 0, 11, &err) != 0) fail_msg("%s", err.msg);
    int sizes[3] = {4, 3, 5};
    float *px[3], *tg = images(6, 0, 99);
    attx_tcav_memory mem[3], tmem = {6, NULL, NULL, tg, NPX};
    attx_tcav_source src[3], targets = attx_tcav_source_memory(&tmem);
    for (int c = 0; c < 3; c++) {
        px[c] = images(sizes[c], 0.8f * (float)(c - 1), 1000 + (uint64_t)c);
        mem[c] = (attx_tcav_memory){sizes[c], NULL, NULL, px[c], NPX};
        src[c] = attx_tcav_source_memory(&mem[c]);
    }
    attx_tcav_options o;
    attx_tcav_options_init(&o);
    int layers[2] = {2, 0};
    o.layers = layers;
    o.n_layers = 2;
    o.n_cavs = 4;
    o.seed = 5;
    o.klass = 1;
    o.heat_target = 1;
    o.heat_layer_index = 1;
    o.heat_concept = 2;
    o.heat_cav = 3;
    attx_tcav_result r;
    if (attx_tcav_run(m, src, 3, NULL, 0, &targets, &o, &r, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(r.n_cavs, 4);
    assert_int_equal(r.tests, 6);
    assert_int_equal(r.heat_T, 5);          /* [CLS] + 4 patches */

    /* recompute cell (layer index j, concept c, CAV i) from the pieces */
    attx_tcav_acts acts[3];
    for (int c = 0; c < 3; c++)
        if (attx_tcav_activations(m, &src[c], layers, 2, 1, &acts[c], &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(acts[0].start[acts[0].count], 4 * 5);   /* every token of every image is a row */
    double worst_cav = 0;
    int checked = 0;
    for (int j = 0; j < 2; j++)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 4; i++) {
                attx_tcav_ref pos[5], neg[5];
                for (int k = 0; k < sizes[c]; k++) pos[k] = (attx_tcav_ref){c, k};
                int nn = attx_tcav_relative_negatives(3, sizes, c, 5 + (uint64_t)i, neg);
                assert_int_equal(nn, sizes[c]);
                double cav[8];
                if (attx_cav_train(acts, j, pos, sizes[c], neg, nn, NULL, cav, NULL, &err) != 0) fail_msg("%s", err.msg);
                const double *got = r.cavs + (((size_t)j * 3 + c) * 4 + i) * 8;
                for (int k = 0; k < 8; k++) worst_cav = fmax(worst_cav, fabs(got[k] - cav[k]));
                recompute rc = {cav, layers[j], 0, 0, 0, {0}, 0};
                if (attx_tcav_gradients(m, &targets, 1, 0, layers, 2, 1, recompute_view, &rc, &err) != 0) fail_msg("%s", err.msg);
                assert_int_equal(rc.count, 6);
                const attx_tcav_cell *cell = &r.cells[j * 3 + c];
                assert_true(fabs(cell->score[ATTX_TCAV_TTCAV][i] - rc.positive / 6.0) < 1e-12);
                assert_true(fabs(cell->mean_ttcav_raw[i] - rc.sum_raw / 6) < 1e-6 * (1e-6 + fabs(rc.sum_raw / 6)));
                if (j == 1 && c == 2 && i == 3)
                    for (int t = 0; t < 5; t++) assert_true(fabs(r.heat[t] - rc.heat[t]) < 1e-5 * (1 + fabs(rc.heat[t])));
                checked++;
            }
    print_message("protocol: %d CAVs recomputed, max |cav diff| %.1e\n", checked, worst_cav);
    assert_true(worst_cav < 1e-9);
    /* the cell's statistics are the one-sample test of its scores */
    const attx_tcav_cell *cell = &r.cells[1];
    attx_ttest t = attx_ttest_1samp(4, cell->score[0], 0.5);
    assert_true((isnan(t.p) && isnan(cell->stat[0].test.p)) || fabs(t.p - cell->stat[0].test.p) < 1e-15);
    for (int c = 0; c < 3; c++) attx_tcav_acts_free(&acts[c]);

    /* warm starts: the same CAVs within the solver's tolerance, in fewer iterations */
    attx_tcav_result rw;
    o.warm_start = 1;
    if (attx_tcav_run(m, src, 3, NULL, 0, &targets, &o, &rw, &err) != 0) fail_msg("%s", err.msg);
    o.warm_start = 0;
    double worst_warm = 0;
    long cold_iters = 0, warm_iters = 0;
    for (size_t i = 0; i < (size_t)2 * 3 * 4 * 8; i++) worst_warm = fmax(worst_warm, fabs(rw.cavs[i] - r.cavs[i]));
    for (int k = 0; k < 6; k++)
        for (int i = 0; i < 4; i++) {
            cold_iters += r.cells[k].cav_iterations[i];
            warm_iters += rw.cells[k].cav_iterations[i];
            assert_true(rw.cells[k].cav_converged[i]);
        }
    print_message("warm start: max |cav diff| %.1e, L-BFGS iterations %ld against %ld cold\n", worst_warm, warm_iters, cold_iters);
    assert_true(worst_warm < 1e-5);
    assert_true(warm_iters < cold_iters);
    /* CAV 0 of each cell starts cold: the same bits */
    for (int k = 0; k < 6; k++) assert_memory_equal(rw.cavs + (size_t)k * 4 * 8, r.cavs + (size_t)k * 4 * 8, 8 * sizeof(double));
    attx_tcav_result_free(&rw);

    /* the batch size and the activation budget (one layer at a time) change nothing */
    attx_tcav_result r2;
    o.batch_size = 5;
    o.max_activation_bytes = 1;
    if (attx_tcav_run(m, src, 3, NULL, 0, &targets, &o, &r2, &err) != 0) fail_msg("%s", err.msg);
    for (int k = 0; k < 6; k++)
        for (int kind = 0; kind < ATTX_TCAV_KINDS; kind++)
            assert_memory_equal(r.cells[k].score[kind], r2.cells[k].score[kind], 4 * sizeof(double));
    attx_tcav_result_free(&r2);

    /* classic mode: concepts against 3 random sets -> 2 CAVs each, Student's two-sample test */
    float *rp[3];
    attx_tcav_memory rmem[3];
    attx_tcav_source rsrc[3];
    for (int k = 0; k < 3; k++) {
        rp[k] = images(3 + k, 0, 5000 + (uint64_t)k);
        rmem[k] = (attx_tcav_memory){3 + k, NULL, NULL, rp[k], NPX};
        rsrc[k] = attx_tcav_source_memory(&rmem[k]);
    }
    o.heat_cav = 1;
    o.heat_concept = 1;
    if (attx_tcav_run(m, src, 2, rsrc, 3, &targets, &o, &r2, &err) != 0) fail_msg("%s", err.msg);
    assert_true(r2.classic);
    assert_int_equal(r2.n_cavs, 2);
    assert_non_null(r2.baselines);
    const attx_tcav_cell *cc = &r2.cells[0];
    attx_ttest ti = attx_ttest_ind(2, cc->score[1], 2, r2.baselines[0].score[1], 0);
    assert_true((isnan(ti.p) && isnan(cc->stat[1].test.p)) || fabs(ti.p - cc->stat[1].test.p) < 1e-15);
    attx_tcav_result_free(&r2);
    for (int k = 0; k < 3; k++) free(rp[k]);

    /* --null: the same relative CAVs (same scores), tested against null CAVs whose scores are
     * those of a CAV trained on attx_tcav_null_halves' two sides */
    o.null_baseline = 1;
    o.n_null_cavs = 6;                  /* more null CAVs than relative ones */
    o.heat_cav = 3;
    o.heat_concept = 2;
    if (attx_tcav_run(m, src, 3, NULL, 0, &targets, &o, &r2, &err) != 0) fail_msg("%s", err.msg);
    assert_true(r2.null_baseline && !r2.classic);
    assert_non_null(r2.baselines);
    assert_int_equal(r2.baselines[0].n_cavs, 6);
    assert_int_equal(r2.n_baseline_cavs, 6);
    for (int k = 0; k < 6; k++) assert_memory_equal(r.cells[k].score[0], r2.cells[k].score[0], 4 * sizeof(double));
    for (int c = 0; c < 3; c++)
        if (attx_tcav_activations(m, &src[c], layers, 2, 1, &acts[c], &err) != 0) fail_msg("%s", err.msg);
    for (int i = 0; i < 6; i++) {
        attx_tcav_ref hp[5], hn[5];
        int h = attx_tcav_null_halves(3, sizes, 5 + 1000003u + (uint64_t)i, hp, hn);
        assert_int_equal(h, 3);
        double cav[8];
        if (attx_cav_train(acts, 0, hp, h, hn, h, NULL, cav, NULL, &err) != 0) fail_msg("%s", err.msg);
        for (int k = 0; k < 8; k++) assert_true(fabs(r2.baseline_cavs[(size_t)i * 8 + k] - cav[k]) < 1e-9);
        recompute rc = {cav, layers[0], 0, 0, 0, {0}, 0};
        if (attx_tcav_gradients(m, &targets, 1, 0, layers, 2, 1, recompute_view, &rc, &err) != 0) fail_msg("%s", err.msg);
        assert_true(fabs(r2.baselines[0].score[ATTX_TCAV_TTCAV][i] - rc.positive / 6.0) < 1e-12);
        assert_true(fabs(r2.baselines[0].mean_ttcav_raw[i] - rc.sum_raw / 6) < 1e-6 * (1e-6 + fabs(rc.sum_raw / 6)));
    }
    for (int c = 0; c < 3; c++) attx_tcav_acts_free(&acts[c]);
    const attx_tcav_cell *nc = &r2.cells[1];
    attx_ttest tn = attx_ttest_ind(4, nc->score[0], 6, r2.baselines[0].score[0], 0);
    assert_true((isnan(tn.p) && isnan(nc->stat[0].test.p)) || fabs(tn.p - nc->stat[0].test.p) < 1e-15);

    /* reuse: class 0 with class 1's CAVs gives the bits of a run that trains them itself */
    attx_tcav_result fresh, reused;
    o.klass = 0;
    o.objective = ATTX_TCAV_MARGIN;
    if (attx_tcav_run(m, src, 3, NULL, 0, &targets, &o, &fresh, &err) != 0) fail_msg("%s", err.msg);
    o.reuse = &r2;
    if (attx_tcav_run(m, src, 3, NULL, 0, &targets, &o, &reused, &err) != 0) fail_msg("%s", err.msg);
    for (int k = 0; k < 6; k++) {
        for (int kind = 0; kind < ATTX_TCAV_KINDS; kind++) {
            assert_memory_equal(fresh.cells[k].score[kind], reused.cells[k].score[kind], 4 * sizeof(double));
            assert_memory_equal(fresh.cells[k].mean_s[kind], reused.cells[k].mean_s[kind], 4 * sizeof(double));
        }
        assert_memory_equal(fresh.cells[k].mean_ttcav_raw, reused.cells[k].mean_ttcav_raw, 4 * sizeof(double));
        assert_memory_equal(fresh.cells[k].cav_iterations, reused.cells[k].cav_iterations, 4 * sizeof(int));
        assert_true(fresh.cells[k].stat[0].test.p == reused.cells[k].stat[0].test.p ||
                    (isnan(fresh.cells[k].stat[0].test.p) && isnan(reused.cells[k].stat[0].test.p)));
    }
    for (int j = 0; j < 2; j++)
        assert_memory_equal(fresh.baselines[j].score[1], reused.baselines[j].score[1], 6 * sizeof(double));
    assert_memory_equal(fresh.cavs, reused.cavs, 2 * 3 * 4 * 8 * sizeof(double));
    assert_memory_equal(fresh.baseline_cavs, reused.baseline_cavs, 2 * 6 * 8 * sizeof(double));
    attx_tcav_result_free(&fresh);
    attx_tcav_result_free(&reused);
    o.n_null_cavs = 5;                  /* another setup: refused */
    assert_int_equal(attx_tcav_run(m, src, 3, NULL, 0, &targets, &o, &reused, &err), -1);
    assert_contains(err.msg, "another setup");
    o.reuse = NULL;
    o.klass = 1;
    o.objective = ATTX_TCAV_LOGIT;
    o.n_null_cavs = 0;
    attx_tcav_result_free(&r2);
    o.null_baseline = 0;

    /* errors */
    o.heat_cav = 0;
    attx_tcav_memory empty = {0, NULL, NULL, px[0], NPX};
    attx_tcav_source esrc[2] = {src[0], attx_tcav_source_memory(&empty)};
    assert_int_equal(attx_tcav_run(m, esrc, 2, NULL, 0, &targets, &o, &r2, &err), -1);
    assert_contains(err.msg, "concept 1 has no examples");
    assert_int_equal(attx_tcav_run(m, src, 1, NULL, 0, &targets, &o, &r2, &err), -1);
    assert_contains(err.msg, "at least 2 concepts");
    assert_int_equal(attx_tcav_run(m, src, 2, rsrc, 2, &targets, &o, &r2, &err), -1);
    assert_contains(err.msg, "at least 3 random sets");
    o.klass = 3;
    assert_int_equal(attx_tcav_run(m, src, 2, NULL, 0, &targets, &o, &r2, &err), -1);
    assert_contains(err.msg, "class 3");
    o.klass = 0;
    layers[1] = 3;
    assert_int_equal(attx_tcav_run(m, src, 2, NULL, 0, &targets, &o, &r2, &err), -1);
    assert_contains(err.msg, "layer 3");

    attx_tcav_result_free(&r);
    for (int c = 0; c < 3; c++) free(px[c]);
    free(tg);
    attx_model_close(m);
}

/* ---- the pre-registered evaluation's pieces (tcav_check.c), by hand ---- */

static void test_check_pieces(void **state)
{
    (void)state;
    /* objectives at z = (1, 2, 3), class 0 */
    float z[3] = {1, 2, 3};
    assert_true(fabs(attx_tcav_objective_value(ATTX_TCAV_LOGIT, z, 3, 0) - 1) < 1e-15);
    assert_true(fabs(attx_tcav_objective_value(ATTX_TCAV_CENTRED, z, 3, 0) - (-1)) < 1e-15);
    assert_true(fabs(attx_tcav_objective_value(ATTX_TCAV_LOGSOFTMAX, z, 3, 0) - (1 - log(exp(1) + exp(2) + exp(3)))) < 1e-14);
    assert_true(fabs(attx_tcav_objective_value(ATTX_TCAV_MARGIN, z, 3, 0) - (-2)) < 1e-15);
    assert_true(fabs(attx_tcav_objective_value(ATTX_TCAV_MARGIN, z, 3, 2) - 1) < 1e-15);

    /* the sign test: scipy.stats.binomtest(k, n).pvalue */
    assert_true(fabs(attx_sign_test(7, 10) - 0.34375) < 1e-12);
    assert_true(fabs(attx_sign_test(0, 5) - 0.0625) < 1e-12);
    assert_true(attx_sign_test(5, 10) == 1);
    assert_true(fabs(attx_sign_test(1, 20) - 2 * 21.0 / 1048576.0) < 1e-15);
    assert_true(fabs(attx_sign_test(19, 20) - 2 * 21.0 / 1048576.0) < 1e-15);

    /* the truth of 4 cells of 8 images: large +, small but consistent + (under 10% of the
     * largest: null), noise (null), large − */
    double delta[4 * 8];
    for (int i = 0; i < 8; i++) {
        double wiggle = (i % 2 ? 0.1 : -0.1) * (1 + i % 3);
        delta[0 * 8 + i] = 5 + wiggle;
        delta[1 * 8 + i] = 0.3 + wiggle / 100;
        delta[2 * 8 + i] = wiggle;
        delta[3 * 8 + i] = -4 + wiggle;
    }
    attx_tcav_truth truth[4];
    attx_tcav_truth_cells(4, 8, delta, 0.05, 0.10, truth);
    assert_int_equal(truth[0].verdict, 1);
    assert_int_equal(truth[1].verdict, 0);
    assert_true(truth[1].p < 1e-6);                 /* significant, yet too small */
    assert_int_equal(truth[2].verdict, 0);
    assert_int_equal(truth[3].verdict, -1);
    assert_int_equal(truth[0].up, 8);
    assert_true(fabs(truth[0].p - attx_bonferroni(attx_ttest_1samp(8, delta, 0).p, 4)) < 1e-15);
    assert_true(fabs(truth[3].p_sign - attx_bonferroni(attx_sign_test(0, 8), 4)) < 1e-15);
    double mean3 = 0;
    for (int i = 0; i < 8; i++) mean3 += delta[24 + i];
    assert_true(fabs(truth[3].mean - mean3 / 8) < 1e-15);
    /* at 0.08 of the largest the small cell is large enough */
    attx_tcav_truth_cells(4, 8, delta, 0.05, 0.05, truth);
    assert_int_equal(truth[1].verdict, 1);

    /* the four modes on one cell: 4 relative CAVs, 5 null CAVs */
    double score[4] = {0.8, 0.9, 0.7, 0.8}, raw[4] = {0.2, 0.3, 0.1, 0.2};
    double null_score[5] = {0.5, 0.6, 0.4, 0.9, 0.1}, null_raw[5] = {0.05, -0.25, 0.1, 0.3, -0.1};
    attx_tcav_cell cell = {0}, null = {0};
    cell.n_cavs = 4;
    null.n_cavs = 5;
    cell.score[ATTX_TCAV_TTCAV] = score;
    cell.mean_ttcav_raw = raw;
    null.score[ATTX_TCAV_TTCAV] = null_score;
    null.mean_ttcav_raw = null_raw;
    attx_tcav_result rel = {0};
    rel.n_layers = 1;
    rel.n_concepts = 1;
    rel.tests = 1;
    rel.cells = &cell;
    rel.baselines = &null;
    attx_tcav_verdict v = attx_tcav_verdict_of(ATTX_TCAV_MODE_P1, &rel, NULL, 0, 0, ATTX_TCAV_TTCAV, 0.05);
    assert_true(fabs(v.statistic - 0.8) < 1e-15);
    assert_true(fabs(v.p - attx_ttest_1samp(4, score, 0.5).p) < 1e-15);
    assert_int_equal(v.verdict, 1);
    /* rank: |0.8 − 0.5| = 0.3, reached by 0.9 and 0.1: p = (1 + 2) / 6 */
    v = attx_tcav_verdict_of(ATTX_TCAV_MODE_RANK, &rel, NULL, 0, 0, ATTX_TCAV_TTCAV, 0.05);
    assert_true(fabs(v.p - 0.5) < 1e-15);
    assert_int_equal(v.verdict, 0);
    /* magnitude: mean 0.2; |null| >= 0.2: −0.25 and 0.3: p = 3 / 6 */
    v = attx_tcav_verdict_of(ATTX_TCAV_MODE_MAGNITUDE, &rel, NULL, 0, 0, ATTX_TCAV_TTCAV, 0.05);
    assert_true(fabs(v.statistic - 0.2) < 1e-15 && fabs(v.p - 0.5) < 1e-15);
    /* a larger magnitude than every null CAV: p = 1/6, significant at alpha 0.2 */
    double big[4] = {1, 1, 1, 1};
    cell.mean_ttcav_raw = big;
    v = attx_tcav_verdict_of(ATTX_TCAV_MODE_MAGNITUDE, &rel, NULL, 0, 0, ATTX_TCAV_TTCAV, 0.2);
    assert_true(fabs(v.p - 1.0 / 6) < 1e-15);
    assert_int_equal(v.verdict, 1);
    /* kim: the classic run's test, signed by the baseline's mean */
    attx_tcav_cell kc = {0}, kb = {0};
    kc.n_cavs = kb.n_cavs = 4;
    kc.stat[ATTX_TCAV_TCAV] = (attx_tcav_stat){0.3, 0.1, {-5, 6, 0.001}, 0.003, 1};
    kb.stat[ATTX_TCAV_TCAV] = (attx_tcav_stat){0.5, 0.1, {NAN, NAN, NAN}, NAN, 0};
    attx_tcav_result cls = {0};
    cls.n_layers = cls.n_concepts = 1;
    cls.tests = 3;
    cls.classic = 1;
    cls.cells = &kc;
    cls.baselines = &kb;
    v = attx_tcav_verdict_of(ATTX_TCAV_MODE_KIM, &rel, &cls, 0, 0, ATTX_TCAV_TCAV, 0.05);
    assert_true(fabs(v.p_bonferroni - 0.003) < 1e-15);
    assert_int_equal(v.verdict, -1);
    /* out of range: no verdict */
    v = attx_tcav_verdict_of(ATTX_TCAV_MODE_P1, &rel, NULL, 1, 0, ATTX_TCAV_TTCAV, 0.05);
    assert_true(isnan(v.p) && v.verdict == 0);
    assert_string_equal(attx_tcav_mode_name(ATTX_TCAV_MODE_MAGNITUDE), "magnitude");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logreg_sklearn),
        cmocka_unit_test(test_t_distribution),
        cmocka_unit_test(test_ttests),
        cmocka_unit_test(test_check_pieces),
        cmocka_unit_test(test_example_scores),
        cmocka_unit_test(test_relative_negatives),
        cmocka_unit_test(test_null_halves),
        cmocka_unit_test(test_gradients_fixture),
        cmocka_unit_test(test_protocol_vit),
        cmocka_unit_test(test_objectives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
