/* cuda_emu.h - runs CUDA kernel source on the CPU, for tests on machines without a GPU.

   Include it (C++) before bitnet_cuda.cu with BN_CUDA_EMU defined. Grids run as loops over
   blocks, one block at a time; the threads of a block are fibers (own stacks, cooperative
   switches on this one host thread) that meet at real barriers:
     __syncthreads()          all live threads of the block
     __syncwarp, __shfl_*     all live lanes of the warp: each lane publishes its value, the
                              warp meets, each reads its source lane, the warp meets again
     mma m16n8k32 s8          each lane publishes its A/B fragment registers, placed by PTX's
                              fragment layout into the 16x32 and 32x8 matrices; after the warp
                              meets, each lane computes the four C elements that layout gives it
   So a kernel that forgets a barrier reads stale values here as it would on a GPU (fibers run
   in order up to each barrier, then the next one runs). __shared__ is `static`: blocks run
   one after another, so a function-local static is the block's shared memory.
   Device memory is host memory; streams run work at once, in order; stream capture records
   the launches (their arguments copied, as CUDA does) and cudaGraphLaunch replays them. */
#ifndef BN_CUDA_EMU_H
#define BN_CUDA_EMU_H
#ifndef BN_CUDA_EMU
#  define BN_CUDA_EMU 1
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <functional>
#include <vector>
#if !defined(__x86_64__)
#  include <ucontext.h>
#endif

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 { unsigned x, y, z; };
struct uint4 { uint32_t x, y, z, w; };
struct int4 { int32_t x, y, z, w; };

/* ---- fibers ---- */

struct bn_emu_fiber {
    void *sp;                   /* saved stack pointer (x86-64) */
#if !defined(__x86_64__)
    ucontext_t uc;
#endif
    char *stack;
    uint3 tid;
    int lane, warp, done;
};

#define BN_EMU_STACK (256 * 1024)
#define BN_EMU_MAX_THREADS 1024

struct bn_emu_block {
    bn_emu_fiber fibers[BN_EMU_MAX_THREADS];
    int n, live;
    int bar_count, bar_gen;
    int warp_count[32], warp_gen[32], warp_live[32];
    uint64_t xchg[32][32];      /* per warp, per lane: a shuffled value */
    int8_t mma_a[32][16][32], mma_b[32][32][8];
    void *sched_sp;
#if !defined(__x86_64__)
    ucontext_t sched_uc;
#endif
    bn_emu_fiber *cur;
    std::function<void()> *body;
};

static bn_emu_block bn_emu_blk;
static dim3 bn_emu_grid_dim, bn_emu_block_dim;
static uint3 bn_emu_block_idx;

#define threadIdx (bn_emu_blk.cur->tid)
#define blockIdx bn_emu_block_idx
#define blockDim bn_emu_block_dim
#define gridDim bn_emu_grid_dim

