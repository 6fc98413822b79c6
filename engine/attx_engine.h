/* attx_engine.h — the engine module's public API.
 *
 * Conventions as in attx_weights.h: functions that can fail return 0 on success and -1 on
 * failure, and then fill `attx_error` with a one-line message. Nothing here prints or exits.
 */
#ifndef ATTX_ENGINE_H
#define ATTX_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "attx_weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Tokenizer                                                                                   */
/*                                                                                             */
/* WordPiece, token for token what Hugging Face's slow (Python) BertTokenizer gives with        */
/* tokenize_chinese_chars=True and strip_accents=None: the special tokens of the vocabulary     */
/* ([CLS] [SEP] [PAD] [UNK] [MASK], spelled exactly) stay whole; then clean-up (drop NUL,       */
/* U+FFFD and control/format/unassigned characters, whitespace to spaces), spaces around CJK    */
/* ideographs, whitespace split, lowercase + NFD + drop Mn (do_lower_case; otherwise NFC),      */
/* punctuation split, and greedy longest-match-first WordPiece with "##" continuations (a word  */
/* over 100 characters, or with a position nothing matches, becomes one [UNK]). Unicode         */
/* properties come from UCD 15.0.0 (see engine/unicode_data.c).                                 */

typedef struct attx_wordpiece attx_wordpiece;   /* opaque */

/* Tokens of one text, without [CLS]/[SEP]. start/end: the byte range [start, end) in the
 * text of the word a token came from (every piece of a word has the word's range; a split
 * punctuation character or CJK ideograph has its own). Zero-initialise before first use. */
typedef struct attx_tokens {
    int32_t *ids;
    uint32_t *start;
    uint32_t *end;
    size_t n;
    size_t cap;        /* allocated entries */
} attx_tokens;

/* Special token ids; -1 when the vocabulary lacks the token. */
typedef struct attx_special_ids {
    int32_t pad, unk, cls, sep, mask;
} attx_special_ids;

/* Builds a tokenizer from the text of a vocab.txt: one token per line, id = line index (0-based).
 * Lines end with "\n", "\r\n" or "\r" (Python's universal newlines) and a last line needs no
 * line end. A token listed twice keeps its last id (HF builds a dict), and its earlier id reads
 * back as [UNK]. Errors: empty text, invalid UTF-8 (with the line number), no [UNK] token. */
int attx_wordpiece_load(attx_wordpiece **out, const char *vocab_text, size_t len,
                        int do_lower_case, attx_error *err);
void attx_wordpiece_free(attx_wordpiece *wp);

/* Tokenizes text[0..len) into out (reset first; its arrays are reused and grown). Empty or
 * whitespace-only text gives 0 tokens. Errors: "invalid UTF-8 at byte N", text over 4 GiB,
 * out of memory. */
int attx_wordpiece_encode(const attx_wordpiece *wp, const char *text, size_t len,
                          attx_tokens *out, attx_error *err);
void attx_tokens_free(attx_tokens *t);

/* Number of ids (lines of vocab.txt; with duplicated tokens more than HF's len(vocab)). */
size_t attx_wordpiece_vocab_size(const attx_wordpiece *wp);
/* The token of an id (NUL-terminated; "[UNK]" for the earlier id of a duplicated token), or
 * NULL when id is out of range. */
const char *attx_wordpiece_token(const attx_wordpiece *wp, int32_t id);
/* The id of a token, or -1. */
int32_t attx_wordpiece_id(const attx_wordpiece *wp, const char *token);
attx_special_ids attx_wordpiece_special_ids(const attx_wordpiece *wp);

#ifdef __cplusplus
}
#endif

#endif /* ATTX_ENGINE_H */
