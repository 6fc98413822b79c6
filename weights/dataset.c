/* dataset.c — labelled text data sets from TSV and CSV files.
 *
 * TSV fields are split on tabs with no quoting (GLUE's SST-2 and the IMDb files keep quotes
 * as text); CSV fields follow RFC 4180 ("..." quoting, "" for a quote, line breaks allowed
 * inside quotes; CRLF or LF line ends). A record that cannot be used (wrong number of
 * fields, a label that is not an integer in range, empty or invalid UTF-8 text) is skipped
 * and counted; the first one is described so that the user can find it. */
#include "attx_weights.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DATASET_FILE ((size_t)2 << 30)
#define MAX_FIELDS 64
#define MAX_TEXT_COLS 4

/* One record: its fields, unescaped and NUL-terminated, in the reader's scratch. */
typedef struct record {
    const char *field[MAX_FIELDS];
    size_t off[MAX_FIELDS];   /* where each field starts in the scratch */
    size_t len[MAX_FIELDS];
    int n;
    int too_many;
    size_t line;              /* 1-based line where the record starts */
} record;

typedef struct reader {
    const char *p, *end;
    char delim;
    int quoting;              /* CSV */
    size_t line;
    char *scratch;            /* unescaped field bytes of the current record */
    size_t scratch_cap;
    int unterminated;         /* a quote was still open at the end of the file */
} reader;

static int scratch_reserve(reader *r, size_t need)
{
    if (need <= r->scratch_cap) return 0;
    size_t cap = r->scratch_cap ? r->scratch_cap : 4096;
    while (cap < need) cap *= 2;
    char *s = realloc(r->scratch, cap);
    if (!s) return -1;
    r->scratch = s;
    r->scratch_cap = cap;
    return 0;
}

/* Reads the next record; 0 at the end of the input, 1 when a record was read, -1 when out of
 * memory. Fields point into r->scratch (valid until the next call). */
static int next_record(reader *r, record *rec)
{
    if (r->p >= r->end) return 0;
    rec->n = 0;
    rec->too_many = 0;
    rec->line = r->line;
    size_t used = 0;
    for (;;) {
        size_t start = used;
        if (r->quoting && r->p < r->end && *r->p == '"') {
            r->p++;
            for (;;) {
                if (r->p >= r->end) {
                    r->unterminated = 1;
                    break;
                }
                char c = *r->p++;
                if (c == '"') {
                    if (r->p < r->end && *r->p == '"') r->p++;   /* "" is one quote */
                    else break;
                }
                if (c == '\n') r->line++;
                if (scratch_reserve(r, used + 2) != 0) return -1;
                r->scratch[used++] = c;
            }
            /* anything between the closing quote and the delimiter is kept as text */
        }
        while (r->p < r->end && *r->p != r->delim && *r->p != '\n') {
            if (scratch_reserve(r, used + 2) != 0) return -1;
            r->scratch[used++] = *r->p++;
        }
        if (used > start && r->scratch[used - 1] == '\r' && (r->p >= r->end || *r->p == '\n')) used--;
        if (scratch_reserve(r, used + 1) != 0) return -1;
        r->scratch[used++] = '\0';
        if (rec->n < MAX_FIELDS) {
            rec->off[rec->n] = start;
            rec->len[rec->n] = used - 1 - start;
            rec->n++;
        } else {
            rec->too_many = 1;
        }
        if (r->p < r->end && *r->p == r->delim) {
            r->p++;
            continue;
        }
        if (r->p < r->end) r->p++;   /* the '\n' */
        r->line++;
        break;
    }
    for (int i = 0; i < rec->n; i++) rec->field[i] = r->scratch + rec->off[i];
    return 1;
}

/* ---- the columns a format reads ---- */
typedef struct layout {
    char delim;
    int header;
    int n_text;
    int text_col[MAX_TEXT_COLS];
    int label_col;
    int label_base;
    int n_fields;             /* fields a record must have (0: at least the columns used) */
} layout;

static int field_index(const record *hdr, const char *name, size_t name_len)
{
    for (int i = 0; i < hdr->n; i++)
        if (hdr->len[i] == name_len && memcmp(hdr->field[i], name, name_len) == 0) return i;
    return -1;
}

