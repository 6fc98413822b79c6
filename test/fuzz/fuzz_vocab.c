/* fuzz_vocab.c — vocabulary loading: the input is a vocab.txt, loaded as a BERT WordPiece
 * vocabulary (lowercased and cased) and as an attn1 vocabulary, then used on a fixed text.
 * Properties checked on success:
 *   - the number of ids is the number of lines (line ends "\n", "\r\n", "\r");
 *   - every id's token reads back and its id is that id, or the token is listed again later
 *     (a duplicate keeps its last id, the earlier one reads as [UNK]);
 *   - the special ids are -1 or ids of the vocabulary, [UNK] always present;
 *   - encoding a fixed text gives ids of the vocabulary. */
#include "fuzz_util.h"

#include "attx_engine.h"
#include "attx_weights.h"
#include "basic_english.h"

static const char text[] = "The movie's plot [SEP] was un-believably GOOD!! caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 "
                           "[UNK] [cls] UNK x##y \xef\xbc\x81 na\xc3\xafve";

static size_t count_lines(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && s[i] != '\n' && s[i] != '\r') i++;
        if (i < len) i += (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n') ? 2 : 1;
        n++;
    }
    return n;
}

/* has_nul: a token may hold a NUL, which attx_wordpiece_id (a C string) cannot look up */
static void check_vocab(const attx_wordpiece *wp, size_t lines, int whole_words, int has_nul)
{
    size_t n = attx_wordpiece_vocab_size(wp);
    FUZZ_CHECK(n == lines);
    for (size_t i = 0; i < n && !has_nul; i++) {
        const char *tok = attx_wordpiece_token(wp, (int32_t)i);
        FUZZ_CHECK(tok != NULL);
        int32_t id = attx_wordpiece_id(wp, tok);
        FUZZ_CHECK(id >= 0 && (size_t)id < n);
        /* a shadowed id reads as the unknown token; otherwise the token maps back to i */
        if (id != (int32_t)i) FUZZ_CHECK(strcmp(tok, whole_words ? "UNK" : "[UNK]") == 0);
    }
    FUZZ_CHECK(n > INT32_MAX - 1 || attx_wordpiece_token(wp, (int32_t)n) == NULL);
    FUZZ_CHECK(attx_wordpiece_token(wp, -1) == NULL);
    attx_special_ids sp = attx_wordpiece_special_ids(wp);
    int32_t ids[5] = {sp.pad, sp.unk, sp.cls, sp.sep, sp.mask};
    for (int k = 0; k < 5; k++) FUZZ_CHECK(ids[k] >= -1 && (ids[k] < 0 || (size_t)ids[k] < n));
    FUZZ_CHECK(sp.unk >= 0);

    attx_tokens t = {0};
    attx_error err;
    FUZZ_CHECK(attx_wordpiece_encode(wp, text, sizeof text - 1, &t, &err) == 0);
    for (size_t i = 0; i < t.n; i++) FUZZ_CHECK(t.ids[i] >= 0 && (size_t)t.ids[i] < n);
    attx_tokens_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *vocab = (const char *)data;
    size_t lines = count_lines(vocab, size);
    int has_nul = size > 0 && memchr(vocab, '\0', size) != NULL;
    attx_wordpiece *wp = NULL;
    attx_error err;
    for (int lower = 0; lower <= 1; lower++) {
        if (attx_wordpiece_load(&wp, vocab, size, lower, &err) == 0) {
            check_vocab(wp, lines, 0, has_nul);
            attx_wordpiece_free(wp);
        } else {
            FUZZ_CHECK(wp == NULL);
        }
    }
    if (attx_attn1_vocab_load(&wp, vocab, size, &err) == 0) {
        check_vocab(wp, lines, 1, has_nul);
        attx_wordpiece_free(wp);
    } else {
        FUZZ_CHECK(wp == NULL);
    }
    return 0;
}
