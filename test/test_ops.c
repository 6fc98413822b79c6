/* test_ops.c — every op's backward against central finite differences, the vectorisable
 * exp/erf/tanh against double-precision libm, and the arena/tape mechanics. */
#include "testutil.h"

#include <math.h>

#include "mathf.h"
#include "ops.h"
#include "parallel.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float uniform(void)   /* in [-1, 1) */
{
    return (float)((tu_random(&rng) >> 40) / 8388608.0 - 1.0);
}

static attx_tensor *random_tensor(attx_ctx *ctx, int ndim, const int64_t *shape, float scale, int grad)
{
    attx_tensor *t = attx_tensor_new(ctx, ndim, shape);
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = scale * uniform();
    if (grad) t->flags |= ATTX_REQUIRES_GRAD;
    return t;
}

/* The op under test, run on inputs in[]; returns its output. */
typedef attx_tensor *(*op_fn)(attx_ctx *ctx, attx_tensor **in, const void *arg);

/* loss(in) = Σ out ⊙ w for fixed random w. Checks d loss / d in[k] from the tape against
 * central differences for every element of every input that requires a gradient. */
static void check_gradients(op_fn op, attx_tensor **in, int n_in, const void *arg, float eps, float tol)
{
    attx_ctx *ctx = attx_ctx_new();
    attx_ctx_set_tape(ctx, 1);
    attx_tensor *out = op(ctx, in, arg);
    assert_non_null(out);
    float *w = malloc((size_t)out->numel * sizeof *w);
    for (int64_t i = 0; i < out->numel; i++) w[i] = uniform();
    assert_int_equal(attx_backward(ctx, out, w), 0);

    attx_ctx *probe = attx_ctx_new();
    for (int k = 0; k < n_in; k++) {
        if (!(in[k]->flags & ATTX_REQUIRES_GRAD)) continue;
        assert_non_null(in[k]->grad);
        for (int64_t i = 0; i < in[k]->numel; i++) {
            float saved = in[k]->data[i];
            double loss[2];
            for (int side = 0; side < 2; side++) {
                in[k]->data[i] = saved + (side ? -eps : eps);
                attx_ctx_reset(probe);
                attx_tensor *o = op(probe, in, arg);
                double s = 0;
                for (int64_t j = 0; j < o->numel; j++) s += (double)o->data[j] * w[j];
                loss[side] = s;
            }
            in[k]->data[i] = saved;
            double numeric = (loss[0] - loss[1]) / (2.0 * eps);
            double analytic = in[k]->grad[i];
            double scale = fmax(1.0, fabs(numeric));
            if (fabs(numeric - analytic) > tol * scale)
                fail_msg("input %d element %lld: tape %.6g, finite difference %.6g", k, (long long)i,
                         analytic, numeric);
        }
    }
    free(w);
    attx_ctx_free(probe);
    attx_ctx_free(ctx);
}

static attx_tensor *run_linear(attx_ctx *ctx, attx_tensor **in, const void *arg)
{
    (void)arg;
    return attx_op_linear(ctx, in[0], in[1], in[2]);
}

static void test_linear_gradient(void **state)
{
    (void)state;
    attx_ctx *ctx = attx_ctx_new();
    int64_t xs[3] = {2, 3, 5}, ws[2] = {4, 5}, bs[1] = {4};
    attx_tensor *in[3] = {random_tensor(ctx, 3, xs, 1, 1), random_tensor(ctx, 2, ws, 1, 1),
                          random_tensor(ctx, 1, bs, 1, 1)};
    check_gradients(run_linear, in, 3, NULL, 1e-2f, 2e-3f);
    attx_ctx_free(ctx);
}

static attx_tensor *run_elementwise(attx_ctx *ctx, attx_tensor **in, const void *arg)
{
    switch (*(const int *)arg) {
    case 0: return attx_op_add(ctx, in[0], in[1]);
    case 1: return attx_op_scale(ctx, in[0], -0.75f);
    case 2: return attx_op_gelu(ctx, in[0]);
    default: return attx_op_tanh(ctx, in[0]);
    }
}

static void test_elementwise_gradients(void **state)
{
    (void)state;
    attx_ctx *ctx = attx_ctx_new();
    int64_t s[2] = {3, 7};
    for (int which = 0; which < 4; which++) {
        attx_tensor *in[2] = {random_tensor(ctx, 2, s, 3, 1), random_tensor(ctx, 2, s, 3, 1)};
        check_gradients(run_elementwise, in, which == 0 ? 2 : 1, &which, 1e-2f, 2e-3f);
    }
    attx_ctx_free(ctx);
}

