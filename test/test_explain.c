/* test_explain.c — influence matrices and explanation methods against values computed here,
 * independently, from the BERT fixtures' PyTorch reference tensors (attn.L, grad_attn.L,
 * inputs_embeds, grad_inputs_embeds: gradients of each example's predicted logit; see
 * tools/reference/make_bert_fixtures.py), closed forms, brute-force Shapley values of the
 * model's own masked predictions, integrated-gradients completeness, rollout by hand, and a
 * random ViT for the image paths. */
#include "testutil.h"

#include <math.h>

#include "attx_engine.h"
#include "attx_explain.h"

static const char *CONFIGS[] = {"tiny", "heads4", "batch", "deep1head"};
#define N_CONFIGS (sizeof CONFIGS / sizeof CONFIGS[0])

typedef struct {
    attx_model *model;
    attx_tensor_file ref;
    const attx_config *cfg;
    int B, T, L, H, C;
    int32_t *ids, *lengths;
    int *predicted;
} fixture;

static const attx_stored_tensor *ref_tensor(const fixture *f, const char *fmt, int i)
{
    char name[64];
    snprintf(name, sizeof name, fmt, i);
    const attx_stored_tensor *t = attx_tensor_file_find(&f->ref, name);
    if (!t) fail_msg("reference has no %s", name);
    assert_int_equal(t->dtype, ATTX_F32);
    return t;
}

static double at(const attx_stored_tensor *t, uint64_t i)
{
    float v;
    memcpy(&v, t->data + 4 * i, 4);
    return v;
}

static void load_fixture(fixture *f, const char *config)
{
    char path[256];
    attx_error err;
    memset(f, 0, sizeof *f);
    snprintf(path, sizeof path, "test/fixtures/bert/%s", config);
    if (attx_model_open(&f->model, path, &err) != 0) fail_msg("%s", err.msg);
    snprintf(path, sizeof path, "test/fixtures/bert/%s/reference.safetensors", config);
    if (attx_safetensors_open(&f->ref, path, &err) != 0) fail_msg("%s", err.msg);
    f->cfg = attx_model_config(f->model);
    f->L = f->cfg->num_layers;
    f->H = f->cfg->num_heads;
    f->C = f->cfg->num_labels;
    const attx_stored_tensor *ids = attx_tensor_file_find(&f->ref, "input_ids");
    const attx_stored_tensor *mask = attx_tensor_file_find(&f->ref, "attention_mask");
    const attx_stored_tensor *pred = attx_tensor_file_find(&f->ref, "predicted");
    assert_true(ids && mask && pred);
    f->B = (int)ids->shape[0];
    f->T = (int)ids->shape[1];
    f->ids = malloc(ids->numel * sizeof *f->ids);
    f->lengths = calloc((size_t)f->B, sizeof *f->lengths);
    f->predicted = malloc((size_t)f->B * sizeof *f->predicted);
    for (uint64_t i = 0; i < ids->numel; i++) {
        int64_t id, m;
        memcpy(&id, ids->data + 8 * i, 8);
        memcpy(&m, mask->data + 8 * i, 8);
        f->ids[i] = (int32_t)id;
        f->lengths[i / (uint64_t)f->T] += (int32_t)m;
    }
    for (int b = 0; b < f->B; b++) {
        int64_t p;
        memcpy(&p, pred->data + 8 * (size_t)b, 8);
        f->predicted[b] = (int)p;
    }
}

static void free_fixture(fixture *f)
{
    attx_model_close(f->model);
    attx_tensor_file_close(&f->ref);
    free(f->ids);
    free(f->lengths);
    free(f->predicted);
}

/* Reference A or A*ReLU(dA) of example b, layer l, head h, query i, key j. */
static double ref_infl(const fixture *f, int grad, int b, int l, int h, int i, int j)
{
    uint64_t k = (((uint64_t)b * f->H + h) * f->T + i) * f->T + j;
    double a = at(ref_tensor(f, "attn.%d", l), k);
    if (!grad) return a;
    double g = at(ref_tensor(f, "grad_attn.%d", l), k);
    return a * (g > 0 ? g : 0);
}

/* Expected Mbar restricted to the players 1..n and its [CLS] row, from the reference. */
static void ref_influence(const fixture *f, int grad, int b, const int *layers, int nl, int n, double *M, double *cls)
{
    memset(M, 0, (size_t)n * n * sizeof *M);
    memset(cls, 0, (size_t)n * sizeof *cls);
    for (int k = 0; k < nl; k++)
        for (int h = 0; h < f->H; h++)
            for (int i = 0; i < n; i++) {
                cls[i] += ref_infl(f, grad, b, layers[k], h, 0, 1 + i) / (f->H * nl);
                for (int j = 0; j < n; j++) M[i * n + j] += ref_infl(f, grad, b, layers[k], h, 1 + i, 1 + j) / (f->H * nl);
            }
}

static double max_abs(const double *x, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

/* |got - want| <= atol + rtol * max|want| for all entries; returns the max error. */
static double expect_close(const char *what, const double *got, const double *want, int n, double atol, double rtol)
{
    double scale = max_abs(want, n), worst = 0;
    for (int i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]);
        if (!(e <= atol + rtol * scale)) fail_msg("%s[%d]: got %.9g, want %.9g", what, i, got[i], want[i]);
        worst = fmax(worst, e);
    }
    return worst;
}

/* The pairwise closed forms of research-notes §1.3, written out here. */
static void closed_form(int n, const double *M, int use_max, double *phi)
{
    for (int i = 0; i < n; i++) {
        if (n == 1) {
            phi[0] = M[0];
            return;
        }
        double s = M[i * n + i] / n;
        for (int j = 0; j < n; j++) {
            if (j == i) continue;
            double pair = use_max ? fmax(M[i * n + j], M[j * n + i]) : M[i * n + j] + M[j * n + i];
            s += pair / 2 - M[j * n + j] / ((double)n * (n - 1));
        }
        phi[i] = s;
    }
}

