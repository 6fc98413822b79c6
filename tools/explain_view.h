/* explain_view.h — the views of one explanation, below the command that makes it:
 * cmd_explain.c calls the listing's helpers here, explain_trace (cmd_explain_trace.c) and
 * explain_write_html (explain_html.c); those two call only explain_view.c (player labels, the
 * teaching document), which calls nothing above it. */
#ifndef ATTX_EXPLAIN_VIEW_H
#define ATTX_EXPLAIN_VIEW_H

#include "attx_explain.h"

#include <stdio.h>

/* The label of a player: a text token, or "patch ROW,COL" of an image. buf for the latter. */
const char *explain_player_label(const attx_model *m, const attx_explanation *ex, int i, char *buf, size_t cap);

/* What explain_document writes besides `explain --json`'s object. */
typedef struct explain_doc_options {
    const attx_explain_options *opts;   /* the explanation's options (layers, samples, seed) */
    const float *pixels;                /* image models: the preprocessed image; text: NULL */
    int attentions;                     /* "sequence" and "attentions" ([layer][head][q][k]) */
    int teaching;                       /* also what the teaching page draws: labels, probs,
                                           "gradients" dA, "influence" M and cls of both kinds,
                                           each attention game's "game" and "closed_form", the
                                           "faithfulness" curves, "convergence" of the samplers */
    const char *model_path, *input;     /* teaching: named on the page (may be NULL) */
    const char *picture_uri;            /* teaching, images: "image", a data: URI (may be NULL) */
} explain_doc_options;

/* One JSON object into out: {"tokens","class","logits","methods":{NAME:{"scores","time_ms",
 * "forward_passes","backward_passes"[,"completeness_error"]}}}, then what o adds. Errors: the
 * engine's (forward and backward passes, games), out of memory. */
int explain_document(attx_buf *out, const attx_model *m, const attx_explanation *ex, const explain_doc_options *o,
                     attx_error *err);

/* --trace (cmd_explain_trace.c): prints each step of the pipeline for the example of ex (text
 * ids or pixels): players, A and dA of layer/head (the [CLS] row and the largest entries), the
 * influence matrix M of `kind`, the Max-Mutual (or game_shape's) game's values on the empty
 * coalition, the singletons and N, its Shapley values and the efficiency check, and the model
 * game's values. */
typedef enum { TRACE_GAME_CLS, TRACE_GAME_MUTUAL, TRACE_GAME_MAX_MUTUAL } trace_game;
int explain_trace(FILE *out, const attx_model *m, const attx_explanation *ex, const float *pixels,
                  const attx_explain_options *opts, int layer, int head, attx_influence_kind kind,
                  trace_game game, attx_error *err);

/* --html FILE (explain_html.c): the teaching page, self-contained: explain_document's teaching
 * object (d, with the picture for images) drawn by the page's inline script. */
int explain_write_html(const char *path, const attx_model *m, const attx_explanation *ex,
                       const explain_doc_options *d, attx_error *err);

/* The page's inline script and style (web/explain_page.js, .css; generated into the build). */
extern const char explain_page_js[];
extern const char explain_page_css[];

#endif
