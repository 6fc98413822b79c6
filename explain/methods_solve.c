/* methods_solve.c — the Shapley solver an explanation's options ask for, on any game. */
#include "methods_internal.h"

#include <stdio.h>
#include <stdlib.h>

int method_solve(const attx_game *g, const attx_explain_options *opt, attx_method_result *r,
                 attx_shapley_info *info, attx_error *err)
{
    attx_shapley_info local;
    if (!info) info = &local;
    int n = g->n;
    if (opt->samples > 0) {
        attx_sampler s = opt->sampler == ATTX_SAMPLER_NONE ? ATTX_SAMPLER_PERMUTATION : opt->sampler;
        if (s == ATTX_SAMPLER_PERMUTATION || s == ATTX_SAMPLER_KERNEL) {
            r->se = malloc((size_t)n * sizeof *r->se);
            if (!r->se) return attx_fail(err, "out of memory");
        }
        int rc;
        switch (s) {
        case ATTX_SAMPLER_PERMUTATION: {
            attx_permutation_options po = {.seed = opt->seed, .permutations = opt->samples};
            rc = attx_shapley_permutation(g, &po, r->scores, r->se, info, err);
            snprintf(r->how, sizeof r->how, "permutation sampling, %llu permutations",
                     (unsigned long long)info->samples);
            break;
        }
        case ATTX_SAMPLER_KERNEL: {
            attx_kernel_options ko = {.seed = opt->seed, .samples = opt->samples};
            rc = attx_shapley_kernel(g, &ko, r->scores, r->se, info, err);
            snprintf(r->how, sizeof r->how, "Kernel SHAP, %llu coalitions", (unsigned long long)info->evaluations);
            break;
        }
        case ATTX_SAMPLER_PAPER_RANDOM:
        case ATTX_SAMPLER_PAPER_KERNEL:
            rc = attx_shapley_paper(g, s == ATTX_SAMPLER_PAPER_RANDOM ? ATTX_PAPER_RANDOM : ATTX_PAPER_KERNEL,
                                    opt->samples, opt->seed, r->scores, info, err);
            snprintf(r->how, sizeof r->how, "P1's %s sampler, %d coalitions (unnormalised sum)",
                     s == ATTX_SAMPLER_PAPER_RANDOM ? "random" : "kernel_shap", opt->samples);
            break;
        default:
            return attx_fail(err, "unknown sampler %d", (int)s);
        }
        return rc;
    }
    if (!opt->exact && g->kind != ATTX_GAME_CUSTOM) {
        snprintf(r->how, sizeof r->how, "closed form");
        return attx_shapley_closed_form(g, r->scores, info, err);
    }
    int limit = opt->max_players > 0 ? opt->max_players : g->exact_max_players ? g->exact_max_players : 16;
    if (n > limit)
        return attx_fail(err, "%d players is too many to enumerate 2^%d coalitions (the limit is %d; "
                              "--max-players raises it, up to 30); sample with --samples N", n, n, limit);
    if (attx_shapley_exact(g, limit, r->scores, info, err) != 0) return -1;
    snprintf(r->how, sizeof r->how, "exact, %llu coalitions", (unsigned long long)info->evaluations);
    return 0;
}