/* Example b of a fixture, unpadded. */
static int32_t *example_ids(const fixture *f, int b)
{
    int32_t *ids = malloc((size_t)f->lengths[b] * sizeof *ids);
    memcpy(ids, f->ids + (size_t)b * f->T, (size_t)f->lengths[b] * sizeof *ids);
    return ids;
}

static const attx_method_result *method(const attx_explanation *ex, const char *name)
{
    for (int i = 0; i < ex->n_methods; i++)
        if (strcmp(ex->methods[i].name, name) == 0) return &ex->methods[i];
    fail_msg("no result for %s", name);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */

/* attx_influence on a padded batch (one backward, one-hot seed per example) = the reference
 * tensors' M and [CLS] row, for both kinds, all layers and subsets. */
static void test_influence_matches_reference(void **state)
{
    (void)state;
    for (size_t c = 0; c < N_CONFIGS; c++) {
        fixture f;
        load_fixture(&f, CONFIGS[c]);
        attx_ctx *ctx = attx_ctx_new();
        attx_ctx_set_tape(ctx, 1);
        attx_outputs out;
        attx_error err;
        attx_batch batch = {.B = f.B, .T = f.T, .ids = f.ids, .lengths = f.lengths};
        if (attx_forward(f.model, ctx, &batch, &out, &err) != 0) fail_msg("%s", err.msg);
        float *seed = malloc((size_t)f.B * f.C * sizeof *seed);
        attx_seed_explained_logits(f.B, f.C, f.predicted, seed);
        assert_int_equal(attx_backward(ctx, out.logits, seed), 0);
        int all[16], last[1] = {f.L - 1}, ends[2] = {0, f.L - 1};
        for (int l = 0; l < f.L; l++) all[l] = l;
        struct { const int *layers; int n; } sets[3] = {{all, f.L}, {last, 1}, {ends, 2}};
        double worst = 0;
        for (int b = 0; b < f.B; b++) {
            int n = f.lengths[b] - 2;
            double *M = malloc((size_t)n * n * sizeof *M), *cls = malloc((size_t)n * sizeof *cls);
            double *wM = malloc((size_t)n * n * sizeof *wM), *wcls = malloc((size_t)n * sizeof *wcls);
            for (int grad = 0; grad <= 1; grad++)
                for (int s = 0; s < 3; s++) {
                    attx_layer_set ls = {sets[s].layers, s == 0 ? 0 : sets[s].n};
                    if (attx_influence(&out, f.L, b, grad ? ATTX_INFLUENCE_GRAD_ATT : ATTX_INFLUENCE_ATT, &ls, 1, n,
                                       M, cls, &err) != 0)
                        fail_msg("%s", err.msg);
                    ref_influence(&f, grad, b, sets[s].layers, sets[s].n, n, wM, wcls);
                    worst = fmax(worst, expect_close("M", M, wM, n * n, 2e-5, 1e-3));
                    worst = fmax(worst, expect_close("cls", cls, wcls, n, 2e-5, 1e-3));
                }
            free(M);
            free(cls);
            free(wM);
            free(wcls);
        }
        print_message("%-10s influence max |err| vs reference %.1e\n", CONFIGS[c], worst);
        free(seed);
        attx_ctx_free(ctx);
        free_fixture(&f);
    }
}

/* Through the driver on each fixture example: the six game methods = the closed forms on the
 * reference M; grad-sam, att, att-avg, att-max and P2's gradient identities from the
 * reference tensors. */
static void test_methods_match_reference(void **state)
{
    (void)state;
    const char *names[] = {"att-cls", "grad-att-cls", "att-mutual", "grad-att-mutual", "att-max-mutual",
                           "grad-att-max-mutual", "grad-sam", "att", "att-avg", "att-max", "grad-avg", "grad-l1",
                           "grad-l2", "grad-x-input"};
    int n_names = (int)(sizeof names / sizeof names[0]);
    for (size_t c = 0; c < N_CONFIGS; c++) {
        fixture f;
        load_fixture(&f, CONFIGS[c]);
        const attx_stored_tensor *emb = ref_tensor(&f, "inputs_embeds", 0), *gemb = ref_tensor(&f, "grad_inputs_embeds", 0);
        int D = f.cfg->hidden_size, all[16];
        for (int l = 0; l < f.L; l++) all[l] = l;
        double worst = 0;
        for (int b = 0; b < f.B; b++) {
            int len = f.lengths[b], n = len - 2;
            int32_t *ids = example_ids(&f, b);
            attx_explanation ex;
            attx_error err;
            if (attx_explain_ids(f.model, ids, len, names, n_names, NULL, &ex, &err) != 0) fail_msg("%s", err.msg);
            assert_int_equal(ex.klass, f.predicted[b]);
            assert_int_equal(ex.n_players, n);
            double *M = malloc((size_t)n * n * sizeof *M), *cls = malloc((size_t)n * sizeof *cls);
            double *want = malloc((size_t)n * sizeof *want);
            for (int grad = 0; grad <= 1; grad++) {
                ref_influence(&f, grad, b, all, f.L, n, M, cls);
                char name[64];
                snprintf(name, sizeof name, "%satt-cls", grad ? "grad-" : "");
                worst = fmax(worst, expect_close(name, method(&ex, name)->scores, cls, n, 2e-5, 1e-3));
                closed_form(n, M, 0, want);
                snprintf(name, sizeof name, "%satt-mutual", grad ? "grad-" : "");
                worst = fmax(worst, expect_close(name, method(&ex, name)->scores, want, n, 1e-4, 1e-3));
                closed_form(n, M, 1, want);
                snprintf(name, sizeof name, "%satt-max-mutual", grad ? "grad-" : "");
                worst = fmax(worst, expect_close(name, method(&ex, name)->scores, want, n, 1e-4, 1e-3));
            }
            /* grad-sam and att: sums over all (real) keys per query, / (H L len) */
            for (int grad = 0; grad <= 1; grad++) {
                for (int i = 0; i < n; i++) {
                    double s = 0;
                    for (int l = 0; l < f.L; l++)
                        for (int h = 0; h < f.H; h++)
                            for (int j = 0; j < len; j++) s += ref_infl(&f, grad, b, l, h, 1 + i, j);
                    want[i] = s / ((double)f.H * f.L * len);
                }
                worst = fmax(worst, expect_close(grad ? "grad-sam" : "att", method(&ex, grad ? "grad-sam" : "att")->scores,
                                                 want, n, 2e-5, 1e-3));
            }
            /* att-avg / att-max: last layer's [CLS] row over heads */
            double *wmax = malloc((size_t)n * sizeof *wmax);
            for (int i = 0; i < n; i++) {
                want[i] = 0;
                wmax[i] = -1;
                for (int h = 0; h < f.H; h++) {
                    double a = ref_infl(&f, 0, b, f.L - 1, h, 0, 1 + i);
                    want[i] += a / f.H;
                    wmax[i] = fmax(wmax[i], a);
                }
            }
            worst = fmax(worst, expect_close("att-avg", method(&ex, "att-avg")->scores, want, n, 2e-5, 1e-4));
            worst = fmax(worst, expect_close("att-max", method(&ex, "att-max")->scores, wmax, n, 2e-5, 1e-4));
            /* P2's gradient explanations on the word embeddings */
            double *wavg = malloc((size_t)n * sizeof *wavg), *wl1 = malloc((size_t)n * sizeof *wl1);
            double *wl2 = malloc((size_t)n * sizeof *wl2), *wgxi = malloc((size_t)n * sizeof *wgxi);
            for (int i = 0; i < n; i++) {
                wavg[i] = wl1[i] = wl2[i] = wgxi[i] = 0;
                for (int k = 0; k < D; k++) {
                    uint64_t idx = ((uint64_t)b * f.T + 1 + i) * D + k;
                    double g = at(gemb, idx), e = at(emb, idx);
                    wavg[i] += g / D;
                    wl1[i] += fabs(g);
                    wl2[i] += g * g;
                    wgxi[i] += e * g;
                }
                wl2[i] = sqrt(wl2[i]);
            }
            expect_close("grad-avg", method(&ex, "grad-avg")->scores, wavg, n, 1e-6, 0);
            worst = fmax(worst, expect_close("grad-l1", method(&ex, "grad-l1")->scores, wl1, n, 1e-4, 1e-3));
            worst = fmax(worst, expect_close("grad-l2", method(&ex, "grad-l2")->scores, wl2, n, 1e-4, 1e-3));
            worst = fmax(worst, expect_close("grad-x-input", method(&ex, "grad-x-input")->scores, wgxi, n, 1e-4, 1e-3));
            /* costs: one shared forward, a backward for the gradient methods only */
            assert_int_equal(method(&ex, "att-cls")->forward_passes, 1);
            assert_int_equal(method(&ex, "att-cls")->backward_passes, 0);
            assert_int_equal(method(&ex, "grad-x-input")->backward_passes, 1);
            free(wavg);
            free(wl1);
            free(wl2);
            free(wgxi);
            free(wmax);
            free(M);
            free(cls);
            free(want);
            free(ids);
            attx_explanation_free(&ex);
        }
        print_message("%-10s methods max |err| vs reference %.1e\n", CONFIGS[c], worst);
        free_fixture(&f);
    }
}

/* --exact (enumeration of every coalition) = the closed form on real models; Kernel SHAP with
 * every coalition = exact; the sampled paths run and are reproducible. */
static void test_exact_equals_closed_form(void **state)
{
    (void)state;
    const char *names[] = {"att-cls", "grad-att-cls", "att-mutual", "grad-att-mutual", "att-max-mutual",
                           "grad-att-max-mutual"};
    for (size_t c = 0; c < N_CONFIGS; c++) {
        fixture f;
        load_fixture(&f, CONFIGS[c]);
        int32_t *ids = example_ids(&f, 0);
        int len = f.lengths[0], n = len - 2;
        attx_explanation closed, exact, kern, s1, s2;
        attx_explain_options o;
        attx_error err;
        attx_explain_options_init(&o);
        if (attx_explain_ids(f.model, ids, len, names, 6, &o, &closed, &err) != 0) fail_msg("%s", err.msg);
        o.exact = 1;
        if (attx_explain_ids(f.model, ids, len, names, 6, &o, &exact, &err) != 0) fail_msg("%s", err.msg);
        o.exact = 0;
        o.sampler = ATTX_SAMPLER_KERNEL;
        o.samples = (1 << n) - 2;
        if (attx_explain_ids(f.model, ids, len, names, 6, &o, &kern, &err) != 0) fail_msg("%s", err.msg);
        o.sampler = ATTX_SAMPLER_PAPER_RANDOM;
        o.samples = 100;
        o.seed = 1337;
        if (attx_explain_ids(f.model, ids, len, names, 6, &o, &s1, &err) != 0) fail_msg("%s", err.msg);
        if (attx_explain_ids(f.model, ids, len, names, 6, &o, &s2, &err) != 0) fail_msg("%s", err.msg);
        double worst = 0;
        for (int m = 0; m < 6; m++) {
            assert_string_equal(closed.methods[m].how, "closed form");
            assert_non_null(strstr(exact.methods[m].how, "exact"));
            worst = fmax(worst, expect_close(names[m], exact.methods[m].scores, closed.methods[m].scores, n, 1e-12, 1e-9));
            expect_close(names[m], kern.methods[m].scores, closed.methods[m].scores, n, 1e-9, 1e-6);
            assert_memory_equal(s1.methods[m].scores, s2.methods[m].scores, (size_t)n * sizeof(double));
        }
        print_message("%-10s n=%d exact vs closed form max |err| %.1e\n", CONFIGS[c], n, worst);
        attx_explanation_free(&closed);
        attx_explanation_free(&exact);
        attx_explanation_free(&kern);
        attx_explanation_free(&s1);
        attx_explanation_free(&s2);
        free(ids);
        free_fixture(&f);
    }
}

/* Integrated gradients: completeness error < 1% with 64 steps, checked against z(x') from a
 * forward pass of the [PAD] sequence made here (not through the embeddings override). */
static void test_integrated_gradients_completeness(void **state)
{
    (void)state;
    const char *names[] = {"integrated-gradients", "att-ig"};
    for (size_t c = 0; c < N_CONFIGS; c++) {
        fixture f;
        load_fixture(&f, CONFIGS[c]);
        for (int b = 0; b < f.B; b++) {
            int len = f.lengths[b], n = len - 2;
            int32_t *ids = example_ids(&f, b);
            for (int zero = 0; zero <= 1; zero++) {
                attx_explain_options o;
                attx_explain_options_init(&o);
                o.ig_baseline = zero ? ATTX_IG_BASELINE_ZERO : ATTX_IG_BASELINE_PAD;
                attx_explanation ex;
                attx_error err;
                if (attx_explain_ids(f.model, ids, len, names, 2, &o, &ex, &err) != 0) fail_msg("%s", err.msg);
                const attx_method_result *ig = &ex.methods[0];
                assert_true(ig->completeness_error < 0.01);
                assert_int_equal(ig->forward_passes, 1 + 1 + 64);
                assert_int_equal(ig->backward_passes, 64);
                if (!zero) {
                    int32_t *pad = example_ids(&f, b);
                    for (int i = 1; i <= n; i++) pad[i] = 0;      /* [PAD] = 0 in the fixtures' vocabulary */
                    attx_ctx *ctx = attx_ctx_new();
                    attx_outputs out;
                    attx_batch batch = {.B = 1, .T = len, .ids = pad, .lengths = &len};
                    assert_int_equal(attx_forward(f.model, ctx, &batch, &out, &err), 0);
                    double delta = ex.logits[ex.klass] - out.logits->data[ex.klass], sum = 0;
                    for (int i = 0; i < n; i++) sum += ig->scores[i];
                    if (fabs(sum - delta) > 0.01 * fabs(delta))
                        fail_msg("%s ex %d: sum IG %.6g, z(x) - z(pad) %.6g", CONFIGS[c], b, sum, delta);
                    print_message("%-10s ex %d: IG completeness error %.2e (z(x) - z(x') = %+.4f)\n", CONFIGS[c], b,
                                  fabs(sum - delta) / fabs(delta), delta);
                    attx_ctx_free(ctx);
                    free(pad);
                }
                for (int i = 0; i < n; i++) assert_true(ex.methods[1].scores[i] >= 0);   /* att-ig averages (A dA)^+ */
                attx_explanation_free(&ex);
            }
            free(ids);
        }
        free_fixture(&f);
    }
}

/* shapley-input = the textbook Shapley formula over the model's own [MASK]ed predictions,
 * every coalition run forward here one by one. */
static void test_shapley_input_brute_force(void **state)
{
    (void)state;
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, "test/fixtures/bert/heads4", &err) != 0) fail_msg("%s", err.msg);
    const char *text = "the movie was not good but fun";
    const char *names[] = {"shapley-input", "shap"};
    attx_explanation ex;
    if (attx_explain_text(m, text, strlen(text), names, 2, NULL, &ex, &err) != 0) fail_msg("%s", err.msg);
    int n = ex.n_players, T = n + 2, C = attx_model_config(m)->num_labels;
    assert_int_equal(n, 7);
    /* v(S) for every mask, each its own forward pass */
    double *v = malloc(((size_t)1 << n) * sizeof *v), *lo = malloc(((size_t)1 << n) * sizeof *lo);
    attx_ctx *ctx = attx_ctx_new();
    int32_t *ids = malloc((size_t)T * sizeof *ids);
    for (uint32_t S = 0; S < (1u << n); S++) {
        memcpy(ids, ex.enc.ids, (size_t)T * sizeof *ids);
        for (int i = 0; i < n; i++)
            if (!(S >> i & 1)) ids[1 + i] = 4;              /* [MASK] */
        attx_outputs out;
        attx_batch batch = {.B = 1, .T = T, .ids = ids, .lengths = &T};
        attx_ctx_reset(ctx);
        assert_int_equal(attx_forward(m, ctx, &batch, &out, &err), 0);
        double z[8], mx = -1e300, sum = 0;
        for (int k = 0; k < C; k++) mx = fmax(mx, z[k] = out.logits->data[k]);
        for (int k = 0; k < C; k++) sum += exp(z[k] - mx);
        v[S] = exp(z[ex.klass] - mx) / sum;
        lo[S] = log(v[S] / (1 - v[S]));
    }
    double want[16], fact[17] = {1};
    for (int k = 1; k <= 16; k++) fact[k] = fact[k - 1] * k;
    for (int i = 0; i < n; i++) {
        want[i] = 0;
        for (uint32_t S = 0; S < (1u << n); S++) {
            if (S >> i & 1) continue;
            int s = __builtin_popcount(S);
            want[i] += fact[s] * fact[n - s - 1] / fact[n] * (v[S | 1u << i] - v[S]);
        }
    }
    const attx_method_result *si = method(&ex, "shapley-input");
    double e = expect_close("shapley-input", si->scores, want, n, 1e-6, 1e-5);
    assert_int_equal(si->forward_passes, 1u << n);
    print_message("shapley-input exact vs brute force (n=%d): max |err| %.1e\n", n, e);
    /* shap: partition on the logit-odds; efficiency sum = lo(N) - lo(empty) */
    const attx_method_result *sh = method(&ex, "shap");
    double sum = 0;
    for (int i = 0; i < n; i++) sum += sh->scores[i];
    assert_true(fabs(sum - (lo[(1u << n) - 1] - lo[0])) < 1e-5);
    attx_explanation_free(&ex);

    /* with too many players for enumeration and no samples, a clear error; sampling works */
    const char *longer = "the movie was not good but fun and the plot was very boring the actor lost the game time";
    if (attx_explain_text(m, longer, strlen(longer), names, 1, NULL, &ex, &err) == 0) fail_msg("expected an error");
    assert_contains(err.msg, "--samples");
    attx_explanation_free(&ex);
    attx_explain_options o;
    attx_explain_options_init(&o);
    o.samples = 8;
    if (attx_explain_text(m, longer, strlen(longer), names, 1, &o, &ex, &err) != 0) fail_msg("%s", err.msg);
    assert_non_null(ex.methods[0].se);
    assert_int_equal(ex.methods[0].forward_passes, 2 + 8 * (ex.n_players - 1));
    attx_explanation_free(&ex);
    free(v);
    free(lo);
    free(ids);
    attx_ctx_free(ctx);
    attx_model_close(m);
}

