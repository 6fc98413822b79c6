/* web_check.c — the checks of `make test-web`:
 *   web_check urlencode TEXT          TEXT percent-encoded for a URL's query
 *   web_check compare DOM NATIVE      the result the live page wrote into <pre id="attx-result">
 *                                     (in chromium's --dump-dom of it) against native
 *                                     `attx explain --json`: predicted class, tokens, every
 *                                     method's scores (1e-5) and its three top tokens.
 * Exit 0 when they agree, 1 with one line per difference otherwise. */
#include "attx_weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    *len = s ? fread(s, 1, (size_t)n, f) : 0;
    fclose(f);
    if (s) s[*len] = 0;
    return s;
}

/* &quot; &amp; &lt; &gt; &#39; back to characters, in place */
static size_t html_unescape(char *s, size_t len)
{
    static const struct { const char *name; char c; } ents[] = {
        {"&quot;", '"'}, {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&#39;", '\''}, {"&#x27;", '\''}};
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        int hit = 0;
        for (size_t e = 0; e < sizeof ents / sizeof *ents && !hit; e++) {
            size_t el = strlen(ents[e].name);
            if (i + el <= len && !memcmp(s + i, ents[e].name, el)) {
                s[o++] = ents[e].c;
                i += el;
                hit = 1;
            }
        }
        if (!hit) s[o++] = s[i++];
    }
    s[o] = 0;
    return o;
}

static attx_json_doc *parse_or_die(const char *text, size_t len, const char *what)
{
    attx_json_doc *doc;
    attx_error err;
    if (attx_json_parse(text, len, NULL, &doc, &err) != 0) {
        fprintf(stderr, "test-web: FAILED: %s: %s\n", what, err.msg);
        exit(1);
    }
    return doc;
}

static double num(const attx_json_value *v)
{
    double x = NAN;
    attx_json_double(v, &x);
    return x;
}

/* indices of the 3 largest of s[n] (ties: the earlier first) */
static void top3(const attx_json_value *s, int n, int *top)
{
    for (int t = 0; t < 3; t++) {
        top[t] = -1;
        for (int i = 0; i < n; i++) {
            int used = 0;
            for (int u = 0; u < t; u++) used |= top[u] == i;
            if (!used && (top[t] < 0 || num(attx_json_item(s, (size_t)i)) > num(attx_json_item(s, (size_t)top[t]))))
                top[t] = i;
        }
    }
}

static int compare(const char *dom_path, const char *native_path)
{
    size_t dl, nl;
    char *dom = read_file(dom_path, &dl), *native = read_file(native_path, &nl);
    if (!dom || !native) {
        fprintf(stderr, "test-web: FAILED: cannot read %s or %s\n", dom_path, native_path);
        return 1;
    }
    char *start = strstr(dom, "<pre id=\"attx-result\"");
    start = start ? strchr(start, '>') : NULL;
    char *end = start ? strstr(start, "</pre>") : NULL;
    if (!start || !end || end == start + 1) {
        char *status = strstr(dom, "id=\"attx-status\">");
        fprintf(stderr, "test-web: FAILED: the page wrote no result (status: %.200s)\n",
                status ? status + 17 : "?");
        return 1;
    }
    start++;
    *end = 0;
    size_t rl = html_unescape(start, (size_t)(end - start));
    attx_json_doc *wd = parse_or_die(start, rl, "the page's result"), *nd = parse_or_die(native, nl, "native");
    const attx_json_value *w = attx_json_root(wd), *n = attx_json_root(nd);
    int fails = 0;
    const attx_json_value *logits = attx_json_get(n, "logits");
    int predicted = 0;
    for (size_t k = 1; k < attx_json_len(logits); k++)
        if (num(attx_json_item(logits, k)) > num(attx_json_item(logits, (size_t)predicted))) predicted = (int)k;
    if ((int)num(attx_json_get(w, "predicted")) != predicted || num(attx_json_get(w, "class")) != num(attx_json_get(n, "class"))) {
        fprintf(stderr, "test-web: predicted %g (native %d)\n", num(attx_json_get(w, "predicted")), predicted);
        fails++;
    }
    const attx_json_value *wt = attx_json_get(w, "tokens"), *nt = attx_json_get(n, "tokens");
    int T = (int)attx_json_len(nt);
    int same_tokens = attx_json_len(wt) == (size_t)T;
    for (int i = 0; same_tokens && i < T; i++)
        same_tokens = !strcmp(attx_json_str(attx_json_item(wt, (size_t)i), NULL), attx_json_str(attx_json_item(nt, (size_t)i), NULL));
    if (!same_tokens) {
        fprintf(stderr, "test-web: the tokens differ from native\n");
        fails++;
    }
    const attx_json_value *nm = attx_json_get(n, "methods"), *wm = attx_json_get(w, "methods");
    double worst = 0;
    for (size_t m = 0; m < attx_json_len(nm); m++) {
        const char *name = attx_json_key(nm, m, NULL);
        const attx_json_value *a = attx_json_get(wm, name), *b = attx_json_get(attx_json_member(nm, m), "scores");
        if (!a || attx_json_len(a) != attx_json_len(b)) {
            fprintf(stderr, "test-web: %s: no scores, or not one per token\n", name);
            fails++;
            continue;
        }
        double diff = 0;
        for (size_t i = 0; i < attx_json_len(b); i++)
            diff = fmax(diff, fabs(num(attx_json_item(a, i)) - num(attx_json_item(b, i))));
        worst = fmax(worst, diff);
        int ta[3], tb[3];
        top3(a, (int)attx_json_len(a), ta);
        top3(b, (int)attx_json_len(b), tb);
        if (!(diff <= 1e-5)) {
            fprintf(stderr, "test-web: %s: scores differ by %.3g\n", name, diff);
            fails++;
        } else if (memcmp(ta, tb, sizeof ta)) {
            fprintf(stderr, "test-web: %s: other top tokens than native\n", name);
            fails++;
        }
    }
    if (!fails)
        printf("test-web: passed: predicted class %d, %zu methods, top tokens equal, largest score difference %.2g "
               "(WebAssembly against native)\n", predicted, attx_json_len(nm), worst);
    attx_json_free(wd);
    attx_json_free(nd);
    free(dom);
    free(native);
    return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "urlencode")) {
        for (const unsigned char *p = (const unsigned char *)argv[2]; *p; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-_.~/", *p))
                putchar(*p);
            else
                printf("%%%02X", *p);
        }
        putchar('\n');
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "compare")) return compare(argv[2], argv[3]);
    fprintf(stderr, "usage: web_check urlencode TEXT | web_check compare DOM NATIVE\n");
    return 2;
}
