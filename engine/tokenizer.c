/* tokenizer.c — WordPiece, identical to Hugging Face's slow BertTokenizer.
 *
 * HF's pipeline (transformers tokenization_utils.py PreTrainedTokenizer.tokenize and
 * tokenization_bert.py BasicTokenizer / WordpieceTokenizer), and how this file runs it:
 *
 *   1. With do_lower_case the text is lowercased except for the special tokens, by
 *      re.sub("(special|...)|(.+?)", ...): `(.+?)` matches ONE character, so str.lower sees
 *      each character alone and Final_Sigma never applies (Σ -> σ, never ς). BasicTokenizer's
 *      later token.lower() then changes nothing (lowercasing is idempotent).
 *   2. The special tokens are split out (a trie; they cannot overlap, so: leftmost matches).
 *   3. Per piece, BasicTokenizer: _clean_text drops U+0000, U+FFFD and category C* except
 *      \t \n \r, and turns whitespace (space \t \n \r, Zs) into spaces; _tokenize_chinese_chars
 *      surrounds CJK ideographs with spaces; NFC (newer transformers); str.split() (Python
 *      whitespace, which also includes U+2028/U+2029); per word lower + NFD + drop Mn
 *      (do_lower_case) ; _run_split_on_punc.
 *   4. WordpieceTokenizer: more than 100 characters -> [UNK]; else greedy longest match first,
 *      "##" on non-initial pieces; a position with no match turns the whole word into [UNK].
 *
 * Here all of that is one pass over the code points: each character is classified (dropped,
 * space, CJK, or normal), lowercased and decomposed; the decomposed code points collect in a
 * combining sequence (a starter and the non-starters after it), which is put into canonical
 * order (and, without lowercasing, composed: NFC) when the next starter arrives; then each
 * code point goes to the current word or, if punctuation, becomes a word of its own.
 * With lowercasing NFC is skipped: NFD(lower(NFC(x))) == NFD(x) for lowercased x
 * (tools/reference/wordpiece_ref.py checks this for every code point).
 *
 * Departures, all outside what a bert vocabulary meets in practice:
 *   - Unicode version. HF uses the unicodedata of the Python it runs on (3.11: Unicode 14.0,
 *     3.12: 15.0); the tables here are UCD 15.0.0. `tools/gen_unicode.py --check` against
 *     Python 3.11 finds exactly the 4,482 code points new in 15.0 differing (14.0 calls them
 *     unassigned, Cn, so HF drops them as control characters while attx keeps them; 10 of
 *     them also have a combining class); lowercase, decompositions and compositions agree.
 *   - A special token missing from the vocabulary is ordinary text here; HF still keeps it
 *     whole, with [UNK]'s id or (newer versions) a new id past the vocabulary.
 */
#include "attx_engine.h"
#include "basic_english.h"
#include "unicode.h"

#include <stdlib.h>
#include <string.h>

#define MAX_CHARS_PER_WORD 100   /* WordpieceTokenizer.max_input_chars_per_word */

/* ------------------------------------------------------------------------------------------ */
/* Vocabulary                                                                                  */

enum { SPECIAL_PAD, SPECIAL_UNK, SPECIAL_CLS, SPECIAL_SEP, SPECIAL_MASK, SPECIAL_COUNT };
static const char *const special_text[SPECIAL_COUNT] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

struct attx_wordpiece {
    char *text;            /* every token, NUL-terminated, one after another */
    uint32_t *offset;      /* id -> start of its token in text; offset[n_ids] = end */
    size_t n_ids;
    int32_t *slots;        /* open-addressing hash table of ids, -1 = empty */
    size_t slot_mask;      /* table size - 1 (a power of two) */
    size_t max_token_len;  /* bytes of the longest token */
    int do_lower_case;
    int whole_words;       /* attn1: basic_english words looked up whole ("UNK" for unknown) */
    int32_t special[SPECIAL_COUNT];
};

