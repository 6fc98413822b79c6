/* tensor_file.h — internal: what the safetensors and torch readers share. */
#ifndef ATTX_TENSOR_FILE_H
#define ATTX_TENSOR_FILE_H

#include "attx_weights.h"

/* Builds f->by_name (indices sorted by name) and rejects duplicate names, naming f->path.
 * Every reader calls it once its tensors are filled in. */
int attx_tensor_file_index(attx_tensor_file *f, attx_error *err);

#endif
