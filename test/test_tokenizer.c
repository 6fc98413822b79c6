/* test_tokenizer.c — WordPiece against Hugging Face's BertTokenizer: llama.cpp's HF-generated
 * vectors (../shared/data/bert-vocab/golden.{inp,out}), our own cases (test/fixtures/tokenizer,
 * expected ids from tools/reference/wordpiece_ref.py), offsets, the Unicode lookups, the
 * 100-character and whole-word [UNK] rules, and error handling. */
#include "testutil.h"

#include "attx_engine.h"
#include "unicode.h"

#define VOCAB_PATH "../shared/data/bert-vocab/vocab.txt"
#define GOLDEN_INP "../shared/data/bert-vocab/golden.inp"
#define GOLDEN_OUT "../shared/data/bert-vocab/golden.out"
#define IMDB_PATH "../shared/data/imdb/test.tsv"
#define CASES_PATH "test/fixtures/tokenizer/cases.txt"

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                     */

static char *read_or_fail(const char *path, size_t *len)
{
    char *data = NULL;
    attx_error err;
    if (attx_read_file(path, (size_t)1 << 30, &data, len, &err) != 0)
        fail_msg("cannot read %s (run the tests from the repository root; the shared data must "
                 "be in ../shared/data): %s", path, err.msg);
    return data;
}

static attx_wordpiece *load_bert_vocab(int do_lower_case)
{
    tu_need_file(VOCAB_PATH);
    size_t len;
    char *text = read_or_fail(VOCAB_PATH, &len);
    attx_wordpiece *wp = NULL;
    attx_error err;
    if (attx_wordpiece_load(&wp, text, len, do_lower_case, &err) != 0) fail_msg("%s", err.msg);
    free(text);
    assert_int_equal(attx_wordpiece_vocab_size(wp), 30522);
    return wp;
}

static attx_wordpiece *load_vocab_text(const char *text, int do_lower_case)
{
    attx_wordpiece *wp = NULL;
    attx_error err;
    if (attx_wordpiece_load(&wp, text, strlen(text), do_lower_case, &err) != 0) fail_msg("%s", err.msg);
    return wp;
}

/* A list of texts (any bytes) and, per text, the expected ids. */
typedef struct case_list {
    char **text;
    size_t *len;
    int32_t **ids;
    size_t *n_ids;
    size_t n;
} case_list;

static void cases_add_text(case_list *c, const char *text, size_t len)
{
    c->text = realloc(c->text, (c->n + 1) * sizeof *c->text);
    c->len = realloc(c->len, (c->n + 1) * sizeof *c->len);
    c->text[c->n] = malloc(len + 1);
    memcpy(c->text[c->n], text, len);
    c->text[c->n][len] = '\0';
    c->len[c->n] = len;
    c->n++;
}

/* Reads one line of ids per case ("1 2 3", or " 1 2 3" in golden.out). */
static void cases_read_ids(case_list *c, const char *path)
{
    size_t len;
    char *data = read_or_fail(path, &len);
    c->ids = calloc(c->n, sizeof *c->ids);
    c->n_ids = calloc(c->n, sizeof *c->n_ids);
    char *p = data;
    for (size_t i = 0; i < c->n; i++) {
        char *eol = strchr(p, '\n');
        if (!eol) fail_msg("%s: %zu lines for %zu cases", path, i, c->n);
        *eol = '\0';
        c->ids[i] = malloc((strlen(p) / 2 + 1) * sizeof(int32_t));
        for (char *q = p, *next; ; q = next) {
            long v = strtol(q, &next, 10);
            if (next == q) break;
            c->ids[i][c->n_ids[i]++] = (int32_t)v;
        }
        p = eol + 1;
    }
    free(data);
}

static void cases_free(case_list *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->text[i]);
        if (c->ids) free(c->ids[i]);
    }
    free(c->text);
    free(c->len);
    free(c->ids);
    free(c->n_ids);
    memset(c, 0, sizeof *c);
}

/* golden.inp: every case is followed by a line "__ggml_vocab_test__"; the newline before the
 * marker is not part of the case. */
