/* test_vocab.c — the WordPiece vocabulary trainer: the merges on the classic byte-pair example
 * worked out by hand, the basic tokenizer's words, and on real sentences: no duplicate tokens,
 * the size asked for, and no [UNK] for a word made of characters it has seen. */
#include "testutil.h"

#include "attx_engine.h"

typedef struct { char words[64][32]; int n; } word_list;

static void collect(void *user, const char *w, size_t len)
{
    word_list *l = user;
    if (l->n < 64) {
        snprintf(l->words[l->n], sizeof l->words[0], "%.*s", (int)len, w);
        l->n++;
    }
}

static void test_basic_words(void **state)
{
    (void)state;
    word_list l = {0};
    attx_error err;
    const char *text = "Héllo, WORLD!  don't\tstop";
    assert_int_equal(attx_basic_words(text, strlen(text), 1, collect, &l, &err), 0);
    const char *want[] = {"hello", ",", "world", "!", "don", "'", "t", "stop"};
    assert_int_equal(l.n, 8);
    for (int i = 0; i < 8; i++) assert_string_equal(l.words[i], want[i]);
    l.n = 0;
    assert_int_equal(attx_basic_words("Héllo", strlen("Héllo"), 0, collect, &l, &err), 0);
    assert_string_equal(l.words[0], "Héllo");
    assert_int_equal(attx_basic_words("\xff", 1, 1, collect, &l, &err), -1);
    assert_contains(err.msg, "invalid UTF-8");
}

/* low ×5, lower ×2, newest ×6, widest ×3. Pair counts at the start: ##e ##s 9 and ##s ##t 9
 * (a tie: the pair of earlier pieces, ##e (id 3) ##s (id 6), wins), then ##es ##t 9, then
 * l ##o 7 and ##o ##w 7 (l is older). Characters come most frequent first: ##e 17, ##w 13,
 * ##s 9, ##t 9, l 7, ##o 7, n 6, w 3, ##d 3, ##i 3, ##r 2. */
static void test_classic_merges(void **state)
{
    (void)state;
    const char *texts[] = {"low low low low low", "lower lower", "newest newest newest newest newest newest",
                           "widest widest widest"};
    attx_buf out = {0};
    attx_error err;
    assert_int_equal(attx_wordpiece_train(texts, 4, 19, 1, 2, &out, &err), 0);
    assert_string_equal(out.data, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n##e\n##w\n##s\n##t\nl\n##o\nn\nw\n##d\n##i\n##r\n"
                                  "##es\n##est\nlo\n");
    attx_wordpiece *wp;
    assert_int_equal(attx_wordpiece_load(&wp, out.data, out.len, 1, &err), 0);
    attx_tokens toks = {0};
    assert_int_equal(attx_wordpiece_encode(wp, "lowest", 6, &toks, &err), 0);
    assert_int_equal(toks.n, 3);
    assert_string_equal(attx_wordpiece_token(wp, toks.ids[0]), "lo");
    assert_string_equal(attx_wordpiece_token(wp, toks.ids[1]), "##w");
    assert_string_equal(attx_wordpiece_token(wp, toks.ids[2]), "##est");
    attx_tokens_free(&toks);
    attx_wordpiece_free(wp);

    /* min_frequency stops the merges: only pairs seen 9 times or more */
    attx_buf few = {0};
    assert_int_equal(attx_wordpiece_train(texts, 4, 1000, 1, 9, &few, &err), 0);
    assert_true(strstr(few.data, "##est\n") && !strstr(few.data, "\nlo\n"));
    attx_buf_free(&few);
    attx_buf_free(&out);

    assert_int_equal(attx_wordpiece_train(texts, 4, 3, 1, 2, &out, &err), -1);
    const char *empty[] = {"   ", ""};
    assert_int_equal(attx_wordpiece_train(empty, 2, 100, 1, 2, &out, &err), -1);
    assert_contains(err.msg, "no words");
}

static void test_real_sentences(void **state)
{
    (void)state;
    tu_need_file("../shared/data/sst2/dev.tsv");
    attx_dataset ds;
    attx_error err;
    if (attx_dataset_read(&ds, "../shared/data/sst2/dev.tsv", NULL, &err) != 0) fail_msg("%s", err.msg);
    attx_buf out = {0};
    assert_int_equal(attx_wordpiece_train((const char *const *)ds.texts, ds.n, 2000, 1, 2, &out, &err), 0);
    attx_wordpiece *wp;
    assert_int_equal(attx_wordpiece_load(&wp, out.data, out.len, 1, &err), 0);
    assert_int_equal(attx_wordpiece_vocab_size(wp), 2000);
    /* no token twice: each line's token reads back to its own id */
    for (int32_t id = 0; id < 2000; id++)
        assert_int_equal(attx_wordpiece_id(wp, attx_wordpiece_token(wp, id)), id);
    attx_special_ids sp = attx_wordpiece_special_ids(wp);
    assert_int_equal(sp.pad, 0);
    assert_int_equal(sp.unk, 1);
    assert_int_equal(sp.mask, 4);
    /* every sentence it learned from tokenizes without [UNK] */
    attx_tokens toks = {0};
    size_t tokens = 0, words = 0;
    for (size_t i = 0; i < ds.n; i++) {
        assert_int_equal(attx_wordpiece_encode(wp, ds.texts[i], strlen(ds.texts[i]), &toks, &err), 0);
        for (size_t k = 0; k < toks.n; k++) assert_int_not_equal(toks.ids[k], sp.unk);
        tokens += toks.n;
    }
    for (size_t i = 0; i < ds.n; i++)
        for (const char *p = ds.texts[i]; *p; p++) words += (p == ds.texts[i] || p[-1] == ' ') && *p != ' ';
    print_message("SST-2 dev with a 2,000-token vocabulary learned from it: %zu tokens for %zu words\n", tokens,
                  words);
    assert_true(tokens < 2 * words);   /* merges happened: far fewer tokens than characters */
    attx_tokens_free(&toks);
    attx_wordpiece_free(wp);
    attx_buf_free(&out);
    attx_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_words),
        cmocka_unit_test(test_classic_merges),
        cmocka_unit_test(test_real_sentences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
