/* bench_tokenizer.c — WordPiece speed: loading bert-base-uncased's vocab.txt, and encoding the
 * IMDb test reviews (../shared/data/imdb/test.tsv, 32 MB of English) plus two adversarial
 * 1 MB inputs (a single word; one letter followed by combining marks).
 *
 *   build/test/bench_tokenizer
 *
 * Each figure is the best of several runs. Run from the repository root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attx_engine.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *read_or_die(const char *path, size_t *len)
{
    char *data;
    attx_error err;
    if (attx_read_file(path, (size_t)1 << 30, &data, len, &err) != 0) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
        exit(1);
    }
    return data;
}

/* Best time of `runs` encodings of text; prints MB/s and tokens. */
static void bench_encode(const char *what, const attx_wordpiece *wp, const char *text, size_t len, int runs)
{
    attx_tokens t = {0};
    attx_error err;
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        if (attx_wordpiece_encode(wp, text, len, &t, &err) != 0) {
            fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
            exit(1);
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("%-34s %8.2f MB %10zu tokens %9.2f ms %8.1f MB/s\n", what, (double)len / 1e6, t.n,
           best * 1e3, (double)len / 1e6 / best);
    attx_tokens_free(&t);
}

int main(void)
{
    size_t vlen, tlen;
    char *vocab = read_or_die("../shared/data/bert-vocab/vocab.txt", &vlen);
    char *text = read_or_die("../shared/data/imdb/test.tsv", &tlen);
    attx_error err;
    attx_wordpiece *wp = NULL;
    double best = 1e30;
    for (int r = 0; r < 20; r++) {
        attx_wordpiece_free(wp);
        double t0 = now();
        if (attx_wordpiece_load(&wp, vocab, vlen, 1, &err) != 0) {
            fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
            return 1;
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("%-34s %8zu ids %25.2f ms\n", "load vocab.txt", attx_wordpiece_vocab_size(wp), best * 1e3);

    bench_encode("encode imdb/test.tsv (uncased)", wp, text, tlen, 3);
    bench_encode("encode first 1 MB of it", wp, text, 1000000, 5);
    size_t big = 1 << 20;
    char *s = malloc(big);
    memset(s, 'x', big);
    bench_encode("encode a 1 MB word", wp, s, big, 5);
    s[0] = 'a';
    for (size_t i = 1; i + 2 <= big; i += 2) memcpy(s + i, (i / 2) % 2 ? "\xCC\x96" : "\xCC\x81", 2);
    bench_encode("encode 'a' + 0.5M combining marks", wp, s, big - 1, 5);
    attx_wordpiece *cased = NULL;
    if (attx_wordpiece_load(&cased, vocab, vlen, 0, &err) != 0) return 1;
    bench_encode("encode imdb/test.tsv (cased, NFC)", cased, text, tlen, 3);
    attx_wordpiece_free(cased);
    free(s);
    attx_wordpiece_free(wp);
    free(text);
    free(vocab);
    return 0;
}