static case_list read_golden(void)
{
    static const char marker[] = "\n__ggml_vocab_test__\n";
    size_t len;
    char *data = read_or_fail(GOLDEN_INP, &len);
    case_list c = {0};
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *m = strstr(p, marker);
        if (!m) fail_msg("%s: text after the last marker", GOLDEN_INP);
        cases_add_text(&c, p, (size_t)(m - p));
        p = m + sizeof marker - 1;
    }
    free(data);
    cases_read_ids(&c, GOLDEN_OUT);
    return c;
}

/* cases.txt: one JSON string per line; "#" lines and empty lines are comments. */
static case_list read_own_cases(const char *expected_path)
{
    size_t len;
    char *data = read_or_fail(CASES_PATH, &len);
    case_list c = {0};
    for (char *line = data; line < data + len;) {
        char *eol = strchr(line, '\n');
        assert_non_null(eol);
        *eol = '\0';
        if (*line && *line != '#') {
            attx_json_doc *doc;
            attx_error err;
            if (attx_json_parse(line, (size_t)(eol - line), NULL, &doc, &err) != 0)
                fail_msg("%s: %s in %s", CASES_PATH, err.msg, line);
            size_t n;
            const char *s = attx_json_str(attx_json_root(doc), &n);
            assert_non_null(s);
            cases_add_text(&c, s, n);
            attx_json_free(doc);
        }
        line = eol + 1;
    }
    free(data);
    cases_read_ids(&c, expected_path);
    return c;
}

static void print_ids(const char *what, const int32_t *ids, size_t n)
{
    char line[4096];
    size_t at = 0;
    for (size_t i = 0; i < n && at < sizeof line - 16; i++)
        at += (size_t)snprintf(line + at, sizeof line - at, " %d", ids[i]);
    line[at] = '\0';
    print_message("    %s:%s\n", what, line);
}

/* Encodes every case and compares; lists each mismatch, then fails if there was one. */
static void check_cases(const case_list *c, const attx_wordpiece *wp, const char *name)
{
    attx_tokens t = {0};
    size_t ok = 0;
    for (size_t i = 0; i < c->n; i++) {
        attx_error err;
        if (attx_wordpiece_encode(wp, c->text[i], c->len[i], &t, &err) != 0)
            fail_msg("%s case %zu: %s", name, i + 1, err.msg);
        if (t.n == c->n_ids[i] && (t.n == 0 || memcmp(t.ids, c->ids[i], t.n * sizeof *t.ids) == 0)) {
            ok++;
            continue;
        }
        print_message("%s case %zu differs: \"%s\"\n", name, i + 1, c->text[i]);
        print_ids("got     ", t.ids, t.n);
        print_ids("expected", c->ids[i], c->n_ids[i]);
    }
    attx_tokens_free(&t);
    print_message("%s: %zu/%zu cases identical\n", name, ok, c->n);
    assert_int_equal(ok, c->n);
}

/* ------------------------------------------------------------------------------------------ */
/* (a) golden vectors, (b) our cases                                                           */

static void test_golden(void **state)
{
    (void)state;
    tu_need_file(GOLDEN_INP);
    tu_need_file(GOLDEN_OUT);
    tu_need_file(VOCAB_PATH);
    case_list c = read_golden();
    assert_int_equal(c.n, 46);
    attx_wordpiece *wp = load_bert_vocab(1);
    check_cases(&c, wp, "golden");
    attx_wordpiece_free(wp);
    cases_free(&c);
}

static void test_own_cases_uncased(void **state)
{
    (void)state;
    tu_need_file(VOCAB_PATH);
    case_list c = read_own_cases("test/fixtures/tokenizer/expected.txt");
    assert_true(c.n >= 250);
    attx_wordpiece *wp = load_bert_vocab(1);
    check_cases(&c, wp, "cases (do_lower_case)");
    attx_wordpiece_free(wp);
    cases_free(&c);
}

