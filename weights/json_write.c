/* json_write.c — JSON output: the shortest numbers that read back exactly, and a streaming
 * writer that places commas, colons and indentation and refuses (w->failed) whatever would
 * make the output invalid (strings are escaped by json_escape.c). */
#include "attx_weights.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Numbers                                                                                     */

/* printf writes the decimal point of the LC_NUMERIC locale: '.' since attx never calls
 * setlocale. Should a host program change it, this puts back the '.' that JSON requires. */
static void use_json_decimal_point(char *text)
{
    const char *point = localeconv()->decimal_point;
    size_t plen = strlen(point);
    if (plen == 0 || strcmp(point, ".") == 0) return;
    char *at = strstr(text, point);
    if (!at) return;
    *at = '.';
    memmove(at + 1, at + plen, strlen(at + plen) + 1);
}

/* %g writes 100 as "1e+02" at one digit: a whole number below 10^15 is written as an integer
 * instead when that is no longer (exact: such floats and doubles print exactly with %.0f). */
static void prefer_integer(double v, char *text, size_t cap)
{
    if (!(fabs(v) < 1e15) || v != floor(v) || (v == 0 && signbit(v))) return;
    char integer[32];
    int n = snprintf(integer, sizeof integer, "%.0f", v);
    if (n > 0 && (size_t)n <= strlen(text) && (size_t)n < cap) memcpy(text, integer, (size_t)n + 1);
}

/* The fewest significant digits (%.*g) that strtof reads back as v; 9 always suffice. */
static void shortest_float(float v, char *text, size_t cap)
{
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(text, cap, "%.*g", digits, (double)v);
        if (strtof(text, NULL) == v) break;
    }
    use_json_decimal_point(text);
    prefer_integer(v, text, cap);
}

/* The same for doubles through strtod; 17 digits always suffice. */
static void shortest_double(double v, char *text, size_t cap)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(text, cap, "%.*g", digits, v);
        if (strtod(text, NULL) == v) break;
    }
    use_json_decimal_point(text);
    prefer_integer(v, text, cap);
}

/* ------------------------------------------------------------------------------------------ */
/* Writer                                                                                      */
/*                                                                                             */
/* w->state[i] describes open container i (i < w->depth): its kind and whether it has items.   */
/* At depth 0, state[0] is DONE once the top-level value is complete, so no second one follows. */

enum { JW_OBJECT = 1, JW_ARRAY = 2, JW_HAS_ITEMS = 4, JW_DONE = 8 };

static void jw_fail(attx_json_writer *w)
{
    w->failed = 1;
}

static void jw_newline(attx_json_writer *w, int level)
{
    static const char spaces[] = "                                                                ";
    attx_buf_append(w->out, "\n", 1);
    for (size_t n = 2 * (size_t)level; n > 0;) {
        size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        attx_buf_append(w->out, spaces, k);
        n -= k;
    }
}

/* Before an array item or an object key: the comma and, when pretty, the line break. */
static void jw_separate(attx_json_writer *w)
{
    unsigned char *s = &w->state[w->depth - 1];
    if (*s & JW_HAS_ITEMS) attx_buf_append(w->out, ",", 1);
    *s |= JW_HAS_ITEMS;
    if (w->pretty) jw_newline(w, w->depth);
}

/* Checks that a value may come now and writes what precedes it. 0 if the writer has failed. */
static int jw_begin_value(attx_json_writer *w)
{
    if (w->out->failed) w->failed = 1;
    if (w->failed) return 0;
    if (w->depth == 0) {
        if (w->state[0] & JW_DONE) jw_fail(w);   /* a second top-level value */
    } else if (w->state[w->depth - 1] & JW_OBJECT) {
        if (!w->after_key) jw_fail(w);           /* a value where a key is due */
        w->after_key = 0;
    } else {
        jw_separate(w);
    }
    return !w->failed;
}

static void jw_end_value(attx_json_writer *w)
{
    if (w->depth == 0) w->state[0] = JW_DONE;
}

static void jw_scalar(attx_json_writer *w, const char *text, size_t n)
{
    if (!jw_begin_value(w)) return;
    attx_buf_append(w->out, text, n);
    jw_end_value(w);
}

static void jw_open(attx_json_writer *w, unsigned char kind, const char *bracket)
{
    if (!jw_begin_value(w)) return;
    if (w->depth == ATTX_JSON_WRITER_MAX_DEPTH) {
        jw_fail(w);
        return;
    }
    w->state[w->depth++] = kind;
    attx_buf_append(w->out, bracket, 1);
}

