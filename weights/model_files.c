/* model_files.c — finding a model's pieces on disk (HF directory or one self-contained
 * .safetensors file), mapping stored tensor names to canonical HF names (legacy
 * LayerNorm.gamma/beta, missing bert./vit. prefix) and checking every tensor against the config. */
#include "attx_weights.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TEXT_FILE (64u << 20)    /* config, vocab, tokenizer and preprocessor files */

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", dir, (*dir && dir[strlen(dir) - 1] == '/') ? "" : "/", name);
    return p;
}

__attribute__((format(printf, 1, 2)))
static char *str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Something other than a directory is there (a FIFO or device too: reading it then says what
 * it is, rather than the file being called missing). */
static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* Reads DIR/name into *text if the file exists (absent is fine), recording its source. */
static int read_optional(const char *dir, const char *name, char **text, size_t *len, char **source,
                         attx_error *err)
{
    char *path = path_join(dir, name);
    if (!path) return attx_fail(err, "out of memory");
    int rc = 0;
    if (file_exists(path)) {
        rc = attx_read_file(path, MAX_TEXT_FILE, text, len, err);
        if (rc == 0) {
            *source = path;
            path = NULL;
        }
    }
    free(path);
    return rc;
}

/* Copies a metadata string of the weights file into *text if present. */
static int take_metadata(attx_model_files *m, const char *key, char **text, size_t *len,
                         char **source, attx_error *err)
{
    const char *v = attx_tensor_file_meta(&m->weights, key);
    if (!v) return 0;
    *text = strdup(v);
    *source = str_printf("%s (__metadata__ %s)", m->weights.path, key);
    if (!*text || !*source) return attx_fail(err, "out of memory");
    if (len) *len = strlen(v);
    return 0;
}

/* The metadata attx writes with a model, in the order the checksum covers them. */
static const char *const checksummed_keys[] = {"attx.config", "attx.vocab", "attx.tokenizer", "attx.preprocessor",
                                               "attx.sentence"};
enum { N_CHECKSUMMED = sizeof checksummed_keys / sizeof checksummed_keys[0] };

/* attx.checksum: FNV-1a 64 over "key\0value\0" of each of those keys present, in that order, as
 * "fnv1a64:" and 16 hex digits. A flipped bit anywhere in them (a label, a number of the config,
 * a token, two vocabulary lines joined) would otherwise change what the model does, silently. */
static void metadata_checksum(const char *const *values, char out[32])
{
    uint64_t h = ATTX_FNV1A64_SEED;
    for (int k = 0; k < N_CHECKSUMMED; k++) {
        if (!values[k]) continue;
        const char *parts[2] = {checksummed_keys[k], values[k]};
        for (int p = 0; p < 2; p++)   /* the NUL too: "ab","c" differs from "a","bc" */
            h = attx_fnv1a64(h, parts[p], strlen(parts[p]) + 1);
    }
    snprintf(out, 32, "fnv1a64:%016llx", (unsigned long long)h);
}

/* A model file's attx.checksum, when it has one, against its metadata. */
static int check_metadata_checksum(const attx_tensor_file *f, attx_error *err)
{
    const char *stored = attx_tensor_file_meta(f, "attx.checksum");
    if (!stored) return 0;
    const char *values[N_CHECKSUMMED];
    for (int k = 0; k < N_CHECKSUMMED; k++) values[k] = attx_tensor_file_meta(f, checksummed_keys[k]);
    char want[32];
    metadata_checksum(values, want);
    if (strcmp(stored, want) != 0)
        return attx_fail(err, "%s: the header's metadata (config, vocabulary, settings) does not match its checksum "
                         "attx.checksum (%.40s, computed %s): the file is damaged", f->path, stored, want);
    return 0;
}

