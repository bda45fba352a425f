/* bitnet info FILE.gguf - version, alignment, every metadata key with type and value (long
   arrays summarised), the tensor table, and the CPU features the kernels can use. */
#include "cli.h"
#include <stdio.h>
#include <string.h>

#define INFO_MAX_STR 72         /* longer strings are cut with "..." */
#define INFO_MAX_ITEMS 8        /* arrays show this many leading items */

/* Prints a string escaped so control bytes and quotes stay on one line. */
static void info_print_str(const char *s, uint64_t len) {
    uint64_t i, shown = len > INFO_MAX_STR ? INFO_MAX_STR : len;
    putchar('"');
    for (i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') printf("\\n");
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    putchar('"');
    if (shown < len) printf("...(%llu bytes)", (unsigned long long)len);
}

static void info_print_value(const bitnet_gguf_value *v);

static void info_print_array(const bitnet_gguf_value *v) {
    uint64_t i, shown = v->arr.count > INFO_MAX_ITEMS ? INFO_MAX_ITEMS : v->arr.count;
    printf("[%s x %llu] [", bitnet_gguf_type_name(v->arr.elem_type), (unsigned long long)v->arr.count);
    for (i = 0; i < shown; i++) {
        bitnet_gguf_value e;
        if (bitnet_gguf_array_get(v, i, &e) != BITNET_OK) break;
        if (i) printf(", ");
        info_print_value(&e);
    }
    printf(shown < v->arr.count ? ", ...]" : "]");
}

static void info_print_value(const bitnet_gguf_value *v) {
    switch (v->type) {
        case BITNET_GGUF_U8: case BITNET_GGUF_U16: case BITNET_GGUF_U32: case BITNET_GGUF_U64:
            printf("%llu", (unsigned long long)v->num.u64); break;
        case BITNET_GGUF_I8: case BITNET_GGUF_I16: case BITNET_GGUF_I32: case BITNET_GGUF_I64:
            printf("%lld", (long long)v->num.i64); break;
        case BITNET_GGUF_F32: case BITNET_GGUF_F64: printf("%.9g", v->num.f64); break;
        case BITNET_GGUF_BOOL: printf(v->num.u64 ? "true" : "false"); break;
        case BITNET_GGUF_STRING: info_print_str(v->str.ptr, v->str.len); break;
        case BITNET_GGUF_ARRAY: info_print_array(v); break;
        default: printf("?"); break;
    }
}

static void info_print_metadata(const bitnet_gguf *g) {
    int64_t i, n = bitnet_gguf_n_kv(g);
    printf("metadata: %lld keys\n", (long long)n);
    for (i = 0; i < n; i++) {
        const bitnet_gguf_value *v = bitnet_gguf_kv(g, i);
        printf("  %-40s %-7s ", bitnet_gguf_key(g, i), bitnet_gguf_type_name(v->type));
        info_print_value(v);
        putchar('\n');
    }
}

static void info_print_tensors(const bitnet_gguf *g) {
    int64_t i, n = bitnet_gguf_n_tensors(g);
    uint64_t total = 0;
    printf("tensors: %lld\n", (long long)n);
    printf("  %-32s %-6s %-24s %12s %12s\n", "name", "type", "shape", "offset", "bytes");
    for (i = 0; i < n; i++) {
        const bitnet_gguf_tensor *t = bitnet_gguf_tensor_at(g, i);
        char shape[64];
        int used = 0;
        uint32_t d;
        for (d = 0; d < t->n_dims && used < (int)sizeof shape; d++)
            used += snprintf(shape + used, sizeof shape - (size_t)used, "%s%llu", d ? " x " : "",
                             (unsigned long long)t->ne[d]);
        printf("  %-32s %-6s %-24s %12llu %12llu\n", t->name, bitnet_type_name(t->type), shape,
               (unsigned long long)t->offset, (unsigned long long)t->size);
        total += t->size;
    }
    printf("  total tensor bytes: %llu\n", (unsigned long long)total);
}

int cmd_info(int argc, char **argv) {
    bitnet_gguf *g;
    char features[256];
    if (argc != 2) {
        fprintf(stderr, "usage: bitnet info FILE.gguf\n");
        return 1;
    }
    if (bitnet_gguf_open(&g, argv[1], NULL) != BITNET_OK) return cli_fail("info");
    printf("file: %s\n", argv[1]);
    printf("gguf version: %u\nalignment: %u\ndata offset: %llu\nfile size: %llu\n", bitnet_gguf_version(g),
           bitnet_gguf_alignment(g), (unsigned long long)bitnet_gguf_data_offset(g),
           (unsigned long long)bitnet_gguf_file_size(g));
    info_print_metadata(g);
    info_print_tensors(g);
    printf("cpu: %s\n", bitnet_cpu_feature_names(bitnet_cpu_features(), features, sizeof features));
    bitnet_gguf_close(g);
    return 0;
}
