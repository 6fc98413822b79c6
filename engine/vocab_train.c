/* vocab_train.c — learning a WordPiece vocabulary from texts.
 *
 * The words of the basic tokenizer (attx_basic_words) are counted; each distinct word starts
 * as its characters, the first one plain and the others as "##c" continuation pieces. Then,
 * as Hugging Face's WordPiece trainer does, byte-pair merges: the adjacent pair of pieces that
 * occurs most often over all words (weighted by word count; ties go to the pair of smaller
 * piece ids, i.e. the pieces made earlier) becomes one new piece, "a" + "##b" → "ab",
 * "##a" + "##b" → "##ab", until the vocabulary has vocab_size tokens. */
#include "attx_engine.h"

#include <stdlib.h>
#include <string.h>

#define MAX_VOCAB_SIZE 1000000

typedef struct piece {
    char *text;                   /* without the "##" */
    size_t len;
    int continuation;
} piece;

typedef struct word {
    int32_t *sym;                 /* piece ids */
    int n;
    int64_t count;
} word;

typedef struct trainer {
    /* distinct words: open addressing on their text */
    word *words;
    char **word_text;
    size_t *word_len;
    size_t n_words, word_slots;
    size_t *word_table;           /* [word_slots] index + 1, 0 = empty */
    /* pieces and their lookup */
    piece *pieces;
    size_t n_pieces, cap_pieces;
    size_t *piece_table;          /* [piece_slots] index + 1 */
    size_t piece_slots;
    int failed;
} trainer;

static int grow_words(trainer *t)
{
    size_t slots = t->word_slots ? 2 * t->word_slots : 1 << 14;
    size_t *table = calloc(slots, sizeof *table);
    word *w = realloc(t->words, slots / 2 * sizeof *w);
    if (w) t->words = w;
    char **wt = realloc(t->word_text, slots / 2 * sizeof *wt);
    if (wt) t->word_text = wt;
    size_t *wl = realloc(t->word_len, slots / 2 * sizeof *wl);
    if (wl) t->word_len = wl;
    if (!table || !w || !wt || !wl) {
        free(table);
        return -1;
    }
    for (size_t i = 0; i < t->n_words; i++) {
        size_t h = attx_fnv1a64(ATTX_FNV1A64_SEED, t->word_text[i], t->word_len[i]) & (slots - 1);
        while (table[h]) h = (h + 1) & (slots - 1);
        table[h] = i + 1;
    }
    free(t->word_table);
    t->word_table = table;
    t->word_slots = slots;
    return 0;
}

