/* bench_threads.c — from how much work 2 OpenMP threads beat 1, for each kind of parallel loop
 * in engine/ and explain/ (the thresholds of engine/parallel.h).
 *
 * Every threshold is lowered to 0, so that each loop runs on all threads whatever its size;
 * then each op runs at growing sizes on 1 and on 2 threads (the two interleaved, best of
 * several runs each). A row gives both times and their ratio; the last column of a case is the
 * smallest size from which 2 threads stay faster, next to the threshold attx uses. attx runs
 * with OMP_WAIT_POLICY=passive (tools/attx.c), so run this with it too, on an idle machine:
 *
 *   OMP_WAIT_POLICY=passive build/test/bench_threads [--budget MS] [CASE]
 *
 * --budget: milliseconds of runs per size and thread count (default 40); CASE: only the cases
 * whose name starts so.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "attx_engine.h"
#include "attx_explain.h"
#include "kernels.h"
#include "ops.h"
#include "parallel.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float uniform(void)   /* in [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) / 8388608.0 - 1.0);
}

static float *random_floats(int64_t n)
{
    float *x = malloc((size_t)n * sizeof *x);
    if (!x) {
        fprintf(stderr, "bench_threads: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++) x[i] = uniform();
    return x;
}

/* One case at one size: make builds the inputs for work w, run runs the op once, done frees. */
typedef struct bench_case {
    const char *name;
    int kind;                        /* ATTX_WORK_* */
    const char *unit;
    int64_t sizes[16];               /* work sizes, 0-terminated */
    void *(*make)(int64_t work);
    void (*run)(void *state);
    void (*done)(void *state);
} bench_case;

/* ---- ops on wrapped tensors: x (and y) hold the inputs; the context is reset each run ---- */
typedef struct op_state {
    attx_ctx *ctx;
    int64_t shape[4], shape2[4];
    int ndim, ndim2, backward;
    float *x, *y, *gamma, *beta;
} op_state;

static op_state *op_make(int ndim, const int64_t *shape, int backward)
{
    op_state *s = calloc(1, sizeof *s);
    s->ctx = attx_ctx_new();
    s->ndim = s->ndim2 = ndim;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= s->shape[i] = s->shape2[i] = shape[i];
    s->x = random_floats(n);
    s->y = random_floats(n);
    s->gamma = random_floats(shape[ndim - 1]);
    s->beta = random_floats(shape[ndim - 1]);
    s->backward = backward;
    return s;
}

static attx_tensor *wrap(op_state *s, float *data, int second)
{
    attx_tensor *t = attx_tensor_wrap(s->ctx, data, second ? s->ndim2 : s->ndim, second ? s->shape2 : s->shape);
    if (s->backward) t->flags |= ATTX_REQUIRES_GRAD;
    return t;
}

static void op_finish(op_state *s, attx_tensor *out)
{
    if (!out || (s->backward && attx_backward(s->ctx, out, NULL) != 0)) {
        fprintf(stderr, "bench_threads: out of memory\n");
        exit(1);
    }
}

static void op_begin(op_state *s)
{
    attx_ctx_reset(s->ctx);
    attx_ctx_set_tape(s->ctx, s->backward);
}

static void op_done(void *state)
{
    op_state *s = state;
    attx_ctx_free(s->ctx);
    free(s->x);
    free(s->y);
    free(s->gamma);
    free(s->beta);
    free(s);
}

static void *vec_fwd(int64_t n) { return op_make(1, (int64_t[]){n}, 0); }
static void *vec_bwd(int64_t n) { return op_make(1, (int64_t[]){n}, 1); }

static void run_add(void *state)
{
    op_state *s = state;
    op_begin(s);
    op_finish(s, attx_op_add(s->ctx, wrap(s, s->x, 0), wrap(s, s->y, 0)));
}

static void run_gelu(void *state)
{
    op_state *s = state;
    op_begin(s);
    op_finish(s, attx_op_gelu(s->ctx, wrap(s, s->x, 0)));
}

