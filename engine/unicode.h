/* unicode.h — the Unicode character properties the WordPiece tokenizer needs (internal).
 *
 * Tables are generated from the Unicode Character Database by tools/gen_unicode.py into
 * unicode_data.c (version in attx_uc_version); lookups are binary searches in unicode.c.
 * Hangul syllables are decomposed and composed algorithmically (Unicode 15.0, section 3.12).
 */
#ifndef ATTX_UNICODE_H
#define ATTX_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* What the tokenizer needs to know about a code point; categories as in UnicodeData.txt. */
typedef enum attx_uc_class {
    ATTX_UC_OTHER = 0,
    ATTX_UC_MN = 1,          /* Mn: dropped after NFD when stripping accents */
    ATTX_UC_PUNCT = 2,       /* P*: Pc Pd Ps Pe Pi Pf Po */
    ATTX_UC_ZS = 3,          /* Zs: space separators */
    ATTX_UC_CONTROL = 4,     /* C*: Cc Cf Cs Co Cn (unassigned code points too) */
    ATTX_UC_SPACE_OTHER = 5  /* whitespace for Python's str.split() outside Zs and Cc: U+2028, U+2029 */
} attx_uc_class;

#define ATTX_UC_LOWER_MAX 3  /* longest full lowercase mapping (U+0130 -> 0069 0307 is 2) */
#define ATTX_UC_NFD_MAX 4    /* longest full canonical decomposition of one code point */

attx_uc_class attx_uc_class_of(uint32_t cp);
/* Canonical combining class (0 for starters). */
int attx_uc_ccc(uint32_t cp);
/* Full lowercase mapping as Python's str.lower applies it to a single character: the
 * unconditional SpecialCasing.txt mapping, else the simple one, else cp itself. Writes 1 to
 * ATTX_UC_LOWER_MAX code points and returns how many. (No Final_Sigma context: see
 * tokenizer.c for why the tokenizer never needs it.) */
int attx_uc_lower(uint32_t cp, uint32_t out[ATTX_UC_LOWER_MAX]);
/* Full canonical decomposition of one code point (Hangul algorithmically). Writes 1 to
 * ATTX_UC_NFD_MAX code points and returns how many (1 and cp itself when there is none).
 * The result of one code point is already in canonical order; putting a sequence of them in
 * canonical order is the caller's job. */
int attx_uc_nfd(uint32_t cp, uint32_t out[ATTX_UC_NFD_MAX]);
/* The primary composite of a + b (NFC), or 0 if there is none. */
uint32_t attx_uc_compose(uint32_t a, uint32_t b);

/* ------------------------------------------------------------------------------------------ */
/* Tables in unicode_data.c (generated).                                                       */

typedef struct attx_uc_lower_run {
    uint32_t first, last;
    int32_t delta;
    uint32_t step;       /* 1: every code point of the run; 2: every other one */
} attx_uc_lower_run;

typedef struct attx_uc_lower_multi {
    uint32_t cp;
    uint32_t n;
    uint32_t to[ATTX_UC_LOWER_MAX];
} attx_uc_lower_multi;

typedef struct attx_uc_ccc_run {
    uint32_t first, last;
    uint32_t ccc;
} attx_uc_ccc_run;

typedef struct attx_uc_nfd_entry {
    uint32_t cp;
    uint16_t offset;     /* into attx_uc_nfd_pool */
    uint16_t len;
} attx_uc_nfd_entry;

typedef struct attx_uc_pair {
    uint32_t first, second, composite;
} attx_uc_pair;

extern const char attx_uc_version[];
extern const uint32_t attx_uc_class_runs[];          /* start << 8 | class, sorted by start */
extern const size_t attx_uc_class_runs_len;
extern const attx_uc_lower_run attx_uc_lower_runs[];
extern const size_t attx_uc_lower_runs_len;
extern const attx_uc_lower_multi attx_uc_lower_multis[];
extern const size_t attx_uc_lower_multis_len;
extern const attx_uc_ccc_run attx_uc_ccc_runs[];
extern const size_t attx_uc_ccc_runs_len;
extern const attx_uc_nfd_entry attx_uc_nfd_entries[];
extern const size_t attx_uc_nfd_entries_len;
extern const uint32_t attx_uc_nfd_pool[];
extern const attx_uc_pair attx_uc_compose_pairs[];
extern const size_t attx_uc_compose_pairs_len;

#endif /* ATTX_UNICODE_H */
