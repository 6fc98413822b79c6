/* fuzz_dataset.c — the labelled TSV/CSV data-set reader (attx_dataset_read), which takes a
 * path: the file is written to a scratch directory first.
 *
 * Input: a first line that chooses the reader's settings, then the file's bytes. The first
 * line holds up to five words separated by spaces: format, text columns, label column (each
 * "-" for the default), label base, and the file name's extension (tsv, csv or anything else:
 * "auto" looks at it). Example: "agnews - - 0 csv". Properties checked on success: at least
 * one row; every text valid UTF-8, not blank, without NUL; every label in 0..num_labels-1
 * and num_labels the largest label + 1; a skipped row has a line number and a reason. */
#include "fuzz_util.h"

#include <ctype.h>

#include "attx_weights.h"

/* The next space-separated word of the settings line into out (cap bytes). */
static const char *next_word(const char *p, const char *end, char *out, size_t cap)
{
    while (p < end && *p == ' ') p++;
    size_t n = 0;
    while (p < end && *p != ' ') {
        if (n + 1 < cap) out[n++] = *p;
        p++;
    }
    out[n] = '\0';
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data, *end = text + size;
    const char *nl = memchr(text, '\n', size);
    const char *line_end = nl ? nl : end;
    char format[32], text_cols[64], label_col[64], base[16], ext[8];
    const char *p = next_word(text, line_end, format, sizeof format);
    p = next_word(p, line_end, text_cols, sizeof text_cols);
    p = next_word(p, line_end, label_col, sizeof label_col);
    p = next_word(p, line_end, base, sizeof base);
    next_word(p, line_end, ext, sizeof ext);
    attx_dataset_spec spec = {
        .format = format[0] && strcmp(format, "-") != 0 ? format : NULL,
        .text_cols = text_cols[0] && strcmp(text_cols, "-") != 0 ? text_cols : NULL,
        .label_col = label_col[0] && strcmp(label_col, "-") != 0 ? label_col : NULL,
        .label_base = (int)strtol(base, NULL, 10) % 1000,
    };
    char name[32];
    snprintf(name, sizeof name, "data.%s", strcmp(ext, "tsv") == 0 ? "tsv" : strcmp(ext, "csv") == 0 ? "csv" : "txt");
    const char *body = nl ? nl + 1 : end;
    const char *path = fuzz_write_file(name, body, (size_t)(end - body));

    attx_dataset ds;
    attx_error err;
    if (attx_dataset_read(&ds, path, &spec, &err) != 0) {
        FUZZ_CHECK(strncmp(err.msg, path, strlen(path)) == 0 && ds.n == 0 && ds.texts == NULL);
        return 0;
    }
    FUZZ_CHECK(ds.n >= 1 && ds.num_labels >= 1);
    int32_t max_label = -1;
    for (size_t i = 0; i < ds.n; i++) {
        const char *t = ds.texts[i];
        size_t len = strlen(t), bad, nonblank = 0;
        FUZZ_CHECK(len > 0 && attx_utf8_valid(t, len, &bad));
        for (size_t k = 0; k < len; k++) nonblank += !isspace((unsigned char)t[k]);
        FUZZ_CHECK(nonblank > 0);
        FUZZ_CHECK(ds.labels[i] >= 0 && ds.labels[i] < ds.num_labels);
        if (ds.labels[i] > max_label) max_label = ds.labels[i];
    }
    FUZZ_CHECK(max_label + 1 == ds.num_labels);
    if (ds.n_skipped) FUZZ_CHECK(ds.first_skipped_line >= 1 && ds.first_skip_reason[0] != '\0');
    attx_dataset_free(&ds);
    return 0;
}