#if defined(__x86_64__)
/* Saves the callee-saved registers and the stack pointer in *save, switches to `to`. */
extern "C" void bn_emu_switch(void **save, void *to);
__asm__(".text\n"
        ".globl bn_emu_switch\n"
        ".type bn_emu_switch,@function\n"
        "bn_emu_switch:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".size bn_emu_switch, .-bn_emu_switch\n");
#endif

static void bn_emu_yield(void) {
    bn_emu_fiber *f = bn_emu_blk.cur;
#if defined(__x86_64__)
    bn_emu_switch(&f->sp, bn_emu_blk.sched_sp);
#else
    swapcontext(&f->uc, &bn_emu_blk.sched_uc);
#endif
}

static void bn_emu_release_warp_if_met(int w) {
    if (bn_emu_blk.warp_count[w] > 0 && bn_emu_blk.warp_count[w] >= bn_emu_blk.warp_live[w]) {
        bn_emu_blk.warp_count[w] = 0;
        bn_emu_blk.warp_gen[w]++;
    }
}

static void bn_emu_release_block_if_met(void) {
    if (bn_emu_blk.bar_count > 0 && bn_emu_blk.bar_count >= bn_emu_blk.live) {
        bn_emu_blk.bar_count = 0;
        bn_emu_blk.bar_gen++;
    }
}

static void bn_emu_fiber_main(void) {
    bn_emu_fiber *f = bn_emu_blk.cur;
    (*bn_emu_blk.body)();
    f->done = 1;
    bn_emu_blk.live--;
    bn_emu_blk.warp_live[f->warp]--;
    bn_emu_release_warp_if_met(f->warp);                /* exited threads leave the barriers */
    bn_emu_release_block_if_met();
    for (;;) bn_emu_yield();                            /* never resumed */
}

static void __syncthreads(void) {
    int gen = bn_emu_blk.bar_gen;
    bn_emu_blk.bar_count++;
    bn_emu_release_block_if_met();
    while (bn_emu_blk.bar_gen == gen) bn_emu_yield();
}

static void bn_emu_warp_barrier(void) {
    int w = bn_emu_blk.cur->warp, gen = bn_emu_blk.warp_gen[w];
    bn_emu_blk.warp_count[w]++;
    bn_emu_release_warp_if_met(w);
    while (bn_emu_blk.warp_gen[w] == gen) bn_emu_yield();
}

static inline void __syncwarp(unsigned mask = 0xffffffffu) { (void)mask; bn_emu_warp_barrier(); }

static void bn_emu_run_block(void) {
    bn_emu_block *b = &bn_emu_blk;
    int i, running;
    for (i = 0; i < b->n; i++) {
        bn_emu_fiber *f = &b->fibers[i];
        if (!f->stack) {
            f->stack = (char *)malloc(BN_EMU_STACK);
            if (!f->stack) abort();
        }
        f->done = 0;
#if defined(__x86_64__)
        {
            uintptr_t top = ((uintptr_t)(f->stack + BN_EMU_STACK)) & ~(uintptr_t)15;
            void **sp = (void **)top;
            *--sp = 0;                                  /* fake return address of the entry */
            *--sp = (void *)bn_emu_fiber_main;          /* where the first switch returns to */
            for (int r = 0; r < 6; r++) *--sp = 0;      /* rbp rbx r12..r15 */
            f->sp = sp;
        }
#else
        getcontext(&f->uc);
        f->uc.uc_stack.ss_sp = f->stack;
        f->uc.uc_stack.ss_size = BN_EMU_STACK;
        f->uc.uc_link = NULL;
        makecontext(&f->uc, bn_emu_fiber_main, 0);
#endif
    }
    do {
        running = 0;
        for (i = 0; i < b->n; i++) {
            bn_emu_fiber *f = &b->fibers[i];
            if (f->done) continue;
            b->cur = f;
#if defined(__x86_64__)
            bn_emu_switch(&b->sched_sp, f->sp);
#else
            swapcontext(&b->sched_uc, &f->uc);
#endif
            running += !f->done;
        }
    } while (running);
    b->cur = NULL;
}

/* ---- streams, graphs, launches ---- */

typedef int cudaError_t;
enum { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2, cudaErrorNoDevice = 100 };
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice,
                      cudaMemcpyDefault };
enum cudaStreamCaptureMode { cudaStreamCaptureModeGlobal, cudaStreamCaptureModeThreadLocal, cudaStreamCaptureModeRelaxed };

struct bn_emu_graph { std::vector<std::function<void()> > nodes; };
struct bn_emu_stream { bn_emu_graph *capture; };
typedef bn_emu_stream *cudaStream_t;
typedef bn_emu_graph *cudaGraph_t;
typedef bn_emu_graph *cudaGraphExec_t;
typedef struct { double t; } *cudaEvent_t;

static long bn_emu_launches;                            /* kernels run (tests read it) */