static void test_own_cases_cased(void **state)
{
    (void)state;
    tu_need_file(VOCAB_PATH);
    case_list c = read_own_cases("test/fixtures/tokenizer/expected_cased.txt");
    attx_wordpiece *wp = load_bert_vocab(0);
    check_cases(&c, wp, "cases (cased)");
    attx_wordpiece_free(wp);
    cases_free(&c);
}

/* ------------------------------------------------------------------------------------------ */
/* (c) offsets                                                                                 */

static int is_continuation_byte(const char *s, size_t len, size_t at)
{
    return at < len && ((unsigned char)s[at] & 0xC0) == 0x80;
}

/* Every range lies in the text, on UTF-8 boundaries, non-empty; ranges never go backwards;
 * the pieces of a word share its range, and for plain ASCII words the range holds exactly the
 * lowercased word; special tokens cover their own spelling. */
static void check_offsets(const attx_wordpiece *wp, const char *text, size_t len, int lower)
{
    attx_tokens t = {0};
    attx_error err;
    if (attx_wordpiece_encode(wp, text, len, &t, &err) != 0) fail_msg("%s", err.msg);
    int32_t unk = attx_wordpiece_special_ids(wp).unk;
    for (size_t i = 0; i < t.n; i++) {
        uint32_t s = t.start[i], e = t.end[i];
        if (!(s < e && e <= len)) fail_msg("\"%s\": token %zu has range [%u, %u)", text, i, s, e);
        assert_false(is_continuation_byte(text, len, s));
        assert_false(is_continuation_byte(text, len, e));
        if (i > 0) assert_true(t.start[i - 1] <= s && (t.start[i - 1] == s || t.end[i - 1] <= s));
    }
    for (size_t i = 0; i < t.n;) {   /* one word = consecutive tokens with the same range */
        size_t j = i + 1;
        while (j < t.n && t.start[j] == t.start[i] && t.end[j] == t.end[i]) j++;
        const char *w = text + t.start[i];
        size_t wlen = t.end[i] - t.start[i];
        const char *tok0 = attx_wordpiece_token(wp, t.ids[i]);
        if (j == i + 1 && tok0[0] == '[' && strlen(tok0) == wlen && memcmp(w, tok0, wlen) == 0) {
            i = j;   /* a special token */
            continue;
        }
        int plain = 1;
        for (size_t k = 0; k < wlen; k++) plain &= w[k] >= 0x20 && w[k] < 0x7F;
        for (size_t k = i; k < j; k++) plain &= t.ids[k] != unk;
        if (plain) {
            char joined[512];
            size_t n = 0;
            for (size_t k = i; k < j; k++) {
                const char *tok = attx_wordpiece_token(wp, t.ids[k]);
                if (k > i) tok += 2;   /* "##" */
                size_t tl = strlen(tok);
                assert_true(n + tl < sizeof joined);
                memcpy(joined + n, tok, tl);
                n += tl;
            }
            assert_int_equal(n, wlen);
            for (size_t k = 0; k < wlen; k++) {
                char c = w[k];
                if (lower && c >= 'A' && c <= 'Z') c = (char)(c + 32);
                if (c != joined[k]) fail_msg("\"%s\": word \"%.*s\" vs pieces \"%.*s\"", text, (int)wlen, w, (int)n, joined);
            }
        }
        i = j;
    }
    attx_tokens_free(&t);
}

