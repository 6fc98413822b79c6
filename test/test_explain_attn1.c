/* test_explain_attn1.c — the explanation methods on attn1 (the one-layer [CLS]-query classifier of
 * Lopardo et al.), against the PyTorch reference of test/fixtures/attn1 (tools/reference/attn1_ref.py:
 * α, e and the gradients of the predicted logit), P2's identities (α-avg, α-max, G-avg, G-l1, G-l2,
 * G×I = e_t·∇f), Theorem 4.1's closed form against PyTorch's autograd, brute-force Shapley values
 * of the UNK-in-place model game, IG completeness, and clear errors for the T×T methods. */
#include "testutil.h"
#include "attx_explain.h"

#include <math.h>

#define FIXTURE "test/fixtures/attn1"

typedef struct ref_fixture {
    attx_model *model;
    attx_tensor_file ref;
    int B, T, K, D;
} ref_fixture;

static const attx_stored_tensor *ref_tensor(const attx_tensor_file *ref, const char *name)
{
    const attx_stored_tensor *t = attx_tensor_file_find(ref, name);
    if (!t) fail_msg("reference has no %s", name);
    assert_int_equal(t->dtype, ATTX_F32);
    return t;
}

static double ref_at(const attx_tensor_file *ref, const char *name, size_t i)
{
    float v;
    memcpy(&v, ref_tensor(ref, name)->data + 4 * i, 4);
    return v;
}

static void load(ref_fixture *f)
{
    attx_error err;
    memset(f, 0, sizeof *f);
    if (attx_model_open(&f->model, FIXTURE, &err) != 0) fail_msg("%s", err.msg);
    if (attx_safetensors_open(&f->ref, FIXTURE "/reference.safetensors", &err) != 0) fail_msg("%s", err.msg);
    const attx_stored_tensor *ids = attx_tensor_file_find(&f->ref, "input_ids");
    assert_non_null(ids);
    f->B = (int)ids->shape[0];
    f->T = (int)ids->shape[1];
    const attx_config *c = attx_model_config(f->model);
    f->K = c->num_heads;
    f->D = c->hidden_size;
    assert_int_equal(f->T, c->max_position_embeddings);
}

static void unload(ref_fixture *f)
{
    attx_model_close(f->model);
    attx_tensor_file_close(&f->ref);
}

static const char *ref_text(ref_fixture *f, int b)
{
    char key[32];
    snprintf(key, sizeof key, "text.%d", b);
    const char *t = attx_tensor_file_meta(&f->ref, key);
    assert_non_null(t);
    return t;
}

static void explain(ref_fixture *f, int b, const char *methods_csv, attx_explanation *ex)
{
    const char *names[32];
    char buf[512];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", methods_csv);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) names[n++] = t;
    attx_error err;
    const char *text = ref_text(f, b);
    if (attx_explain_text(f->model, text, strlen(text), names, n, NULL, ex, &err) != 0) fail_msg("%s", err.msg);
}

/* Players are the words, not the UNK padding; P2's attention and gradient explanations equal the
 * reference's α and gradients of the predicted logit reduced by hand. */
