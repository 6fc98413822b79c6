/* pickle.c — a restricted pickle machine for torch.save's data.pkl (see pickle.h).
 *
 * The pickle format is a program for a stack machine: each opcode byte (with inline arguments)
 * pushes values, pops them into containers, or calls a global with a tuple of arguments. MARK
 * remembers a stack position so that TUPLE, LIST, DICT, APPENDS and SETITEMS can take "every
 * item above the mark". The memo (BINPUT/BINGET/MEMOIZE) lets a value be referenced again, so
 * containers are shared, never copied, and may even contain themselves; nothing here recurses.
 * Every length read from the input is checked against the bytes that remain and a limit.
 */
#include "pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opcodes, with the names Python's pickletools gives them. */
enum {
    OP_MARK = '(', OP_STOP = '.', OP_BININT = 'J', OP_BININT1 = 'K', OP_BININT2 = 'M',
    OP_NONE = 'N', OP_BINPERSID = 'Q', OP_REDUCE = 'R', OP_BINSTRING = 'T',
    OP_SHORT_BINSTRING = 'U', OP_BINUNICODE = 'X', OP_APPEND = 'a', OP_BUILD = 'b',
    OP_GLOBAL = 'c', OP_DICT = 'd', OP_EMPTY_DICT = '}', OP_APPENDS = 'e', OP_BINGET = 'h',
    OP_LONG_BINGET = 'j', OP_LIST = 'l', OP_EMPTY_LIST = ']', OP_BINPUT = 'q',
    OP_LONG_BINPUT = 'r', OP_SETITEM = 's', OP_TUPLE = 't', OP_EMPTY_TUPLE = ')',
    OP_SETITEMS = 'u', OP_BINFLOAT = 'G', OP_BINBYTES = 'B', OP_SHORT_BINBYTES = 'C',
    OP_PROTO = 0x80, OP_NEWOBJ = 0x81, OP_TUPLE1 = 0x85, OP_TUPLE2 = 0x86, OP_TUPLE3 = 0x87,
    OP_NEWTRUE = 0x88, OP_NEWFALSE = 0x89, OP_LONG1 = 0x8a, OP_SHORT_BINUNICODE = 0x8c,
    OP_BINUNICODE8 = 0x8d, OP_STACK_GLOBAL = 0x93, OP_MEMOIZE = 0x94, OP_FRAME = 0x95
};

/* Names for messages: the supported opcodes, and the others Python knows (which attx rejects). */
static const char *const op_names[256] = {
    [OP_MARK] = "MARK", [OP_STOP] = "STOP", [OP_BININT] = "BININT", [OP_BININT1] = "BININT1",
    [OP_BININT2] = "BININT2", [OP_NONE] = "NONE", [OP_BINPERSID] = "BINPERSID",
    [OP_REDUCE] = "REDUCE", [OP_BINSTRING] = "BINSTRING", [OP_SHORT_BINSTRING] = "SHORT_BINSTRING",
    [OP_BINUNICODE] = "BINUNICODE", [OP_APPEND] = "APPEND", [OP_BUILD] = "BUILD",
    [OP_GLOBAL] = "GLOBAL", [OP_DICT] = "DICT", [OP_EMPTY_DICT] = "EMPTY_DICT",
    [OP_APPENDS] = "APPENDS", [OP_BINGET] = "BINGET", [OP_LONG_BINGET] = "LONG_BINGET",
    [OP_LIST] = "LIST", [OP_EMPTY_LIST] = "EMPTY_LIST", [OP_BINPUT] = "BINPUT",
    [OP_LONG_BINPUT] = "LONG_BINPUT", [OP_SETITEM] = "SETITEM", [OP_TUPLE] = "TUPLE",
    [OP_EMPTY_TUPLE] = "EMPTY_TUPLE", [OP_SETITEMS] = "SETITEMS", [OP_BINFLOAT] = "BINFLOAT",
    [OP_BINBYTES] = "BINBYTES", [OP_SHORT_BINBYTES] = "SHORT_BINBYTES", [OP_PROTO] = "PROTO",
    [OP_NEWOBJ] = "NEWOBJ", [OP_TUPLE1] = "TUPLE1", [OP_TUPLE2] = "TUPLE2",
    [OP_TUPLE3] = "TUPLE3", [OP_NEWTRUE] = "NEWTRUE", [OP_NEWFALSE] = "NEWFALSE",
    [OP_LONG1] = "LONG1", [OP_SHORT_BINUNICODE] = "SHORT_BINUNICODE",
    [OP_BINUNICODE8] = "BINUNICODE8", [OP_STACK_GLOBAL] = "STACK_GLOBAL",
    [OP_MEMOIZE] = "MEMOIZE", [OP_FRAME] = "FRAME",
};