static void test_offsets(void **state)
{
    (void)state;
    attx_wordpiece *wp = load_bert_vocab(1), *cased = load_bert_vocab(0);
    case_list c = read_own_cases("test/fixtures/tokenizer/expected.txt");
    case_list g = read_golden();
    for (size_t i = 0; i < c.n; i++) {
        check_offsets(wp, c.text[i], c.len[i], 1);
        check_offsets(cased, c.text[i], c.len[i], 0);
    }
    for (size_t i = 0; i < g.n; i++) check_offsets(wp, g.text[i], g.len[i], 1);

    /* exact ranges of a few texts */
    attx_tokens t = {0};
    attx_error err;
    const char *text = "Hello, w\xC3\xB6rld! \xE4\xB8\xAD[MASK]x";   /* Hello, wörld! 中[MASK]x */
    assert_int_equal(attx_wordpiece_encode(wp, text, strlen(text), &t, &err), 0);
    uint32_t want[][2] = {{0, 5}, {5, 6}, {7, 13}, {13, 14}, {15, 18}, {18, 24}, {24, 25}};
    assert_int_equal(t.n, 7);   /* hello , world ! 中 [MASK] x */
    for (size_t i = 0; i < t.n; i++) {
        assert_int_equal(t.start[i], want[i][0]);
        assert_int_equal(t.end[i], want[i][1]);
    }
    /* a stripped combining mark stays with its word; the pieces of a word share its range */
    text = "cafe\xCC\x81 unaffable";
    assert_int_equal(attx_wordpiece_encode(wp, text, strlen(text), &t, &err), 0);
    assert_int_equal(t.n, 4);   /* cafe una ##ffa ##ble */
    assert_int_equal(t.start[0], 0);
    assert_int_equal(t.end[0], 6);
    for (size_t i = 1; i < 4; i++) {
        assert_int_equal(t.start[i], 7);
        assert_int_equal(t.end[i], 16);
    }
    attx_tokens_free(&t);
    cases_free(&c);
    cases_free(&g);
    attx_wordpiece_free(wp);
    attx_wordpiece_free(cased);
}

/* ------------------------------------------------------------------------------------------ */
/* (d) Unicode lookups                                                                         */

static void assert_cps(const uint32_t *got, int n, const uint32_t *want, int n_want)
{
    assert_int_equal(n, n_want);
    for (int i = 0; i < n; i++) assert_int_equal(got[i], want[i]);
}

static void test_unicode_nfd(void **state)
{
    (void)state;
    uint32_t out[ATTX_UC_NFD_MAX];
    /* Hangul syllables: L V (T) conjoining jamo */
    assert_cps(out, attx_uc_nfd(0xAC00, out), (uint32_t[]){0x1100, 0x1161}, 2);       /* 가 */
    assert_cps(out, attx_uc_nfd(0xD55C, out), (uint32_t[]){0x1112, 0x1161, 0x11AB}, 3); /* 한 */
    assert_cps(out, attx_uc_nfd(0xD7A3, out), (uint32_t[]){0x1112, 0x1175, 0x11C2}, 3); /* 힣 */
    assert_cps(out, attx_uc_nfd(0xAC01, out), (uint32_t[]){0x1100, 0x1161, 0x11A8}, 3); /* 각 */
    assert_cps(out, attx_uc_nfd(0xD7A4, out), (uint32_t[]){0xD7A4}, 1);                 /* past the block */
    assert_cps(out, attx_uc_nfd(0x1100, out), (uint32_t[]){0x1100}, 1);
    /* recursive decompositions, already expanded */
    assert_cps(out, attx_uc_nfd(0x00E9, out), (uint32_t[]){0x65, 0x301}, 2);
    assert_cps(out, attx_uc_nfd(0x1E09, out), (uint32_t[]){0x63, 0x327, 0x301}, 3);
    assert_cps(out, attx_uc_nfd(0x1F82, out), (uint32_t[]){0x3B1, 0x313, 0x300, 0x345}, 4);
    assert_cps(out, attx_uc_nfd(0x212B, out), (uint32_t[]){0x41, 0x30A}, 2);            /* Angstrom sign */
    assert_cps(out, attx_uc_nfd(0xF900, out), (uint32_t[]){0x8C48}, 1);                 /* CJK compatibility */
    assert_cps(out, attx_uc_nfd(0x2260, out), (uint32_t[]){0x3D, 0x338}, 2);            /* ≠ -> = + U+0338 */
    assert_cps(out, attx_uc_nfd(0xFB01, out), (uint32_t[]){0xFB01}, 1);                 /* compatibility only */
    assert_cps(out, attx_uc_nfd('A', out), (uint32_t[]){'A'}, 1);
    /* composition, the inverse for primary composites */
    assert_int_equal(attx_uc_compose(0x1100, 0x1161), 0xAC00);
    assert_int_equal(attx_uc_compose(0xAC00, 0x11A8), 0xAC01);
    assert_int_equal(attx_uc_compose(0xAC01, 0x11A8), 0);        /* LVT takes no T */
    assert_int_equal(attx_uc_compose(0x65, 0x301), 0xE9);
    assert_int_equal(attx_uc_compose(0x3D, 0x338), 0x2260);
    assert_int_equal(attx_uc_compose(0x915, 0x93C), 0);          /* U+0958: composition exclusion */
    assert_int_equal(attx_uc_compose(0x41, 0x42), 0);
    /* combining classes */
    assert_int_equal(attx_uc_ccc('a'), 0);
    assert_int_equal(attx_uc_ccc(0x301), 230);
    assert_int_equal(attx_uc_ccc(0x327), 202);
    assert_int_equal(attx_uc_ccc(0x1D16D), 226);
    assert_string_equal(attx_uc_version, "15.0.0");
}

