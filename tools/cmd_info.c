/* cmd_info.c — `attx info MODEL [--json]`: what a model is and where each piece came from. */
#include "embedder.h"

#include <string.h>

static int run_info(int argc, char **argv);

const cli_command cmd_info = {
    "info", "describe a model: architecture, sizes, labels, parameters, files",
    "usage: attx info MODEL [--json]\n"
    "\n"
    "Prints the architecture, sizes, labels, parameter count and dtypes of MODEL, and where each\n"
    "piece (config, weights, vocabulary, tokenizer and preprocessor settings) came from.\n"
    "MODEL is a Hugging Face directory or a .safetensors file made by `attx convert`.\n"
    "\n"
    "  --json   print one JSON object on stdout instead of text\n",
    run_info,
};

static const char *model_class(const attx_model_files *m)
{
    switch (m->config.arch) {
    case ATTX_ARCH_BERT: return m->has_head ? "BertForSequenceClassification" : "BertModel";
    case ATTX_ARCH_VIT: return m->has_head ? "ViTForImageClassification" : "ViTModel";
    case ATTX_ARCH_ATTN1: return "attn1 (one-layer [CLS]-query attention classifier)";
    }
    return "?";
}

static size_t count_lines(const char *text, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += text[i] == '\n';
    return n + (len > 0 && text[len - 1] != '\n');
}

/* Tensors the model uses, counted per dtype. */
static void count_dtypes(const attx_model_files *m, size_t counts[ATTX_DTYPE_COUNT])
{
    memset(counts, 0, ATTX_DTYPE_COUNT * sizeof counts[0]);
    for (size_t i = 0; i < m->n_specs; i++)
        if (m->by_spec[i]) counts[m->by_spec[i]->dtype]++;
}

static int is_text_model(const attx_config *c)
{
    return c->arch == ATTX_ARCH_BERT || c->arch == ATTX_ARCH_ATTN1;
}