/* Zip files start with "PK\3\4": a torch.save checkpoint; anything else is read as safetensors. */
static int open_weights(attx_tensor_file *f, const char *path, attx_error *err)
{
    unsigned char magic[4] = {0};
    size_t got;
    if (attx_read_file_head(path, magic, sizeof magic, &got, err) != 0) return -1;
    if (got == 4 && memcmp(magic, "PK\3\4", 4) == 0) return attx_torchbin_open(f, path, err);
    return attx_safetensors_open(f, path, err);
}

/* sentence-transformers' settings: the attx.sentence metadata of a file attx wrote, else the
 * files sentence-transformers keeps in the model directory, else the default (mean pooling). */
static int read_sentence_settings(attx_model_files *m, const char *dir, attx_error *err)
{
    char *json = NULL;
    attx_sentence_config_default(&m->sentence);
    if (take_metadata(m, "attx.sentence", &json, NULL, &m->sentence_source, err) != 0) return -1;
    if (json) {
        int rc = attx_sentence_config_parse(&m->sentence, json, strlen(json), m->sentence_source, err);
        free(json);
        m->has_sentence = rc == 0;
        return rc;
    }
    if (!dir) return 0;
    if (attx_sentence_config_read_dir(&m->sentence, dir, &m->has_sentence, err) != 0) return -1;
    if (m->has_sentence && !(m->sentence_source = path_join(dir, "modules.json"))) return attx_fail(err, "out of memory");
    return 0;
}

static int locate_pieces(attx_model_files *m, const char *path, attx_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return attx_fail(err, "%s: %s", path, strerror(errno));
    char *dir = NULL;
    int rc = -1;
    if (S_ISDIR(st.st_mode)) {
        dir = strdup(path);
        char *weights = NULL;
        const char *candidates[] = {"model.safetensors", "pytorch_model.bin"};
        for (size_t i = 0; dir && !weights && i < 2; i++) {
            weights = path_join(dir, candidates[i]);
            if (weights && !file_exists(weights)) {
                free(weights);
                weights = NULL;
            }
        }
        if (!dir) {
            attx_fail(err, "out of memory");
            goto done;
        }
        char *index = path_join(dir, "model.safetensors.index.json");
        int sharded = index && file_exists(index);
        free(index);
        if (!weights) {
            attx_fail(err, sharded ? "%s: sharded checkpoints (model.safetensors.index.json) are not "
                                     "supported; merge the shards into one model.safetensors"
                                   : "%s: no model.safetensors or pytorch_model.bin in this directory",
                      path);
            goto done;
        }
        rc = open_weights(&m->weights, weights, err);
        free(weights);
        if (rc != 0) goto done;
    } else {
        if ((rc = open_weights(&m->weights, path, err)) != 0) goto done;
        rc = -1;
        /* a bare weights file: its directory supplies what its metadata lacks */
        const char *slash = strrchr(path, '/');
        dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
        if (!dir) {
            attx_fail(err, "out of memory");
            goto done;
        }
        if (!attx_tensor_file_meta(&m->weights, "attx.config")) {
            char *cfg = path_join(dir, "config.json");
            int beside = cfg && file_exists(cfg);
            free(cfg);
            if (!beside) {
                attx_fail(err, "%s: no attx.config in its __metadata__ and no config.json beside it "
                          "(convert an HF directory with `attx convert DIR OUT.safetensors`)", path);
                goto done;
            }
        } else {
            free(dir);
            dir = NULL;     /* self-contained: read nothing from the directory */
        }
    }
    rc = -1;
    if (!(m->weights_source = strdup(m->weights.path))) {
        attx_fail(err, "out of memory");
        goto done;
    }
    size_t len;
    if (check_metadata_checksum(&m->weights, err) != 0) goto done;
    if (take_metadata(m, "attx.config", &m->config_json, &len, &m->config_source, err) ||
        take_metadata(m, "attx.vocab", &m->vocab_text, &m->vocab_len, &m->vocab_source, err) ||
        take_metadata(m, "attx.tokenizer", &m->tokenizer_json, NULL, &m->tokenizer_source, err) ||
        take_metadata(m, "attx.preprocessor", &m->preprocessor_json, NULL, &m->preprocessor_source, err))
        goto done;
    if (read_sentence_settings(m, dir, err) != 0) goto done;
    if (dir) {
        size_t unused;
        if ((!m->config_json &&
             read_optional(dir, "config.json", &m->config_json, &unused, &m->config_source, err)) ||
            (!m->vocab_text &&
             read_optional(dir, "vocab.txt", &m->vocab_text, &m->vocab_len, &m->vocab_source, err)) ||
            (!m->tokenizer_json && read_optional(dir, "tokenizer_config.json", &m->tokenizer_json, &unused,
                                                 &m->tokenizer_source, err)) ||
            (!m->preprocessor_json && read_optional(dir, "preprocessor_config.json", &m->preprocessor_json,
                                                    &unused, &m->preprocessor_source, err)))
            goto done;
        if (!m->config_json) {
            attx_fail(err, "%s: no config.json (not a Hugging Face model directory)", path);
            goto done;
        }
    }
    rc = 0;
done:
    free(dir);
    return rc;
}

