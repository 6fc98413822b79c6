/* basic_english.c — torchtext's get_tokenizer("basic_english"), the tokenizer of P2's attn1.
 *
 * torchtext's _basic_english_normalize(line) is, in Python:
 *     line = line.lower()
 *     for pattern, replacement in the list below: line = re.sub(pattern, replacement, line)
 *     return line.split()
 * with, in this order,
 *     '  -> " '  "   (space, apostrophe, two spaces)      "  -> ""        .  -> " . "
 *     <br />  -> " "     ,  -> " , "    (  -> " ( "    )  -> " ) "    !  -> " ! "    ?  -> " ? "
 *     ;  -> " "      :  -> " "      \s+  -> " "
 * Each pattern is a literal, replaced at every non-overlapping match left to right, on the
 * output of the rules before it (so deleting quotes can make a "<br />": <"br /> -> <br /> ->
 * space, while <br;/> stays "<br" "/>" because ; goes after <br /> is done). Here the rules
 * run as those passes over the lower-cased text, each output byte remembering the source
 * character it came from (for byte ranges). The last rule only collapses whitespace, which the
 * split ignores, so it is not run.
 *
 * Python's semantics kept: str.lower is the full lowercase mapping per code point (U+0130 ->
 * "i" + U+0307); whitespace for the split is str.isspace: \t \n \v \f \r, U+001C..U+001F,
 * space, U+0085, Zs, U+2028, U+2029.
 * Departure: str.lower's Final_Sigma rule (a capital sigma ending a word becomes ς) is not
 * applied; Σ always becomes σ. Unicode tables: UCD 15.0 (engine/unicode_data.c).
 */
#include "basic_english.h"
#include "unicode.h"

#include <stdlib.h>
#include <string.h>

/* Text being rewritten: bytes, and for each byte the offset of the source character. */
typedef struct rewrite {
    char *s;
    uint32_t *src;
    size_t n, cap;
    int failed;
} rewrite;

static void grow(rewrite *r, size_t need)
{
    if (r->failed || r->n + need <= r->cap) return;
    size_t cap = r->cap ? r->cap : 256;
    while (cap < r->n + need) cap *= 2;
    char *s = realloc(r->s, cap);
    if (s) r->s = s;
    uint32_t *src = s ? realloc(r->src, cap * sizeof *src) : NULL;
    if (!src) {
        r->failed = 1;
        return;
    }
    r->src = src;
    r->cap = cap;
}

static void put(rewrite *r, const char *bytes, size_t n, uint32_t src)
{
    if (n == 0) return;
    grow(r, n);
    if (r->failed) return;
    memcpy(r->s + r->n, bytes, n);
    for (size_t i = 0; i < n; i++) r->src[r->n + i] = src;
    r->n += n;
}