static size_t token_len(const attx_wordpiece *wp, int32_t id)
{
    return wp->offset[id + 1] - wp->offset[id] - 1;
}

/* FNV-1a over an optional "##" followed by bytes. */
static uint64_t hash_piece(int continuation, const char *s, size_t n)
{
    return attx_fnv1a64(continuation ? attx_fnv1a64(ATTX_FNV1A64_SEED, "##", 2) : ATTX_FNV1A64_SEED, s, n);
}

/* The id of ("##" if continuation) + s[0..n), or -1. */
static int32_t lookup(const attx_wordpiece *wp, int continuation, const char *s, size_t n)
{
    size_t prefix = continuation ? 2 : 0;
    for (size_t i = hash_piece(continuation, s, n) & wp->slot_mask;; i = (i + 1) & wp->slot_mask) {
        int32_t id = wp->slots[i];
        if (id < 0) return -1;
        const char *t = wp->text + wp->offset[id];
        if (token_len(wp, id) == n + prefix && (!prefix || (t[0] == '#' && t[1] == '#')) &&
            memcmp(t + prefix, s, n) == 0)
            return id;
    }
}

/* Adds id under its token; a token seen before now maps to the later id (HF: a dict). */
static void insert(attx_wordpiece *wp, int32_t id)
{
    const char *t = wp->text + wp->offset[id];
    size_t n = token_len(wp, id);
    for (size_t i = hash_piece(0, t, n) & wp->slot_mask;; i = (i + 1) & wp->slot_mask) {
        int32_t old = wp->slots[i];
        if (old < 0 || (token_len(wp, old) == n && memcmp(wp->text + wp->offset[old], t, n) == 0)) {
            wp->slots[i] = id;
            return;
        }
    }
}

/* Bytes up to the end of the line at s[i..len) and where the next line starts. Line ends are
 * "\n", "\r\n" and "\r": Python's universal newlines, as load_vocab's text-mode readlines()
 * sees them. */
