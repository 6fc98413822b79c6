/* json.c — strict RFC 8259 parser: exactly one value, UTF-8 validated everywhere, no duplicate
 * object keys, depth and size limits, errors with line and column.
 *
 * Parsing is a loop over an explicit stack of open arrays and objects (nesting costs no C
 * stack). Finished values wait on a value stack; when a container closes, its children — the
 * top of that stack — move as one contiguous block into the document's arena. Objects store
 * their members as key, value, key, value, ... so that both are reached by index. */
#include "attx_weights.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_DEPTH 256
#define DEFAULT_MAX_BYTES ((size_t)1 << 30)
#define SMALL_OBJECT 8                   /* up to this many members: pairwise duplicate check */
#define MAX_KEY_IN_MESSAGE 200           /* bytes of a duplicate key quoted in the error */
#define CHUNK_MIN ((size_t)64 << 10)
#define CHUNK_MAX ((size_t)64 << 20)

struct attx_json_value {
    union {
        const char *text;                /* STRING: decoded bytes; NUMBER: the literal */
        const attx_json_value *items;    /* ARRAY: items; OBJECT: key, value, key, value, ... */
    };
    size_t len;                          /* string bytes, literal bytes, items or members */
    size_t offset;                       /* of the value's first character in the text */
    unsigned char type;                  /* attx_json_type */
    unsigned char boolean;
};

/* ------------------------------------------------------------------------------------------ */
/* Arena: a list of big chunks, freed together.                                                */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk;

struct attx_json_doc {
    chunk *chunks;                       /* newest first */
    const attx_json_value *root;
};

static void *arena_alloc(attx_json_doc *doc, size_t size, size_t align)
{
    chunk *c = doc->chunks;
    if (c) {
        size_t at = (c->used + align - 1) & ~(align - 1);
        if (at <= c->cap && size <= c->cap - at) {
            c->used = at + size;
            return (char *)c->data + at;
        }
    }
    size_t cap = c ? (c->cap < CHUNK_MAX / 2 ? c->cap * 2 : CHUNK_MAX) : CHUNK_MIN;
    if (cap < size) cap = size;
    if (cap > SIZE_MAX - sizeof(chunk)) return NULL;
    chunk *fresh = malloc(sizeof(chunk) + cap);
    if (!fresh) return NULL;
    fresh->next = c;
    fresh->used = size;
    fresh->cap = cap;
    doc->chunks = fresh;
    return fresh->data;
}

