/* eval_data.c — the data sets of attx eval: P1's presets, P2's IMDb split, or any labelled file;
 * and the encoding of one text for the explanation driver. */
#include "attx_eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct preset {
    const char *name, *file, *format;
} preset;

static const preset PRESETS[] = {
    {"sst2-short", "sst2/dev.tsv", "sst2"},
    {"sst2", "sst2/dev.tsv", "sst2"},
    {"imdb", "imdb/test.tsv", "imdb"},
    {"agnews", "agnews/test.csv", "agnews"},
    {"p2-imdb", "imdb/test.tsv", "imdb"},
};
#define N_PRESETS ((int)(sizeof PRESETS / sizeof PRESETS[0]))

int attx_eval_is_preset(const char *name)
{
    for (int i = 0; name && i < N_PRESETS; i++)
        if (strcmp(PRESETS[i].name, name) == 0) return 1;
    return 0;
}

void attx_eval_data_free(attx_eval_data *d)
{
    if (!d) return;
    attx_dataset_free(&d->ds);
    memset(d, 0, sizeof *d);
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Fisher-Yates with splitmix64(seed): a fixed order (not numpy's permutation). */
static void shuffle(attx_dataset *ds, uint64_t seed)
{
    for (size_t i = ds->n; i > 1; i--) {
        size_t j = (size_t)(splitmix64(&seed) % i);
        char *t = ds->texts[i - 1];
        ds->texts[i - 1] = ds->texts[j];
        ds->texts[j] = t;
        int32_t l = ds->labels[i - 1];
        ds->labels[i - 1] = ds->labels[j];
        ds->labels[j] = l;
    }
}

/* P2's re.sub('[^A-Za-z0-9]+', ' ', doc), in place. */
static void p2_clean(char *s)
{
    char *w = s;
    int in_run = 0;
    for (const char *r = s; *r; r++) {
        char c = *r;
        int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (keep) {
            *w++ = c;
            in_run = 0;
        } else if (!in_run) {
            *w++ = ' ';
            in_run = 1;
        }
    }
    *w = 0;
}

int attx_eval_data_load(attx_eval_data *d, const attx_model *m, const char *name, const char *data_dir,
                        const attx_dataset_spec *spec, attx_error *err)
{
    memset(d, 0, sizeof *d);
    if (!name) return attx_fail(err, "eval: no data set");
    const preset *p = NULL;
    for (int i = 0; i < N_PRESETS; i++)
        if (strcmp(PRESETS[i].name, name) == 0) p = &PRESETS[i];
    if (!p) {
        snprintf(d->path, sizeof d->path, "%s", name);
        if (attx_dataset_read(&d->ds, name, spec, err) != 0) return -1;
        d->rows_read = d->ds.n;
        snprintf(d->source, sizeof d->source, "%s: %zu rows (%zu skipped)", name, d->ds.n, d->ds.n_skipped);
        return 0;
    }
    snprintf(d->preset, sizeof d->preset, "%s", p->name);
    snprintf(d->path, sizeof d->path, "%s/%s", data_dir ? data_dir : "../shared/data", p->file);
    attx_dataset_spec ps = {.format = p->format};
    if (attx_dataset_read(&d->ds, d->path, &ps, err) != 0) return -1;
    d->rows_read = d->ds.n;
    attx_dataset *ds = &d->ds;
    if (strcmp(p->name, "sst2-short") == 0) {
        const attx_wordpiece *wp = m ? attx_model_tokenizer(m) : NULL;
        if (!wp) {
            attx_eval_data_free(d);
            return attx_fail(err, "sst2-short selects by the model's tokenizer: the model has none");
        }
        size_t kept = 0;
        for (size_t i = 0; i < ds->n; i++) {
            attx_tokens tk = {0};
            if (attx_wordpiece_encode(wp, ds->texts[i], strlen(ds->texts[i]), &tk, err) != 0) {
                attx_fail_prefix(err, "%s row %zu", d->path, i + 1);
                attx_eval_data_free(d);
                return -1;
            }
            int keep = tk.n >= 1 && tk.n <= 15;
            attx_tokens_free(&tk);
            if (keep) {
                ds->texts[kept] = ds->texts[i];
                ds->labels[kept++] = ds->labels[i];
            } else {
                free(ds->texts[i]);
            }
        }
        ds->n = kept;
        snprintf(d->source, sizeof d->source,
                 "sst2-short: %s (GLUE SST-2 validation), the %zu of %zu sentences with at most 15 tokens "
                 "(the model's tokenizer, [CLS]/[SEP] excluded), as P1", d->path, kept, d->rows_read);
    } else if (strcmp(p->name, "sst2") == 0) {
        snprintf(d->source, sizeof d->source, "sst2: %s (GLUE SST-2 validation), all %zu sentences, as P1", d->path,
                 ds->n);
    } else if (strcmp(p->name, "imdb") == 0) {
        shuffle(ds, 42);
        snprintf(d->source, sizeof d->source,
                 "imdb: %s (IMDb test), %zu reviews in a fixed order (splitmix64 shuffle, seed 42; the file is sorted "
                 "by label), truncated to the model's positions, as P1 (512 tokens)", d->path, ds->n);
    } else if (strcmp(p->name, "agnews") == 0) {
        snprintf(d->source, sizeof d->source, "agnews: %s (AG News test, title + description), all %zu rows, as P1",
                 d->path, ds->n);
        snprintf(d->note, sizeof d->note,
                 "attx's AG News model was trained on the 5,000-row training subset (agnews/train_subset5000.csv); "
                 "P1's model saw all 120,000 training rows, so its accuracy and explanations are not directly "
                 "comparable");
    } else {   /* p2-imdb */
        shuffle(ds, 42);
        for (size_t i = 0; i < ds->n; i++) p2_clean(ds->texts[i]);
        snprintf(d->source, sizeof d->source,
                 "p2-imdb: %s (IMDb test), %zu reviews in a fixed order (splitmix64 shuffle, seed 42; P2 uses a "
                 "seed-42 numpy permutation, not reproduced), cleaned as P2 ([^A-Za-z0-9]+ -> ' '), truncated to the "
                 "model's T - 1 words", d->path, ds->n);
        if (m && attx_model_config(m)->arch != ATTX_ARCH_ATTN1)
            snprintf(d->note, sizeof d->note, "p2-imdb is P2's protocol for the attn1 model; this model is a %s",
                     attx_arch_name(attx_model_config(m)->arch));
    }
    if (ds->n == 0) {
        attx_eval_data_free(d);
        return attx_fail(err, "%s: no example selected", name);
    }
    return 0;
}

int attx_eval_encode(const attx_model *m, const char *text, int32_t **ids, int *length, int *n_players,
                     attx_error *err)
{
    attx_encoding enc;
    *ids = NULL;
    if (attx_encode_text(m, text, strlen(text), &enc, err) != 0) return -1;
    if (enc.tokens.n == 0) {
        attx_encoding_free(&enc);
        return attx_fail(err, "the text is empty (no tokens after removing whitespace and control characters)");
    }
    int attn1 = attx_model_config(m)->arch == ATTX_ARCH_ATTN1;
    *n_players = attn1 ? (int)enc.tokens.n : enc.length - 2;
    *length = attn1 ? 1 + (int)enc.tokens.n : enc.length;
    *ids = enc.ids;
    enc.ids = NULL;
    attx_encoding_free(&enc);
    return 0;
}
