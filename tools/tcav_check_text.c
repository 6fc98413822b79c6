/* tcav_check_text.c — `attx tcav-check --text`: T-TCAV on a text model against the ground truth
 * of word swaps, as docs/tcav-preregistration.md §6 fixes it. The concept's words are taken out
 * of the target sentences (each replaced by each of the plan's neutral words) and the change of
 * the objective is the truth; every test mode, objective and score is compared with it, layer by
 * layer, for every class of the model. */
#include "cli.h"
#include "cmd_tcav.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- words ------------------------------------------------------------------------------------ */

typedef struct word_list {
    char **words;
    int n, cap;
} word_list;

static int word_index(const word_list *w, const char *s, size_t len)
{
    for (int i = 0; i < w->n; i++)
        if (strlen(w->words[i]) == len && memcmp(w->words[i], s, len) == 0) return i;
    return -1;
}

static void word_add(word_list *w, const char *s, size_t len)
{
    if (word_index(w, s, len) >= 0) return;
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        w->words = realloc(w->words, (size_t)w->cap * sizeof *w->words);
        if (!w->words) cli_failf("out of memory");
    }
    w->words[w->n] = malloc(len + 1);
    if (!w->words[w->n]) cli_failf("out of memory");
    for (size_t i = 0; i < len; i++) w->words[w->n][i] = (char)tolower((unsigned char)s[i]);
    w->words[w->n++][len] = '\0';
}

static void word_list_free(word_list *w)
{
    for (int i = 0; i < w->n; i++) free(w->words[i]);
    free(w->words);
}