/* Rollout by hand with one layer: R = norm(0.5 A + 0.5 I), so R[0, j] = A[0, j] / 2 for j > 0
 * (rows of A sum to 1); grad-rollout: R = I + mean_h (dA A)^+, R[0, j] = that for j > 0. With
 * two layers, the explicit product R2 R1. */
static void test_rollout_by_hand(void **state)
{
    (void)state;
    fixture f;
    load_fixture(&f, "heads4");
    int len = f.lengths[0], n = len - 2, T = len;
    int32_t *ids = example_ids(&f, 0);
    const char *names[] = {"rollout", "grad-rollout"};
    int one[1] = {0}, two[2] = {0, 1};
    attx_explain_options o;
    attx_explain_options_init(&o);
    o.layers.layers = one;
    o.layers.n_layers = 1;
    attx_explanation ex;
    attx_error err;
    if (attx_explain_ids(f.model, ids, len, names, 2, &o, &ex, &err) != 0) fail_msg("%s", err.msg);
    double *want = malloc((size_t)n * sizeof *want), *wg = malloc((size_t)n * sizeof *wg);
    for (int j = 0; j < n; j++) {
        want[j] = wg[j] = 0;
        for (int h = 0; h < f.H; h++) {
            want[j] += ref_infl(&f, 0, 0, 0, h, 0, 1 + j) / 2 / f.H;
            uint64_t k = (((uint64_t)h) * f.T + 0) * f.T + 1 + j;
            double ad = at(ref_tensor(&f, "attn.%d", 0), k) * at(ref_tensor(&f, "grad_attn.%d", 0), k);
            wg[j] += (ad > 0 ? ad : 0) / f.H;
        }
    }
    expect_close("rollout 1 layer", ex.methods[0].scores, want, n, 1e-5, 1e-4);
    expect_close("grad-rollout 1 layer", ex.methods[1].scores, wg, n, 1e-5, 1e-3);
    attx_explanation_free(&ex);

    /* two layers: Rbar_l = norm(0.5 mean_h A^l + 0.5 I); rollout = (Rbar_1 Rbar_0)[0, players] */
    o.layers.layers = two;
    o.layers.n_layers = 2;
    if (attx_explain_ids(f.model, ids, len, names, 1, &o, &ex, &err) != 0) fail_msg("%s", err.msg);
    double *R[2];
    for (int l = 0; l < 2; l++) {
        R[l] = calloc((size_t)T * T, sizeof(double));
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++) {
                double a = 0;
                for (int h = 0; h < f.H; h++) a += ref_infl(&f, 0, 0, l, h, i, j) / f.H;
                R[l][i * T + j] = 0.5 * a + 0.5 * (i == j);   /* rows already sum to 1 */
            }
    }
    for (int j = 0; j < n; j++) {
        want[j] = 0;
        for (int k = 0; k < T; k++) want[j] += R[1][0 * T + k] * R[0][k * T + 1 + j];
    }
    expect_close("rollout 2 layers", ex.methods[0].scores, want, n, 1e-5, 1e-4);
    free(R[0]);
    free(R[1]);
    attx_explanation_free(&ex);
    free(want);
    free(wg);
    free(ids);
    free_fixture(&f);
}

