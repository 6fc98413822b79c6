/* attx_explain.h — the explain module's public API: cooperative games, Shapley solvers, LIME,
 * faithfulness metrics.
 *
 * A game is a value: n players and a callback that evaluates v(S) for a batch of coalitions S.
 * Any solver runs on any game:
 *
 *   closed forms        additive (CLS), Mutual and Max-Mutual games          O(n^2)
 *   exact enumeration   every coalition once, in Gray-code order             2^n evaluations
 *   permutation         antithetic permutation pairs, standard error         samples*(n-1)
 *   Kernel SHAP         Shapley-kernel weighted least squares (shap's scheme) samples
 *   paper samplers      P1's "random" and "kernel_shap" unnormalised sums   2*n*count
 *   partition (Owen)    shap's PartitionExplainer on a binary tree           max_evals
 *
 * On the same games: LIME (lime_text semantics, weighted ridge surrogate) and the faithfulness
 * metrics (P1's comprehensiveness / sufficiency, ERASER's AOPC) with the prediction F1.
 *
 * Global concept sensitivity (end of the file): concept activation vectors (logistic
 * regression on token activations), T-TCAV (P1) and classic TCAV scores, Student's t tests.
 *
 * Coalitions are bitsets: player i is in S when bit i of the mask is set. A mask is
 * attx_mask_words(n) uint64_t words (player i is bit i%64 of word i/64); a batch of `count`
 * masks is count*attx_mask_words(n) words, mask k starting at word k*attx_mask_words(n).
 *
 * Every sampler takes a seed and is reproducible: the same game, options and seed give the same
 * result bit for bit, whatever the number of OpenMP threads. Every solver returns phi[n] (and a
 * standard error se[n] where it has one) and, in attx_shapley_info, how many coalitions it had
 * the game evaluate.
 *
 * Conventions: functions that can fail return 0 on success and -1 on failure, and then fill
 * `attx_error` (NULL allowed) with a one-line message. Nothing here parses files, prints or exits.
 */
#ifndef ATTX_EXPLAIN_H
#define ATTX_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include "attx_weights.h"   /* attx_error */
#include "attx_engine.h"    /* models, forward passes (influence matrices, model games) */

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Coalition masks                                                                             */

/* Largest number of players a game may have. */
#define ATTX_GAME_MAX_PLAYERS 4096

/* Words (uint64_t) in one coalition mask of a game with n players (at least 1). */
static inline size_t attx_mask_words(int n)
{
    return n <= 64 ? 1 : ((size_t)n + 63) / 64;
}

/* 1 if player i is in the coalition mask, else 0. */
static inline int attx_mask_has(const uint64_t *mask, int i)
{
    return (int)((mask[i >> 6] >> (i & 63)) & 1u);
}

/* Adds player i to the coalition mask. */
static inline void attx_mask_set(uint64_t *mask, int i)
{
    mask[i >> 6] |= (uint64_t)1 << (i & 63);
}

/* Removes player i from the coalition mask. */
static inline void attx_mask_clear(uint64_t *mask, int i)
{
    mask[i >> 6] &= ~((uint64_t)1 << (i & 63));
}

/* ------------------------------------------------------------------------------------------ */
/* Games                                                                                       */

/* Evaluates v on a batch: values[k] = v(mask k) for k < count, masks laid out as described at
 * the top. Returns 0, or -1 with err filled (the solver then fails with that message). */
typedef int (*attx_game_eval_fn)(void *user, int n, size_t count, const uint64_t *masks,
                                 double *values, attx_error *err);

/* What a game is, for the solvers that can use its structure (closed forms). Games made by
 * hand are ATTX_GAME_CUSTOM. */
typedef enum attx_game_kind {
    ATTX_GAME_CUSTOM = 0,
    ATTX_GAME_ADDITIVE,     /* v(S) = sum_{i in S} w_i (the CLS game) */
    ATTX_GAME_MUTUAL,       /* pairwise game on M, ordered pairs */
    ATTX_GAME_MAX_MUTUAL    /* pairwise game on M, max of the two directions */
} attx_game_kind;

/* A cooperative game. Fill it by hand (kind CUSTOM, free_user NULL or your destructor) or with
 * one of the constructors below; release it with attx_game_free. */
typedef struct attx_game {
    int n;                      /* players, 0 <= n <= ATTX_GAME_MAX_PLAYERS */
    attx_game_eval_fn eval;
    void *user;                 /* passed to eval */
    void (*free_user)(void *user);   /* called by attx_game_free (may be NULL) */
    attx_game_kind kind;        /* set by the constructors; CUSTOM for games made by hand (the
                                   closed forms read the constructors' private data) */
    int thread_safe;            /* nonzero: eval may run concurrently on several threads */
    size_t max_batch;           /* most masks eval wants per call (0 = no limit); model games
                                   set their forward batch size here */
    int exact_max_players;      /* default limit of attx_shapley_exact (0 = 16); the matrix
                                   games set 24 */
} attx_game;

/* The additive game v(S) = sum_{i in S} weights[i], weights[n]. The CLS game of P1 is this game
 * on the [CLS] row of the influence matrix restricted to players. Copies weights. Errors: n out
 * of range, NULL weights, a weight that is not finite, out of memory. */
int attx_game_additive(attx_game *g, int n, const double *weights, attx_error *err);

/* The Mutual game on the n x n row-major matrix M (research-notes §1.3 b):
 *   v(empty) = 0, v({i}) = M_ii, v(S) = sum_{i,j in S, i != j} M_ij for |S| >= 2
 * (ordered pairs, no diagonal). Copies M. Errors as attx_game_additive. */
int attx_game_mutual(attx_game *g, int n, const double *M, attx_error *err);

/* The Max-Mutual game on M (research-notes §1.3 c):
 *   v(empty) = 0, v({i}) = M_ii, v(S) = sum_{i<j in S} max(M_ij, M_ji) for |S| >= 2.
 * Copies M. Errors as attx_game_additive. */
int attx_game_max_mutual(attx_game *g, int n, const double *M, attx_error *err);

/* Releases what a constructor (or free_user) owns and zeroes *g. NULL and zeroed games are
 * allowed. */
void attx_game_free(attx_game *g);

/* Evaluates the game on count masks, split into calls of at most g->max_batch masks, and checks
 * every value is finite. values[count]. Errors: the game's own, or "not finite" naming the
 * coalition's index. */