static size_t utf8_put(char *s, uint32_t cp)
{
    if (cp < 0x80) { s[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        s[0] = (char)(0xC0 | cp >> 6);
        s[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        s[0] = (char)(0xE0 | cp >> 12);
        s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        s[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    s[0] = (char)(0xF0 | cp >> 18);
    s[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    s[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    s[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int decode(const char *s, size_t len, size_t i, uint32_t *cp)
{
    if ((unsigned char)s[i] < 0x80) {
        *cp = (unsigned char)s[i];
        return 1;
    }
    return attx_utf8_decode(s + i, len - i, cp);   /* valid: checked before */
}

/* line.lower() */
static void lower_text(rewrite *out, const char *text, size_t len)
{
    for (size_t i = 0; i < len && !out->failed;) {
        uint32_t cp, lower[ATTX_UC_LOWER_MAX];
        int n = decode(text, len, i, &cp);
        int k = attx_uc_lower(cp, lower);
        char buf[4 * ATTX_UC_LOWER_MAX];
        size_t m = 0;
        for (int j = 0; j < k; j++) m += utf8_put(buf + m, lower[j]);
        put(out, buf, m, (uint32_t)i);
        i += (size_t)n;
    }
}

/* re.sub(pattern, replacement, in) for a literal pattern; the replacement's bytes take the
 * source of the match's first byte. */
static void replace_all(rewrite *out, const rewrite *in, const char *pattern, const char *replacement)
{
    size_t plen = strlen(pattern), rlen = strlen(replacement);
    out->n = 0;
    for (size_t i = 0; i < in->n && !out->failed;) {
        if (in->s[i] == pattern[0] && plen <= in->n - i && memcmp(in->s + i, pattern, plen) == 0) {
            put(out, replacement, rlen, in->src[i]);
            i += plen;
        } else {
            size_t j = i + 1;       /* copy up to the next possible match in one go */
            while (j < in->n && in->s[j] != pattern[0]) j++;
            grow(out, j - i);
            if (out->failed) break;
            memcpy(out->s + out->n, in->s + i, j - i);
            memcpy(out->src + out->n, in->src + i, (j - i) * sizeof *in->src);
            out->n += j - i;
            i = j;
        }
    }
}

/* Python's str.isspace (what str.split() splits on) */
static int is_py_space(uint32_t cp)
{
    if (cp < 0x80) return (cp >= 9 && cp <= 13) || (cp >= 0x1C && cp <= 0x20);
    if (cp == 0x85) return 1;
    attx_uc_class c = attx_uc_class_of(cp);
    return c == ATTX_UC_ZS || c == ATTX_UC_SPACE_OTHER;
}

static const char *const rules[][2] = {
    {"'", " '  "}, {"\"", ""}, {".", " . "}, {"<br />", " "}, {",", " , "}, {"(", " ( "},
    {")", " ) "}, {"!", " ! "}, {"?", " ? "}, {";", " "}, {":", " "},
};

int attx_basic_english_spans(const char *text, size_t len, attx_span_word_fn on_word, void *user,
                             attx_error *err)
{
    if (len > UINT32_MAX) return attx_fail(err, "text too long (%zu bytes; offsets are 32-bit)", len);
    size_t bad;
    if (!attx_utf8_valid(text, len, &bad)) return attx_fail(err, "invalid UTF-8 at byte %zu", bad);
    rewrite a = {0}, b = {0};
    lower_text(&a, text, len);
    rewrite *cur = &a, *next = &b;
    for (size_t k = 0; k < sizeof rules / sizeof rules[0] && !cur->failed; k++) {
        if (cur->n == 0 || !memchr(cur->s, rules[k][0][0], cur->n)) continue;
        replace_all(next, cur, rules[k][0], rules[k][1]);
        rewrite *t = cur;
        cur = next;
        next = t;
    }
    int failed = a.failed || b.failed;
    for (size_t i = 0; i < cur->n && !failed;) {      /* line.split() */
        uint32_t cp;
        int n = decode(cur->s, cur->n, i, &cp);
        if (is_py_space(cp)) {
            i += (size_t)n;
            continue;
        }
        size_t first = i;
        while (i < cur->n) {
            n = decode(cur->s, cur->n, i, &cp);
            if (is_py_space(cp)) break;
            i += (size_t)n;
        }
        /* the range ends after the source character of the word's last byte */
        uint32_t last = cur->src[i - 1], last_cp;
        uint32_t end = last + (uint32_t)decode(text, len, last, &last_cp);
        on_word(user, cur->s + first, i - first, cur->src[first], end);
    }
    free(a.s);
    free(a.src);
    free(b.s);
    free(b.src);
    return failed ? attx_fail(err, "out of memory") : 0;
}

typedef struct plain_words {
    attx_word_fn on_word;
    void *user;
} plain_words;

static void drop_span(void *user, const char *word, size_t len, uint32_t start, uint32_t end)
{
    (void)start;
    (void)end;
    plain_words *p = user;
    p->on_word(p->user, word, len);
}

int attx_basic_english(const char *text, size_t len, attx_word_fn on_word, void *user, attx_error *err)
{
    plain_words p = {on_word, user};
    return attx_basic_english_spans(text, len, drop_span, &p, err);
}
