/* explain_label.c — how a player is named in every explain output (listing, --trace, --html):
 * its WordPiece token, or the patch's row and column. */
#include "cmd_explain.h"

#include <stdio.h>

const char *explain_player_label(const attx_model *m, const attx_explanation *ex, int i, char *buf, size_t cap)
{
    if (ex->arch == ATTX_ARCH_BERT || ex->arch == ATTX_ARCH_ATTN1) {
        const char *t = attx_wordpiece_token(attx_model_tokenizer(m), ex->enc.ids[ex->first_player + i]);
        return t ? t : "?";
    }
    snprintf(buf, cap, "patch %d,%d", i / ex->grid_w, i % ex->grid_w);
    return buf;
}