/* tokenizer_config.json: only do_lower_case matters to a BERT WordPiece tokenizer. */
static int parse_tokenizer_config(attx_model_files *m, attx_error *err)
{
    m->do_lower_case = 1;
    if (!m->tokenizer_json) return 0;
    attx_json_doc *doc;
    if (attx_json_parse(m->tokenizer_json, strlen(m->tokenizer_json), NULL, &doc, err) != 0)
        return attx_fail_prefix(err, "%s", m->tokenizer_source);
    const attx_json_value *root = attx_json_root(doc);
    const attx_json_value *lower = attx_json_get(root, "do_lower_case");
    int rc = 0;
    if (attx_json_kind(root) != ATTX_JSON_OBJECT)
        rc = attx_fail(err, "%s: not a JSON object", m->tokenizer_source);
    else if (lower && attx_json_bool(lower, &m->do_lower_case) != 0)
        rc = attx_fail(err, "%s: \"do_lower_case\" is not true or false", m->tokenizer_source);
    attx_json_free(doc);
    return rc;
}

/* Canonical HF name of a stored tensor: adds the bert./vit. prefix a bare model lacks and maps
 * LayerNorm.gamma/beta to weight/bias. Returns 0, or -1 if the name is too long to be ours. */
static int canonical_name(attx_arch arch, const char *stored, char *out, size_t cap)
{
    static const char *bert_roots[] = {"embeddings.", "encoder.", "pooler.", NULL};
    static const char *vit_roots[] = {"embeddings.", "encoder.", "layernorm.", "pooler.", NULL};
    const char *prefix = "";
    const char **roots = arch == ATTX_ARCH_BERT ? bert_roots : arch == ATTX_ARCH_VIT ? vit_roots : NULL;
    for (size_t i = 0; roots && roots[i]; i++)
        if (strncmp(stored, roots[i], strlen(roots[i])) == 0) prefix = arch == ATTX_ARCH_BERT ? "bert." : "vit.";
    size_t n = (size_t)snprintf(out, cap, "%s%s", prefix, stored);
    if (n >= cap) return -1;
    static const struct { const char *legacy, *now; } renames[] = {
        {".LayerNorm.gamma", ".LayerNorm.weight"}, {".LayerNorm.beta", ".LayerNorm.bias"}};
    for (size_t i = 0; i < 2; i++) {
        size_t ll = strlen(renames[i].legacy), nl = strlen(renames[i].now);
        if (n >= ll && strcmp(out + n - ll, renames[i].legacy) == 0 && n - ll + nl < cap)
            strcpy(out + n - ll, renames[i].now);
    }
    return 0;
}

typedef struct { const char *name; size_t index; } spec_ref;

static int cmp_spec_ref(const void *a, const void *b)
{
    return strcmp(((const spec_ref *)a)->name, ((const spec_ref *)b)->name);
}