static void test_unicode_lower_and_classes(void **state)
{
    (void)state;
    uint32_t out[ATTX_UC_LOWER_MAX];
    assert_cps(out, attx_uc_lower(0x130, out), (uint32_t[]){0x69, 0x307}, 2);   /* İ -> i + dot */
    assert_cps(out, attx_uc_lower('A', out), (uint32_t[]){'a'}, 1);
    assert_cps(out, attx_uc_lower('a', out), (uint32_t[]){'a'}, 1);
    assert_cps(out, attx_uc_lower(0x3A3, out), (uint32_t[]){0x3C3}, 1);        /* Σ -> σ (no context) */
    assert_cps(out, attx_uc_lower(0x1E9E, out), (uint32_t[]){0xDF}, 1);        /* ẞ -> ß */
    assert_cps(out, attx_uc_lower(0xDF, out), (uint32_t[]){0xDF}, 1);
    assert_cps(out, attx_uc_lower(0x2126, out), (uint32_t[]){0x3C9}, 1);       /* Ohm sign */
    assert_cps(out, attx_uc_lower(0x212A, out), (uint32_t[]){'k'}, 1);         /* Kelvin sign */
    assert_cps(out, attx_uc_lower(0x100, out), (uint32_t[]){0x101}, 1);        /* every other one */
    assert_cps(out, attx_uc_lower(0x101, out), (uint32_t[]){0x101}, 1);
    assert_cps(out, attx_uc_lower(0x1C5, out), (uint32_t[]){0x1C6}, 1);        /* titlecase Dž */
    assert_cps(out, attx_uc_lower(0x10400, out), (uint32_t[]){0x10428}, 1);   /* Deseret */
    assert_cps(out, attx_uc_lower(0x1C90, out), (uint32_t[]){0x10D0}, 1);     /* Georgian Mtavruli */
    assert_cps(out, attx_uc_lower(0x13A0, out), (uint32_t[]){0xAB70}, 1);     /* Cherokee */
    assert_cps(out, attx_uc_lower(0x4E2D, out), (uint32_t[]){0x4E2D}, 1);

    /* the ASCII shortcut agrees with the table */
    for (uint32_t cp = 0; cp < 0x80; cp++) {
        size_t k = 0;
        while (k + 1 < attx_uc_class_runs_len && (attx_uc_class_runs[k + 1] >> 8) <= cp) k++;
        assert_int_equal(attx_uc_class_of(cp), attx_uc_class_runs[k] & 0xFF);
    }
    assert_int_equal(attx_uc_class_of(0x301), ATTX_UC_MN);
    assert_int_equal(attx_uc_class_of(0xFE0F), ATTX_UC_MN);        /* variation selector 16 */
    assert_int_equal(attx_uc_class_of(0x20E3), ATTX_UC_OTHER);     /* Me */
    assert_int_equal(attx_uc_class_of(0x3001), ATTX_UC_PUNCT);
    assert_int_equal(attx_uc_class_of(0x2014), ATTX_UC_PUNCT);
    assert_int_equal(attx_uc_class_of(0x2260), ATTX_UC_OTHER);     /* Sm */
    assert_int_equal(attx_uc_class_of(0xA0), ATTX_UC_ZS);
    assert_int_equal(attx_uc_class_of(0x3000), ATTX_UC_ZS);
    assert_int_equal(attx_uc_class_of(0x200B), ATTX_UC_CONTROL);   /* Cf */
    assert_int_equal(attx_uc_class_of(0xFEFF), ATTX_UC_CONTROL);
    assert_int_equal(attx_uc_class_of(0xE000), ATTX_UC_CONTROL);   /* Co */
    assert_int_equal(attx_uc_class_of(0x378), ATTX_UC_CONTROL);    /* unassigned */
    assert_int_equal(attx_uc_class_of(0x10FFFF), ATTX_UC_CONTROL);
    assert_int_equal(attx_uc_class_of(0x2028), ATTX_UC_SPACE_OTHER);
    assert_int_equal(attx_uc_class_of(0x2029), ATTX_UC_SPACE_OTHER);
    assert_int_equal(attx_uc_class_of(0x4E2D), ATTX_UC_OTHER);
    assert_int_equal(attx_uc_class_of(0x20000), ATTX_UC_OTHER);    /* inside a First/Last range */
}

