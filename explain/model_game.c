/* model_game.c — games whose value is the model's output on the input with the players
 * outside the coalition removed: text tokens replaced by [MASK], image patches set to a
 * baseline pixel value. Coalitions run through the engine in batches, tape off. */
#include "model_game_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void model_game_free(void *user)
{
    model_game *mg = user;
    if (!mg) return;
    attx_ctx_free(mg->ctx);
    free(mg->ids);
    free(mg->batch_ids);
    free(mg->batch_len);
    free(mg->pixels);
    free(mg->batch_pixels);
    free(mg);
}

/* The value of one row of logits z[C] for class k. */
static double logit_value(const float *z, int C, int k, attx_model_value value)
{
    if (value == ATTX_VALUE_LOGIT) return z[k];
    double max = -INFINITY;
    for (int j = 0; j < C; j++) max = fmax(max, z[j]);
    double sum = 0, others = 0;
    for (int j = 0; j < C; j++) {
        double e = exp((double)z[j] - max);
        sum += e;
        if (j != k) others += e;
    }
    if (value == ATTX_VALUE_PROB) return exp((double)z[k] - max) / sum;
    /* log p/(1-p) = z_k - logsumexp_{j != k} z_j */
    return ((double)z[k] - max) - log(others);
}

int model_game_values(model_game *mg, const attx_batch *batch, double *values, attx_error *err)
{
    int C = attx_model_config(mg->model)->num_labels;
    attx_outputs out;
    attx_ctx_reset(mg->ctx);
    if (attx_forward(mg->model, mg->ctx, batch, &out, err) != 0) return -1;
    mg->forwards += (uint64_t)batch->B;
    for (int b = 0; b < batch->B; b++)
        values[b] = logit_value(out.logits->data + (size_t)b * (size_t)C, C, mg->opt.klass, mg->opt.value);
    return 0;
}

static int model_game_eval(void *user, int n, size_t count, const uint64_t *masks, double *values,
                           attx_error *err)
{
    model_game *mg = user;
    size_t words = attx_mask_words(n), bs = (size_t)mg->opt.batch_size;
    /* special players: player p is token p ([CLS] and [SEP] bits ignored); else token 1 + p */
    int first = mg->opt.special_players ? 0 : 1;
    for (size_t start = 0; start < count; start += bs) {
        int B = (int)(count - start < bs ? count - start : bs);
        attx_batch batch = {.B = B};
        for (int b = 0; b < B; b++) {
            const uint64_t *mask = masks + (start + (size_t)b) * words;
            if (mg->ids) {
                int32_t *row = mg->batch_ids + (size_t)b * (size_t)mg->length;
                memcpy(row, mg->ids, (size_t)mg->length * sizeof *row);
                for (int i = 0; i < n; i++) {
                    int t = first + i;
                    if (t >= 1 && t <= mg->n_content && !attx_mask_has(mask, i)) row[t] = mg->opt.mask_id;
                }
                mg->batch_len[b] = mg->length;
            } else {
                size_t plane = (size_t)mg->H * (size_t)mg->W;
                float *img = mg->batch_pixels + (size_t)b * (size_t)mg->C * plane;
                memcpy(img, mg->pixels, (size_t)mg->C * plane * sizeof *img);
                for (int i = 0; i < n; i++) {
                    if (attx_mask_has(mask, i)) continue;
                    int y0 = (i / mg->grid_w) * mg->P, x0 = (i % mg->grid_w) * mg->P;
                    for (int c = 0; c < mg->C; c++)
                        for (int y = y0; y < y0 + mg->P; y++)
                            for (int x = x0; x < x0 + mg->P; x++)
                                img[(size_t)c * plane + (size_t)y * (size_t)mg->W + (size_t)x] = mg->opt.baseline;
                }
            }
        }
        if (mg->ids) {
            batch.T = mg->length;
            batch.ids = mg->batch_ids;
            batch.lengths = mg->batch_len;
        } else {
            batch.pixels = mg->batch_pixels;
        }
        if (model_game_values(mg, &batch, values + start, err) != 0) return -1;
    }
    return 0;
}

int model_game_new(attx_game *g, const attx_model *m, const attx_model_game_options *opts, attx_arch arch,
                          model_game **out, attx_error *err)
{
    memset(g, 0, sizeof *g);
    *out = NULL;
    if (!m || !opts) return attx_fail(err, "model game: no model or options");
    const attx_config *cfg = attx_model_config(m);
    if (cfg->arch != arch && !(arch == ATTX_ARCH_BERT && cfg->arch == ATTX_ARCH_ATTN1))   /* attn1 plays text */
        return attx_fail(err, "model game: a %s model cannot play a %s game", attx_arch_name(cfg->arch),
                         arch == ATTX_ARCH_BERT ? "text" : "image");
    if (!attx_model_has_classifier(m)) return attx_fail(err, "model game: the model has no classifier");
    if (opts->klass < 0 || opts->klass >= cfg->num_labels)
        return attx_fail(err, "model game: class %d is out of range (the model has %d)", opts->klass, cfg->num_labels);
    model_game *mg = calloc(1, sizeof *mg);
    if (!mg || !(mg->ctx = attx_ctx_new())) {
        free(mg);
        return attx_fail(err, "model game: out of memory");
    }
    mg->model = m;
    mg->opt = *opts;
    if (mg->opt.batch_size <= 0) mg->opt.batch_size = 32;
    *out = mg;
    return 0;
}

