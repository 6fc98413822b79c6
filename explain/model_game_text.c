/* model_game_text.c — shap's Text masker: a text cut into one segment per token, coalitions as
 * strings with " [MASK]" for removed tokens, and the model game that tokenizes each string
 * again (attx_game_model_text_masked). The facts (segments from the tokenizer's offsets, the
 * mask token's leading space, whitespace collapsed, [CLS]/[SEP] always kept) are those of
 * shap/maskers/_text.py; the code is attx's own. */
#include "model_game_internal.h"

#include <stdlib.h>
#include <string.h>

#define MASK_TEXT " [MASK]"

size_t text_space_len(const char *s, size_t left)
{
    unsigned char c = (unsigned char)s[0];
    if (c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f)) return 1;
    if (c < 0x80) return 0;
    uint32_t cp;
    int n = attx_utf8_decode(s, left, &cp);
    if (n <= 0) return 0;
    /* the rest of Python's str.isspace(): NEL, NBSP and the Unicode space separators */
    if (cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
        cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000)
        return (size_t)n;
    return 0;
}

void attx_text_segments_free(attx_text_segments *s)
{
    if (!s) return;
    free(s->text);
    free(s->start);
    free(s->end);
    memset(s, 0, sizeof *s);
}

/* The segments of [CLS] piece_0..piece_{n-1} [SEP] from the pieces' byte ranges in text, as
 * shap cuts them: s[start_i : max(end_i, start_{i+1})], where [CLS] and [SEP] have the range
 * (0, 0). So [CLS] gets the text before the first piece, a piece the text up to the next one,
 * the last piece ends at its own end and [SEP] is empty. Takes ownership of text. */
static int build_segments(char *text, size_t text_len, int n, const size_t *pstart, const size_t *pend,
                          attx_text_segments *out, attx_error *err)
{
    memset(out, 0, sizeof *out);
    out->length = n + 2;
    out->text = text;
    out->text_len = text_len;
    out->start = malloc((size_t)out->length * sizeof *out->start);
    out->end = malloc((size_t)out->length * sizeof *out->end);
    if (!out->start || !out->end) {
        attx_text_segments_free(out);
        return attx_fail(err, "text segments: out of memory");
    }
    out->start[0] = 0;
    out->end[0] = n > 0 ? pstart[0] : 0;
    for (int k = 0; k < n; k++) {
        size_t next = k + 1 < n ? pstart[k + 1] : 0;   /* [SEP]'s start is 0 */
        out->start[k + 1] = pstart[k];
        out->end[k + 1] = pend[k] > next ? pend[k] : next;
    }
    out->start[n + 1] = out->end[n + 1] = 0;
    return 0;
}

static int check_vocabulary(const attx_model *m, attx_error *err)
{
    const attx_wordpiece *wp = attx_model_tokenizer(m);
    if (!wp || attx_model_config(m)->arch != ATTX_ARCH_BERT)
        return attx_fail(err, "text segments: a BERT model with a vocabulary is needed");
    attx_special_ids sp = attx_wordpiece_special_ids(wp);
    if (sp.cls < 0 || sp.sep < 0 || sp.mask < 0)
        return attx_fail(err, "text segments: the vocabulary has no [CLS], [SEP] or [MASK]");
    return 0;
}

int attx_text_segments_from_ids(const attx_model *m, const int32_t *ids, int length, attx_text_segments *out,
                                attx_error *err)
{
    memset(out, 0, sizeof *out);
    if (check_vocabulary(m, err) != 0) return -1;
    if (!ids || length < 2) return attx_fail(err, "text segments: %d ids (at least [CLS] and [SEP])", length);
    const attx_wordpiece *wp = attx_model_tokenizer(m);
    int n = length - 2;
    size_t cap = 1;
    for (int t = 1; t <= n; t++) {
        const char *tok = attx_wordpiece_token(wp, ids[t]);
        if (!tok) return attx_fail(err, "text segments: id %d is out of the vocabulary", (int)ids[t]);
        cap += strlen(tok) + 1;
    }
    char *text = malloc(cap);
    size_t *pstart = malloc((size_t)(n > 0 ? n : 1) * sizeof *pstart);
    size_t *pend = malloc((size_t)(n > 0 ? n : 1) * sizeof *pend);
    if (!text || !pstart || !pend) {
        free(text);
        free(pstart);
        free(pend);
        return attx_fail(err, "text segments: out of memory");
    }
    size_t len = 0;
    for (int k = 0; k < n; k++) {
        const char *tok = attx_wordpiece_token(wp, ids[k + 1]);
        size_t tl = strlen(tok);
        int piece = tl > 2 && tok[0] == '#' && tok[1] == '#';
        if (piece) {   /* a continuation is glued to the token before it */
            tok += 2;
            tl -= 2;
        } else if (k > 0) {
            text[len++] = ' ';
        }
        pstart[k] = len;
        memcpy(text + len, tok, tl);
        len += tl;
        pend[k] = len;
    }
    text[len] = '\0';
    int rc = build_segments(text, len, n, pstart, pend, out, err);
    free(pstart);
    free(pend);
    return rc;
}