/* ------------------------------------------------------------------------------------------ */
/* (d) tokenizer rules and errors                                                              */

static size_t encode_n(const attx_wordpiece *wp, const char *text, size_t len, attx_tokens *t)
{
    attx_error err;
    if (attx_wordpiece_encode(wp, text, len, t, &err) != 0) fail_msg("%s", err.msg);
    return t->n;
}

static void test_word_length_rule(void **state)
{
    (void)state;
    attx_wordpiece *wp = load_bert_vocab(1);
    int32_t unk = attx_wordpiece_special_ids(wp).unk;
    attx_tokens t = {0};
    char word[300];
    memset(word, 'a', sizeof word);
    assert_true(encode_n(wp, word, 100, &t) > 1);           /* 100 characters: WordPiece */
    for (size_t i = 0; i < t.n; i++) assert_int_not_equal(t.ids[i], unk);
    assert_int_equal(encode_n(wp, word, 101, &t), 1);        /* 101: one [UNK] */
    assert_int_equal(t.ids[0], unk);
    assert_int_equal(t.start[0], 0);
    assert_int_equal(t.end[0], 101);
    /* characters are counted after normalisation: 100 x "e" + U+0301 is a 100-character word */
    char accents[300];
    for (int i = 0; i < 100; i++) memcpy(accents + 3 * i, "e\xCC\x81", 3);
    assert_true(encode_n(wp, accents, 300, &t) > 1);
    assert_int_not_equal(t.ids[0], unk);
    /* a 1 MB word and 1 MB of marks after one letter: linear, one [UNK] / one token */
    size_t big = 1 << 20;
    char *s = malloc(big);
    memset(s, 'x', big);
    assert_int_equal(encode_n(wp, s, big, &t), 1);
    assert_int_equal(t.ids[0], unk);
    s[0] = 'a';
    for (size_t i = 1; i + 2 <= big; i += 2)   /* U+0301 (230) and U+0316 (220) alternating */
        memcpy(s + i, (i / 2) % 2 ? "\xCC\x96" : "\xCC\x81", 2);
    assert_int_equal(encode_n(wp, s, big - 1, &t), 1);   /* uncased: the marks are dropped */
    assert_int_equal(t.ids[0], attx_wordpiece_id(wp, "a"));
    attx_wordpiece *cased = load_bert_vocab(0);
    assert_int_equal(encode_n(cased, s, big - 1, &t), 1);   /* cased: one long word */
    assert_int_equal(t.ids[0], unk);
    attx_wordpiece_free(cased);
    free(s);
    attx_tokens_free(&t);
    attx_wordpiece_free(wp);
}