static attx_tensor *run_layernorm(attx_ctx *ctx, attx_tensor **in, const void *arg)
{
    (void)arg;
    return attx_op_layernorm(ctx, in[0], in[1], in[2], 1e-5f);
}

static void test_layernorm_gradient(void **state)
{
    (void)state;
    attx_ctx *ctx = attx_ctx_new();
    int64_t xs[2] = {4, 6}, gs[1] = {6};
    attx_tensor *in[3] = {random_tensor(ctx, 2, xs, 2, 1), random_tensor(ctx, 1, gs, 1, 1),
                          random_tensor(ctx, 1, gs, 1, 1)};
    check_gradients(run_layernorm, in, 3, NULL, 1e-2f, 3e-3f);
    attx_ctx_free(ctx);
}

typedef struct { const int32_t *ids; int64_t B, T; } embed_arg;

static attx_tensor *run_embedding(attx_ctx *ctx, attx_tensor **in, const void *arg)
{
    const embed_arg *a = arg;
    attx_tensor *e = attx_op_embedding(ctx, in[0], a->ids, a->B, a->T);
    e = attx_op_add_embedding(ctx, e, in[1], a->ids);   /* repeated ids accumulate */
    return attx_op_first_token(ctx, attx_op_add(ctx, e, e));
}

static void test_embedding_gradients(void **state)
{
    (void)state;
    attx_ctx *ctx = attx_ctx_new();
    int64_t ts[2] = {5, 3};
    int32_t ids[6] = {4, 1, 4, 0, 2, 4};
    embed_arg arg = {ids, 2, 3};
    attx_tensor *in[2] = {random_tensor(ctx, 2, ts, 1, 1), random_tensor(ctx, 2, ts, 1, 1)};
    check_gradients(run_embedding, in, 2, &arg, 1e-2f, 2e-3f);
    attx_ctx_free(ctx);
}

/* pixels -> patch rows -> [CLS] prepended: the ViT embedding ops */
static attx_tensor *run_patches(attx_ctx *ctx, attx_tensor **in, const void *arg)
{
    (void)arg;
    return attx_op_prepend_row(ctx, attx_op_patchify(ctx, in[0], 2), in[1]);
}

static void test_patch_gradients(void **state)
{
    (void)state;
    attx_ctx *ctx = attx_ctx_new();
    int64_t ps[4] = {2, 3, 4, 5}, rs[1] = {12};        /* W = 5: the last column is ignored */
    attx_tensor *in[2] = {random_tensor(ctx, 4, ps, 1, 1), random_tensor(ctx, 1, rs, 1, 1)};
    check_gradients(run_patches, in, 2, NULL, 1e-2f, 2e-3f);
    /* layout: patch 1 (row 0, col 1) of image 1, feature (c=2, y=1, x=0) is pixel [1, 2, 1, 2] */
    attx_tensor *p = attx_op_patchify(ctx, in[0], 2);
    assert_int_equal(p->shape[1], 4);
    assert_int_equal(p->shape[2], 12);
    assert_true(p->data[(1 * 4 + 1) * 12 + 2 * 4 + 1 * 2 + 0] == in[0]->data[((1 * 3 + 2) * 4 + 1) * 5 + 2]);
    attx_ctx_free(ctx);
}

typedef struct { int H; const uint8_t *valid; } attention_arg;

/* scores -> masked softmax -> context: the three attention ops chained as a layer uses them */
static attx_tensor *run_attention(attx_ctx *ctx, attx_tensor **in, const void *arg)
{
    const attention_arg *a = arg;
    attx_tensor *s = attx_op_attention_scores(ctx, in[0], in[1], a->H, 0.5f);
    attx_tensor *p = attx_op_softmax(ctx, s, a->valid);
    return attx_op_attention_context(ctx, p, in[2]);
}

static void test_attention_gradients(void **state)
{
    (void)state;
    attx_ctx *ctx = attx_ctx_new();
    int64_t qs[3] = {2, 4, 6};                          /* B 2, T 4, H 2 x d 3 */
    uint8_t valid[8] = {1, 1, 1, 1, 1, 1, 0, 0};        /* second sequence: 2 padding keys */
    attention_arg arg = {2, valid};
    attx_tensor *in[3] = {random_tensor(ctx, 3, qs, 1, 1), random_tensor(ctx, 3, qs, 1, 1),
                          random_tensor(ctx, 3, qs, 1, 1)};
    check_gradients(run_attention, in, 3, &arg, 1e-2f, 2e-3f);

    /* padded keys get probability exactly 0 and rows sum to 1 */
    attx_ctx *c2 = attx_ctx_new();
    attx_tensor *p = attx_op_softmax(c2, attx_op_attention_scores(c2, in[0], in[1], 2, 0.5f), valid);
    for (int64_t r = 0; r < 2 * 2 * 4; r++) {
        double sum = 0;
        for (int j = 0; j < 4; j++) sum += p->data[r * 4 + j];
        assert_true(fabs(sum - 1.0) < 1e-6);
        if (r >= 8) assert_true(p->data[r * 4 + 2] == 0.0f && p->data[r * 4 + 3] == 0.0f);
    }
    attx_ctx_free(c2);
    attx_ctx_free(ctx);
}