/* The byte ranges of the pieces first..last-1 of one word (they share the word's range): when
 * the word's characters and its pieces' characters (without "##") are as many, piece k starts
 * at the character its own characters start at, as the tokenizer's offsets say. Returns 0, or
 * -1 when the counts differ. */
static int piece_ranges(const attx_wordpiece *wp, const char *text, const attx_tokens *tk, size_t first,
                        size_t last, size_t *pstart, size_t *pend)
{
    size_t ws = tk->start[first], we = tk->end[first];
    if (last - first == 1) {
        pstart[first] = ws;
        pend[first] = we;
        return 0;
    }
    size_t chars = 0;   /* characters of the word in the text */
    for (size_t i = ws; i < we; i++) chars += ((unsigned char)text[i] & 0xC0) != 0x80;
    size_t piece_chars = 0;
    for (size_t k = first; k < last; k++) {
        const char *tok = attx_wordpiece_token(wp, tk->ids[k]);
        if (!tok) return -1;
        if (k > first && tok[0] == '#' && tok[1] == '#') tok += 2;
        for (; *tok; tok++) piece_chars += ((unsigned char)*tok & 0xC0) != 0x80;
    }
    if (piece_chars != chars) return -1;
    size_t at = ws;
    for (size_t k = first; k < last; k++) {
        const char *tok = attx_wordpiece_token(wp, tk->ids[k]);
        if (k > first && tok[0] == '#' && tok[1] == '#') tok += 2;
        pstart[k] = at;
        for (; *tok; tok++)
            if (((unsigned char)*tok & 0xC0) != 0x80) {   /* one character of the text per character */
                at++;
                while (at < we && ((unsigned char)text[at] & 0xC0) == 0x80) at++;
            }
        pend[k] = at;
    }
    return 0;
}

int attx_text_segments_from_text(const attx_model *m, const char *text, size_t len, attx_text_segments *out,
                                 attx_error *err)
{
    memset(out, 0, sizeof *out);
    if (check_vocabulary(m, err) != 0) return -1;
    attx_encoding enc;
    if (attx_encode_text(m, text, len, &enc, err) != 0) return -1;
    const attx_wordpiece *wp = attx_model_tokenizer(m);
    size_t n = enc.tokens.n;
    size_t *pstart = malloc((n ? n : 1) * sizeof *pstart), *pend = malloc((n ? n : 1) * sizeof *pend);
    char *copy = malloc(len + 1);
    int rc = -1;
    if (!pstart || !pend || !copy) {
        free(copy);
        attx_fail(err, "text segments: out of memory");
        goto done;
    }
    if (len) memcpy(copy, text, len);
    copy[len] = '\0';
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;   /* the pieces of one word share its range */
        while (j < n && enc.tokens.start[j] == enc.tokens.start[i] && enc.tokens.end[j] == enc.tokens.end[i]) j++;
        if (piece_ranges(wp, text, &enc.tokens, i, j, pstart, pend) != 0) {
            free(copy);
            rc = attx_text_segments_from_ids(m, enc.ids, enc.length, out, err);
            goto done;
        }
        i = j;
    }
    rc = build_segments(copy, len, (int)n, pstart, pend, out, err);
done:
    free(pstart);
    free(pend);
    attx_encoding_free(&enc);
    return rc;
}

int attx_text_segments_mask(const attx_text_segments *s, const uint64_t *mask, int special_players, char **out,
                            size_t *len, attx_error *err)
{
    *out = NULL;
    *len = 0;
    if (!s || s->length < 2 || !mask) return attx_fail(err, "masked text: no segments or mask");
    size_t cap = 1, mlen = strlen(MASK_TEXT);
    for (int t = 0; t < s->length; t++) cap += (s->end[t] - s->start[t]) + mlen;
    char *raw = malloc(cap);
    if (!raw) return attx_fail(err, "masked text: out of memory");
    size_t n = 0;
    for (int t = 0; t < s->length; t++) {
        /* [CLS] and [SEP] are always kept (keep_prefix / keep_suffix) */
        int special = t == 0 || t == s->length - 1;
        int kept = special || attx_mask_has(mask, special_players ? t : t - 1);
        const char *src = kept ? s->text + s->start[t] : MASK_TEXT;
        size_t k = kept ? s->end[t] - s->start[t] : mlen;
        memcpy(raw + n, src, k);
        n += k;
    }
    /* re.sub(r"\s+", " ", out).strip(): whitespace runs become one space, none at the ends */
    size_t w = 0;
    int pending_space = 0;
    for (size_t i = 0; i < n;) {
        size_t sp = text_space_len(raw + i, n - i);
        if (sp) {
            pending_space = w > 0;
            i += sp;
            continue;
        }
        if (pending_space) raw[w++] = ' ';
        pending_space = 0;
        raw[w++] = raw[i++];
    }
    raw[w] = '\0';
    *out = raw;
    *len = w;
    return 0;
}

