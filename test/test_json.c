/* test_json.c — the strict JSON parser (accept/reject tables in the spirit of JSONTestSuite,
 * error positions, duplicate keys, limits, conversions, string decoding) and the JSON writer
 * (layout, misuse, escaping, U+FFFD, shortest round-trip numbers, random round trips). */
#include "testutil.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <time.h>

/* A test input with its length (inputs may hold NUL bytes). */
typedef struct json_case {
    const char *text;
    size_t len;
    const char *message;   /* reject cases: expected part of the error */
} json_case;

#define CASE(literal) {literal, sizeof(literal) - 1, NULL}
#define REJECT(literal, msg) {literal, sizeof(literal) - 1, msg}


static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Parses text that must be valid; fails the test with the parser's message otherwise. */
static attx_json_doc *parse_ok_n(const char *text, size_t len, const attx_json_limits *limits)
{
    attx_json_doc *doc = NULL;
    attx_error err = {{0}};
    if (attx_json_parse(text, len, limits, &doc, &err) != 0) fail_msg("rejected: %s", err.msg);
    assert_non_null(doc);
    assert_non_null(attx_json_root(doc));
    return doc;
}

static attx_json_doc *parse_ok(const char *text)
{
    return parse_ok_n(text, strlen(text), NULL);
}

/* Parses text that must be invalid and returns the message (in a static buffer). */
static const char *parse_error_n(const char *text, size_t len, const attx_json_limits *limits)
{
    static attx_error err;
    static char sentinel;
    attx_json_doc *doc = (attx_json_doc *)&sentinel;   /* the parser must reset it to NULL */
    memset(&err, 0, sizeof err);
    if (attx_json_parse(text, len, limits, &doc, &err) == 0) {
        attx_json_free(doc);
        fail_msg("accepted invalid JSON: %.*s", (int)len, text);
    }
    assert_null(doc);
    return err.msg;
}