/* softmax rows of 128 keys: scores[1, 1, n/128, 128] */
static void *rows_fwd(int64_t n) { return op_make(4, (int64_t[]){1, 1, n / 128, 128}, 0); }
static void *rows_bwd(int64_t n) { return op_make(4, (int64_t[]){1, 1, n / 128, 128}, 1); }

static void run_softmax(void *state)
{
    op_state *s = state;
    op_begin(s);
    op_finish(s, attx_op_softmax(s->ctx, wrap(s, s->x, 0), NULL));
}

/* LayerNorm rows of 256 features: x[n/256, 256] */
static void *ln_fwd(int64_t n) { return op_make(2, (int64_t[]){n / 256, 256}, 0); }
static void *ln_bwd(int64_t n) { return op_make(2, (int64_t[]){n / 256, 256}, 1); }

static void run_layernorm(void *state)
{
    op_state *s = state;
    op_begin(s);
    attx_tensor *gamma = attx_tensor_wrap(s->ctx, s->gamma, 1, &s->shape[1]);
    attx_tensor *beta = attx_tensor_wrap(s->ctx, s->beta, 1, &s->shape[1]);
    if (s->backward) {
        gamma->flags |= ATTX_REQUIRES_GRAD;
        beta->flags |= ATTX_REQUIRES_GRAD;
    }
    op_finish(s, attx_op_layernorm(s->ctx, wrap(s, s->x, 0), gamma, beta, 1e-12f));
}

/* Attention with 4 heads of 64 features over T = S tokens: work = 4·T·T·64 multiply-adds; q
 * and k are x and y as [1, T, 256]; the context multiplies probs [1, 4, T, T] (x) by v (y). */
#define HEADS 4
#define HEAD_DIM 64
static int64_t tokens_for(int64_t macs)
{
    return (int64_t)llround(sqrt((double)macs / (HEADS * HEAD_DIM)));
}

static void *scores_make(int64_t macs)
{
    int64_t T = tokens_for(macs);
    op_state *s = op_make(3, (int64_t[]){1, T, HEADS * HEAD_DIM}, 0);
    return s;
}

static void run_scores(void *state)
{
    op_state *s = state;
    op_begin(s);
    op_finish(s, attx_op_attention_scores(s->ctx, wrap(s, s->x, 0), wrap(s, s->y, 0), HEADS, 0.125f));
}

static void *context_make(int64_t macs)
{
    int64_t T = tokens_for(macs);
    op_state *s = op_make(4, (int64_t[]){1, HEADS, T, T}, 0);
    free(s->y);
    s->ndim2 = 3;
    s->shape2[0] = 1;
    s->shape2[1] = T;
    s->shape2[2] = HEADS * HEAD_DIM;
    s->y = random_floats(T * HEADS * HEAD_DIM);
    return s;
}

static void run_context(void *state)
{
    op_state *s = state;
    op_begin(s);
    op_finish(s, attx_op_attention_context(s->ctx, wrap(s, s->x, 0), wrap(s, s->y, 1)));
}

/* ---- one GEMM of c x c by c x c, c = cube root of the work ---- */
typedef struct gemm_state {
    int c;
    float *A, *B, *C;
} gemm_state;

static void *gemm_make(int64_t macs)
{
    gemm_state *g = malloc(sizeof *g);
    g->c = (int)llround(cbrt((double)macs));
    g->A = random_floats((int64_t)g->c * g->c);
    g->B = random_floats((int64_t)g->c * g->c);
    g->C = random_floats((int64_t)g->c * g->c);
    return g;
}

static void gemm_run(void *state)
{
    gemm_state *g = state;
    attx_gemm(0, 0, g->c, g->c, g->c, g->A, g->c, g->B, g->c, 0.0f, g->C, g->c);
}

static void gemm_done(void *state)
{
    gemm_state *g = state;
    free(g->A);
    free(g->B);
    free(g->C);
    free(g);
}

/* ---- one AdamW step on a parameter of n elements ---- */
typedef struct adam_state {
    attx_tensor param;
    float *grad;
    attx_adamw opt;
} adam_state;

