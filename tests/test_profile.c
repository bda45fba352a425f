/* test_profile.c - bitnet_ctx_set_profile / bitnet_ctx_get_profile: the parts of a decode are
   timed and counted (pool runs per projection, attention and head), they add up to no more than
   the total, profiling changes no logits, and off it counts nothing. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "check.h"

int main(void) {
    bitnet_model *m = NULL;
    bitnet_ctx *c = NULL;
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    bitnet_profile p;
    static const int32_t ids[6] = { 1, 300, 301, 302, 303, 304 };
    float *ref;
    double parts = 0;
    int32_t n_vocab, n_layer, i;
    if (!check_have_shared()) return check_report("profile");
    memset(&mp, 0, sizeof mp);
    mp.path = check_shared("models/tiny-b158-i2_s.gguf");
    memset(&cp, 0, sizeof cp);
    cp.n_ctx = 64;
    cp.n_threads = 2;
    CHECKF(bitnet_model_load(&m, &mp) == BITNET_OK && bitnet_ctx_new(&c, m, &cp) == BITNET_OK, "%s", bitnet_last_error());
    if (!c) return check_report("profile");
    n_vocab = bitnet_model_hparams(m)->n_vocab;
    n_layer = bitnet_model_hparams(m)->n_layer;
    ref = (float *)malloc((size_t)n_vocab * sizeof(float));
    CHECK(bitnet_decode(c, ids, 6) == BITNET_OK);
    memcpy(ref, bitnet_ctx_logits(c, -1), (size_t)n_vocab * sizeof(float));
    p = bitnet_ctx_get_profile(c);
    CHECK(p.n_decodes == 0 && p.total_ms == 0);                 /* off: nothing counted */
    bitnet_ctx_truncate(c, 0);
    bitnet_ctx_set_profile(c, 1);
    CHECK(bitnet_decode(c, ids, 2) == BITNET_OK);
    for (i = 2; i < 6; i++) CHECK(bitnet_decode(c, &ids[i], 1) == BITNET_OK);
    CHECK(memcmp(ref, bitnet_ctx_logits(c, -1), (size_t)n_vocab * sizeof(float)) == 0);
    p = bitnet_ctx_get_profile(c);
    CHECK(p.n_decodes == 5 && p.n_tokens == 6);
    CHECK(p.pool_runs[BITNET_PROF_TERNARY] == 4 * n_layer * 5);  /* qkv, o, gate+up, down */
    CHECK(p.pool_runs[BITNET_PROF_ATTENTION] == n_layer * 5);
    CHECK(p.pool_runs[BITNET_PROF_HEAD] == 5);
    for (i = 0; i < BITNET_PROF_COUNT; i++) {
        CHECK(p.ms[i] >= 0);
        parts += p.ms[i];
    }
    CHECK(p.total_ms > 0 && p.ms[BITNET_PROF_TERNARY] > 0 && p.ms[BITNET_PROF_HEAD] > 0);
    CHECKF(parts <= p.total_ms * 1.0001 + 1e-6 && parts >= p.total_ms * 0.9999 - 1e-6, "parts %.4f, total %.4f", parts,
           p.total_ms);                                           /* OTHER makes them add up */
    bitnet_ctx_set_profile(c, 0);
    CHECK(bitnet_decode(c, ids, 1) == BITNET_OK);
    CHECK(bitnet_ctx_get_profile(c).n_decodes == 5);              /* stopped */
    bitnet_ctx_set_profile(c, 1);
    CHECK(bitnet_ctx_get_profile(c).n_decodes == 0);              /* restarted from zero */
    CHECK(!strcmp(bitnet_prof_part_name(BITNET_PROF_TERNARY), "ternary GEMV"));
    CHECK(!strcmp(bitnet_prof_part_name((bitnet_prof_part)99), "unknown"));
    CHECK(bitnet_ctx_get_profile(NULL).n_decodes == 0);
    bitnet_ctx_set_profile(NULL, 1);
    free(ref);
    bitnet_ctx_free(c);
    bitnet_model_free(m);
    return check_report("profile");
}