static void count_word(void *user, const char *text, size_t len)
{
    trainer *t = user;
    if (t->failed) return;
    if (2 * (t->n_words + 1) > t->word_slots && grow_words(t) != 0) {
        t->failed = 1;
        return;
    }
    size_t h = attx_fnv1a64(ATTX_FNV1A64_SEED, text, len) & (t->word_slots - 1);
    for (; t->word_table[h]; h = (h + 1) & (t->word_slots - 1)) {
        size_t i = t->word_table[h] - 1;
        if (t->word_len[i] == len && memcmp(t->word_text[i], text, len) == 0) {
            t->words[i].count++;
            return;
        }
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        t->failed = 1;
        return;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    t->word_table[h] = t->n_words + 1;
    t->word_text[t->n_words] = copy;
    t->word_len[t->n_words] = len;
    t->words[t->n_words] = (word){NULL, 0, 1};
    t->n_words++;
}

static uint64_t piece_hash(const char *s, size_t n, int continuation)
{
    return attx_fnv1a64(ATTX_FNV1A64_SEED ^ (uint64_t)continuation, s, n);
}

static int32_t find_piece(const trainer *t, const char *s, size_t n, int continuation)
{
    if (!t->piece_slots) return -1;
    size_t h = piece_hash(s, n, continuation) & (t->piece_slots - 1);
    for (; t->piece_table[h]; h = (h + 1) & (t->piece_slots - 1)) {
        const piece *p = &t->pieces[t->piece_table[h] - 1];
        if (p->continuation == continuation && p->len == n && memcmp(p->text, s, n) == 0)
            return (int32_t)(t->piece_table[h] - 1);
    }
    return -1;
}

/* The id of a piece, added when new; -1 when out of memory. */
static int32_t add_piece(trainer *t, const char *s, size_t n, int continuation)
{
    int32_t id = find_piece(t, s, n, continuation);
    if (id >= 0) return id;
    if (t->n_pieces == t->cap_pieces) {
        size_t cap = t->cap_pieces ? 2 * t->cap_pieces : 1024;
        piece *p = realloc(t->pieces, cap * sizeof *p);
        if (!p) return -1;
        t->pieces = p;
        t->cap_pieces = cap;
    }
    if (2 * (t->n_pieces + 1) > t->piece_slots) {
        size_t slots = t->piece_slots ? 2 * t->piece_slots : 4096;
        size_t *table = calloc(slots, sizeof *table);
        if (!table) return -1;
        for (size_t i = 0; i < t->n_pieces; i++) {
            const piece *p = &t->pieces[i];
            size_t h = piece_hash(p->text, p->len, p->continuation) & (slots - 1);
            while (table[h]) h = (h + 1) & (slots - 1);
            table[h] = i + 1;
        }
        free(t->piece_table);
        t->piece_table = table;
        t->piece_slots = slots;
    }
    char *copy = malloc(n + 1);
    if (!copy) return -1;
    memcpy(copy, s, n);
    copy[n] = '\0';
    t->pieces[t->n_pieces] = (piece){copy, n, continuation};
    size_t h = piece_hash(s, n, continuation) & (t->piece_slots - 1);
    while (t->piece_table[h]) h = (h + 1) & (t->piece_slots - 1);
    t->piece_table[h] = t->n_pieces + 1;
    return (int32_t)t->n_pieces++;
}

/* UTF-8 length of the character starting with byte c */
static size_t char_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* ---- pair counts: open addressing on (a, b) ---- */
typedef struct pair_count {
    uint64_t key;                 /* a << 32 | b, + 1 so that 0 means empty */
    int64_t count;
} pair_count;

static void free_trainer(trainer *t)
{
    for (size_t i = 0; i < t->n_words; i++) {
        free(t->word_text[i]);
        free(t->words[i].sym);
    }
    for (size_t i = 0; i < t->n_pieces; i++) free(t->pieces[i].text);
    free(t->words);
    free(t->word_text);
    free(t->word_len);
    free(t->word_table);
    free(t->pieces);
    free(t->piece_table);
}

/* Orders character pieces: most frequent first, then by their bytes. */
typedef struct char_freq { int32_t id; int64_t count; } char_freq;
static const trainer *sort_trainer;
static int cmp_char_freq(const void *x, const void *y)
{
    const char_freq *a = x, *b = y;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    const piece *pa = &sort_trainer->pieces[a->id], *pb = &sort_trainer->pieces[b->id];
    if (pa->continuation != pb->continuation) return pa->continuation - pb->continuation;
    return strcmp(pa->text, pb->text);
}

int attx_wordpiece_train(const char *const *texts, size_t n_texts, int vocab_size, int do_lower_case,
                         int min_frequency, attx_buf *out, attx_error *err)
{
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    if (vocab_size < 6 || vocab_size > MAX_VOCAB_SIZE)
        return attx_fail(err, "a vocabulary size of %d is outside 6..%d", vocab_size, MAX_VOCAB_SIZE);
    trainer t = {0};
    int rc = -1;
    pair_count *pairs = NULL;
    char_freq *chars = NULL;
    int32_t *order = NULL;
    for (size_t i = 0; i < n_texts; i++) {
        if (attx_basic_words(texts[i], strlen(texts[i]), do_lower_case, count_word, &t, err) != 0) {
            attx_fail_prefix(err, "text %zu", i + 1);
            goto done;
        }
        if (t.failed) goto oom;
    }
    if (t.n_words == 0) {
        attx_fail(err, "the texts have no words to learn a vocabulary from");
        goto done;
    }
    /* each word as its characters; the characters' frequencies */
    for (size_t i = 0; i < t.n_words; i++) {
        word *w = &t.words[i];
        const char *s = t.word_text[i];
        size_t len = t.word_len[i];
        w->sym = malloc(len * sizeof *w->sym);
        if (!w->sym) goto oom;
        for (size_t at = 0; at < len;) {
            size_t cl = char_len((unsigned char)s[at]);
            int32_t id = add_piece(&t, s + at, cl, at > 0);
            if (id < 0) goto oom;
            w->sym[w->n++] = id;
            at += cl;
        }
    }
    size_t n_chars = t.n_pieces;
    chars = calloc(n_chars, sizeof *chars);
    if (!chars) goto oom;
    for (size_t i = 0; i < n_chars; i++) chars[i].id = (int32_t)i;
    for (size_t i = 0; i < t.n_words; i++)
        for (int k = 0; k < t.words[i].n; k++) chars[t.words[i].sym[k]].count += t.words[i].count;
    sort_trainer = &t;
    qsort(chars, n_chars, sizeof *chars, cmp_char_freq);
    /* the vocabulary's order: specials, characters, then merges as they are made */
    order = malloc((n_chars + (size_t)vocab_size) * sizeof *order);
    if (!order) goto oom;
    size_t n_order = 0;
    for (size_t i = 0; i < n_chars; i++) order[n_order++] = chars[i].id;

    size_t slots = 1;
    while (slots < 4 * (n_chars + 16)) slots *= 2;
    while (n_order + 5 < (size_t)vocab_size) {
        /* count every adjacent pair (the table grows with the words' symbol count) */
        size_t total_pairs = 0;
        for (size_t i = 0; i < t.n_words; i++) total_pairs += t.words[i].n > 1 ? (size_t)t.words[i].n - 1 : 0;
        while (slots < 2 * total_pairs + 16) slots *= 2;
        free(pairs);
        pairs = calloc(slots, sizeof *pairs);
        if (!pairs) goto oom;
        for (size_t i = 0; i < t.n_words; i++) {
            const word *w = &t.words[i];
            for (int k = 0; k + 1 < w->n; k++) {
                uint64_t key = ((uint64_t)(uint32_t)w->sym[k] << 32 | (uint32_t)w->sym[k + 1]) + 1;
                size_t h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (slots - 1);
                while (pairs[h].key && pairs[h].key != key) h = (h + 1) & (slots - 1);
                pairs[h].key = key;
                pairs[h].count += w->count;
            }
        }
        uint64_t best = 0;
        int64_t best_count = 0;
        for (size_t h = 0; h < slots; h++)
            if (pairs[h].key && (pairs[h].count > best_count || (pairs[h].count == best_count && pairs[h].key < best))) {
                best = pairs[h].key;
                best_count = pairs[h].count;
            }
        if (!best || best_count < (min_frequency > 1 ? min_frequency : 1)) break;
        int32_t a = (int32_t)((best - 1) >> 32), b = (int32_t)((best - 1) & 0xFFFFFFFFu);
        size_t la = t.pieces[a].len, lb = t.pieces[b].len;
        char *joined = malloc(la + lb + 1);
        if (!joined) goto oom;
        memcpy(joined, t.pieces[a].text, la);
        memcpy(joined + la, t.pieces[b].text, lb);
        int existed = find_piece(&t, joined, la + lb, t.pieces[a].continuation) >= 0;
        int32_t ab = add_piece(&t, joined, la + lb, t.pieces[a].continuation);
        free(joined);
        if (ab < 0) goto oom;
        if (!existed) order[n_order++] = ab;
        for (size_t i = 0; i < t.n_words; i++) {       /* merge left to right in every word */
            word *w = &t.words[i];
            int kept = 0;
            for (int k = 0; k < w->n; k++) {
                if (k + 1 < w->n && w->sym[k] == a && w->sym[k + 1] == b) {
                    w->sym[kept++] = ab;
                    k++;
                } else {
                    w->sym[kept++] = w->sym[k];
                }
            }
            w->n = kept;
        }
    }
    for (size_t i = 0; i < 5; i++) {
        attx_buf_puts(out, specials[i]);
        attx_buf_puts(out, "\n");
    }
    for (size_t i = 0; i < n_order; i++) {
        const piece *p = &t.pieces[order[i]];   /* (punctuation is split off, so no "[PAD]") */
        if (p->continuation) attx_buf_puts(out, "##");
        attx_buf_append(out, p->text, p->len);
        attx_buf_puts(out, "\n");
    }
    if (out->failed) goto oom;
    rc = 0;
    goto done;
oom:
    attx_fail(err, "out of memory learning a vocabulary");
done:
    free(pairs);
    free(chars);
    free(order);
    free_trainer(&t);
    return rc;
}
