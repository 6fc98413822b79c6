/* html.c — what the self-contained HTML reports (`explain --html`, `tcav --html`) share: text
 * escaping, the score colours, and files embedded as data: URIs. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>

void html_score_colour(attx_buf *b, double s, double scale)
{
    double a = scale > 0 ? fabs(s) / scale : 0;
    if (s >= 0) attx_buf_printf(b, "rgba(214,39,40,%.3f)", 0.85 * a);
    else attx_buf_printf(b, "rgba(31,119,180,%.3f)", 0.85 * a);
}

int html_data_uri(attx_buf *b, const char *mime, const char *path, attx_error *err)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *bytes;
    size_t n;
    if (attx_read_file(path, (size_t)64 << 20, &bytes, &n, err) != 0) return -1;
    attx_buf_printf(b, "data:%s;base64,", mime);
    const unsigned char *p = (const unsigned char *)bytes;
    for (size_t i = 0; i < n; i += 3) {   /* RFC 4648: 3 bytes -> 4 digits, '=' pads the last group */
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char quad[4] = {digits[v >> 18 & 63], digits[v >> 12 & 63], i + 1 < n ? digits[v >> 6 & 63] : '=',
                        i + 2 < n ? digits[v & 63] : '='};
        attx_buf_append(b, quad, 4);
    }
    free(bytes);
    return 0;
}

int html_write(const char *path, attx_buf *b, attx_error *err)
{
    int rc = b->failed ? attx_fail(err, "%s: out of memory", path) : attx_write_file(path, b->data, b->len, err);
    attx_buf_free(b);
    return rc;
}