static void *adam_make(int64_t n)
{
    adam_state *a = calloc(1, sizeof *a);
    a->param = (attx_tensor){.data = random_floats(n), .grad = random_floats(n), .ndim = 1, .shape = {n}, .numel = n};
    attx_tensor *params[1] = {&a->param};
    attx_adamw_config cfg = attx_adamw_defaults();
    attx_error err;
    if (attx_adamw_init(&a->opt, params, NULL, 1, &cfg, &err) != 0) {
        fprintf(stderr, "bench_threads: %s\n", err.msg);
        exit(1);
    }
    return a;
}

static void adam_run(void *state)
{
    attx_adamw_step(&((adam_state *)state)->opt, 1e-6);
}

static void adam_done(void *state)
{
    adam_state *a = state;
    attx_adamw_free(&a->opt);
    free(a->param.data);
    free(a->param.grad);
    free(a);
}

/* ---- logistic regression: 1024 rows (two chunks of 512) of work/1024 features, 5 L-BFGS
 * iterations (tol 0 never stops earlier) ---- */
typedef struct logreg_state {
    size_t n;
    int d;
    float *data;
    const float **rows;
    uint8_t *y;
    double *coef;
} logreg_state;

static void *logreg_make(int64_t work)
{
    logreg_state *l = calloc(1, sizeof *l);
    l->n = 1024;
    l->d = (int)(work / 1024);
    l->data = random_floats((int64_t)l->n * l->d);
    l->rows = malloc(l->n * sizeof *l->rows);
    l->y = malloc(l->n);
    l->coef = malloc((size_t)l->d * sizeof *l->coef);
    for (size_t i = 0; i < l->n; i++) {
        l->rows[i] = l->data + i * (size_t)l->d;
        l->y[i] = l->rows[i][0] + 0.3f * uniform() > 0;
    }
    return l;
}

static void logreg_run(void *state)
{
    logreg_state *l = state;
    attx_logreg_options o = {.C = 1.0, .tol = 1e-300, .max_iter = 5};
    attx_error err;
    if (attx_logreg_fit(l->n, l->d, l->rows, l->y, &o, l->coef, NULL, NULL, &err) != 0) {
        fprintf(stderr, "bench_threads: %s\n", err.msg);
        exit(1);
    }
}

static void logreg_done(void *state)
{
    logreg_state *l = state;
    free(l->data);
    free(l->rows);
    free(l->y);
    free(l->coef);
    free(l);
}

/* ---- exact Shapley values of a Max-Mutual game of log2(coalitions) players ---- */
typedef struct shapley_state {
    attx_game g;
    double phi[32];
} shapley_state;

static void *shapley_make(int64_t coalitions)
{
    shapley_state *s = calloc(1, sizeof *s);
    int n = 0;
    while (((int64_t)1 << n) < coalitions) n++;
    double M[32 * 32];
    for (int i = 0; i < n * n; i++) M[i] = uniform();
    attx_error err;
    if (attx_game_max_mutual(&s->g, n, M, &err) != 0) {
        fprintf(stderr, "bench_threads: %s\n", err.msg);
        exit(1);
    }
    return s;
}

static void shapley_run(void *state)
{
    shapley_state *s = state;
    attx_error err;
    if (attx_shapley_exact(&s->g, 30, s->phi, NULL, &err) != 0) {
        fprintf(stderr, "bench_threads: %s\n", err.msg);
        exit(1);
    }
}

static void shapley_done(void *state)
{
    shapley_state *s = state;
    attx_game_free(&s->g);
    free(s);
}

#define POW2_SIZES {1 << 10, 1 << 11, 1 << 12, 1 << 13, 1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18, 1 << 19, 1 << 20}
#define MAC_SIZES {1 << 12, 1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18, 1 << 19, 1 << 20, 1 << 21, 1 << 22, 1 << 24}