static void test_attention_and_gradient_methods(void **state)
{
    (void)state;
    ref_fixture f;
    load(&f);
    int T = f.T, K = f.K, D = f.D;
    double worst = 0;
    for (int b = 0; b < f.B; b++) {
        attx_explanation ex;
        explain(&f, b, "att-avg,att-max,att-cls,grad-att-cls,grad-avg,grad-l1,grad-l2,grad-x-input", &ex);
        attx_encoding enc;
        attx_error err;
        const char *text = ref_text(&f, b);
        if (attx_encode_text(f.model, text, strlen(text), &enc, &err) != 0) fail_msg("%s", err.msg);
        assert_int_equal(ex.n_players, (int)enc.tokens.n);      /* the words, never the padding */
        assert_true(ex.n_players < T - 1 || b == 1);
        /* the reference's predicted class is the explained one */
        int pred = ref_at(&f.ref, "logits", (size_t)b * 2 + 1) > ref_at(&f.ref, "logits", (size_t)b * 2);
        assert_int_equal(ex.klass, pred);
        for (int i = 0; i < ex.n_players; i++) {
            int t = 1 + i;
            double avg = 0, mx = -1, gatt = 0, gsum = 0, gl1 = 0, gl2 = 0, gxi = 0;
            for (int h = 0; h < K; h++) {
                size_t at = ((size_t)b * K + h) * T + t;
                double a = ref_at(&f.ref, "alpha", at), da = ref_at(&f.ref, "gradp_alpha", at);
                avg += a / K;
                mx = fmax(mx, a);
                gatt += a * (da > 0 ? da : 0) / K;
            }
            for (int k = 0; k < D; k++) {
                size_t at = ((size_t)b * T + t) * D + k;
                double g = ref_at(&f.ref, "gradp_inputs_embeds", at), e = ref_at(&f.ref, "inputs_embeds", at);
                gsum += g;
                gl1 += fabs(g);
                gl2 += g * g;
                gxi += e * g;
            }
            double want[8] = {avg, mx, avg, gatt, gsum / D, gl1, sqrt(gl2), gxi};
            for (int m = 0; m < 8; m++) {
                double got = ex.methods[m].scores[i], d = fabs(got - want[m]);
                if (d > 1e-5 + 1e-4 * fabs(want[m]))
                    fail_msg("text %d word %d %s: attx %.8g, reference %.8g", b, i, ex.methods[m].name, got, want[m]);
                worst = fmax(worst, d);
            }
        }
        attx_encoding_free(&enc);
        attx_explanation_free(&ex);
    }
    printf("attn1 attention/gradient methods vs the PyTorch reference: max |error| %.2e\n", worst);
    unload(&f);
}

/* Theorem 4.1 from the attx forward's e and α against PyTorch's autograd gradient of the predicted
 * logit (reference gradp_inputs_embeds), t >= 1; and G×I from it equals grad-x-input. */
static void test_theorem41_against_reference(void **state)
{
    (void)state;
    ref_fixture f;
    load(&f);
    int T = f.T, K = f.K, D = f.D;
    double worst_rel = 0;
    for (int b = 0; b < f.B; b++) {
        attx_explanation ex;
        explain(&f, b, "grad-x-input", &ex);
        float e[16 * 16], alpha[8 * 16];
        assert_true(T * D <= 256 && K * T <= 128);
        for (int i = 0; i < T * D; i++) e[i] = (float)ref_at(&f.ref, "inputs_embeds", (size_t)b * T * D + i);
        for (int i = 0; i < K * T; i++) alpha[i] = (float)ref_at(&f.ref, "alpha", (size_t)b * K * T + i);
        double g[16 * 16];
        attx_error err;
        if (attx_attn1_theorem41(f.model, e, alpha, ex.klass, g, &err) != 0) fail_msg("%s", err.msg);
        for (int t = 1; t < T; t++) {
            double num = 0, den = 0, gxi = 0;
            for (int k = 0; k < D; k++) {
                double r = ref_at(&f.ref, "gradp_inputs_embeds", ((size_t)b * T + t) * D + k);
                num += (g[t * D + k] - r) * (g[t * D + k] - r);
                den += r * r;
                gxi += e[t * D + k] * g[t * D + k];
            }
            double rel = sqrt(num) / fmax(sqrt(den), 1e-30);
            if (rel > 1e-4) fail_msg("text %d position %d: relative error %.3g", b, t, rel);
            worst_rel = fmax(worst_rel, rel);
            if (t <= ex.n_players) assert_true(fabs(gxi - ex.methods[0].scores[t - 1]) < 1e-5 + 1e-4 * fabs(gxi));
        }
        attx_explanation_free(&ex);
    }
    printf("Theorem 4.1 vs PyTorch autograd (t >= 1): max relative error %.2e\n", worst_rel);
    unload(&f);
}

