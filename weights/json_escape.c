/* json_escape.c — a JSON string literal of any bytes that is always valid UTF-8: valid UTF-8
 * passes through, control characters, quotes and backslashes are escaped, and each broken
 * sequence becomes one U+FFFD. Used by the parser's messages (json.c) and the writer. */
#include "attx_weights.h"

#include <stdint.h>
#include <string.h>


/* Length of the broken UTF-8 sequence at s (n >= 1 bytes, attx_utf8_decode rejected it): the
 * lead byte and the continuation bytes that still fit a valid encoding (Unicode's "maximal
 * subpart"), so each broken sequence becomes one U+FFFD, as Python's errors="replace" does. */
static size_t invalid_utf8_length(const unsigned char *s, size_t n)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;        /* no overlong forms */
        if (c == 0xED) hi = 0x9F;        /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;        /* no overlong forms */
        if (c == 0xF4) hi = 0x8F;        /* nothing above U+10FFFF */
    } else {
        return 1;
    }
    if (n < 2 || s[1] < lo || s[1] > hi) return 1;
    size_t k = 2;
    while (k < need && k < n && (s[k] & 0xC0) == 0x80) k++;
    return k;
}

static void append_escape(attx_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '"': attx_buf_append(b, "\\\"", 2); break;
    case '\\': attx_buf_append(b, "\\\\", 2); break;
    case '\b': attx_buf_append(b, "\\b", 2); break;
    case '\f': attx_buf_append(b, "\\f", 2); break;
    case '\n': attx_buf_append(b, "\\n", 2); break;
    case '\r': attx_buf_append(b, "\\r", 2); break;
    case '\t': attx_buf_append(b, "\\t", 2); break;
    default: {
        char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        attx_buf_append(b, u, sizeof u);
    }
    }
}

void attx_json_escape(attx_buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    attx_buf_append(b, "\"", 1);
    size_t i = 0, copied = 0;   /* bytes before `copied` are in b */
    while (i < n) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        uint32_t cp;
        int k = c >= 0x80 ? attx_utf8_decode(str + i, n - i, &cp) : 0;
        if (k > 0) {   /* valid UTF-8 passes through */
            i += (size_t)k;
            continue;
        }
        attx_buf_append(b, str + copied, i - copied);
        if (c >= 0x80) {
            attx_buf_append(b, "\xEF\xBF\xBD", 3);   /* U+FFFD */
            i += invalid_utf8_length(s + i, n - i);
        } else {
            append_escape(b, c);
            i++;
        }
        copied = i;
    }
    if (n > copied) attx_buf_append(b, str + copied, n - copied);
    attx_buf_append(b, "\"", 1);
}
