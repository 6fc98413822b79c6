/* cmd_explain.h — what the `attx explain` files share: cmd_explain.c (the command) calls
 * cmd_explain_trace.c (--trace) and explain_html.c (--html); all three name players with
 * explain_label.c. */
#ifndef ATTX_CMD_EXPLAIN_H
#define ATTX_CMD_EXPLAIN_H

#include "attx_explain.h"
#include "cli.h"

#include <stdio.h>

/* The label of a player: a text token, or "patch ROW,COL" of an image. buf for the latter
 * (explain_label.c). */
const char *explain_player_label(const attx_model *m, const attx_explanation *ex, int i, char *buf, size_t cap);

/* --trace: prints each step of the pipeline for the example of ex (text ids or pixels):
 * players, A and dA of layer/head (the [CLS] row and the largest entries), the influence
 * matrix M of `kind`, the Max-Mutual (or game_shape's) game's values on the empty coalition,
 * the singletons and N, its Shapley values and the efficiency check, and the model game's
 * values. */
typedef enum { TRACE_GAME_CLS, TRACE_GAME_MUTUAL, TRACE_GAME_MAX_MUTUAL } trace_game;
int explain_trace(FILE *out, const attx_model *m, const attx_explanation *ex, const float *pixels,
                  const attx_explain_options *opts, int layer, int head, attx_influence_kind kind,
                  trace_game game, attx_error *err);

/* --html FILE: a self-contained page, a row per method (tokens shaded by score, or the patch
 * grid over the picture given as a data: URI, which may be NULL). */
int explain_write_html(const char *path, const attx_model *m, const attx_explanation *ex, const char *model_path,
                       const char *input, const char *picture_uri, attx_error *err);

/* The SHAP options of attx explain and attx eval: --shap-p1, --shap-masker ids|text and
 * --shap-tree balanced|shap. explain_shap_option returns 1 when argv[*i] is one of them (set in
 * o, a bad value a usage error of cmd); after the loop explain_shap_defaults gives --shap-p1's
 * defaults (text masker, shap's tree) to those not set explicitly. */
typedef struct explain_shap_flags {
    int masker_set, tree_set;
} explain_shap_flags;
int explain_shap_option(const cli_command *cmd, int argc, char **argv, int *i, attx_explain_options *o,
                        explain_shap_flags *set);
void explain_shap_defaults(attx_explain_options *o, const explain_shap_flags *set);

/* 1 when the method list names[n_names] asks for method (or "all"). */
int wants_method(char *const *names, int n_names, const char *method);

/* Before an exact Shapley-input over texts[count] (shapley-input's model game, 2^n forward
 * passes for n players): prints on stderr how many forward passes that is and how long it
 * should take at the rate measured here on the first text's game (64 coalitions), and how many
 * texts have more than max_players players (they will be refused; with one text, its own error
 * says so). */
void explain_exact_estimate(const attx_model *m, const char *const *texts, size_t count, int max_players);

/* The help lines of those options. */
#define EXPLAIN_SHAP_HELP \
    "  --shap-p1        shap explains log(p1/(1-p1)) of class 1 whatever the class (P1's code),\n" \
    "                   with --shap-masker text and --shap-tree shap unless given\n" \
    "  --shap-masker M  ids (default: [MASK] in place of a token's id) or text (P1's, shap's Text\n" \
    "                   masker: \" [MASK]\" in the string, tokenized again)\n" \
    "  --shap-tree T    balanced (default, over the content tokens) or shap (P1's: shap's\n" \
    "                   token-merging tree over every token, [CLS] and [SEP] dropped after)\n"

#endif