/* The words of a text: its runs of ASCII letters, lower-cased, each passed to fn. */
static void each_word(const char *text, size_t len, void (*fn)(void *, const char *, size_t), void *user)
{
    char buf[256];
    for (size_t i = 0; i < len;) {
        if (!isalpha((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && isalpha((unsigned char)text[j])) j++;
        size_t n = j - i < sizeof buf ? j - i : sizeof buf - 1;
        for (size_t k = 0; k < n; k++) buf[k] = (char)tolower((unsigned char)text[i + k]);
        fn(user, buf, n);
        i = j;
    }
}

static void add_word(void *user, const char *s, size_t n)
{
    word_add(user, s, n);
}

/* The lines of a file (blank ones skipped), as malloc'd strings. */
static char **read_lines(const char *path, int *count)
{
    char *text;
    size_t len;
    attx_error err;
    if (attx_read_file(path, ATTX_MAX_TEXT_BYTES, &text, &len, &err) != 0) cli_fail(&err);
    char **lines = NULL;
    int n = 0, cap = 0;
    for (size_t at = 0; at < len;) {
        size_t end = at;
        while (end < len && text[end] != '\n') end++;
        size_t k = end - at;
        if (k && text[at + k - 1] == '\r') k--;
        int blank = 1;
        for (size_t i = 0; i < k && blank; i++) blank = isspace((unsigned char)text[at + i]) != 0;
        if (!blank) {
            if (n == cap) {
                cap = cap ? 2 * cap : 128;
                lines = realloc(lines, (size_t)cap * sizeof *lines);
                if (!lines) cli_failf("out of memory");
            }
            lines[n] = malloc(k + 1);
            if (!lines[n]) cli_failf("out of memory");
            memcpy(lines[n], text + at, k);
            lines[n++][k] = '\0';
        }
        at = end + 1;
    }
    free(text);
    if (n == 0) cli_failf("%s: no lines", path);
    *count = n;
    return lines;
}

/* The concept's words: those of its lines, without "pad" and without any word that occurs in
 * max_fraction or more of the neutral lines (the plan's rule). */
static void concept_words(const char *concept_path, const char *const *neutral, int n_neutral, double max_fraction,
                          word_list *out)
{
    int n;
    char **lines = read_lines(concept_path, &n);
    word_list all = {0};
    for (int i = 0; i < n; i++) each_word(lines[i], strlen(lines[i]), add_word, &all);
    for (int i = 0; i < n; i++) free(lines[i]);
    free(lines);
    int *in_lines = calloc((size_t)all.n + 1, sizeof *in_lines), neutral_lines = 0;
    if (!in_lines) cli_failf("out of memory");
    for (int f = 0; f < n_neutral; f++) {
        char **nl = read_lines(neutral[f], &n);
        for (int i = 0; i < n; i++) {
            word_list here = {0};
            each_word(nl[i], strlen(nl[i]), add_word, &here);
            for (int k = 0; k < here.n; k++) {
                int at = word_index(&all, here.words[k], strlen(here.words[k]));
                if (at >= 0) in_lines[at]++;
            }
            word_list_free(&here);
            free(nl[i]);
        }
        free(nl);
        neutral_lines += n;
    }
    for (int k = 0; k < all.n; k++)
        if (strcmp(all.words[k], "pad") != 0 && in_lines[k] < max_fraction * neutral_lines)
            word_add(out, all.words[k], strlen(all.words[k]));
    free(in_lines);
    word_list_free(&all);
    if (out->n == 0) cli_failf("%s: no concept words are left after the neutral sets' common words", concept_path);
}

typedef struct has_word {
    const word_list *w;
    int found;
} has_word;

static void check_word(void *user, const char *s, size_t n)
{
    has_word *h = user;
    h->found += word_index(h->w, s, n) >= 0;
}

/* text with each concept word (a letter run, case ignored) replaced by `with` */
static char *replace_words(const char *text, const word_list *w, const char *with)
{
    size_t len = strlen(text), cap = 2 * len + 64, n = 0;
    char *out = malloc(cap);
    if (!out) cli_failf("out of memory");
    for (size_t i = 0; i < len;) {
        size_t j = i;
        if (isalpha((unsigned char)text[i])) {
            while (j < len && isalpha((unsigned char)text[j])) j++;
            char buf[256];
            size_t k = j - i < sizeof buf ? j - i : sizeof buf - 1;
            for (size_t q = 0; q < k; q++) buf[q] = (char)tolower((unsigned char)text[i + q]);
            const char *piece = word_index(w, buf, k) >= 0 && j - i < sizeof buf ? with : NULL;
            size_t pl = piece ? strlen(piece) : j - i;
            while (n + pl + 1 > cap) {
                cap *= 2;
                out = realloc(out, cap);
                if (!out) cli_failf("out of memory");
            }
            memcpy(out + n, piece ? piece : text + i, pl);
            n += pl;
        } else {
            j = i + 1;
            if (n + 2 > cap) {
                cap *= 2;
                out = realloc(out, cap);
                if (!out) cli_failf("out of memory");
            }
            out[n++] = text[i];
        }
        i = j;
    }
    out[n] = '\0';
    return out;
}

/* ---- the model on texts ------------------------------------------------------------------------ */

static void text_logits(const attx_model *m, attx_ctx *ctx, const char *text, float *z)
{
    attx_encoding enc;
    attx_error err;
    if (attx_encode_text(m, text, strlen(text), &enc, &err) != 0) cli_fail(&err);
    attx_batch b = {.B = 1, .T = enc.length, .ids = enc.ids, .lengths = &enc.length};
    attx_outputs out;
    attx_ctx_reset(ctx);
    if (attx_forward(m, ctx, &b, &out, &err) != 0) cli_fail(&err);
    memcpy(z, out.logits->data, (size_t)attx_model_config(m)->num_labels * sizeof *z);
    attx_encoding_free(&enc);
}

/* an in-memory set of encoded texts, the targets attx_tcav_run reads */
typedef struct text_set {
    int count;
    int32_t **ids, *lengths;
    attx_tcav_memory mem;
    attx_tcav_source src;
} text_set;

static void text_set_make(text_set *s, const attx_model *m, char *const *texts, int n)
{
    s->count = n;
    s->ids = calloc((size_t)n, sizeof *s->ids);
    s->lengths = calloc((size_t)n, sizeof *s->lengths);
    if (!s->ids || !s->lengths) cli_failf("out of memory");
    for (int i = 0; i < n; i++) {
        attx_encoding enc;
        attx_error err;
        if (attx_encode_text(m, texts[i], strlen(texts[i]), &enc, &err) != 0) cli_fail(&err);
        s->ids[i] = malloc((size_t)enc.length * sizeof(int32_t));
        if (!s->ids[i]) cli_failf("out of memory");
        memcpy(s->ids[i], enc.ids, (size_t)enc.length * sizeof(int32_t));
        s->lengths[i] = enc.length;
        attx_encoding_free(&enc);
    }
    s->mem = (attx_tcav_memory){n, (const int32_t *const *)s->ids, s->lengths, NULL, 0};
    s->src = attx_tcav_source_memory(&s->mem);
}

static void text_set_free(text_set *s)
{
    for (int i = 0; i < s->count; i++) free(s->ids[i]);
    free(s->ids);
    free(s->lengths);
}

/* ---- the check ----------------------------------------------------------------------------------- */

enum { KINDS = 2 };
static const int kind_of[KINDS] = {ATTX_TCAV_TTCAV, ATTX_TCAV_TCAV};

int tcav_check_text(const tcav_plan *p, const char *model_path, const char *data_path, const char *concept_path,
                    const char *const *random_paths, int n_random, int json)
{
    if (p->text_targets < 2 || p->n_neutral_words < 1) cli_failf("the plan has no \"text\" section");
    if (n_random < 3) cli_failf("--text needs at least 3 random sets (--random), the concept's counterparts");
    attx_model *m = cli_open_model(model_path, 0);
    const attx_config *cfg = attx_model_config(m);
    if (cfg->arch != ATTX_ARCH_BERT || !attx_model_has_classifier(m))
        cli_failf("%s: --text needs a BERT text classifier", model_path);
    int C = cfg->num_labels, L = cfg->num_layers, N = p->text_targets, W = p->n_neutral_words;
    if (C > TCAV_PLAN_MAX) cli_failf("%s: %d classes; at most %d", model_path, C, TCAV_PLAN_MAX);
    if (L > 64) cli_failf("%s: %d layers; at most 64", model_path, L);
    double start = cli_now();

    /* the concept's words and the targets: the first N sentences of each class with one */
    word_list words = {0};
    concept_words(concept_path, random_paths, n_random, p->text_word_max_neutral, &words);
    attx_dataset ds;
    attx_error err;
    if (attx_dataset_read(&ds, data_path, NULL, &err) != 0) cli_fail(&err);
    char **targets = calloc((size_t)C * (size_t)N, sizeof *targets);
    if (!targets) cli_failf("out of memory");
    for (int k = 0; k < C; k++) {
        int got = 0;
        for (size_t i = 0; i < ds.n && got < N; i++) {
            if (ds.labels[i] != k) continue;
            has_word h = {&words, 0};
            each_word(ds.texts[i], strlen(ds.texts[i]), check_word, &h);
            if (h.found) targets[(size_t)k * (size_t)N + (size_t)got++] = ds.texts[i];
        }
        if (got < N) cli_failf("%s: only %d sentences of class %s contain a concept word; the plan needs %d", data_path, got, cfg->labels[k], N);
    }

    /* the truth: f(x) − mean over the neutral words w of f(x with the concept's words -> w) */
    double *delta = calloc((size_t)p->n_objectives * (size_t)C * (size_t)N, sizeof *delta);
    float *z = malloc((size_t)(W + 1) * (size_t)C * sizeof *z);
    attx_ctx *ctx = attx_ctx_new();
    if (!delta || !z || !ctx) cli_failf("out of memory");
    for (int k = 0; k < C; k++)
        for (int i = 0; i < N; i++) {
            const char *x = targets[(size_t)k * (size_t)N + (size_t)i];
            text_logits(m, ctx, x, z);
            for (int w = 0; w < W; w++) {
                char *swapped = replace_words(x, &words, p->neutral_words[w]);
                text_logits(m, ctx, swapped, z + (size_t)(w + 1) * (size_t)C);
                free(swapped);
            }
            for (int o = 0; o < p->n_objectives; o++) {
                double swapped = 0;
                for (int w = 0; w < W; w++) swapped += attx_tcav_objective_value(p->objectives[o], z + (size_t)(w + 1) * (size_t)C, C, k);
                delta[((size_t)o * (size_t)C + (size_t)k) * (size_t)N + (size_t)i] =
                    attx_tcav_objective_value(p->objectives[o], z, C, k) - swapped / W;
            }
        }
    attx_ctx_free(ctx);
    free(z);
    attx_tcav_truth truth[TCAV_PLAN_MAX][TCAV_PLAN_MAX];
    for (int o = 0; o < p->n_objectives; o++)
        attx_tcav_truth_cells(C, N, delta + (size_t)o * (size_t)C * (size_t)N, p->truth_alpha, p->min_relative_size, truth[o]);

    /* the sets: the concept, then the random sets as its relative counterparts */
    example_set *sets = calloc((size_t)n_random + 1, sizeof *sets);
    attx_tcav_source *src = calloc((size_t)n_random + 1, sizeof *src);
    if (!sets || !src) cli_failf("out of memory");
    size_t dropped = 0;
    for (int s = 0; s <= n_random; s++) {
        sets[s].path = s == 0 ? concept_path : random_paths[s - 1];
        tcav_load_set(&sets[s], m, 0, &dropped);
        src[s] = sets[s].src;
    }
    text_set tsets[TCAV_PLAN_MAX];
    for (int k = 0; k < C; k++) text_set_make(&tsets[k], m, targets + (size_t)k * (size_t)N, N);

    /* verdicts[mode][o][kind][k][layer], first order [o][kind][k][layer] */
    int (*verdict)[TCAV_PLAN_MAX][KINDS][TCAV_PLAN_MAX][64] = calloc(ATTX_TCAV_MODES, sizeof *verdict);
    double (*first)[KINDS][TCAV_PLAN_MAX][64] = calloc(TCAV_PLAN_MAX, sizeof *first);
    double (*pval)[TCAV_PLAN_MAX][KINDS][TCAV_PLAN_MAX][64] = calloc(ATTX_TCAV_MODES, sizeof *pval);
    long *agree = malloc((size_t)L * 2 * sizeof *agree);
    int *layers = malloc((size_t)L * sizeof *layers);
    if (!verdict || !first || !pval || !agree || !layers) cli_failf("out of memory");
    for (int j = 0; j < L; j++) layers[j] = j;
    /* relative: the concept among the random sets; Kim: the concept against them */
    tcav_check_cavs cavs = {0};
    tcav_check_sets pair_sets = {src, n_random + 1, src, 1, src + 1, n_random};
    for (int k = 0; k < C; k++)
        for (int o = 0; o < p->n_objectives; o++) {
            fprintf(stderr, "attx tcav-check: %s, %s\n", cfg->labels[k],
                    cavs.have ? attx_tcav_objective_name(p->objectives[o]) : "training the CAVs");
            attx_tcav_result rel, cls;
            tcav_check_pair(p, m, &pair_sets, &tsets[k].src, k, p->objectives[o], layers, L, &cavs, &rel, &cls);
            /* the reported tests are the concept's, one per layer: Bonferroni over the layers */
            attx_tcav_result rel_view = rel, cls_view = cls;
            rel_view.tests = cls_view.tests = L;
            for (int mode = 0; mode < ATTX_TCAV_MODES; mode++)
                for (int kind = 0; kind < KINDS; kind++)
                    for (int j = 0; j < L; j++) {
                        attx_tcav_verdict v =
                            attx_tcav_verdict_of((attx_tcav_mode)mode, &rel_view, &cls_view, j, 0, kind_of[kind], p->alpha);
                        verdict[mode][o][kind][k][j] = v.verdict;
                        pval[mode][o][kind][k][j] = v.p_bonferroni;
                    }
            if (attx_tcav_first_order(m, &tsets[k].src, k, p->objectives[o], &rel, 1,
                                      delta + ((size_t)o * (size_t)C + (size_t)k) * (size_t)N, agree, &err) != 0)
                cli_fail(&err);
            for (int j = 0; j < L; j++)
                for (int kind = 0; kind < KINDS; kind++) first[o][kind][k][j] = (double)agree[j * 2 + kind] / N;
            tcav_check_pair_done(&cavs, &rel, &cls);
        }

    if (json) {
        attx_buf buf = {0};
        attx_json_writer jw;
        attx_jw_init(&jw, &buf, 1);
        attx_jw_object_begin(&jw);
        attx_jw_key(&jw, "model"); attx_jw_string(&jw, model_path);
        attx_jw_key(&jw, "data"); attx_jw_string(&jw, data_path);
        attx_jw_key(&jw, "concept"); attx_jw_string(&jw, concept_path);
        attx_jw_key(&jw, "concept_words");
        attx_jw_array_begin(&jw);
        for (int i = 0; i < words.n; i++) attx_jw_string(&jw, words.words[i]);
        attx_jw_array_end(&jw);
        attx_jw_key(&jw, "targets_per_class"); attx_jw_int(&jw, N);
        attx_jw_key(&jw, "truth");
        attx_jw_array_begin(&jw);
        for (int o = 0; o < p->n_objectives; o++)
            for (int k = 0; k < C; k++) {
                attx_jw_object_begin(&jw);
                attx_jw_key(&jw, "objective"); attx_jw_string(&jw, attx_tcav_objective_name(p->objectives[o]));
                attx_jw_key(&jw, "class"); attx_jw_string(&jw, cfg->labels[k]);
                attx_jw_key(&jw, "mean_effect"); attx_jw_double(&jw, truth[o][k].mean);
                attx_jw_key(&jw, "p"); attx_jw_double(&jw, truth[o][k].p);
                attx_jw_key(&jw, "p_sign"); attx_jw_double(&jw, truth[o][k].p_sign);
                attx_jw_key(&jw, "up"); attx_jw_int(&jw, truth[o][k].up);
                attx_jw_key(&jw, "verdict"); attx_jw_int(&jw, truth[o][k].verdict);
                attx_jw_object_end(&jw);
            }
        attx_jw_array_end(&jw);
        attx_jw_key(&jw, "combinations");
        attx_jw_array_begin(&jw);
        for (int mode = 0; mode < ATTX_TCAV_MODES; mode++)
            for (int o = 0; o < p->n_objectives; o++)
                for (int kind = 0; kind < KINDS; kind++)
                    for (int k = 0; k < C; k++) {
                        attx_jw_object_begin(&jw);
                        attx_jw_key(&jw, "mode"); attx_jw_string(&jw, attx_tcav_mode_name((attx_tcav_mode)mode));
                        attx_jw_key(&jw, "objective"); attx_jw_string(&jw, attx_tcav_objective_name(p->objectives[o]));
                        attx_jw_key(&jw, "score"); attx_jw_string(&jw, kind ? "tcav" : "ttcav");
                        attx_jw_key(&jw, "class"); attx_jw_string(&jw, cfg->labels[k]);
                        attx_jw_key(&jw, "verdicts");
                        attx_jw_array_begin(&jw);
                        for (int j = 0; j < L; j++) attx_jw_int(&jw, verdict[mode][o][kind][k][j]);
                        attx_jw_array_end(&jw);
                        attx_jw_key(&jw, "p_bonferroni");
                        attx_jw_array_begin(&jw);
                        for (int j = 0; j < L; j++) attx_jw_double(&jw, pval[mode][o][kind][k][j]);
                        attx_jw_array_end(&jw);
                        attx_jw_key(&jw, "first_order_agreement");
                        attx_jw_array_begin(&jw);
                        for (int j = 0; j < L; j++) attx_jw_double(&jw, first[o][kind][k][j]);
                        attx_jw_array_end(&jw);
                        attx_jw_object_end(&jw);
                    }
        attx_jw_array_end(&jw);
        attx_jw_object_end(&jw);
        cli_print_json(&buf);
        attx_buf_free(&buf);
    } else {
        printf("== %s: concept %s (%d words), %d sentences of each class from %s\n", model_path, sets[0].name, words.n, N,
               data_path);
        printf("ground truth: mean change of the objective when the concept's words give way to a neutral word\n");
        for (int o = 0; o < p->n_objectives; o++) {
            printf("  %-11s", attx_tcav_objective_name(p->objectives[o]));
            for (int k = 0; k < C; k++)
                printf("  %s %+.3f %c (p %.1e, %d of %d up)", cfg->labels[k], truth[o][k].mean, tcav_sign_char(truth[o][k].verdict),
                       truth[o][k].p, truth[o][k].up, N);
            printf("\n");
        }
        printf("\nverdicts per layer 0..%d (+ / - significant, . not), against the truth; first order = share of the\n"
               "targets whose sign of S(x) along the concept's mean CAV equals that of their word swap's effect\n", L - 1);
        printf("%-10s %-11s %-7s", "mode", "objective", "score");
        for (int k = 0; k < C; k++) printf("  %-*s", L + 16, cfg->labels[k]);
        printf("  agree\n");
        for (int mode = 0; mode < ATTX_TCAV_MODES; mode++)
            for (int o = 0; o < p->n_objectives; o++)
                for (int kind = 0; kind < KINDS; kind++) {
                    printf("%-10s %-11s %-7s", attx_tcav_mode_name((attx_tcav_mode)mode), attx_tcav_objective_name(p->objectives[o]),
                           kind ? "TCAV" : "T-TCAV");
                    int agree_cells = 0;
                    for (int k = 0; k < C; k++) {
                        char row[72];
                        double fo = 0;
                        for (int j = 0; j < L; j++) {
                            row[j] = tcav_sign_char(verdict[mode][o][kind][k][j]);
                            agree_cells += verdict[mode][o][kind][k][j] == truth[o][k].verdict;
                            fo += first[o][kind][k][j] / L;
                        }
                        row[L] = '\0';
                        printf("  %s (truth %c) %3.0f%%", row, tcav_sign_char(truth[o][k].verdict), 100 * fo);
                    }
                    printf("  %d/%d\n", agree_cells, C * L);
                }
        char took[32];
        cli_duration(cli_now() - start, took, sizeof took);
        printf("(%s)\n", took);
    }
    tcav_check_cavs_free(&cavs);
    for (int k = 0; k < C; k++) text_set_free(&tsets[k]);
    for (int s = 0; s <= n_random; s++) tcav_free_set(&sets[s]);
    free(sets);
    free(src);
    free(verdict);
    free(first);
    free(pval);
    free(agree);
    free(layers);
    free(delta);
    free(targets);
    attx_dataset_free(&ds);
    word_list_free(&words);
    attx_model_close(m);
    return EXIT_OK;
}