void model_game_finish(attx_game *g, model_game *mg, attx_game_eval_fn eval)
{
    g->n = mg->n;
    g->eval = eval;
    g->user = mg;
    g->free_user = model_game_free;
    g->kind = ATTX_GAME_CUSTOM;
    g->thread_safe = 0;
    g->max_batch = (size_t)mg->opt.batch_size;
    g->exact_max_players = 16;
}

int attx_game_model_text(attx_game *g, const attx_model *m, const int32_t *ids, int length,
                         const attx_model_game_options *opts, attx_error *err)
{
    model_game *mg;
    if (model_game_new(g, m, opts, ATTX_ARCH_BERT, &mg, err) != 0) return -1;
    int attn1 = attx_model_config(m)->arch == ATTX_ARCH_ATTN1;
    int T_full = attn1 ? attx_model_config(m)->max_position_embeddings : length;
    int n = attn1 ? length - 1 : length - 2;
    const attx_wordpiece *wp = attx_model_tokenizer(m);
    attx_special_ids sp = wp ? attx_wordpiece_special_ids(wp) : (attx_special_ids){.mask = -1, .unk = -1};
    if (!ids || n < 1) {
        model_game_free(mg);
        return attx_fail(err, "model game: the text has no content tokens");
    }
    if (attn1 && length > T_full) {
        model_game_free(mg);
        return attx_fail(err, "model game: %d tokens for an attn1 model of %d positions ([cls] included)", length,
                         T_full);
    }
    if (attn1 && opts->special_players) {
        model_game_free(mg);
        return attx_fail(err, "model game: attn1 has no [SEP] to make a player of");
    }
    int n_content = n;
    if (opts->special_players) n = length;   /* [CLS] content [SEP] */
    if (n > ATTX_GAME_MAX_PLAYERS) {
        model_game_free(mg);
        return attx_fail(err, "model game: %d tokens (the limit is %d)", n, ATTX_GAME_MAX_PLAYERS);
    }
    if (mg->opt.mask_id < 0) {
        mg->opt.mask_id = attn1 ? sp.unk : sp.mask;   /* attn1 has no [MASK]: UNK in place (P2's theory) */
        if (mg->opt.mask_id < 0) {
            model_game_free(mg);
            return attx_fail(err, "model game: the vocabulary has no %s token", attn1 ? "UNK" : "[MASK]");
        }
    }
    size_t bs = (size_t)mg->opt.batch_size;
    mg->length = T_full;
    mg->n = n;
    mg->n_content = n_content;
    mg->ids = malloc((size_t)T_full * sizeof *mg->ids);
    mg->batch_ids = malloc(bs * (size_t)T_full * sizeof *mg->batch_ids);
    mg->batch_len = malloc(bs * sizeof *mg->batch_len);
    if (!mg->ids || !mg->batch_ids || !mg->batch_len) {
        model_game_free(mg);
        return attx_fail(err, "model game: out of memory");
    }
    memcpy(mg->ids, ids, (size_t)length * sizeof *ids);
    for (int t = length; t < T_full; t++) mg->ids[t] = sp.unk;   /* attn1: UNK padding to exactly T */
    model_game_finish(g, mg, model_game_eval);
    return 0;
}

int attx_game_model_image(attx_game *g, const attx_model *m, const float *pixels,
                          const attx_model_game_options *opts, attx_error *err)
{
    model_game *mg;
    if (model_game_new(g, m, opts, ATTX_ARCH_VIT, &mg, err) != 0) return -1;
    const attx_config *cfg = attx_model_config(m);
    mg->C = cfg->num_channels;
    mg->H = cfg->image_height;
    mg->W = cfg->image_width;
    mg->P = cfg->patch_size;
    mg->grid_w = mg->W / mg->P;
    mg->n = (mg->H / mg->P) * mg->grid_w;
    size_t numel = (size_t)mg->C * (size_t)mg->H * (size_t)mg->W;
    if (!pixels) {
        model_game_free(mg);
        return attx_fail(err, "model game: no pixels");
    }
    if (mg->n > ATTX_GAME_MAX_PLAYERS) {
        int n = mg->n;
        model_game_free(mg);
        return attx_fail(err, "model game: %d patches (the limit is %d)", n, ATTX_GAME_MAX_PLAYERS);
    }
    mg->pixels = malloc(numel * sizeof *mg->pixels);
    mg->batch_pixels = malloc((size_t)mg->opt.batch_size * numel * sizeof *mg->batch_pixels);
    if (!mg->pixels || !mg->batch_pixels) {
        model_game_free(mg);
        return attx_fail(err, "model game: out of memory");
    }
    memcpy(mg->pixels, pixels, numel * sizeof *pixels);
    model_game_finish(g, mg, model_game_eval);
    return 0;
}

uint64_t attx_game_model_forwards(const attx_game *g)
{
    if (!g || g->free_user != model_game_free || !g->user) return 0;
    return ((const model_game *)g->user)->forwards;
}
