/* tcav_words.c — a T-TCAV result in words, for the terminal report (cmd_tcav.c) and the HTML
 * page (tcav_html.c): the verdict of a test, how the CAVs were made and how they were tested. */
#include "cmd_tcav.h"

#include <math.h>

const char *tcav_verdict(const attx_tcav_stat *s)
{
    if (isnan(s->test.p)) return "undefined";
    /* the sign of t: above (+) or below (-) 0.5 or the random baseline */
    return !s->significant ? "not significant" : s->test.t > 0 ? "significant (+)" : "significant (-)";
}

const char *tcav_cav_description(const attx_tcav_result *r)
{
    return r->classic ? "CAVs against random sets (TCAV)" : "relative CAVs (P1)";
}

const char *tcav_test_description(const attx_tcav_result *r)
{
    return r->classic         ? "Student's t-test against the random baseline"
           : r->null_baseline ? "Student's t-test against null CAVs (random halves of the concepts)"
                              : "one-sample t-test against 0.5";
}

char tcav_sign_char(int verdict)
{
    return verdict > 0 ? '+' : verdict < 0 ? '-' : '.';
}
