/* cmd_explain.h — the options and helpers of `attx explain` (cmd_explain.c) that `attx eval`
 * shares. The views of an explanation (listing, --trace, --html) are in explain_view.h. */
#ifndef ATTX_CMD_EXPLAIN_H
#define ATTX_CMD_EXPLAIN_H

#include "attx_explain.h"
#include "cli.h"

#include <stdio.h>

/* The SHAP options of attx explain and attx eval: --shap-p1, --shap-masker ids|text and
 * --shap-tree balanced|shap. explain_shap_option returns 1 when argv[*i] is one of them (set in
 * o, a bad value a usage error of cmd); after the loop explain_shap_defaults gives --shap-p1's
 * defaults (text masker, shap's tree) to those not set explicitly. */
typedef struct explain_shap_flags {
    int masker_set, tree_set;
} explain_shap_flags;
int explain_shap_option(const cli_command *cmd, int argc, char **argv, int *i, attx_explain_options *o,
                        explain_shap_flags *set);
void explain_shap_defaults(attx_explain_options *o, const explain_shap_flags *set);

/* 1 when the method list names[n_names] asks for method (or "all"). */
int wants_method(char *const *names, int n_names, const char *method);

/* Before an exact Shapley-input over texts[count] (shapley-input's model game, 2^n forward
 * passes for n players): prints on stderr how many forward passes that is and how long it
 * should take at the rate measured here on the first text's game (64 coalitions), and how many
 * texts have more than max_players players (they will be refused; with one text, its own error
 * says so). */
void explain_exact_estimate(const attx_model *m, const char *const *texts, size_t count, int max_players);

/* The help lines of those options. */
#define EXPLAIN_SHAP_HELP \
    "  --shap-p1        shap explains log(p1/(1-p1)) of class 1 whatever the class (P1's code),\n" \
    "                   with --shap-masker text and --shap-tree shap unless given\n" \
    "  --shap-masker M  ids (default: [MASK] in place of a token's id) or text (P1's, shap's Text\n" \
    "                   masker: \" [MASK]\" in the string, tokenized again)\n" \
    "  --shap-tree T    balanced (default, over the content tokens) or shap (P1's: shap's\n" \
    "                   token-merging tree over every token, [CLS] and [SEP] dropped after)\n"

#endif
