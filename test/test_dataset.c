/* test_dataset.c — the TSV/CSV data-set reader: the real files of ../shared/data (row and
 * class counts from its README, first rows as the files spell them), RFC 4180 quoting cases
 * written by hand, skipped-row accounting, and errors. */
#include "testutil.h"

#define DATA "../shared/data/"

static void count_labels(const attx_dataset *ds, size_t *counts, int n)
{
    memset(counts, 0, (size_t)n * sizeof *counts);
    for (size_t i = 0; i < ds->n; i++) {
        assert_true(ds->labels[i] >= 0 && ds->labels[i] < n);
        counts[ds->labels[i]]++;
    }
}

static void test_real_files(void **state)
{
    (void)state;
    const char *files[] = {DATA "sst2/train.tsv", DATA "sst2/dev.tsv", DATA "imdb/test.tsv", DATA "agnews/test.csv",
                           DATA "agnews/train_subset5000.csv"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) tu_need_file(files[i]);
    attx_dataset ds;
    attx_error err;
    size_t c[4];

    assert_int_equal(attx_dataset_read(&ds, DATA "sst2/train.tsv", NULL, &err), 0);
    assert_int_equal(ds.n, 67349);
    assert_int_equal(ds.n_skipped, 0);
    count_labels(&ds, c, 2);
    assert_int_equal(c[1], 37569);
    assert_string_equal(ds.texts[0], "hide new secretions from the parental units");
    attx_dataset_free(&ds);

    attx_dataset_spec sst2 = {.format = "sst2"};
    assert_int_equal(attx_dataset_read(&ds, DATA "sst2/dev.tsv", &sst2, &err), 0);
    assert_int_equal(ds.n, 872);
    count_labels(&ds, c, 2);
    assert_int_equal(c[1], 444);
    assert_string_equal(ds.texts[0], "one long string of cliches .");
    attx_dataset_free(&ds);

    assert_int_equal(attx_dataset_read(&ds, DATA "imdb/test.tsv", NULL, &err), 0);
    assert_int_equal(ds.n, 25000);
    assert_int_equal(ds.n_skipped, 0);
    count_labels(&ds, c, 2);
    assert_int_equal(c[0], 12500);
    attx_dataset_free(&ds);

    /* AG News test: header label,title,description found by "auto"; labels 1-4 -> 0-3 */
    assert_int_equal(attx_dataset_read(&ds, DATA "agnews/test.csv", NULL, &err), 0);
    assert_int_equal(ds.n, 7600);
    assert_int_equal(ds.num_labels, 4);
    count_labels(&ds, c, 4);
    for (int k = 0; k < 4; k++) assert_int_equal(c[k], 1900);
    assert_int_equal(ds.labels[0], 2);
    assert_string_equal(ds.texts[0], "Fears for T N pension after talks Unions representing workers at Turner   "
                                     "Newall say they are 'disappointed' after talks with stricken parent firm "
                                     "Federal Mogul.");
    assert_true(strncmp(ds.texts[1], "The Race is On: Second Private Team Sets Launch Date for Human "
                                     "Spaceflight (SPACE.com) SPACE.com - TORONTO, Canada -- A second\\team", 100) == 0);
    attx_dataset_free(&ds);

    attx_dataset_spec ag_train = {.format = "agnews-train"};
    assert_int_equal(attx_dataset_read(&ds, DATA "agnews/train_subset5000.csv", &ag_train, &err), 0);
    assert_int_equal(ds.n, 5000);
    count_labels(&ds, c, 4);
    assert_int_equal(c[0], 1259);
    assert_int_equal(c[1], 1257);
    assert_int_equal(c[2], 1281);
    assert_int_equal(c[3], 1203);
    assert_int_equal(ds.labels[0], 3);
    assert_true(strncmp(ds.texts[0], "BEA buzzing about Beehive BURLINGAME, CALIF.-- BEA", 50) == 0);
    attx_dataset_free(&ds);
}

static attx_dataset read_text(const char *name, const char *content, const attx_dataset_spec *spec)
{
    char *dir = tu_mkdtemp(), *path = tu_path(dir, name);
    tu_write_str(path, content);
    attx_dataset ds;
    attx_error err;
    if (attx_dataset_read(&ds, path, spec, &err) != 0) fail_msg("%s", err.msg);
    free(path);
    tu_rmdir(dir);
    return ds;
}

