/* methods_lime.c — lime: LIME (explain/lime.c) on the model game, with LimeTextExplainer's
 * features. For text the features are the distinct words (bow=True: every occurrence of a word
 * is kept or removed together; a word is a run of WordPiece tokens, "##" pieces continuing it);
 * a removed word's tokens become [MASK] (lime itself deletes them, and P2's theory replaces
 * them by UNK in place: attx keeps the positions, as for shapley-input). For images the
 * features are the patches. The value is the probability of the explained class (lime's
 * predict_proba); each token gets its word's coefficient.
 * lime-tokens: the same with every player its own feature, for text every WordPiece token (P2's
 * open question: what LIME says when it masks subwords rather than whole words); for images
 * it is lime. */
#include "methods_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int feature_eval(void *user, int n, size_t count, const uint64_t *masks, double *values, attx_error *err)
{
    const feature_game *fg = user;
    size_t fw = attx_mask_words(n), tw = attx_mask_words(fg->n_tokens);
    uint64_t *token_masks = calloc(count * tw, sizeof *token_masks);
    if (!token_masks) return attx_fail(err, "out of memory");
    for (size_t k = 0; k < count; k++)
        for (int t = 0; t < fg->n_tokens; t++)
            if (attx_mask_has(masks + k * fw, fg->feature_of[t])) attx_mask_set(token_masks + k * tw, t);
    int rc = attx_game_eval(fg->tokens, count, token_masks, values, err);
    free(token_masks);
    return rc;
}

/* Groups the players into distinct words: feature_of[i] for player i; returns the count. */
static int word_features(const method_ctx *mc, int *feature_of)
{
    const attx_wordpiece *wp = attx_model_tokenizer(mc->model);
    char (*words)[512] = malloc((size_t)mc->n * sizeof *words);
    if (!words) return -1;
    int n_words = 0, current = -1;
    char word[512];   /* a word is at most 100 characters, 4 bytes each */
    for (int i = 0; i <= mc->n; i++) {
        const char *piece = i < mc->n ? attx_wordpiece_token(wp, mc->ids[mc->first + i]) : NULL;
        int continues = piece && current >= 0 && strncmp(piece, "##", 2) == 0;
        if (!continues && current >= 0) {       /* the word before this piece is complete */
            int f = 0;
            while (f < n_words && strcmp(words[f], word) != 0) f++;
            if (f == n_words) snprintf(words[n_words++], sizeof words[0], "%s", word);
            for (int j = current; j < i; j++) feature_of[j] = f;
        }
        if (!piece) break;
        if (continues) {
            size_t len = strlen(word);
            snprintf(word + len, sizeof word - len, "%s", piece + 2);
        } else {
            snprintf(word, sizeof word, "%s", piece);
            current = i;
        }
    }
    free(words);
    return n_words;
}

static int lime_on(const method_ctx *mc, int by_word, attx_method_result *r, attx_error *err)
{
    attx_game tokens;
    if (method_model_game(mc, ATTX_VALUE_PROB, mc->klass, &tokens, err) != 0) return -1;
    int *feature_of = malloc((size_t)mc->n * sizeof *feature_of);
    double *coef = malloc((size_t)mc->n * sizeof *coef);
    int rc = -1, d = 0;
    if (!feature_of || !coef) {
        attx_fail(err, "out of memory");
        goto done;
    }
    if (mc->ids && by_word) {
        d = word_features(mc, feature_of);
        if (d < 0) {
            attx_fail(err, "out of memory");
            goto done;
        }
    } else {
        for (int i = 0; i < mc->n; i++) feature_of[i] = i;
        d = mc->n;
    }
    feature_game fg = {&tokens, mc->n, feature_of};
    attx_game g = {.n = d, .eval = feature_eval, .user = &fg, .max_batch = tokens.max_batch};
    attx_lime_options lo = {.seed = mc->opt->seed, .num_samples = mc->opt->samples > 0 ? mc->opt->samples : 5000};
    attx_lime_info info;
    rc = attx_lime(&g, &lo, coef, &info, err);
    if (rc == 0) {
        for (int i = 0; i < mc->n; i++) r->scores[i] = coef[feature_of[i]];
        snprintf(r->how, sizeof r->how, "%d samples over %d %s, R^2 %.3f", lo.num_samples, d,
                 !mc->ids ? "patches" : by_word ? "distinct words" : "WordPiece tokens", info.score);
    }
    r->forward_passes = attx_game_model_forwards(&tokens);
done:
    free(feature_of);
    free(coef);
    attx_game_free(&tokens);
    return rc;
}

int method_lime(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return lime_on(mc, 1, r, err);
}

int method_lime_tokens(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return lime_on(mc, 0, r, err);   /* an image's players are its patches: the same as lime */
}
