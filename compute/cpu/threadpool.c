/* threadpool.c: workers wait for jobs first by spinning for a short time
 * (JC_SPIN_US, default 100 microseconds), then asleep on a condition
 * variable, so an idle pool costs nothing while OpenBLAS or another
 * library runs its own threads.  The spin is what makes a training step's
 * thousands of small jobs worth splitting: waking a sleeping thread costs
 * tens of microseconds (a futex wake, more in a virtual machine), as much
 * as a small operation itself.  The caller likewise spins before sleeping
 * while it waits for the workers.  Spinners yield the core every 64 rounds,
 * so that with more threads than cores (two trainings, tests run side by
 * side) the thread being waited for gets to run: spinning without that
 * made such a process 28 % slower, with it none.  A generation counter
 * tells workers a new job (or the end) has arrived. */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct jc_threadpool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t job_cv, done_cv;
    atomic_ulong generation; /* written under mu; read without it while spinning */
    atomic_int pending;      /* workers still running the current job */
    int quit;
    long spin_ns;
    jc_parallel_fn fn;
    void *arg;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static int new_job(jc_threadpool *tp, unsigned long seen)
{
    return atomic_load_explicit(&tp->generation, memory_order_acquire) != seen;
}

static int all_done(jc_threadpool *tp, unsigned long unused)
{
    (void)unused;
    return atomic_load_explicit(&tp->pending, memory_order_acquire) == 0;
}

/* Spin until ready(tp, arg) or tp->spin_ns pass; returns whether it got
 * ready.  The clock is read, and the core yielded, every 64 rounds. */
static int spin_until(jc_threadpool *tp, int (*ready)(jc_threadpool *, unsigned long), unsigned long arg)
{
    if (tp->spin_ns <= 0)
        return 0;
    long deadline = now_ns() + tp->spin_ns;
    for (unsigned i = 1;; i++) {
        if (ready(tp, arg))
            return 1;
        cpu_relax();
        if ((i & 63) == 0) {
            if (now_ns() > deadline)
                return 0;
            sched_yield(); /* a thread that has no core of its own gets one */
        }
    }
}

typedef struct {
    jc_threadpool *tp;
    int index;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg *wa = p;
    jc_threadpool *tp = wa->tp;
    int ith = wa->index;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        /* a new generation seen while spinning carries its fn and arg
         * (written before it, under mu, and read after an acquire load) */
        spin_until(tp, new_job, seen);
        pthread_mutex_lock(&tp->mu);
        while (!tp->quit && atomic_load_explicit(&tp->generation, memory_order_relaxed) == seen)
            pthread_cond_wait(&tp->job_cv, &tp->mu);
        if (tp->quit) {
            pthread_mutex_unlock(&tp->mu);
            return NULL;
        }
        seen = atomic_load_explicit(&tp->generation, memory_order_relaxed);
        jc_parallel_fn fn = tp->fn;
        void *arg = tp->arg;
        pthread_mutex_unlock(&tp->mu);

        fn(arg, ith, tp->n);

        /* the caller may be asleep on done_cv: it checks pending under mu */
        if (atomic_fetch_sub_explicit(&tp->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&tp->mu);
            pthread_cond_signal(&tp->done_cv);
            pthread_mutex_unlock(&tp->mu);
        }
    }
}

jc_threadpool *jc_threadpool_new(int nthreads)
{
    if (nthreads < 1)
        nthreads = 1;
    jc_threadpool *tp = calloc(1, sizeof *tp);
    if (!tp)
        return NULL;
    tp->n = nthreads;
    const char *spin = getenv("JC_SPIN_US");
    tp->spin_ns = (spin && *spin ? atol(spin) : 100) * 1000L;
    pthread_mutex_init(&tp->mu, NULL);
    pthread_cond_init(&tp->job_cv, NULL);
    pthread_cond_init(&tp->done_cv, NULL);
    tp->threads = calloc((size_t)nthreads, sizeof *tp->threads);
    if (!tp->threads) {
        free(tp);
        return NULL;
    }
    for (int i = 1; i < nthreads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa || (wa->tp = tp, wa->index = i, pthread_create(&tp->threads[i], NULL, worker_main, wa) != 0)) {
            free(wa);
            tp->n = i; /* run with the threads we got */
            break;
        }
    }
    return tp;
}

void jc_threadpool_free(jc_threadpool *tp)
{
    if (!tp)
        return;
    pthread_mutex_lock(&tp->mu);
    tp->quit = 1;
    atomic_fetch_add_explicit(&tp->generation, 1, memory_order_release); /* ends the spinning too */
    pthread_cond_broadcast(&tp->job_cv);
    pthread_mutex_unlock(&tp->mu);
    for (int i = 1; i < tp->n; i++)
        pthread_join(tp->threads[i], NULL);
    pthread_mutex_destroy(&tp->mu);
    pthread_cond_destroy(&tp->job_cv);
    pthread_cond_destroy(&tp->done_cv);
    free(tp->threads);
    free(tp);
}

int jc_threadpool_size(const jc_threadpool *tp) { return tp ? tp->n : 1; }

void jc_threadpool_run(jc_threadpool *tp, jc_parallel_fn fn, void *arg)
{
    if (!tp || tp->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&tp->mu);
    tp->fn = fn;
    tp->arg = arg;
    atomic_store_explicit(&tp->pending, tp->n - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&tp->generation, 1, memory_order_release);
    pthread_cond_broadcast(&tp->job_cv);
    pthread_mutex_unlock(&tp->mu);

    fn(arg, 0, tp->n);

    if (!spin_until(tp, all_done, 0)) {
        pthread_mutex_lock(&tp->mu);
        while (atomic_load_explicit(&tp->pending, memory_order_acquire) > 0)
            pthread_cond_wait(&tp->done_cv, &tp->mu);
        pthread_mutex_unlock(&tp->mu);
    }
}

void jc_split_range(long n, int ith, int nth, long *lo, long *hi)
{
    long base = n / nth, rem = n % nth;
    *lo = ith * base + (ith < rem ? ith : rem);
    *hi = *lo + base + (ith < rem ? 1 : 0);
}
