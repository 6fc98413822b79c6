/* ops_attention.c — multi-head scaled dot-product attention as three ops, so that the
 * attention probabilities are a tensor of their own on the tape (the explain module reads
 * them and their gradient):
 *   scores_h = scale · Q_h K_h^T      probs = softmax(scores) over valid keys      context_h = probs_h V_h
 * Work is split over (batch, head) pairs; each pair's GEMMs run on one thread. */
#include "kernels.h"
#include "mathf.h"
#include "ops.h"
#include "parallel.h"

#include <string.h>

/* ---- scores[B, H, T, S] = scale · q_h k_h^T ---- */
static void scores_backward(attx_ctx *ctx, attx_node *node);

attx_tensor *attx_op_attention_scores(attx_ctx *ctx, attx_tensor *q, attx_tensor *k, int H,
                                      float scale)
{
    if (!q || !k) return NULL;
    int64_t B = q->shape[0], T = q->shape[1], S = k->shape[1], HD = q->shape[2], d = HD / H;
    attx_tensor *scores = attx_tensor_4d(ctx, B, H, T, S);
    if (!scores) return NULL;
#pragma omp parallel for collapse(2) if (B * H > 1 && ATTX_PARALLEL(ATTX_WORK_GEMM, B * H * T * S * d))
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            float *s = scores->data + (b * H + h) * T * S;
            attx_gemm(0, 1, (int)T, (int)S, (int)d, q->data + b * T * HD + h * d, (int)HD,
                      k->data + b * S * HD + h * d, (int)HD, 0.0f, s, (int)S);
            for (int64_t i = 0; i < T * S; i++) s[i] *= scale;
        }
    attx_node *n = attx_record(ctx, scores_backward, scores, q, k, NULL, NULL);
    if (n) {
        n->iarg[0] = H;
        n->farg[0] = scale;
    }
    return scores;
}

/* dQ_h += scale · dS_h K_h,   dK_h += scale · dS_h^T Q_h */
static void scores_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *scores = node->out, *q = node->in[0], *k = node->in[1];
    int64_t H = node->iarg[0], B = q->shape[0], T = q->shape[1], S = k->shape[1], HD = q->shape[2];
    int64_t d = HD / H;
    float scale = node->farg[0];
    float *dq = (q->flags & ATTX_REQUIRES_GRAD) ? attx_grad(ctx, q) : NULL;
    float *dk = (k->flags & ATTX_REQUIRES_GRAD) ? attx_grad(ctx, k) : NULL;
    float *scaled = attx_arena_alloc(&ctx->arena, (size_t)scores->numel * sizeof(float));
    if (!scaled || ((q->flags & ATTX_REQUIRES_GRAD) && !dq) || ((k->flags & ATTX_REQUIRES_GRAD) && !dk)) {
        ctx->failed = 1;
        return;
    }
#pragma omp parallel for collapse(2) if (B * H > 1 && ATTX_PARALLEL(ATTX_WORK_GEMM, 2 * B * H * T * S * d))
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            const float *ds = scores->grad + (b * H + h) * T * S;
            float *dss = scaled + (b * H + h) * T * S;
            for (int64_t i = 0; i < T * S; i++) dss[i] = scale * ds[i];
            if (dq)
                attx_gemm(0, 0, (int)T, (int)d, (int)S, dss, (int)S, k->data + b * S * HD + h * d, (int)HD,
                          1.0f, dq + b * T * HD + h * d, (int)HD);
            if (dk)
                attx_gemm(1, 0, (int)S, (int)d, (int)T, dss, (int)S, q->data + b * T * HD + h * d, (int)HD,
                          1.0f, dk + b * S * HD + h * d, (int)HD);
        }
}

/* ---- probs = softmax over valid keys ---- */
static void softmax_backward(attx_ctx *ctx, attx_node *node);


/* One row: p_j = exp(s_j − max) / Σ exp(s_k − max) over valid keys, 0 for padding keys
 * (keep[j] = 1 for a valid key, 0 for padding; NULL: all valid). The exponentials are summed as
 * they are made, in attx_sum's lanes; with padding every exponential is computed (finite:
 * attx_expf clamps) and multiplied by keep, which changes no bit of the valid ones. */