/* The fused inference op gives the three ops' context bit for bit: several row blocks with a
 * partial last one, padding in some examples and not others, one query over many keys, and
 * 1 or 2 threads with the work thresholds at 0 so that both really run in parallel. */
static void check_fused_attention(int64_t B, int64_t T, int64_t S, int H, int64_t d, int64_t dv,
                                  const uint8_t *valid)
{
    attx_ctx *ctx = attx_ctx_new();
    int64_t qs[3] = {B, T, H * d}, ks[3] = {B, S, H * d}, vs[3] = {B, S, H * dv};
    attx_tensor *q = random_tensor(ctx, 3, qs, 2, 0), *k = random_tensor(ctx, 3, ks, 2, 0);
    attx_tensor *v = random_tensor(ctx, 3, vs, 1, 0);
    attx_tensor *chained = attx_op_attention_context(
        ctx, attx_op_softmax(ctx, attx_op_attention_scores(ctx, q, k, H, 0.35f), valid), v);
    assert_non_null(chained);
    int64_t saved[ATTX_WORK_KINDS];
    memcpy(saved, attx_parallel_min_work, sizeof saved);
    memset(attx_parallel_min_work, 0, sizeof saved);
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        attx_tensor *fused = attx_op_attention_fused(ctx, q, k, v, H, 0.35f, valid);
        assert_non_null(fused);
        assert_int_equal(fused->numel, chained->numel);
        for (int64_t i = 0; i < fused->numel; i++)
            if (memcmp(&fused->data[i], &chained->data[i], sizeof(float)) != 0)
                fail_msg("%d threads, element %lld: fused %.9g, three ops %.9g", threads, (long long)i,
                         fused->data[i], chained->data[i]);
    }
    memcpy(attx_parallel_min_work, saved, sizeof saved);
    omp_set_num_threads(omp_get_num_procs());
    attx_ctx_free(ctx);
}

static void test_fused_attention(void **state)
{
    (void)state;
    enum { B = 3, T = 150 };
    uint8_t valid[B * T];
    for (int b = 0; b < B; b++)   /* 150, 97 and 1 valid keys */
        for (int t = 0; t < T; t++) valid[b * T + t] = t < (b == 0 ? 150 : b == 1 ? 97 : 1);
    check_fused_attention(B, T, T, 4, 8, 6, valid);
    check_fused_attention(2, 64, 64, 12, 32, 32, NULL);
    check_fused_attention(2, 1, 37, 2, 5, 3, NULL);   /* one query (attn1's shape) */
}

/* One [CLS] query over all keys, as attn1 runs it: reshape [B, D] -> [B, 1, D] for the query,
 * scores, softmax without a mask, context [B, 1, H·dv] reshaped to [B, H·dv], a classifier. */
static attx_tensor *run_one_query(attx_ctx *ctx, attx_tensor **in, const void *arg)
{
    (void)arg;
    attx_tensor *x = in[0];
    int64_t B = x->shape[0], D = x->shape[2], q_shape[3] = {B, 1, D}, flat[2] = {B, in[3]->shape[0]};
    attx_tensor *q = attx_op_linear(ctx, attx_op_reshape(ctx, attx_op_first_token(ctx, x), 3, q_shape), in[1], NULL);
    attx_tensor *k = attx_op_linear(ctx, x, in[2], NULL), *v = attx_op_linear(ctx, x, in[3], NULL);
    attx_tensor *p = attx_op_softmax(ctx, attx_op_attention_scores(ctx, q, k, 2, 0.5f), NULL);
    return attx_op_linear(ctx, attx_op_reshape(ctx, attx_op_attention_context(ctx, p, v), 2, flat), in[4], NULL);
}

static void test_one_query_attention_gradients(void **state)
{
    (void)state;
    attx_ctx *ctx = attx_ctx_new();
    int64_t xs[3] = {2, 5, 4}, qs[2] = {6, 4}, vs[2] = {4, 4}, ls[2] = {3, 4};   /* H 2: d 3, dv 2 */
    attx_tensor *in[5] = {random_tensor(ctx, 3, xs, 1, 1), random_tensor(ctx, 2, qs, 1, 1),
                          random_tensor(ctx, 2, qs, 1, 1), random_tensor(ctx, 2, vs, 1, 1),
                          random_tensor(ctx, 2, ls, 1, 1)};
    check_gradients(run_one_query, in, 5, NULL, 1e-2f, 2e-3f);
    /* a reshape to a different element count is refused */
    int64_t wrong[2] = {3, 3};
    assert_null(attx_op_reshape(ctx, in[0], 2, wrong));
    attx_ctx_free(ctx);
}

