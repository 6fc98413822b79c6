/* eval_sampling.c — P1's open question 3: how far the sampled Shapley estimates are from the
 * exact values as the number of samples grows, per sampler. */
#include "attx_eval.h"

#include <math.h>
#include <stdlib.h>

const char *attx_sampler_name(attx_sampler s)
{
    switch (s) {
    case ATTX_SAMPLER_PERMUTATION: return "permutation";
    case ATTX_SAMPLER_KERNEL: return "kernel";
    case ATTX_SAMPLER_PAPER_RANDOM: return "paper-random";
    case ATTX_SAMPLER_PAPER_KERNEL: return "paper-kernel";
    default: return "exact";
    }
}

int attx_sampling_study_example(const attx_model *m, const int32_t *ids, int length, const char *method,
                                const attx_explain_options *opts, const attx_sampler *samplers, int ns,
                                const int *counts, int nc, double *mae, attx_error *err)
{
    attx_explain_options o = *opts;
    o.exact = 1;
    o.samples = 0;
    o.sampler = ATTX_SAMPLER_NONE;
    attx_explanation exact;
    if (attx_explain_ids(m, ids, length, &method, 1, &o, &exact, err) != 0) {
        attx_explanation_free(&exact);
        return -1;
    }
    int n = exact.n_players, rc = 0;
    o.exact = 0;
    for (int s = 0; s < ns && rc == 0; s++)
        for (int c = 0; c < nc && rc == 0; c++) {
            o.sampler = samplers[s];
            o.samples = counts[c];
            attx_explanation est;
            attx_error cell;
            if (attx_explain_ids(m, ids, length, &method, 1, &o, &est, &cell) == 0) {
                double sum = 0;
                for (int i = 0; i < n; i++) sum += fabs(est.methods[0].scores[i] - exact.methods[0].scores[i]);
                mae[s * nc + c] = sum / n;
            } else {
                mae[s * nc + c] = NAN;   /* e.g. Kernel SHAP's system is singular with too few coalitions */
            }
            attx_explanation_free(&est);
        }
    attx_explanation_free(&exact);
    return rc;
}