static void test_whole_word_unk(void **state)
{
    (void)state;
    attx_wordpiece *wp = load_bert_vocab(1);
    attx_tokens t = {0};
    /* "hello" and "world" are in the vocabulary, but one unknown position spoils the word */
    const char *text = "hello\xF0\x9F\xA6\x99world nice";
    assert_int_equal(encode_n(wp, text, strlen(text), &t), 2);
    assert_int_equal(t.ids[0], attx_wordpiece_special_ids(wp).unk);
    assert_int_equal(t.ids[1], attx_wordpiece_id(wp, "nice"));
    /* greedy longest match first, "##" continuations */
    text = "unaffable";
    assert_int_equal(encode_n(wp, text, strlen(text), &t), 3);
    assert_int_equal(t.ids[0], attx_wordpiece_id(wp, "una"));
    assert_int_equal(t.ids[1], attx_wordpiece_id(wp, "##ffa"));
    assert_int_equal(t.ids[2], attx_wordpiece_id(wp, "##ble"));
    /* special tokens: exact spelling only, split out of words */
    text = "a[MASK]b [mask]";
    assert_int_equal(encode_n(wp, text, strlen(text), &t), 6);
    assert_int_equal(t.ids[1], attx_wordpiece_special_ids(wp).mask);
    assert_int_equal(t.ids[3], attx_wordpiece_id(wp, "["));
    assert_int_equal(t.ids[4], attx_wordpiece_id(wp, "mask"));
    /* Σ is lowercased alone (HF lowercases one character at a time): σ, not final ς */
    text = "\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3";   /* ΟΔΟΣ */
    assert_int_equal(encode_n(wp, text, strlen(text), &t), 4);
    assert_int_equal(t.ids[3], attx_wordpiece_id(wp, "##\xCF\x83"));
    /* empty and whitespace-only texts */
    assert_int_equal(encode_n(wp, "", 0, &t), 0);
    assert_int_equal(encode_n(wp, " \t\r\n\xC2\xA0\xE3\x80\x80\xE2\x80\xA8", 12, &t), 0);
    assert_int_equal(encode_n(wp, "\0\0", 2, &t), 0);
    attx_tokens_free(&t);
    attx_wordpiece_free(wp);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    attx_wordpiece *wp = load_bert_vocab(1);
    attx_tokens t = {0};
    struct { const char *text; size_t len; size_t at; } bad[] = {
        {"\xFF", 1, 0},
        {"abc\xC3", 4, 3},              /* truncated */
        {"ab\xC0\xAF", 4, 2},           /* overlong */
        {"x\xED\xA0\x80y", 5, 1},       /* surrogate */
        {"hello \xF4\x90\x80\x80", 10, 6}, /* above U+10FFFF */
        {"ok\x80", 3, 2},               /* lone continuation byte */
    };
    encode_n(wp, "some tokens first", 17, &t);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        attx_error err;
        assert_int_equal(attx_wordpiece_encode(wp, bad[i].text, bad[i].len, &t, &err), -1);
        char want[64];
        snprintf(want, sizeof want, "invalid UTF-8 at byte %zu", bad[i].at);
        assert_string_equal(err.msg, want);
        assert_int_equal(t.n, 0);
    }
    attx_tokens_free(&t);
    attx_wordpiece_free(wp);
}