/* Column list "a+b" (names with a header, 0-based numbers without) into cols. */
static int parse_columns(const char *path, const char *list, const record *hdr, int *cols, int *n,
                         attx_error *err)
{
    *n = 0;
    const char *s = list;
    while (*s) {
        const char *e = strchr(s, '+');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (*n == MAX_TEXT_COLS) return attx_fail(err, "%s: more than %d text columns", path, MAX_TEXT_COLS);
        int idx = -1;
        if (hdr) {
            idx = field_index(hdr, s, len);
            if (idx < 0) return attx_fail(err, "%s: no column named '%.*s' in the header", path, (int)len, s);
        } else {
            char *stop;
            long v = strtol(s, &stop, 10);
            if (stop != s + len || len == 0 || v < 0 || v >= MAX_FIELDS)
                return attx_fail(err, "%s: without a header, columns are numbers from 0 ('%.*s' is not)",
                                 path, (int)len, s);
            idx = (int)v;
        }
        cols[(*n)++] = idx;
        s += len;
        if (*s == '+') s++;
    }
    return *n ? 0 : attx_fail(err, "%s: no text column given", path);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Fills the layout from the spec, the file name and (for formats with one) the header. */
static int make_layout(const char *path, const attx_dataset_spec *spec, const char *text, size_t len,
                       layout *lay, record *hdr, reader *r, attx_error *err)
{
    const char *format = spec && spec->format ? spec->format : "auto";
    const char *text_cols = spec ? spec->text_cols : NULL, *label_col = spec ? spec->label_col : NULL;
    memset(lay, 0, sizeof *lay);
    lay->label_base = spec ? spec->label_base : 0;
    if (strcmp(format, "auto") == 0) {
        size_t first_line = 0;
        while (first_line < len && text[first_line] != '\n') first_line++;
        static const char ag_header[] = "label,title,description";
        if (first_line >= sizeof ag_header - 1 && memcmp(text, ag_header, sizeof ag_header - 1) == 0 &&
            (first_line == sizeof ag_header - 1 || text[sizeof ag_header - 1] == '\r'))
            format = "agnews";
        else
            format = memchr(text, '\t', first_line) || ends_with(path, ".tsv") ? "tsv" : "csv";
    }
    if (strcmp(format, "sst2") == 0 || strcmp(format, "imdb") == 0) format = "tsv";
    if (strcmp(format, "agnews") == 0) {           /* test.csv: label,title,description; 1-4 */
        format = "csv";
        if (!text_cols) text_cols = "title+description";
        if (!spec || spec->label_base == 0) lay->label_base = 1;
    }
    if (strcmp(format, "agnews-train") == 0) {     /* Hugging Face form: text,label; no header */
        lay->delim = ',';
        lay->n_text = 1;
        lay->text_col[0] = 0;
        lay->label_col = 1;
        lay->n_fields = 2;
        return 0;
    }
    if (strcmp(format, "tsv") == 0) lay->delim = '\t';
    else if (strcmp(format, "csv") == 0) lay->delim = ',';
    else
        return attx_fail(err, "%s: unknown data format '%s' (auto, tsv, csv, sst2, imdb, agnews, agnews-train)",
                         path, format);
    lay->header = 1;
    r->delim = lay->delim;
    r->quoting = lay->delim == ',';
    int got = next_record(r, hdr);
    if (got < 0) return attx_fail(err, "%s: out of memory", path);
    if (got == 0) return attx_fail(err, "%s: the file is empty", path);
    lay->n_fields = hdr->n;   /* (hdr points into the scratch: used here only) */
    int rc = 0;
    if (!label_col) label_col = "label";
    lay->label_col = field_index(hdr, label_col, strlen(label_col));
    if (lay->label_col < 0) rc = attx_fail(err, "%s: no column named '%s' in the header", path, label_col);
    if (rc == 0 && text_cols) {
        rc = parse_columns(path, text_cols, hdr, lay->text_col, &lay->n_text, err);
    } else if (rc == 0) {
        const char *usual[] = {"sentence", "text", "content", "review"};
        for (size_t i = 0; i < sizeof usual / sizeof usual[0] && !lay->n_text; i++) {
            int idx = field_index(hdr, usual[i], strlen(usual[i]));
            if (idx >= 0) lay->text_col[lay->n_text++] = idx;
        }
        if (!lay->n_text)
            rc = attx_fail(err, "%s: no text column (sentence, text, content or review) in the header; "
                                "name one with --text-col", path);
    }
    return rc;
}

__attribute__((format(printf, 3, 4))) static void note_skip(attx_dataset *ds, size_t line, const char *fmt, ...)
{
    if (ds->n_skipped++ == 0) {
        ds->first_skipped_line = line;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ds->first_skip_reason, sizeof ds->first_skip_reason, fmt, ap);
        va_end(ap);
    }
}

static int add_row(attx_dataset *ds, char *text_copy, int32_t label)
{
    if (ds->n == ds->cap) {
        size_t cap = ds->cap ? 2 * ds->cap : 1024;
        char **t = realloc(ds->texts, cap * sizeof *t);
        if (!t) return -1;
        ds->texts = t;
        int32_t *l = realloc(ds->labels, cap * sizeof *l);
        if (!l) return -1;
        ds->labels = l;
        ds->cap = cap;
    }
    ds->texts[ds->n] = text_copy;
    ds->labels[ds->n] = label;
    ds->n++;
    if (label + 1 > ds->num_labels) ds->num_labels = label + 1;
    return 0;
}

