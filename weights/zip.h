/* zip.h — internal: the read-only zip container reader used by the torch.save reader.
 *
 * Only what torch.save writes is accepted: one disk, stored (uncompressed, unencrypted) entries,
 * optional ZIP64 records. Entries point into the caller's bytes; nothing is copied. */
#ifndef ATTX_ZIP_H
#define ATTX_ZIP_H

#include "attx_weights.h"

#define ATTX_ZIP_MAX_ENTRIES 1000000
#define ATTX_ZIP_MAX_NAME 4096

typedef struct attx_zip_entry {
    const char *name;             /* not NUL-terminated: name_len bytes inside the archive */
    size_t name_len;
    const unsigned char *data;    /* the stored bytes */
    uint64_t size;
} attx_zip_entry;

typedef struct attx_zip {
    attx_zip_entry *entries;      /* in central directory order */
    size_t n_entries;
    const attx_zip_entry **sorted; /* the entries sorted by name, for attx_zip_find */
} attx_zip;

/* Reads the central directory of bytes[0..size) and checks every entry. Messages do not name
 * the file (the caller prefixes it). On failure z is left empty (nothing to free). */
int attx_zip_open(attx_zip *z, const unsigned char *bytes, size_t size, attx_error *err);
void attx_zip_free(attx_zip *z);

/* The entry with exactly this name, or NULL. */
const attx_zip_entry *attx_zip_find(const attx_zip *z, const char *name, size_t name_len);

/* Writes name into out (cap bytes) for messages: at most ~200 bytes, control and non-ASCII
 * bytes as '?'. Returns out. */
char *attx_zip_printable(char *out, size_t cap, const char *name, size_t len);

#endif
