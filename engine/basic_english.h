/* basic_english.h — internal: torchtext's basic_english tokenizer with byte ranges. */
#ifndef ATTX_BASIC_ENGLISH_H
#define ATTX_BASIC_ENGLISH_H

#include <stddef.h>
#include <stdint.h>

#include "attx_engine.h"

/* A word (UTF-8, not NUL-terminated) and the byte range [start, end) of the text it came from:
 * from the first to the last source character that produced its bytes. */
typedef void (*attx_span_word_fn)(void *user, const char *word, size_t len, uint32_t start, uint32_t end);

/* The words of attx_basic_english, with their ranges. Errors: invalid UTF-8, text over 4 GiB,
 * out of memory. */
int attx_basic_english_spans(const char *text, size_t len, attx_span_word_fn on_word, void *user,
                             attx_error *err);

/* The attn1 vocabulary (one token per line) as a tokenizer that looks basic_english words up
 * whole, unknown ones as "UNK": the model's attx_model_tokenizer. Its special ids: unk = pad =
 * "UNK", cls = "[cls]", no sep or mask. Errors as attx_wordpiece_load, or no "[cls]"/"UNK". */
int attx_attn1_vocab_load(attx_wordpiece **out, const char *vocab_text, size_t len, attx_error *err);

#endif
