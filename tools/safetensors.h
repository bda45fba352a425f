/* safetensors.h - reads Hugging Face safetensors checkpoints: one model.safetensors or shards
   listed in model.safetensors.index.json. Files are memory-mapped; tensors are borrowed views.

   Format: u64 little-endian header length N, N bytes of JSON
       {"__metadata__": {...}, "NAME": {"dtype": "BF16", "shape": [R, C], "data_offsets": [B, E]}, ...}
   then the data; tensor bytes are [8 + N + B, 8 + N + E). Everything in the file is untrusted:
   the header length against the file size (and a 100 MB cap), the JSON strictly, every dtype,
   shape (at most 8 dims, checked products), that E - B is exactly elements * dtype size, that
   ranges lie inside the data and do not overlap, names non-empty without NUL bytes, and (for
   shards) that each index entry names a plain file name in the folder and the tensor is there. */
#ifndef BITNET_TOOLS_SAFETENSORS_H
#define BITNET_TOOLS_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

typedef enum st_dtype {
    ST_BOOL, ST_U8, ST_I8, ST_I16, ST_U16, ST_F16, ST_BF16, ST_I32, ST_U32, ST_F32, ST_I64, ST_U64,
    ST_F64, ST_F8_E4M3, ST_F8_E5M2, ST_DTYPE_COUNT
} st_dtype;

#define ST_MAX_DIMS 8

typedef struct st_tensor {
    const char *name;                 /* NUL-terminated, owned by the st_model */
    st_dtype dtype;
    uint32_t n_dims;
    uint64_t shape[ST_MAX_DIMS];      /* shape[0] outermost, as in PyTorch */
    uint64_t n_elements;
    uint64_t size;                    /* bytes */
    const unsigned char *data;        /* in the mapped file (any alignment) */
    int file;                         /* index of the shard it is in */
} st_tensor;

typedef struct st_model {
    st_tensor *tensors;               /* sorted by name */
    size_t n_tensors;
    int n_files;
    struct st_mapping *files;         /* (n_files) */
    size_t cap_tensors;
} st_model;

const char *st_dtype_name(st_dtype t);   /* "BF16" ... */
size_t st_dtype_size(st_dtype t);         /* bytes per element */

/* Parses the safetensors image data[0..size) (a whole file in memory; also the fuzz target's
   entry). Appends its tensors to m with file index `file`. 0 on success; -1 with a message
   naming the tensor, the value and the limit in err. */
int st_parse(st_model *m, const unsigned char *data, size_t size, int file, char *err, size_t err_size);

/* Opens DIR/model.safetensors, or every shard DIR/model.safetensors.index.json names.
   0 on success; -1 with the reason in err (m is then empty). */
int st_open_dir(st_model *m, const char *dir, char *err, size_t err_size);
/* Maps one more file and parses it as shard number m->n_files. */
int st_add_file(st_model *m, const char *path, char *err, size_t err_size);
/* Sorts the tensors by name and rejects duplicates; st_open_dir calls it. */
int st_finish(st_model *m, char *err, size_t err_size);
void st_close(st_model *m);

const st_tensor *st_find(const st_model *m, const char *name);

/* Converts n elements of a F32/F16/BF16/F64 tensor starting at element `first` to float.
   -1 for other dtypes or a range outside the tensor. */
int st_read_f32(const st_tensor *t, uint64_t first, uint64_t n, float *dst);
#endif
