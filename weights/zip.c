/* zip.c — a defensive reader for the zip container of torch.save checkpoints.
 *
 * Layout (PKWARE APPNOTE): [local header, name, extra, data]... central directory (one header
 * per entry) [ZIP64 end record, ZIP64 locator] end record (+ comment). The end record is found
 * by scanning back from the end; the central directory gives each entry's sizes and the offset
 * of its local header; the data starts after the LOCAL header's name and extra field (torch pads
 * the local extra field so that data is 64-byte aligned, so it differs from the central one).
 * torch writes sizes only in the central directory (flag bit 3: sizes follow the data), stored
 * (method 0) entries, and always a ZIP64 end record. Every offset and size is bounds-checked
 * with overflow-safe arithmetic before use.
 */
#include "zip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u        /* "PK\3\4" */
#define SIG_CENTRAL 0x02014b50u      /* "PK\1\2" */
#define SIG_END 0x06054b50u          /* "PK\5\6" */
#define SIG_END64 0x06064b50u        /* "PK\6\6" */
#define SIG_LOCATOR64 0x07064b50u    /* "PK\6\7" */

#define END_SIZE 22
#define END64_SIZE 56
#define LOCATOR64_SIZE 20
#define CENTRAL_SIZE 46
#define LOCAL_SIZE 30
#define MAX_COMMENT 65535

#define FLAG_ENCRYPTED 0x0001u
#define FLAG_DATA_DESCRIPTOR 0x0008u  /* sizes in the local header are zero */
#define EXTRA_ZIP64 0x0001u

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const unsigned char *p) { return (uint32_t)rd16(p) | ((uint32_t)rd16(p + 2) << 16); }
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

/* 1 if [off, off + len) lies within [0, limit). */
static int in_range(uint64_t off, uint64_t len, uint64_t limit)
{
    return off <= limit && len <= limit - off;
}