/* The text game: each coalition's string, encoded again, padded to the batch's longest. */
static int text_game_eval(void *user, int n, size_t count, const uint64_t *masks, double *values, attx_error *err)
{
    model_game *mg = user;
    size_t words = attx_mask_words(n), bs = (size_t)mg->opt.batch_size, stride = (size_t)mg->length;
    for (size_t start = 0; start < count; start += bs) {
        int B = (int)(count - start < bs ? count - start : bs), T = 0;
        for (int b = 0; b < B; b++) {
            char *str;
            size_t len;
            if (attx_text_segments_mask(&mg->segs, masks + (start + (size_t)b) * words, mg->opt.special_players,
                                        &str, &len, err) != 0)
                return -1;
            attx_encoding enc;
            int rc = attx_encode_text(mg->model, str, len, &enc, err);
            free(str);
            if (rc != 0) return -1;
            memcpy(mg->batch_ids + (size_t)b * stride, enc.ids, (size_t)enc.length * sizeof *enc.ids);
            mg->batch_len[b] = enc.length;
            if (enc.length > T) T = enc.length;
            attx_encoding_free(&enc);
        }
        /* rows of `stride` ids packed to rows of T (T <= stride: moving forward is safe) */
        for (int b = 0; b < B; b++) {
            int32_t *row = mg->batch_ids + (size_t)b * (size_t)T;
            memmove(row, mg->batch_ids + (size_t)b * stride, (size_t)mg->batch_len[b] * sizeof *row);
            for (int t = mg->batch_len[b]; t < T; t++) row[t] = mg->pad_id;
        }
        attx_batch batch = {.B = B, .T = T, .ids = mg->batch_ids, .lengths = mg->batch_len};
        if (model_game_values(mg, &batch, values + start, err) != 0) return -1;
    }
    return 0;
}

/* The text game's own copy of the segments, then everything model_game_free frees. */
static void text_game_free(void *user)
{
    model_game *mg = user;
    if (mg) attx_text_segments_free(&mg->segs);
    model_game_free(mg);
}

int attx_game_model_text_masked(attx_game *g, const attx_model *m, const attx_text_segments *s,
                                const attx_model_game_options *opts, attx_error *err)
{
    model_game *mg;
    if (model_game_new(g, m, opts, ATTX_ARCH_BERT, &mg, err) != 0) return -1;
    if (check_vocabulary(m, err) != 0 || !s || s->length < 2 || !s->text) {
        text_game_free(mg);
        return s && s->length >= 2 ? -1 : attx_fail(err, "model game: no text segments");
    }
    int n = opts->special_players ? s->length : s->length - 2;
    if (n < 1 || n > ATTX_GAME_MAX_PLAYERS) {
        text_game_free(mg);
        return attx_fail(err, "model game: %d players (1 to %d)", n, ATTX_GAME_MAX_PLAYERS);
    }
    attx_special_ids sp = attx_wordpiece_special_ids(attx_model_tokenizer(m));
    size_t text_len = s->text_len + 1, bs = (size_t)mg->opt.batch_size;
    mg->n = n;
    mg->pad_id = sp.pad >= 0 ? sp.pad : 0;   /* past each row's length: never attended to */
    mg->length = attx_model_config(m)->max_position_embeddings;   /* the longest encoding */
    mg->segs.length = s->length;
    mg->segs.text_len = s->text_len;
    mg->segs.text = malloc(text_len);
    mg->segs.start = malloc((size_t)s->length * sizeof *s->start);
    mg->segs.end = malloc((size_t)s->length * sizeof *s->end);
    mg->batch_ids = malloc(bs * (size_t)mg->length * sizeof *mg->batch_ids);
    mg->batch_len = malloc(bs * sizeof *mg->batch_len);
    if (!mg->segs.text || !mg->segs.start || !mg->segs.end || !mg->batch_ids || !mg->batch_len) {
        text_game_free(mg);
        return attx_fail(err, "model game: out of memory");
    }
    memcpy(mg->segs.text, s->text, text_len);
    memcpy(mg->segs.start, s->start, (size_t)s->length * sizeof *s->start);
    memcpy(mg->segs.end, s->end, (size_t)s->length * sizeof *s->end);
    model_game_finish(g, mg, text_game_eval);
    g->free_user = text_game_free;
    return 0;
}
