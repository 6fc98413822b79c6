/* cmd_vocab.c — `attx vocab DATA --out VOCAB.txt`: learn a WordPiece vocabulary from a data set. */
#include "cli.h"
#include "attx_engine.h"

#include <stdlib.h>
#include <string.h>

static int run_vocab(int argc, char **argv);

const cli_command cmd_vocab = {
    "vocab", "learn a WordPiece vocabulary (vocab.txt) from texts",
    "usage: attx vocab DATA --out VOCAB.txt [--size N] [--min-frequency N] [--cased]\n"
    "                  [--format F] [--text-col C] [--label-col C]\n"
    "\n"
    "Learns a WordPiece vocabulary from the texts of DATA (a TSV/CSV data set, read as\n"
    "`attx train` reads it) by byte-pair merges over the words BertTokenizer's basic\n"
    "tokenizer makes, continuation pieces spelled \"##\". The file has [PAD] [UNK] [CLS] [SEP]\n"
    "[MASK] as ids 0-4, then every character seen, then the merged pieces; Hugging Face's\n"
    "BertTokenizer reads it as it is.\n"
    "\n"
    "  --out FILE          where to write the vocabulary (required)\n"
    "  --size N            vocabulary size (default 8000)\n"
    "  --min-frequency N   stop when the best pair occurs fewer times (default 2)\n"
    "  --cased             keep case and accents (default: lower-case and strip accents)\n"
    "  --format F          auto, tsv, csv, sst2, imdb, agnews, agnews-train (default auto)\n"
    "  --text-col C        text column(s), names joined by + (default: sentence/text/content)\n"
    "  --label-col C       label column (default: label)\n",
    run_vocab,
};

static int run_vocab(int argc, char **argv)
{
    const char *data = NULL, *out = NULL, *size = NULL, *min_freq = NULL;
    attx_dataset_spec spec = {0};
    int cased = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_end_of_options(argv[i])) continue;
        if (cli_flag(argv[i], "--cased")) cased = 1;
        else if (cli_value(argc, argv, &i, "--out", &out)) continue;
        else if (cli_value(argc, argv, &i, "--size", &size)) continue;
        else if (cli_value(argc, argv, &i, "--min-frequency", &min_freq)) continue;
        else if (cli_value(argc, argv, &i, "--format", &spec.format)) continue;
        else if (cli_value(argc, argv, &i, "--text-col", &spec.text_cols)) continue;
        else if (cli_value(argc, argv, &i, "--label-col", &spec.label_col)) continue;
        else if (cli_is_option(argv[i])) cli_unknown_option(&cmd_vocab, argv[i]);
        else if (!data) data = argv[i];
        else cli_usage_error(&cmd_vocab, "unexpected argument '%s'", argv[i]);
    }
    if (!data) cli_usage_error(&cmd_vocab, "DATA is needed");
    if (!out) cli_usage_error(&cmd_vocab, "--out VOCAB.txt is needed");
    int vocab_size = size ? (int)cli_parse_long(&cmd_vocab, "--size", size, 6, 1000000) : 8000;
    int min_frequency = min_freq ? (int)cli_parse_long(&cmd_vocab, "--min-frequency", min_freq, 1, 1000000000) : 2;

    attx_dataset ds;
    attx_error err;
    if (attx_dataset_read(&ds, data, &spec, &err) != 0) cli_fail(&err);
    if (ds.n_skipped)
        fprintf(stderr, "attx: %s: skipped %zu rows (first at line %zu: %s)\n", data, ds.n_skipped,
                ds.first_skipped_line, ds.first_skip_reason);
    attx_buf vocab = {0};
    if (attx_wordpiece_train((const char *const *)ds.texts, ds.n, vocab_size, !cased, min_frequency, &vocab, &err) != 0)
        cli_fail(&err);
    if (attx_write_file(out, vocab.data, vocab.len, &err) != 0) cli_fail(&err);
    size_t lines = 0;
    for (size_t i = 0; i < vocab.len; i++) lines += vocab.data[i] == '\n';
    char n_texts[32];
    printf("wrote %s: %zu tokens learned from %s texts of %s\n", out, lines,
           cli_thousands(ds.n, n_texts, sizeof n_texts), data);
    attx_buf_free(&vocab);
    attx_dataset_free(&ds);
    return EXIT_OK;
}
