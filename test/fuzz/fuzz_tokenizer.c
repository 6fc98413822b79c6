/* fuzz_tokenizer.c — the WordPiece tokenizer (BERT's BasicTokenizer rules, Unicode tables),
 * torchtext's basic_english (attn1) and UTF-8 decoding, on arbitrary text.
 *
 * Two small fixed vocabularies are loaded once (a BERT one with the special tokens, "##"
 * pieces, accented and CJK tokens; an attn1 one); the input is the text. Properties checked:
 *   - attx_utf8_decode agrees at every byte offset with a table-driven decoder written from
 *     the Unicode standard's table of well-formed byte sequences (Table 3-7), and
 *     attx_utf8_valid with decoding the whole text;
 *   - encoding succeeds exactly when the text is valid UTF-8, lowercased and cased;
 *   - every token has an id of the vocabulary and a byte range [start, end) inside the text,
 *     on character boundaries, ranges in text order;
 *   - encoding again into the same (reused) arrays gives the same tokens;
 *   - the words of attx_basic_words and attx_basic_english are valid UTF-8, at most 100
 *     characters (basic words), with ranges inside the text. */
#include "fuzz_util.h"

#include "attx_engine.h"
#include "attx_weights.h"
#include "basic_english.h"

static const char bert_vocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\na\nof\nand\nto\nin\nis\nit\nfor\non\nnot\ngood\nbad\n"
    "movie\nfilm\ngreat\nplot\nvery\nfun\nlove\n##s\n##ing\n##ed\n##ly\n##er\n##n\n##t\nun\nre\n"
    ".\n,\n!\n?\n'\n\"\n(\n)\n-\n$\n0\n1\n2\n##0\n##1\ne\n##e\n\xc3\xa9\n##\xc3\xa9\ncafe\n"
    "caf\xc3\xa9\n\xe4\xb8\xad\n\xe6\x96\x87\n\xce\xb1\n\xcf\x83\n\xc3\x9f\nss\n##ss\n"
    "\xf0\x9f\x98\x80\n\xe3\x81\x82\n##\xe3\x81\x84\n\xed\x95\x9c\n##\xea\xb8\x80\ni\n##\xcc\x87\n";
static const char attn1_vocab[] =
    "[cls]\nUNK\n.\nthe\nwas\ngood\ngreat\nit\n,\n!\n'\na\nmovie\ns\nt\ndon\n(\n)\n?\n\xc3\xa9t\xc3\xa9\n";

static attx_wordpiece *lower, *cased, *attn1;

/* Well-formed UTF-8 (The Unicode Standard, Table 3-7): the length of the sequence at s, or 0. */
static int ref_utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
    static const struct { unsigned char lo0, hi0, lo1, hi1; int len; } rows[] = {
        {0x00, 0x7F, 0, 0, 1},       {0xC2, 0xDF, 0x80, 0xBF, 2}, {0xE0, 0xE0, 0xA0, 0xBF, 3},
        {0xE1, 0xEC, 0x80, 0xBF, 3}, {0xED, 0xED, 0x80, 0x9F, 3}, {0xEE, 0xEF, 0x80, 0xBF, 3},
        {0xF0, 0xF0, 0x90, 0xBF, 4}, {0xF1, 0xF3, 0x80, 0xBF, 4}, {0xF4, 0xF4, 0x80, 0x8F, 4},
    };
    if (n == 0) return 0;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        if (s[0] < rows[r].lo0 || s[0] > rows[r].hi0) continue;
        int len = rows[r].len;
        if (n < (size_t)len) return 0;
        if (len == 1) {
            *cp = s[0];
            return 1;
        }
        if (s[1] < rows[r].lo1 || s[1] > rows[r].hi1) return 0;
        for (int k = 2; k < len; k++)
            if (s[k] < 0x80 || s[k] > 0xBF) return 0;
        static const unsigned char lead_bits[5] = {0, 0, 0x1F, 0x0F, 0x07};
        uint32_t v = s[0] & lead_bits[len];
        for (int k = 1; k < len; k++) v = v << 6 | (s[k] & 0x3F);
        *cp = v;
        return len;
    }
    return 0;
}

static int is_continuation(const char *text, size_t len, uint32_t at)
{
    return at < len && ((unsigned char)text[at] & 0xC0) == 0x80;
}