template <typename F>
static void bn_emu_launch(dim3 grid, dim3 block, cudaStream_t stream, F body) {
    if (stream && stream->capture) {
        stream->capture->nodes.push_back([=]() { bn_emu_launch(grid, block, (cudaStream_t)NULL, body); });
        return;
    }
    unsigned n = block.x * block.y * block.z, bx, by, bz, i;
    if (n == 0 || n > BN_EMU_MAX_THREADS) abort();
    std::function<void()> fn = body;
    bn_emu_launches++;
    bn_emu_grid_dim = grid;
    bn_emu_block_dim = block;
    bn_emu_blk.body = &fn;
    for (bz = 0; bz < grid.z; bz++)
        for (by = 0; by < grid.y; by++)
            for (bx = 0; bx < grid.x; bx++) {
                bn_emu_block_idx.x = bx; bn_emu_block_idx.y = by; bn_emu_block_idx.z = bz;
                bn_emu_blk.n = (int)n;
                bn_emu_blk.live = (int)n;
                bn_emu_blk.bar_count = 0;
                memset(bn_emu_blk.warp_count, 0, sizeof bn_emu_blk.warp_count);
                memset(bn_emu_blk.warp_live, 0, sizeof bn_emu_blk.warp_live);
                for (i = 0; i < n; i++) {
                    bn_emu_fiber *f = &bn_emu_blk.fibers[i];
                    f->tid.x = i % block.x; f->tid.y = i / block.x % block.y; f->tid.z = i / (block.x * block.y);
                    f->lane = (int)(i % 32); f->warp = (int)(i / 32);
                    bn_emu_blk.warp_live[f->warp]++;
                }
                bn_emu_run_block();
            }
}

/* ---- warp intrinsics ---- */

template <typename T>
static T bn_emu_exchange(T v, int src, int width) {
    bn_emu_fiber *f = bn_emu_blk.cur;
    uint64_t slot = 0;
    T out;
    int base = f->lane / width * width;
    memcpy(&slot, &v, sizeof v);
    bn_emu_blk.xchg[f->warp][f->lane] = slot;
    bn_emu_warp_barrier();
    if (src < base || src >= base + width) src = f->lane;   /* out of the segment: own value */
    slot = bn_emu_blk.xchg[f->warp][src];
    memcpy(&out, &slot, sizeof out);
    bn_emu_warp_barrier();
    return out;
}

template <typename T> static T __shfl_xor_sync(unsigned mask, T v, int m, int width = 32) {
    (void)mask; return bn_emu_exchange(v, bn_emu_blk.cur->lane ^ m, width);
}
template <typename T> static T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    (void)mask; return bn_emu_exchange(v, bn_emu_blk.cur->lane / width * width + src % width, width);
}
template <typename T> static T __shfl_down_sync(unsigned mask, T v, unsigned d, int width = 32) {
    (void)mask; return bn_emu_exchange(v, bn_emu_blk.cur->lane + (int)d, width);
}

static inline int __dp4a(int a, int b, int c) {
    for (int i = 0; i < 4; i++) c += (int)(int8_t)(a >> 8 * i) * (int)(int8_t)(b >> 8 * i);
    return c;
}

/* mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32, fragment ownership as PTX documents it. */
static void bn_emu_mma_m16n8k32_s8(int c[4], const uint32_t a[4], const uint32_t b[2]) {
    bn_emu_fiber *f = bn_emu_blk.cur;
    int lane = f->lane, g = lane >> 2, t = lane & 3, i, k;
    int8_t (*A)[32] = bn_emu_blk.mma_a[f->warp];
    int8_t (*B)[8] = bn_emu_blk.mma_b[f->warp];
    for (i = 0; i < 16; i++) {
        int row = (i < 4 || (i >= 8 && i < 12)) ? g : g + 8;
        int col = t * 4 + (i & 3) + (i >= 8 ? 16 : 0);
        A[row][col] = (int8_t)(a[i / 4] >> 8 * (i % 4));
    }
    for (i = 0; i < 8; i++) B[t * 4 + (i & 3) + (i >= 4 ? 16 : 0)][g] = (int8_t)(b[i / 4] >> 8 * (i % 4));
    bn_emu_warp_barrier();
    for (i = 0; i < 4; i++) {
        int row = i < 2 ? g : g + 8, col = t * 2 + (i & 1), acc = 0;
        for (k = 0; k < 32; k++) acc += (int)A[row][k] * (int)B[k][col];
        c[i] += acc;
    }
    bn_emu_warp_barrier();
}

/* ---- runtime API shims ---- */

