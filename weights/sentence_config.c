/* sentence_config.c — how a sentence-transformers model turns token states into one vector:
 * read from the files sentence-transformers keeps beside the weights (modules.json,
 * sentence_bert_config.json, the Pooling module's config.json, a Normalize module), or from the
 * "attx.sentence" metadata that attx writes into a self-contained .safetensors file. */
#include "attx_weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SETTINGS_FILE ((size_t)1 << 20)

/* The pooling modes in the order sentence-transformers concatenates them. */
static const struct {
    unsigned mode;
    const char *name;           /* attx's name, also the JSON value of attx.sentence */
    const char *st_key;         /* the key of sentence-transformers' Pooling config.json */
} MODES[] = {
    {ATTX_POOL_CLS, "cls", "pooling_mode_cls_token"},
    {ATTX_POOL_MAX, "max", "pooling_mode_max_tokens"},
    {ATTX_POOL_MEAN, "mean", "pooling_mode_mean_tokens"},
    {ATTX_POOL_MEAN_SQRT_LEN, "mean-sqrt-len", "pooling_mode_mean_sqrt_len_tokens"},
    {ATTX_POOL_WEIGHTED_MEAN, "weighted-mean", "pooling_mode_weightedmean_tokens"},
    {ATTX_POOL_LAST_TOKEN, "last-token", "pooling_mode_lasttoken"},
};
#define N_MODES (sizeof MODES / sizeof MODES[0])

void attx_sentence_config_default(attx_sentence_config *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->pooling = ATTX_POOL_MEAN;
}

int attx_pooling_parse(const char *list, unsigned *pooling)
{
    *pooling = 0;
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        size_t k = 0;
        while (k < N_MODES && !(strlen(MODES[k].name) == n && memcmp(MODES[k].name, p, n) == 0)) k++;
        if (k == N_MODES) return -1;
        *pooling |= MODES[k].mode;
        p += n + (comma != NULL);
    }
    return *pooling ? 0 : -1;
}

int attx_pooling_name(unsigned pooling, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t k = 0; k < N_MODES; k++) {
        if (!(pooling & MODES[k].mode)) continue;
        size_t n = strlen(MODES[k].name) + (used > 0);
        if (used + n + 1 > cap) return -1;
        if (used > 0) out[used++] = '+';
        memcpy(out + used, MODES[k].name, strlen(MODES[k].name) + 1);
        used += strlen(MODES[k].name);
    }
    return 0;
}

int attx_pooling_count(unsigned pooling)
{
    int n = 0;
    for (size_t k = 0; k < N_MODES; k++) n += (pooling & MODES[k].mode) != 0;
    return n;
}

/* ---- sentence-transformers' own files ---- */