void attx_json_free(attx_json_doc *doc)
{
    if (!doc) return;
    for (chunk *c = doc->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(doc);
}

/* ------------------------------------------------------------------------------------------ */
/* Parser state and errors                                                                     */

typedef struct frame {
    size_t base;                         /* value-stack index of the container's first child */
    size_t offset;                       /* of its '[' or '{' */
    unsigned char type;
} frame;

typedef struct parser {
    const char *text, *p, *end;
    size_t max_depth;
    attx_json_doc *doc;
    attx_json_value *values;             /* finished values not yet moved into a container */
    size_t n_values, cap_values;
    frame *frames;                       /* open containers, innermost last */
    size_t n_frames, cap_frames;
    const attx_json_value **sorted;      /* scratch for the duplicate-key check */
    size_t cap_sorted;
    attx_error *err;
} parser;

/* Returns data grown (realloc) to hold at least `need` elements of `size` bytes, updating
 * *cap, or NULL when out of memory (data is then untouched). */
static void *grow(void *data, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return data;
    size_t n = *cap ? *cap : 64;
    while (n < need) n = n > SIZE_MAX / 2 ? need : n * 2;
    if (n > SIZE_MAX / size) return NULL;
    void *p = realloc(data, n * size);
    if (p) *cap = n;
    return p;
}

static int fail_oom(parser *ps)
{
    return attx_fail(ps->err, "out of memory parsing JSON");
}

/* "invalid JSON at line L, column C: <what>" for the byte at pos (columns count bytes). */
__attribute__((format(printf, 3, 4)))
static int fail_at(parser *ps, const char *pos, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    size_t line = 1;
    const char *line_start = ps->text, *nl;
    while ((nl = memchr(line_start, '\n', (size_t)(pos - line_start))) != NULL) {
        line++;
        line_start = nl + 1;
    }
    return attx_fail(ps->err, "invalid JSON at line %zu, column %zu: %s", line,
                     (size_t)(pos - line_start) + 1, what);
}

static int is_bad_utf8(const parser *ps, const char *p)
{
    uint32_t cp;
    return p < ps->end && (unsigned char)*p >= 0x80 &&
           attx_utf8_decode(p, (size_t)(ps->end - p), &cp) == 0;
}

/* "expected <what>, found <the character at ps->p>"; a bad UTF-8 byte is reported as such. */
static int fail_expected(parser *ps, const char *what)
{
    const char *p = ps->p;
    if (is_bad_utf8(ps, p)) return fail_at(ps, p, "invalid UTF-8 byte 0x%02x", (unsigned char)*p);
    char found[32];
    uint32_t cp;
    unsigned char c = p < ps->end ? (unsigned char)*p : 0;
    if (p == ps->end) snprintf(found, sizeof found, "end of input");
    else if (c >= 0x20 && c < 0x7f) snprintf(found, sizeof found, "'%c'", c);
    else if (c < 0x80) snprintf(found, sizeof found, "byte 0x%02x", c);
    else {
        attx_utf8_decode(p, (size_t)(ps->end - p), &cp);
        snprintf(found, sizeof found, "U+%04X", (unsigned)cp);
    }
    return fail_at(ps, p, "expected %s, found %s", what, found);
}

static void skip_whitespace(parser *ps)
{
    const char *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    ps->p = p;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Pushes a value that starts at text offset `offset` onto the value stack. */
static attx_json_value *push_value(parser *ps, attx_json_type type, size_t offset)
{
    if (ps->n_values == ps->cap_values) {
        attx_json_value *values = grow(ps->values, &ps->cap_values, ps->n_values + 1, sizeof *values);
        if (!values) {
            fail_oom(ps);
            return NULL;
        }
        ps->values = values;
    }
    attx_json_value *v = &ps->values[ps->n_values++];
    memset(v, 0, sizeof *v);
    v->type = (unsigned char)type;
    v->offset = offset;
    return v;
}

static size_t offset_of(const parser *ps, const char *p) { return (size_t)(p - ps->text); }

/* ------------------------------------------------------------------------------------------ */
/* Scalars                                                                                     */

static int parse_literal(parser *ps, const char *word, attx_json_type type, int boolean)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail_at(ps, ps->p, "invalid literal, expected %s", word);
    attx_json_value *v = push_value(ps, type, offset_of(ps, ps->p));
    if (!v) return -1;
    v->boolean = (unsigned char)boolean;
    ps->p += n;
    return 0;
}

static const char *skip_digits(const char *p, const char *end)
{
    while (p < end && is_digit(*p)) p++;
    return p;
}

/* number = [ "-" ] ( "0" / 1-9 *digit ) [ "." 1*digit ] [ ( "e" / "E" ) [ "+" / "-" ] 1*digit ] */
static int parse_number(parser *ps)
{
    const char *start = ps->p, *p = start, *end = ps->end;
    if (*p == '-') p++;
    if (p == end || !is_digit(*p)) return fail_at(ps, p, "expected a digit after '-'");
    if (*p == '0') {
        if (p + 1 < end && is_digit(p[1])) return fail_at(ps, p, "number has a leading zero");
        p++;
    } else {
        p = skip_digits(p, end);
    }
    if (p < end && *p == '.') {
        p++;
        if (p == end || !is_digit(*p)) return fail_at(ps, p, "expected a digit after the decimal point");
        p = skip_digits(p, end);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p == end || !is_digit(*p)) return fail_at(ps, p, "expected a digit in the exponent");
        p = skip_digits(p, end);
    }
    size_t n = (size_t)(p - start);
    char *literal = arena_alloc(ps->doc, n + 1, 1);
    if (!literal) return fail_oom(ps);
    memcpy(literal, start, n);
    literal[n] = '\0';
    attx_json_value *v = push_value(ps, ATTX_JSON_NUMBER, offset_of(ps, start));
    if (!v) return -1;
    v->text = literal;
    v->len = n;
    ps->p = p;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The value of 4 hex digits at p (p + 4 <= end), or -1. */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0) return -1;
        v = v << 4 | d;
    }
    return v;
}

static int is_high_surrogate(long u) { return u >= 0xD800 && u <= 0xDBFF; }
static int is_low_surrogate(long u) { return u >= 0xDC00 && u <= 0xDFFF; }

/* Checks the escape at *pp (a backslash inside the string opened at `open`) and moves past it.
 * A high surrogate \uD800-\uDBFF must be followed at once by a low one \uDC00-\uDFFF. */