static size_t line_end(const char *s, size_t len, size_t i, size_t *next)
{
    while (i < len && s[i] != '\n' && s[i] != '\r') i++;
    *next = i;
    if (i < len) *next = (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n') ? i + 2 : i + 1;
    return i;
}

static int load_vocab(attx_wordpiece **out, const char *vocab_text, size_t len, int do_lower_case,
                      int whole_words, attx_error *err)
{
    *out = NULL;
    if (len == 0) return attx_fail(err, "vocabulary: empty");
    if (len > UINT32_MAX - 1) return attx_fail(err, "vocabulary: too large (%zu bytes)", len);
    size_t bad;
    if (!attx_utf8_valid(vocab_text, len, &bad)) {
        size_t line = 1, next;
        for (size_t i = 0; line_end(vocab_text, len, i, &next) < bad && next < len; i = next) line++;
        return attx_fail(err, "vocabulary: invalid UTF-8 on line %zu (byte %zu)", line, bad);
    }
    size_t n = 0, next;
    for (size_t i = 0; i < len; i = next) {
        line_end(vocab_text, len, i, &next);
        n++;
    }
    if (n > INT32_MAX) return attx_fail(err, "vocabulary: too many lines (%zu)", n);

    attx_wordpiece *wp = calloc(1, sizeof *wp);
    if (!wp) return attx_fail(err, "out of memory");
    size_t slots = 16;
    while (slots < 2 * n) slots *= 2;
    wp->text = malloc(len + 1);      /* each line end becomes one NUL; at most one more NUL */
    wp->offset = malloc((n + 1) * sizeof *wp->offset);
    wp->slots = malloc(slots * sizeof *wp->slots);
    if (!wp->text || !wp->offset || !wp->slots) {
        attx_wordpiece_free(wp);
        return attx_fail(err, "out of memory");
    }
    wp->n_ids = n;
    wp->slot_mask = slots - 1;
    wp->do_lower_case = do_lower_case != 0;
    memset(wp->slots, 0xFF, slots * sizeof *wp->slots);
    size_t pos = 0, id = 0;
    for (size_t i = 0; i < len; i = next, id++) {
        size_t end = line_end(vocab_text, len, i, &next);
        wp->offset[id] = (uint32_t)pos;
        memcpy(wp->text + pos, vocab_text + i, end - i);
        pos += end - i;
        wp->text[pos++] = '\0';
        if (end - i > wp->max_token_len) wp->max_token_len = end - i;
    }
    wp->offset[n] = (uint32_t)pos;
    for (size_t i = 0; i < n; i++) insert(wp, (int32_t)i);
    wp->whole_words = whole_words;
    if (whole_words) {
        /* P2's specials: "UNK" for unknown words and padding, "[cls]" first */
        for (int k = 0; k < SPECIAL_COUNT; k++) wp->special[k] = -1;
        wp->special[SPECIAL_UNK] = wp->special[SPECIAL_PAD] = lookup(wp, 0, "UNK", 3);
        wp->special[SPECIAL_CLS] = lookup(wp, 0, "[cls]", 5);
        if (wp->special[SPECIAL_UNK] < 0 || wp->special[SPECIAL_CLS] < 0) {
            const char *missing = wp->special[SPECIAL_UNK] < 0 ? "UNK" : "[cls]";
            attx_wordpiece_free(wp);
            return attx_fail(err, "vocabulary: no \"%s\" token (an attn1 vocabulary starts with [cls] and UNK)",
                             missing);
        }
        *out = wp;
        return 0;
    }
    for (int k = 0; k < SPECIAL_COUNT; k++)
        wp->special[k] = lookup(wp, 0, special_text[k], strlen(special_text[k]));
    if (wp->special[SPECIAL_UNK] < 0) {
        attx_wordpiece_free(wp);
        return attx_fail(err, "vocabulary: no [UNK] token");
    }
    *out = wp;
    return 0;
}

int attx_wordpiece_load(attx_wordpiece **out, const char *vocab_text, size_t len,
                        int do_lower_case, attx_error *err)
{
    return load_vocab(out, vocab_text, len, do_lower_case, 0, err);
}

int attx_attn1_vocab_load(attx_wordpiece **out, const char *vocab_text, size_t len, attx_error *err)
{
    return load_vocab(out, vocab_text, len, 1, 1, err);
}

void attx_wordpiece_free(attx_wordpiece *wp)
{
    if (!wp) return;
    free(wp->text);
    free(wp->offset);
    free(wp->slots);
    free(wp);
}

size_t attx_wordpiece_vocab_size(const attx_wordpiece *wp)
{
    return wp->n_ids;
}

const char *attx_wordpiece_token(const attx_wordpiece *wp, int32_t id)
{
    if (id < 0 || (size_t)id >= wp->n_ids) return NULL;
    const char *t = wp->text + wp->offset[id];
    /* HF's ids_to_tokens comes from the token -> id dict: a shadowed id converts to [UNK] */
    if (lookup(wp, 0, t, token_len(wp, id)) != id) return wp->whole_words ? "UNK" : special_text[SPECIAL_UNK];
    return t;
}

int32_t attx_wordpiece_id(const attx_wordpiece *wp, const char *token)
{
    return lookup(wp, 0, token, strlen(token));
}

attx_special_ids attx_wordpiece_special_ids(const attx_wordpiece *wp)
{
    attx_special_ids s = {wp->special[SPECIAL_PAD], wp->special[SPECIAL_UNK], wp->special[SPECIAL_CLS],
                          wp->special[SPECIAL_SEP], wp->special[SPECIAL_MASK]};
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Character rules of BasicTokenizer                                                           */

/* _is_whitespace: space \t \n \r or Zs. */
static int is_hf_whitespace(uint32_t cp, attx_uc_class c)
{
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || c == ATTX_UC_ZS;
}

/* _is_control: category C* except \t \n \r (Cn, unassigned, included). */
static int is_hf_control(uint32_t cp, attx_uc_class c)
{
    return c == ATTX_UC_CONTROL && cp != '\t' && cp != '\n' && cp != '\r';
}

/* _is_punctuation: the ASCII non-alphanumerics 33-47, 58-64, 91-96, 123-126 (so $ + < = > ^ `
 * | ~ too, though they are symbols) or category P*. */
static int is_hf_punctuation(uint32_t cp)
{
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
        return 1;
    return cp >= 0x80 && attx_uc_class_of(cp) == ATTX_UC_PUNCT;
}

/* _is_chinese_char: the CJK Unified Ideographs blocks as the slow tokenizer lists them
 * (Ext-E from 0x2B820; the fast tokenizer has the typo 0x2B920). Not Hangul, kana or
 * CJK punctuation. */
static int is_cjk(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* ------------------------------------------------------------------------------------------ */
/* Encoding                                                                                    */

/* A normalised code point and the byte range of the character it came from. */
typedef struct piece_cp {
    uint32_t cp;
    uint32_t ccc;
    uint32_t start, end;
} piece_cp;

typedef struct encoder {
    const attx_wordpiece *wp;       /* NULL when only splitting into words */
    int do_lower_case;
    attx_tokens *out;
    attx_word_fn on_word;           /* set: words go here instead of into WordPiece */
    void *user;
    int failed;                     /* an allocation failed */
    /* the combining sequence being normalised: a starter (ccc 0) and the non-starters after it */
    piece_cp *seq, *seq_tmp;
    size_t seq_len, seq_cap;
    /* the word being built: its first MAX_CHARS_PER_WORD + 1 code points, its length, range */
    uint32_t word[MAX_CHARS_PER_WORD + 1];
    size_t word_len;
    uint32_t word_start, word_end;
    int after_punct;                /* the last token is punctuation of the current chunk */
} encoder;

static void push_token(encoder *e, int32_t id, uint32_t start, uint32_t end)
{
    attx_tokens *t = e->out;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        int32_t *ids = realloc(t->ids, cap * sizeof *ids);
        if (ids) t->ids = ids;
        uint32_t *s = ids ? realloc(t->start, cap * sizeof *s) : NULL;
        if (s) t->start = s;
        uint32_t *en = s ? realloc(t->end, cap * sizeof *en) : NULL;
        if (en) t->end = en;
        if (!en) {
            e->failed = 1;
            return;
        }
        t->cap = cap;
    }
    t->ids[t->n] = id;
    t->start[t->n] = start;
    t->end[t->n] = end;
    t->n++;
}

static size_t put_utf8(char *s, uint32_t cp)
{
    if (cp < 0x80) { s[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        s[0] = (char)(0xC0 | cp >> 6);
        s[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        s[0] = (char)(0xE0 | cp >> 12);
        s[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        s[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    s[0] = (char)(0xF0 | cp >> 18);
    s[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    s[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    s[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* WordpieceTokenizer.tokenize on the finished word. */
static void end_word(encoder *e)
{
    if (e->word_len == 0) return;
    const attx_wordpiece *wp = e->wp;
    size_t n = e->word_len;
    e->word_len = 0;
    if (e->on_word) {
        char word[4 * MAX_CHARS_PER_WORD];
        size_t len = 0;
        for (size_t i = 0; i < n && i < MAX_CHARS_PER_WORD; i++) len += put_utf8(word + len, e->word[i]);
        if (n <= MAX_CHARS_PER_WORD) e->on_word(e->user, word, len);   /* longer ones are [UNK] */
        return;
    }
    int32_t unk = wp->special[SPECIAL_UNK];
    if (n > MAX_CHARS_PER_WORD) {
        push_token(e, unk, e->word_start, e->word_end);
        return;
    }
    char bytes[4 * MAX_CHARS_PER_WORD];
    size_t at[MAX_CHARS_PER_WORD + 1];   /* byte offset of each character */
    at[0] = 0;
    for (size_t i = 0; i < n; i++) at[i + 1] = at[i] + put_utf8(bytes + at[i], e->word[i]);
    size_t first_token = e->out->n;
    for (size_t start = 0; start < n;) {
        int continuation = start > 0;
        size_t prefix = continuation ? 2 : 0;
        size_t limit = wp->max_token_len > prefix ? wp->max_token_len - prefix : 0;   /* no token is longer */
        size_t end = start;
        while (end < n && at[end + 1] - at[start] <= limit) end++;
        int32_t id = -1;
        for (; end > start; end--) {   /* longest match first */
            id = lookup(wp, continuation, bytes + at[start], at[end] - at[start]);
            if (id >= 0) break;
        }
        if (id < 0) {   /* one position without a match: the whole word is [UNK] */
            e->out->n = first_token;
            push_token(e, unk, e->word_start, e->word_end);
            return;
        }
        push_token(e, id, e->word_start, e->word_end);
        start = end;
    }
}

static void add_to_word(encoder *e, const piece_cp *p)
{
    if (e->word_len == 0) {
        e->word_start = p->start;
        e->word_end = p->end;
    }
    if (p->start < e->word_start) e->word_start = p->start;
    if (p->end > e->word_end) e->word_end = p->end;
    /* past MAX_CHARS_PER_WORD + 1 code points only "too long" matters */
    if (e->word_len <= MAX_CHARS_PER_WORD) e->word[e->word_len++] = p->cp;
}

/* A character that produced no code point of a word (a dropped mark or control character)
 * still belongs to the text of the word, or punctuation, before it. */
static void extend_last(encoder *e, uint32_t end)
{
    if (e->word_len > 0) {
        if (end > e->word_end) e->word_end = end;
    } else if (e->after_punct && e->out && e->out->n > 0 && end > e->out->end[e->out->n - 1]) {
        e->out->end[e->out->n - 1] = end;
    }
}

/* A normalised code point goes into the word (drop Mn when lowercasing; punctuation alone). */
static void emit(encoder *e, const piece_cp *p)
{
    if (e->do_lower_case && p->cp >= 0x300 && attx_uc_class_of(p->cp) == ATTX_UC_MN) {
        extend_last(e, p->end);   /* _run_strip_accents drops Mn */
        return;
    }
    if (is_hf_punctuation(p->cp)) {   /* _run_split_on_punc */
        end_word(e);
        add_to_word(e, p);
        end_word(e);
        e->after_punct = 1;
        return;
    }
    e->after_punct = 0;
    add_to_word(e, p);
}

/* Canonical ordering: a stable sort of the sequence by combining class (the starter, class 0,
 * stays first). Counting sort, so that a long run of marks costs linear time. */
static void seq_sort(encoder *e)
{
    size_t n = e->seq_len;
    size_t i = 1;
    while (i < n && e->seq[i - 1].ccc <= e->seq[i].ccc) i++;
    if (i >= n) return;
    size_t count[257] = {0};
    for (i = 0; i < n; i++) count[e->seq[i].ccc + 1]++;
    for (i = 1; i < 257; i++) count[i] += count[i - 1];
    for (i = 0; i < n; i++) e->seq_tmp[count[e->seq[i].ccc]++] = e->seq[i];
    piece_cp *t = e->seq;
    e->seq = e->seq_tmp;
    e->seq_tmp = t;
}

/* Canonical composition inside the sequence: each non-starter that is not blocked (by a kept
 * mark of the same or a higher class) and has a primary composite with the starter merges
 * into it. */
static void seq_compose(encoder *e)
{
    if (e->seq_len < 2 || e->seq[0].ccc != 0) return;
    piece_cp *s = e->seq;
    size_t kept = 1;
    uint32_t last_ccc = 0;   /* class of the last kept mark; 0 = none kept */
    for (size_t i = 1; i < e->seq_len; i++) {
        uint32_t c = last_ccc == 0 || last_ccc < s[i].ccc ? attx_uc_compose(s[0].cp, s[i].cp) : 0;
        if (c) {
            s[0].cp = c;
            if (s[i].start < s[0].start) s[0].start = s[i].start;
            if (s[i].end > s[0].end) s[0].end = s[i].end;
            continue;
        }
        last_ccc = s[i].ccc;
        s[kept++] = s[i];
    }
    e->seq_len = kept;
}

/* NFD's canonical order, and without lowercasing NFC's composition. Run once per sequence
 * state: composing again could merge a mark that was already refused by an earlier starter. */
static void seq_normalize(encoder *e)
{
    seq_sort(e);
    if (!e->do_lower_case) seq_compose(e);
}

static void seq_emit(encoder *e)
{
    for (size_t i = 0; i < e->seq_len; i++) emit(e, &e->seq[i]);
    e->seq_len = 0;
}

static void seq_flush(encoder *e)
{
    if (e->seq_len == 0) return;
    seq_normalize(e);
    seq_emit(e);
}

static void seq_push(encoder *e, uint32_t cp, uint32_t start, uint32_t end)
{
    uint32_t ccc = cp < 0x300 ? 0 : (uint32_t)attx_uc_ccc(cp);
    if (ccc == 0 && e->seq_len > 0) {   /* a new starter ends the sequence */
        seq_normalize(e);
        /* NFC: a starter right after a lone starter may compose with it (Hangul LV + T) */
        uint32_t c = !e->do_lower_case && e->seq_len == 1 && e->seq[0].ccc == 0
                         ? attx_uc_compose(e->seq[0].cp, cp) : 0;
        if (c) {
            e->seq[0].cp = c;
            if (end > e->seq[0].end) e->seq[0].end = end;
            return;
        }
        seq_emit(e);
    }
    if (e->seq_len == e->seq_cap) {
        size_t cap = e->seq_cap ? 2 * e->seq_cap : 32;
        piece_cp *s = realloc(e->seq, cap * sizeof *s);
        if (s) e->seq = s;
        piece_cp *t = s ? realloc(e->seq_tmp, cap * sizeof *t) : NULL;
        if (t) e->seq_tmp = t;
        if (!t) {
            e->failed = 1;
            return;
        }
        e->seq_cap = cap;
    }
    piece_cp p = {cp, ccc, start, end};
    e->seq[e->seq_len++] = p;
}

/* Whitespace, a CJK ideograph or a special token ends the current word. */
static void end_chunk(encoder *e)
{
    seq_flush(e);
    end_word(e);
    e->after_punct = 0;
}

/* One character of the text at bytes [start, end). */
static void add_char(encoder *e, uint32_t cp, uint32_t start, uint32_t end)
{
    attx_uc_class c = attx_uc_class_of(cp);
    if (cp == 0 || cp == 0xFFFD || is_hf_control(cp, c)) {   /* _clean_text drops it */
        if (e->seq_len > 0) {
            piece_cp *last = &e->seq[e->seq_len - 1];
            if (end > last->end) last->end = end;
        } else {
            extend_last(e, end);
        }
        return;
    }
    if (is_hf_whitespace(cp, c) || c == ATTX_UC_SPACE_OTHER) {   /* str.split() separators */
        end_chunk(e);
        return;
    }
    int cjk = is_cjk(cp);
    if (cjk) end_chunk(e);
    uint32_t lower[ATTX_UC_LOWER_MAX], nfd[ATTX_UC_NFD_MAX];
    int n_lower = 1;
    lower[0] = cp;
    if (e->do_lower_case) n_lower = attx_uc_lower(cp, lower);
    for (int i = 0; i < n_lower; i++) {
        int n_nfd = attx_uc_nfd(lower[i], nfd);
        for (int k = 0; k < n_nfd; k++) seq_push(e, nfd[k], start, end);
    }
    if (cjk) end_chunk(e);
}

/* Runs the text through the encoder e (set up by the caller); 0, or -1 when out of memory. */
static int run(encoder *e, const char *text, size_t len)
{
    const attx_wordpiece *wp = e->wp;
    for (size_t i = 0; i < len && !e->failed;) {
        if (wp && text[i] == '[') {   /* a special token of the vocabulary, spelled exactly */
            int k = 0;
            for (; k < SPECIAL_COUNT; k++) {
                size_t n = strlen(special_text[k]);
                if (wp->special[k] >= 0 && n <= len - i && memcmp(text + i, special_text[k], n) == 0) break;
            }
            if (k < SPECIAL_COUNT) {
                size_t n = strlen(special_text[k]);
                end_chunk(e);
                push_token(e, wp->special[k], (uint32_t)i, (uint32_t)(i + n));
                i += n;
                continue;
            }
        }
        uint32_t cp;
        int n = 1;
        if ((unsigned char)text[i] < 0x80) cp = (unsigned char)text[i];
        else n = attx_utf8_decode(text + i, len - i, &cp);   /* valid: checked before */
        add_char(e, cp, (uint32_t)i, (uint32_t)(i + (size_t)n));
        i += (size_t)n;
    }
    end_chunk(e);
    int failed = e->failed;
    free(e->seq);
    free(e->seq_tmp);
    return failed ? -1 : 0;
}

static int check_text(const char *text, size_t len, attx_error *err)
{
    if (len > UINT32_MAX) return attx_fail(err, "text too long (%zu bytes; offsets are 32-bit)", len);
    size_t bad;
    if (!attx_utf8_valid(text, len, &bad)) return attx_fail(err, "invalid UTF-8 at byte %zu", bad);
    return 0;
}

/* attn1: each basic_english word is one token, its id or UNK's */
static void push_whole_word(void *user, const char *word, size_t len, uint32_t start, uint32_t end)
{
    encoder *e = user;
    if (e->failed) return;
    int32_t id = lookup(e->wp, 0, word, len);
    push_token(e, id >= 0 ? id : e->wp->special[SPECIAL_UNK], start, end);
}

int attx_wordpiece_encode(const attx_wordpiece *wp, const char *text, size_t len,
                          attx_tokens *out, attx_error *err)
{
    out->n = 0;
    if (wp->whole_words) {
        encoder e = {.wp = wp, .out = out};
        if (attx_basic_english_spans(text, len, push_whole_word, &e, err) != 0) return -1;
        if (e.failed) {
            out->n = 0;
            return attx_fail(err, "out of memory");
        }
        return 0;
    }
    if (check_text(text, len, err) != 0) return -1;
    encoder *e = calloc(1, sizeof *e);
    if (!e) return attx_fail(err, "out of memory");
    e->wp = wp;
    e->do_lower_case = wp->do_lower_case;
    e->out = out;
    int rc = run(e, text, len);
    free(e);
    if (rc != 0) {
        out->n = 0;
        return attx_fail(err, "out of memory");
    }
    return 0;
}

int attx_basic_words(const char *text, size_t len, int do_lower_case, attx_word_fn on_word, void *user,
                     attx_error *err)
{
    if (check_text(text, len, err) != 0) return -1;
    encoder *e = calloc(1, sizeof *e);
    if (!e) return attx_fail(err, "out of memory");
    e->do_lower_case = do_lower_case;
    e->on_word = on_word;
    e->user = user;
    int rc = run(e, text, len);
    free(e);
    return rc != 0 ? attx_fail(err, "out of memory") : 0;
}

void attx_tokens_free(attx_tokens *t)
{
    free(t->ids);
    free(t->start);
    free(t->end);
    memset(t, 0, sizeof *t);
}