/* Assigns each stored tensor to its spec (or to the ignored list) and checks shapes/dtypes. */
static int match_tensors(attx_model_files *m, attx_error *err)
{
    const attx_config *c = &m->config;
    const char *file = m->weights.path;
    if (attx_config_tensor_specs(c, &m->specs, &m->n_specs, err) != 0) return -1;
    m->by_spec = calloc(m->n_specs, sizeof *m->by_spec);
    m->scale_by_spec = calloc(m->n_specs, sizeof *m->scale_by_spec);
    m->ignored = calloc(m->weights.n_tensors + 1, sizeof *m->ignored);
    spec_ref *sorted = malloc(m->n_specs * sizeof *sorted);
    if (!m->by_spec || !m->scale_by_spec || !m->ignored || !sorted) {
        free(sorted);
        return attx_fail(err, "out of memory");
    }
    for (size_t i = 0; i < m->n_specs; i++) sorted[i] = (spec_ref){m->specs[i].name, i};
    qsort(sorted, m->n_specs, sizeof *sorted, cmp_spec_ref);

    const char *layer_prefix = c->arch == ATTX_ARCH_BERT ? "bert.encoder.layer."
                             : c->arch == ATTX_ARCH_VIT ? "vit.encoder.layer." : NULL;
    int rc = 0;
    for (size_t t = 0; t < m->weights.n_tensors && rc == 0; t++) {
        const attx_stored_tensor *st = &m->weights.tensors[t];
        char canon[sizeof m->specs[0].name], base[sizeof m->specs[0].name];
        spec_ref key = {canon, 0}, *hit = NULL;
        /* "<weight>_scale": the scales of an int8 weight */
        size_t len = strlen(st->name), suffix = strlen("_scale");
        int is_scale = len > suffix && len - suffix < sizeof base && strcmp(st->name + len - suffix, "_scale") == 0;
        if (is_scale) {
            memcpy(base, st->name, len - suffix);
            base[len - suffix] = 0;
        }
        if (canonical_name(c->arch, is_scale ? base : st->name, canon, sizeof canon) == 0)
            hit = bsearch(&key, sorted, m->n_specs, sizeof *sorted, cmp_spec_ref);
        if (hit && is_scale) {
            const attx_tensor_spec *spec = &m->specs[hit->index];
            if (spec->ndim != 2 || st->dtype != ATTX_F32 || st->ndim != 1 || st->shape[0] != spec->shape[0]) {
                char have[128];
                attx_format_shape(have, sizeof have, st->shape, st->ndim);
                rc = attx_fail(err, "%s: tensor '%s' (%s %s) is not the F32 [%llu] scales of an int8 '%s'", file,
                               st->name, attx_dtype_name(st->dtype), have, (unsigned long long)spec->shape[0],
                               spec->name);
            }
            m->scale_by_spec[hit->index] = st;
            continue;
        }
        if (!hit) {
            size_t lp = layer_prefix ? strlen(layer_prefix) : 0;
            if (layer_prefix && strncmp(canon, layer_prefix, lp) == 0) {
                /* a layer the config has with a name it does not know (a misspelling), or a
                 * layer past num_hidden_layers */
                char *end;
                long layer = strtol(canon + lp, &end, 10);
                if (end != canon + lp && *end == '.' && layer >= c->num_layers)
                    rc = attx_fail(err, "%s: tensor '%s' belongs to an encoder layer the config does not "
                                   "have (num_hidden_layers %d)", file, st->name, c->num_layers);
                else
                    rc = attx_fail(err, "%s: unknown tensor '%s' (an encoder layer of a %s model has no such "
                                   "weight)", file, st->name, attx_arch_name(c->arch));
            }
            m->ignored[m->n_ignored++] = st->name;
            continue;
        }
        const attx_tensor_spec *spec = &m->specs[hit->index];
        if (m->by_spec[hit->index]) {
            rc = attx_fail(err, "%s: tensors '%s' and '%s' are both '%s'", file,
                           m->by_spec[hit->index]->name, st->name, spec->name);
            break;
        }
        int same = st->ndim == spec->ndim;
        for (int d = 0; same && d < spec->ndim; d++) same = st->shape[d] == spec->shape[d];
        if (!same) {
            char have[128], want[128];
            attx_format_shape(have, sizeof have, st->shape, st->ndim);
            attx_format_shape(want, sizeof want, spec->shape, spec->ndim);
            rc = attx_fail(err, "%s: tensor '%s' has shape %s but the config (%s) expects %s", file,
                           st->name, have, m->config_source, want);
        } else if (st->dtype == ATTX_I8 && !(spec->ndim == 2 && layer_prefix &&
                                               strncmp(spec->name, layer_prefix, strlen(layer_prefix)) == 0)) {
            rc = attx_fail(err, "%s: tensor '%s' has dtype I8; attx reads I8 only for the linear weights of "
                           "the encoder layers (with their '_scale')", file, st->name);
        } else if (st->dtype != ATTX_I8 && !attx_dtype_is_float_weight(st->dtype)) {
            rc = attx_fail(err, "%s: tensor '%s' has dtype %s; attx reads F32, F16 or BF16 weights (and I8 "
                           "encoder weights with scales)", file, st->name, attx_dtype_name(st->dtype));
        }
        m->by_spec[hit->index] = st;
    }
    free(sorted);
    if (rc != 0) return -1;
    for (size_t i = 0; i < m->n_specs; i++) {
        const attx_stored_tensor *st = m->by_spec[i];
        if (st && st->dtype == ATTX_I8 && !m->scale_by_spec[i])
            return attx_fail(err, "%s: tensor '%s' is I8 but its scales '%s_scale' are missing", file, st->name,
                             st->name);
        if (!(st && st->dtype == ATTX_I8) && m->scale_by_spec[i])
            return attx_fail(err, "%s: tensor '%s' has scales but '%s' is not I8", file, m->scale_by_spec[i]->name,
                             m->specs[i].name);
    }

    /* roles: body always; the head all-or-nothing; BERT's pooler required under a head */
    int head_present = 0, head_missing = 0, pooler_present = 0, pooler_missing = 0;
    for (size_t i = 0; i < m->n_specs; i++) {
        int present = m->by_spec[i] != NULL;
        switch (m->specs[i].role) {
        case ATTX_ROLE_BODY:
            if (!present)
                return attx_fail(err, "%s: tensor '%s' is missing (the config describes a %s model with %d "
                                 "layers)", file, m->specs[i].name, attx_arch_name(c->arch), c->num_layers);
            break;
        case ATTX_ROLE_HEAD: present ? head_present++ : head_missing++; break;
        case ATTX_ROLE_POOLER: present ? pooler_present++ : pooler_missing++; break;
        }
    }
    for (size_t i = 0; i < m->n_specs; i++) {
        int incomplete = (m->specs[i].role == ATTX_ROLE_HEAD && head_present && head_missing) ||
                         (m->specs[i].role == ATTX_ROLE_POOLER && pooler_present && pooler_missing);
        if (incomplete && !m->by_spec[i])
            return attx_fail(err, "%s: tensor '%s' is missing", file, m->specs[i].name);
    }
    m->has_head = head_present > 0;
    m->has_pooler = pooler_present > 0;
    if (c->arch == ATTX_ARCH_BERT && m->has_head && !m->has_pooler)
        return attx_fail(err, "%s: the classifier needs bert.pooler.dense, which is missing", file);
    return 0;
}

