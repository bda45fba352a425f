/* game_loop.c - text generation inside a game loop, one small step per frame.
   Build: cc -O2 -I. examples/game_loop.c -lpthread -lm
          (a copy beside a copy of bitnet.h: cc -O2 game_loop.c -lpthread -lm)
   Run:   ./a.out model.gguf [leave_frame]   (or set BITNET_MODEL_PATH)

   A 60 frames/s loop updates a (fake) world each frame and calls bitnet_gen_step once: a step
   decodes one chunk of the prompt (prefill_chunk tokens) or one new token, then returns, so a
   frame never waits for the whole reply. The NPC's line appears as it is generated. When the
   player walks away (frame `leave_frame`, default 150), or the line takes too many frames, the
   generation is cancelled with bitnet_gen_cancel. A step of a large model can take longer than
   a frame on a CPU; a game would then run the same loop in a worker thread. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FPS 60
#define FRAME_MS (1000.0 / FPS)
#define MAX_DIALOGUE_FRAMES (10 * FPS)   /* frame budget of one NPC line */
#define N_ENTITIES 2000

typedef struct entity { float x, y, vx, vy; } entity;

/* The game's own per-frame work: move entities around and bounce them off the walls. */
static void update_world(entity *e, int n, float dt) {
    int i;
    for (i = 0; i < n; i++) {
        e[i].vy -= 9.8f * dt;
        e[i].x += e[i].vx * dt;
        e[i].y += e[i].vy * dt;
        if (e[i].y < 0) { e[i].y = -e[i].y; e[i].vy = -e[i].vy * 0.9f; }
        if (fabsf(e[i].x) > 100) e[i].vx = -e[i].vx;
    }
}

static void sleep_ms(double ms) {
    struct timespec ts;
    if (ms <= 0) return;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : getenv("BITNET_MODEL_PATH");
    int leave_frame = argc > 2 ? atoi(argv[2]) : 150;
    static entity world[N_ENTITIES];
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    bitnet_gen_params gp;
    bitnet_model *model = NULL;
    bitnet_ctx *ctx = NULL;
    bitnet_gen *npc = NULL;
    const bitnet_gen_stats *stats;
    static const char *reasons[] = { "running", "end of generation", "max tokens", "stop string", "context full",
                                     "cancelled" };   /* by bitnet_stop_reason */
    int frame, rc = 1, slow_frames = 0, i;
    double worst_step_ms = 0;

    if (!path) { fprintf(stderr, "usage: %s MODEL.gguf [LEAVE_FRAME]  (or set BITNET_MODEL_PATH)\n", argv[0]); return 1; }
    memset(&mp, 0, sizeof mp);
    memset(&cp, 0, sizeof cp);
    memset(&gp, 0, sizeof gp);
    mp.path = path;
    cp.n_ctx = 512;
    cp.n_threads = 2;                    /* leave the other cores to the game */
    if (bitnet_model_load(&model, &mp) != BITNET_OK || bitnet_ctx_new(&ctx, model, &cp) != BITNET_OK) {
        fprintf(stderr, "error: %s\n", bitnet_last_error());
        bitnet_model_free(model);
        return 1;
    }
    for (i = 0; i < N_ENTITIES; i++) {
        world[i].x = (float)(i % 200) - 100;
        world[i].y = (float)(i % 37);
        world[i].vx = (float)(i % 7) - 3;
    }

    /* All allocation happens in bitnet_gen_new; the steps in the loop allocate nothing. */
    gp.prompt = "The blacksmith looked up from the anvil and said:";
    gp.max_tokens = 200;
    gp.sampler = bitnet_sampler_default_params();
    gp.prefill_chunk = 4;                /* prompt tokens per step: keeps every step short */
    if (bitnet_gen_new(&npc, ctx, &gp) != BITNET_OK) {
        fprintf(stderr, "error: %s\n", bitnet_last_error());
        goto done;
    }
    printf("%s", gp.prompt);

    for (frame = 0; npc; frame++) {
        double start = bitnet_time_ms(), step_ms;
        const char *text;
        size_t len;
        int more;

        update_world(world, N_ENTITIES, 1.0f / FPS);
        /* The game decides when the line is no longer wanted; the next step then ends it. */
        if (frame == leave_frame || frame == MAX_DIALOGUE_FRAMES) {
            printf("\n[frame %d: %s, cancelling]", frame, frame == leave_frame ? "the player walked away" : "too long");
            bitnet_gen_cancel(npc);
        }
        more = bitnet_gen_step(npc, &text, &len);
        step_ms = bitnet_time_ms() - start;
        if (step_ms > worst_step_ms) worst_step_ms = step_ms;
        if (step_ms > FRAME_MS) slow_frames++;
        fwrite(text, 1, len, stdout);
        if (frame % FPS == 0) printf(" [frame %d]", frame);
        fflush(stdout);
        if (more < 0) { fprintf(stderr, "\nerror: %s\n", bitnet_last_error()); break; }
        if (more == 0) {                 /* finished: see stats.stop_reason */
            stats = bitnet_gen_stats_get(npc);
            printf("\n[frame %d: the line is over after %d tokens: %s]\n", frame, stats->n_generated,
                   reasons[stats->stop_reason]);
            rc = 0;
            break;
        }
        sleep_ms(FRAME_MS - (bitnet_time_ms() - start));     /* wait for the next frame */
    }
    printf("frames: %d, frames over %.1f ms: %d, slowest step %.1f ms\n", frame + 1, FRAME_MS, slow_frames,
           worst_step_ms);
done:
    bitnet_gen_free(npc);
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
    return rc;
}
