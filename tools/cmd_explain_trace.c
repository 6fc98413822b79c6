/* cmd_explain_trace.c — `attx explain --trace`: the five steps of an attention explanation,
 * printed with their numbers, for teaching (DESIGN.md "Explain"). */
#include "cli.h"
#include "explain_view.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SHOW_MAX 12   /* matrices and coalition lists are printed in full up to this many players */

typedef struct entry {
    int i, j;
    double v;
} entry;

/* Prints the k largest entries of a T x T matrix (by |value|), as "from -> to". */
static void print_top(FILE *out, const attx_model *m, const attx_explanation *ex, const float *a, int T, int k)
{
    entry *top = calloc((size_t)k, sizeof *top);
    if (!top) cli_failf("out of memory");
    int have = 0;
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
            double v = a[i * T + j];
            if (have < k || fabs(v) > fabs(top[have - 1].v)) {
                int p = have < k ? have++ : k - 1;
                while (p > 0 && fabs(top[p - 1].v) < fabs(v)) {
                    top[p] = top[p - 1];
                    p--;
                }
                top[p] = (entry){i, j, v};
            }
        }
    char b1[64], b2[64];
    for (int e = 0; e < have; e++) {
        int i = top[e].i, j = top[e].j;
        const char *ti = i == 0 ? "[CLS]" : i - 1 < ex->n_players ? explain_player_label(m, ex, i - 1, b1, sizeof b1) : "[SEP]";
        const char *tj = j == 0 ? "[CLS]" : j - 1 < ex->n_players ? explain_player_label(m, ex, j - 1, b2, sizeof b2) : "[SEP]";
        fprintf(out, "      %2d %-12s -> %2d %-12s %+.5f\n", i, ti, j, tj, top[e].v);
    }
    free(top);
}

static void print_row(FILE *out, const char *what, const float *row, int T)
{
    fprintf(out, "    %s:", what);
    for (int j = 0; j < T; j++) fprintf(out, " %.4f", row[j]);
    fprintf(out, "\n");
}

/* v of the coalitions ∅, each singleton (up to SHOW_MAX) and N. */
static int print_game_values(FILE *out, const attx_model *m, const attx_explanation *ex, const attx_game *g,
                             double *v_empty, double *v_full, attx_error *err)
{
    int n = g->n, shown = n < SHOW_MAX ? n : SHOW_MAX;
    size_t words = attx_mask_words(n), count = (size_t)shown + 2;
    uint64_t *masks = calloc(count * words, sizeof *masks);
    double *values = malloc(count * sizeof *values);
    if (!masks || !values) cli_failf("out of memory");
    for (int i = 0; i < shown; i++) attx_mask_set(masks + (size_t)(1 + i) * words, i);
    for (int i = 0; i < n; i++) attx_mask_set(masks + (count - 1) * words, i);
    if (attx_game_eval(g, count, masks, values, err) != 0) {
        free(masks);
        free(values);
        return -1;
    }
    char buf[64];
    fprintf(out, "    v(empty) = %.6f\n", values[0]);
    for (int i = 0; i < shown; i++)
        fprintf(out, "    v({%s}) = %.6f\n", explain_player_label(m, ex, i, buf, sizeof buf), values[1 + i]);
    if (shown < n) fprintf(out, "    ... (%d more singletons)\n", n - shown);
    fprintf(out, "    v(N) = %.6f\n", values[count - 1]);
    *v_empty = values[0];
    *v_full = values[count - 1];
    free(masks);
    free(values);
    return 0;
}