static void print_json(const attx_model_files *m)
{
    const attx_config *c = &m->config;
    attx_buf out = {0};
    attx_json_writer w;
    attx_jw_init(&w, &out, 0);
    attx_jw_object_begin(&w);
    attx_jw_key(&w, "path"); attx_jw_string(&w, m->path);
    attx_jw_key(&w, "arch"); attx_jw_string(&w, attx_arch_name(c->arch));
    attx_jw_key(&w, "model_type"); attx_jw_string(&w, c->model_type);
    attx_jw_key(&w, "class"); attx_jw_string(&w, model_class(m));
    attx_jw_key(&w, "has_classifier"); attx_jw_bool(&w, m->has_head);
    attx_jw_key(&w, "layers"); attx_jw_int(&w, c->num_layers);
    attx_jw_key(&w, "hidden_size"); attx_jw_int(&w, c->hidden_size);
    attx_jw_key(&w, "heads"); attx_jw_int(&w, c->num_heads);
    attx_jw_key(&w, "head_dim"); attx_jw_int(&w, c->head_dim);
    if (c->arch == ATTX_ARCH_ATTN1) {
        attx_jw_key(&w, "value_dim"); attx_jw_int(&w, c->value_dim);
    } else {
        attx_jw_key(&w, "intermediate_size"); attx_jw_int(&w, c->intermediate_size);
        attx_jw_key(&w, "layer_norm_eps"); attx_jw_float(&w, c->layer_norm_eps);
        attx_jw_key(&w, "hidden_act"); attx_jw_string(&w, c->hidden_act);
    }
    if (is_text_model(c)) {
        attx_jw_key(&w, "vocab_size"); attx_jw_int(&w, c->vocab_size);
        attx_jw_key(&w, "max_position_embeddings"); attx_jw_int(&w, c->max_position_embeddings);
        if (c->arch == ATTX_ARCH_BERT) {
            attx_jw_key(&w, "type_vocab_size"); attx_jw_int(&w, c->type_vocab_size);
            attx_jw_key(&w, "do_lower_case"); attx_jw_bool(&w, m->do_lower_case);
        }
    } else {
        attx_jw_key(&w, "image_size");
        attx_jw_array_begin(&w);
        attx_jw_int(&w, c->image_height);
        attx_jw_int(&w, c->image_width);
        attx_jw_array_end(&w);
        attx_jw_key(&w, "patch_size"); attx_jw_int(&w, c->patch_size);
        attx_jw_key(&w, "grid");
        attx_jw_array_begin(&w);
        attx_jw_int(&w, c->image_height / c->patch_size);
        attx_jw_int(&w, c->image_width / c->patch_size);
        attx_jw_array_end(&w);
        attx_jw_key(&w, "tokens");
        attx_jw_int(&w, (c->image_height / c->patch_size) * (c->image_width / c->patch_size) + 1);
        attx_jw_key(&w, "num_channels"); attx_jw_int(&w, c->num_channels);
        attx_jw_key(&w, "qkv_bias"); attx_jw_bool(&w, c->qkv_bias);
    }
    attx_jw_key(&w, "labels");   /* a bare encoder has none (its config's id2label names nothing) */
    attx_jw_array_begin(&w);
    for (int i = 0; m->has_head && i < c->num_labels; i++) attx_jw_string(&w, c->labels[i]);
    attx_jw_array_end(&w);
    if (c->arch == ATTX_ARCH_BERT) {
        char pooling[128];
        attx_pooling_name(m->sentence.pooling, pooling, sizeof pooling);
        attx_jw_key(&w, "sentence_embedding");
        attx_jw_object_begin(&w);
        attx_jw_key(&w, "pooling"); attx_jw_string(&w, pooling);
        attx_jw_key(&w, "normalize"); attx_jw_bool(&w, m->sentence.normalize);
        attx_jw_key(&w, "max_seq_length"); attx_jw_int(&w, m->sentence.max_seq_length);
        attx_jw_key(&w, "dimensions"); attx_jw_int(&w, c->hidden_size * attx_pooling_count(m->sentence.pooling));
        attx_jw_object_end(&w);
    }
    attx_jw_key(&w, "parameters"); attx_jw_uint(&w, attx_model_param_count(m));
    size_t counts[ATTX_DTYPE_COUNT];
    count_dtypes(m, counts);
    attx_jw_key(&w, "dtypes");
    attx_jw_object_begin(&w);
    for (int t = 1; t < ATTX_DTYPE_COUNT; t++) {
        if (!counts[t]) continue;
        attx_jw_key(&w, attx_dtype_name((attx_dtype)t));
        attx_jw_uint(&w, counts[t]);
    }
    attx_jw_object_end(&w);
    attx_jw_key(&w, "sources");
    attx_jw_object_begin(&w);
    const char *keys[] = {"config", "weights", "vocab", "tokenizer", "preprocessor", "sentence"};
    const char *vals[] = {m->config_source, m->weights_source, m->vocab_source, m->tokenizer_source,
                          m->preprocessor_source, m->sentence_source};
    for (size_t i = 0; i < 6; i++) {
        attx_jw_key(&w, keys[i]);
        if (vals[i]) attx_jw_string(&w, vals[i]);
        else attx_jw_null(&w);
    }
    attx_jw_object_end(&w);
    attx_jw_key(&w, "weights_format");
    attx_jw_string(&w, m->weights.format == ATTX_FORMAT_SAFETENSORS ? "safetensors" : "pytorch");
    attx_jw_key(&w, "ignored_tensors");
    attx_jw_array_begin(&w);
    for (size_t i = 0; i < m->n_ignored; i++) attx_jw_string(&w, m->ignored[i]);
    attx_jw_array_end(&w);
    attx_jw_object_end(&w);
    cli_print_json(&out);
    attx_buf_free(&out);
}

/* ViT: image size, patch grid and token count, and the pixels past the last whole patch,
 * which the strided patch convolution never reads. */
static void print_image(const attx_config *c)
{
    int P = c->patch_size, gh = c->image_height / P, gw = c->image_width / P;
    printf("image         %dx%d (height x width), %d channels, qkv bias %s\n", c->image_height, c->image_width,
           c->num_channels, c->qkv_bias ? "yes" : "no");
    printf("patches       %dx%d in a %dx%d grid: %d patches + [CLS] = %d tokens", P, P, gh, gw, gh * gw,
           gh * gw + 1);
    if (c->image_height % P || c->image_width % P)
        printf(" (last %d rows and %d columns of pixels unused)", c->image_height % P, c->image_width % P);
    printf("\n");
}