int attx_model_files_open(attx_model_files *m, const char *path, attx_error *err)
{
    memset(m, 0, sizeof *m);
    if (!(m->path = strdup(path))) return attx_fail(err, "out of memory");
    if (locate_pieces(m, path, err) != 0 ||
        attx_config_parse(&m->config, m->config_json, strlen(m->config_json), m->config_source, err) != 0 ||
        parse_tokenizer_config(m, err) != 0 || match_tensors(m, err) != 0) {
        attx_model_files_close(m);
        return -1;
    }
    return 0;
}

int attx_model_files_new(attx_model_files *m, const char *name, const char *config_json,
                         const char *vocab_text, size_t vocab_len, attx_error *err)
{
    memset(m, 0, sizeof *m);
    m->do_lower_case = 1;
    attx_sentence_config_default(&m->sentence);
    if (!(m->path = strdup(name)) || !(m->config_json = strdup(config_json)) ||
        !(m->config_source = strdup(name)) ||
        (vocab_text && (!(m->vocab_text = malloc(vocab_len + 1)) || !(m->vocab_source = strdup(name))))) {
        attx_model_files_close(m);
        return attx_fail(err, "out of memory");
    }
    if (vocab_text) {
        memcpy(m->vocab_text, vocab_text, vocab_len);
        m->vocab_text[vocab_len] = '\0';
        m->vocab_len = vocab_len;
    }
    if (attx_config_parse(&m->config, m->config_json, strlen(m->config_json), name, err) != 0 ||
        attx_config_tensor_specs(&m->config, &m->specs, &m->n_specs, err) != 0) {
        attx_model_files_close(m);
        return -1;
    }
    if (!(m->by_spec = calloc(m->n_specs, sizeof *m->by_spec)) || !(m->ignored = calloc(1, sizeof *m->ignored))) {
        attx_model_files_close(m);
        return attx_fail(err, "out of memory");
    }
    m->has_head = 1;
    m->has_pooler = m->config.arch == ATTX_ARCH_BERT;
    return 0;
}