int explain_trace(FILE *out, const attx_model *m, const attx_explanation *ex, const float *pixels,
                  const attx_explain_options *opts, int layer, int head, attx_influence_kind kind,
                  trace_game game, attx_error *err)
{
    const attx_config *cfg = attx_model_config(m);
    int n = ex->n_players, T = n + (ex->arch == ATTX_ARCH_BERT ? 2 : 1), C = cfg->num_labels;
    char buf[64];

    fprintf(out, "== step 1: players (%d %s)\n", n, ex->arch == ATTX_ARCH_BERT ? "content tokens; [CLS] and [SEP] are not players" : "patches; token 0 is [CLS]");
    for (int i = 0; i < n && (ex->arch == ATTX_ARCH_BERT || i < SHOW_MAX); i++)
        fprintf(out, "    player %d = token %d %s\n", i, i + 1, explain_player_label(m, ex, i, buf, sizeof buf));
    if (ex->arch != ATTX_ARCH_BERT && n > SHOW_MAX) fprintf(out, "    ... (%d more patches)\n", n - SHOW_MAX);

    attx_ctx *ctx = attx_ctx_new();
    float *seed = malloc((size_t)C * sizeof *seed);
    if (!ctx || !seed) cli_failf("out of memory");
    attx_ctx_set_tape(ctx, 1);
    attx_outputs o;
    attx_batch batch = {.B = 1, .T = T, .pixels = pixels};
    int32_t len = T;
    if (ex->arch == ATTX_ARCH_BERT) {
        batch.ids = ex->enc.ids;
        batch.lengths = &len;
    }
    if (attx_forward(m, ctx, &batch, &o, err) != 0) return -1;
    fprintf(out, "== step 2: forward pass with the tape: logits");
    for (int k = 0; k < C; k++) fprintf(out, " %s %+.5f", cfg->labels[k], o.logits->data[k]);
    fprintf(out, "\n    A = attention probabilities, layer %d head %d (row = query, column = key; each row sums to 1)\n", layer, head);
    const float *A = o.attn[layer]->data + (size_t)head * (size_t)T * (size_t)T;
    if (T <= 2 * SHOW_MAX) print_row(out, "[CLS] row", A, T);
    fprintf(out, "    largest entries:\n");
    print_top(out, m, ex, A, T, 3);

    attx_seed_explained_logits(1, C, &ex->klass, seed);
    if (attx_backward(ctx, o.logits, seed) != 0) return attx_fail(err, "out of memory in the backward pass");
    fprintf(out, "== step 3: backward pass from the logit of class %d (%s), pre-softmax\n", ex->klass, cfg->labels[ex->klass]);
    const float *dA = o.attn[layer]->grad + (size_t)head * (size_t)T * (size_t)T;
    fprintf(out, "    dA = dz/dA, layer %d head %d\n", layer, head);
    if (T <= 2 * SHOW_MAX) print_row(out, "[CLS] row", dA, T);
    fprintf(out, "    largest |entries|:\n");
    print_top(out, m, ex, dA, T, 3);

    double *M = malloc((size_t)n * (size_t)n * sizeof *M), *cls = malloc((size_t)n * sizeof *cls);
    double *phi = malloc((size_t)n * sizeof *phi);
    if (!M || !cls || !phi) cli_failf("out of memory");
    if (attx_influence(&o, cfg->num_layers, 0, kind, &opts->layers, 1, n, M, cls, err) != 0) return -1;
    fprintf(out, "== step 4: influence matrix M = mean over heads and %s of %s, restricted to the players\n",
            opts->layers.n_layers ? "the chosen layers" : "all layers", kind == ATTX_INFLUENCE_GRAD_ATT ? "A * ReLU(dA)" : "A");
    if (n <= SHOW_MAX) {
        for (int i = 0; i < n; i++) {
            fprintf(out, "    %-12s", explain_player_label(m, ex, i, buf, sizeof buf));
            for (int j = 0; j < n; j++) fprintf(out, " %9.5f", M[i * n + j]);
            fprintf(out, "\n");
        }
    } else {
        fprintf(out, "    (%d x %d; not printed above %d players)\n", n, n, SHOW_MAX);
    }
    fprintf(out, "    [CLS] row:");
    for (int j = 0; j < n && j < 4 * SHOW_MAX; j++) fprintf(out, " %.5f", cls[j]);
    fprintf(out, "\n");

    attx_game g;
    const char *gname = game == TRACE_GAME_CLS ? "CLS (additive: v(S) = sum of the [CLS] row over S)"
                      : game == TRACE_GAME_MUTUAL ? "Mutual (v(S) = sum of M_ij over ordered pairs in S; v({i}) = M_ii)"
                      : "Max-Mutual (v(S) = sum over pairs in S of max(M_ij, M_ji); v({i}) = M_ii)";
    int made = game == TRACE_GAME_CLS ? attx_game_additive(&g, n, cls, err)
             : game == TRACE_GAME_MUTUAL ? attx_game_mutual(&g, n, M, err) : attx_game_max_mutual(&g, n, M, err);
    if (made != 0) return -1;
    fprintf(out, "== step 5: the game %s\n", gname);
    double v0, vN;
    if (print_game_values(out, m, ex, &g, &v0, &vN, err) != 0) return -1;
    if (attx_shapley_closed_form(&g, phi, NULL, err) != 0) return -1;
    double sum = 0;
    fprintf(out, "    Shapley values (closed form):\n");
    for (int i = 0; i < n; i++) {
        sum += phi[i];
        if (ex->arch == ATTX_ARCH_BERT || i < SHOW_MAX)
            fprintf(out, "      %-12s %+.6f\n", explain_player_label(m, ex, i, buf, sizeof buf), phi[i]);
    }
    fprintf(out, "    efficiency: sum(phi) = %.6f, v(N) - v(empty) = %.6f, difference %.2e\n", sum, vN - v0, sum - (vN - v0));
    attx_game_free(&g);

    /* the model game of shapley-input, for comparison */
    attx_model_game_options mo = {.klass = ex->klass, .value = ATTX_VALUE_PROB, .batch_size = opts->batch_size,
                                  .mask_id = -1, .baseline = opts->image_baseline};
    int mg = ex->arch == ATTX_ARCH_BERT ? attx_game_model_text(&g, m, ex->enc.ids, T, &mo, err)
                                        : attx_game_model_image(&g, m, pixels, &mo, err);
    if (mg != 0) return -1;
    fprintf(out, "== the model game of shapley-input: v(S) = p(class %d) with the players outside S %s\n", ex->klass,
            ex->arch == ATTX_ARCH_BERT ? "replaced by [MASK]" : "set to the baseline");
    if (print_game_values(out, m, ex, &g, &v0, &vN, err) != 0) return -1;
    attx_game_free(&g);
    free(M);
    free(cls);
    free(phi);
    free(seed);
    attx_ctx_free(ctx);
    return 0;
}