static char *join(const char *dir, const char *a, const char *b)
{
    size_t n = strlen(dir) + strlen(a) + (b ? strlen(b) : 0) + 3;
    char *p = malloc(n);
    if (!p) return NULL;
    if (b && *a)
        snprintf(p, n, "%s/%s/%s", dir, a, b);
    else
        snprintf(p, n, "%s/%s", dir, b ? b : a);
    return p;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Parses the JSON object of file `path` into *doc. */
static int read_object(const char *path, attx_json_doc **doc, attx_error *err)
{
    char *text;
    size_t len;
    if (attx_read_file(path, MAX_SETTINGS_FILE, &text, &len, err) != 0) return -1;
    int rc = attx_json_parse(text, len, NULL, doc, err);
    free(text);
    if (rc != 0) return attx_fail_prefix(err, "%s", path);
    attx_json_type kind = attx_json_kind(attx_json_root(*doc));
    if (kind != ATTX_JSON_OBJECT && kind != ATTX_JSON_ARRAY) {
        attx_json_free(*doc);
        return attx_fail(err, "%s: not a JSON object or array", path);
    }
    return 0;
}

/* The Pooling module's config.json: which pooling_mode_* are true, or "pooling_mode" by name. */
static int read_pooling(attx_sentence_config *sc, const char *path, attx_error *err)
{
    attx_json_doc *doc;
    if (read_object(path, &doc, err) != 0) return -1;
    const attx_json_value *root = attx_json_root(doc);
    int rc = 0;
    sc->pooling = 0;
    for (size_t k = 0; k < N_MODES && rc == 0; k++) {
        const attx_json_value *v = attx_json_get(root, MODES[k].st_key);
        int on = 0;
        if (v && attx_json_bool(v, &on) != 0) rc = attx_fail(err, "%s: \"%s\" is not true or false", path, MODES[k].st_key);
        if (on) sc->pooling |= MODES[k].mode;
    }
    static const char *const unsupported[] = {"include_prompt"};
    for (size_t k = 0; k < sizeof unsupported / sizeof *unsupported && rc == 0; k++) {
        const attx_json_value *v = attx_json_get(root, unsupported[k]);
        int on = 1;
        if (v && attx_json_bool(v, &on) == 0 && !on)
            rc = attx_fail(err, "%s: \"%s\": false is not supported", path, unsupported[k]);
    }
    if (rc == 0 && !sc->pooling) rc = attx_fail(err, "%s: no pooling mode is true", path);
    attx_json_free(doc);
    return rc;
}

/* sentence_bert_config.json: max_seq_length and do_lower_case. */
static int read_sbert_config(attx_sentence_config *sc, const char *path, attx_error *err)
{
    attx_json_doc *doc;
    if (read_object(path, &doc, err) != 0) return -1;
    const attx_json_value *root = attx_json_root(doc);
    const attx_json_value *max_len = attx_json_get(root, "max_seq_length");
    const attx_json_value *lower = attx_json_get(root, "do_lower_case");
    int64_t n = 0;
    int rc = 0;
    if (max_len && attx_json_kind(max_len) != ATTX_JSON_NULL &&
        (attx_json_i64(max_len, &n) != 0 || n < 2 || n > 1 << 20))
        rc = attx_fail(err, "%s: \"max_seq_length\" is not a whole number from 2 to 1048576", path);
    else
        sc->max_seq_length = (int)n;
    if (rc == 0 && lower && attx_json_bool(lower, &sc->lower_case) != 0)
        rc = attx_fail(err, "%s: \"do_lower_case\" is not true or false", path);
    attx_json_free(doc);
    return rc;
}

int attx_sentence_config_read_dir(attx_sentence_config *sc, const char *dir, int *found, attx_error *err)
{
    attx_sentence_config_default(sc);
    *found = 0;
    char *modules_path = join(dir, "modules.json", NULL);
    if (!modules_path) return attx_fail(err, "out of memory");
    if (!is_file(modules_path)) {
        free(modules_path);
        return 0;
    }
    attx_json_doc *doc;
    if (read_object(modules_path, &doc, err) != 0) {
        free(modules_path);
        return -1;
    }
    const attx_json_value *root = attx_json_root(doc);
    int rc = 0, have_transformer = 0, have_pooling = 0;
    if (attx_json_kind(root) != ATTX_JSON_ARRAY) rc = attx_fail(err, "%s: not a JSON array of modules", modules_path);
    for (size_t i = 0; rc == 0 && i < attx_json_len(root); i++) {
        const attx_json_value *module = attx_json_item(root, i);
        const char *type = attx_json_str(attx_json_get(module, "type"), NULL);
        const char *sub = attx_json_str(attx_json_get(module, "path"), NULL);
        if (!type || !sub || strstr(sub, "..")) {
            rc = attx_fail(err, "%s: module %zu has no \"type\" or no valid \"path\"", modules_path, i);
            break;
        }
        const char *dot = strrchr(type, '.');
        const char *kind = dot ? dot + 1 : type;
        if (strcmp(kind, "Transformer") == 0) {
            if (i != 0) rc = attx_fail(err, "%s: the Transformer module is not the first", modules_path);
            have_transformer = 1;
            char *cfg = join(dir, sub, "sentence_bert_config.json");
            if (!cfg) rc = attx_fail(err, "out of memory");
            else if (is_file(cfg)) rc = read_sbert_config(sc, cfg, err);
            free(cfg);
        } else if (strcmp(kind, "Pooling") == 0) {
            have_pooling = 1;
            char *cfg = join(dir, sub, "config.json");
            if (!cfg) rc = attx_fail(err, "out of memory");
            else rc = read_pooling(sc, cfg, err);
            free(cfg);
        } else if (strcmp(kind, "Normalize") == 0) {
            sc->normalize = 1;
        } else {
            rc = attx_fail(err, "%s: the sentence-transformers module %s (%s) is not supported", modules_path, sub,
                           type);
        }
    }
    if (rc == 0 && (!have_transformer || !have_pooling))
        rc = attx_fail(err, "%s: a Transformer and a Pooling module are needed", modules_path);
    attx_json_free(doc);
    free(modules_path);
    if (rc == 0) *found = 1;
    return rc;
}

/* ---- attx.sentence: {"max_seq_length": 256, "pooling": "mean", "normalize": true, "lower_case": false} ---- */

int attx_sentence_config_parse(attx_sentence_config *sc, const char *json, size_t len, const char *source,
                               attx_error *err)
{
    attx_sentence_config_default(sc);
    attx_json_doc *doc;
    if (attx_json_parse(json, len, NULL, &doc, err) != 0) return attx_fail_prefix(err, "%s", source);
    const attx_json_value *root = attx_json_root(doc);
    const attx_json_value *max_len = attx_json_get(root, "max_seq_length");
    const attx_json_value *normalize = attx_json_get(root, "normalize");
    const attx_json_value *lower = attx_json_get(root, "lower_case");
    const char *pooling = attx_json_str(attx_json_get(root, "pooling"), NULL);
    int64_t n = 0;
    int rc = 0;
    char list[128];
    size_t k = 0;
    /* "mean+max" in the file, "mean,max" for attx_pooling_parse */
    for (; pooling && pooling[k] && k + 1 < sizeof list; k++) list[k] = pooling[k] == '+' ? ',' : pooling[k];
    list[k] = '\0';
    if (attx_json_kind(root) != ATTX_JSON_OBJECT)
        rc = attx_fail(err, "%s: not a JSON object", source);
    else if (!pooling || attx_pooling_parse(list, &sc->pooling) != 0)
        rc = attx_fail(err, "%s: \"pooling\" is not a pooling mode", source);
    else if (max_len && (attx_json_i64(max_len, &n) != 0 || n < 0 || n > 1 << 20))
        rc = attx_fail(err, "%s: \"max_seq_length\" is not a whole number from 0 to 1048576", source);
    else if ((normalize && attx_json_bool(normalize, &sc->normalize) != 0) ||
             (lower && attx_json_bool(lower, &sc->lower_case) != 0))
        rc = attx_fail(err, "%s: \"normalize\" or \"lower_case\" is not true or false", source);
    sc->max_seq_length = (int)n;
    attx_json_free(doc);
    return rc;
}

void attx_sentence_config_write(const attx_sentence_config *sc, attx_buf *out)
{
    char name[128];
    attx_pooling_name(sc->pooling, name, sizeof name);
    attx_json_writer w;
    attx_jw_init(&w, out, 0);
    attx_jw_object_begin(&w);
    attx_jw_key(&w, "max_seq_length");
    attx_jw_int(&w, sc->max_seq_length);
    attx_jw_key(&w, "pooling");
    attx_jw_string(&w, name);
    attx_jw_key(&w, "normalize");
    attx_jw_bool(&w, sc->normalize);
    attx_jw_key(&w, "lower_case");
    attx_jw_bool(&w, sc->lower_case);
    attx_jw_object_end(&w);
}