static const char *parse_error(const char *text)
{
    return parse_error_n(text, strlen(text), NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Accept / reject tables                                                                      */

static const json_case must_accept[] = {
    CASE("[]"), CASE("{}"), CASE("null"), CASE("true"), CASE("false"), CASE("0"), CASE("-0"),
    CASE("-0.0"), CASE("1.5e10"), CASE("1E+2"), CASE("1e-2"), CASE("0e0"), CASE("1.0"),
    CASE("-1.5E-3"), CASE("123456789012345678901234567890"), CASE("1e999"),
    CASE("[0,-0,0.0,1e1,-12.5e+3]"), CASE("\"\""), CASE("\"\\u0000\""),
    CASE("\"\\ud83d\\ude00\""), CASE("\"\\uD834\\uDD1E\""), CASE("\"\\uDBFF\\uDFFF\""),
    CASE("\"\\ud83d\\ude00\\ud83d\\ude00\""), CASE("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""),
    CASE("\"\\u0041\\u00e9\\u20AC\\uFFFF\""), CASE("\"/\""), CASE("\"a\\\"b\""),
    CASE("\"\xc3\xa9\""), CASE("\"\xe2\x82\xac\""), CASE("\"\xf0\x9f\x98\x80\""),
    CASE("\"\xf4\x8f\xbf\xbf\""), CASE("\"\xe2\x80\xa8\xe2\x80\xa9\""), CASE("\"\x7f\""),
    CASE(" \t\n\r [ 1 , 2 ] \t\n\r "), CASE("[[[[[]]]]]"), CASE("{\"a\":{\"b\":{\"c\":[]}}}"),
    CASE("{\"\":0}"), CASE("{\"a\":1,\"A\":2}"), CASE("{\"a\":1,\"a\\u0000\":2}"),
    CASE("{\"a\":1,\"b\":{\"a\":2}}"), CASE("[1,\"a\",true,false,null,{},[]]"),
    CASE("{\"x\":[{\"y\":[{\"z\":null}]}]}"), CASE("{ \"a\" : 1 , \"b\" : 2 }"),
    CASE("{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,"
         "\"k9\":9,\"k10\":10}"),
    CASE("{\"a\":1,\"ab\":2,\"abc\":3,\"b\":4,\"ba\":5,\"c\":6,\"ca\":7,\"d\":8,\"e\":9}"),
    CASE("[\"\\u0061\", \"a\"]"), CASE("[-9223372036854775808, 18446744073709551615]"),
};

static void test_accept_table(void **state)
{
    (void)state;
    size_t n = sizeof must_accept / sizeof must_accept[0];
    assert_true(n >= 40);
    for (size_t i = 0; i < n; i++) {
        attx_json_doc *doc = NULL;
        attx_error err = {{0}};
        if (attx_json_parse(must_accept[i].text, must_accept[i].len, NULL, &doc, &err) != 0)
            fail_msg("y_%zu rejected: %s", i, err.msg);
        assert_non_null(attx_json_root(doc));
        attx_json_free(doc);
    }
}

static const json_case must_reject[] = {
    /* structure */
    REJECT("", "expected a value, found end of input"),
    REJECT("   \n ", "expected a value, found end of input"),
    REJECT("[", "expected a value, found end of input"),
    REJECT("{", "expected a string key or '}', found end of input"),
    REJECT("[1", "expected ',' or ']' after array item, found end of input"),
    REJECT("{\"a\":1", "expected ',' or '}' after object member, found end of input"),
    REJECT("[1,]", "expected a value, found ']'"),
    REJECT("[,1]", "expected a value, found ','"),
    REJECT("[1,,2]", "expected a value, found ','"),
    REJECT("{\"a\":1,}", "expected a string key after ',', found '}'"),
    REJECT("[1 2]", "expected ',' or ']' after array item, found '2'"),
    REJECT("[1;2]", "expected ',' or ']' after array item, found ';'"),
    REJECT("{\"a\":1 \"b\":2}", "expected ',' or '}' after object member"),
    REJECT("{\"a\" 1}", "expected ':' after object key, found '1'"),
    REJECT("{\"a\"::1}", "expected a value, found ':'"),
    REJECT("{\"a\":}", "expected a value, found '}'"),
    REJECT("{a:1}", "expected a string key or '}', found 'a'"),
    REJECT("{1:1}", "expected a string key or '}', found '1'"),
    REJECT("['a']", "expected a value, found '''"),
    REJECT("[1]]", "unexpected data after the JSON value"),
    REJECT("{\"a\":1}}", "unexpected data after the JSON value"),
    REJECT("[1] [2]", "unexpected data after the JSON value"),
    REJECT("1 2", "unexpected data after the JSON value"),
    REJECT("/* c */ []", "expected a value, found '/'"),
    REJECT("[] // c", "unexpected data after the JSON value"),
    REJECT("\v[]", "expected a value, found byte 0x0b"),
    REJECT("\f[]", "expected a value, found byte 0x0c"),
    REJECT("\xc2\xa0[]", "expected a value, found U+00A0"),
    REJECT("\xef\xbb\xbf[]", "expected a value, found U+FEFF"),
    REJECT("[1,2]\0", "unexpected data after the JSON value"),
    /* literals */
    REJECT("tru", "invalid literal, expected true"),
    REJECT("nul", "invalid literal, expected null"),
    REJECT("fals", "invalid literal, expected false"),
    REJECT("nulll", "unexpected data after the JSON value"),
    REJECT("True", "expected a value, found 'T'"),
    REJECT("NaN", "expected a value, found 'N'"),
    REJECT("Infinity", "expected a value, found 'I'"),
    REJECT("[undefined]", "expected a value, found 'u'"),
    /* numbers */
    REJECT("01", "number has a leading zero"),
    REJECT("-01", "number has a leading zero"),
    REJECT("00", "number has a leading zero"),
    REJECT("+1", "expected a value, found '+'"),
    REJECT(".5", "expected a value, found '.'"),
    REJECT("5.", "expected a digit after the decimal point"),
    REJECT("1.e5", "expected a digit after the decimal point"),
    REJECT("1e", "expected a digit in the exponent"),
    REJECT("1e+", "expected a digit in the exponent"),
    REJECT("1E-", "expected a digit in the exponent"),
    REJECT("-", "expected a digit after '-'"),
    REJECT("-a", "expected a digit after '-'"),
    REJECT("-Infinity", "expected a digit after '-'"),
    REJECT("0x10", "unexpected data after the JSON value"),
    REJECT("1_000", "unexpected data after the JSON value"),
    REJECT("[1e1.5]", "expected ',' or ']' after array item, found '.'"),
    /* strings */
    REJECT("\"abc", "unterminated string"),
    REJECT("\"\\", "unterminated string"),
    REJECT("\"\\ud83d\\ude00", "unterminated string"),
    REJECT("\"\\q\"", "invalid escape \\q"),
    REJECT("\"\\x41\"", "invalid escape \\x"),
    REJECT("\"\\U0041\"", "invalid escape \\U"),
    REJECT("\"\\\x01\"", "invalid escape: '\\' followed by byte 0x01"),
    REJECT("\"\\u12\"", "invalid \\u escape: expected 4 hex digits"),
    REJECT("\"\\u12G4\"", "invalid \\u escape: expected 4 hex digits"),
    REJECT("\"\\ud800\"", "high surrogate \\ud800 not followed by a low surrogate"),
    REJECT("\"\\ud800\\u0041\"", "high surrogate \\ud800 not followed by a low surrogate"),
    REJECT("\"\\uD800\\uD800\"", "high surrogate \\ud800 not followed by a low surrogate"),
    REJECT("\"\\ud800x\"", "high surrogate"),
    REJECT("\"\\udc00\"", "low surrogate \\udc00 without a high surrogate before it"),
    REJECT("\"\\ude00\\ud83d\"", "low surrogate \\ude00"),
    REJECT("\"a\tb\"", "control character U+0009 in string"),
    REJECT("\"a\nb\"", "control character U+000A in string"),
    REJECT("\"\0\"", "control character U+0000 in string"),
    REJECT("\"\x1f\"", "control character U+001F in string"),
    /* UTF-8 */
    REJECT("\"\xff\"", "invalid UTF-8 byte 0xff"),
    REJECT("\"\xc0\x80\"", "invalid UTF-8 byte 0xc0"),
    REJECT("\"\xc1\xbf\"", "invalid UTF-8 byte 0xc1"),
    REJECT("\"\xe0\x80\xaf\"", "invalid UTF-8 byte 0xe0"),
    REJECT("\"\xf0\x80\x80\xaf\"", "invalid UTF-8 byte 0xf0"),
    REJECT("\"\xed\xa0\x80\"", "invalid UTF-8 byte 0xed"),
    REJECT("\"\xf4\x90\x80\x80\"", "invalid UTF-8 byte 0xf4"),
    REJECT("\"\xe2\x82\"", "invalid UTF-8 byte 0xe2"),
    REJECT("\"\xe2\x82", "invalid UTF-8 byte 0xe2"),
    REJECT("\"\x80\"", "invalid UTF-8 byte 0x80"),
    REJECT("\"\xf8\x88\x80\x80\x80\"", "invalid UTF-8 byte 0xf8"),
    REJECT("\xff", "invalid UTF-8 byte 0xff"),
    REJECT("[1,\xfe]", "invalid UTF-8 byte 0xfe"),
    REJECT("[]\xff", "invalid UTF-8 byte 0xff"),
    REJECT("{\"\xc3\x28\":1}", "invalid UTF-8 byte 0xc3"),
    /* duplicate keys */
    REJECT("{\"a\":1,\"a\":2}", "duplicate key \"a\""),
    REJECT("{\"a\":1,\"b\":2,\"a\":3}", "duplicate key \"a\""),
    REJECT("{\"\\u0061\":1,\"a\":2}", "duplicate key \"a\""),
    REJECT("{\"\":1,\"\":2}", "duplicate key \"\""),
    REJECT("{\"x\":{\"q\\n\":1,\"q\\u000a\":2}}", "duplicate key \"q\\n\""),
    REJECT("[{\"a\":1},{\"b\":1,\"b\":2}]", "duplicate key \"b\""),
};

static void test_reject_table(void **state)
{
    (void)state;
    size_t n = sizeof must_reject / sizeof must_reject[0];
    assert_true(n >= 60);
    for (size_t i = 0; i < n; i++) {
        const char *msg = parse_error_n(must_reject[i].text, must_reject[i].len, NULL);
        if (strncmp(msg, "invalid JSON at line ", 21) != 0 || !strstr(msg, must_reject[i].message))
            fail_msg("n_%zu: expected \"%s\" in \"%s\"", i, must_reject[i].message, msg);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Error positions                                                                             */

static void test_error_positions(void **state)
{
    (void)state;
    assert_string_equal(parse_error("{\"a\":1,\n \"b\" 2}"),
                        "invalid JSON at line 2, column 6: expected ':' after object key, found '2'");
    assert_string_equal(parse_error("[\n  \"\xc3\xa9\",\n  \"\xff\"]"),
                        "invalid JSON at line 3, column 4: invalid UTF-8 byte 0xff");
    assert_string_equal(parse_error("\"\xe6\x97\xa5\xe6\x9c\xac\" x"),
                        "invalid JSON at line 1, column 10: unexpected data after the JSON value");
    assert_string_equal(parse_error("{\"a\":1,\r\n\"a\":2}"),
                        "invalid JSON at line 2, column 1: duplicate key \"a\"");
    assert_string_equal(parse_error("[1,\n\n  01]"),
                        "invalid JSON at line 3, column 3: number has a leading zero");
    assert_string_equal(parse_error("\"abc\ndef\""),
                        "invalid JSON at line 1, column 5: control character U+000A in string");
    assert_string_equal(parse_error("\n\n   "),
                        "invalid JSON at line 3, column 4: expected a value, found end of input");
    assert_string_equal(parse_error("[1,2,3"),
                        "invalid JSON at line 1, column 7: expected ',' or ']' after array item, "
                        "found end of input");
    assert_string_equal(parse_error("[\"ok\",\n \"\\u00e9\\q\"]"),
                        "invalid JSON at line 2, column 9: invalid escape \\q");
    assert_string_equal(parse_error("[\n  \"never closed\n"),
                        "invalid JSON at line 2, column 16: control character U+000A in string");
    assert_string_equal(parse_error("[\n  \"never closed"),
                        "invalid JSON at line 2, column 3: unterminated string");
    assert_string_equal(parse_error("{\"\xc3\xa9\": {\"k\": 1, \"k\": 2}}"),
                        "invalid JSON at line 1, column 17: duplicate key \"k\"");
}

/* ------------------------------------------------------------------------------------------ */
/* Duplicate keys                                                                              */

static void test_duplicate_keys_small(void **state)
{
    (void)state;
    /* the repeat that comes first in the text is named: "a" (3rd member) before "b" (4th) */
    assert_string_equal(parse_error("{\"b\":1,\"a\":2,\"a\":3,\"b\":4}"),
                        "invalid JSON at line 1, column 14: duplicate key \"a\"");
    assert_string_equal(parse_error("{\"k\":1,\"k\":2,\"k\":3}"),
                        "invalid JSON at line 1, column 8: duplicate key \"k\"");
    /* keys are quoted escaped in the message */
    assert_contains(parse_error("{\"q\\\"\\u0001\":1,\"q\\\"\\u0001\":2}"),
                    "duplicate key \"q\\\"\\u0001\"");
    /* long keys are cut short in the message */
    char text[1300];
    char key[601];
    memset(key, 'x', 600);
    key[600] = '\0';
    snprintf(text, sizeof text, "{\"%s\":1,\"%s\":2}", key, key);
    const char *msg = parse_error(text);
    assert_contains(msg, "duplicate key \"xxxx");
    assert_contains(msg, "xxx\"...");
    assert_true(strlen(msg) < 300);
}

/* An object of n members "k0".."k{n-1}", then the extra members given (may be ""). */
static char *big_object(size_t n, const char *extra, size_t *len)
{
    attx_buf b = {0};
    attx_buf_puts(&b, "{");
    for (size_t i = 0; i < n; i++) attx_buf_printf(&b, "%s\"k%zu\":%zu", i ? "," : "", i, i);
    attx_buf_puts(&b, extra);
    attx_buf_puts(&b, "}");
    assert_false(b.failed);
    *len = b.len;
    return b.data;
}

static void test_duplicate_keys_large(void **state)
{
    (void)state;
    size_t len;
    char *text = big_object(50000, "", &len);
    double t0 = seconds_now();
    attx_json_doc *doc = parse_ok_n(text, len, NULL);
    double elapsed = seconds_now() - t0;
    assert_true(elapsed < 2.0);   /* quadratic checking would take far longer */
    const attx_json_value *root = attx_json_root(doc);
    assert_int_equal(attx_json_len(root), 50000);
    uint64_t x;
    assert_int_equal(attx_json_u64(attx_json_get(root, "k49999"), &x), 0);
    assert_int_equal(x, 49999);
    size_t klen;
    assert_string_equal(attx_json_key(root, 123, &klen), "k123");
    assert_int_equal(klen, 4);
    attx_json_free(doc);
    free(text);

    /* a repeat at the end, pointed at exactly */
    text = big_object(50000, ",\"k12345\":0", &len);
    char expect[128];
    snprintf(expect, sizeof expect, "invalid JSON at line 1, column %zu: duplicate key \"k12345\"",
             len - strlen("\"k12345\":0}") + 1);
    assert_string_equal(parse_error_n(text, len, NULL), expect);
    free(text);

    /* two repeats: the one earlier in the text ("k7") is named, though "k12" sorts first */
    attx_buf b = {0};
    attx_buf_puts(&b, "{\"k7\":-1");
    for (size_t i = 0; i < 50000; i++) attx_buf_printf(&b, ",\"k%zu\":%zu", i, i);
    attx_buf_puts(&b, ",\"k12\":0}");
    snprintf(expect, sizeof expect, "invalid JSON at line 1, column %zu: duplicate key \"k7\"",
             (size_t)(strstr(b.data, ",\"k7\":7") - b.data) + 2);
    assert_string_equal(parse_error_n(b.data, b.len, NULL), expect);
    attx_buf_free(&b);
}

/* ------------------------------------------------------------------------------------------ */
/* Limits                                                                                      */

/* n '[' then n ']' (or nothing when close is 0). */
static char *nested_arrays(size_t n, int close, size_t *len)
{
    char *text = malloc(2 * n + 1);
    memset(text, '[', n);
    memset(text + n, ']', close ? n : 0);
    *len = close ? 2 * n : n;
    text[*len] = '\0';
    return text;
}

static void test_depth_limit(void **state)
{
    (void)state;
    size_t len;
    char *text = nested_arrays(256, 1, &len);
    attx_json_free(parse_ok_n(text, len, NULL));
    free(text);

    text = nested_arrays(257, 1, &len);
    assert_string_equal(parse_error_n(text, len, NULL),
                        "invalid JSON at line 1, column 257: nesting deeper than 256");
    free(text);

    /* objects count too */
    attx_buf b = {0};
    for (int i = 0; i < 257; i++) attx_buf_puts(&b, "{\"a\":");
    attx_buf_puts(&b, "1");
    for (int i = 0; i < 257; i++) attx_buf_puts(&b, "}");
    assert_contains(parse_error_n(b.data, b.len, NULL), "column 1281: nesting deeper than 256");
    attx_buf_free(&b);

    /* a depth bomb fails at once */
    text = nested_arrays(100000, 0, &len);
    double t0 = seconds_now();
    assert_contains(parse_error_n(text, len, NULL), "nesting deeper than 256");
    assert_true(seconds_now() - t0 < 0.5);
    free(text);
}

static void test_custom_limits(void **state)
{
    (void)state;
    attx_json_limits shallow = {.max_depth = 2};
    attx_json_free(parse_ok_n("[[1]]", 5, &shallow));
    assert_contains(parse_error_n("[[[1]]]", 7, &shallow), "column 3: nesting deeper than 2");
    assert_contains(parse_error_n("{\"a\":[{}]}", 10, &shallow), "column 7: nesting deeper than 2");

    /* a generous depth limit: 100,000 levels parse without recursion */
    attx_json_limits deep = {.max_depth = 200000};
    size_t len;
    char *text = nested_arrays(100000, 1, &len);
    attx_json_doc *doc = parse_ok_n(text, len, &deep);
    const attx_json_value *v = attx_json_root(doc);
    size_t depth = 0;
    while (attx_json_len(v) == 1) {
        v = attx_json_item(v, 0);
        depth++;
    }
    assert_int_equal(depth, 99999);
    assert_int_equal(attx_json_kind(v), ATTX_JSON_ARRAY);
    assert_int_equal(attx_json_offset(v), 99999);
    attx_json_free(doc);
    free(text);
    text = nested_arrays(100000, 0, &len);
    assert_contains(parse_error_n(text, len, &deep), "column 100001: expected a value");
    free(text);

    /* input size */
    attx_json_limits small = {.max_bytes = 10};
    attx_json_free(parse_ok_n("[1,2,3,45]", 10, &small));
    assert_string_equal(parse_error_n("[1,2,3,4,5]", 11, &small),
                        "invalid JSON at line 1, column 11: text longer than the 10 bytes allowed");
    /* zero fields mean the defaults */
    attx_json_limits zero = {0};
    text = nested_arrays(257, 1, &len);
    assert_contains(parse_error_n(text, len, &zero), "nesting deeper than 256");
    free(text);
}

/* ------------------------------------------------------------------------------------------ */
/* Numbers                                                                                     */

static void test_integers(void **state)
{
    (void)state;
    static const struct { const char *text; int u_ok; uint64_t u; int i_ok; int64_t i; } cases[] = {
        {"0", 1, 0, 1, 0},
        {"-0", 1, 0, 1, 0},
        {"7", 1, 7, 1, 7},
        {"-1", 0, 0, 1, -1},
        {"18446744073709551615", 1, UINT64_MAX, 0, 0},
        {"18446744073709551616", 0, 0, 0, 0},
        {"99999999999999999999999", 0, 0, 0, 0},
        {"9223372036854775807", 1, 9223372036854775807ull, 1, INT64_MAX},
        {"9223372036854775808", 1, 9223372036854775808ull, 0, 0},
        {"-9223372036854775808", 0, 0, 1, INT64_MIN},
        {"-9223372036854775809", 0, 0, 0, 0},
        {"1.0", 0, 0, 0, 0},
        {"1e3", 0, 0, 0, 0},
        {"1E0", 0, 0, 0, 0},
        {"-2.5", 0, 0, 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        attx_json_doc *doc = parse_ok(cases[k].text);
        const attx_json_value *v = attx_json_root(doc);
        uint64_t u = 12345;
        int64_t i = 12345;
        int u_rc = attx_json_u64(v, &u), i_rc = attx_json_i64(v, &i);
        if ((u_rc == 0) != cases[k].u_ok || (u_rc == 0 && u != cases[k].u))
            fail_msg("u64(%s): rc %d value %llu", cases[k].text, u_rc, (unsigned long long)u);
        if ((i_rc == 0) != cases[k].i_ok || (i_rc == 0 && i != cases[k].i))
            fail_msg("i64(%s): rc %d value %lld", cases[k].text, i_rc, (long long)i);
        if (u_rc != 0) assert_int_equal(u, 12345);   /* untouched on failure */
        if (i_rc != 0) assert_int_equal(i, 12345);
        attx_json_free(doc);
    }
    /* other types and NULL */
    attx_json_doc *doc = parse_ok("[\"1\", true, null]");
    const attx_json_value *root = attx_json_root(doc);
    uint64_t u;
    int64_t i;
    double d;
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(attx_json_u64(attx_json_item(root, k), &u), -1);
        assert_int_equal(attx_json_i64(attx_json_item(root, k), &i), -1);
        assert_int_equal(attx_json_double(attx_json_item(root, k), &d), -1);
    }
    assert_int_equal(attx_json_u64(NULL, &u), -1);
    assert_int_equal(attx_json_i64(root, &i), -1);
    attx_json_free(doc);
}

static void test_doubles(void **state)
{
    (void)state;
    static const struct { const char *text; double value; } cases[] = {
        {"0.1", 0.1}, {"1e-12", 1e-12}, {"-1.5E+3", -1500.0}, {"2.5", 2.5},
        {"123456789012345678901234567890", 1.2345678901234568e29},
        {"2.2250738585072014e-308", 2.2250738585072014e-308},
        {"4.9e-324", 4.9406564584124654e-324}, {"1.7976931348623157e308", DBL_MAX},
        {"1e-400", 0.0}, {"18446744073709551615", 18446744073709551615.0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        attx_json_doc *doc = parse_ok(cases[k].text);
        double d;
        assert_int_equal(attx_json_double(attx_json_root(doc), &d), 0);
        if (d != cases[k].value) fail_msg("%s -> %.17g", cases[k].text, d);
        attx_json_free(doc);
    }
    attx_json_doc *doc = parse_ok("[-0, 1e999, -1e999, 1E+2]");
    const attx_json_value *root = attx_json_root(doc);
    double d = 1;
    assert_int_equal(attx_json_double(attx_json_item(root, 0), &d), 0);
    assert_true(d == 0.0 && signbit(d));
    d = 7;
    assert_int_equal(attx_json_double(attx_json_item(root, 1), &d), -1);
    assert_int_equal(attx_json_double(attx_json_item(root, 2), &d), -1);
    assert_true(d == 7);
    size_t n;
    assert_string_equal(attx_json_number_text(attx_json_item(root, 3), &n), "1E+2");
    assert_int_equal(n, 4);
    assert_int_equal(attx_json_len(attx_json_item(root, 3)), 0);
    assert_null(attx_json_number_text(root, &n));
    attx_json_free(doc);
}

/* Under a locale whose decimal point is ',' numbers still read and write with '.'. Skipped when
 * no such locale is installed. */
static void test_numbers_in_comma_locale(void **state)
{
    (void)state;
    static const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"};
    const char *found = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !found; i++)
        if (setlocale(LC_NUMERIC, names[i])) found = names[i];
    if (!found) skip();
    /* no assertion may fail before the locale is restored: later tests run in it */
    int comma = strcmp(localeconv()->decimal_point, ",") == 0;
    attx_json_doc *doc = NULL;
    attx_error err;
    int parsed = attx_json_parse("[0.5, 1.25e2]", 13, NULL, &doc, &err) == 0;
    double half = 0, big = 0;
    int converted = parsed && attx_json_double(attx_json_item(attx_json_root(doc), 0), &half) == 0 &&
                    attx_json_double(attx_json_item(attx_json_root(doc), 1), &big) == 0;
    attx_json_free(doc);
    attx_buf b = {0};
    attx_json_writer w;
    attx_jw_init(&w, &b, 0);
    attx_jw_array_begin(&w);
    attx_jw_float(&w, 0.1f);
    attx_jw_double(&w, -2.5);
    attx_jw_array_end(&w);
    setlocale(LC_NUMERIC, "C");
    assert_true(comma);
    assert_true(converted);
    assert_true(half == 0.5 && big == 125.0);
    assert_false(w.failed);
    assert_string_equal(b.data, "[0.1,-2.5]");
    attx_buf_free(&b);
}

/* ------------------------------------------------------------------------------------------ */
/* Strings                                                                                     */

static void check_decoded(const char *json, const char *bytes, size_t n)
{
    attx_json_doc *doc = parse_ok(json);
    size_t len = 999;
    const char *s = attx_json_str(attx_json_root(doc), &len);
    assert_non_null(s);
    if (len != n || memcmp(s, bytes, n) != 0) fail_msg("%s decoded wrongly (length %zu)", json, len);
    assert_int_equal(s[n], '\0');
    assert_int_equal(attx_json_len(attx_json_root(doc)), n);
    attx_json_free(doc);
}

static void test_string_decoding(void **state)
{
    (void)state;
    check_decoded("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4);
    check_decoded("\"\\uD834\\uDD1E!\"", "\xf0\x9d\x84\x9e!", 5);
    check_decoded("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf", 4);
    check_decoded("\"\\ud800\\udc00\"", "\xf0\x90\x80\x80", 4);
    check_decoded("\"a\\u0000b\"", "a\0b", 3);
    check_decoded("\"\\u0000\"", "\0", 1);
    check_decoded("\"\\u00e9\\u20AC\\u0041\\u007f\\u0080\\u07ff\\u0800\\uffff\"",
                  "\xc3\xa9\xe2\x82\xac" "A\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf", 17);
    check_decoded("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8);
    check_decoded("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", "caf\xc3\xa9 \xf0\x9f\x98\x80", 10);
    check_decoded("\"\"", "", 0);
    check_decoded("\"plain text, no escapes\"", "plain text, no escapes", 22);

    /* keys are decoded the same way and compared by bytes */
    attx_json_doc *doc = parse_ok("{\"a\\u0000\":1,\"a\":2,\"\\u00e9\":3}");
    const attx_json_value *root = attx_json_root(doc);
    size_t klen;
    const char *key = attx_json_key(root, 0, &klen);
    assert_int_equal(klen, 2);
    assert_memory_equal(key, "a\0", 3);
    int64_t x;
    assert_int_equal(attx_json_i64(attx_json_get(root, "a"), &x), 0);
    assert_int_equal(x, 2);
    assert_int_equal(attx_json_i64(attx_json_get(root, "\xc3\xa9"), &x), 0);
    assert_int_equal(x, 3);
    assert_null(attx_json_get(root, "b"));
    attx_json_free(doc);
}

/* ------------------------------------------------------------------------------------------ */
/* Accessors                                                                                   */

static void test_accessors(void **state)
{
    (void)state;
    attx_json_doc *doc = parse_ok("{\"a\": [10, \"x\", true, false, null], \"b\": {}}");
    const attx_json_value *root = attx_json_root(doc);
    assert_int_equal(attx_json_kind(root), ATTX_JSON_OBJECT);
    assert_int_equal(attx_json_offset(root), 0);
    assert_int_equal(attx_json_len(root), 2);
    const attx_json_value *a = attx_json_get(root, "a");
    assert_ptr_equal(a, attx_json_member(root, 0));
    assert_int_equal(attx_json_kind(a), ATTX_JSON_ARRAY);
    assert_int_equal(attx_json_offset(a), 6);
    assert_int_equal(attx_json_len(a), 5);
    assert_int_equal(attx_json_offset(attx_json_item(a, 0)), 7);
    assert_int_equal(attx_json_offset(attx_json_item(a, 1)), 11);
    assert_int_equal(attx_json_kind(attx_json_item(a, 1)), ATTX_JSON_STRING);
    assert_int_equal(attx_json_len(attx_json_item(a, 1)), 1);
    int b = -1;
    assert_int_equal(attx_json_bool(attx_json_item(a, 2), &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(attx_json_bool(attx_json_item(a, 3), &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(attx_json_bool(attx_json_item(a, 4), &b), -1);
    assert_int_equal(attx_json_kind(attx_json_item(a, 4)), ATTX_JSON_NULL);
    assert_null(attx_json_item(a, 5));
    assert_null(attx_json_item(root, 0));        /* not an array */
    assert_null(attx_json_key(a, 0, NULL));      /* not an object */
    assert_null(attx_json_member(a, 0));
    assert_null(attx_json_get(a, "a"));
    assert_null(attx_json_key(root, 2, NULL));
    assert_null(attx_json_member(root, 2));
    assert_string_equal(attx_json_key(root, 1, NULL), "b");
    const attx_json_value *empty = attx_json_member(root, 1);
    assert_int_equal(attx_json_kind(empty), ATTX_JSON_OBJECT);
    assert_int_equal(attx_json_len(empty), 0);
    assert_int_equal(attx_json_offset(empty), 41);
    assert_null(attx_json_get(empty, "a"));
    assert_null(attx_json_str(a, NULL));
    assert_null(attx_json_str(NULL, NULL));
    /* NULL is accepted everywhere */
    assert_int_equal(attx_json_kind(NULL), ATTX_JSON_NULL);
    assert_int_equal(attx_json_len(NULL), 0);
    assert_int_equal(attx_json_offset(NULL), 0);
    assert_null(attx_json_item(NULL, 0));
    assert_null(attx_json_get(NULL, "a"));
    assert_null(attx_json_root(NULL));
    attx_json_free(doc);
    attx_json_free(NULL);

    doc = parse_ok("  \n 42 ");
    assert_int_equal(attx_json_offset(attx_json_root(doc)), 4);
    attx_json_free(doc);
}

/* Empty containers, also as the first thing parsed (no value stacked yet: clang's UBSan once
 * caught arithmetic on the still-NULL value stack here). */
static void test_empty_containers(void **state)
{
    (void)state;
    const char *texts[] = {"[]", "{}", "[[]]", "{\"a\":{}}", "[{}, []]"};
    const size_t lens[] = {0, 0, 1, 1, 2};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        attx_json_doc *doc = parse_ok(texts[i]);
        const attx_json_value *root = attx_json_root(doc);
        assert_int_equal(attx_json_kind(root), texts[i][0] == '[' ? ATTX_JSON_ARRAY : ATTX_JSON_OBJECT);
        assert_int_equal(attx_json_len(root), lens[i]);
        for (size_t k = 0; k < lens[i]; k++) {
            const attx_json_value *child = texts[i][0] == '[' ? attx_json_item(root, k) : attx_json_member(root, k);
            assert_non_null(child);
            assert_int_equal(attx_json_len(child), 0);
            assert_null(attx_json_item(child, 0));
            assert_null(attx_json_member(child, 0));
        }
        assert_null(attx_json_item(root, lens[i]));
        attx_json_free(doc);
    }
}

/* A safetensors-like header: every entry reads back. */
static void test_safetensors_like_header(void **state)
{
    (void)state;
    attx_buf b = {0};
    attx_buf_puts(&b, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < 20000; i++)
        attx_buf_printf(&b, ",\"layer.%zu.weight\":{\"dtype\":\"F32\",\"shape\":[768,768],"
                            "\"data_offsets\":[%zu,%zu]}", i, i * 2359296, (i + 1) * 2359296);
    attx_buf_puts(&b, "}");
    attx_json_doc *doc = parse_ok_n(b.data, b.len, NULL);
    const attx_json_value *root = attx_json_root(doc);
    assert_int_equal(attx_json_len(root), 20001);
    for (size_t i = 1; i <= 20000; i++) {
        char name[64];
        snprintf(name, sizeof name, "layer.%zu.weight", i - 1);
        assert_string_equal(attx_json_key(root, i, NULL), name);
        const attx_json_value *t = attx_json_member(root, i);
        assert_string_equal(attx_json_str(attx_json_get(t, "dtype"), NULL), "F32");
        const attx_json_value *offs = attx_json_get(t, "data_offsets");
        uint64_t begin, end;
        assert_int_equal(attx_json_u64(attx_json_item(offs, 0), &begin), 0);
        assert_int_equal(attx_json_u64(attx_json_item(offs, 1), &end), 0);
        assert_int_equal(begin, (i - 1) * 2359296);
        assert_int_equal(end, i * 2359296);
    }
    attx_json_free(doc);
    attx_buf_free(&b);
}

/* ------------------------------------------------------------------------------------------ */
/* Writer                                                                                      */

/* The same nested document for the compact and the pretty layout. */
static void write_sample(attx_json_writer *w)
{
    attx_jw_object_begin(w);
    attx_jw_key(w, "name");
    attx_jw_string(w, "attx");
    attx_jw_key(w, "n");
    attx_jw_int(w, 3);
    attx_jw_key(w, "list");
    attx_jw_array_begin(w);
    attx_jw_uint(w, 1);
    attx_jw_int(w, -2);
    attx_jw_bool(w, 1);
    attx_jw_bool(w, 0);
    attx_jw_null(w);
    attx_jw_array_begin(w);
    attx_jw_array_end(w);
    attx_jw_object_begin(w);
    attx_jw_object_end(w);
    attx_jw_array_end(w);
    attx_jw_key(w, "obj");
    attx_jw_object_begin(w);
    attx_jw_key(w, "x");
    attx_jw_float(w, 0.5f);
    attx_jw_key(w, "raw");
    attx_jw_raw(w, "{\"r\":[1]}");
    attx_jw_key(w, "y");
    attx_jw_array_begin(w);
    attx_jw_string(w, NULL);
    attx_jw_array_end(w);
    attx_jw_object_end(w);
    attx_jw_object_end(w);
}

static void test_writer_layout(void **state)
{
    (void)state;
    attx_buf b = {0};
    attx_json_writer w;
    attx_jw_init(&w, &b, 0);
    write_sample(&w);
    assert_false(w.failed);
    assert_string_equal(b.data, "{\"name\":\"attx\",\"n\":3,\"list\":[1,-2,true,false,null,[],{}],"
                                "\"obj\":{\"x\":0.5,\"raw\":{\"r\":[1]},\"y\":[null]}}");
    attx_json_free(parse_ok(b.data));
    attx_buf_free(&b);

    attx_jw_init(&w, &b, 1);
    write_sample(&w);
    assert_false(w.failed);
    assert_string_equal(b.data,
                        "{\n"
                        "  \"name\": \"attx\",\n"
                        "  \"n\": 3,\n"
                        "  \"list\": [\n"
                        "    1,\n"
                        "    -2,\n"
                        "    true,\n"
                        "    false,\n"
                        "    null,\n"
                        "    [],\n"
                        "    {}\n"
                        "  ],\n"
                        "  \"obj\": {\n"
                        "    \"x\": 0.5,\n"
                        "    \"raw\": {\"r\":[1]},\n"
                        "    \"y\": [\n"
                        "      null\n"
                        "    ]\n"
                        "  }\n"
                        "}");
    attx_json_free(parse_ok(b.data));
    attx_buf_free(&b);

    /* scalars at the top level; integers at their limits; appending to existing text */
    attx_buf_puts(&b, "x=");
    attx_jw_init(&w, &b, 1);
    attx_jw_int(&w, INT64_MIN);
    assert_string_equal(b.data, "x=-9223372036854775808");
    attx_buf_free(&b);
    attx_jw_init(&w, &b, 0);
    attx_jw_array_begin(&w);
    attx_jw_int(&w, INT64_MAX);
    attx_jw_uint(&w, UINT64_MAX);
    attx_jw_uint(&w, 0);
    attx_jw_array_end(&w);
    assert_false(w.failed);
    assert_string_equal(b.data, "[9223372036854775807,18446744073709551615,0]");
    attx_buf_free(&b);
}

typedef void (*writer_script)(attx_json_writer *w);

static void misuse_value_for_key(attx_json_writer *w) { attx_jw_object_begin(w); attx_jw_int(w, 1); }
static void misuse_key_in_array(attx_json_writer *w) { attx_jw_array_begin(w); attx_jw_key(w, "a"); }
static void misuse_key_at_top(attx_json_writer *w) { attx_jw_key(w, "a"); }
static void misuse_end_without_begin(attx_json_writer *w) { attx_jw_object_end(w); }
static void misuse_array_end_without_begin(attx_json_writer *w) { attx_jw_array_end(w); }
static void misuse_wrong_end(attx_json_writer *w) { attx_jw_array_begin(w); attx_jw_object_end(w); }
static void misuse_two_keys(attx_json_writer *w)
{
    attx_jw_object_begin(w);
    attx_jw_key(w, "a");
    attx_jw_key(w, "b");
}
static void misuse_end_after_key(attx_json_writer *w)
{
    attx_jw_object_begin(w);
    attx_jw_key(w, "a");
    attx_jw_object_end(w);
}
static void misuse_two_top_values(attx_json_writer *w) { attx_jw_int(w, 1); attx_jw_int(w, 2); }
static void misuse_value_after_root(attx_json_writer *w)
{
    attx_jw_array_begin(w);
    attx_jw_array_end(w);
    attx_jw_object_begin(w);
}
static void misuse_null_key(attx_json_writer *w) { attx_jw_object_begin(w); attx_jw_key(w, NULL); }
static void misuse_too_deep(attx_json_writer *w)
{
    for (int i = 0; i <= ATTX_JSON_WRITER_MAX_DEPTH; i++) attx_jw_array_begin(w);
}

static void test_writer_misuse(void **state)
{
    (void)state;
    static const writer_script scripts[] = {
        misuse_value_for_key, misuse_key_in_array, misuse_key_at_top, misuse_end_without_begin,
        misuse_array_end_without_begin, misuse_wrong_end, misuse_two_keys, misuse_end_after_key,
        misuse_two_top_values, misuse_value_after_root, misuse_null_key, misuse_too_deep,
    };
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
        attx_buf b = {0};
        attx_json_writer w;
        attx_jw_init(&w, &b, (int)(i & 1));
        scripts[i](&w);
        if (!w.failed) fail_msg("misuse %zu not detected: %s", i, b.data ? b.data : "");
        /* once failed, nothing more is written */
        size_t len = b.len;
        attx_jw_array_begin(&w);
        attx_jw_string(&w, "more");
        attx_jw_array_end(&w);
        assert_int_equal(b.len, len);
        assert_true(w.failed);
        attx_buf_free(&b);
    }
    /* exactly the maximum depth is fine */
    attx_buf b = {0};
    attx_json_writer w;
    attx_jw_init(&w, &b, 0);
    for (int i = 0; i < ATTX_JSON_WRITER_MAX_DEPTH; i++) attx_jw_array_begin(&w);
    for (int i = 0; i < ATTX_JSON_WRITER_MAX_DEPTH; i++) attx_jw_array_end(&w);
    assert_false(w.failed);
    assert_int_equal(b.len, 2 * ATTX_JSON_WRITER_MAX_DEPTH);
    attx_buf_free(&b);
}

static void expect_escape(const char *in, size_t n, const char *out)
{
    attx_buf b = {0};
    attx_json_escape(&b, in, n);
    assert_false(b.failed);
    if (strcmp(b.data, out) != 0) fail_msg("escape gave %s, expected %s", b.data, out);
    assert_true(attx_utf8_valid(b.data, b.len, NULL));
    attx_json_free(parse_ok(b.data));
    attx_buf_free(&b);
}

static void test_writer_escaping(void **state)
{
    (void)state;
    expect_escape("", 0, "\"\"");
    expect_escape("plain", 5, "\"plain\"");
    expect_escape("a\"b\\c/", 6, "\"a\\\"b\\\\c/\"");
    expect_escape("\n\t\r\b\f", 5, "\"\\n\\t\\r\\b\\f\"");
    expect_escape("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
    expect_escape("a\0b", 3, "\"a\\u0000b\"");
    expect_escape("caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x80\xa8", 14,
                  "\"caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x80\xa8\"");
    /* invalid UTF-8: each broken sequence becomes one U+FFFD */
    expect_escape("\xff", 1, "\"\xef\xbf\xbd\"");
    expect_escape("a\xe2\x82x", 4, "\"a\xef\xbf\xbdx\"");
    expect_escape("\xe2\x82", 2, "\"\xef\xbf\xbd\"");
    expect_escape("\xf0\x9f\x98", 3, "\"\xef\xbf\xbd\"");
    expect_escape("\xc0\x80", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    expect_escape("\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    expect_escape("\xf4\x90\x80\x80", 4, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    expect_escape("\x80\xbf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    expect_escape("\xc3\xa9\xc3", 3, "\"\xc3\xa9\xef\xbf\xbd\"");

    /* keys and values go through the same escaping */
    attx_buf b = {0};
    attx_json_writer w;
    attx_jw_init(&w, &b, 0);
    attx_jw_object_begin(&w);
    attx_jw_key(&w, "k\"\xff");
    attx_jw_string_n(&w, "v\0\n", 3);
    attx_jw_object_end(&w);
    assert_string_equal(b.data, "{\"k\\\"\xef\xbf\xbd\":\"v\\u0000\\n\"}");
    attx_buf_free(&b);

    /* random bytes: the output is always valid UTF-8 JSON, and valid input survives exactly */
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    unsigned char bytes[64];
    for (int iter = 0; iter < 5000; iter++) {
        size_t n = (size_t)(tu_random(&rng) % sizeof bytes);
        for (size_t i = 0; i < n; i++) {
            uint64_t r = tu_random(&rng);
            bytes[i] = (unsigned char)(r % 4 == 0 ? r >> 8 : r % 4 == 1 ? 0x80 | (r >> 8 & 0x3f)
                                                                        : 0x20 + (r >> 8) % 0x5f);
        }
        attx_json_escape(&b, (const char *)bytes, n);
        assert_true(attx_utf8_valid(b.data, b.len, NULL));
        attx_json_doc *doc = parse_ok_n(b.data, b.len, NULL);
        size_t len;
        const char *s = attx_json_str(attx_json_root(doc), &len);
        if (attx_utf8_valid((const char *)bytes, n, NULL)) {
            assert_int_equal(len, n);
            assert_memory_equal(s, bytes, n);
        }
        attx_json_free(doc);
        attx_buf_free(&b);
    }
}

static char *float_text(float f)
{
    static char text[64];
    attx_buf b = {0};
    attx_json_writer w;
    attx_jw_init(&w, &b, 0);
    attx_jw_float(&w, f);
    assert_false(w.failed);
    snprintf(text, sizeof text, "%s", b.data);
    attx_buf_free(&b);
    return text;
}

static char *double_text(double d)
{
    static char text[64];
    attx_buf b = {0};
    attx_json_writer w;
    attx_jw_init(&w, &b, 0);
    attx_jw_double(&w, d);
    assert_false(w.failed);
    snprintf(text, sizeof text, "%s", b.data);
    attx_buf_free(&b);
    return text;
}

static void test_writer_numbers(void **state)
{
    (void)state;
    assert_string_equal(float_text(0.1f), "0.1");
    assert_string_equal(float_text(0.3f), "0.3");
    assert_string_equal(float_text(1e-12f), "1e-12");
    assert_string_equal(float_text(3.4028235e38f), "3.4028235e+38");
    assert_string_equal(float_text(1e-45f), "1e-45");
    assert_string_equal(float_text(FLT_MIN), "1.1754944e-38");
    assert_string_equal(float_text(16777216.0f), "16777216");
    assert_string_equal(float_text(1.0f), "1");
    assert_string_equal(float_text(100.0f), "100");     /* whole numbers as integers, not 1e+02 */
    assert_string_equal(float_text(1e20f), "1e+20");
    assert_string_equal(float_text(123456.7f), "123456.7");
    assert_string_equal(float_text(1e10f), "1e+10");
    assert_string_equal(float_text(-0.0f), "-0");
    assert_string_equal(float_text(0.0f), "0");
    assert_string_equal(float_text(-2.5f), "-2.5");
    assert_string_equal(float_text(NAN), "null");
    assert_string_equal(float_text(INFINITY), "null");
    assert_string_equal(float_text(-INFINITY), "null");

    assert_string_equal(double_text(0.1), "0.1");
    assert_string_equal(double_text(1.0 / 3.0), "0.3333333333333333");
    assert_string_equal(double_text((double)0.1f), "0.10000000149011612");
    assert_string_equal(double_text(5e-324), "5e-324");
    assert_string_equal(double_text(DBL_MAX), "1.7976931348623157e+308");
    assert_string_equal(double_text(9007199254740992.0), "9007199254740992");
    assert_string_equal(double_text(-0.0), "-0");
    assert_string_equal(double_text(1e21), "1e+21");
    assert_string_equal(double_text(NAN), "null");
    assert_string_equal(double_text(-INFINITY), "null");
}

/* 10,000 random float bit patterns: written, then read by strtof, bit for bit; the text is a
 * valid JSON number; non-finite ones become null. The same for doubles. */
static void test_float_round_trip_random(void **state)
{
    (void)state;
    uint64_t rng = 12345;
    int finite = 0;
    for (int i = 0; i < 10000; i++) {
        uint32_t bits = (uint32_t)(tu_random(&rng) >> 32);
        float f;
        memcpy(&f, &bits, 4);
        const char *text = float_text(f);
        if (!isfinite(f)) {
            assert_string_equal(text, "null");
            continue;
        }
        finite++;
        float back = strtof(text, NULL);
        uint32_t back_bits;
        memcpy(&back_bits, &back, 4);
        if (back_bits != bits) fail_msg("%08x -> %s -> %08x", bits, text, back_bits);
        attx_json_doc *doc = parse_ok(text);
        assert_int_equal(attx_json_kind(attx_json_root(doc)), ATTX_JSON_NUMBER);
        attx_json_free(doc);
    }
    assert_true(finite > 9000);
    for (int i = 0; i < 10000; i++) {
        uint64_t bits = tu_random(&rng);
        double d;
        memcpy(&d, &bits, 8);
        const char *text = double_text(d);
        if (!isfinite(d)) {
            assert_string_equal(text, "null");
            continue;
        }
        attx_json_doc *doc = parse_ok(text);
        double back;
        assert_int_equal(attx_json_double(attx_json_root(doc), &back), 0);
        assert_memory_equal(&back, &d, 8);
        attx_json_free(doc);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Random documents: written, parsed, compared, written again.                                 */

/* Appends a random string of code points of every UTF-8 length, with characters that need
 * escaping, to b; U+0000 only if allow_nul. */
static void random_string(uint64_t *rng, attx_buf *b, int allow_nul)
{
    static const uint32_t pool[] = {'a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', 0x01, 0x1f,
                                    0x00, 0x7f, 0xe9, 0x7ff, 0x800, 0x20ac, 0x2028, 0xfffd,
                                    0xffff, 0x10000, 0x1f600, 0x10ffff};
    size_t n = (size_t)(tu_random(rng) % 12);
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = pool[tu_random(rng) % (sizeof pool / sizeof pool[0])];
        if (cp == 0 && !allow_nul) cp = 'n';
        char u[4];
        size_t k;
        if (cp < 0x80) { u[0] = (char)cp; k = 1; }
        else if (cp < 0x800) { u[0] = (char)(0xC0 | cp >> 6); u[1] = (char)(0x80 | (cp & 63)); k = 2; }
        else if (cp < 0x10000) {
            u[0] = (char)(0xE0 | cp >> 12); u[1] = (char)(0x80 | (cp >> 6 & 63));
            u[2] = (char)(0x80 | (cp & 63)); k = 3;
        } else {
            u[0] = (char)(0xF0 | cp >> 18); u[1] = (char)(0x80 | (cp >> 12 & 63));
            u[2] = (char)(0x80 | (cp >> 6 & 63)); u[3] = (char)(0x80 | (cp & 63)); k = 4;
        }
        attx_buf_append(b, u, k);
    }
    if (b->len == 0) attx_buf_append(b, "", 0);   /* data non-NULL even when empty */
}

/* Generates a random value from *rng and either writes it (w) or checks that the parsed value
 * v equals it: both runs draw the same numbers from the same seed. */
static void random_value(uint64_t *rng, int depth, attx_json_writer *w, const attx_json_value *v)
{
    if (!w) assert_non_null(v);
    int kind = (int)(tu_random(rng) % (depth < 5 ? 9 : 7));
    switch (kind) {
    case 0:
        if (w) attx_jw_null(w);
        else assert_int_equal(attx_json_kind(v), ATTX_JSON_NULL);
        break;
    case 1: {
        int b = (int)(tu_random(rng) & 1), got;
        if (w) attx_jw_bool(w, b);
        else assert_true(attx_json_bool(v, &got) == 0 && got == b);
        break;
    }
    case 2: {
        int64_t x = (int64_t)tu_random(rng) >> (tu_random(rng) % 64), got;
        if (w) attx_jw_int(w, x);
        else assert_true(attx_json_i64(v, &got) == 0 && got == x);
        break;
    }
    case 3: {
        uint64_t x = tu_random(rng) >> (tu_random(rng) % 64), got;
        if (w) attx_jw_uint(w, x);
        else assert_true(attx_json_u64(v, &got) == 0 && got == x);
        break;
    }
    case 4: {
        uint64_t bits = tu_random(rng);
        double d, got;
        memcpy(&d, &bits, 8);
        if (w) attx_jw_double(w, d);
        else if (!isfinite(d)) assert_int_equal(attx_json_kind(v), ATTX_JSON_NULL);
        else assert_true(attx_json_double(v, &got) == 0 && memcmp(&got, &d, 8) == 0);
        break;
    }
    case 5: {
        uint32_t bits = (uint32_t)tu_random(rng);
        float f;
        memcpy(&f, &bits, 4);
        if (w) attx_jw_float(w, f);
        else if (!isfinite(f)) assert_int_equal(attx_json_kind(v), ATTX_JSON_NULL);
        else {
            float got = strtof(attx_json_number_text(v, NULL), NULL);
            assert_memory_equal(&got, &f, 4);
        }
        break;
    }
    case 6: {
        attx_buf s = {0};
        random_string(rng, &s, 1);
        size_t len;
        if (w) attx_jw_string_n(w, s.data, s.len);
        else {
            const char *got = attx_json_str(v, &len);
            assert_non_null(got);
            assert_int_equal(len, s.len);
            assert_memory_equal(got, s.data, len);
        }
        attx_buf_free(&s);
        break;
    }
    case 7: {
        size_t n = (size_t)(tu_random(rng) % 5);
        if (w) attx_jw_array_begin(w);
        else assert_true(attx_json_kind(v) == ATTX_JSON_ARRAY && attx_json_len(v) == n);
        for (size_t i = 0; i < n; i++) random_value(rng, depth + 1, w, w ? NULL : attx_json_item(v, i));
        if (w) attx_jw_array_end(w);
        break;
    }
    default: {
        size_t n = (size_t)(tu_random(rng) % 5);
        if (w) attx_jw_object_begin(w);
        else assert_true(attx_json_kind(v) == ATTX_JSON_OBJECT && attx_json_len(v) == n);
        for (size_t i = 0; i < n; i++) {
            attx_buf key = {0};
            random_string(rng, &key, 0);   /* attx_jw_key takes a C string */
            attx_buf_printf(&key, "#%zu", i);   /* keys are unique within the object */
            size_t klen;
            if (w) attx_jw_key(w, key.data);
            else {
                const char *got = attx_json_key(v, i, &klen);
                assert_int_equal(klen, key.len);
                assert_memory_equal(got, key.data, klen);
            }
            random_value(rng, depth + 1, w, w ? NULL : attx_json_member(v, i));
            attx_buf_free(&key);
        }
        if (w) attx_jw_object_end(w);
    }
    }
}


static void test_document_round_trip_random(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        int pretty = (int)(seed & 1);
        attx_buf text = {0};
        attx_json_writer w;
        attx_jw_init(&w, &text, pretty);
        uint64_t rng = seed * 0x9E3779B97F4A7C15ull;
        random_value(&rng, 0, &w, NULL);
        assert_false(w.failed);
        assert_false(text.failed);

        attx_json_doc *doc = parse_ok_n(text.data, text.len, NULL);
        rng = seed * 0x9E3779B97F4A7C15ull;
        random_value(&rng, 0, NULL, attx_json_root(doc));

        attx_buf again = {0};
        attx_jw_init(&w, &again, pretty);
        attx_jw_value(&w, attx_json_root(doc));
        assert_false(w.failed);
        assert_int_equal(again.len, text.len);
        assert_memory_equal(again.data, text.data, text.len);
        attx_buf_free(&again);
        attx_json_free(doc);
        attx_buf_free(&text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_table),
        cmocka_unit_test(test_reject_table),
        cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_duplicate_keys_small),
        cmocka_unit_test(test_duplicate_keys_large),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_custom_limits),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_numbers_in_comma_locale),
        cmocka_unit_test(test_string_decoding),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_empty_containers),
        cmocka_unit_test(test_safetensors_like_header),
        cmocka_unit_test(test_writer_layout),
        cmocka_unit_test(test_writer_misuse),
        cmocka_unit_test(test_writer_escaping),
        cmocka_unit_test(test_writer_numbers),
        cmocka_unit_test(test_float_round_trip_random),
        cmocka_unit_test(test_document_round_trip_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