static const char *const unsupported_op_names[256] = {
    ['0'] = "POP", ['1'] = "POP_MARK", ['2'] = "DUP", ['F'] = "FLOAT", ['I'] = "INT",
    ['L'] = "LONG", ['P'] = "PERSID", ['S'] = "STRING", ['V'] = "UNICODE", ['g'] = "GET",
    ['i'] = "INST", ['o'] = "OBJ", ['p'] = "PUT", [0x82] = "EXT1", [0x83] = "EXT2",
    [0x84] = "EXT4", [0x8b] = "LONG4", [0x8e] = "BINBYTES8", [0x8f] = "EMPTY_SET",
    [0x90] = "ADDITEMS", [0x91] = "FROZENSET", [0x92] = "NEWOBJ_EX", [0x96] = "BYTEARRAY8",
    [0x97] = "NEXT_BUFFER", [0x98] = "READONLY_BUFFER",
};

/* The only globals a state dict needs. Anything else is rejected when it is named. */
enum { G_ORDERED_DICT = 1, G_REBUILD_TENSOR_V2, G_REBUILD_TENSOR_V3, G_REBUILD_PARAMETER,
       G_REBUILD_PARAMETER_WITH_STATE, G_STORAGE_TYPE, G_DTYPE };

static const struct {
    const char *module, *name;
    int kind;
    attx_dtype dtype;
} globals[] = {
    {"", "", 0, ATTX_DTYPE_INVALID},                 /* index 0: unused */
    {"collections", "OrderedDict", G_ORDERED_DICT, ATTX_DTYPE_INVALID},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR_V2, ATTX_DTYPE_INVALID},
    {"torch._utils", "_rebuild_tensor_v3", G_REBUILD_TENSOR_V3, ATTX_DTYPE_INVALID},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAMETER, ATTX_DTYPE_INVALID},
    {"torch._utils", "_rebuild_parameter_with_state", G_REBUILD_PARAMETER_WITH_STATE,
     ATTX_DTYPE_INVALID},
    {"torch", "FloatStorage", G_STORAGE_TYPE, ATTX_F32},
    {"torch", "HalfStorage", G_STORAGE_TYPE, ATTX_F16},
    {"torch", "BFloat16Storage", G_STORAGE_TYPE, ATTX_BF16},
    {"torch", "DoubleStorage", G_STORAGE_TYPE, ATTX_F64},
    {"torch", "LongStorage", G_STORAGE_TYPE, ATTX_I64},
    {"torch", "IntStorage", G_STORAGE_TYPE, ATTX_I32},
    {"torch", "ShortStorage", G_STORAGE_TYPE, ATTX_I16},
    {"torch", "CharStorage", G_STORAGE_TYPE, ATTX_I8},
    {"torch", "ByteStorage", G_STORAGE_TYPE, ATTX_U8},
    {"torch", "BoolStorage", G_STORAGE_TYPE, ATTX_BOOL},
    /* torch >= 2.1 writes the dtypes that have no legacy storage class (float8, uint16...) as
     * _rebuild_tensor_v3(UntypedStorage, ..., dtype): the storage's size is in bytes and the
     * dtype is a reference to torch.<dtype>, never called. */
    {"torch", "UntypedStorage", G_STORAGE_TYPE, ATTX_U8},
    {"torch", "float8_e5m2", G_DTYPE, ATTX_F8_E5M2},
    {"torch", "float8_e4m3fn", G_DTYPE, ATTX_F8_E4M3},
    {"torch", "float8_e5m2fnuz", G_DTYPE, ATTX_F8_E5M2FNUZ},
    {"torch", "float8_e4m3fnuz", G_DTYPE, ATTX_F8_E4M3FNUZ},
    {"torch", "float8_e8m0fnu", G_DTYPE, ATTX_F8_E8M0},
    {"torch", "uint16", G_DTYPE, ATTX_U16},
    {"torch", "uint32", G_DTYPE, ATTX_U32},
    {"torch", "uint64", G_DTYPE, ATTX_U64},
    {"torch", "float32", G_DTYPE, ATTX_F32},
    {"torch", "float16", G_DTYPE, ATTX_F16},
    {"torch", "bfloat16", G_DTYPE, ATTX_BF16},
    {"torch", "float64", G_DTYPE, ATTX_F64},
    {"torch", "int64", G_DTYPE, ATTX_I64},
    {"torch", "int32", G_DTYPE, ATTX_I32},
    {"torch", "int16", G_DTYPE, ATTX_I16},
    {"torch", "int8", G_DTYPE, ATTX_I8},
    {"torch", "uint8", G_DTYPE, ATTX_U8},
    {"torch", "bool", G_DTYPE, ATTX_BOOL},
};
#define N_GLOBALS (sizeof globals / sizeof globals[0])
#define MAX_GLOBAL_NAME 256
#define NO_OBJECT UINT32_MAX

