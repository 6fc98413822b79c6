/* cmd_similar.c — `attx similar MODEL QUERY @CORPUS --top K`: semantic search without a network:
 * the lines of CORPUS nearest to each query by the cosine of their sentence embeddings. */
#include "embedder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int run_similar(int argc, char **argv);

const cli_command cmd_similar = {
    "similar", "the lines of a corpus nearest to a query (semantic search)",
    "usage: attx similar MODEL QUERY @CORPUS [--top K] [--json] [options]\n"
    "\n"
    "Embeds QUERY and every line of CORPUS as `attx embed` does and prints the K lines whose\n"
    "embeddings have the largest cosine similarity with the query's, most similar first (ties\n"
    "by line number). QUERY is a text, or @FILE with one query a line (each gets its own\n"
    "list). CORPUS is @FILE, one text a line (@- reads standard input); empty lines are\n"
    "skipped.\n"
    "\n"
    "  --top K             how many lines to show (default 5)\n"
    "  --json              one JSON object a query on stdout:\n"
    "                      {\"query\":\"...\",\"results\":[{\"rank\":1,\"line\":12,\"score\":0.83,\"text\":\"...\"}]}\n"
    EMBED_OPTIONS_USAGE,
    run_similar,
};

typedef struct hit {
    size_t line;                  /* 0-based index into the corpus */
    double score;
} hit;