static void test_vocab_loading(void **state)
{
    (void)state;
    attx_wordpiece *wp = NULL;
    attx_error err;
    assert_int_equal(attx_wordpiece_load(&wp, "", 0, 1, &err), -1);
    assert_contains(err.msg, "empty");
    assert_null(wp);
    const char *bad = "[UNK]\nok\nb\xC3(d\nmore\n";
    assert_int_equal(attx_wordpiece_load(&wp, bad, strlen(bad), 1, &err), -1);
    assert_contains(err.msg, "invalid UTF-8 on line 3");
    const char *no_unk = "[CLS]\n[SEP]\nhello\n";
    assert_int_equal(attx_wordpiece_load(&wp, no_unk, strlen(no_unk), 1, &err), -1);
    assert_contains(err.msg, "[UNK]");

    /* a duplicated token keeps its last id; the earlier id reads back as [UNK] (HF) */
    wp = load_vocab_text("[UNK]\na\nb\na\n", 1);
    assert_int_equal(attx_wordpiece_vocab_size(wp), 4);
    assert_int_equal(attx_wordpiece_id(wp, "a"), 3);
    assert_string_equal(attx_wordpiece_token(wp, 1), "[UNK]");
    assert_string_equal(attx_wordpiece_token(wp, 3), "a");
    assert_null(attx_wordpiece_token(wp, 4));
    assert_null(attx_wordpiece_token(wp, -1));
    assert_int_equal(attx_wordpiece_id(wp, "c"), -1);
    attx_special_ids sp = attx_wordpiece_special_ids(wp);
    assert_int_equal(sp.unk, 0);
    assert_int_equal(sp.cls, -1);
    assert_int_equal(sp.mask, -1);
    attx_wordpiece_free(wp);

    /* universal newlines: "\r\n" and "\r" end lines too; the last line needs no line end */
    wp = load_vocab_text("[UNK]\r\nfoo\rbar\n\nbaz", 1);
    assert_int_equal(attx_wordpiece_vocab_size(wp), 5);
    assert_int_equal(attx_wordpiece_id(wp, "foo"), 1);
    assert_int_equal(attx_wordpiece_id(wp, "bar"), 2);
    assert_int_equal(attx_wordpiece_id(wp, ""), 3);
    assert_int_equal(attx_wordpiece_id(wp, "baz"), 4);
    assert_string_equal(attx_wordpiece_token(wp, 0), "[UNK]");
    attx_wordpiece_free(wp);

    /* without [MASK] in the vocabulary, "[MASK]" in a text is ordinary text */
    wp = load_vocab_text("[UNK]\n[\n]\nmask\n", 1);
    attx_tokens t = {0};
    assert_int_equal(encode_n(wp, "[MASK]", 6, &t), 3);
    assert_int_equal(t.ids[0], 1);
    assert_int_equal(t.ids[1], 3);
    assert_int_equal(t.ids[2], 2);
    attx_tokens_free(&t);
    attx_wordpiece_free(wp);

    /* the whole bert-base-uncased vocabulary */
    wp = load_bert_vocab(1);
    sp = attx_wordpiece_special_ids(wp);
    assert_int_equal(sp.pad, 0);
    assert_int_equal(sp.unk, 100);
    assert_int_equal(sp.cls, 101);
    assert_int_equal(sp.sep, 102);
    assert_int_equal(sp.mask, 103);
    assert_string_equal(attx_wordpiece_token(wp, 7592), "hello");
    assert_int_equal(attx_wordpiece_id(wp, "##ing"), 2075);
    for (int32_t id = 0; id < 30522; id++)   /* no duplicates: every id reads back */
        assert_int_equal(attx_wordpiece_id(wp, attx_wordpiece_token(wp, id)), id);
    attx_wordpiece_free(wp);
}

/* ------------------------------------------------------------------------------------------ */
/* (e) sanity on real text (no timing)                                                         */

static void test_imdb_sanity(void **state)
{
    (void)state;
    tu_need_file(IMDB_PATH);
    tu_need_file(VOCAB_PATH);
    size_t len;
    char *data = read_or_fail(IMDB_PATH, &len);
    if (len > (size_t)2 << 20) len = (size_t)2 << 20;
    while (len > 0 && ((unsigned char)data[len] & 0xC0) == 0x80) len--;   /* whole characters */
    attx_wordpiece *wp = load_bert_vocab(1);
    attx_tokens t = {0};
    size_t n = encode_n(wp, data, len, &t);
    assert_true(n > len / 8);
    size_t unk = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(t.ids[i] >= 0 && t.ids[i] < 30522);
        assert_true(t.end[i] <= len);
        unk += t.ids[i] == 100;
    }
    assert_true(unk < n / 100);   /* English movie reviews: few unknown words */
    attx_tokens_free(&t);
    attx_wordpiece_free(wp);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_own_cases_uncased),
        cmocka_unit_test(test_own_cases_cased),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_unicode_nfd),
        cmocka_unit_test(test_unicode_lower_and_classes),
        cmocka_unit_test(test_word_length_rule),
        cmocka_unit_test(test_whole_word_unk),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_vocab_loading),
        cmocka_unit_test(test_imdb_sanity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
