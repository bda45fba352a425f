/* bitnet quantize [--token-embedding-type T] [--output-tensor-type T] IN.gguf OUT.gguf TYPE

   Rewrites a GGUF file with every BitNet projection (blk.N.{attn_q,attn_k,attn_v,attn_output,
   ffn_gate,ffn_up,ffn_down}.weight) in TYPE: i2_s, tq1_0, tq2_0, f16, bf16 or f32. Other
   tensors and all metadata are copied (general.file_type updated). token_embd / output become
   F16 when they are F32 and TYPE is ternary (what bitnet.cpp's I2_S quantize does), and TYPE
   when TYPE is a float type; the two options override that (f32, f16, bf16, q8_0).
   Float projections going to a ternary type, and any projection going to I2_S (one scale per
   tensor), pass through bitnet_ternarize first: already ternary weights (c * alpha) come out
   exactly as the reference quantizers write them; master weights (and TQ blocks of different
   scales) get the absmean rule. Works tensor by tensor: memory stays about one tensor. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platform.h"

typedef struct quant_name {
    const char *name;
    bitnet_type type;
    uint32_t file_type;         /* general.file_type as the reference tools write it */
} quant_name;

static const quant_name quant_names[] = {
    { "i2_s", BITNET_TYPE_I2_S, 40 },  { "tq1_0", BITNET_TYPE_TQ1_0, 36 },
    { "tq2_0", BITNET_TYPE_TQ2_0, 37 }, { "f16", BITNET_TYPE_F16, 1 },
    { "bf16", BITNET_TYPE_BF16, 32 },   { "f32", BITNET_TYPE_F32, 0 },
    { "q8_0", BITNET_TYPE_Q8_0, 7 },
};
#define QUANT_N_MAIN 6          /* the first six are valid TYPEs; q8_0 only for token_embd/output */

typedef struct quant_job {
    const char *in_path, *out_path;
    const quant_name *target;
    int tok_type, out_type;     /* bitnet_type, or -1 = default rule */
    bitnet_gguf *in;
    bitnet_gguf_writer *w;
    bitnet_type *types;         /* (n_tensors) output type of each tensor */
    float *values;              /* (largest converted tensor) */
    int8_t *codes;              /* (largest ternarized tensor) */
    unsigned char *packed;      /* (largest converted output) */
    uint64_t max_values, max_codes, max_packed;
    int n_projections, n_other, n_absmean;  /* tensors converted */
    int begun;                  /* the output file exists: remove it on failure */
} quant_job;

static int quant_is_ternary(bitnet_type t) {
    return t == BITNET_TYPE_I2_S || t == BITNET_TYPE_TQ1_0 || t == BITNET_TYPE_TQ2_0;
}

static int quant_is_float(bitnet_type t) {
    return t == BITNET_TYPE_F32 || t == BITNET_TYPE_F16 || t == BITNET_TYPE_BF16;
}

/* Whether a tensor going from `from` to `to` is ternarized on the way (see the top). */
static int quant_needs_ternarize(bitnet_type from, bitnet_type to) {
    return quant_is_ternary(to) && (quant_is_float(from) || to == BITNET_TYPE_I2_S);
}

static const quant_name *quant_lookup(const char *s, size_t n_allowed) {
    size_t i, k;
    char low[16];
    for (k = 0; s[k] && k + 1 < sizeof low; k++) low[k] = (char)tolower((unsigned char)s[k]);
    low[k] = 0;
    for (i = 0; i < n_allowed; i++)
        if (!strcmp(low, quant_names[i].name) && !s[k]) return &quant_names[i];
    return NULL;
}