/* The tape records nothing when no input requires a gradient, and the probabilities of an
 * attention chain get their own gradient (what the explain module reads). */
static void test_tape_mechanics(void **state)
{
    (void)state;
    attx_ctx *ctx = attx_ctx_new();
    attx_ctx_set_tape(ctx, 1);
    int64_t s[2] = {2, 3};
    attx_tensor *a = random_tensor(ctx, 2, s, 1, 0), *b = random_tensor(ctx, 2, s, 1, 0);
    attx_tensor *c = attx_op_add(ctx, a, b);
    assert_int_equal(ctx->n_nodes, 0);
    assert_false(c->flags & ATTX_REQUIRES_GRAD);
    a->flags |= ATTX_REQUIRES_GRAD;
    attx_tensor *d = attx_op_gelu(ctx, attx_op_add(ctx, a, b));
    assert_int_equal(ctx->n_nodes, 2);
    assert_true(d->flags & ATTX_REQUIRES_GRAD);
    assert_int_equal(attx_backward(ctx, d, NULL), 0);
    assert_non_null(a->grad);
    assert_null(b->grad);                              /* b never needed one */
    attx_ctx_set_tape(ctx, 0);
    size_t before = ctx->n_nodes;
    attx_op_gelu(ctx, a);
    assert_int_equal(ctx->n_nodes, before);

    /* mark / release returns the arena to where it was */
    attx_arena_mark m = attx_arena_get_mark(&ctx->arena);
    size_t used = ctx->arena.used_total;
    int64_t big[1] = {5 << 20};                        /* 20 MB: forces a new chunk */
    assert_non_null(attx_tensor_new(ctx, 1, big));
    assert_true(ctx->arena.used_total > used);
    attx_arena_release(&ctx->arena, m);
    assert_int_equal(ctx->arena.used_total, used);
    assert_non_null(attx_tensor_new(ctx, 1, big));    /* reuses the kept chunk */
    attx_ctx_free(ctx);
}

static void test_math_accuracy(void **state)
{
    (void)state;
    double worst_exp = 0, worst_erf = 0, worst_tanh = 0;
    for (double x = -87.0; x <= 88.0; x += 0.0007) {
        float f = (float)x;
        double r = exp((double)f);
        worst_exp = fmax(worst_exp, fabs(attx_expf(f) - r) / r);
    }
    for (double x = -9.0; x <= 9.0; x += 0.00003) {
        float f = (float)x;
        worst_erf = fmax(worst_erf, fabs(attx_erff(f) - erf((double)f)));
        worst_tanh = fmax(worst_tanh, fabs(attx_tanhf(f) - tanh((double)f)));
    }
    assert_true(worst_exp < 3e-7);
    assert_true(worst_erf < 5e-7);
    assert_true(worst_tanh < 3e-7);
    assert_true(attx_expf(-1000.0f) > 0.0f && attx_expf(-1000.0f) < 1e-37f);
    assert_true(isfinite(attx_expf(1000.0f)));
    assert_true(attx_erff(20.0f) == 1.0f && attx_erff(-20.0f) == -1.0f);
    assert_true(attx_tanhf(30.0f) == 1.0f);
    /* NaN in, NaN out, with no float-to-int conversion of NaN on the way (undefined behaviour
     * that clang's UBSan caught in attx_expf); volatile, so that no compiler folds it away */
    volatile float nan_in = NAN;
    assert_true(isnan(attx_expf(nan_in)) && isnan(attx_expf(-nan_in)));
    assert_true(isnan(attx_erff(nan_in)) && isnan(attx_tanhf(nan_in)));
    volatile float inf_in = INFINITY;
    assert_true(attx_expf(inf_in) == attx_expf(88.3f) && attx_expf(-inf_in) == attx_expf(-87.3f));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_gradient),
        cmocka_unit_test(test_elementwise_gradients),
        cmocka_unit_test(test_layernorm_gradient),
        cmocka_unit_test(test_embedding_gradients),
        cmocka_unit_test(test_patch_gradients),
        cmocka_unit_test(test_attention_gradients),
        cmocka_unit_test(test_one_query_attention_gradients),
        cmocka_unit_test(test_fused_attention),
        cmocka_unit_test(test_tape_mechanics),
        cmocka_unit_test(test_math_accuracy),
    };
    return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}
