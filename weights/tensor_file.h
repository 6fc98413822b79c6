/* tensor_file.h — internal: what the safetensors and torch readers share. */
#ifndef ATTX_TENSOR_FILE_H
#define ATTX_TENSOR_FILE_H

#include "attx_weights.h"

/* Builds f->by_name (indices sorted by name) and rejects duplicate names, naming f->path.
 * Every reader calls it once its tensors are filled in. */
int attx_tensor_file_index(attx_tensor_file *f, attx_error *err);

/* A reader's core: fills f's tensors (and metadata) from bytes[0..size); messages need not
 * name the file, the caller prefixes it. */
typedef int (*attx_tensor_parser)(attx_tensor_file *f, const unsigned char *bytes, uint64_t size,
                                  attx_error *err);

/* What every reader does around its core: reset f, record the format and name, parse, build
 * the name index; on failure prefix the message with the name and release everything. */
int attx_tensor_file_parse_with(attx_tensor_file *f, attx_tensor_format format, attx_tensor_parser parse,
                                const void *bytes, size_t size, const char *name, attx_error *err);
/* The same on a file, mapped read-only; the mapping then belongs to f. */
int attx_tensor_file_open_with(attx_tensor_file *f, attx_tensor_format format, attx_tensor_parser parse,
                               const char *path, attx_error *err);

#endif