/* blk.<digits>.<projection>.weight */
static int quant_is_projection(const char *name) {
    static const char *const proj[] = { "attn_q", "attn_k", "attn_v", "attn_output",
                                        "ffn_gate", "ffn_up", "ffn_down" };
    const char *p = name + 4;
    size_t i, len;
    if (strncmp(name, "blk.", 4) || !isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
    if (*p++ != '.') return 0;
    for (i = 0; i < sizeof proj / sizeof proj[0]; i++) {
        len = strlen(proj[i]);
        if (!strncmp(p, proj[i], len) && !strcmp(p + len, ".weight")) return 1;
    }
    return 0;
}

/* The type a tensor gets in the output. */
static bitnet_type quant_out_type(const quant_job *job, const bitnet_gguf_tensor *t) {
    int is_tok = !strcmp(t->name, "token_embd.weight"), is_out = !strcmp(t->name, "output.weight");
    int forced = is_tok ? job->tok_type : is_out ? job->out_type : -1;
    if (quant_is_projection(t->name) && t->n_dims == 2) return job->target->type;
    if (forced >= 0) return (bitnet_type)forced;
    if (!(is_tok || is_out) || t->n_dims != 2) return t->type;
    if (!quant_is_ternary(job->target->type)) return job->target->type;
    return t->type == BITNET_TYPE_F32 ? BITNET_TYPE_F16 : t->type;
}

static int quant_usage(void) {
    fprintf(stderr, "usage: bitnet quantize [--token-embedding-type T] [--output-tensor-type T] "
                    "IN.gguf OUT.gguf i2_s|tq1_0|tq2_0|f16|bf16|f32\n");
    return 1;
}

static int quant_parse_args(quant_job *job, int argc, char **argv) {
    const char *pos[3];
    int i, n_pos = 0;
    for (i = 1; i < argc; i++) {
        int is_tok = !strcmp(argv[i], "--token-embedding-type");
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) exit(cli_help("quantize"));
        if (is_tok || !strcmp(argv[i], "--output-tensor-type")) {
            const quant_name *q = i + 1 < argc ? quant_lookup(argv[i + 1], sizeof quant_names / sizeof quant_names[0]) : NULL;
            if (!q || quant_is_ternary(q->type)) {
                fprintf(stderr, "bitnet: quantize: %s needs one of f32, f16, bf16, q8_0\n", argv[i]);
                return 0;
            }
            *(is_tok ? &job->tok_type : &job->out_type) = (int)q->type;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "bitnet: quantize: unknown option '%s'\n", argv[i]);
            return 0;
        } else if (n_pos < 3) {
            pos[n_pos++] = argv[i];
        } else {
            fprintf(stderr, "bitnet: quantize: unexpected argument '%s' (quantize takes IN OUT TYPE)\n", argv[i]);
            return 0;
        }
    }
    if (n_pos != 3) return quant_usage(), 0;
    job->in_path = pos[0];
    job->out_path = pos[1];
    job->target = quant_lookup(pos[2], QUANT_N_MAIN);
    if (!job->target) {
        fprintf(stderr, "bitnet: quantize: unknown type '%s' (expected i2_s, tq1_0, tq2_0, f16, "
                        "bf16 or f32)\n", pos[2]);
        return 0;
    }
    return 1;
}

/* Metadata: every key as it is, then the new file type (and the quantization version that
   the reference quantizers append). */
static int quant_copy_metadata(quant_job *job) {
    int64_t i, n = bitnet_gguf_n_kv(job->in);
    if (bitnet_gguf_writer_set_version(job->w, bitnet_gguf_version(job->in)) != BITNET_OK)
        return cli_fail("quantize");
    for (i = 0; i < n; i++)
        if (bitnet_gguf_writer_set(job->w, bitnet_gguf_key(job->in, i), bitnet_gguf_kv(job->in, i)) != BITNET_OK)
            return cli_fail("quantize: copying metadata");
    if (bitnet_gguf_writer_set_u32(job->w, "general.file_type", job->target->file_type) != BITNET_OK)
        return cli_fail("quantize");
    if (!quant_is_float(job->target->type) && bitnet_gguf_find_key(job->in, "general.quantization_version") < 0 &&
        bitnet_gguf_writer_set_u32(job->w, "general.quantization_version", 2) != BITNET_OK)
        return cli_fail("quantize");
    return 0;
}

/* Tensor infos, output types, and the buffer sizes the conversions need. */
static int quant_plan(quant_job *job) {
    int64_t i, n = bitnet_gguf_n_tensors(job->in);
    job->types = (bitnet_type *)calloc((size_t)(n ? n : 1), sizeof *job->types);
    if (!job->types) return fprintf(stderr, "bitnet: quantize: out of memory\n"), 1;
    for (i = 0; i < n; i++) {
        const bitnet_gguf_tensor *t = bitnet_gguf_tensor_at(job->in, i);
        uint64_t bytes;
        bitnet_type ty = quant_out_type(job, t);
        char what[300];
        snprintf(what, sizeof what, "quantize: tensor '%s' as %s", t->name, bitnet_type_name(ty));
        job->types[i] = ty;
        if (bitnet_tensor_bytes(ty, t->n_dims, t->ne, &bytes) != BITNET_OK ||
            bitnet_gguf_writer_add_tensor(job->w, t->name, ty, t->n_dims, t->ne) != BITNET_OK)
            return cli_fail(what);
        if (ty == t->type) continue;
        if (t->n_elements > job->max_values) job->max_values = t->n_elements;
        if (quant_needs_ternarize(t->type, ty) && t->n_elements > job->max_codes) job->max_codes = t->n_elements;
        if (bytes > job->max_packed) job->max_packed = bytes;
    }
    if (job->max_values > SIZE_MAX / sizeof(float))
        return fprintf(stderr, "bitnet: quantize: tensor too large for this machine\n"), 1;
    job->values = (float *)malloc((size_t)job->max_values * sizeof(float) + 1);
    job->codes = (int8_t *)malloc((size_t)job->max_codes + 1);
    job->packed = (unsigned char *)malloc((size_t)job->max_packed + 1);
    if (!job->values || !job->codes || !job->packed)
        return fprintf(stderr, "bitnet: quantize: out of memory (%llu-element tensor)\n",
                       (unsigned long long)job->max_values), 1;
    return 0;
}