/* The text model game: v(N) and v(empty) against plain forwards; values prob/logit/logodds;
 * batches of any size give the same values. */
static void test_model_game_text(void **state)
{
    (void)state;
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, "test/fixtures/bert/batch", &err) != 0) fail_msg("%s", err.msg);
    int32_t ids[6] = {2, 22, 11, 20, 31, 3}, masked[6] = {2, 4, 4, 4, 4, 3}, T = 6;
    attx_ctx *ctx = attx_ctx_new();
    attx_outputs out;
    attx_batch batch = {.B = 1, .T = T, .ids = ids, .lengths = &T};
    assert_int_equal(attx_forward(m, ctx, &batch, &out, &err), 0);
    float z_full[2] = {out.logits->data[0], out.logits->data[1]};
    batch.ids = masked;
    assert_int_equal(attx_forward(m, ctx, &batch, &out, &err), 0);
    float z_empty[2] = {out.logits->data[0], out.logits->data[1]};
    for (int value = 0; value < 3; value++)
        for (int bs = 1; bs <= 3; bs += 2) {
            attx_model_game_options o = {.klass = 1, .value = (attx_model_value)value, .batch_size = bs, .mask_id = -1};
            attx_game g;
            if (attx_game_model_text(&g, m, ids, T, &o, &err) != 0) fail_msg("%s", err.msg);
            assert_int_equal(g.n, 4);
            uint64_t masks[3] = {0, 15, 5};
            double v[3];
            assert_int_equal(attx_game_eval(&g, 3, masks, v, &err), 0);
            assert_int_equal(attx_game_model_forwards(&g), 3);
            double want[2];
            const float *zz[2] = {z_empty, z_full};
            for (int k = 0; k < 2; k++) {
                double p1 = 1 / (1 + exp((double)zz[k][0] - zz[k][1]));
                want[k] = value == 0 ? p1 : value == 1 ? zz[k][1] : log(p1 / (1 - p1));
            }
            assert_true(fabs(v[0] - want[0]) < 1e-6);
            assert_true(fabs(v[1] - want[1]) < 1e-6);
            attx_game_free(&g);
        }
    attx_model_game_options bad = {.klass = 5, .mask_id = -1};
    attx_game g;
    assert_int_equal(attx_game_model_text(&g, m, ids, T, &bad, &err), -1);
    assert_contains(err.msg, "class 5 is out of range");
    attx_ctx_free(ctx);
    attx_model_close(m);
}

