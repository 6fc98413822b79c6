/* model_game_internal.h — internal to explain/: what the model games (model_game.c, ids and
 * pixels; model_game_text.c, shap's string masking) share. */
#ifndef ATTX_MODEL_GAME_INTERNAL_H
#define ATTX_MODEL_GAME_INTERNAL_H

#include "attx_explain.h"

typedef struct model_game {
    const attx_model *model;
    attx_ctx *ctx;
    attx_model_game_options opt;
    int n;
    /* text */
    int32_t *ids;               /* [length] the full sequence */
    int length;
    int n_content;              /* content tokens, at positions 1..n_content */
    int32_t pad_id;             /* text masked as strings: ids past a row's length */
    int32_t *batch_ids;         /* [batch_size * length] */
    int32_t *batch_len;         /* [batch_size] */
    /* text masked as strings (model_game_text.c, which frees them); segs.length 0 otherwise */
    attx_text_segments segs;
    /* images */
    float *pixels;              /* [C*H*W] */
    float *batch_pixels;        /* [batch_size * C*H*W] */
    int C, H, W, P, grid_w;
    uint64_t forwards;
} model_game;

/* Checks the model (arch, classifier, class) and makes the shell of a game: context, options
 * (batch size 32 when 0). */
int model_game_new(attx_game *g, const attx_model *m, const attx_model_game_options *opts, attx_arch arch,
                   model_game **out, attx_error *err);
/* Frees everything the game owns (the game's free_user) but a text game's segments, which
 * model_game_text.c frees. */
void model_game_free(void *user);
/* Fills g from mg with its evaluation function. */
void model_game_finish(attx_game *g, model_game *mg, attx_game_eval_fn eval);
/* One forward pass of batch (tape off) and values[b] = the game's value of row b's logits. */
int model_game_values(model_game *mg, const attx_batch *batch, double *values, attx_error *err);

/* Bytes of the whitespace character (Python's str.isspace) at s[0..left), or 0. */
size_t text_space_len(const char *s, size_t left);

#endif