const char *attx_pk_kind_name(attx_pk_kind kind)
{
    static const char *const names[] = {"None", "bool", "int", "float", "str", "bytes", "tuple",
                                        "list", "dict", "global", "storage", "tensor"};
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

typedef struct machine {
    attx_pickle *pk;
    const unsigned char *p;
    size_t len, pos;          /* pos: the next byte to read */
    size_t op_pos;            /* where the current opcode starts, for messages */
    int op;
    uint32_t *stack;
    size_t n_stack, cap_stack;
    size_t marks[ATTX_PK_MAX_MARKS];   /* stack heights at each MARK */
    size_t n_marks;
    uint32_t *memo;           /* object ids; NO_OBJECT where unset */
    size_t memo_len, memo_cap, memo_count;
    attx_pk_load_storage load_storage;
    void *ctx;
    attx_error *err;
} machine;

/* Sets "byte N (OPCODE): message"; fail() is that followed by -1, visibly to the compiler. */
static void fail_msg(machine *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_msg(machine *m, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *name = op_names[m->op] ? op_names[m->op] : "?";
    attx_fail(m->err, "byte %zu (%s): %s", m->op_pos, name, msg);
}
#define fail(m, ...) (fail_msg((m), __VA_ARGS__), -1)

/* Returns p grown to hold at least `need` elements of elem bytes (p itself when it already
 * does), or NULL when out of memory. The limits keep every size far from overflow. */
static void *reserve(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return p;
    size_t cap2 = *cap ? *cap : 16;
    while (cap2 < need) cap2 *= 2;
    void *q = realloc(p, cap2 * elem);
    if (q) *cap = cap2;
    return q;
}

static const char *printable(char *out, size_t cap, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++)
        out[k++] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
    out[k] = '\0';
    return out;
}

/* ------------------------------------------------------------------------------------------ */
/* Objects and the stack                                                                       */

static attx_pk_obj *obj(machine *m, uint32_t id) { return &m->pk->objs[id]; }
static attx_pk_kind kind_of(machine *m, uint32_t id) { return (attx_pk_kind)obj(m, id)->kind; }

static int new_obj(machine *m, attx_pk_kind kind, uint32_t *id)
{
    attx_pickle *pk = m->pk;
    if (pk->n_objs >= ATTX_PK_MAX_OBJECTS)
        return fail(m, "more than %u objects; a state dict needs far fewer", ATTX_PK_MAX_OBJECTS);
    void *grown = reserve(pk->objs, &pk->cap_objs, pk->n_objs + 1, sizeof *pk->objs);
    if (!grown) return fail(m, "out of memory");
    pk->objs = grown;
    *id = (uint32_t)pk->n_objs++;
    memset(&pk->objs[*id], 0, sizeof pk->objs[*id]);
    pk->objs[*id].kind = (uint8_t)kind;
    return 0;
}

static int push(machine *m, uint32_t id)
{
    if (m->n_stack >= ATTX_PK_MAX_STACK)
        return fail(m, "stack deeper than %u entries", ATTX_PK_MAX_STACK);
    void *grown = reserve(m->stack, &m->cap_stack, m->n_stack + 1, sizeof *m->stack);
    if (!grown) return fail(m, "out of memory");
    m->stack = grown;
    m->stack[m->n_stack++] = id;
    return 0;
}

/* Creates an object of a kind and pushes it. */
static int push_new(machine *m, attx_pk_kind kind, uint32_t *id)
{
    uint32_t tmp;
    if (!id) id = &tmp;
    return new_obj(m, kind, id) != 0 ? -1 : push(m, *id);
}

/* The stack's items from index `from` on; NULL when nothing was ever pushed (there are none,
 * and arithmetic on the NULL stack would be undefined even for an offset of 0). */
static const uint32_t *stack_from(const machine *m, size_t from)
{
    return m->stack ? m->stack + from : NULL;
}

/* The stack bottom that the innermost MARK protects. */
static size_t stack_floor(const machine *m)
{
    return m->n_marks ? m->marks[m->n_marks - 1] : 0;
}

static int peek(machine *m, uint32_t *id)
{
    if (m->n_stack <= stack_floor(m)) return fail(m, "stack underflow");
    *id = m->stack[m->n_stack - 1];
    return 0;
}

static int pop(machine *m, uint32_t *id)
{
    if (peek(m, id) != 0) return -1;
    m->n_stack--;
    return 0;
}

/* Pops the innermost MARK; the items above it are stack[*start .. n_stack). */
static int pop_mark(machine *m, size_t *start)
{
    if (m->n_marks == 0) return fail(m, "no MARK on the stack");
    *start = m->marks[--m->n_marks];
    return 0;
}

static int push_int(machine *m, int64_t v)
{
    uint32_t id;
    if (push_new(m, ATTX_PK_INT, &id) != 0) return -1;
    obj(m, id)->i = v;
    return 0;
}

/* A tuple, list or dict holding copies of n ids. */
static int new_seq(machine *m, attx_pk_kind kind, const uint32_t *items, size_t n, uint32_t *id)
{
    if (n > ATTX_PK_MAX_ITEMS) return fail(m, "a container of more than %u items", ATTX_PK_MAX_ITEMS);
    uint32_t *copy = NULL;
    if (n > 0) {
        copy = malloc(n * sizeof *copy);
        if (!copy) return fail(m, "out of memory");
        memcpy(copy, items, n * sizeof *copy);
    }
    if (new_obj(m, kind, id) != 0) {
        free(copy);
        return -1;
    }
    obj(m, *id)->items = copy;
    obj(m, *id)->n = obj(m, *id)->cap = (uint32_t)n;
    return 0;
}

/* Adds n ids to a list or dict (dict: key, value pairs). */
static int extend(machine *m, uint32_t id, const uint32_t *items, size_t n)
{
    attx_pk_obj *o = obj(m, id);
    if (n == 0) return 0;
    if (n > ATTX_PK_MAX_ITEMS - o->n) return fail(m, "a container of more than %u items", ATTX_PK_MAX_ITEMS);
    size_t cap = o->cap;
    void *grown = reserve(o->items, &cap, (size_t)o->n + n, sizeof *o->items);
    if (!grown) return fail(m, "out of memory");
    o->items = grown;
    o->cap = (uint32_t)cap;
    memcpy(o->items + o->n, items, n * sizeof *items);
    o->n += (uint32_t)n;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading inline arguments                                                                    */

static int take(machine *m, size_t n, const unsigned char **out)
{
    if (m->len - m->pos < n) return fail(m, "the pickle ends inside this opcode");
    *out = m->p + m->pos;
    m->pos += n;
    return 0;
}

/* An n-byte little-endian unsigned integer (n <= 8). */
static int take_uint(machine *m, size_t n, uint64_t *v)
{
    const unsigned char *b;
    if (take(m, n, &b) != 0) return -1;
    *v = 0;
    for (size_t i = n; i-- > 0;) *v = (*v << 8) | b[i];
    return 0;
}

/* A string or bytes value whose length is an n-byte little-endian prefix. */
static int read_string(machine *m, size_t len_bytes, attx_pk_kind kind)
{
    uint64_t n;
    const unsigned char *s;
    if (take_uint(m, len_bytes, &n) != 0) return -1;
    if (m->op == OP_BINSTRING && n > INT32_MAX) return fail(m, "negative string length");
    if (n > ATTX_PK_MAX_STRING)
        return fail(m, "string of %llu bytes; at most %u allowed", (unsigned long long)n,
                    ATTX_PK_MAX_STRING);
    if (take(m, (size_t)n, &s) != 0) return -1;
    uint32_t id;
    if (push_new(m, kind, &id) != 0) return -1;
    obj(m, id)->s = (const char *)s;
    obj(m, id)->n = (uint32_t)n;
    return 0;
}

/* LONG1: a length byte, then that many bytes of little-endian two's complement. */
static int read_long1(machine *m)
{
    uint64_t n, u = 0;
    const unsigned char *b;
    if (take_uint(m, 1, &n) != 0) return -1;
    if (n > 8) return fail(m, "integer of %llu bytes does not fit in 64 bits", (unsigned long long)n);
    if (take(m, (size_t)n, &b) != 0) return -1;
    for (size_t i = n; i-- > 0;) u = (u << 8) | b[i];
    if (n > 0 && n < 8 && (b[n - 1] & 0x80)) u |= UINT64_MAX << (8 * n);   /* sign-extend */
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return push_int(m, v);
}

/* BINFLOAT: an 8-byte big-endian IEEE double. */
static int read_binfloat(machine *m)
{
    const unsigned char *b;
    if (take(m, 8, &b) != 0) return -1;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = (u << 8) | b[i];
    uint32_t id;
    if (push_new(m, ATTX_PK_FLOAT, &id) != 0) return -1;
    memcpy(&obj(m, id)->f, &u, sizeof u);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Globals                                                                                     */

static int push_global(machine *m, const char *mod, size_t mod_len, const char *name, size_t name_len)
{
    for (size_t g = 1; g < N_GLOBALS; g++) {
        if (strlen(globals[g].module) == mod_len && memcmp(globals[g].module, mod, mod_len) == 0 &&
            strlen(globals[g].name) == name_len && memcmp(globals[g].name, name, name_len) == 0) {
            uint32_t id;
            if (push_new(m, ATTX_PK_GLOBAL, &id) != 0) return -1;
            obj(m, id)->global = (uint8_t)g;
            obj(m, id)->dtype = (uint8_t)globals[g].dtype;
            return 0;
        }
    }
    char a[MAX_GLOBAL_NAME + 1], b[MAX_GLOBAL_NAME + 1];
    return fail(m, "pickle calls '%s.%s', which a state dict never does",
                printable(a, sizeof a, mod, mod_len), printable(b, sizeof b, name, name_len));
}

/* GLOBAL: "module\nname\n" inline (protocols 0-3). */
static int read_line(machine *m, const char **s, size_t *n)
{
    size_t avail = m->len - m->pos;
    size_t scan = avail < MAX_GLOBAL_NAME + 1 ? avail : MAX_GLOBAL_NAME + 1;
    const unsigned char *nl = memchr(m->p + m->pos, '\n', scan);
    if (!nl) return fail(m, "name not terminated within %d bytes", MAX_GLOBAL_NAME);
    *s = (const char *)m->p + m->pos;
    *n = (size_t)(nl - (m->p + m->pos));
    m->pos += *n + 1;
    return 0;
}

static int op_global(machine *m)
{
    const char *mod, *name;
    size_t mod_len, name_len;
    if (read_line(m, &mod, &mod_len) != 0 || read_line(m, &name, &name_len) != 0) return -1;
    return push_global(m, mod, mod_len, name, name_len);
}

/* STACK_GLOBAL: module and name are the two strings on top of the stack (protocol 4+). */
static int op_stack_global(machine *m)
{
    uint32_t mod, name;
    if (pop(m, &name) != 0 || pop(m, &mod) != 0) return -1;
    if (kind_of(m, mod) != ATTX_PK_STR || kind_of(m, name) != ATTX_PK_STR)
        return fail(m, "module and name are not strings");
    return push_global(m, obj(m, mod)->s, obj(m, mod)->n, obj(m, name)->s, obj(m, name)->n);
}

/* ------------------------------------------------------------------------------------------ */
/* Calls: REDUCE and NEWOBJ of the whitelisted globals                                         */

/* A tuple of ints >= 0 (a tensor's size or stride). */
static int int_tuple(machine *m, uint32_t id, const char *what, uint64_t out[ATTX_MAX_DIMS], int *ndim)
{
    if (kind_of(m, id) != ATTX_PK_TUPLE)
        return fail(m, "tensor %s is a %s, not a tuple", what, attx_pk_kind_name(kind_of(m, id)));
    const attx_pk_obj *t = obj(m, id);
    if (t->n > ATTX_MAX_DIMS)
        return fail(m, "tensor has %u dimensions; attx allows at most %d", t->n, ATTX_MAX_DIMS);
    for (uint32_t i = 0; i < t->n; i++) {
        const attx_pk_obj *v = obj(m, t->items[i]);
        if (v->kind != ATTX_PK_INT) return fail(m, "tensor %s holds a %s", what, attx_pk_kind_name(v->kind));
        if (v->i < 0) return fail(m, "tensor %s holds %lld", what, (long long)v->i);
        out[i] = (uint64_t)v->i;
    }
    *ndim = (int)t->n;
    return 0;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
 * [, metadata]) and _rebuild_tensor_v3(..., backward_hooks, dtype[, metadata]): torch's
 * reduction of a tensor. Only the form is checked here; the caller checks the view. */
static int rebuild_tensor(machine *m, const uint32_t *a, uint32_t n, int v3, uint32_t *result)
{
    const char *fn = v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2";
    uint32_t n_fixed = v3 ? 7 : 6;       /* then an optional metadata dict */
    if (n != n_fixed && n != n_fixed + 1)
        return fail(m, "%s takes %u or %u arguments, not %u", fn, n_fixed, n_fixed + 1, n);
    if (kind_of(m, a[0]) != ATTX_PK_STORAGE)
        return fail(m, "%s of a %s, not a storage", fn, attx_pk_kind_name(kind_of(m, a[0])));
    if (kind_of(m, a[1]) != ATTX_PK_INT || obj(m, a[1])->i < 0)
        return fail(m, "tensor storage offset is not an int >= 0");
    attx_pk_tensor t = {0};
    int n_stride;
    if (int_tuple(m, a[2], "size", t.shape, &t.ndim) != 0 ||
        int_tuple(m, a[3], "stride", t.stride, &n_stride) != 0)
        return -1;
    if (n_stride != t.ndim)
        return fail(m, "tensor has %d sizes but %d strides", t.ndim, n_stride);
    if (kind_of(m, a[4]) != ATTX_PK_BOOL) return fail(m, "tensor requires_grad is not a bool");
    if (kind_of(m, a[5]) != ATTX_PK_DICT) return fail(m, "tensor backward_hooks is not a dict");
    t.storage = (uint32_t)obj(m, a[0])->i;
    t.dtype = m->pk->storages[t.storage].dtype;
    if (v3) {
        if (kind_of(m, a[6]) != ATTX_PK_GLOBAL || globals[obj(m, a[6])->global].kind != G_DTYPE)
            return fail(m, "%s dtype is not one of torch's dtypes", fn);
        t.dtype = (attx_dtype)obj(m, a[6])->dtype;
    }
    if (n == n_fixed + 1 && (kind_of(m, a[n_fixed]) != ATTX_PK_DICT || obj(m, a[n_fixed])->n != 0))
        return fail(m, "tensor metadata (a %s) is not supported",
                    attx_pk_kind_name(kind_of(m, a[n_fixed])));
    t.offset = (uint64_t)obj(m, a[1])->i;
    attx_pickle *pk = m->pk;
    void *grown = reserve(pk->tensors, &pk->cap_tensors, pk->n_tensors + 1, sizeof *pk->tensors);
    if (!grown) return fail(m, "out of memory");
    pk->tensors = grown;
    if (new_obj(m, ATTX_PK_TENSOR, result) != 0) return -1;
    obj(m, *result)->i = (int64_t)pk->n_tensors;
    pk->tensors[pk->n_tensors++] = t;
    return 0;
}

/* _rebuild_parameter(data, requires_grad, hooks[, state]): an nn.Parameter is its tensor. */
static int rebuild_parameter(machine *m, const uint32_t *a, uint32_t n, uint32_t want,
                             uint32_t *result)
{
    if (n != want) return fail(m, "_rebuild_parameter takes %u arguments, not %u", want, n);
    if (kind_of(m, a[0]) != ATTX_PK_TENSOR)
        return fail(m, "_rebuild_parameter of a %s, not a tensor", attx_pk_kind_name(kind_of(m, a[0])));
    if (kind_of(m, a[1]) != ATTX_PK_BOOL) return fail(m, "parameter requires_grad is not a bool");
    *result = a[0];        /* the state (Python attributes of the parameter) is ignored */
    return 0;
}

static int call(machine *m, uint32_t callable, uint32_t args)
{
    if (kind_of(m, callable) != ATTX_PK_GLOBAL)
        return fail(m, "calls a %s", attx_pk_kind_name(kind_of(m, callable)));
    if (kind_of(m, args) != ATTX_PK_TUPLE)
        return fail(m, "arguments are a %s, not a tuple", attx_pk_kind_name(kind_of(m, args)));
    int g = obj(m, callable)->global;
    const uint32_t *a = obj(m, args)->items;
    uint32_t n = obj(m, args)->n, result;
    switch (globals[g].kind) {
    case G_ORDERED_DICT:
        /* OrderedDict reduces to OrderedDict() and gets its items by SETITEMS afterwards */
        if (n != 0) return fail(m, "OrderedDict called with %u arguments", n);
        if (new_obj(m, ATTX_PK_DICT, &result) != 0) return -1;
        break;
    case G_REBUILD_TENSOR_V2:
    case G_REBUILD_TENSOR_V3:
        if (rebuild_tensor(m, a, n, globals[g].kind == G_REBUILD_TENSOR_V3, &result) != 0) return -1;
        break;
    case G_REBUILD_PARAMETER:
        if (rebuild_parameter(m, a, n, 3, &result) != 0) return -1;
        break;
    case G_REBUILD_PARAMETER_WITH_STATE:
        if (rebuild_parameter(m, a, n, 4, &result) != 0) return -1;
        break;
    default:
        return fail(m, "pickle calls '%s.%s', which a state dict never does", globals[g].module,
                    globals[g].name);
    }
    return push(m, result);
}

static int op_reduce(machine *m)
{
    uint32_t callable, args;
    if (pop(m, &args) != 0 || pop(m, &callable) != 0) return -1;
    return call(m, callable, args);
}

/* NEWOBJ: cls.__new__(cls, *args); protocol 2+ may write OrderedDict this way. */
static int op_newobj(machine *m)
{
    uint32_t cls, args;
    if (pop(m, &args) != 0 || pop(m, &cls) != 0) return -1;
    if (kind_of(m, cls) != ATTX_PK_GLOBAL || globals[obj(m, cls)->global].kind != G_ORDERED_DICT)
        return fail(m, "only OrderedDict objects can be created");
    return call(m, cls, args);
}

/* BUILD sets the state of the object below: for a state dict, its `_metadata` attribute,
 * which attx does not need. */
static int op_build(machine *m)
{
    uint32_t state, target;
    if (pop(m, &state) != 0 || peek(m, &target) != 0) return -1;
    if (kind_of(m, target) != ATTX_PK_DICT)
        return fail(m, "sets the state of a %s", attx_pk_kind_name(kind_of(m, target)));
    return 0;
}

/* BINPERSID: torch's persistent id ('storage', storage_type, key, location, numel) names the
 * zip entry data/<key> that holds the storage's bytes. */
static int op_binpersid(machine *m)
{
    uint32_t pid;
    if (pop(m, &pid) != 0) return -1;
    const attx_pk_obj *t = obj(m, pid);
    if (t->kind != ATTX_PK_TUPLE || t->n != 5)
        return fail(m, "persistent id is not a 5-tuple ('storage', type, key, location, numel)");
    const attx_pk_obj *tag = obj(m, t->items[0]), *type = obj(m, t->items[1]);
    const attx_pk_obj *key = obj(m, t->items[2]), *loc = obj(m, t->items[3]);
    const attx_pk_obj *numel = obj(m, t->items[4]);
    if (tag->kind != ATTX_PK_STR || tag->n != 7 || memcmp(tag->s, "storage", 7) != 0)
        return fail(m, "persistent id is not a storage");
    if (type->kind != ATTX_PK_GLOBAL || globals[type->global].kind != G_STORAGE_TYPE)
        return fail(m, "storage type is not one of torch's storage classes");
    if (key->kind != ATTX_PK_STR || loc->kind != ATTX_PK_STR)
        return fail(m, "storage key or location is not a string");
    if (numel->kind != ATTX_PK_INT || numel->i < 0)
        return fail(m, "storage size is not an int >= 0");
    attx_pk_storage s = {(attx_dtype)type->dtype, NULL, (uint64_t)numel->i};
    if (m->load_storage(m->ctx, key->s, key->n, s.dtype, s.numel, &s.data, m->err) != 0) {
        attx_fail_prefix(m->err, "byte %zu (BINPERSID)", m->op_pos);
        return -1;
    }
    attx_pickle *pk = m->pk;
    void *grown = reserve(pk->storages, &pk->cap_storages, pk->n_storages + 1, sizeof *pk->storages);
    if (!grown) return fail(m, "out of memory");
    pk->storages = grown;
    uint32_t id;
    if (push_new(m, ATTX_PK_STORAGE, &id) != 0) return -1;
    obj(m, id)->i = (int64_t)pk->n_storages;
    pk->storages[pk->n_storages++] = s;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Containers and the memo                                                                     */

static int op_tuple_n(machine *m, size_t n)
{
    if (m->n_stack - stack_floor(m) < n) return fail(m, "stack underflow");
    uint32_t id;
    if (new_seq(m, ATTX_PK_TUPLE, stack_from(m, m->n_stack - n), n, &id) != 0) return -1;
    m->n_stack -= n;
    return push(m, id);
}

/* TUPLE, LIST, DICT: every item above the mark becomes one container. */
static int op_from_mark(machine *m, attx_pk_kind kind)
{
    size_t start;
    if (pop_mark(m, &start) != 0) return -1;
    size_t n = m->n_stack - start;
    if (kind == ATTX_PK_DICT && n % 2 != 0) return fail(m, "a key without a value");
    uint32_t id;
    if (new_seq(m, kind, stack_from(m, start), n, &id) != 0) return -1;
    m->n_stack = start;
    return push(m, id);
}

/* APPEND, SETITEM: n items on top go into the list/dict below them. */
static int op_add(machine *m, size_t n, attx_pk_kind want)
{
    if (m->n_stack - stack_floor(m) < n + 1) return fail(m, "stack underflow");
    uint32_t target = m->stack[m->n_stack - n - 1];
    if (kind_of(m, target) != want)
        return fail(m, "adds items to a %s, not a %s", attx_pk_kind_name(kind_of(m, target)),
                    attx_pk_kind_name(want));
    if (extend(m, target, m->stack + m->n_stack - n, n) != 0) return -1;
    m->n_stack -= n;
    return 0;
}

/* APPENDS, SETITEMS: the items above the mark go into the list/dict just below the mark. */
static int op_add_marked(machine *m, attx_pk_kind want)
{
    size_t start;
    if (pop_mark(m, &start) != 0) return -1;
    size_t n = m->n_stack - start;
    if (want == ATTX_PK_DICT && n % 2 != 0) return fail(m, "a key without a value");
    if (start == 0 || start - 1 < stack_floor(m)) return fail(m, "stack underflow");
    uint32_t target = m->stack[start - 1];
    if (kind_of(m, target) != want)
        return fail(m, "adds items to a %s, not a %s", attx_pk_kind_name(kind_of(m, target)),
                    attx_pk_kind_name(want));
    if (extend(m, target, m->stack + start, n) != 0) return -1;
    m->n_stack = start;
    return 0;
}

static int op_mark(machine *m)
{
    if (m->n_marks >= ATTX_PK_MAX_MARKS) return fail(m, "MARKs nested deeper than %u", ATTX_PK_MAX_MARKS);
    m->marks[m->n_marks++] = m->n_stack;
    return 0;
}

static int memo_put(machine *m, uint64_t index)
{
    uint32_t id;
    if (peek(m, &id) != 0) return -1;
    if (index >= ATTX_PK_MAX_MEMO)
        return fail(m, "memo index %llu; at most %u allowed", (unsigned long long)index, ATTX_PK_MAX_MEMO);
    if (index >= m->memo_len) {
        void *grown = reserve(m->memo, &m->memo_cap, (size_t)index + 1, sizeof *m->memo);
        if (!grown) return fail(m, "out of memory");
        m->memo = grown;
        for (size_t i = m->memo_len; i <= index; i++) m->memo[i] = NO_OBJECT;
        m->memo_len = (size_t)index + 1;
    }
    if (m->memo[index] == NO_OBJECT) m->memo_count++;
    m->memo[index] = id;
    return 0;
}

static int memo_get(machine *m, uint64_t index)
{
    if (index >= m->memo_len || m->memo[index] == NO_OBJECT)
        return fail(m, "memo index %llu was never set", (unsigned long long)index);
    return push(m, m->memo[index]);
}

/* ------------------------------------------------------------------------------------------ */
/* The machine                                                                                 */

static int op_proto(machine *m)
{
    uint64_t v;
    if (take_uint(m, 1, &v) != 0) return -1;
    if (v < 2 || v > 5) return fail(m, "pickle protocol %llu is not supported (2 to 5)", (unsigned long long)v);
    return 0;
}

/* FRAME: an 8-byte length of the opcodes that follow; only a read-ahead hint. */
static int op_frame(machine *m)
{
    uint64_t n;
    if (take_uint(m, 8, &n) != 0) return -1;
    if (n > m->len - m->pos) return fail(m, "frame of %llu bytes runs past the end", (unsigned long long)n);
    return 0;
}

static int push_bool(machine *m, int v)
{
    uint32_t id;
    if (push_new(m, ATTX_PK_BOOL, &id) != 0) return -1;
    obj(m, id)->i = v;
    return 0;
}

/* Runs one opcode (already read into m->op). */
static int step(machine *m)
{
    uint64_t v;
    switch (m->op) {
    case OP_PROTO: return op_proto(m);
    case OP_FRAME: return op_frame(m);
    case OP_MARK: return op_mark(m);
    case OP_EMPTY_DICT: return push_new(m, ATTX_PK_DICT, NULL);
    case OP_EMPTY_LIST: return push_new(m, ATTX_PK_LIST, NULL);
    case OP_EMPTY_TUPLE: return push_new(m, ATTX_PK_TUPLE, NULL);
    case OP_TUPLE: return op_from_mark(m, ATTX_PK_TUPLE);
    case OP_LIST: return op_from_mark(m, ATTX_PK_LIST);
    case OP_DICT: return op_from_mark(m, ATTX_PK_DICT);
    case OP_TUPLE1: return op_tuple_n(m, 1);
    case OP_TUPLE2: return op_tuple_n(m, 2);
    case OP_TUPLE3: return op_tuple_n(m, 3);
    case OP_APPEND: return op_add(m, 1, ATTX_PK_LIST);
    case OP_SETITEM: return op_add(m, 2, ATTX_PK_DICT);
    case OP_APPENDS: return op_add_marked(m, ATTX_PK_LIST);
    case OP_SETITEMS: return op_add_marked(m, ATTX_PK_DICT);
    case OP_BININT:               /* 4-byte signed */
        if (take_uint(m, 4, &v) != 0) return -1;
        return push_int(m, (int64_t)(int32_t)(uint32_t)v);
    case OP_BININT1:
        if (take_uint(m, 1, &v) != 0) return -1;
        return push_int(m, (int64_t)v);
    case OP_BININT2:
        if (take_uint(m, 2, &v) != 0) return -1;
        return push_int(m, (int64_t)v);
    case OP_LONG1: return read_long1(m);
    case OP_BINFLOAT: return read_binfloat(m);
    case OP_NONE: return push_new(m, ATTX_PK_NONE, NULL);
    case OP_NEWTRUE: return push_bool(m, 1);
    case OP_NEWFALSE: return push_bool(m, 0);
    case OP_BINUNICODE: return read_string(m, 4, ATTX_PK_STR);
    case OP_SHORT_BINUNICODE: return read_string(m, 1, ATTX_PK_STR);
    case OP_BINUNICODE8: return read_string(m, 8, ATTX_PK_STR);
    case OP_BINSTRING: return read_string(m, 4, ATTX_PK_STR);
    case OP_SHORT_BINSTRING: return read_string(m, 1, ATTX_PK_STR);
    case OP_BINBYTES: return read_string(m, 4, ATTX_PK_BYTES);
    case OP_SHORT_BINBYTES: return read_string(m, 1, ATTX_PK_BYTES);
    case OP_GLOBAL: return op_global(m);
    case OP_STACK_GLOBAL: return op_stack_global(m);
    case OP_REDUCE: return op_reduce(m);
    case OP_NEWOBJ: return op_newobj(m);
    case OP_BUILD: return op_build(m);
    case OP_BINPERSID: return op_binpersid(m);
    case OP_BINPUT:
        if (take_uint(m, 1, &v) != 0) return -1;
        return memo_put(m, v);
    case OP_LONG_BINPUT:
        if (take_uint(m, 4, &v) != 0) return -1;
        return memo_put(m, v);
    case OP_MEMOIZE: return memo_put(m, m->memo_count);
    case OP_BINGET:
        if (take_uint(m, 1, &v) != 0) return -1;
        return memo_get(m, v);
    case OP_LONG_BINGET:
        if (take_uint(m, 4, &v) != 0) return -1;
        return memo_get(m, v);
    default: {
        const char *name = unsupported_op_names[m->op];
        return attx_fail(m->err, "byte %zu: %s pickle opcode 0x%02x%s%s%s", m->op_pos,
                         name ? "unsupported" : "unknown", m->op, name ? " (" : "",
                         name ? name : "", name ? ")" : "");
    }
    }
}

static int run(machine *m)
{
    while (m->pos < m->len) {
        m->op_pos = m->pos;
        m->op = m->p[m->pos++];
        if (m->op == OP_STOP) return pop(m, &m->pk->root);
        if (step(m) != 0) return -1;
    }
    m->op_pos = m->len;
    return attx_fail(m->err, "byte %zu: the pickle ends without STOP", m->len);
}

void attx_pickle_free(attx_pickle *pk)
{
    for (size_t i = 0; i < pk->n_objs; i++) {
        attx_pk_kind k = (attx_pk_kind)pk->objs[i].kind;
        if (k == ATTX_PK_TUPLE || k == ATTX_PK_LIST || k == ATTX_PK_DICT) free(pk->objs[i].items);
    }
    free(pk->objs);
    free(pk->storages);
    free(pk->tensors);
    memset(pk, 0, sizeof *pk);
}

int attx_pickle_load(attx_pickle *pk, const unsigned char *bytes, size_t len,
                     attx_pk_load_storage load_storage, void *ctx, attx_error *err)
{
    memset(pk, 0, sizeof *pk);
    machine m = {0};
    m.pk = pk;
    m.p = bytes;
    m.len = len;
    m.load_storage = load_storage;
    m.ctx = ctx;
    m.err = err;
    int rc = run(&m);
    free(m.stack);
    free(m.memo);
    if (rc != 0) attx_pickle_free(pk);
    return rc;
}
