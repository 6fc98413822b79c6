/* error.c — attx_error: one-line messages that name the file and the problem. */
#include "attx_weights.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int attx_fail(attx_error *err, const char *fmt, ...)
{
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int attx_fail_prefix(attx_error *err, const char *fmt, ...)
{
    if (!err) return -1;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* err->msg = prefix + ": " + old message, truncated to fit */
    size_t cap = sizeof err->msg, plen = strlen(prefix);
    if (plen > cap - 3) plen = cap - 3;
    size_t olen = strnlen(err->msg, cap - 1);
    if (plen + 2 + olen > cap - 1) olen = cap - 1 - plen - 2;
    memmove(err->msg + plen + 2, err->msg, olen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen] = ':';
    err->msg[plen + 1] = ' ';
    err->msg[plen + 2 + olen] = '\0';
    return -1;
}
