/* attx_web.c — the WebAssembly entry of the live teaching page (make web): the page writes a
 * model file into emscripten's in-memory file system, opens it here, and asks for explanations
 * as the JSON document of tools/explain_view.c, the one `attx explain --html` embeds; the
 * page's renderer (explain_page.js) draws it. Text models. */
#include "tools/explain_view.h"

#include <emscripten.h>
#include <stdlib.h>
#include <string.h>

const char *attx_web_open(const char *path);
const char *attx_web_explain(const char *text, const char *methods, int samples);

static attx_model *model;
static char model_name[256];
static attx_buf reply;   /* the last answer, valid until the next call */

/* {"error": msg} in reply */
static const char *error_reply(const char *msg)
{
    attx_buf_free(&reply);
    attx_json_writer w;
    attx_jw_init(&w, &reply, 0);
    attx_jw_object_begin(&w);
    attx_jw_key(&w, "error");
    attx_jw_string(&w, msg);
    attx_jw_object_end(&w);
    return reply.data ? reply.data : "{\"error\":\"out of memory\"}";
}

/* Opens the model at path (closing the one before); "" or an error message. */
EMSCRIPTEN_KEEPALIVE const char *attx_web_open(const char *path)
{
    static attx_error err;
    attx_model_close(model);
    model = NULL;
    if (attx_model_open(&model, path, &err) != 0) return err.msg;
    const attx_config *cfg = attx_model_config(model);
    if (cfg->arch != ATTX_ARCH_BERT || !attx_model_has_classifier(model)) {
        attx_model_close(model);
        model = NULL;
        return "the page explains text classifiers (BERT with a classifier)";
    }
    const char *base = strrchr(path, '/');
    snprintf(model_name, sizeof model_name, "%s", base ? base + 1 : path);
    return "";
}

/* The teaching document of text under the comma-separated methods (samples > 0: sampled
 * Shapley values, as --samples), or {"error": ...}. */
EMSCRIPTEN_KEEPALIVE const char *attx_web_explain(const char *text, const char *methods, int samples)
{
    if (!model) return error_reply("no model is open");
    char *list = strdup(methods), *names[64], *save = NULL;
    int n = 0;
    if (!list) return error_reply("out of memory");
    for (char *t = strtok_r(list, ",", &save); t && n < 64; t = strtok_r(NULL, ",", &save))
        if (*t) names[n++] = t;
    attx_explain_options opt;
    attx_explain_options_init(&opt);
    opt.samples = samples > 0 ? samples : 0;
    attx_explanation ex;
    attx_error err;
    const char *out;
    if (attx_explain_text(model, text, strlen(text), (const char *const *)names, n, &opt, &ex, &err) != 0) {
        out = error_reply(err.msg);
    } else {
        explain_doc_options d = {.opts = &opt, .teaching = 1, .attentions = 1, .model_path = model_name, .input = text};
        attx_buf_free(&reply);
        out = explain_document(&reply, model, &ex, &d, &err) == 0 ? reply.data : error_reply(err.msg);
    }
    attx_explanation_free(&ex);
    free(list);
    return out;
}