ATTX_CLONES static void softmax_row(const float *s, const uint8_t *valid, const float *keep, float *p, int64_t S)
{
    float max = attx_max_kept(s, valid, S);
    float acc[ATTX_LANES] = {0};
    int64_t j = 0;
    if (!keep) {
        for (; j + ATTX_LANES <= S; j += ATTX_LANES)
            for (int l = 0; l < ATTX_LANES; l++) acc[l] += p[j + l] = attx_expf(s[j + l] - max);
        for (int l = 0; j + l < S; l++) acc[l] += p[j + l] = attx_expf(s[j + l] - max);
    } else {
        for (; j + ATTX_LANES <= S; j += ATTX_LANES)
            for (int l = 0; l < ATTX_LANES; l++) acc[l] += p[j + l] = attx_expf(s[j + l] - max) * keep[j + l];
        for (int l = 0; j + l < S; l++) acc[l] += p[j + l] = attx_expf(s[j + l] - max) * keep[j + l];
    }
    float inv = 1.0f / attx_lanes_total(acc);
    for (j = 0; j < S; j++) p[j] *= inv;
}

/* dS_j = P_j (dP_j − Σ_k dP_k P_k) for one row */
ATTX_CLONES static void softmax_backward_row(const float *p, const float *dp, float *ds, int64_t S)
{
    float dot = attx_dot(dp, p, S);
    for (int64_t j = 0; j < S; j++) ds[j] += p[j] * (dp[j] - dot);
}

/* Per example b: NULL when all of its S keys are valid, else its keys as 1.0 (valid) / 0.0
 * (padding), the form softmax_row takes. NULL when out of memory. */
static const float **keys_kept(attx_ctx *ctx, const uint8_t *key_valid, int64_t B, int64_t S)
{
    const float **keep = attx_arena_alloc(&ctx->arena, (size_t)B * sizeof *keep);
    if (!keep) return NULL;
    for (int64_t b = 0; b < B; b++) {
        const uint8_t *v = key_valid ? key_valid + b * S : NULL;
        int64_t n_valid = 0;
        for (int64_t j = 0; v && j < S; j++) n_valid += v[j] != 0;
        keep[b] = NULL;
        if (v && n_valid < S) {
            float *k = attx_arena_alloc(&ctx->arena, (size_t)S * sizeof *k);
            if (!k) return NULL;
            for (int64_t j = 0; j < S; j++) k[j] = v[j] ? 1.0f : 0.0f;
            keep[b] = k;
        }
    }
    return keep;
}

attx_tensor *attx_op_softmax(attx_ctx *ctx, attx_tensor *scores, const uint8_t *key_valid)
{
    if (!scores) return NULL;
    int64_t B = scores->shape[0], H = scores->shape[1], T = scores->shape[2], S = scores->shape[3];
    int64_t rows = scores->numel / S;
    attx_tensor *probs = attx_tensor_new(ctx, 4, scores->shape);
    const float **keep = keys_kept(ctx, key_valid, B, S);
    if (!probs || !keep) {
        ctx->failed = 1;
        return NULL;
    }
#pragma omp parallel for if (ATTX_PARALLEL(ATTX_WORK_EXP, scores->numel))
    for (int64_t r = 0; r < rows; r++) {      /* row r = ((b·H + h)·T + t) */
        int64_t b = r / (H * T);
        softmax_row(scores->data + r * S, keep[b] ? key_valid + b * S : NULL, keep[b], probs->data + r * S, S);
    }
    attx_record(ctx, softmax_backward, probs, scores, NULL, NULL, NULL);
    return probs;
}

/* dS = P ⊙ (dP − Σ_j dP_j P_j), row by row (masked keys have P = 0, so dS = 0 there) */
static void softmax_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *probs = node->out, *scores = node->in[0];
    float *ds = attx_grad(ctx, scores);
    if (!ds) return;
    int64_t S = probs->shape[3], rows = probs->numel / S;
#pragma omp parallel for if (ATTX_PARALLEL(ATTX_WORK_EXP, probs->numel))
    for (int64_t r = 0; r < rows; r++) softmax_backward_row(probs->data + r * S, probs->grad + r * S, ds + r * S, S);
}

/* ---- context[B, T, H·dv] = probs_h V_h ---- */
static void context_backward(attx_ctx *ctx, attx_node *node);

attx_tensor *attx_op_attention_context(attx_ctx *ctx, attx_tensor *probs, attx_tensor *v)
{
    if (!probs || !v) return NULL;
    int64_t B = probs->shape[0], H = probs->shape[1], T = probs->shape[2], S = probs->shape[3];
    int64_t HV = v->shape[2], dv = HV / H;
    attx_tensor *out = attx_tensor_3d(ctx, B, T, HV);
    if (!out) return NULL;
#pragma omp parallel for collapse(2) if (B * H > 1 && ATTX_PARALLEL(ATTX_WORK_GEMM, B * H * T * S * dv))
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            attx_gemm(0, 0, (int)T, (int)dv, (int)S, probs->data + (b * H + h) * T * S, (int)S,
                      v->data + b * S * HV + h * dv, (int)HV, 0.0f, out->data + b * T * HV + h * dv,
                      (int)HV);
    attx_record(ctx, context_backward, out, probs, v, NULL, NULL);
    return out;
}