/* ------------------------------------------------------------------------------------------ */
/* Images: a random ViT (8x8 pixels, 4x4 patches: 4 players)                                  */

static const char *VIT_CONFIG =
    "{\"model_type\": \"vit\", \"hidden_size\": 8, \"num_hidden_layers\": 2, \"num_attention_heads\": 2,"
    " \"intermediate_size\": 16, \"image_size\": 8, \"patch_size\": 4, \"num_channels\": 3,"
    " \"initializer_range\": 0.5, \"num_labels\": 3}";

static float *vit_pixels(int numel)
{
    float *p = malloc((size_t)numel * sizeof *p);
    uint64_t s = 42;
    for (int i = 0; i < numel; i++) p[i] = (float)((tu_random(&s) % 2001) / 1000.0 - 1.0);
    return p;
}

static void test_vit_methods(void **state)
{
    (void)state;
    attx_model *m;
    attx_error err;
    if (attx_model_create(&m, VIT_CONFIG, NULL, 0, 7, &err) != 0) fail_msg("%s", err.msg);
    float *px = vit_pixels(3 * 8 * 8);
    int n_all = attx_method_count();
    const char **all = malloc((size_t)n_all * sizeof *all);
    for (int i = 0; i < n_all; i++) all[i] = attx_method_name(i);
    attx_explanation ex;
    if (attx_explain_image(m, px, all, n_all, NULL, &ex, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(ex.n_players, 4);
    assert_int_equal(ex.grid_h, 2);
    assert_int_equal(ex.grid_w, 2);
    const attx_method_result *ig = method(&ex, "integrated-gradients");
    print_message("ViT: IG completeness error %.2e\n", ig->completeness_error);
    assert_true(ig->completeness_error < 0.01);

    /* grad-x-input from a tape pass here: patch row i of inputs_embeds */
    attx_ctx *ctx = attx_ctx_new();
    attx_ctx_set_tape(ctx, 1);
    attx_outputs out;
    attx_batch batch = {.B = 1, .pixels = px};
    assert_int_equal(attx_forward(m, ctx, &batch, &out, &err), 0);
    float seed[3] = {0};
    seed[ex.klass] = 1;
    assert_int_equal(attx_backward(ctx, out.logits, seed), 0);
    double want[4];
    for (int i = 0; i < 4; i++) {
        want[i] = 0;
        for (int k = 0; k < 8; k++) want[i] += (double)out.inputs_embeds->data[i * 8 + k] * out.inputs_embeds->grad[i * 8 + k];
    }
    expect_close("vit grad-x-input", method(&ex, "grad-x-input")->scores, want, 4, 1e-7, 1e-5);

    /* shapley-input: v(S) with the other patches at the baseline, brute force here */
    double v[16];
    float *img = malloc(3 * 64 * sizeof *img);
    attx_ctx *plain = attx_ctx_new();
    for (int S = 0; S < 16; S++) {
        memcpy(img, px, 3 * 64 * sizeof *img);
        for (int p = 0; p < 4; p++)
            if (!(S >> p & 1))
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < 4; y++)
                        for (int x = 0; x < 4; x++) img[c * 64 + ((p / 2) * 4 + y) * 8 + (p % 2) * 4 + x] = 0;
        attx_batch b1 = {.B = 1, .pixels = img};
        attx_ctx_reset(plain);
        assert_int_equal(attx_forward(m, plain, &b1, &out, &err), 0);
        double mx = -1e300, sum = 0;
        for (int k = 0; k < 3; k++) mx = fmax(mx, out.logits->data[k]);
        for (int k = 0; k < 3; k++) sum += exp(out.logits->data[k] - mx);
        v[S] = exp(out.logits->data[ex.klass] - mx) / sum;
    }
    const double w[4] = {1.0 / 4, 1.0 / 12, 1.0 / 12, 1.0 / 4};   /* s!(n-s-1)!/n!, n = 4 */
    for (int i = 0; i < 4; i++) {
        want[i] = 0;
        for (int S = 0; S < 16; S++)
            if (!(S >> i & 1)) want[i] += w[__builtin_popcount((unsigned)S)] * (v[S | 1 << i] - v[S]);
    }
    expect_close("vit shapley-input", method(&ex, "shapley-input")->scores, want, 4, 1e-6, 1e-5);
    attx_explanation_free(&ex);

    /* text on an image model, images on a text model: clear errors */
    assert_int_equal(attx_explain_text(m, "hello", 5, all, 1, NULL, &ex, &err), -1);
    assert_contains(err.msg, "does not take text");
    attx_explanation_free(&ex);
    free(img);
    free(px);
    free(all);
    attx_ctx_free(ctx);
    attx_ctx_free(plain);
    attx_model_close(m);
}


/* shap in P1's mode explains log(p1/(1-p1)) whatever the class: on a two-class model that is
 * minus the logit-odds of class 0, so its values are the negated default values for class 0. */
static void test_shap_p1_mode(void **state)
{
    (void)state;
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, "test/fixtures/bert/batch", &err) != 0) fail_msg("%s", err.msg);
    const char *text = "the film was really fun , not boring";
    const char *names[] = {"shap"};
    attx_explain_options o;
    attx_explain_options_init(&o);
    o.klass = 0;
    attx_explanation a, b;
    if (attx_explain_text(m, text, strlen(text), names, 1, &o, &a, &err) != 0) fail_msg("%s", err.msg);
    o.shap_p1 = 1;
    if (attx_explain_text(m, text, strlen(text), names, 1, &o, &b, &err) != 0) fail_msg("%s", err.msg);
    assert_non_null(strstr(b.methods[0].how, "class 1"));
    double neg[32];
    for (int i = 0; i < a.n_players; i++) neg[i] = -a.methods[0].scores[i];
    expect_close("shap p1", b.methods[0].scores, neg, a.n_players, 1e-9, 1e-6);
    attx_explanation_free(&a);
    attx_explanation_free(&b);
    attx_model_close(m);
}

