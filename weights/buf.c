/* buf.c — attx_buf, a growable NUL-terminated byte buffer. */
#include "attx_weights.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int buf_reserve(attx_buf *b, size_t extra)
{
    if (b->failed) return -1;
    if (extra > SIZE_MAX - b->len - 1) { b->failed = 1; return -1; }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p) { b->failed = 1; return -1; }
    b->data = p;
    b->cap = cap;
    return 0;
}

void attx_buf_append(attx_buf *b, const void *bytes, size_t n)
{
    if (buf_reserve(b, n) != 0) return;
    if (n) memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void attx_buf_puts(attx_buf *b, const char *s)
{
    attx_buf_append(b, s, strlen(s));
}

void attx_buf_printf(attx_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) != 0) { b->failed = 1; return; }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void attx_buf_free(attx_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void attx_buf_html(attx_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': attx_buf_puts(b, "&lt;"); break;
        case '>': attx_buf_puts(b, "&gt;"); break;
        case '&': attx_buf_puts(b, "&amp;"); break;
        case '"': attx_buf_puts(b, "&quot;"); break;
        default: attx_buf_append(b, s, 1);
        }
    }
}
