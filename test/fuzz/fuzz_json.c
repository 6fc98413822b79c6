/* fuzz_json.c — the strict JSON parser (attx_json_parse) and what reads its documents.
 *
 * Every input is parsed twice: with the default limits and with a nesting limit of 8 (the
 * depth check then triggers often). A document that parses is walked through every accessor,
 * then written out by attx_jw_value and parsed again; properties checked:
 *   - the writer's output parses, and writing that document gives the same bytes again;
 *   - a number that converts to a double (attx_json_double) prints (attx_jw_double) as text
 *     that parses back to the same bits; the same for float through attx_jw_float;
 *   - u64/i64 conversions agree with each other where both succeed.
 * The first 8 bytes, read as a double, go through the same print-and-parse round trip. */
#include "fuzz_util.h"

#include <math.h>

#include "attx_weights.h"

/* Prints x (double or float, by is_float) as JSON and parses it back; bits must survive. */
static void check_number_round_trip(double x, int is_float)
{
    if (!isfinite(x) || (is_float && !isfinite((float)x))) return;
    attx_buf b = {0};
    attx_json_writer w;
    attx_jw_init(&w, &b, 0);
    if (is_float) attx_jw_float(&w, (float)x);
    else attx_jw_double(&w, x);
    FUZZ_CHECK(!w.failed && !b.failed && b.data);
    attx_json_doc *doc = NULL;
    attx_error err;
    FUZZ_CHECK(attx_json_parse(b.data, b.len, NULL, &doc, &err) == 0);
    double back;
    FUZZ_CHECK(attx_json_double(attx_json_root(doc), &back) == 0);
    if (is_float) {
        float f = (float)x, g = (float)back;
        FUZZ_CHECK(memcmp(&f, &g, sizeof f) == 0);
    } else {
        FUZZ_CHECK(memcmp(&x, &back, sizeof x) == 0);
    }
    attx_json_free(doc);
    attx_buf_free(&b);
}

typedef struct walk {
    size_t max_depth;
} walk;

static void visit(const attx_json_value *v, size_t depth, walk *wk, size_t text_len)
{
    if (depth > wk->max_depth) wk->max_depth = depth;
    FUZZ_CHECK(attx_json_offset(v) < text_len);
    size_t n = attx_json_len(v), len;
    switch (attx_json_kind(v)) {
    case ATTX_JSON_NULL: FUZZ_CHECK(n == 0); break;
    case ATTX_JSON_BOOL: {
        int b = -1;
        FUZZ_CHECK(attx_json_bool(v, &b) == 0 && (b == 0 || b == 1));
        break;
    }
    case ATTX_JSON_NUMBER: {
        const char *text = attx_json_number_text(v, &len);
        FUZZ_CHECK(text && len > 0 && strlen(text) == len);
        uint64_t u;
        int64_t i;
        double d;
        int ok_u = attx_json_u64(v, &u) == 0, ok_i = attx_json_i64(v, &i) == 0;
        if (ok_u && ok_i) FUZZ_CHECK(i >= 0 && (uint64_t)i == u);
        if (attx_json_double(v, &d) == 0) {
            FUZZ_CHECK(isfinite(d));
            check_number_round_trip(d, 0);
            check_number_round_trip(d, 1);
        }
        FUZZ_CHECK(attx_json_str(v, NULL) == NULL);
        break;
    }
    case ATTX_JSON_STRING: {
        const char *s = attx_json_str(v, &len);
        FUZZ_CHECK(s && len == n && s[len] == '\0');
        size_t bad;
        FUZZ_CHECK(attx_utf8_valid(s, len, &bad));
        break;
    }
    case ATTX_JSON_ARRAY:
        for (size_t i = 0; i < n; i++) {
            const attx_json_value *item = attx_json_item(v, i);
            FUZZ_CHECK(item);
            visit(item, depth + 1, wk, text_len);
        }
        FUZZ_CHECK(attx_json_item(v, n) == NULL);
        break;
    case ATTX_JSON_OBJECT:
        for (size_t i = 0; i < n; i++) {
            size_t klen;
            const char *key = attx_json_key(v, i, &klen);
            FUZZ_CHECK(key && key[klen] == '\0');
            /* keys are unique (attx_json_get compares C strings: not for keys holding a NUL) */
            if (!memchr(key, '\0', klen)) FUZZ_CHECK(attx_json_get(v, key) == attx_json_member(v, i));
            visit(attx_json_member(v, i), depth + 1, wk, text_len);
        }
        FUZZ_CHECK(attx_json_key(v, n, NULL) == NULL && attx_json_member(v, n) == NULL);
        break;
    }
}

/* attx_jw_value of a document's root into b; 0 unless the writer failed. */
static int write_doc(const attx_json_doc *doc, attx_buf *b)
{
    attx_json_writer w;
    attx_jw_init(&w, b, 0);
    attx_jw_value(&w, attx_json_root(doc));
    return w.failed || b->failed ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    if (size >= 8) {
        double x;
        memcpy(&x, data, sizeof x);
        check_number_round_trip(x, 0);
        float f;
        memcpy(&f, data, sizeof f);
        check_number_round_trip(f, 1);
    }

    attx_json_doc *doc = NULL;
    attx_error err;
    attx_json_limits shallow = {.max_depth = 8, .max_bytes = 0};
    if (attx_json_parse(text, size, &shallow, &doc, &err) == 0) attx_json_free(doc);
    else FUZZ_CHECK(strncmp(err.msg, "invalid JSON at line ", 21) == 0);

    doc = NULL;
    if (attx_json_parse(text, size, NULL, &doc, &err) != 0) {
        FUZZ_CHECK(strncmp(err.msg, "invalid JSON at line ", 21) == 0);
        return 0;
    }
    walk wk = {0};
    visit(attx_json_root(doc), 0, &wk, size ? size : 1);

    /* the writer nests at most ATTX_JSON_WRITER_MAX_DEPTH levels */
    if (wk.max_depth < ATTX_JSON_WRITER_MAX_DEPTH - 1) {
        attx_buf once = {0}, twice = {0};
        FUZZ_CHECK(write_doc(doc, &once) == 0);
        attx_json_doc *again = NULL;
        if (attx_json_parse(once.data, once.len, NULL, &again, &err) != 0) {
            fprintf(stderr, "the writer's output does not parse: %s\n%s\n", err.msg, once.data);
            abort();
        }
        FUZZ_CHECK(write_doc(again, &twice) == 0);
        FUZZ_CHECK(once.len == twice.len && memcmp(once.data, twice.data, once.len) == 0);
        attx_json_free(again);
        attx_buf_free(&once);
        attx_buf_free(&twice);
    }
    attx_json_free(doc);
    return 0;
}