/* att-ig with one path point is the grad-att [CLS] row at the midpoint of the path, which the
 * test builds here: content rows halfway between the word embeddings and [PAD]'s. */
static void test_att_ig_one_step(void **state)
{
    (void)state;
    fixture f;
    load_fixture(&f, "heads4");
    int len = f.lengths[0], n = len - 2, D = f.cfg->hidden_size;
    int32_t *ids = example_ids(&f, 0);
    const char *names[] = {"att-ig"};
    attx_explain_options o;
    attx_explain_options_init(&o);
    o.steps = 1;
    attx_explanation ex;
    attx_error err;
    if (attx_explain_ids(f.model, ids, len, names, 1, &o, &ex, &err) != 0) fail_msg("%s", err.msg);
    /* the midpoint input: the reference embeddings, content rows averaged with row [PAD] = id 0 */
    const attx_stored_tensor *emb = ref_tensor(&f, "inputs_embeds", 0);
    float *mid = malloc((size_t)len * D * sizeof *mid);
    for (int t = 0; t < len; t++)
        for (int k = 0; k < D; k++) mid[t * D + k] = (float)at(emb, (uint64_t)t * D + k);
    int32_t pad_ids[1] = {0}, one = 1;
    attx_ctx *ctx = attx_ctx_new();
    attx_ctx_set_tape(ctx, 1);
    attx_outputs out;
    attx_batch pb = {.B = 1, .T = 1, .ids = pad_ids, .lengths = &one};
    assert_int_equal(attx_forward(f.model, ctx, &pb, &out, &err), 0);
    float *pad = malloc((size_t)D * sizeof *pad);
    memcpy(pad, out.inputs_embeds->data, (size_t)D * sizeof *pad);
    for (int t = 1; t <= n; t++)
        for (int k = 0; k < D; k++) mid[t * D + k] = (float)(pad[k] + 0.5 * ((double)mid[t * D + k] - pad[k]));
    attx_ctx_reset(ctx);
    attx_batch mb = {.B = 1, .T = len, .ids = ids, .lengths = &len, .inputs_embeds = mid};
    assert_int_equal(attx_forward(f.model, ctx, &mb, &out, &err), 0);
    float seed[3] = {0};
    seed[ex.klass] = 1;
    assert_int_equal(attx_backward(ctx, out.logits, seed), 0);
    double want[32];
    for (int j = 0; j < n; j++) {
        want[j] = 0;
        for (int l = 0; l < f.L; l++)
            for (int h = 0; h < f.H; h++) {
                size_t k = ((size_t)h * len + 0) * len + 1 + j;
                double a = out.attn[l]->data[k], g = out.attn[l]->grad[k];
                want[j] += a * (g > 0 ? g : 0) / (f.H * f.L);
            }
    }
    expect_close("att-ig 1 step", ex.methods[0].scores, want, n, 1e-7, 1e-5);
    attx_explanation_free(&ex);
    attx_ctx_free(ctx);
    free(mid);
    free(pad);
    free(ids);
    free_fixture(&f);
}

