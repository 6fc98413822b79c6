/* encode.c — inputs made ready for a model: a text as BERT's WordPiece tokens wrapped in
 * [CLS] ... [SEP], or as attn1's basic_english words, [cls] ... then UNK up to the model's fixed
 * length; an image file as the normalised pixels its preprocessor settings describe. */
#include "model.h"

#include <stdlib.h>
#include <string.h>

int attx_encode_text(const attx_model *m, const char *text, size_t len, attx_encoding *out,
                     attx_error *err)
{
    return attx_encode_text_max(m, text, len, 0, out, err);
}

int attx_encode_text_max(const attx_model *m, const char *text, size_t len, int max_length, attx_encoding *out,
                         attx_error *err)
{
    memset(out, 0, sizeof *out);
    if (!m->tokenizer) return attx_fail(err, "%s has no vocabulary (vocab.txt or attx.vocab), so it cannot read text",
                                        m->files.path);
    if (len > ATTX_MAX_TEXT_BYTES)
        return attx_fail(err, "the text is %zu bytes, more than the %zu MiB attx reads", len,
                         ATTX_MAX_TEXT_BYTES >> 20);
    if (attx_wordpiece_encode(m->tokenizer, text, len, &out->tokens, err) != 0) return -1;
    attx_special_ids sp = attx_wordpiece_special_ids(m->tokenizer);
    if (m->config->arch == ATTX_ARCH_ATTN1) {
        /* P2: tokens of "[cls] " + text, the first T kept, UNK padding to exactly T */
        size_t T = (size_t)m->config->max_position_embeddings, kept = out->tokens.n < T - 1 ? out->tokens.n : T - 1;
        out->n_dropped = out->tokens.n - kept;
        out->tokens.n = kept;
        out->length = (int32_t)T;
        if (!(out->ids = malloc(T * sizeof *out->ids))) {
            attx_encoding_free(out);
            return attx_fail(err, "out of memory");
        }
        out->ids[0] = sp.cls;
        if (kept) memcpy(out->ids + 1, out->tokens.ids, kept * sizeof *out->ids);   /* ids NULL when none */
        for (size_t t = kept + 1; t < T; t++) out->ids[t] = sp.unk;
        return 0;
    }
    if (sp.cls < 0 || sp.sep < 0) {
        attx_encoding_free(out);
        return attx_fail(err, "the vocabulary has no [CLS] or [SEP] token");
    }
    int positions = m->config->max_position_embeddings;
    if (max_length > 0 && max_length < positions) positions = max_length;
    if (positions < 2) {
        attx_encoding_free(out);
        return attx_fail(err, "a text needs at least 2 positions for [CLS] and [SEP], not %d", positions);
    }
    size_t room = (size_t)positions - 2;
    size_t kept = out->tokens.n < room ? out->tokens.n : room;
    out->n_dropped = out->tokens.n - kept;
    out->tokens.n = kept;
    out->length = (int32_t)kept + 2;
    out->ids = malloc((size_t)out->length * sizeof *out->ids);
    if (!out->ids) {
        attx_encoding_free(out);
        return attx_fail(err, "out of memory");
    }
    out->ids[0] = sp.cls;
    if (kept) memcpy(out->ids + 1, out->tokens.ids, kept * sizeof *out->ids);
    out->ids[kept + 1] = sp.sep;
    return 0;
}

void attx_encoding_free(attx_encoding *e)
{
    attx_tokens_free(&e->tokens);
    free(e->ids);
    memset(e, 0, sizeof *e);
}

int attx_encode_image(const attx_model *m, const char *path, float *pixels, attx_error *err)
{
    const attx_config *c = m->config;
    if (c->arch != ATTX_ARCH_VIT)
        return attx_fail(err, "%s is a %s model; it reads text, not images", m->files.path, attx_arch_name(c->arch));
    attx_preprocessor pp;
    const char *json = m->files.preprocessor_json;
    if (attx_preprocessor_parse(&pp, json, json ? strlen(json) : 0, m->files.preprocessor_source, c->image_height,
                                c->image_width, err) != 0)
        return -1;
    attx_image img;
    if (attx_image_load(&img, path, err) != 0) return -1;
    int rc = attx_image_apply_orientation(&img, err);
    if (rc == 0) rc = attx_image_preprocess(&img, &pp, c->image_height, c->image_width, pixels, err);
    if (rc != 0 && err && !strstr(err->msg, path)) attx_fail_prefix(err, "%s", path);
    attx_image_free(&img);
    return rc;
}