static int by_score_desc(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static double norm(const float *v, int dim)
{
    double sq = 0;
    for (int k = 0; k < dim; k++) sq += (double)v[k] * v[k];
    return sqrt(sq);
}

/* cosine similarity, in double; 0 against a zero vector */
static double cosine(const float *a, double norm_a, const float *b, double norm_b, int dim)
{
    double dot = 0;
    for (int k = 0; k < dim; k++) dot += (double)a[k] * b[k];
    return norm_a > 0 && norm_b > 0 ? dot / (norm_a * norm_b) : 0;
}

static void print_results(const embed_texts *queries, size_t q, const embed_texts *corpus, const hit *hits, size_t k,
                          int json)
{
    if (json) {
        attx_buf buf = {0};
        attx_json_writer w;
        attx_jw_init(&w, &buf, 0);
        attx_jw_object_begin(&w);
        attx_jw_key(&w, "query");
        attx_jw_string_n(&w, queries->text[q], queries->len[q]);
        attx_jw_key(&w, "results");
        attx_jw_array_begin(&w);
        for (size_t r = 0; r < k; r++) {
            attx_jw_object_begin(&w);
            attx_jw_key(&w, "rank");
            attx_jw_uint(&w, r + 1);
            attx_jw_key(&w, "line");
            attx_jw_uint(&w, hits[r].line + 1);
            attx_jw_key(&w, "score");
            attx_jw_double(&w, hits[r].score);
            attx_jw_key(&w, "text");
            attx_jw_string_n(&w, corpus->text[hits[r].line], corpus->len[hits[r].line]);
            attx_jw_object_end(&w);
        }
        attx_jw_array_end(&w);
        attx_jw_object_end(&w);
        cli_print_json(&buf);
        attx_buf_free(&buf);
        return;
    }
    if (q > 0) printf("\n");
    printf("query: %.*s\n", (int)queries->len[q], queries->text[q]);
    for (size_t r = 0; r < k; r++) {
        const char *text = corpus->text[hits[r].line];
        int len = (int)corpus->len[hits[r].line];
        printf("%3zu. %.4f  line %-6zu %.*s%s\n", r + 1, hits[r].score, hits[r].line + 1, len > 100 ? 100 : len, text,
               len > 100 ? " ..." : "");
    }
}

static int run_similar(int argc, char **argv)
{
    const char *model_path = NULL, *query_arg = NULL, *corpus_arg = NULL, *top_arg = NULL;
    int json = 0;
    embed_options o = {.normalize = -1};
    for (int i = 1; i < argc; i++) {
        if (cli_end_of_options(argv[i])) continue;
        if (embed_option(&cmd_similar, argc, argv, &i, &o)) continue;
        if (cli_flag(argv[i], "--json")) json = 1;
        else if (cli_value(argc, argv, &i, "--top", &top_arg)) continue;
        else if (cli_is_option(argv[i])) cli_unknown_option(&cmd_similar, argv[i]);
        else if (!model_path) model_path = argv[i];
        else if (!query_arg) query_arg = argv[i];
        else if (!corpus_arg) corpus_arg = argv[i];
        else cli_usage_error(&cmd_similar, "unexpected argument '%s' (quote a text with spaces)", argv[i]);
    }
    if (!model_path || !query_arg || !corpus_arg) cli_usage_error(&cmd_similar, "MODEL, QUERY and @CORPUS are needed");
    if (corpus_arg[0] != '@') cli_usage_error(&cmd_similar, "CORPUS is a file of texts, one a line: @FILE");
    long top = top_arg ? cli_parse_long(&cmd_similar, "--top", top_arg, 1, 1L << 30) : 5;
    cli_set_threads(&cmd_similar, o.threads);

    embedder e;
    embedder_open(&e, model_path, &o);
    embed_texts queries, corpus;
    embed_texts_read(&queries, query_arg);
    embed_texts_read(&corpus, corpus_arg);

    /* the corpus's non-empty lines, embedded chunk by chunk: n × dim floats in all */
    size_t *lines = malloc((corpus.n ? corpus.n : 1) * sizeof *lines), n = 0;
    if (!lines) cli_failf("out of memory");
    for (size_t i = 0; i < corpus.n; i++)
        if (corpus.len[i] > 0) lines[n++] = i;
    if (n == 0) cli_failf("%s: no text in the corpus", corpus_arg + 1);
    embed_texts packed = {.n = n, .text = malloc(n * sizeof *packed.text), .len = malloc(n * sizeof *packed.len)};
    float *vectors = malloc(n * (size_t)e.dim * sizeof *vectors);
    double *norms = malloc(n * sizeof *norms);
    if (!packed.text || !packed.len || !vectors || !norms) cli_failf("out of memory");
    for (size_t i = 0; i < n; i++) {
        packed.text[i] = corpus.text[lines[i]];
        packed.len[i] = corpus.len[lines[i]];
    }
    double start = cli_now();
    for (size_t first = 0; first < n; first += EMBED_CHUNK) {
        size_t count = n - first < EMBED_CHUNK ? n - first : EMBED_CHUNK;
        embedder_run(&e, &packed, first, count, vectors + first * (size_t)e.dim, NULL, n > 256, first, start);
    }
    for (size_t i = 0; i < n; i++) norms[i] = norm(vectors + i * (size_t)e.dim, e.dim);

    float *query = malloc((size_t)e.dim * sizeof *query);
    hit *hits = malloc(n * sizeof *hits);
    if (!query || !hits) cli_failf("out of memory");
    size_t k = (size_t)top < n ? (size_t)top : n;
    for (size_t q = 0; q < queries.n; q++) {
        embedder_run(&e, &queries, q, 1, query, NULL, 0, 0, 0);
        double norm_q = norm(query, e.dim);
        for (size_t i = 0; i < n; i++) {
            hits[i].line = lines[i];
            hits[i].score = cosine(query, norm_q, vectors + i * (size_t)e.dim, norms[i], e.dim);
        }
        qsort(hits, n, sizeof *hits, by_score_desc);
        print_results(&queries, q, &corpus, hits, k, json);
    }
    free(query);
    free(hits);
    free(vectors);
    free(norms);
    free(lines);
    free(packed.text);
    free(packed.len);
    embed_texts_free(&queries);
    embed_texts_free(&corpus);
    embedder_close(&e);
    return EXIT_OK;
}