static int check_escape(parser *ps, const char *open, const char **pp)
{
    const char *bs = *pp, *end = ps->end;
    if (end - bs < 2) return fail_at(ps, open, "unterminated string");
    char e = bs[1];
    if (e == 'u') {
        long u = end - bs >= 6 ? hex4(bs + 2) : -1;
        if (u < 0) return fail_at(ps, bs, "invalid \\u escape: expected 4 hex digits");
        if (is_low_surrogate(u))
            return fail_at(ps, bs, "low surrogate \\u%04lx without a high surrogate before it", u);
        if (is_high_surrogate(u)) {
            long lo = end - bs >= 12 && bs[6] == '\\' && bs[7] == 'u' ? hex4(bs + 8) : -1;
            if (!is_low_surrogate(lo))
                return fail_at(ps, bs, "high surrogate \\u%04lx not followed by a low surrogate", u);
            *pp = bs + 12;
        } else {
            *pp = bs + 6;
        }
        return 0;
    }
    if (e != '\0' && strchr("\"\\/bfnrt", e)) {
        *pp = bs + 2;
        return 0;
    }
    if (e >= 0x20 && e < 0x7f) return fail_at(ps, bs, "invalid escape \\%c", e);
    return fail_at(ps, bs, "invalid escape: '\\' followed by byte 0x%02x", (unsigned char)e);
}

/* Checks the string whose opening quote is at ps->p (escapes, UTF-8, no raw control
 * characters) and moves ps->p past its closing quote. */
static int scan_string(parser *ps, int *has_escapes)
{
    const char *open = ps->p, *p = open + 1, *end = ps->end;
    *has_escapes = 0;
    for (;;) {
        while (p < end) {   /* the common case: printable ASCII */
            unsigned char c = (unsigned char)*p;
            if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
            p++;
        }
        if (p == end) return fail_at(ps, open, "unterminated string");
        unsigned char c = (unsigned char)*p;
        if (c == '"') break;
        if (c == '\\') {
            if (check_escape(ps, open, &p) != 0) return -1;
            *has_escapes = 1;
        } else if (c < 0x20) {
            return fail_at(ps, p, "control character U+%04X in string", c);
        } else {
            uint32_t cp;
            int k = attx_utf8_decode(p, (size_t)(end - p), &cp);
            if (k == 0) return fail_at(ps, p, "invalid UTF-8 byte 0x%02x", c);
            p += k;
        }
    }
    ps->p = p + 1;
    return 0;
}

static size_t encode_utf8(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the n-byte body of a string that scan_string accepted into dst (decoding never
 * lengthens it). Returns the decoded length. */
static size_t decode_string(const char *s, size_t n, char *dst)
{
    const char *end = s + n;
    char *d = dst;
    while (s < end) {
        const char *bs = memchr(s, '\\', (size_t)(end - s));
        size_t run = (size_t)((bs ? bs : end) - s);
        memcpy(d, s, run);
        d += run;
        if (!bs) break;
        char e = bs[1];
        s = bs + 2;
        switch (e) {
        case 'b': *d++ = '\b'; break;
        case 'f': *d++ = '\f'; break;
        case 'n': *d++ = '\n'; break;
        case 'r': *d++ = '\r'; break;
        case 't': *d++ = '\t'; break;
        case 'u': {
            uint32_t cp = (uint32_t)hex4(s);
            s += 4;
            if (is_high_surrogate(cp)) {   /* followed by \uDC00-\uDFFF, checked by the scan */
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(s + 2) - 0xDC00);
                s += 6;
            }
            d += encode_utf8(cp, d);
            break;
        }
        default: *d++ = e; break;   /* \" \\ \/ */
        }
    }
    return (size_t)(d - dst);
}