static void test_csv_quoting(void **state)
{
    (void)state;
    const char *csv =
        "\xEF\xBB\xBFid,text,label\r\n"
        "1,plain,0\r\n"
        "2,\"with, comma\",1\r\n"
        "3,\"a \"\"quoted\"\" word\",2\n"
        "4,\"two\nlines\",1\n"
        "\n"
        "5,\"\",1\n"                        /* empty text: skipped */
        "6,no label,\n"                     /* empty label: skipped */
        "7,\"x\",1,extra\n"                 /* four fields: skipped */
        "8,bad \xC3\x28 utf8,0\n"           /* invalid UTF-8: skipped */
        "9,last,-1\n"                       /* negative label: skipped */
        "10,\"end\",3";                     /* no final newline */
    attx_dataset ds = read_text("d.csv", csv, NULL);
    assert_int_equal(ds.n, 5);
    assert_string_equal(ds.texts[0], "plain");
    assert_string_equal(ds.texts[1], "with, comma");
    assert_string_equal(ds.texts[2], "a \"quoted\" word");
    assert_string_equal(ds.texts[3], "two\nlines");
    assert_string_equal(ds.texts[4], "end");
    assert_int_equal(ds.labels[2], 2);
    assert_int_equal(ds.labels[4], 3);
    assert_int_equal(ds.num_labels, 4);
    assert_int_equal(ds.n_skipped, 5);
    assert_int_equal(ds.first_skipped_line, 8);       /* the record "5,"",1" (line 7 is blank) */
    assert_contains(ds.first_skip_reason, "empty text");
    attx_dataset_free(&ds);

    /* TSV keeps quotes as text; named columns joined with a space; a label base */
    attx_dataset_spec spec = {.format = "tsv", .text_cols = "title+body", .label_col = "y", .label_base = 1};
    ds = read_text("d.txt", "y\ttitle\tbody\n1\t\"Hi\"\tthere\n2\tA\tB\n", &spec);
    assert_int_equal(ds.n, 2);
    assert_string_equal(ds.texts[0], "\"Hi\" there");
    assert_int_equal(ds.labels[0], 0);
    assert_int_equal(ds.labels[1], 1);
    attx_dataset_free(&ds);

    /* a quote never closed: the rest of the file is one field, the record is skipped */
    ds = read_text("q.csv", "text,label\nok,1\n\"open,1\nmore,0\n", NULL);
    assert_int_equal(ds.n, 1);
    assert_int_equal(ds.n_skipped, 1);
    attx_dataset_free(&ds);

    /* headerless CSV with numbered columns */
    attx_dataset_spec numbered = {.format = "agnews-train"};
    ds = read_text("n.csv", "\"x, y\",2\nz,0\n", &numbered);
    assert_int_equal(ds.n, 2);
    assert_string_equal(ds.texts[0], "x, y");
    attx_dataset_free(&ds);
}

static void expect_error(const char *name, const char *content, const attx_dataset_spec *spec, const char *msg)
{
    char *dir = tu_mkdtemp(), *path = tu_path(dir, name);
    if (content) tu_write_str(path, content);
    attx_dataset ds;
    attx_error err;
    assert_int_equal(attx_dataset_read(&ds, path, spec, &err), -1);
    assert_contains(err.msg, name);
    assert_contains(err.msg, msg);
    assert_null(ds.texts);
    free(path);
    tu_rmdir(dir);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("missing.tsv", NULL, NULL, "missing.tsv");
    expect_error("empty.tsv", "", NULL, "empty");
    expect_error("nolabel.tsv", "a\tsentence\n1\tx\n", NULL, "no column named 'label'");
    expect_error("notext.tsv", "label\tfoo\n1\tx\n", NULL, "no text column");
    attx_dataset_spec cols = {.text_cols = "body"};
    expect_error("col.csv", "label,text\n1,x\n", &cols, "no column named 'body'");
    attx_dataset_spec fmt = {.format = "parquet"};
    expect_error("f.csv", "label,text\n1,x\n", &fmt, "unknown data format 'parquet'");
    expect_error("bad.tsv", "label\tsentence\nx\thello\ny\tworld\n", NULL, "no usable rows (2 skipped; line 2");
    expect_error("header.tsv", "label\tsentence\n", NULL, "no rows");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_files),
        cmocka_unit_test(test_csv_quoting),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