int attx_game_eval(const attx_game *g, size_t count, const uint64_t *masks, double *values,
                   attx_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Solvers                                                                                     */

/* What a solver did. */
typedef struct attx_shapley_info {
    uint64_t evaluations;   /* coalitions the game evaluated (v(empty) and v(N) included) */
    uint64_t samples;       /* permutations / sampled coalitions drawn; 0 for exact methods */
    double v_empty;         /* v(empty) and v(N) when the solver evaluated them, else NAN; */
    double v_full;          /* efficiency says sum(phi) = v_full - v_empty */
} attx_shapley_info;

/* Closed form of the Mutual game on the n x n row-major M:
 *   phi_i = M_ii/n + sum_{j != i} [ (M_ij + M_ji)/2 - M_jj/(n(n-1)) ],  n = 1: phi_1 = M_11.
 * phi[n]. Errors: n < 1, NULL pointers. */
int attx_shapley_mutual_closed_form(int n, const double *M, double *phi, attx_error *err);

/* Closed form of the Max-Mutual game:
 *   phi_i = M_ii/n + sum_{j != i} [ max(M_ij, M_ji)/2 - M_jj/(n(n-1)) ],  n = 1: phi_1 = M_11.
 * phi[n]. Errors: n < 1, NULL pointers. */
int attx_shapley_max_mutual_closed_form(int n, const double *M, double *phi, attx_error *err);

/* Closed form for a game made by attx_game_additive (phi = weights), attx_game_mutual or
 * attx_game_max_mutual; no evaluations. phi[n]; info may be NULL. Errors: a CUSTOM game ("no
 * closed form"). */
int attx_shapley_closed_form(const attx_game *g, double *phi, attx_shapley_info *info,
                             attx_error *err);

/* Exact Shapley values by evaluating all 2^n coalitions once, in Gray-code order (consecutive
 * coalitions differ by one player, which the matrix games use to update v in O(n)):
 *   phi_i = sum_{S not containing i} |S|!(n-|S|-1)!/n! [v(S+i) - v(S)].
 * max_players: refuse games with more players (0 = g->exact_max_players, or 16 when that is 0;
 * at most 30). Runs chunks on OpenMP threads when g->thread_safe; the result does not depend
 * on the thread count. phi[n]; info may be NULL. Errors: n above the limit, the game's errors,
 * out of memory. */
int attx_shapley_exact(const attx_game *g, int max_players, double *phi, attx_shapley_info *info,
                       attx_error *err);

/* Permutation sampling with antithetic pairs: each sampled order of the players and its reverse
 * contribute marginal contributions v(prefix + i) - v(prefix); phi_i is the mean over pairs of
 * the pair's average, se_i the standard deviation of those pair averages over sqrt(pairs).
 * Efficiency holds exactly for each permutation, hence for the estimate. */
typedef struct attx_permutation_options {
    uint64_t seed;
    int permutations;       /* orders to walk, rounded up to even (pairs); 0 = 1000; >= 4
                               needed for a standard error (NAN with a single pair) */
} attx_permutation_options;

/* se is the sample standard error of the pair averages: trust it with hundreds of pairs. With
 * few pairs a rare large contribution can be missed entirely and se then understates the error
 * (e.g. the pairwise games, whose antithetic pair averages are constant except for the
 * singleton rule at the ends of an order). */

/* Runs permutation sampling. Evaluations = 2 + permutations*(n-1). phi[n]; se[n] or NULL; opts
 * NULL = defaults with seed 0; info may be NULL. Errors: the game's, out of memory. */
int attx_shapley_permutation(const attx_game *g, const attx_permutation_options *opts,
                             double *phi, double *se, attx_shapley_info *info, attx_error *err);

/* Kernel SHAP as shap's KernelExplainer does it: sizes s and n-s paired; the size weights
 * (n-1)/(s(n-s)); sizes enumerated completely, smallest first, while the budget allows each
 * coalition its full kernel weight; the rest sampled (size by the remaining weights, members
 * uniformly, complement added, repeats merged into a weight count, then rescaled to the
 * remaining weight mass); then the Shapley-kernel weighted least squares of v(S) - v(empty) on
 * the masks with sum(phi) = v(N) - v(empty) enforced exactly by eliminating the last player.
 * No l1 feature selection. With a budget of 2^n - 2 or more every coalition is enumerated and
 * the result is the exact Shapley value.
 * Standard error: bootstrap over the sampled draws (enumerated coalitions kept fixed), solving
 * again for each replicate; se = standard deviation of the replicates (0 when nothing was
 * sampled). */
typedef struct attx_kernel_options {
    uint64_t seed;
    int samples;            /* coalitions to evaluate besides empty and full; 0 = 2n + 2048
                               (shap's default); capped at 2^n - 2 */
    int bootstrap;          /* replicates for se: 0 = 100, fewer (down to 10) when n is so
                               large that 100 would cost over ~2e9 operations; < 0 = none
                               (se = NAN). Each replicate is one more solve (O(n^3 +
                               samples * n^2) arithmetic), no evaluations */
} attx_kernel_options;

/* Runs Kernel SHAP. Evaluations = 2 + coalitions used (<= samples). phi[n]; se[n] or NULL; opts
 * NULL = defaults with seed 0; info may be NULL. Errors: a singular least-squares system (too
 * few samples for n players), the game's errors, out of memory. */
int attx_shapley_kernel(const attx_game *g, const attx_kernel_options *opts, double *phi,
                        double *se, attx_shapley_info *info, attx_error *err);

/* P1's own samplers (research-notes §1.3 d), reproduced so its numbers can be. */
typedef enum attx_paper_sampler {
    ATTX_PAPER_RANDOM,      /* each player in each coalition i.i.d. Bernoulli(0.5) */
    ATTX_PAPER_KERNEL       /* "kernel_shap": empty, count-2 sizes drawn with P(z) proportional
                               to (n-1)/(C(n,z) z (n-z)) for z in 1..n-1, full; members a
                               random subset of that size, redrawn up to 10 times while it
                               repeats an earlier coalition (the last draw is kept) */
} attx_paper_sampler;

/* Draws the paper sampler's count coalitions for n players into masks[count *
 * attx_mask_words(n)] (coalition 0 is empty and count-1 full for ATTX_PAPER_KERNEL). n = 1 with
 * ATTX_PAPER_KERNEL has no sizes between empty and full: the middle coalitions are then empty
 * (the official code fails there). Errors: n out of range, count < 1 (< 2 for KERNEL). */
int attx_paper_coalitions(int n, attx_paper_sampler kind, int count, uint64_t seed,
                          uint64_t *masks, attx_error *err);

/* The paper's unnormalised weighted sum over the given coalitions:
 *   phi_i = sum_m w(|S_m \ {i}|) [v(S_m + i) - v(S_m - i)],  w(s) = 1 / (n C(n-1, s)),
 * with player i's bit forced to 1 and 0. Not an unbiased Shapley estimate: under "random"
 * sampling E[phi_i] = count / 2^(n-1) * Shapley_i; no efficiency, no standard error.
 * Evaluations = 2 n count. phi[n]; info may be NULL (v_empty, v_full are NAN). */
int attx_paper_estimate(const attx_game *g, size_t count, const uint64_t *masks, double *phi,
                        attx_shapley_info *info, attx_error *err);

/* attx_paper_coalitions then attx_paper_estimate (count 0 = 100, the paper's setting). */
int attx_shapley_paper(const attx_game *g, attx_paper_sampler kind, int count, uint64_t seed,
                       double *phi, attx_shapley_info *info, attx_error *err);

/* shap's PartitionExplainer (owen algorithm, fixed_context=None) on a balanced binary hierarchy
 * of contiguous players: node [lo, hi) splits into [lo, mid) and [mid, hi) with
 * mid = lo + ceil((hi-lo)/2). Starting from the root with contexts (empty, N), a priority queue
 * holds (node, context mask, v(context), v(context + node), weight); the entry with the largest
 * |v(context + node) - v(context)| * weight is expanded next: evaluate context + left and
 * context + right, push the four children (left and right, each in the context without and with
 * its sibling) with half the weight. A leaf adds (v(with) - v(without)) * weight to its value.
 * When the budget is spent, every queued node keeps (v(with) - v(without)) * weight and passes
 * it down to its players in proportion to their number. Expansions are taken batch_size masks
 * at a time (shap's Text masker batch size 5), which decides the order near the budget.
 * Results: the Owen values of the hierarchy when the budget covers the whole tree
 * (attx_partition_full_evals), so the Shapley values of additive games; efficiency always.
 * Any other binary tree over the players runs the same way (`tree`), e.g. shap's Text masker's
 * token-merging tree (attx_shap_text_tree, with [CLS]/[SEP] as leaves); an internal node then
 * hands its amount to its children in proportion to their numbers of leaves. */
typedef struct attx_partition_options {
    uint64_t seed;          /* breaks ties between equal priorities (shap: np.random.randn) */
    int max_evals;          /* evaluation budget, v(empty) and v(N) included; 0 = 500 */
    int batch_size;         /* 0 = 5 */
    const int32_t *tree;    /* NULL: the balanced tree above. Else a binary tree over the n players
                               laid out as shap's clustering matrix (its first two columns):
                               internal node n+k (k = 0..n-2) has children tree[2k] and
                               tree[2k+1]; ids < n are players; each id below 2n-2 is the child
                               of exactly one node with a larger id; the root is 2n-2 */
} attx_partition_options;

/* Runs the partition explainer. Evaluations <= max_evals + 1 (shap's loop may overshoot by one
 * pair). phi[n]; opts NULL = defaults with seed 0; info may be NULL. Errors: max_evals < 2, the
 * game's errors, out of memory. */
int attx_shapley_partition(const attx_game *g, const attx_partition_options *opts, double *phi,
                           attx_shapley_info *info, attx_error *err);

/* Evaluations the partition explainer needs to expand the whole hierarchy of n players (so that
 * it returns the Owen values): 2 + 2 * sum over internal nodes of 2^depth. */
uint64_t attx_partition_full_evals(int n);

/* The balanced tree of attx_shapley_partition in the `tree` layout: tree[2 * (n - 1)]. */
void attx_partition_balanced_tree(int n, int32_t *tree);

/* ------------------------------------------------------------------------------------------ */
/* Weighted ridge regression (LIME's surrogate model)                                          */

/* sklearn's Ridge(alpha, fit_intercept=True).fit(X, y, sample_weight=w) in double:
 *   x_mean = sum_k w_k x_k / sum_k w_k,  y_mean likewise           (weighted centering)
 *   Xc_k = sqrt(w_k) (x_k - x_mean),  yc_k = sqrt(w_k) (y_k - y_mean)
 *   (Xc^T Xc + alpha I) coef = Xc^T yc                              (Cholesky)
 *   intercept = y_mean - x_mean . coef
 *   score = weighted R^2 = 1 - sum w (y - yhat)^2 / sum w (y - y_mean)^2
 * (as sklearn's r2_score: 1 when the denominator and the numerator are 0, 0 when only the
 * denominator is). With alpha = 0 (ordinary weighted least squares) a column that is constant
 * or a linear combination of earlier ones gets coefficient 0 (same fitted values as sklearn's
 * least-squares fallback, so the same score; the coefficients of such a rank-deficient problem
 * are not unique).
 * X[rows * cols] row-major; w[rows] (NULL = all 1, else finite and >= 0 with a positive sum);
 * coef[cols]; intercept, score may be NULL. Errors: rows < 1, cols < 0, alpha < 0 or not
 * finite, a value that is not finite, weights that sum to 0, out of memory. */
int attx_weighted_ridge(size_t rows, int cols, const double *X, const double *y, const double *w,
                        double alpha, double *coef, double *intercept, double *score,
                        attx_error *err);

/* ------------------------------------------------------------------------------------------ */
/* LIME                                                                                        */

/* LIME with LimeTextExplainer's semantics (lime/lime_text.py, lime/lime_base.py) on a game whose
 * d = g->n players are LIME's features: v(S) is the model's output on the input with only the
 * features in S kept (text with bow=True: the distinct words, every occurrence removed
 * together; images: patches). The caller maps players to words or patches.
 *
 * Per run:
 *   samples   sample 0 keeps every feature (the unperturbed input); for samples 1..N-1 first
 *             all the sizes s ~ Uniform{1..d} are drawn (as lime's randint(1, d+1, N-1)), then
 *             for each sample s distinct features chosen uniformly are removed (as
 *             choice(range(d), s, replace=False)); s = d removes every feature. The stream is
 *             attx_rng's, not numpy's, so the samples are LIME's distribution, not its draws.
 *   distance  cosine distance to the all-ones vector x 100: with m features kept,
 *             100 (1 - sqrt(m/d)); 100 for the empty sample (sklearn: cosine similarity 0)
 *   weight    sqrt(exp(-distance^2 / width^2)), width 25
 *   selection feature_selection='auto': forward selection when num_features <= 6, else highest
 *             weights (lime's rule is on num_features, not on d). Forward selection adds, up to
 *             min(num_features, d) times, the feature whose weighted least-squares fit
 *             (Ridge alpha 0, intercept) with the features chosen so far has the largest
 *             weighted R^2 (first index on ties). Highest weights fits Ridge(alpha=0.01) on all
 *             features and keeps the num_features largest |coef| (first index on ties). When
 *             num_features >= d every method keeps all d features.
 *   fit       attx_weighted_ridge(alpha 1) of v on the kept features' 0/1 columns with the
 *             kernel weights; features not kept get coefficient 0.
 * Repeats: run r draws its samples with seed stream r (attx_lime_samples(..., seed, r, ...));
 * the coefficients, intercept, score and local prediction are averaged over the runs (P2
 * averages 5). Evaluations = num_samples * repeats (sample 0 included each run, as lime).
 * lime's 'lasso_path' selection is not implemented. */
typedef enum attx_lime_selection {
    ATTX_LIME_AUTO = 0,         /* forward selection if num_features <= 6, else highest weights */
    ATTX_LIME_NONE,             /* every feature */
    ATTX_LIME_FORWARD,          /* 'forward_selection' */
    ATTX_LIME_HIGHEST_WEIGHTS   /* 'highest_weights' */
} attx_lime_selection;

typedef struct attx_lime_options {
    uint64_t seed;
    int num_samples;            /* per run, sample 0 included; 0 = 5000 */
    int num_features;           /* features in the explanation; 0 = all d (lime's own default is
                                   10; P2 asks 255, i.e. all) */
    attx_lime_selection selection;
    double kernel_width;        /* 0 = 25 */
    double alpha;               /* ridge penalty of the final fit; 0 = 1 (lime's); must be > 0 */
    int repeats;                /* runs averaged; 0 = 1 */
} attx_lime_options;

typedef struct attx_lime_info {
    uint64_t evaluations;       /* coalitions the game evaluated */
    double intercept;           /* mean over runs of the ridge intercept */
    double score;               /* mean over runs of the weighted R^2 (lime's `score`) */
    double local_pred;          /* mean over runs of the surrogate at the full input
                                   (intercept + sum of coef): lime's `local_pred` */
    double v_full;              /* v(N), the value of sample 0 */
    int features_used;          /* features the selection kept (min(num_features, d)) */
    attx_lime_selection selection;   /* what AUTO resolved to (NONE when all were kept) */
} attx_lime_info;

/* The samples of run `run`: masks[num_samples * attx_mask_words(d)], sample 0 the full
 * coalition, a player in a mask = a feature kept. Errors: d < 1 or above the limit,
 * num_samples < 1, run < 0. */
int attx_lime_samples(int d, int num_samples, uint64_t seed, int run, uint64_t *masks,
                      attx_error *err);

/* Runs LIME. coef[d] (one per feature, 0 for features not selected); opts NULL = defaults with
 * seed 0; info may be NULL. Errors: a game with no players, bad options, the game's errors, out
 * of memory. */
int attx_lime(const attx_game *g, const attx_lime_options *opts, double *coef,
              attx_lime_info *info, attx_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Faithfulness metrics                                                                        */

/* Comprehensiveness and sufficiency of an attribution vector scores[n] on a game whose value is
 * the probability of the originally predicted class with only the players in S kept (the rest
 * replaced by [MASK] or a baseline), so v(N) = p(y_hat | x). For each bin k (in percent),
 * k_n = ceil(n k / 100) (in integers: (n k + 99) / 100) and top_k = the k_n best-ranked players:
 *   comp = sum_k [v(N) - v(N \ top_k)] / (|K| + 1)
 *   suff = sum_k [v(N) - v(top_k)]     / (|K| + 1)
 * P1 (research-notes §1.4): K = {0, 10, 20, 50}, divisor 5; at k = 0 comp's term is 0 and
 * suff's is v(N) - v(empty). ERASER's AOPC: B = {1, 5, 10, 20, 50}, divisor 6.
 * Ranking: descending score (or |score| with rank_by_abs, as P1 does for SHAP). Ties: scores
 * that are equal in float32 (the precision P1 and PyTorch rank in) are tied; a bin is tied when
 * its top_k must take some but not all of a group of tied players. The tie rule decides:
 *   ATTX_TIES_FIRST    the double-precision score, then the lower player index (attx's default);
 *   ATTX_TIES_P1       the players torch.topk picks on the CPU (attx_torch_topk_set) from P1's
 *                      vector: [CLS] -inf, the players' float32 scores, -inf for [SEP] and the
 *                      padding up to padded_length (P1 pads the data set to its longest input);
 *   ATTX_TIES_AVERAGE  the expectation over which tied players are taken, every choice equally
 *                      likely: exact over all C(g, t) choices when there are at most
 *                      tie_samples of them, else the mean of tie_samples random choices.
 * All the distinct coalitions (N, and for every bin N \ top_k and top_k; duplicates merged) are
 * evaluated in one attx_game_eval call. */
#define ATTX_FAITH_MAX_BINS 16

typedef enum attx_tie_rule {
    ATTX_TIES_FIRST = 0,
    ATTX_TIES_P1,
    ATTX_TIES_AVERAGE
} attx_tie_rule;

typedef enum attx_faith_bins {
    ATTX_FAITH_P1 = 0,          /* {0, 10, 20, 50} % */
    ATTX_FAITH_ERASER           /* {1, 5, 10, 20, 50} % */
} attx_faith_bins;

typedef struct attx_faithfulness_options {
    attx_faith_bins bins;       /* preset, used when count is 0 */
    int count;                  /* custom bins: count percents in 0..100 (at most
                                   ATTX_FAITH_MAX_BINS), divisor count + 1 */
    const int *percents;
    int rank_by_abs;            /* rank by |score| */
    attx_tie_rule ties;         /* ATTX_TIES_FIRST (0), _P1 or _AVERAGE */
    int padded_length;          /* P1: the length torch.topk ranks over; < n + 2: n + 2 */
    int tie_samples;            /* AVERAGE: choices per tied bin; 0 = 64 */
    uint64_t seed;              /* AVERAGE: of the sampled choices */
} attx_faithfulness_options;

typedef struct attx_faithfulness {
    double comprehensiveness;
    double sufficiency;
    double v_full;              /* v(N) */
    int bins;                   /* |K| */
    int percent[ATTX_FAITH_MAX_BINS];
    int k[ATTX_FAITH_MAX_BINS];         /* k_n, players in top_k */
    double v_removed[ATTX_FAITH_MAX_BINS];   /* v(N \ top_k) */
    double v_kept[ATTX_FAITH_MAX_BINS];      /* v(top_k) (AVERAGE: both expected values) */
    int tied_bins;              /* bins whose top_k falls inside a group of tied players */
    uint64_t evaluations;       /* distinct coalitions evaluated */
} attx_faithfulness;

/* order[n] = the players by rank (best first) under the rule above. Errors: n < 0, a score that
 * is not finite, NULL pointers with n > 0, out of memory. */
int attx_rank_players(int n, const double *scores, int rank_by_abs, int *order, attx_error *err);

/* The sufficiency coalition of one bin: mask[attx_mask_words(n)] = the ceil(n percent / 100)
 * best-ranked players (e.g. percent 20 for P1's F1 on the 20% sufficiency input); *k_out (may
 * be NULL) = how many. opts: rank_by_abs and the tie rule (AVERAGE takes FIRST's choice: one
 * coalition is asked for); NULL = by score, FIRST. Errors: as attx_rank_players, percent
 * outside 0..100. */
int attx_top_players_mask(int n, const double *scores, const attx_faithfulness_options *opts, int percent,
                          uint64_t *mask, int *k_out, attx_error *err);

/* torch.topk(values[n], k).indices as a set, as PyTorch 1.13 picks it on the CPU (largest,
 * ties as its std::partial_sort / std::nth_element leave them; topk_torch.c): selected[k].
 * Errors: k outside 0..n, a NaN value, out of memory. */
int attx_torch_topk_set(const float *values, int n, int k, int *selected, attx_error *err);

/* Computes comprehensiveness and sufficiency. scores[g->n]; opts NULL = P1 with plain ranking.
 * Errors: bad bins, scores that are not finite, the game's errors, out of memory. */
int attx_faithfulness_eval(const attx_game *g, const double *scores,
                           const attx_faithfulness_options *opts, attx_faithfulness *out,
                           attx_error *err);

/* Dataset level: macro-F1 and support-weighted F1 of pred[count] against gold[count], as
 * sklearn's f1_score(average='macro' / 'weighted') with its default labels (the labels present
 * in gold or pred): per label F1 = 2 tp / (2 tp + fp + fn); macro = the mean over those labels;
 * weighted = sum over labels of F1 * (gold count) / count. macro, weighted may be NULL. Errors:
 * count 0, a negative label. */
int attx_f1_scores(size_t count, const int *gold, const int *pred, double *macro,
                   double *weighted, attx_error *err);


/* ------------------------------------------------------------------------------------------ */
/* Influence matrices (research-notes §1.2)                                                    */
/*                                                                                             */
/* From one forward pass with the tape on (out.attn[l] = A^l [B, H, T, T], post-softmax) and,  */
/* for the Grad-Att kind, one backward pass from the explained logit (out.attn[l]->grad = dA^l */
/* = dz/dA^l):                                                                                 */
/*   Mbar = mean over heads h and the chosen layers l of  A^{l,h}             (ATT)             */
/*                                                   or  A^{l,h} * ReLU(dA^{l,h})  (GRAD_ATT)   */
/* restricted to the players: token positions first .. first+n-1 (text: the content tokens     */
/* 1..n, never [CLS], [SEP] or padding; images: the patches 1..T-1, token 0 being [CLS]).       */
/* M = Mbar[players, players] (n x n, row = query) and cls = Mbar[0, players].                  */
/* Examples of a batch are independent: a backward seeded with a one-hot row per example       */
/* (attx_seed_explained_logits) gives every example its own dA.                                */

typedef enum attx_influence_kind {
    ATTX_INFLUENCE_ATT = 0,        /* A */
    ATTX_INFLUENCE_GRAD_ATT = 1    /* A * ReLU(dA) */
} attx_influence_kind;

/* Which layers to average: NULL / 0 = all of them. Layer numbers from 0. */
typedef struct attx_layer_set {
    const int *layers;
    int n_layers;
} attx_layer_set;

/* Fills M[n*n] (may be NULL) and cls[n] (may be NULL) for example b of a tape forward `out`
 * with L layers. Errors: no attention tensors (tape off), a layer out of range, GRAD_ATT
 * without gradients (no backward pass), players outside the sequence. */
int attx_influence(const attx_outputs *out, int num_layers, int b, attx_influence_kind kind,
                   const attx_layer_set *layers, int first, int n, double *M, double *cls,
                   attx_error *err);

/* Seeds for attx_backward(ctx, out.logits, seed): seed[B*C] = one-hot of klass[b] per row, so
 * one backward gives each example the gradient of its own explained (pre-softmax) logit. */
void attx_seed_explained_logits(int B, int C, const int *klass, float *seed);

/* ------------------------------------------------------------------------------------------ */
/* Model games                                                                                 */
/*                                                                                             */
/* v(S) = a value of the model's output on the input with the players outside S removed:      */
/* text: their tokens replaced by [MASK] (attention mask unchanged, [CLS]/[SEP] kept); images: */
/* their patches' pixels set to a baseline value (after normalisation). Coalitions are         */
/* evaluated in batches of forward passes with the tape off. The game owns a context and is   */
/* not thread safe; the model must outlive it.                                                 */

typedef enum attx_model_value {
    ATTX_VALUE_PROB = 0,       /* softmax probability of the class */
    ATTX_VALUE_LOGIT,          /* the class's pre-softmax logit */
    ATTX_VALUE_LOGODDS         /* log(p/(1-p)) of the class = z_k - logsumexp_{j != k} z_j */
} attx_model_value;

typedef struct attx_model_game_options {
    int klass;                 /* the class whose value is taken */
    attx_model_value value;
    int batch_size;            /* coalitions per forward pass; 0 = 32 */
    int32_t mask_id;           /* text: replacement token; < 0 = the vocabulary's [MASK] */
    float baseline;            /* images: pixel value of removed patches (0 = the mean colour
                                  for ViTImageProcessor's normalisation) */
    int special_players;       /* BERT text: 1 = the players are every token [CLS] ... [SEP]
                                  (n = length), and the bits of [CLS] and [SEP] change nothing:
                                  they stay, as shap's Text masker keeps them (keep_prefix /
                                  keep_suffix). 0 = the content tokens only */
} attx_model_game_options;

/* The text game on one encoded sequence ids[length] ([CLS] content [SEP]); players are the
 * content tokens 1..length-2 (n = length - 2). Copies ids. Errors: not a text model with a
 * classifier, no [MASK] token, klass out of range, length < 3, out of memory.
 * attn1: ids[length] = [cls] w1..wn WITHOUT the padding (2 <= length <= T); players are the
 * words 1..n (n = length - 1); the game pads with UNK to T, and removed words become UNK in
 * place (mask_id < 0 means UNK: attn1 has no [MASK]; P2's theory of removal). */
int attx_game_model_text(attx_game *g, const attx_model *m, const int32_t *ids, int length,
                         const attx_model_game_options *opts, attx_error *err);

/* The image game on one preprocessed image pixels[C*H*W] (as attx_image_preprocess gives it);
 * players are the patches in row-major order (n = (H/P)*(W/P)). Copies the pixels. */
int attx_game_model_image(attx_game *g, const attx_model *m, const float *pixels,
                          const attx_model_game_options *opts, attx_error *err);

/* Forward passes (one per coalition) a model game has run so far; 0 for other games. */
uint64_t attx_game_model_forwards(const attx_game *g);

/* ------------------------------------------------------------------------------------------ */
/* shap's Text masker (string-level masking) and its token tree                                */
/*                                                                                             */
/* shap's Text masker cuts the text into one substring ("segment") per token of [CLS] content */
/* [SEP]: a token's segment runs from its start to the next token's start (so it carries the  */
/* whitespace after it; the last content token ends at its own end), [CLS]'s is the text      */
/* before the first token and [SEP]'s is empty. Token ranges are those of the tokenizer's     */
/* offsets: a WordPiece piece's own characters, not its word's. A coalition is the string of  */
/* the kept tokens' segments with " [MASK]" for each removed token (collapse_mask_token is    */
/* False for a tokenizer with a mask token), whitespace runs made one space, ends stripped;   */
/* the model sees that string tokenized again. This differs from replacing ids where the      */
/* string re-tokenizes differently: "un ##believ ##able" with the middle removed is          */
/* "un [MASK]able", whose "able" is a word of its own.                                        */

typedef struct attx_text_segments {
    char *text;                /* the text the segments index (owned, NUL-terminated) */
    size_t text_len;
    size_t *start, *end;       /* [length] segment [start, end) of each token in text */
    int length;                /* tokens, [CLS] and [SEP] included */
} attx_text_segments;

/* Segments of a text encoded as attx_encode_text does it (truncated alike: tokens past the
 * model's positions are not part of it). A word whose pieces cannot be matched to its
 * characters one to one (a combining mark typed separately, a letter that lowercases to two)
 * makes every segment come from the tokens, as attx_text_segments_from_ids. Errors: those of
 * attx_encode_text, out of memory. */
int attx_text_segments_from_text(const attx_model *m, const char *text, size_t len, attx_text_segments *out,
                                 attx_error *err);
/* Segments of encoded ids[length] ([CLS] content [SEP]) without their text: the text is the
 * tokens written out, a "##" piece glued to the token before it, others after one space.
 * Errors: not a BERT vocabulary with [CLS]/[SEP]/[MASK], length < 2, an id out of range. */
int attx_text_segments_from_ids(const attx_model *m, const int32_t *ids, int length, attx_text_segments *out,
                                attx_error *err);
void attx_text_segments_free(attx_text_segments *s);

/* The masked string of one coalition (NUL-terminated, malloc'ed into *out, length *len):
 * special_players as in attx_model_game_options (player i is token i, or content token i). */
int attx_text_segments_mask(const attx_text_segments *s, const uint64_t *mask, int special_players, char **out,
                            size_t *len, attx_error *err);

/* shap's partition_tree over the segments (shap/maskers/_text.py, written from its rules):
 * tree[2 * (length - 1)] in attx_partition_options' layout over all `length` tokens, [CLS] and
 * [SEP] included; size[length - 1] (may be NULL) the leaves under each internal node.
 * Each segment becomes a tree token: stripped of whitespace, with "##" before it when it starts
 * with an ASCII letter, the segment before it does not end in a non-word character and the
 * token before it is not empty. Then, while more than one group is left, the two adjacent
 * groups with the largest merge score are merged (the leftmost on ties):
 *   +20 right group starts with "##"            +15 an apostrophe joins "t"/"s" (either side)
 *   -1000 exactly one of (left starts, right ends) with a "[...]" control token
 *   -100 an unbalanced "(" starts the right, or an unbalanced ")" ends the left group
 *   -2 left starts with "("   -2 "but"/"and"/"or" at the seam   -10 left ends with ","
 *   right starts with ",": -10 (-1 when it is the "," alone); the same for ". ? !" with -20
 *   -inf two [SEP]s at the seam;   minus the number of tokens in both groups.
 * A "(" and ")" are balanced once a merged group starts with the one and ends with the other.
 * Non-ASCII characters count as word characters unless they are punctuation, whitespace,
 * control characters or combining marks (Python's \W also counts symbols as non-word). Errors:
 * length < 1, out of memory. */
int attx_shap_text_tree(const attx_text_segments *s, int32_t *tree, int32_t *size, attx_error *err);

/* The text game on segments: v(S) = the model's value on the masked string of S, encoded as
 * attx_encode_text does ([CLS] ... [SEP], truncated to the model's positions), in batches
 * padded to the batch's longest sequence. Players: the content tokens, or every token with
 * opts->special_players. BERT text models only (attn1 has no [MASK]). Copies the segments. */
int attx_game_model_text_masked(attx_game *g, const attx_model *m, const attx_text_segments *s,
                                const attx_model_game_options *opts, attx_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Explanation methods and the driver                                                          */
/*                                                                                             */
/* Every method gives one score per player. Names are stable (kebab-case):                     */
/*   att-cls grad-att-cls att-mutual grad-att-mutual att-max-mutual grad-att-max-mutual        */
/*       P1's games on the influence matrix (closed form; exact = enumeration; or sampled)     */
/*   shapley-input  the model game (probability of the class, [MASK]/baseline removal);       */
/*                  exact enumeration up to 16 players unless --samples; sampled otherwise     */
/*   shap           partition (Owen) explainer on the model game, max_evals = samples or 500;  */
/*                  value = the class's logit-odds log(p/(1-p)); shap_p1: P1's quirk, always   */
/*                  log(p1/(1-p1)) of class 1 whatever the explained class; shap_masker and    */
/*                  shap_tree choose id or string masking and the balanced or shap's tree      */
/*   grad-sam       P1: sum over keys of A * ReLU(dA), mean over heads and layers, / T         */
/*   att            P1's baseline: sum over keys of A / (H L T). Every softmax row sums to 1,  */
/*                  so every player gets 1/T (degenerate, kept to reproduce P1)                */
/*   att-avg att-max  P2: [CLS]-row attention, mean / max over heads, of the LAST layer by     */
/*                  default (P2's model has one layer); with layers, mean over those layers    */
/*                  (att-max: max over heads and those layers)                                 */
/*   grad-avg grad-l1 grad-l2 grad-x-input  P2 on the explained logit's gradient with respect  */
/*                  (note: for BERT grad-avg is 0 up to rounding: the embedding LayerNorm does not */
/*                  change when a constant is added to every feature, so the gradient sums to 0)  */
/*                  to inputs_embeds e_t: mean, L1, L2 of grad_{e_t} z, and e_t . grad_{e_t} z.  */
/*                  BERT: e_t is the word embedding before positions and token types are added */
/*                  (P2's e_t includes positions; BERT adds them after, so ours does not);      */
/*                  ViT: the patch embedding (projection output) before [CLS] and positions    */
/*   integrated-gradients  on inputs_embeds from a baseline ([PAD]'s word embedding, or zero;   */
/*                  images: pixels at the image baseline, which is the same path in patch      */
/*                  embeddings) at the players, [CLS]/[SEP] fixed; midpoint rule with `steps`  */
/*                  nodes; completeness_error = |sum - (z(x) - z(x'))| / |z(x) - z(x')|          */
/*   att-ig         the grad-att [CLS] row averaged along the same path (same nodes):          */
/*                  (1/steps) sum_k Mbar_gradatt(x_k)[0, players]. An answer to P1's "open      */
/*                  question 2" chosen for simplicity; it has no completeness property          */
/*   rollout        Abnar & Zuidema: per layer Abar = mean over heads, 0.5 Abar + 0.5 I, rows   */
/*                  normalised, R = product over layers (last on the left), R[0, players]       */
/*   grad-rollout   Chefer et al. 2021: Abar^l = mean_h (dA^l * A^l)^+, R <- R + Abar^l R from  */
/*                  R = I, R[0, players]                                                        */
/* Costs: the attention and gradient methods share one forward with the tape and one backward  */
/* (run only when a requested method reads gradients); each method reports that pass in its    */
/* time and counts, i.e. what it would cost alone. The model games run their own batched       */
/* forwards (shap's partition explainer evaluates at most 2 x 5 coalitions per batch).          */

typedef enum attx_sampler {
    ATTX_SAMPLER_NONE = 0,          /* closed form / exact / the method's default */
    ATTX_SAMPLER_PERMUTATION,       /* samples = permutations */
    ATTX_SAMPLER_KERNEL,            /* samples = coalitions */
    ATTX_SAMPLER_PAPER_RANDOM,      /* samples = coalitions (P1: 100) */
    ATTX_SAMPLER_PAPER_KERNEL
} attx_sampler;

typedef enum attx_ig_baseline {
    ATTX_IG_BASELINE_PAD = 0,       /* text: [PAD]'s word embedding (images: the pixel baseline) */
    ATTX_IG_BASELINE_ZERO           /* text: zero embedding */
} attx_ig_baseline;

typedef enum attx_shap_masker {
    ATTX_SHAP_MASKER_IDS = 0,       /* attx's: [MASK] in place of the token's id (players fixed) */
    ATTX_SHAP_MASKER_TEXT           /* P1's (shap's Text masker): " [MASK]" in the string, which
                                       is tokenized again (attx_game_model_text_masked) */
} attx_shap_masker;

typedef enum attx_shap_tree {
    ATTX_SHAP_TREE_BALANCED = 0,    /* attx's: the balanced tree over the content tokens */
    ATTX_SHAP_TREE_SHAP             /* P1's: shap's partition_tree over every token, [CLS] and
                                       [SEP] included as players whose values are dropped */
} attx_shap_tree;

typedef struct attx_explain_options {
    int klass;                  /* explained class; < 0 = the predicted one */
    int exact;                  /* Shapley by enumeration (pairwise games and shapley-input) */
    int max_players;            /* exact: refuse games with more players; 0 = the game's limit
                                   (attention games 24, model games 16); at most 30 */
    int samples;                /* > 0: sample with `sampler` (its own unit); shap: max_evals */
    attx_sampler sampler;       /* NONE with samples > 0 = permutation */
    uint64_t seed;
    int steps;                  /* integrated-gradients, att-ig: 0 = 64 */
    attx_layer_set layers;      /* influence / rollout / att-avg layers; all (att-avg: last) */
    attx_ig_baseline ig_baseline;
    float image_baseline;       /* removed patches' pixel value (model games, IG) */
    int shap_p1;                /* shap explains logit(P(class 1)) as P1's code does (the CLI's
                                   --shap-p1 also sets the next two to P1's) */
    attx_shap_masker shap_masker;   /* shap's removal of tokens (BERT text; others: ids) */
    attx_shap_tree shap_tree;   /* shap's hierarchy (BERT text; others: balanced) */
    int batch_size;             /* forward batch of the model games and IG; 0 = 32 */
} attx_explain_options;

void attx_explain_options_init(attx_explain_options *o);   /* the defaults above, seed 0 */

/* The method names, in a fixed order; count returned. */
int attx_method_count(void);
const char *attx_method_name(int index);
/* Index of a method name, or -1. */
int attx_method_find(const char *name);

typedef struct attx_method_result {
    char name[32];
    int n;                      /* players */
    double *scores;             /* [n] */
    double *se;                 /* [n] standard errors when the sampler gives them, else NULL */
    double time_ms;
    uint64_t forward_passes;    /* sequences / images run forward (a batch of k counts k) */
    uint64_t backward_passes;   /* backward passes (a batch of k examples counts k) */
    double completeness_error;  /* integrated-gradients; NAN otherwise */
    char how[96];               /* e.g. "closed form", "exact, 4096 coalitions" */
} attx_method_result;

typedef struct attx_explanation {
    attx_arch arch;
    int n_players;
    int first_player;           /* token position of player 0 (1) */
    int klass, predicted, num_labels;
    float *logits;              /* [num_labels] */
    double *probs;              /* [num_labels] */
    attx_encoding enc;          /* text: the encoded input (players = enc.tokens) */
    int grid_h, grid_w;         /* images: patches per column / row */
    int n_methods;
    attx_method_result *methods;
} attx_explanation;

/* Explains text (encoded with the model's tokenizer and truncated as attx_encode_text does)
 * with the methods names[n_names]. Errors: bad text, unknown method, a method that cannot run
 * on this input (named in the message), the engine's errors. *out is freed by
 * attx_explanation_free whatever the result. */
int attx_explain_text(const attx_model *m, const char *text, size_t len, const char *const *names,
                      int n_names, const attx_explain_options *opts, attx_explanation *out,
                      attx_error *err);
/* Explains an encoded sequence ids[length] ([CLS] content [SEP], e.g. from attx_encode_text or
 * a data set already tokenized); out->enc gets a copy of the ids (no token byte ranges).
 * attn1 (both functions): the players are the words 1..n, never the UNK padding; here ids are
 * [cls] w1..wn WITHOUT the padding (2 <= length <= T: the first 1 + enc.tokens.n ids of
 * attx_encode_text), padded with UNK to T (out->enc.length = T). On attn1 these methods run:
 * att-cls grad-att-cls att-avg att-max grad-avg grad-l1 grad-l2 grad-x-input
 * integrated-gradients ([PAD] = UNK) att-ig shapley-input shap lime (removed words -> UNK in
 * place); the others (att-mutual, att-max-mutual and their grad- forms, att, grad-sam,
 * rollout, grad-rollout) need every token's attention row and fail with a message saying so.
 * e_t for the gradient methods is attn1's e = W_e[x] + PE (P2's). */
int attx_explain_ids(const attx_model *m, const int32_t *ids, int length, const char *const *names,
                     int n_names, const attx_explain_options *opts, attx_explanation *out,
                     attx_error *err);
/* Explains one preprocessed image pixels[C*H*W] (attx_image_preprocess) with an image model. */
int attx_explain_image(const attx_model *m, const float *pixels, const char *const *names,
                       int n_names, const attx_explain_options *opts, attx_explanation *out,
                       attx_error *err);
void attx_explanation_free(attx_explanation *e);

/* ------------------------------------------------------------------------------------------ */
/* P2's closed forms on attn1 (research-notes §2.3, §2.4)                                      */

/* Theorem 4.1: for one example with e[T*D] (outputs' inputs_embeds, positions included) and
 * alpha[K*T] (attn[0] of that example) of attn1 model m,
 *   grad[t*D + k] = (1/K) sum_i alpha_t^i [ W_v^iT w^i + (w^i.v_t^i - f_i) W_k^iT q_0^i / sqrt(d_att) ]_k
 * for t >= 1 (w^i = head i's columns of the class-klass row of W_l, f_i = sum_s alpha_s^i w^i.v_s^i,
 * q_0^i = W_q^i e_0); row t = 0 is left 0 (the theorem leaves out [CLS]'s own query). grad[T*D]
 * in double. Errors: not attn1, klass out of range. */
int attx_attn1_theorem41(const attx_model *m, const float *e, const float *alpha, int klass, double *grad,
                         attx_error *err);

/* Eq. (19): LIME's coefficients approximated from attention, for ids[length] = [cls] w1..wn
 * (unpadded; the model pads with UNK to T) and the word -> feature map feature_of[n] (features
 * 0..d-1, e.g. distinct words):
 *   beta_j = (3/2) (1/K) sum_i sum_{t in T_j} w^i . (alpha_t^i v_t^i - alpha~_t^i v~_t^i)
 * where ~ is the all-UNK document ([cls] kept, so q_0 is the original's). Two forward passes.
 * beta[d]. Errors: not attn1, bad sizes, the engine's. */
int attx_attn1_lime_approx(const attx_model *m, const int32_t *ids, int length, int klass, const int *feature_of,
                           int d, double *beta, attx_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Concept activation vectors, T-TCAV and TCAV (research-notes §1.6, anchors-notes §B.8)      */
/*                                                                                             */
/* Layer l (from 0) is the output of encoder block l, out.hidden[l + 1]: h_t in R^D for every  */
/* token t of an example ([CLS], content, [SEP]; or [CLS] and the patches), never padding.     */
/* A CAV v (unit norm) is the normal of a logistic regression that separates the token rows of */
/* a concept's examples (label 1) from those of counter-examples (label 0), pointing towards   */
/* the concept. For a target input x with g_t = d logit_k / d h_t (block output, captum's sign: */
/* the logit, not a loss) and a_t = (1/H) sum_h A^{l,h}[0, t] (the layer's [CLS] query row,     */
/* head mean, t = 0 included):                                                                  */
/*   d_t = g_t . v                                                                             */
/*   T-TCAV (P1)   S(x) = (1/T) sum_t a_t d~_t,  d~ = d (||a||_2 / ||d||_2 + 1e-8)  (the 1e-8 */
/*                 is added to the ratio, as P1 codes it; d = 0 gives d~ = 0)                  */
/*   TCAV          sum_t d_t: the directional derivative of the logit when every token moves   */
/*                 along v (Kim et al. on the whole layer, with the token-level CAV)           */
/*   ablation      (1/T) sum_t d_t: T-TCAV without the attention weights. Its sign is the sign */
/*                 of TCAV's sum, so the two give the same score; they differ in magnitude     */
/* and the score of a CAV is the fraction of targets with S(x) > 0.                            */

/* Where examples come from: count examples produced one at a time by load, so files are read  */
/* only when a batch needs them. Text models: load fills ids[0 .. *length) ([CLS] ... [SEP],   */
/* *length <= max_len = the model's positions); image models: pixels[C*H*W] as                 */
/* attx_encode_image gives them (ids, length unused). Returns 0, or -1 with err filled.         */
typedef struct attx_tcav_source {
    int count;
    int (*load)(void *user, int i, int32_t *ids, int32_t *length, int max_len, float *pixels,
                attx_error *err);
    void *user;
} attx_tcav_source;

/* Examples already in memory: text ids[i][0 .. lengths[i]) or images pixels[count, C*H*W]. */
typedef struct attx_tcav_memory {
    int count;
    const int32_t *const *ids;
    const int32_t *lengths;
    const float *pixels;
    size_t pixels_per_image;        /* C*H*W */
} attx_tcav_memory;

/* A source reading *mem (which must outlive it). */
attx_tcav_source attx_tcav_source_memory(const attx_tcav_memory *mem);

/* Block outputs of a set of examples at some layers. Example i's tokens are rows
 * start[i] .. start[i+1]-1 of every h[j] ([rows, dim] row-major, layer layers[j]). */
typedef struct attx_tcav_acts {
    int count, dim, n_layers;
    int *layers;                    /* [n_layers] */
    int64_t *start;                 /* [count + 1] */
    float **h;                      /* [n_layers] of [start[count] * dim] */
} attx_tcav_acts;

/* Runs the examples of src forward in batches of batch_size (0 = 8; tape on, the context reset
 * after each batch) and keeps layers[n_layers] only. Errors: not a BERT or ViT model, a layer
 * out of range, the source's errors (prefixed "example i"), the engine's, out of memory. */
int attx_tcav_activations(const attx_model *m, const attx_tcav_source *src, const int *layers,
                          int n_layers, int batch_size, attx_tcav_acts *out, attx_error *err);
void attx_tcav_acts_free(attx_tcav_acts *a);

/* One target example at one layer, as attx_tcav_gradients hands it over. */
typedef struct attx_tcav_view {
    int example;                    /* index in the source */
    int layer_index, layer;         /* index in layers[], layer number */
    int T, D;                       /* tokens of the example (no padding), hidden size */
    const float *h;                 /* [T, D] block output */
    const float *g;                 /* [T, D] d logit_klass / d h */
    const float *a;                 /* [T] head-mean [CLS] attention row of the layer */
} attx_tcav_view;
typedef int (*attx_tcav_view_fn)(void *user, const attx_tcav_view *v, attx_error *err);

/* What the directional derivatives differentiate, for class k (z: the logits, p = softmax(z)):
 *   LOGIT       z_k (P1's T-TCAV; seed e_k)
 *   CENTRED     z_k - (1/C) sum_j z_j (softmax ignores a common shift; seed e_k - 1/C)
 *   LOGSOFTMAX  log p_k (Kim et al.'s TCAV loss; seed e_k - p)
 *   MARGIN      z_k - z_r, r the largest other logit of the example (seed e_k - e_r) */
typedef enum attx_tcav_objective {
    ATTX_TCAV_LOGIT = 0,
    ATTX_TCAV_CENTRED,
    ATTX_TCAV_LOGSOFTMAX,
    ATTX_TCAV_MARGIN
} attx_tcav_objective;

/* "logit", "centred", "logsoftmax", "margin" */
const char *attx_tcav_objective_name(attx_tcav_objective o);

/* Streams the examples of src in batches (forward with the tape, one backward per batch seeded
 * with a one-hot on logit klass of every example, which keeps the examples independent) and
 * calls fn once per (example, layer), examples in order, layers in the order given; g is the
 * gradient of the objective for class klass (attx_tcav_objective; LOGIT: a one-hot seed).
 * Only one batch is in memory at a time. Errors: as attx_tcav_activations, klass out of range,
 * a model without a classifier, fn's own. */
int attx_tcav_gradients(const attx_model *m, const attx_tcav_source *src, int klass, attx_tcav_objective objective,
                        const int *layers, int n_layers, int batch_size, attx_tcav_view_fn fn, void *user,
                        attx_error *err);

/* L2-regularised logistic regression as sklearn's LogisticRegression(penalty='l2', C) with an
 * intercept that is not penalised: the minimiser of
 *   f(w, b) = 1/2 ||w||^2 + C sum_i log(1 + exp(-s_i (x_i . w + b))),  s_i = +1 (y_i = 1), -1,
 * found by L-BFGS (10 pairs, backtracking Armijo line search) in double precision, to
 * max_j |df/dw_j|, |df/db| <= tol. */
typedef struct attx_logreg_options {
    double C;                       /* 0 = 1.0 */
    int no_intercept;               /* 1: b = 0 */
    double tol;                     /* 0 = 1e-7 (f is not scaled by 1/n) */
    int max_iter;                   /* 0 = 10000 */
    const double *init_coef;        /* starting point (NULL: w = 0, b = 0); the optimum is
                                       unique, so a warm start changes only the iterations */
    double init_intercept;
} attx_logreg_options;

typedef struct attx_logreg_info {
    int iterations;
    int converged;                  /* 1: the gradient met tol */
    double objective;               /* f at the solution */
    double grad_max;                /* max |gradient| at the solution */
    double accuracy;                /* fraction of rows on the side of their label */
    double intercept;               /* b */
    double coef_norm;               /* ||w|| (the CAV is w / ||w||) */
} attx_logreg_info;

/* rows[n] of d floats each, y[n] in {0, 1}; coef[d], intercept (may be NULL), info (may be
 * NULL). Runs on OpenMP threads; the result does not depend on their number. Errors: n < 1,
 * d < 1, a label other than 0/1, a value that is not finite, out of memory. A problem that
 * does not converge in max_iter is not an error (info->converged = 0). */
int attx_logreg_fit(size_t n, int d, const float *const *rows, const uint8_t *y,
                    const attx_logreg_options *opts, double *coef, double *intercept,
                    attx_logreg_info *info, attx_error *err);

/* An example of one of several activation sets. */
typedef struct attx_tcav_ref {
    int set, example;
} attx_tcav_ref;

/* The CAV of layer index j from every token row of the pos[n_pos] examples (label 1) against
 * those of neg[n_neg] (label 0): cav[D] = coef / ||coef||. sets[] are the activation sets the
 * refs point into (same layers). Errors: empty sides, bad refs, a zero coefficient vector, the
 * solver's errors. */
int attx_cav_train(const attx_tcav_acts *sets, int layer_index, const attx_tcav_ref *pos, int n_pos,
                   const attx_tcav_ref *neg, int n_neg, const attx_logreg_options *opts, double *cav,
                   attx_logreg_info *info, attx_error *err);

/* P1's relative negatives for concept c of a group of n_concepts concepts with sizes[k]
 * examples: min(sizes[c], pool) examples drawn without replacement (seed; P1 uses seed i for
 * CAV i) from the pool of the other concepts' examples (concept order, then example order),
 * returned in pool order in neg[] (room for sizes[c]). Returns how many (-1: out of memory). */
int attx_tcav_relative_negatives(int n_concepts, const int *sizes, int c, uint64_t seed, attx_tcav_ref *neg);
/* A null CAV's two sides for relative mode: from the pool of all n_concepts concepts' examples,
 * two disjoint random halves of m = min(smallest concept, pool / 2) examples each (seed), in
 * pool order, into pos[] and neg[] (room for m each). Returns m (-1: out of memory). Moving
 * along such a CAV is moving between arbitrary mixtures of the concepts: the baseline that a
 * concept's relative scores are tested against with --null. */
int attx_tcav_null_halves(int n_concepts, const int *sizes, uint64_t seed, attx_tcav_ref *pos, attx_tcav_ref *neg);

/* The scores of one target example at one layer for one CAV. */
typedef struct attx_tcav_example_score {
    double ttcav;                   /* S(x) of T-TCAV */
    double tcav;                    /* sum_t d_t */
    double ablation;                /* mean_t d_t */
    double ttcav_raw;               /* mean_t a_t d_t: T-TCAV's sum before P1's rescaling of d,
                                       a magnitude comparable across targets and CAVs */
} attx_tcav_example_score;

/* d[t] = g[t, :] . v for t < T (double accumulation). */
void attx_tcav_directional(int T, int D, const float *g, const double *v, double *d);
/* The scores from d[T] and a[T]; s[T] (may be NULL) gets the T-TCAV token scores a_t d~_t. */
attx_tcav_example_score attx_tcav_example(int T, const double *d, const float *a, double *s);

/* Statistics. I_x(a, b), the regularised incomplete beta function (continued fraction, modified
 * Lentz), a, b > 0, 0 <= x <= 1; NAN otherwise. */
double attx_betainc(double a, double b, double x);
/* P(T <= t) for Student's t with df > 0 degrees of freedom (not necessarily whole); NAN when
 * df <= 0 or t is NAN. */
double attx_student_t_cdf(double t, double df);

typedef struct attx_ttest {
    double t, df, p;                /* statistic, degrees of freedom, two-sided p-value */
} attx_ttest;

/* scipy.stats.ttest_1samp(x, mu): t = (mean - mu) / (s / sqrt(n)), s the sample standard
 * deviation (n - 1), df = n - 1. t and p are NAN when n < 2 or s < 1e-8 (P1's rule). */
attx_ttest attx_ttest_1samp(int n, const double *x, double mu);
/* scipy.stats.ttest_ind(x, y): Student's test with the pooled variance (welch = 0, scipy's and
 * TCAV's default; df = nx + ny - 2) or Welch's (welch = 1; Welch–Satterthwaite df). NAN when a
 * side has fewer than 2 values or the standard error is below 1e-8. */
attx_ttest attx_ttest_ind(int nx, const double *x, int ny, const double *y, int welch);
/* min(1, p * tests); NAN stays NAN. */
double attx_bonferroni(double p, int tests);

/* The whole protocol. Relative mode (no random sets, P1): for each layer and concept c, n_cavs
 * CAVs of c against P1's relative negatives (seed + i for CAV i); each score kind is tested
 * with the one-sample t-test of its n_cavs scores against 0.5. Classic mode (k >= 3 random
 * sets R_0..R_{k-1}, TCAV's scheme with R_0 as the random counterpart): CAV j of concept c is c
 * against R_{j+1}, and the random baseline's CAV j is R_0 against R_{j+1} (j < k - 1; both
 * sides truncated to the smaller size, as tensorflow/tcav does); each kind is tested with
 * Student's two-sample test of the concept's scores against the baseline's. In both modes
 * p is Bonferroni-corrected over the n_layers * n_concepts tests of a kind, and a cell is
 * significant when the corrected p < alpha (NAN p: not significant). */
typedef struct attx_tcav_options {
    int klass;                      /* the target class */
    const int *layers;              /* NULL / 0 = every layer */
    int n_layers;
    int n_cavs;                     /* relative mode: 0 = 50 (classic: k - 1, this is ignored) */
    uint64_t seed;                  /* CAV i of relative mode samples with seed + i */
    int batch_size;                 /* forward batch; 0 = 8 */
    double alpha;                   /* 0 = 0.05 */
    size_t max_activation_bytes;    /* activations held at once (layers are done in groups that
                                       fit); 0 = 1 GiB; at least one layer is always held */
    attx_logreg_options logreg;
    attx_tcav_objective objective;  /* what is differentiated (LOGIT, P1's, by default) */
    int null_baseline;              /* relative mode: also n_null_cavs null CAVs (attx_tcav_null_halves,
                                       seed + 1000003 + i), and each concept's scores tested
                                       against theirs (two-sample t-test) instead of against 0.5 */
    int n_null_cavs;                /* 0 = n_cavs */
    int warm_start;                 /* 1: each CAV of a cell starts L-BFGS from the previous one's
                                       solution (the optimum is unique: the CAVs differ from cold
                                       starts only within the solver's tolerance) */
    /* the CAVs (and the baselines' CAVs) of an earlier run on the same model, sets, layers,
       counts, seed and solver options, used instead of training them again: another class or
       objective costs only the targets' pass. NULL: train them. */
    const struct attx_tcav_result *reuse;
    /* the heatmap: T-TCAV token scores s_t of one target, layer index, concept and CAV */
    int heat_target;                /* < 0: none */
    int heat_layer_index, heat_concept, heat_cav;
    /* progress: stage "activations" / "cavs" / "targets", done of total */
    void (*progress)(void *user, const char *stage, long done, long total);
    void *progress_user;
} attx_tcav_options;

void attx_tcav_options_init(attx_tcav_options *o);   /* the defaults above, class 0, heatmap of
                                                        target 0, layer index 0, concept 0, CAV 0 */

typedef struct attx_tcav_stat {
    double mean, std;               /* of the CAVs' scores (std: n - 1) */
    attx_ttest test;
    double p_bonferroni;
    int significant;
} attx_tcav_stat;

enum { ATTX_TCAV_TTCAV = 0, ATTX_TCAV_TCAV = 1, ATTX_TCAV_ABLATION = 2, ATTX_TCAV_KINDS = 3 };
const char *attx_tcav_kind_name(int kind);   /* "ttcav", "tcav", "ablation" */

/* One (layer, concept) cell, or a classic-mode random baseline (concept = -1). */
typedef struct attx_tcav_cell {
    int layer, concept, n_cavs;
    double *score[ATTX_TCAV_KINDS];     /* [n_cavs] fraction of targets with S > 0 */
    double *mean_s[ATTX_TCAV_KINDS];    /* [n_cavs] mean of S over the targets */
    double *mean_ttcav_raw;             /* [n_cavs] mean of ttcav_raw over the targets */
    double *cav_accuracy;               /* [n_cavs] training accuracy of the CAV's classifier */
    int *cav_iterations;                /* [n_cavs] solver iterations */
    int *cav_converged;                 /* [n_cavs] */
    attx_tcav_stat stat[ATTX_TCAV_KINDS];   /* baselines: mean and std only */
} attx_tcav_cell;

typedef struct attx_tcav_result {
    int classic;                    /* 1: random sets were given */
    int klass, n_layers, n_concepts, n_cavs, n_targets, tests;
    int *layers;                    /* [n_layers] */
    attx_tcav_cell *cells;          /* [n_layers * n_concepts], cell (j, c) at j * n_concepts + c */
    attx_tcav_cell *baselines;      /* classic or null_baseline: [n_layers]; else NULL */
    int null_baseline;              /* the baselines are relative null CAVs */
    attx_tcav_objective objective;  /* what the gradients are of */
    double *cavs;                   /* [n_layers * n_concepts * n_cavs * dim] the CAVs */
    int n_baseline_cavs;            /* CAVs per baseline cell (0 without baselines) */
    double *baseline_cavs;          /* [n_layers * n_baseline_cavs * dim], or NULL */
    int dim;
    /* heatmap (heat_T = 0 when none): s[heat_T] token scores incl. t = 0, and S */
    int heat_T, heat_target, heat_layer, heat_concept, heat_cav;
    double *heat;
    double heat_S;
    int32_t *heat_ids;              /* text: the target's ids [heat_T]; else NULL */
    double time_ms;
} attx_tcav_result;

/* Runs the protocol on concepts[n_concepts] (relative: n_concepts >= 2), randoms[n_randoms]
 * (0, or >= 3 for classic mode) and targets. *out is freed by attx_tcav_result_free whatever
 * the result. Errors: a set without examples ("concept 2 has no examples"), too few concepts
 * or random sets, klass or a layer out of range, the heatmap's indices out of range, the
 * sources', the engine's and the solver's errors. */
int attx_tcav_run(const attx_model *m, const attx_tcav_source *concepts, int n_concepts,
                  const attx_tcav_source *randoms, int n_randoms, const attx_tcav_source *targets,
                  const attx_tcav_options *opts, attx_tcav_result *out, attx_error *err);
void attx_tcav_result_free(attx_tcav_result *r);

/* ---- T-TCAV against ground truth (docs/tcav-preregistration.md; tcav_check.c) ---- */

/* The objective's value f at logits z[C] for class k: z_k, z_k − mean_j z_j, log p_k, or
 * z_k − max_{j≠k} z_j (what attx_tcav_gradients differentiates). */
double attx_tcav_objective_value(attx_tcav_objective o, const float *z, int C, int k);
/* Two-sided exact binomial (sign) test of k successes in n at 1/2, as scipy.stats.binomtest. */
double attx_sign_test(int k, int n);

/* The truth of one (class, concept) cell from its n per-image effects Δ_i (an intervention's
 * change of f): the t-test of the Δ against 0 and the sign test, both Bonferroni-corrected over
 * the n_cells cells; verdict +1/−1 when the t-test is significant at alpha and |mean| is at
 * least min_relative_size times the largest |mean| of the cells, else 0 (null). */
typedef struct attx_tcav_truth {
    double mean;                    /* of Δ */
    double p, p_sign;               /* corrected */
    int up;                         /* images with Δ > 0 */
    int verdict;
} attx_tcav_truth;
/* delta[n_cells * n], cell c at c * n. */
void attx_tcav_truth_cells(int n_cells, int n, const double *delta, double alpha, double min_relative_size,
                           attx_tcav_truth *truth);

/* The four tests of the pre-registration, each a verdict on a (layer, concept) cell:
 *   P1         one-sample t-test of the relative CAVs' scores against 0.5;
 *   KIM        the classic run's two-sample t-test against the random baseline;
 *   RANK       the mean relative score among the null CAVs' scores, p = (1 + #{|null − 0.5| >=
 *              |mean − 0.5|}) / (N + 1);
 *   MAGNITUDE  the mean over the relative CAVs of the mean un-normalised score (T-TCAV:
 *              mean_t a_t d_t; TCAV: sum_t d_t) among the null CAVs' (centred on 0).
 * p is Bonferroni-corrected over the run's layer x concept tests; verdict +1/−1 when below alpha
 * (the side of 0.5, the baseline's mean or 0), else 0. relative: a run with null_baseline (its
 * n_cavs relative CAVs, n_null_cavs null ones); classic: a run with random sets (KIM only). */
typedef enum attx_tcav_mode {
    ATTX_TCAV_MODE_P1 = 0,
    ATTX_TCAV_MODE_KIM,
    ATTX_TCAV_MODE_RANK,
    ATTX_TCAV_MODE_MAGNITUDE,
    ATTX_TCAV_MODES
} attx_tcav_mode;
const char *attx_tcav_mode_name(attx_tcav_mode mode);   /* "p1", "kim", "rank", "magnitude" */

typedef struct attx_tcav_verdict {
    double statistic, p, p_bonferroni;
    int verdict;
} attx_tcav_verdict;
/* kind: ATTX_TCAV_TTCAV or ATTX_TCAV_TCAV. A missing run or cell gives NAN and verdict 0. */
attx_tcav_verdict attx_tcav_verdict_of(attx_tcav_mode mode, const attx_tcav_result *relative,
                                       const attx_tcav_result *classic, int layer_index, int concept, int kind,
                                       double alpha);

/* Per-image first-order agreement: for each target, layer and concept c < n_checked of r, does
 * the sign of S(x) (T-TCAV and TCAV) along the mean of the concept's CAVs in r, with the
 * gradient of `objective` for klass, equal the sign of the intervention's effect
 * delta[c * n_targets + example]? agree[(layer_index * n_checked + c) * 2 + {0: T-TCAV, 1: TCAV}]
 * counts the targets where it does. */
int attx_tcav_first_order(const attx_model *m, const attx_tcav_source *targets, int klass, attx_tcav_objective objective,
                          const attx_tcav_result *r, int n_checked, const double *delta, long *agree, attx_error *err);

#ifdef __cplusplus
}
#endif

#endif