static void jw_close(attx_json_writer *w, unsigned char kind, const char *bracket)
{
    if (w->failed) return;
    if (w->depth == 0 || !(w->state[w->depth - 1] & kind) || w->after_key) {
        jw_fail(w);
        return;
    }
    int had_items = w->state[w->depth - 1] & JW_HAS_ITEMS;
    w->depth--;
    if (w->pretty && had_items) jw_newline(w, w->depth);
    attx_buf_append(w->out, bracket, 1);
    jw_end_value(w);
}

void attx_jw_init(attx_json_writer *w, attx_buf *out, int pretty)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->pretty = pretty;
}

void attx_jw_object_begin(attx_json_writer *w) { jw_open(w, JW_OBJECT, "{"); }
void attx_jw_object_end(attx_json_writer *w) { jw_close(w, JW_OBJECT, "}"); }
void attx_jw_array_begin(attx_json_writer *w) { jw_open(w, JW_ARRAY, "["); }
void attx_jw_array_end(attx_json_writer *w) { jw_close(w, JW_ARRAY, "]"); }

void attx_jw_key(attx_json_writer *w, const char *key)
{
    attx_jw_key_n(w, key, key ? strlen(key) : 0);
}

void attx_jw_key_n(attx_json_writer *w, const char *key, size_t n)
{
    if (w->failed) return;
    if (!key || w->depth == 0 || !(w->state[w->depth - 1] & JW_OBJECT) || w->after_key) {
        jw_fail(w);
        return;
    }
    jw_separate(w);
    attx_json_escape(w->out, key, n);
    attx_buf_append(w->out, ": ", w->pretty ? 2 : 1);
    w->after_key = 1;
}

/* A NULL string is written as null. */
void attx_jw_string(attx_json_writer *w, const char *s)
{
    if (!s) attx_jw_null(w);
    else attx_jw_string_n(w, s, strlen(s));
}

void attx_jw_string_n(attx_json_writer *w, const char *s, size_t n)
{
    if (!jw_begin_value(w)) return;
    attx_json_escape(w->out, s, n);
    jw_end_value(w);
}

void attx_jw_int(attx_json_writer *w, int64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%" PRId64, v);
    jw_scalar(w, text, (size_t)n);
}

void attx_jw_uint(attx_json_writer *w, uint64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%" PRIu64, v);
    jw_scalar(w, text, (size_t)n);
}

void attx_jw_double(attx_json_writer *w, double v)
{
    if (!isfinite(v)) {
        attx_jw_null(w);
        return;
    }
    char text[40];
    shortest_double(v, text, sizeof text);
    jw_scalar(w, text, strlen(text));
}

void attx_jw_float(attx_json_writer *w, float v)
{
    if (!isfinite(v)) {
        attx_jw_null(w);
        return;
    }
    char text[40];
    shortest_float(v, text, sizeof text);
    jw_scalar(w, text, strlen(text));
}

void attx_jw_bool(attx_json_writer *w, int v)
{
    if (v) jw_scalar(w, "true", 4);
    else jw_scalar(w, "false", 5);
}

void attx_jw_null(attx_json_writer *w)
{
    jw_scalar(w, "null", 4);
}

void attx_jw_raw(attx_json_writer *w, const char *json)
{
    jw_scalar(w, json, strlen(json));
}

void attx_jw_value(attx_json_writer *w, const attx_json_value *v)
{
    size_t n;
    switch (attx_json_kind(v)) {
    case ATTX_JSON_NULL: attx_jw_null(w); break;
    case ATTX_JSON_BOOL: {
        int b = 0;
        attx_json_bool(v, &b);
        attx_jw_bool(w, b);
        break;
    }
    case ATTX_JSON_NUMBER: {
        const char *text = attx_json_number_text(v, &n);
        jw_scalar(w, text, n);
        break;
    }
    case ATTX_JSON_STRING: {
        const char *s = attx_json_str(v, &n);
        attx_jw_string_n(w, s, n);
        break;
    }
    case ATTX_JSON_ARRAY:
        attx_jw_array_begin(w);
        for (size_t i = 0; i < attx_json_len(v); i++) attx_jw_value(w, attx_json_item(v, i));
        attx_jw_array_end(w);
        break;
    case ATTX_JSON_OBJECT:
        attx_jw_object_begin(w);
        for (size_t i = 0; i < attx_json_len(v); i++) {
            const char *key = attx_json_key(v, i, &n);
            attx_jw_key_n(w, key, n);
            attx_jw_value(w, attx_json_member(v, i));
        }
        attx_jw_object_end(w);
        break;
    }
}
