/* file.c — reading, mapping and atomically writing files; checked sizes; UTF-8 validation. */
#include "attx_weights.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int attx_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a != 0 && b > UINT64_MAX / a) return -1;
    *out = a * b;
    return 0;
}

int attx_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (b > UINT64_MAX - a) return -1;
    *out = a + b;
    return 0;
}

/* What a path that is not a regular file is, for messages. */
static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

static int refuse_kind(const char *path, mode_t mode, attx_error *err)
{
    if (S_ISDIR(mode)) return attx_fail(err, "%s: is a directory, expected a file", path);
    return attx_fail(err, "%s: is %s, not a regular file", path, file_kind(mode));
}

/* Opens path for reading and checks that it is a regular file: every file attx reads is opened
 * here. A FIFO or device is refused from stat() before it is opened (opening a FIFO blocks
 * until a writer comes; opening a device can have effects), and again from fstat() of what was
 * opened, with O_NONBLOCK so that a FIFO swapped in between cannot block either. */
static int open_regular(const char *path, int *fd_out, struct stat *st, attx_error *err)
{
    if (stat(path, st) != 0) return attx_fail(err, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st->st_mode)) return refuse_kind(path, st->st_mode, err);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return attx_fail(err, "%s: %s", path, strerror(errno));
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        return attx_fail(err, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return refuse_kind(path, st->st_mode, err);
    }
    int flags = fcntl(fd, F_GETFL);   /* reads of a regular file never block; clear it anyway */
    if (flags != -1) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    *fd_out = fd;
    return 0;
}

/* read() until n bytes or the end of the file; returns the count, or -1 (errno set). */
static ssize_t read_full(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int attx_read_file_head(const char *path, void *buf, size_t cap, size_t *got, attx_error *err)
{
    int fd = -1;
    struct stat st;
    if (open_regular(path, &fd, &st, err) != 0) return -1;
    ssize_t n = read_full(fd, buf, cap);
    int e = errno;
    close(fd);
    if (n < 0) return attx_fail(err, "%s: read failed: %s", path, strerror(e));
    *got = (size_t)n;
    return 0;
}

int attx_read_file(const char *path, size_t max_size, char **out, size_t *out_len, attx_error *err)
{
    int fd = -1;
    struct stat st;
    if (open_regular(path, &fd, &st, err) != 0) return -1;
    if ((uint64_t)st.st_size > max_size) {
        close(fd);
        return attx_fail(err, "%s: file is %llu bytes, more than the %zu allowed", path,
                         (unsigned long long)st.st_size, max_size);
    }
    size_t size = (size_t)st.st_size;
    char *data = malloc(size + 1);
    if (!data) {
        close(fd);
        return attx_fail(err, "%s: out of memory reading %zu bytes", path, size);
    }
    ssize_t got = read_full(fd, data, size);
    int e = got < 0 ? errno : 0;
    close(fd);
    if (got != (ssize_t)size) {
        free(data);
        return attx_fail(err, "%s: read failed: %s", path, e ? strerror(e) : "file shrank");
    }
    data[size] = '\0';
    *out = data;
    if (out_len) *out_len = size;
    return 0;
}

int attx_map_file(const char *path, void **out, size_t *out_len, attx_error *err)
{
    int fd = -1;
    struct stat st;
    if (open_regular(path, &fd, &st, err) != 0) return -1;
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return attx_fail(err, "%s: file too large to map", path);
    }
    size_t size = (size_t)st.st_size;
    void *p = NULL;
    if (size > 0) {
        p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return attx_fail(err, "%s: mmap failed: %s", path, strerror(e));
        }
    }
    close(fd);
    *out = p;
    *out_len = size;
    return 0;
}

void attx_unmap_file(void *p, size_t len)
{
    if (p && len) munmap(p, len);
}

int attx_atomic_open(attx_atomic_file *af, const char *path, attx_error *err)
{
    memset(af, 0, sizeof *af);
    size_t plen = strlen(path);
    af->path = strdup(path);
    af->tmp_path = malloc(plen + 32);
    if (!af->path || !af->tmp_path) {
        attx_atomic_abort(af);
        return attx_fail(err, "%s: out of memory", path);
    }
    snprintf(af->tmp_path, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp_path, "wb");
    if (!af->fp) {
        int e = errno;
        attx_atomic_abort(af);
        return attx_fail(err, "%s: cannot create: %s", path, strerror(e));
    }
    return 0;
}

void attx_atomic_write(attx_atomic_file *af, const void *bytes, size_t n)
{
    if (af->failed_errno || n == 0) return;
    if (fwrite(bytes, 1, n, af->fp) != n) af->failed_errno = errno ? errno : EIO;
}

int attx_atomic_commit(attx_atomic_file *af, attx_error *err)
{
    int e = af->failed_errno;
    if (fclose(af->fp) != 0 && !e) e = errno ? errno : EIO;
    af->fp = NULL;
    if (!e && rename(af->tmp_path, af->path) != 0) e = errno;
    if (e) {
        attx_fail(err, "%s: cannot write: %s", af->path, strerror(e));
        attx_atomic_abort(af);
        return -1;
    }
    free(af->path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
    return 0;
}

void attx_atomic_abort(attx_atomic_file *af)
{
    if (af->fp) fclose(af->fp);
    if (af->tmp_path) unlink(af->tmp_path);
    free(af->path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
}

int attx_write_file(const char *path, const void *bytes, size_t n, attx_error *err)
{
    attx_atomic_file af;
    if (attx_atomic_open(&af, path, err) != 0) return -1;
    attx_atomic_write(&af, bytes, n);
    return attx_atomic_commit(&af, err);
}

int attx_utf8_decode(const char *str, size_t len, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    if (len == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) { *cp = c; return 1; }
    int n;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; v = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; v = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if (len < (size_t)n) return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return n;
}

int attx_utf8_valid(const char *s, size_t n, size_t *bad_offset)
{
    size_t i = 0;
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) { i++; continue; }
        uint32_t cp;
        int k = attx_utf8_decode(s + i, n - i, &cp);
        if (k == 0) {
            if (bad_offset) *bad_offset = i;
            return 0;
        }
        i += (size_t)k;
    }
    return 1;
}
