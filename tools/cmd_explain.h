/* cmd_explain.h — what the `attx explain` files share: cmd_explain.c (the command) calls
 * cmd_explain_trace.c (--trace) and explain_html.c (--html); all three name players with
 * explain_label.c. */
#ifndef ATTX_CMD_EXPLAIN_H
#define ATTX_CMD_EXPLAIN_H

#include "attx_explain.h"

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

#endif