/* lime: the distinct words are the features (both "the" tokens, both "movie" tokens and the two
 * pieces of one word share a coefficient), and the scores are attx_lime's on a word game the
 * test builds itself from plain model games. */
typedef struct { attx_game *tokens; const int *word_of; int n_tokens; } word_game;

static int word_game_eval(void *user, int n, size_t count, const uint64_t *masks, double *values, attx_error *err)
{
    const word_game *wg = user;
    (void)n;
    uint64_t *tm = calloc(count, sizeof *tm);
    for (size_t k = 0; k < count; k++)
        for (int t = 0; t < wg->n_tokens; t++)
            if (masks[k] >> wg->word_of[t] & 1) tm[k] |= (uint64_t)1 << t;
    int rc = attx_game_eval(wg->tokens, count, tm, values, err);
    free(tm);
    return rc;
}

static void test_lime_words(void **state)
{
    (void)state;
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, "test/fixtures/bert/tiny", &err) != 0) fail_msg("%s", err.msg);
    const char *text = "the movie was boring , the movie was unful";
    const char *names[] = {"lime"};
    attx_explain_options o;
    attx_explain_options_init(&o);
    o.samples = 600;
    o.seed = 3;
    attx_explanation ex;
    if (attx_explain_text(m, text, strlen(text), names, 1, &o, &ex, &err) != 0) fail_msg("%s", err.msg);
    /* the tokens: the movie was boring , the movie was un ##ful (pieces of the tiny vocabulary) */
    attx_encoding enc;
    assert_int_equal(attx_encode_text(m, text, strlen(text), &enc, &err), 0);
    const attx_wordpiece *wp = attx_model_tokenizer(m);
    int n = enc.length - 2, word_of[16], n_words = 0;
    char words[16][32], cur[32] = "";
    assert_int_equal(n, ex.n_players);
    for (int i = 0, start = 0; i <= n; i++) {      /* an independent grouping of the pieces */
        const char *p = i < n ? attx_wordpiece_token(wp, enc.ids[1 + i]) : "";
        if (i < n && i > start && strncmp(p, "##", 2) == 0) {
            strcat(cur, p + 2);
            continue;
        }
        if (i > 0) {
            int f = 0;
            while (f < n_words && strcmp(words[f], cur) != 0) f++;
            if (f == n_words) strcpy(words[n_words++], cur);
            for (int j = start; j < i; j++) word_of[j] = f;
        }
        snprintf(cur, sizeof cur, "%s", p);
        start = i;
    }
    attx_model_game_options go = {.klass = ex.klass, .value = ATTX_VALUE_PROB, .mask_id = -1};
    attx_game tokens;
    assert_int_equal(attx_game_model_text(&tokens, m, enc.ids, enc.length, &go, &err), 0);
    word_game wg = {&tokens, word_of, n};
    attx_game g = {.n = n_words, .eval = word_game_eval, .user = &wg};
    attx_lime_options lo = {.seed = 3, .num_samples = 600};
    double coef[16];
    assert_int_equal(attx_lime(&g, &lo, coef, NULL, &err), 0);
    double want[16];
    for (int i = 0; i < n; i++) want[i] = coef[word_of[i]];
    expect_close("lime by words", ex.methods[0].scores, want, n, 1e-12, 0);
    assert_true(n_words < n);                                  /* repeated words were merged */
    assert_true(ex.methods[0].scores[0] == ex.methods[0].scores[5]);   /* the ... the */
    assert_int_equal(n, 10);
    assert_true(ex.methods[0].scores[8] == ex.methods[0].scores[9]);   /* un ##ful: one word */
    assert_int_equal(n_words, 6);                                    /* the movie was boring , unful */
    assert_int_equal(ex.methods[0].forward_passes, 600);
    /* lime-tokens: LIME on the tokens' game itself, every piece its own feature (same seed) */
    const char *names_tokens[] = {"lime-tokens"};
    attx_explanation ext;
    if (attx_explain_text(m, text, strlen(text), names_tokens, 1, &o, &ext, &err) != 0) fail_msg("%s", err.msg);
    double coef_tokens[16];
    assert_int_equal(attx_lime(&tokens, &lo, coef_tokens, NULL, &err), 0);
    expect_close("lime by tokens", ext.methods[0].scores, coef_tokens, n, 1e-12, 0);
    assert_true(ext.methods[0].scores[0] != ext.methods[0].scores[5]);   /* the ... the: two features now */
    attx_explanation_free(&ext);
    /* on a text of distinct one-piece words the two are the same features: the same values */
    const char *plain = "the movie was boring";
    attx_explanation a, b;
    if (attx_explain_text(m, plain, strlen(plain), names, 1, &o, &a, &err) != 0) fail_msg("%s", err.msg);
    if (attx_explain_text(m, plain, strlen(plain), names_tokens, 1, &o, &b, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(a.n_players, 4);
    assert_memory_equal(a.methods[0].scores, b.methods[0].scores, 4 * sizeof(double));
    attx_explanation_free(&a);
    attx_explanation_free(&b);
    attx_game_free(&tokens);
    attx_encoding_free(&enc);
    attx_explanation_free(&ex);
    attx_model_close(m);
}

static void test_errors(void **state)
{
    (void)state;
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, "test/fixtures/bert/tiny", &err) != 0) fail_msg("%s", err.msg);
    attx_explanation ex;
    const char *bad[] = {"att-cls", "frobnicate"};
    assert_int_equal(attx_explain_text(m, "good movie", 10, bad, 2, NULL, &ex, &err), -1);
    assert_contains(err.msg, "unknown method 'frobnicate'");
    attx_explanation_free(&ex);
    attx_explain_options o;
    attx_explain_options_init(&o);
    o.klass = 7;
    assert_int_equal(attx_explain_text(m, "good movie", 10, bad, 1, &o, &ex, &err), -1);
    assert_contains(err.msg, "class 7 is out of range");
    attx_explanation_free(&ex);
    int layer = 9;
    attx_explain_options_init(&o);
    o.layers.layers = &layer;
    o.layers.n_layers = 1;
    assert_int_equal(attx_explain_text(m, "good movie", 10, bad, 1, &o, &ex, &err), -1);
    assert_contains(err.msg, "layer 9 is out of range");
    attx_explanation_free(&ex);
    assert_int_equal(attx_method_find("grad-att-max-mutual") >= 0, 1);
    assert_true(attx_method_find("lime") >= 0);
    assert_int_equal(attx_method_find("lime-text"), -1);
    /* one player: the closed forms' n = 1 rule */
    const char *mm[] = {"att-mutual", "att-max-mutual"};
    if (attx_explain_text(m, "good", 4, mm, 2, NULL, &ex, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(ex.n_players, 1);
    assert_true(isfinite(ex.methods[0].scores[0]) && ex.methods[0].scores[0] > 0);
    attx_explanation_free(&ex);
    attx_model_close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_influence_matches_reference),
        cmocka_unit_test(test_methods_match_reference),
        cmocka_unit_test(test_exact_equals_closed_form),
        cmocka_unit_test(test_integrated_gradients_completeness),
        cmocka_unit_test(test_shapley_input_brute_force),
        cmocka_unit_test(test_rollout_by_hand),
        cmocka_unit_test(test_shap_p1_mode),
        cmocka_unit_test(test_att_ig_one_step),
        cmocka_unit_test(test_model_game_text),
        cmocka_unit_test(test_vit_methods),
        cmocka_unit_test(test_lime_words),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