/* dP_h += dC_h V_h^T,   dV_h += P_h^T dC_h */
static void context_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *out = node->out, *probs = node->in[0], *v = node->in[1];
    int64_t B = probs->shape[0], H = probs->shape[1], T = probs->shape[2], S = probs->shape[3];
    int64_t HV = v->shape[2], dv = HV / H;
    float *dp = (probs->flags & ATTX_REQUIRES_GRAD) ? attx_grad(ctx, probs) : NULL;
    float *dvv = (v->flags & ATTX_REQUIRES_GRAD) ? attx_grad(ctx, v) : NULL;
    if (((probs->flags & ATTX_REQUIRES_GRAD) && !dp) || ((v->flags & ATTX_REQUIRES_GRAD) && !dvv)) return;
#pragma omp parallel for collapse(2) if (B * H > 1 && ATTX_PARALLEL(ATTX_WORK_GEMM, 2 * B * H * T * S * dv))
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            const float *dc = out->grad + b * T * HV + h * dv;
            if (dp)
                attx_gemm(0, 1, (int)T, (int)S, (int)dv, dc, (int)HV, v->data + b * S * HV + h * dv, (int)HV,
                          1.0f, dp + (b * H + h) * T * S, (int)S);
            if (dvv)
                attx_gemm(1, 0, (int)S, (int)dv, (int)T, probs->data + (b * H + h) * T * S, (int)S, dc,
                          (int)HV, 1.0f, dvv + b * S * HV + h * dv, (int)HV);
        }
}

/* ---- the three ops fused, for inference ----
 * For each (example, head, block of ATTN_ROWS queries), the block's scores are made, turned
 * into probabilities and multiplied by V_h while they are in cache; nothing of size
 * [B, H, T, S] is allocated. Every element goes through the same operations as in the three
 * ops above (attx_gemm computes an element the same way whatever rows it is given), so the
 * context has the same bits. Records nothing: for forward passes with the tape off. */
enum { ATTN_ROWS = 64 };

attx_tensor *attx_op_attention_fused(attx_ctx *ctx, attx_tensor *q, attx_tensor *k, attx_tensor *v, int H,
                                     float scale, const uint8_t *key_valid)
{
    if (!q || !k || !v) return NULL;
    int64_t B = q->shape[0], T = q->shape[1], S = k->shape[1], HD = q->shape[2], d = HD / H;
    int64_t HV = v->shape[2], dv = HV / H;
    int64_t row_blocks = (T + ATTN_ROWS - 1) / ATTN_ROWS, tasks = B * H * row_blocks;
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    attx_tensor *out = attx_tensor_3d(ctx, B, T, HV);
    const float **keep = keys_kept(ctx, key_valid, B, S);
    /* per thread: a block's scores, then its probabilities (apart, so that softmax_row's loops
     * see no overlap and stay vectorised) */
    float *scratch = attx_arena_alloc(&ctx->arena, (size_t)threads * 2 * ATTN_ROWS * (size_t)S * sizeof(float));
    if (!out || !keep || !scratch) {
        ctx->failed = 1;
        return NULL;
    }
#pragma omp parallel for schedule(dynamic) if (tasks > 1 && ATTX_PARALLEL(ATTX_WORK_GEMM, B * H * T * S * (d + dv)))
    for (int64_t task = 0; task < tasks; task++) {
        int64_t b = task / (H * row_blocks), h = task / row_blocks % H, t0 = task % row_blocks * ATTN_ROWS;
        int rows = (int)(T - t0 < ATTN_ROWS ? T - t0 : ATTN_ROWS);
        float *s = scratch + (size_t)omp_get_thread_num() * 2 * ATTN_ROWS * (size_t)S, *p = s + ATTN_ROWS * S;
        attx_gemm(0, 1, rows, (int)S, (int)d, q->data + (b * T + t0) * HD + h * d, (int)HD,
                  k->data + b * S * HD + h * d, (int)HD, 0.0f, s, (int)S);
        for (int64_t i = 0; i < rows * S; i++) s[i] *= scale;
        for (int r = 0; r < rows; r++)
            softmax_row(s + r * S, keep[b] ? key_valid + b * S : NULL, keep[b], p + r * S, S);
        attx_gemm(0, 0, rows, (int)dv, (int)S, p, (int)S, v->data + b * S * HV + h * dv, (int)HV, 0.0f,
                  out->data + (b * T + t0) * HV + h * dv, (int)HV);
    }
    return out;
}
