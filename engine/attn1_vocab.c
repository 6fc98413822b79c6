/* attn1_vocab.c — the attn1 vocabulary: torchtext's build_vocab_from_iterator over the
 * basic_english tokens of a training split, with specials ["[cls]", "UNK"] first.
 *
 * torchtext (vocab_factory.py): a Counter of every token; the (token, count) pairs sorted by
 * count descending, ties by the token ascending (Python str order = code point order = UTF-8
 * byte order); with max_tokens, the first max_tokens − len(specials) pairs are kept; then the
 * specials are removed from them, pairs under min_freq dropped, and the specials put first.
 * (So a special that occurs in the texts still takes one of the max_tokens slots before it is
 * removed, and the vocabulary ends up one shorter: kept as torchtext does it.) */
#include "attx_engine.h"

#include <stdlib.h>
#include <string.h>

typedef struct word_count {
    size_t off, len;              /* bytes in the counter's text */
    int64_t count;
    const char *s;                /* = text + off, set once counting is done (for sorting) */
} word_count;

typedef struct counter {
    attx_buf text;
    word_count *words;
    size_t n, cap;
    size_t *slots;                /* index + 1, 0 = empty */
    size_t n_slots;
    int failed;
} counter;

static int rehash(counter *c)
{
    size_t n_slots = c->n_slots ? 2 * c->n_slots : 1 << 12;
    size_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < c->n; i++) {
        size_t j = attx_fnv1a64(ATTX_FNV1A64_SEED, c->text.data + c->words[i].off, c->words[i].len) & (n_slots - 1);
        while (slots[j]) j = (j + 1) & (n_slots - 1);
        slots[j] = i + 1;
    }
    free(c->slots);
    c->slots = slots;
    c->n_slots = n_slots;
    return 0;
}

static void count_word(void *user, const char *w, size_t len)
{
    counter *c = user;
    if (c->failed) return;
    if (2 * (c->n + 1) > c->n_slots && rehash(c) != 0) {
        c->failed = 1;
        return;
    }
    size_t j = attx_fnv1a64(ATTX_FNV1A64_SEED, w, len) & (c->n_slots - 1);
    for (; c->slots[j]; j = (j + 1) & (c->n_slots - 1)) {
        word_count *e = &c->words[c->slots[j] - 1];
        if (e->len == len && memcmp(c->text.data + e->off, w, len) == 0) {
            e->count++;
            return;
        }
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 1024;
        word_count *p = realloc(c->words, cap * sizeof *p);
        if (!p) {
            c->failed = 1;
            return;
        }
        c->words = p;
        c->cap = cap;
    }
    c->words[c->n] = (word_count){c->text.len, len, 1, NULL};
    attx_buf_append(&c->text, w, len);
    if (c->text.failed) {
        c->failed = 1;
        return;
    }
    c->slots[j] = ++c->n;
}

/* count descending, then bytes ascending (a proper prefix first) */
static int by_count_then_token(const void *x, const void *y)
{
    const word_count *a = x, *b = y;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    size_t n = a->len < b->len ? a->len : b->len;
    int d = memcmp(a->s, b->s, n);
    if (d) return d;
    return a->len < b->len ? -1 : a->len > b->len;
}

static int is_special(const char *s, size_t len)
{
    return (len == 5 && memcmp(s, "[cls]", 5) == 0) || (len == 3 && memcmp(s, "UNK", 3) == 0);
}

int attx_attn1_vocab_build(const char *const *texts, size_t n_texts, int max_size, int min_freq,
                           attx_buf *out, attx_error *err)
{
    memset(out, 0, sizeof *out);
    if (max_size > 0 && max_size <= 2)
        return attx_fail(err, "a vocabulary of at most %d tokens would hold only the specials [cls] and UNK",
                         max_size);
    counter c = {0};
    int rc = 0;
    for (size_t i = 0; i < n_texts && !c.failed; i++) {
        if (attx_basic_english(texts[i], strlen(texts[i]), count_word, &c, err) != 0) {
            attx_fail_prefix(err, "text %zu", i + 1);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && c.failed) rc = attx_fail(err, "out of memory counting words");
    if (rc == 0) {
        for (size_t i = 0; i < c.n; i++) c.words[i].s = c.text.data + c.words[i].off;
        if (c.n) qsort(c.words, c.n, sizeof *c.words, by_count_then_token);
        size_t keep = c.n;
        if (max_size > 0 && (size_t)max_size - 2 < keep) keep = (size_t)max_size - 2;
        attx_buf_puts(out, "[cls]\nUNK\n");
        for (size_t i = 0; i < keep; i++) {
            const word_count *w = &c.words[i];
            const char *s = w->s;
            if (is_special(s, w->len) || w->count < (min_freq > 1 ? min_freq : 1)) continue;
            attx_buf_append(out, s, w->len);
            attx_buf_append(out, "\n", 1);
        }
        if (out->failed) {
            attx_buf_free(out);
            rc = attx_fail(err, "out of memory writing the vocabulary");
        }
    }
    attx_buf_free(&c.text);
    free(c.words);
    free(c.slots);
    return rc;
}