static void check_tokens(const attx_wordpiece *wp, const attx_tokens *t, const char *text, size_t len)
{
    size_t vocab = attx_wordpiece_vocab_size(wp);
    for (size_t i = 0; i < t->n; i++) {
        FUZZ_CHECK(t->ids[i] >= 0 && (size_t)t->ids[i] < vocab);
        FUZZ_CHECK(t->start[i] < t->end[i] && t->end[i] <= len);
        FUZZ_CHECK(!is_continuation(text, len, t->start[i]) && !is_continuation(text, len, t->end[i]));
        if (i > 0) FUZZ_CHECK(t->start[i] >= t->start[i - 1]);
        FUZZ_CHECK(attx_wordpiece_token(wp, t->ids[i]) != NULL);
    }
}

static void encode_twice(const attx_wordpiece *wp, const char *text, size_t len, int valid)
{
    attx_tokens t = {0};
    attx_error err;
    int rc = attx_wordpiece_encode(wp, text, len, &t, &err);
    FUZZ_CHECK((rc == 0) == valid);
    if (rc == 0) {
        check_tokens(wp, &t, text, len);
        size_t n = t.n;
        int32_t *ids = malloc(n * sizeof *ids + 1);
        FUZZ_CHECK(ids);
        if (n) memcpy(ids, t.ids, n * sizeof *ids);
        FUZZ_CHECK(attx_wordpiece_encode(wp, text, len, &t, &err) == 0);
        FUZZ_CHECK(t.n == n && (n == 0 || memcmp(ids, t.ids, n * sizeof *ids) == 0));
        free(ids);
    } else {
        FUZZ_CHECK(t.n == 0);
    }
    attx_tokens_free(&t);
}

typedef struct word_check {
    const char *text;
    size_t len;
    int basic;        /* attx_basic_words: at most 100 characters */
} word_check;

static void on_word(void *user, const char *word, size_t len)
{
    word_check *w = user;
    size_t bad;
    FUZZ_CHECK(len > 0 && attx_utf8_valid(word, len, &bad));
    if (w->basic) FUZZ_CHECK(len <= 400);
}

static void on_span(void *user, const char *word, size_t len, uint32_t start, uint32_t end)
{
    word_check *w = user;
    on_word(user, word, len);
    FUZZ_CHECK(start < end && end <= w->len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    attx_error err;
    if (attx_wordpiece_load(&lower, bert_vocab, sizeof bert_vocab - 1, 1, &err) != 0 ||
        attx_wordpiece_load(&cased, bert_vocab, sizeof bert_vocab - 1, 0, &err) != 0 ||
        attx_attn1_vocab_load(&attn1, attn1_vocab, sizeof attn1_vocab - 1, &err) != 0) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err.msg);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const unsigned char *s = data;

    int valid = 1;
    size_t first_bad = size;
    for (size_t i = 0; i < size; i++) {
        uint32_t cp = 0, ref_cp = 0;
        int n = attx_utf8_decode(text + i, size - i, &cp), ref = ref_utf8_len(s + i, size - i, &ref_cp);
        FUZZ_CHECK(n == ref);
        if (n > 0) FUZZ_CHECK(cp == ref_cp);
    }
    for (size_t i = 0; i < size;) {
        uint32_t cp;
        int n = ref_utf8_len(s + i, size - i, &cp);
        if (n == 0) {
            valid = 0;
            first_bad = i;
            break;
        }
        i += (size_t)n;
    }
    size_t bad = SIZE_MAX;
    FUZZ_CHECK(attx_utf8_valid(text, size, &bad) == valid);
    if (!valid) FUZZ_CHECK(bad == first_bad);

    encode_twice(lower, text, size, valid);
    encode_twice(cased, text, size, valid);
    encode_twice(attn1, text, size, valid);

    attx_error err;
    word_check w = {text, size, 1};
    FUZZ_CHECK((attx_basic_words(text, size, 1, on_word, &w, &err) == 0) == valid);
    FUZZ_CHECK((attx_basic_words(text, size, 0, on_word, &w, &err) == 0) == valid);
    w.basic = 0;
    FUZZ_CHECK((attx_basic_english_spans(text, size, on_span, &w, &err) == 0) == valid);
    return 0;
}