char *attx_zip_printable(char *out, size_t cap, const char *name, size_t len)
{
    size_t n = 0, max = cap - 1 < 200 ? cap - 1 : 200;
    for (size_t i = 0; i < len && n < max; i++) {
        unsigned char c = (unsigned char)name[i];
        out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (len > max && n >= 3) memcpy(out + n - 3, "...", 3);
    out[n] = '\0';
    return out;
}

/* ------------------------------------------------------------------------------------------ */
/* End of central directory                                                                    */

typedef struct central_dir {
    uint64_t n_entries;
    uint64_t offset;
    uint64_t size;
    uint64_t limit;   /* where the central directory must end: the first end record */
} central_dir;

/* The end record is the last 22+ bytes; its comment length must match the bytes after it, which
 * rules out "PK\5\6" appearing by chance inside a comment or the data. */
static int find_end_record(const unsigned char *b, size_t size, size_t *pos, attx_error *err)
{
    if (size < END_SIZE) return attx_fail(err, "not a zip file (%zu bytes)", size);
    size_t last = size - END_SIZE;
    size_t first = last > MAX_COMMENT ? last - MAX_COMMENT : 0;
    for (size_t p = last + 1; p-- > first;) {
        if (rd32(b + p) == SIG_END && rd16(b + p + 20) == size - END_SIZE - p) {
            *pos = p;
            return 0;
        }
    }
    if (size >= 4 && rd32(b) == SIG_LOCAL)
        return attx_fail(err, "truncated or damaged zip file: no end of central directory record");
    return attx_fail(err, "not a zip file");
}

/* Takes the ZIP64 value where the classic field holds its "see ZIP64" sentinel; where both hold
 * a value they must agree. */
static int merge_zip64_field(uint64_t classic, uint64_t sentinel, uint64_t z64, const char *what,
                             uint64_t *out, attx_error *err)
{
    if (classic != sentinel && classic != z64)
        return attx_fail(err, "zip64 end of central directory disagrees with the end record "
                              "about the %s (%llu vs %llu)", what, (unsigned long long)z64,
                         (unsigned long long)classic);
    *out = z64;
    return 0;
}

/* Reads the ZIP64 end record that the locator just before the end record points to. */
static int read_zip64_end(const unsigned char *b, size_t end_pos, central_dir *cd,
                          uint64_t classic_entries, uint64_t classic_disk_entries,
                          attx_error *err)
{
    size_t loc = end_pos - LOCATOR64_SIZE;
    uint64_t rec = rd64(b + loc + 8);
    if (rd32(b + loc + 4) != 0 || rd32(b + loc + 16) > 1)
        return attx_fail(err, "multi-disk zip archives are not supported");
    if (!in_range(rec, END64_SIZE, loc) || rd32(b + rec) != SIG_END64)
        return attx_fail(err, "zip64 end of central directory record not found at offset %llu",
                         (unsigned long long)rec);
    /* the record's own size field counts the bytes after its first 12 */
    uint64_t rec_size = rd64(b + rec + 4);
    if (rec_size < END64_SIZE - 12 || !in_range(rec + 12, rec_size, loc))
        return attx_fail(err, "zip64 end of central directory record has a bad size (%llu)",
                         (unsigned long long)rec_size);
    if (rd32(b + rec + 16) != 0 || rd32(b + rec + 20) != 0)
        return attx_fail(err, "multi-disk zip archives are not supported");
    uint64_t disk_entries = rd64(b + rec + 24);
    if (disk_entries != rd64(b + rec + 32))
        return attx_fail(err, "multi-disk zip archives are not supported");
    if (merge_zip64_field(classic_entries, 0xFFFF, rd64(b + rec + 32), "number of entries",
                          &cd->n_entries, err) != 0 ||
        merge_zip64_field(classic_disk_entries, 0xFFFF, disk_entries, "number of entries",
                          &disk_entries, err) != 0 ||
        merge_zip64_field(cd->size, 0xFFFFFFFF, rd64(b + rec + 40), "central directory size",
                          &cd->size, err) != 0 ||
        merge_zip64_field(cd->offset, 0xFFFFFFFF, rd64(b + rec + 48), "central directory offset",
                          &cd->offset, err) != 0)
        return -1;
    cd->limit = rec;
    return 0;
}

static int read_end_records(const unsigned char *b, size_t size, central_dir *cd, attx_error *err)
{
    size_t end = 0;
    if (find_end_record(b, size, &end, err) != 0) return -1;
    const unsigned char *e = b + end;
    uint16_t disk = rd16(e + 4), cd_disk = rd16(e + 6);
    uint64_t disk_entries = rd16(e + 8);
    cd->n_entries = rd16(e + 10);
    cd->size = rd32(e + 12);
    cd->offset = rd32(e + 16);
    cd->limit = end;
    int has_zip64 = end >= LOCATOR64_SIZE && rd32(b + end - LOCATOR64_SIZE) == SIG_LOCATOR64;
    if (has_zip64) {
        if ((disk != 0 && disk != 0xFFFF) || (cd_disk != 0 && cd_disk != 0xFFFF))
            return attx_fail(err, "multi-disk zip archives are not supported");
        if (read_zip64_end(b, end, cd, cd->n_entries, disk_entries, err) != 0) return -1;
    } else {
        if (disk != 0 || cd_disk != 0 || disk_entries != cd->n_entries)
            return attx_fail(err, "multi-disk zip archives are not supported");
    }
    if (cd->n_entries > ATTX_ZIP_MAX_ENTRIES)
        return attx_fail(err, "zip archive has %llu entries, more than the %d allowed",
                         (unsigned long long)cd->n_entries, ATTX_ZIP_MAX_ENTRIES);
    if (!in_range(cd->offset, cd->size, cd->limit))
        return attx_fail(err, "central directory (offset %llu, %llu bytes) lies outside the file "
                              "(its end records start at %llu)",
                         (unsigned long long)cd->offset, (unsigned long long)cd->size,
                         (unsigned long long)cd->limit);
    if (cd->n_entries > cd->size / CENTRAL_SIZE)
        return attx_fail(err, "central directory of %llu bytes cannot hold %llu entries",
                         (unsigned long long)cd->size, (unsigned long long)cd->n_entries);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Entries                                                                                     */

/* The ZIP64 extra field (id 1) inside an extra block, or NULL with *len = 0. */
static int find_zip64_extra(const unsigned char *extra, size_t extra_len, const char *entry,
                            const unsigned char **out, size_t *out_len, attx_error *err)
{
    *out = NULL;
    *out_len = 0;
    size_t off = 0;
    while (extra_len - off >= 4) {                    /* fewer bytes left: padding, ignored */
        uint16_t id = rd16(extra + off), len = rd16(extra + off + 2);
        if (len > extra_len - off - 4)
            return attx_fail(err, "entry '%s' has a malformed extra field", entry);
        if (id == EXTRA_ZIP64) {
            *out = extra + off + 4;
            *out_len = len;
            return 0;
        }
        off += 4 + (size_t)len;
    }
    return 0;
}

/* Replaces each 32-bit field that holds 0xFFFFFFFF by the next 64-bit value of the ZIP64 extra
 * field; the values appear in the order of `fields` (uncompressed, compressed, offset). */
static int apply_zip64(const unsigned char *extra, size_t extra_len, const char *entry,
                       uint64_t *fields[], int n_fields, attx_error *err)
{
    int needed = 0;
    for (int i = 0; i < n_fields; i++) needed += *fields[i] == 0xFFFFFFFFu;
    if (needed == 0) return 0;
    const unsigned char *z;
    size_t zlen;
    if (find_zip64_extra(extra, extra_len, entry, &z, &zlen, err) != 0) return -1;
    if (!z) return attx_fail(err, "entry '%s' needs a zip64 extra field and has none", entry);
    size_t off = 0;
    for (int i = 0; i < n_fields; i++) {
        if (*fields[i] != 0xFFFFFFFFu) continue;
        if (zlen - off < 8) return attx_fail(err, "zip64 extra field of entry '%s' is too short", entry);
        *fields[i] = rd64(z + off);
        off += 8;
    }
    return 0;
}

/* Checks the local header of an entry against its central header and finds the data. */
static int read_local_header(const unsigned char *b, const central_dir *cd, attx_zip_entry *e,
                             uint64_t local_off, const char *entry, attx_error *err)
{
    if (!in_range(local_off, LOCAL_SIZE, cd->offset))
        return attx_fail(err, "entry '%s' has its local header at offset %llu, outside the data "
                              "area", entry, (unsigned long long)local_off);
    const unsigned char *h = b + local_off;
    if (rd32(h) != SIG_LOCAL)
        return attx_fail(err, "entry '%s' has no local header signature at offset %llu", entry,
                         (unsigned long long)local_off);
    uint16_t flags = rd16(h + 6), method = rd16(h + 8), name_len = rd16(h + 26);
    uint16_t extra_len = rd16(h + 28);
    uint64_t header_end = local_off + LOCAL_SIZE + name_len + extra_len;
    if (header_end > cd->offset)
        return attx_fail(err, "local header of entry '%s' runs past the data area", entry);
    if (name_len != e->name_len || memcmp(h + LOCAL_SIZE, e->name, name_len) != 0)
        return attx_fail(err, "entry '%s' has another name in its local header", entry);
    if (flags & FLAG_ENCRYPTED) return attx_fail(err, "entry '%s' is encrypted", entry);
    if (method != 0)
        return attx_fail(err, "entry '%s' is compressed (method %u); torch.save writes stored "
                              "entries", entry, method);
    if (!(flags & FLAG_DATA_DESCRIPTOR)) {
        uint64_t usize = rd32(h + 22), csize = rd32(h + 18);
        uint64_t *fields[] = {&usize, &csize};
        if (apply_zip64(h + LOCAL_SIZE + name_len, extra_len, entry, fields, 2, err) != 0) return -1;
        if (usize != e->size || csize != e->size)
            return attx_fail(err, "entry '%s' has size %llu in its local header and %llu in the "
                                  "central directory", entry,
                             (unsigned long long)(usize != e->size ? usize : csize),
                             (unsigned long long)e->size);
    }
    if (!in_range(header_end, e->size, cd->offset))
        return attx_fail(err, "entry '%s' (%llu bytes at offset %llu) runs past the data area",
                         entry, (unsigned long long)e->size, (unsigned long long)header_end);
    e->data = b + header_end;
    return 0;
}

/* Reads the central header at *pos (advanced past it) into e. */
static int read_central_header(const unsigned char *b, const central_dir *cd, uint64_t *pos,
                               size_t index, attx_zip_entry *e, attx_error *err)
{
    uint64_t end = cd->offset + cd->size;
    if (!in_range(*pos, CENTRAL_SIZE, end) || rd32(b + *pos) != SIG_CENTRAL)
        return attx_fail(err, "central directory entry %zu is missing or damaged", index);
    const unsigned char *h = b + *pos;
    uint16_t flags = rd16(h + 8), method = rd16(h + 10);
    uint16_t name_len = rd16(h + 28), extra_len = rd16(h + 30), comment_len = rd16(h + 32);
    uint64_t disk = rd16(h + 34);
    uint64_t csize = rd32(h + 20), usize = rd32(h + 24), local_off = rd32(h + 42);
    uint64_t total = (uint64_t)CENTRAL_SIZE + name_len + extra_len + comment_len;
    if (!in_range(*pos, total, end))
        return attx_fail(err, "central directory entry %zu runs past the central directory", index);
    if (name_len == 0 || name_len > ATTX_ZIP_MAX_NAME)
        return attx_fail(err, "central directory entry %zu has a name of %u bytes (1 to %d "
                              "allowed)", index, name_len, ATTX_ZIP_MAX_NAME);
    e->name = (const char *)h + CENTRAL_SIZE;
    e->name_len = name_len;
    char entry[256];
    attx_zip_printable(entry, sizeof entry, e->name, e->name_len);
    uint64_t *fields[] = {&usize, &csize, &local_off};
    if (apply_zip64(h + CENTRAL_SIZE + name_len, extra_len, entry, fields, 3, err) != 0) return -1;
    if (disk != 0 && disk != 0xFFFF)
        return attx_fail(err, "multi-disk zip archives are not supported");
    if (flags & FLAG_ENCRYPTED) return attx_fail(err, "entry '%s' is encrypted", entry);
    if (method != 0)
        return attx_fail(err, "entry '%s' is compressed (method %u); torch.save writes stored "
                              "entries", entry, method);
    if (csize != usize)
        return attx_fail(err, "stored entry '%s' has compressed size %llu but size %llu", entry,
                         (unsigned long long)csize, (unsigned long long)usize);
    e->size = usize;
    if (read_local_header(b, cd, e, local_off, entry, err) != 0) return -1;
    *pos += total;
    return 0;
}

static int cmp_entry_name(const void *pa, const void *pb)
{
    const attx_zip_entry *a = *(const attx_zip_entry *const *)pa;
    const attx_zip_entry *b = *(const attx_zip_entry *const *)pb;
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);
    if (c != 0) return c;
    return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

/* Sorts the entries by name for lookups and rejects duplicate names. */
static int index_entries(attx_zip *z, attx_error *err)
{
    z->sorted = malloc((z->n_entries ? z->n_entries : 1) * sizeof *z->sorted);
    if (!z->sorted) return attx_fail(err, "out of memory");
    for (size_t i = 0; i < z->n_entries; i++) z->sorted[i] = &z->entries[i];
    qsort(z->sorted, z->n_entries, sizeof *z->sorted, cmp_entry_name);
    for (size_t i = 1; i < z->n_entries; i++) {
        if (cmp_entry_name(&z->sorted[i - 1], &z->sorted[i]) == 0) {
            char entry[256];
            attx_zip_printable(entry, sizeof entry, z->sorted[i]->name, z->sorted[i]->name_len);
            return attx_fail(err, "zip entry '%s' appears twice", entry);
        }
    }
    return 0;
}

int attx_zip_open(attx_zip *z, const unsigned char *bytes, size_t size, attx_error *err)
{
    memset(z, 0, sizeof *z);
    central_dir cd;
    if (read_end_records(bytes, size, &cd, err) != 0) return -1;
    z->entries = calloc(cd.n_entries ? cd.n_entries : 1, sizeof *z->entries);
    if (!z->entries) return attx_fail(err, "out of memory");
    uint64_t pos = cd.offset;
    for (size_t i = 0; i < cd.n_entries; i++) {
        if (read_central_header(bytes, &cd, &pos, i, &z->entries[i], err) != 0) goto fail;
        z->n_entries = i + 1;
    }
    if (pos != cd.offset + cd.size) {
        attx_fail(err, "central directory is %llu bytes but its %llu entries use %llu",
                  (unsigned long long)cd.size, (unsigned long long)cd.n_entries,
                  (unsigned long long)(pos - cd.offset));
        goto fail;
    }
    if (index_entries(z, err) != 0) goto fail;
    return 0;
fail:
    attx_zip_free(z);
    return -1;
}

void attx_zip_free(attx_zip *z)
{
    free(z->entries);
    free(z->sorted);
    memset(z, 0, sizeof *z);
}

const attx_zip_entry *attx_zip_find(const attx_zip *z, const char *name, size_t name_len)
{
    attx_zip_entry key = {name, name_len, NULL, 0};
    const attx_zip_entry *kp = &key;
    const attx_zip_entry **hit = bsearch(&kp, z->sorted, z->n_entries, sizeof *z->sorted,
                                         cmp_entry_name);
    return hit ? *hit : NULL;
}