/* values = codes * alpha of the float weights (unchanged if they were ternary already). */
static bitnet_status quant_ternarize(quant_job *job, uint64_t n) {
    float alpha, amax = 0;
    uint64_t k;
    bitnet_status st = bitnet_ternarize(BITNET_TYPE_F32, job->values, n, job->codes, &alpha);
    if (st != BITNET_OK) return st;
    for (k = 0; k < n; k++) {
        float a = job->values[k] < 0 ? -job->values[k] : job->values[k];
        if (a > amax) amax = a;
        job->values[k] = (float)job->codes[k] * alpha;
    }
    job->n_absmean += n && alpha != amax;
    return BITNET_OK;
}

static int quant_convert(quant_job *job, const bitnet_gguf_tensor *t, bitnet_type ty) {
    uint64_t bytes, cols = t->ne[0], rows = cols ? t->n_elements / cols : 0;
    char what[300];
    bitnet_status st;
    snprintf(what, sizeof what, "quantize: tensor '%s' %s -> %s", t->name,
             bitnet_type_name(t->type), bitnet_type_name(ty));
    st = bitnet_tensor_bytes(ty, t->n_dims, t->ne, &bytes);
    if (st == BITNET_OK) st = bitnet_dequantize(t->type, t->data, t->size, rows, cols, job->values);
    if (st == BITNET_OK && quant_needs_ternarize(t->type, ty))
        st = quant_ternarize(job, t->n_elements);
    if (st == BITNET_OK) st = bitnet_quantize(ty, job->values, rows, cols, job->packed, bytes);
    if (st == BITNET_OK) st = bitnet_gguf_writer_write(job->w, job->packed, (size_t)bytes);
    if (quant_is_projection(t->name)) job->n_projections++;
    else job->n_other++;
    return st == BITNET_OK ? 0 : cli_fail(what);
}

static void quant_progress(int64_t done, int64_t total, const char *name) {
    if (!cli_isatty(2)) return;
    fprintf(stderr, "\r[%3d%%] %-40.40s", (int)(100 * done / (total ? total : 1)), name);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
}

static int quant_tensors(quant_job *job) {
    int64_t i, n = bitnet_gguf_n_tensors(job->in);
    if (bitnet_gguf_writer_begin(job->w, job->out_path) != BITNET_OK) return cli_fail(job->out_path);
    job->begun = 1;
    for (i = 0; i < n; i++) {
        const bitnet_gguf_tensor *t = bitnet_gguf_tensor_at(job->in, i);
        quant_progress(i, n, t->name);
        if (job->types[i] != t->type) {
            if (quant_convert(job, t, job->types[i])) return 1;
        } else if (bitnet_gguf_writer_write(job->w, t->data, (size_t)t->size) != BITNET_OK) {
            return cli_fail(job->out_path);
        }
    }
    quant_progress(n, n, "done");
    return bitnet_gguf_writer_end(job->w) != BITNET_OK ? cli_fail(job->out_path) : 0;
}

int cmd_quantize(int argc, char **argv) {
    quant_job job;
    int rc;
    memset(&job, 0, sizeof job);
    job.tok_type = job.out_type = -1;
    if (!quant_parse_args(&job, argc, argv)) return 1;
    if (cli_same_file(job.in_path, job.out_path)) {
        fprintf(stderr, "bitnet: quantize: output '%s' is the input file\n", job.out_path);
        return 1;
    }
    if (bitnet_gguf_open(&job.in, job.in_path, NULL) != BITNET_OK) return cli_fail(job.in_path);
    rc = bitnet_gguf_writer_new(&job.w, NULL) != BITNET_OK ? cli_fail("quantize") : 0;
    if (!rc) rc = quant_copy_metadata(&job);
    if (!rc) rc = quant_plan(&job);
    if (!rc) rc = quant_tensors(&job);
    if (!rc)
        printf("bitnet quantize: %s -> %s: %lld tensors, %d projections converted to %s "
               "(%d ternarized by absmean), %d other tensors converted\n", job.in_path,
               job.out_path, (long long)bitnet_gguf_n_tensors(job.in), job.n_projections,
               bitnet_type_name(job.target->type), job.n_absmean, job.n_other);
    bitnet_gguf_writer_free(job.w);
    if (rc && job.begun) cli_remove(job.out_path);                 /* no half-written file */
    bitnet_gguf_close(job.in);
    free(job.types);
    free(job.values);
    free(job.codes);
    free(job.packed);
    return rc;
}