int attx_dataset_read(attx_dataset *ds, const char *path, const attx_dataset_spec *spec, attx_error *err)
{
    memset(ds, 0, sizeof *ds);
    char *text;
    size_t len;
    if (attx_read_file(path, MAX_DATASET_FILE, &text, &len, err) != 0) return -1;
    reader r = {.p = text, .end = text + len, .line = 1};
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) r.p += 3;   /* a UTF-8 byte-order mark */
    record hdr = {0}, rec;
    layout lay;
    int rc = make_layout(path, spec, text, len, &lay, &hdr, &r, err);
    if (rc == 0 && !lay.header && spec && (spec->text_cols || spec->label_col)) {
        int label_only[MAX_TEXT_COLS];   /* parse_columns fills up to MAX_TEXT_COLS */
        int n_label = 0;
        if (spec->text_cols) rc = parse_columns(path, spec->text_cols, NULL, lay.text_col, &lay.n_text, err);
        if (rc == 0 && spec->label_col) {
            rc = parse_columns(path, spec->label_col, NULL, label_only, &n_label, err);
            if (rc == 0 && n_label != 1)
                rc = attx_fail(err, "%s: the label is one column ('%s' names %d)", path, spec->label_col, n_label);
            if (rc == 0) lay.label_col = label_only[0];
        }
        lay.n_fields = 0;
    }
    r.delim = lay.delim;
    r.quoting = lay.delim == ',';
    while (rc == 0) {
        int got = next_record(&r, &rec);
        if (got < 0) {
            rc = attx_fail(err, "%s: out of memory", path);
            break;
        }
        if (got == 0) break;
        if (r.unterminated) {          /* the rest of the file went into one field */
            note_skip(ds, rec.line, "%s", "a quote opened in this record is never closed");
            continue;
        }
        if (rec.n == 1 && rec.len[0] == 0) continue;                   /* a blank line */
        int needed = lay.label_col;
        for (int i = 0; i < lay.n_text; i++) needed = lay.text_col[i] > needed ? lay.text_col[i] : needed;
        if (rec.too_many || (lay.n_fields && rec.n != lay.n_fields) || rec.n <= needed) {
            if (rec.too_many) note_skip(ds, rec.line, "more than %d fields", MAX_FIELDS);
            else note_skip(ds, rec.line, "%d fields where %d are needed", rec.n,
                           lay.n_fields ? lay.n_fields : needed + 1);
            continue;
        }
        /* the label: an integer, minus the format's base, ≥ 0 */
        const char *lf = rec.field[lay.label_col];
        char *stop;
        errno = 0;
        long label = strtol(lf, &stop, 10);
        while (stop && isspace((unsigned char)*stop)) stop++;
        /* compared, not subtracted: label - label_base could overflow (e.g. LONG_MIN - 1) */
        if (rec.len[lay.label_col] == 0 || errno || *stop || label < lay.label_base ||
            label > lay.label_base + 1000000LL) {
            note_skip(ds, rec.line, "label '%.40s' is not a class number", lf);
            continue;
        }
        /* the text: the text columns joined by one space */
        size_t total = 0;
        for (int i = 0; i < lay.n_text; i++) total += rec.len[lay.text_col[i]] + 1;
        char *joined = malloc(total + 1);
        if (!joined) {
            rc = attx_fail(err, "%s: out of memory", path);
            break;
        }
        size_t at = 0;
        for (int i = 0; i < lay.n_text; i++) {
            if (i) joined[at++] = ' ';
            memcpy(joined + at, rec.field[lay.text_col[i]], rec.len[lay.text_col[i]]);
            at += rec.len[lay.text_col[i]];
        }
        joined[at] = '\0';
        size_t bad;
        size_t nonblank = 0;
        for (size_t i = 0; i < at; i++) nonblank += !isspace((unsigned char)joined[i]);
        if (!attx_utf8_valid(joined, at, &bad) || memchr(joined, '\0', at) || nonblank == 0) {
            note_skip(ds, rec.line, "%s", nonblank == 0 ? "empty text" : "text is not valid UTF-8");
            free(joined);
            continue;
        }
        if (add_row(ds, joined, (int32_t)(label - lay.label_base)) != 0) {
            free(joined);
            rc = attx_fail(err, "%s: out of memory", path);
        }
    }
    if (rc == 0 && ds->n == 0) {
        if (ds->n_skipped)
            rc = attx_fail(err, "%s: no usable rows (%zu skipped; line %zu: %s)", path, ds->n_skipped,
                           ds->first_skipped_line, ds->first_skip_reason);
        else
            rc = attx_fail(err, "%s: no rows", path);
    }
    free(r.scratch);
    free(text);
    if (rc != 0) attx_dataset_free(ds);
    return rc;
}

void attx_dataset_free(attx_dataset *ds)
{
    for (size_t i = 0; i < ds->n; i++) free(ds->texts[i]);
    free(ds->texts);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}