struct cudaDeviceProp {
    char name[256];
    int major, minor, multiProcessorCount;
    size_t totalGlobalMem;
};

static inline const char *cudaGetErrorString(cudaError_t e) {
    return e == cudaSuccess ? "no error" : e == cudaErrorMemoryAllocation ? "out of memory" : "emulated error";
}
static inline cudaError_t cudaGetLastError(void) { return cudaSuccess; }
static inline cudaError_t cudaPeekAtLastError(void) { return cudaSuccess; }
static int bn_emu_device_count = 1;                     /* tests may set 0 to see "no device" */
static inline cudaError_t cudaGetDeviceCount(int *n) { *n = bn_emu_device_count; return cudaSuccess; }
static inline cudaError_t cudaSetDevice(int d) { return d >= 0 && d < bn_emu_device_count ? cudaSuccess : cudaErrorInvalidValue; }
static inline cudaError_t cudaGetDevice(int *d) { *d = 0; return cudaSuccess; }
static inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d) {
    if (d < 0 || d >= bn_emu_device_count) return cudaErrorInvalidValue;
    memset(p, 0, sizeof *p);
    strcpy(p->name, "emulated sm_90 (tests/cuda_emu.h)");
    p->major = 9; p->minor = 0; p->multiProcessorCount = 1;
    p->totalGlobalMem = (size_t)8 << 30;
    return cudaSuccess;
}
static inline cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b) {
    *free_b = (size_t)4 << 30; *total_b = (size_t)8 << 30; return cudaSuccess;
}
static inline cudaError_t cudaDriverGetVersion(int *v) { *v = 0; return cudaSuccess; }
static inline cudaError_t cudaRuntimeGetVersion(int *v) { *v = 0; return cudaSuccess; }
static inline cudaError_t cudaMalloc(void **p, size_t n) {
    *p = aligned_alloc(256, (n + 255) / 256 * 256);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
template <typename T> static inline cudaError_t cudaMalloc(T **p, size_t n) { return cudaMalloc((void **)p, n); }
static inline cudaError_t cudaFree(void *p) { free(p); return cudaSuccess; }
static inline cudaError_t cudaMallocHost(void **p, size_t n) { return cudaMalloc(p, n); }
static inline cudaError_t cudaFreeHost(void *p) { free(p); return cudaSuccess; }
static inline cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind) { memmove(d, s, n); return cudaSuccess; }
static inline cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind k, cudaStream_t st) {
    if (st && st->capture) { st->capture->nodes.push_back([=]() { memmove(d, s, n); }); return cudaSuccess; }
    return cudaMemcpy(d, s, n, k);
}
static inline cudaError_t cudaMemset(void *d, int v, size_t n) { memset(d, v, n); return cudaSuccess; }
static inline cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t) { return cudaMemset(d, v, n); }
static inline cudaError_t cudaStreamCreate(cudaStream_t *s) {
    *s = new bn_emu_stream();
    (*s)->capture = NULL;
    return cudaSuccess;
}
static inline cudaError_t cudaStreamDestroy(cudaStream_t s) { delete s; return cudaSuccess; }
static inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
static inline cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
static inline cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode) {
    if (!s || s->capture) return cudaErrorInvalidValue;
    s->capture = new bn_emu_graph();
    return cudaSuccess;
}
static inline cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *g) {
    if (!s || !s->capture) return cudaErrorInvalidValue;
    *g = s->capture;
    s->capture = NULL;
    return cudaSuccess;
}
static long bn_emu_graph_launches;                      /* replays (tests read it) */
static inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t *e, cudaGraph_t g, unsigned long long) {
    *e = new bn_emu_graph(*g);
    return cudaSuccess;
}
static inline cudaError_t cudaGraphDestroy(cudaGraph_t g) { delete g; return cudaSuccess; }
static inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) { delete e; return cudaSuccess; }
static inline cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t) {
    bn_emu_graph_launches++;
    for (size_t i = 0; i < e->nodes.size(); i++) e->nodes[i]();
    return cudaSuccess;
}

#endif /* BN_CUDA_EMU_H */