static int parse_string(parser *ps)
{
    const char *open = ps->p;
    int has_escapes;
    if (scan_string(ps, &has_escapes) != 0) return -1;
    size_t raw = (size_t)(ps->p - open) - 2;
    char *bytes = arena_alloc(ps->doc, raw + 1, 1);
    if (!bytes) return fail_oom(ps);
    size_t n = raw;
    if (has_escapes) n = decode_string(open + 1, raw, bytes);
    else memcpy(bytes, open + 1, raw);
    bytes[n] = '\0';
    attx_json_value *v = push_value(ps, ATTX_JSON_STRING, offset_of(ps, open));
    if (!v) return -1;
    v->text = bytes;
    v->len = n;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Containers                                                                                  */

static int same_key(const attx_json_value *a, const attx_json_value *b)
{
    return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

/* Orders keys by bytes, equal keys by their place in the text. */
static int compare_keys(const void *pa, const void *pb)
{
    const attx_json_value *a = *(const attx_json_value *const *)pa;
    const attx_json_value *b = *(const attx_json_value *const *)pb;
    int c = memcmp(a->text, b->text, a->len < b->len ? a->len : b->len);
    if (c != 0) return c;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

static int fail_duplicate_key(parser *ps, const attx_json_value *key)
{
    attx_buf quoted = {0};
    size_t n = key->len < MAX_KEY_IN_MESSAGE ? key->len : MAX_KEY_IN_MESSAGE;
    attx_json_escape(&quoted, key->text, n);
    if (quoted.failed) {
        attx_buf_free(&quoted);
        return fail_oom(ps);
    }
    fail_at(ps, ps->text + key->offset, "duplicate key %s%s", quoted.data,
            n < key->len ? "..." : "");
    attx_buf_free(&quoted);
    return -1;
}

/* Rejects an object whose n members (key, value pairs at m) repeat a key, and names the
 * repeat that comes first in the text. Large objects sort their keys: O(n log n). */
static int check_duplicate_keys(parser *ps, const attx_json_value *m, size_t n)
{
    const attx_json_value *dup = NULL;
    if (n <= SMALL_OBJECT) {
        for (size_t i = 1; i < n && !dup; i++)
            for (size_t j = 0; j < i && !dup; j++)
                if (same_key(&m[2 * i], &m[2 * j])) dup = &m[2 * i];
    } else {
        const attx_json_value **sorted = grow(ps->sorted, &ps->cap_sorted, n, sizeof *sorted);
        if (!sorted) return fail_oom(ps);
        ps->sorted = sorted;
        for (size_t i = 0; i < n; i++) ps->sorted[i] = &m[2 * i];
        qsort(ps->sorted, n, sizeof *ps->sorted, compare_keys);
        for (size_t i = 1; i < n; i++)
            if (same_key(ps->sorted[i - 1], ps->sorted[i]) && (!dup || ps->sorted[i]->offset < dup->offset))
                dup = ps->sorted[i];
    }
    return dup ? fail_duplicate_key(ps, dup) : 0;
}

static int open_container(parser *ps, attx_json_type type)
{
    if (ps->n_frames >= ps->max_depth)
        return fail_at(ps, ps->p, "nesting deeper than %zu", ps->max_depth);
    frame *frames = grow(ps->frames, &ps->cap_frames, ps->n_frames + 1, sizeof *frames);
    if (!frames) return fail_oom(ps);
    ps->frames = frames;
    ps->frames[ps->n_frames++] = (frame){ps->n_values, offset_of(ps, ps->p), (unsigned char)type};
    ps->p++;
    return 0;
}

/* At the closing bracket of the innermost container: moves its children into the arena and
 * pushes the container itself as a finished value. */
static int close_container(parser *ps)
{
    frame f = ps->frames[--ps->n_frames];
    size_t n = ps->n_values - f.base;
    /* no children: values may still be NULL (nothing pushed yet, as in [] or [[]]), and even
     * NULL + 0 is undefined behaviour in C */
    const attx_json_value *children = n > 0 ? ps->values + f.base : NULL;
    if (f.type == ATTX_JSON_OBJECT && check_duplicate_keys(ps, children, n / 2) != 0) return -1;
    attx_json_value *items = NULL;
    if (n > 0) {
        items = arena_alloc(ps->doc, n * sizeof *items, _Alignof(attx_json_value));
        if (!items) return fail_oom(ps);
        memcpy(items, children, n * sizeof *items);
    }
    ps->n_values = f.base;
    ps->p++;
    attx_json_value *v = push_value(ps, (attx_json_type)f.type, f.offset);
    if (!v) return -1;
    v->items = items;
    v->len = f.type == ATTX_JSON_OBJECT ? n / 2 : n;
    return 0;
}

/* Parses `"key" :` and leaves ps->p before the member's value. */
static int parse_key(parser *ps, const char *expected)
{
    skip_whitespace(ps);
    if (ps->p == ps->end || *ps->p != '"') return fail_expected(ps, expected);
    if (parse_string(ps) != 0) return -1;
    skip_whitespace(ps);
    if (ps->p == ps->end || *ps->p != ':') return fail_expected(ps, "':' after object key");
    ps->p++;
    return 0;
}

/* A value is due at ps->p. Returns 0 when a whole value was pushed, 1 when a container was
 * opened that now awaits its first item, -1 on error. */
static int begin_value(parser *ps)
{
    skip_whitespace(ps);
    if (ps->p == ps->end) return fail_expected(ps, "a value");
    switch (*ps->p) {
    case '[':
        if (open_container(ps, ATTX_JSON_ARRAY) != 0) return -1;
        skip_whitespace(ps);
        if (ps->p < ps->end && *ps->p == ']') return close_container(ps);
        return 1;
    case '{':
        if (open_container(ps, ATTX_JSON_OBJECT) != 0) return -1;
        skip_whitespace(ps);
        if (ps->p < ps->end && *ps->p == '}') return close_container(ps);
        return parse_key(ps, "a string key or '}'") != 0 ? -1 : 1;
    case '"': return parse_string(ps);
    case 't': return parse_literal(ps, "true", ATTX_JSON_BOOL, 1);
    case 'f': return parse_literal(ps, "false", ATTX_JSON_BOOL, 0);
    case 'n': return parse_literal(ps, "null", ATTX_JSON_NULL, 0);
    default:
        if (*ps->p == '-' || is_digit(*ps->p)) return parse_number(ps);
        return fail_expected(ps, "a value");
    }
}

/* A value has just ended inside the innermost container. Returns 1 after a ',' (another value
 * is due), 0 after the closing bracket (the container is now a finished value), -1 on error. */
static int continue_container(parser *ps)
{
    skip_whitespace(ps);
    int c = ps->p < ps->end ? *ps->p : -1;
    if (ps->frames[ps->n_frames - 1].type == ATTX_JSON_ARRAY) {
        if (c == ',') {
            ps->p++;
            return 1;
        }
        if (c == ']') return close_container(ps);
        return fail_expected(ps, "',' or ']' after array item");
    }
    if (c == ',') {
        ps->p++;
        return parse_key(ps, "a string key after ','") != 0 ? -1 : 1;
    }
    if (c == '}') return close_container(ps);
    return fail_expected(ps, "',' or '}' after object member");
}

static int finish_document(parser *ps)
{
    skip_whitespace(ps);
    if (is_bad_utf8(ps, ps->p))
        return fail_at(ps, ps->p, "invalid UTF-8 byte 0x%02x", (unsigned char)*ps->p);
    if (ps->p != ps->end) return fail_at(ps, ps->p, "unexpected data after the JSON value");
    attx_json_value *root = arena_alloc(ps->doc, sizeof *root, _Alignof(attx_json_value));
    if (!root) return fail_oom(ps);
    *root = ps->values[0];
    ps->doc->root = root;
    return 0;
}

static int parse_document(parser *ps)
{
    for (;;) {
        int r = begin_value(ps);
        while (r == 0) {   /* a value is complete: close containers until one wants more */
            if (ps->n_frames == 0) return finish_document(ps);
            r = continue_container(ps);
        }
        if (r < 0) return -1;
    }
}

int attx_json_parse(const char *text, size_t len, const attx_json_limits *limits,
                    attx_json_doc **out, attx_error *err)
{
    *out = NULL;
    if (!text) text = "";
    parser ps = {0};
    ps.text = ps.p = text;
    ps.end = text + len;
    ps.err = err;
    ps.max_depth = limits && limits->max_depth ? limits->max_depth : DEFAULT_MAX_DEPTH;
    size_t max_bytes = limits && limits->max_bytes ? limits->max_bytes : DEFAULT_MAX_BYTES;
    if (len > max_bytes)
        return fail_at(&ps, text + max_bytes, "text longer than the %zu bytes allowed", max_bytes);
    ps.doc = calloc(1, sizeof *ps.doc);
    if (!ps.doc) return fail_oom(&ps);
    int rc = parse_document(&ps);
    free(ps.values);
    free(ps.frames);
    free(ps.sorted);
    if (rc != 0) {
        attx_json_free(ps.doc);
        return -1;
    }
    *out = ps.doc;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Accessors. Every one accepts NULL (e.g. the result of a failed attx_json_get).              */

const attx_json_value *attx_json_root(const attx_json_doc *doc)
{
    return doc ? doc->root : NULL;
}

attx_json_type attx_json_kind(const attx_json_value *v)
{
    return v ? (attx_json_type)v->type : ATTX_JSON_NULL;
}

size_t attx_json_offset(const attx_json_value *v)
{
    return v ? v->offset : 0;
}

size_t attx_json_len(const attx_json_value *v)
{
    return v && v->type != ATTX_JSON_NUMBER ? v->len : 0;
}

const attx_json_value *attx_json_item(const attx_json_value *v, size_t i)
{
    return v && v->type == ATTX_JSON_ARRAY && i < v->len ? &v->items[i] : NULL;
}

const char *attx_json_key(const attx_json_value *v, size_t i, size_t *key_len)
{
    if (!v || v->type != ATTX_JSON_OBJECT || i >= v->len) return NULL;
    const attx_json_value *key = &v->items[2 * i];
    if (key_len) *key_len = key->len;
    return key->text;
}

const attx_json_value *attx_json_member(const attx_json_value *v, size_t i)
{
    return v && v->type == ATTX_JSON_OBJECT && i < v->len ? &v->items[2 * i + 1] : NULL;
}

const attx_json_value *attx_json_get(const attx_json_value *v, const char *key)
{
    if (!v || v->type != ATTX_JSON_OBJECT || !key) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < v->len; i++) {
        const attx_json_value *k = &v->items[2 * i];
        if (k->len == n && memcmp(k->text, key, n) == 0) return &v->items[2 * i + 1];
    }
    return NULL;
}

const char *attx_json_str(const attx_json_value *v, size_t *len)
{
    if (!v || v->type != ATTX_JSON_STRING) return NULL;
    if (len) *len = v->len;
    return v->text;
}

const char *attx_json_number_text(const attx_json_value *v, size_t *len)
{
    if (!v || v->type != ATTX_JSON_NUMBER) return NULL;
    if (len) *len = v->len;
    return v->text;
}

/* The magnitude and sign of an integer literal; -1 for other values and on overflow. */
static int integer_literal(const attx_json_value *v, uint64_t *magnitude, int *negative)
{
    if (!v || v->type != ATTX_JSON_NUMBER) return -1;
    const char *s = v->text, *end = v->text + v->len;
    *negative = *s == '-';
    if (*negative) s++;
    uint64_t m = 0;
    for (; s < end; s++) {
        if (!is_digit(*s)) return -1;   /* a fraction or an exponent */
        if (attx_mul_u64(m, 10, &m) != 0 || attx_add_u64(m, (uint64_t)(*s - '0'), &m) != 0) return -1;
    }
    *magnitude = m;
    return 0;
}

int attx_json_u64(const attx_json_value *v, uint64_t *out)
{
    uint64_t m;
    int negative;
    if (integer_literal(v, &m, &negative) != 0 || (negative && m != 0)) return -1;
    *out = m;
    return 0;
}

int attx_json_i64(const attx_json_value *v, int64_t *out)
{
    uint64_t m;
    int negative;
    if (integer_literal(v, &m, &negative) != 0) return -1;
    if (m > (uint64_t)INT64_MAX + negative) return -1;
    /* -(m - 1) - 1 reaches INT64_MIN without overflowing */
    *out = negative ? (m == 0 ? 0 : -(int64_t)(m - 1) - 1) : (int64_t)m;
    return 0;
}

/* strtod reads the decimal point of the LC_NUMERIC locale. attx never calls setlocale, so that
 * is '.'; should a host program change it, the literal's '.' is swapped for the locale's point
 * first, so the conversion is right in any locale. Returns -1 unless strtod reads it all. */
static int strtod_any_locale(const char *literal, size_t len, double *out)
{
    const char *point = localeconv()->decimal_point;
    const char *dot = memchr(literal, '.', len);
    char *copy = NULL;
    if (dot && strcmp(point, ".") != 0) {
        size_t head = (size_t)(dot - literal), plen = strlen(point);
        copy = malloc(len + plen);
        if (!copy) return -1;
        memcpy(copy, literal, head);
        memcpy(copy + head, point, plen);
        memcpy(copy + head + plen, dot + 1, len - head);   /* the rest and the NUL */
    }
    const char *s = copy ? copy : literal;
    char *stop;
    *out = strtod(s, &stop);
    int complete = *stop == '\0';
    free(copy);
    return complete ? 0 : -1;
}

int attx_json_double(const attx_json_value *v, double *out)
{
    double d;
    if (!v || v->type != ATTX_JSON_NUMBER || strtod_any_locale(v->text, v->len, &d) != 0 ||
        !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

int attx_json_bool(const attx_json_value *v, int *out)
{
    if (!v || v->type != ATTX_JSON_BOOL) return -1;
    *out = v->boolean;
    return 0;
}