static const bench_case cases[] = {
    {"residual add", ATTX_WORK_STREAM, "elements", POW2_SIZES, vec_fwd, run_add, op_done},
    {"residual add + backward", ATTX_WORK_STREAM, "elements", POW2_SIZES, vec_bwd, run_add, op_done},
    {"AdamW step", ATTX_WORK_STREAM, "elements", POW2_SIZES, adam_make, adam_run, adam_done},
    {"GELU", ATTX_WORK_EXP, "elements", POW2_SIZES, vec_fwd, run_gelu, op_done},
    {"GELU + backward", ATTX_WORK_EXP, "elements", POW2_SIZES, vec_bwd, run_gelu, op_done},
    {"softmax (rows of 128)", ATTX_WORK_EXP, "elements", POW2_SIZES, rows_fwd, run_softmax, op_done},
    {"softmax + backward", ATTX_WORK_EXP, "elements", POW2_SIZES, rows_bwd, run_softmax, op_done},
    {"LayerNorm (rows of 256)", ATTX_WORK_LAYERNORM, "elements", POW2_SIZES, ln_fwd, run_layernorm, op_done},
    {"LayerNorm + backward", ATTX_WORK_LAYERNORM, "elements", POW2_SIZES, ln_bwd, run_layernorm, op_done},
    {"attx_gemm (square)", ATTX_WORK_GEMM, "MACs", MAC_SIZES, gemm_make, gemm_run, gemm_done},
    {"attention scores (4 heads)", ATTX_WORK_GEMM, "MACs", MAC_SIZES, scores_make, run_scores, op_done},
    {"attention context (4 heads)", ATTX_WORK_GEMM, "MACs", MAC_SIZES, context_make, run_context, op_done},
    {"logistic regression (1024 rows)", ATTX_WORK_LOGREG, "rows x features",
     {1 << 12, 1 << 13, 1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18, 1 << 19, 1 << 20}, logreg_make, logreg_run,
     logreg_done},
    {"exact Shapley (max-mutual game)", ATTX_WORK_COALITIONS, "coalitions",
     {1 << 13, 1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18}, shapley_make, shapley_run, shapley_done},
};

/* Best time of each thread count, runs of 1 and 2 threads interleaved, until each has run for
 * budget_ms (at least 5 runs, at most 100000). On a busy machine a longer budget finds more of
 * the moments when both threads got a core. */
static double budget_ms = 40;

static void best_times(const bench_case *c, void *state, double best[2])
{
    double spent[2] = {0, 0};
    best[0] = best[1] = 1e300;
    for (int r = 0; r < 100000 && (r < 5 || spent[0] < budget_ms || spent[1] < budget_ms); r++)
        for (int t = 0; t < 2; t++) {
            attx_set_threads(t + 1);
            double start = now_ms();
            c->run(state);
            double ms = now_ms() - start;
            spent[t] += ms;
            if (ms < best[t]) best[t] = ms;
        }
}

int main(int argc, char **argv)
{
    const char *only = NULL;   /* a case name's prefix */
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--budget") == 0 && a + 1 < argc) budget_ms = atof(argv[++a]);
        else only = argv[a];
    }
    const char *policy = getenv("OMP_WAIT_POLICY");
    printf("OMP_WAIT_POLICY=%s, %d threads available; best of interleaved runs, ms\n", policy ? policy : "(unset)",
           omp_get_num_procs());
    int64_t saved[ATTX_WORK_KINDS];
    memcpy(saved, attx_parallel_min_work, sizeof saved);
    for (int k = 0; k < ATTX_WORK_KINDS; k++) attx_parallel_min_work[k] = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bench_case *c = &cases[i];
        if (only && strncmp(c->name, only, strlen(only)) != 0) continue;
        printf("\n%s (%s)\n%14s %12s %12s %8s\n", c->name, c->unit, "work", "1 thread", "2 threads", "1/2");
        int64_t from = -1;
        for (int s = 0; s < 16 && c->sizes[s]; s++) {
            void *state = c->make(c->sizes[s]);
            double best[2];
            best_times(c, state, best);
            c->done(state);
            printf("%14lld %12.4f %12.4f %8.2f\n", (long long)c->sizes[s], best[0], best[1], best[0] / best[1]);
            if (best[1] < best[0]) {
                if (from < 0) from = c->sizes[s];
            } else {
                from = -1;
            }
        }
        if (from < 0) printf("2 threads: never faster here");
        else printf("2 threads: faster from %lld", (long long)from);
        printf("; attx's threshold: %lld\n", (long long)saved[c->kind]);
    }
    return 0;
}