/* shapley-input on attn1 = brute-force Shapley values of v(S) = p(class | words outside S -> UNK,
 * in place), the game built here with attx_forward; efficiency; explain_ids = explain_text. */
static void test_model_game_unk_in_place(void **state)
{
    (void)state;
    ref_fixture f;
    load(&f);
    int T = f.T;
    attx_explanation ex;
    explain(&f, 0, "shapley-input", &ex);
    int n = ex.n_players, klass = ex.klass;
    assert_true(n >= 4 && n <= 14);
    size_t count = (size_t)1 << n;
    double *v = malloc(count * sizeof *v);
    int32_t *ids = malloc((size_t)T * 64 * sizeof *ids), lens[64];
    attx_ctx *ctx = attx_ctx_new();
    attx_error err;
    for (size_t s0 = 0; s0 < count; s0 += 64) {
        int B = (int)(count - s0 < 64 ? count - s0 : 64);
        for (int b = 0; b < B; b++) {
            lens[b] = T;
            for (int t = 0; t < T; t++) {
                int32_t id = ex.enc.ids[t];
                if (t >= 1 && t <= n && !(((s0 + (size_t)b) >> (t - 1)) & 1)) id = 1;   /* UNK */
                ids[b * T + t] = id;
            }
        }
        attx_batch batch = {.B = B, .T = T, .ids = ids, .lengths = lens};
        attx_outputs out;
        attx_ctx_reset(ctx);
        if (attx_forward(f.model, ctx, &batch, &out, &err) != 0) fail_msg("%s", err.msg);
        for (int b = 0; b < B; b++) {
            double z0 = out.logits->data[b * 2], z1 = out.logits->data[b * 2 + 1], m = fmax(z0, z1);
            double p = exp((klass ? z1 : z0) - m) / (exp(z0 - m) + exp(z1 - m));
            v[s0 + (size_t)b] = p;
        }
    }
    double fact[20] = {1};
    for (int i = 1; i < 20; i++) fact[i] = fact[i - 1] * i;
    double sum = 0, worst = 0;
    for (int i = 0; i < n; i++) {
        double phi = 0;
        for (size_t S = 0; S < count; S++) {
            if ((S >> i) & 1) continue;
            int s = __builtin_popcountll(S);
            phi += fact[s] * fact[n - s - 1] / fact[n] * (v[S | ((size_t)1 << i)] - v[S]);
        }
        worst = fmax(worst, fabs(phi - ex.methods[0].scores[i]));
        sum += ex.methods[0].scores[i];
    }
    assert_true(worst < 1e-6);
    assert_true(fabs(sum - (v[count - 1] - v[0])) < 1e-6);
    printf("attn1 shapley-input vs brute force (%d words, UNK in place): max |error| %.2e\n", n, worst);

    /* attx_explain_ids with the unpadded [cls] w1..wn gives the same players and scores */
    attx_explanation ex2;
    const char *names[] = {"shapley-input"};
    if (attx_explain_ids(f.model, ex.enc.ids, n + 1, names, 1, NULL, &ex2, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(ex2.n_players, n);
    assert_int_equal(ex2.enc.length, T);
    for (int i = 0; i < n; i++) assert_true(fabs(ex2.methods[0].scores[i] - ex.methods[0].scores[i]) < 1e-12);
    attx_explanation_free(&ex2);
    /* too long for the positions */
    int32_t longer[40] = {0};
    assert_int_equal(attx_explain_ids(f.model, longer, T + 1, names, 1, NULL, &ex2, &err), -1);
    assert_non_null(strstr(err.msg, "positions"));
    attx_explanation_free(&ex2);

    attx_ctx_free(ctx);
    free(v);
    free(ids);
    attx_explanation_free(&ex);
    unload(&f);
}

/* IG (UNK baseline, the path in W_e[x]) is complete; lime and shap run; the T x T methods fail
 * with a message naming the reason. */
static void test_other_methods_and_errors(void **state)
{
    (void)state;
    ref_fixture f;
    load(&f);
    attx_explanation ex;
    explain(&f, 0, "integrated-gradients,att-ig,lime,shap", &ex);
    assert_true(ex.methods[0].completeness_error < 0.01);
    printf("attn1 integrated gradients (64 steps): completeness error %.2e\n", ex.methods[0].completeness_error);
    for (int m = 0; m < ex.n_methods; m++) assert_int_equal(ex.methods[m].n, ex.n_players);
    attx_explanation_free(&ex);
    static const char *bad[] = {"att-mutual", "grad-att-mutual", "att-max-mutual", "grad-att-max-mutual", "att",
                                "grad-sam", "rollout", "grad-rollout"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        attx_error err;
        const char *text = ref_text(&f, 0);
        assert_int_equal(attx_explain_text(f.model, text, strlen(text), &bad[k], 1, NULL, &ex, &err), -1);
        if (!strstr(err.msg, "[CLS] row")) fail_msg("%s: unclear error '%s'", bad[k], err.msg);
        attx_explanation_free(&ex);
    }
    unload(&f);
}

/* Eq. (19) against the reference's per-position terms (attn1_ref.py, per-head loops): each word
 * its own feature, then distinct words (a word's positions summed); a text whose every word is
 * UNK is the all-UNK document, so beta = 0. */
static void test_lime_approx(void **state)
{
    (void)state;
    ref_fixture f;
    load(&f);
    attx_error err;
    int T = f.T;
    double worst = 0;
    for (int b = 0; b < f.B; b++) {
        attx_encoding enc;
        const char *text = ref_text(&f, b);
        if (attx_encode_text(f.model, text, strlen(text), &enc, &err) != 0) fail_msg("%s", err.msg);
        int n = (int)enc.tokens.n, own[16], distinct[16], d = 0;
        assert_true(n < 16);
        for (int t = 0; t < n; t++) {
            own[t] = t;
            int j = 0;
            while (j < t && enc.ids[1 + j] != enc.ids[1 + t]) j++;
            distinct[t] = j < t ? distinct[j] : d++;
        }
        double beta[16], want[16] = {0};
        if (attx_attn1_lime_approx(f.model, enc.ids, n + 1, 1, own, n, beta, &err) != 0) fail_msg("%s", err.msg);
        for (int t = 0; t < n; t++) {
            double r = ref_at(&f.ref, "eq19_terms", (size_t)b * T + 1 + t);
            if (fabs(beta[t] - r) > 1e-6 + 1e-5 * fabs(r)) fail_msg("text %d word %d: attx %.8g, reference %.8g", b, t, beta[t], r);
            worst = fmax(worst, fabs(beta[t] - r));
            want[distinct[t]] += r;
        }
        if (attx_attn1_lime_approx(f.model, enc.ids, n + 1, 1, distinct, d, beta, &err) != 0) fail_msg("%s", err.msg);
        assert_true(d < n || b == 1);   /* text 0 repeats "a" */
        for (int j = 0; j < d; j++) assert_true(fabs(beta[j] - want[j]) < 1e-6 + 1e-5 * fabs(want[j]));
        attx_encoding_free(&enc);
    }
    printf("Eq. (19) vs the reference's per-position terms: max |error| %.2e\n", worst);
    int32_t ids[4] = {0, 1, 1, 1};
    int feature_of[3] = {0, 1, 1};
    double beta[2];
    if (attx_attn1_lime_approx(f.model, ids, 4, 1, feature_of, 2, beta, &err) != 0) fail_msg("%s", err.msg);
    assert_true(fabs(beta[0]) < 1e-12 && fabs(beta[1]) < 1e-12);
    /* no words: an error */
    assert_int_equal(attx_attn1_lime_approx(f.model, ids, 1, 1, feature_of, 2, beta, &err), -1);
    unload(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_and_gradient_methods),
        cmocka_unit_test(test_theorem41_against_reference),
        cmocka_unit_test(test_model_game_unk_in_place),
        cmocka_unit_test(test_other_methods_and_errors),
        cmocka_unit_test(test_lime_approx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