void attx_model_files_close(attx_model_files *m)
{
    if (!m) return;
    free(m->scale_by_spec);
    free(m->path);
    attx_config_free(&m->config);
    free(m->config_json);
    free(m->vocab_text);
    free(m->tokenizer_json);
    free(m->preprocessor_json);
    free(m->config_source);
    free(m->vocab_source);
    free(m->tokenizer_source);
    free(m->preprocessor_source);
    free(m->weights_source);
    free(m->sentence_source);
    attx_tensor_file_close(&m->weights);
    free(m->specs);
    free(m->by_spec);
    free(m->ignored);
    memset(m, 0, sizeof *m);
}

const attx_stored_tensor *attx_model_tensor(const attx_model_files *m, const char *name)
{
    for (size_t i = 0; i < m->n_specs; i++)
        if (strcmp(m->specs[i].name, name) == 0) return m->by_spec[i];
    return NULL;
}

uint64_t attx_model_param_count(const attx_model_files *m)
{
    uint64_t total = 0;
    for (size_t i = 0; i < m->n_specs; i++)
        if (m->by_spec[i]) total += m->by_spec[i]->numel;
    return total;
}

size_t attx_model_files_metadata(const attx_model_files *m, const char **keys, const char **values, attx_buf *scratch)
{
    size_t n = 0;
    keys[n] = "format"; values[n++] = "pt";   /* what HF's save_pretrained writes */
    /* scratch gets the sentence settings' text, a NUL, the checksum: pointers into it are taken
     * once it is complete (appending may move it) */
    size_t at = scratch->len;
    if (m->has_sentence) attx_sentence_config_write(&m->sentence, scratch);
    size_t checksum_at = scratch->len + 1;
    const char *covered[N_CHECKSUMMED] = {m->config_json, m->vocab_text, m->tokenizer_json, m->preprocessor_json,
                                          m->has_sentence && scratch->data ? scratch->data + at : NULL};
    char checksum[32];
    metadata_checksum(covered, checksum);
    attx_buf_append(scratch, "", 1);
    attx_buf_puts(scratch, checksum);
    covered[4] = m->has_sentence && !scratch->failed ? scratch->data + at : NULL;
    for (int k = 0; k < N_CHECKSUMMED; k++)
        if (covered[k]) { keys[n] = checksummed_keys[k]; values[n++] = covered[k]; }
    if (!scratch->failed) { keys[n] = "attx.checksum"; values[n++] = scratch->data + checksum_at; }
    return n;
}