static void print_text(const attx_model_files *m)
{
    const attx_config *c = &m->config;
    char num[64], size[32];
    printf("model         %s\n", m->path);
    printf("architecture  %s (%s)\n", model_class(m), c->model_type);
    if (c->arch == ATTX_ARCH_ATTN1)
        printf("sizes         %d heads, embedding %d, query/key %d and value %d per head\n", c->num_heads,
               c->hidden_size, c->head_dim, c->value_dim);
    else
        printf("sizes         %d layers, hidden %d, %d heads of %d, feed-forward %d, %s, eps %g\n",
               c->num_layers, c->hidden_size, c->num_heads, c->head_dim, c->intermediate_size,
               c->hidden_act, (double)c->layer_norm_eps);
    if (c->arch == ATTX_ARCH_BERT)
        printf("text          vocabulary %d, up to %d positions, %d token types, %s\n", c->vocab_size,
               c->max_position_embeddings, c->type_vocab_size, m->do_lower_case ? "lower-cased" : "cased");
    else if (c->arch == ATTX_ARCH_ATTN1)
        printf("text          vocabulary %d, torchtext basic_english words, fixed length %d: [cls] first, "
               "UNK (id %d) pads\n", c->vocab_size, c->max_position_embeddings, c->pad_token_id);
    else
        print_image(c);
    if (m->has_head) {
        printf("labels        %d:", c->num_labels);
        for (int i = 0; i < c->num_labels && i < 20; i++) printf(" %d=%s", i, c->labels[i]);
        printf("%s\n", c->num_labels > 20 ? " ..." : "");
    } else {
        printf("labels        none (no classifier: embeddings and T-TCAV only)\n");
    }
    if (c->arch == ATTX_ARCH_BERT) {
        char how[192];
        embed_describe(&m->sentence, c->max_position_embeddings, c->hidden_size, how, sizeof how);
        printf("embeddings    %s (%s)\n", how, m->sentence_source ? m->sentence_source : "attx's default");
    }
    size_t counts[ATTX_DTYPE_COUNT], used = 0;
    count_dtypes(m, counts);
    for (int t = 1; t < ATTX_DTYPE_COUNT; t++) used += counts[t];
    printf("parameters    %s in %zu tensors (", cli_thousands(attx_model_param_count(m), num, sizeof num), used);
    const char *sep = "";
    for (int t = 1; t < ATTX_DTYPE_COUNT; t++) {
        if (!counts[t]) continue;
        printf("%s%s: %zu", sep, attx_dtype_name((attx_dtype)t), counts[t]);
        sep = ", ";
    }
    printf(")\n");
    printf("weights       %s (%s, %s)\n", m->weights_source,
           m->weights.format == ATTX_FORMAT_SAFETENSORS ? "safetensors" : "PyTorch zip",
           cli_bytes(m->weights.map_size, size, sizeof size));
    printf("config        %s\n", m->config_source);
    if (m->vocab_source)
        printf("vocabulary    %s (%zu lines)\n", m->vocab_source, count_lines(m->vocab_text, m->vocab_len));
    else if (is_text_model(c))
        printf("vocabulary    none (needed to tokenize text)\n");
    if (m->tokenizer_source) printf("tokenizer     %s\n", m->tokenizer_source);
    if (m->preprocessor_source) printf("preprocessor  %s\n", m->preprocessor_source);
    if (m->n_ignored) {
        printf("not used      %zu tensor%s:", m->n_ignored, m->n_ignored == 1 ? "" : "s");
        for (size_t i = 0; i < m->n_ignored && i < 6; i++) printf(" %s", m->ignored[i]);
        printf("%s\n", m->n_ignored > 6 ? " ..." : "");
    }
}

static int run_info(int argc, char **argv)
{
    const char *model = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_end_of_options(argv[i])) continue;
        if (cli_flag(argv[i], "--json")) json = 1;
        else if (cli_is_option(argv[i])) cli_unknown_option(&cmd_info, argv[i]);
        else if (!model) model = argv[i];
        else cli_usage_error(&cmd_info, "unexpected argument '%s'", argv[i]);
    }
    if (!model) cli_usage_error(&cmd_info, "MODEL is missing");
    attx_model_files m;
    attx_error err;
    if (attx_model_files_open(&m, model, &err) != 0) cli_fail(&err);
    if (json) print_json(&m);
    else print_text(&m);
    attx_model_files_close(&m);
    return EXIT_OK;
}
