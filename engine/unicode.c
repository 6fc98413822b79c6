/* unicode.c — lookups in the generated Unicode tables (unicode_data.c), plus the algorithmic
 * Hangul decomposition and composition. */
#include "unicode.h"

/* Hangul syllables (Unicode 15.0, section 3.12 "Conjoining Jamo Behavior"). */
enum {
    HANGUL_S = 0xAC00, HANGUL_L = 0x1100, HANGUL_V = 0x1161, HANGUL_T = 0x11A7,
    HANGUL_L_COUNT = 19, HANGUL_V_COUNT = 21, HANGUL_T_COUNT = 28,
    HANGUL_N_COUNT = HANGUL_V_COUNT * HANGUL_T_COUNT,      /* 588 */
    HANGUL_S_COUNT = HANGUL_L_COUNT * HANGUL_N_COUNT       /* 11172 */
};

/* ASCII classes, so that English text never reaches a binary search. */
static attx_uc_class ascii_class(uint32_t cp)
{
    if (cp < 0x20 || cp == 0x7F) return ATTX_UC_CONTROL;
    if (cp == ' ') return ATTX_UC_ZS;
    /* the P* characters of ASCII; $ + < = > ^ ` | ~ are symbols (S*) */
    if ((cp >= '!' && cp <= '/' && cp != '$' && cp != '+') || cp == ':' || cp == ';' ||
        cp == '?' || cp == '@' || cp == '[' || cp == '\\' || cp == ']' || cp == '_' ||
        cp == '{' || cp == '}')
        return ATTX_UC_PUNCT;
    return ATTX_UC_OTHER;
}

attx_uc_class attx_uc_class_of(uint32_t cp)
{
    if (cp < 0x80) return ascii_class(cp);
    if (cp > 0x10FFFF) return ATTX_UC_CONTROL;
    /* last run whose start is <= cp */
    size_t lo = 0, hi = attx_uc_class_runs_len;   /* runs[0] starts at 0 */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if ((attx_uc_class_runs[mid] >> 8) <= cp) lo = mid;
        else hi = mid;
    }
    return (attx_uc_class)(attx_uc_class_runs[lo] & 0xFF);
}

int attx_uc_ccc(uint32_t cp)
{
    if (cp < 0x300) return 0;
    size_t lo = 0, hi = attx_uc_ccc_runs_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const attx_uc_ccc_run *r = &attx_uc_ccc_runs[mid];
        if (cp < r->first) hi = mid;
        else if (cp > r->last) lo = mid + 1;
        else return (int)r->ccc;
    }
    return 0;
}

int attx_uc_lower(uint32_t cp, uint32_t out[ATTX_UC_LOWER_MAX])
{
    if (cp < 0x80) {
        out[0] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
        return 1;
    }
    for (size_t i = 0; i < attx_uc_lower_multis_len; i++) {   /* one entry: U+0130 */
        const attx_uc_lower_multi *m = &attx_uc_lower_multis[i];
        if (m->cp == cp) {
            for (uint32_t k = 0; k < m->n; k++) out[k] = m->to[k];
            return (int)m->n;
        }
    }
    out[0] = cp;
    size_t lo = 0, hi = attx_uc_lower_runs_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const attx_uc_lower_run *r = &attx_uc_lower_runs[mid];
        if (cp < r->first) hi = mid;
        else if (cp > r->last) lo = mid + 1;
        else {
            if ((cp - r->first) % r->step == 0) out[0] = (uint32_t)((int32_t)cp + r->delta);
            break;
        }
    }
    return 1;
}

int attx_uc_nfd(uint32_t cp, uint32_t out[ATTX_UC_NFD_MAX])
{
    if (cp < 0xC0) {
        out[0] = cp;
        return 1;
    }
    if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_S_COUNT) {
        uint32_t s = cp - HANGUL_S;
        out[0] = HANGUL_L + s / HANGUL_N_COUNT;
        out[1] = HANGUL_V + (s % HANGUL_N_COUNT) / HANGUL_T_COUNT;
        if (s % HANGUL_T_COUNT == 0) return 2;
        out[2] = HANGUL_T + s % HANGUL_T_COUNT;
        return 3;
    }
    size_t lo = 0, hi = attx_uc_nfd_entries_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const attx_uc_nfd_entry *e = &attx_uc_nfd_entries[mid];
        if (cp < e->cp) hi = mid;
        else if (cp > e->cp) lo = mid + 1;
        else {
            for (int k = 0; k < e->len; k++) out[k] = attx_uc_nfd_pool[e->offset + k];
            return e->len;
        }
    }
    out[0] = cp;
    return 1;
}

uint32_t attx_uc_compose(uint32_t a, uint32_t b)
{
    /* L + V -> LV syllable; LV + T -> LVT syllable */
    if (a >= HANGUL_L && a < HANGUL_L + HANGUL_L_COUNT && b >= HANGUL_V && b < HANGUL_V + HANGUL_V_COUNT)
        return HANGUL_S + ((a - HANGUL_L) * HANGUL_V_COUNT + (b - HANGUL_V)) * HANGUL_T_COUNT;
    if (a >= HANGUL_S && a < HANGUL_S + HANGUL_S_COUNT && (a - HANGUL_S) % HANGUL_T_COUNT == 0 &&
        b > HANGUL_T && b < HANGUL_T + HANGUL_T_COUNT)
        return a + (b - HANGUL_T);
    if (b < 0x300) return 0;   /* no primary composite has a second part below U+0300 */
    size_t lo = 0, hi = attx_uc_compose_pairs_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const attx_uc_pair *p = &attx_uc_compose_pairs[mid];
        if (a < p->first || (a == p->first && b < p->second)) hi = mid;
        else if (a > p->first || b > p->second) lo = mid + 1;
        else return p->composite;
    }
    return 0;
}
