/* test-threadpool.c: the CPU backend's thread pool (compute/cpu/threadpool.c)
 * hands every job to every thread once and returns only when all are done,
 * with their writes visible, whether the workers wait spinning or asleep
 * (JC_SPIN_US), with more threads than cores, and across many short jobs in
 * a row (the pattern of a training step); and jc_split_range tiles [0, n). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "threadpool.h"

enum { MAX_THREADS = 8, SLOTS = 64 };

typedef struct {
    long run;                       /* the job's number, set before it */
    long seen[MAX_THREADS];         /* what each thread read of run */
    long data[MAX_THREADS][SLOTS];  /* what each thread wrote for it */
    int calls[MAX_THREADS];         /* how often each index was called */
    int bad_n;
} job;

static void work(void *arg, int ith, int nth)
{
    job *j = arg;
    if (nth < 1 || nth > MAX_THREADS || ith < 0 || ith >= nth) {
        j->bad_n = 1;
        return;
    }
    j->calls[ith]++;
    j->seen[ith] = j->run;
    for (int k = 0; k < SLOTS; k++)
        j->data[ith][k] = j->run * SLOTS + k;
}

/* Runs `runs` jobs on a pool of n threads; returns how many of them came
 * back with a thread's work missing or stale. */
static long run_many(int n, long runs, int *size, int *calls_ok)
{
    jc_threadpool *tp = jc_threadpool_new(n);
    if (!tp)
        return -1;
    *size = jc_threadpool_size(tp);
    job *j = calloc(1, sizeof *j);
    long bad = 0;
    for (long r = 1; j && r <= runs; r++) {
        j->run = r;
        jc_threadpool_run(tp, work, j);
        int ok = !j->bad_n;
        for (int t = 0; t < *size; t++) {
            ok &= j->seen[t] == r;
            for (int k = 0; k < SLOTS; k++)
                ok &= j->data[t][k] == r * SLOTS + k;
        }
        bad += !ok;
    }
    *calls_ok = j != NULL;
    for (int t = 0; j && t < MAX_THREADS; t++)
        *calls_ok &= j->calls[t] == (t < *size ? runs : 0);
    free(j);
    jc_threadpool_free(tp);
    return j ? bad : -1;
}

int main(void)
{
    static const char *const spins[] = {"0", "100", "5000"};
    static const int threads[] = {1, 2, 3, 8};
    for (size_t s = 0; s < sizeof spins / sizeof *spins; s++) {
        setenv("JC_SPIN_US", spins[s], 1);
        for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
            int size = 0, calls_ok = 0;
            long runs = 5000;
            long bad = run_many(threads[t], runs, &size, &calls_ok);
            tap_ok(bad == 0 && calls_ok && size == threads[t],
                   "JC_SPIN_US=%s, %d threads: %ld jobs in a row, each index called once per job, every "
                   "write visible on return (%ld incomplete)",
                   spins[s], threads[t], runs, bad);
        }
    }
    /* a pool freed while its workers spin, and one freed right after start */
    setenv("JC_SPIN_US", "2000000", 1); /* 2 s */
    jc_threadpool *tp = jc_threadpool_new(4);
    job *j = calloc(1, sizeof *j);
    if (tp && j)
        jc_threadpool_run(tp, work, j);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    jc_threadpool_free(tp);
    jc_threadpool_free(jc_threadpool_new(4));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(j);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    tap_ok(tp != NULL && ms < 500.0,
           "pools freed while their workers spin (JC_SPIN_US=2000000) return at once, not after the 2 s spin (%.1f ms)", ms);

    int tiles = 1;
    for (long n = 0; n < 50; n++)
        for (int nth = 1; nth <= 9; nth++) {
            long next = 0;
            for (int i = 0; i < nth; i++) {
                long lo, hi;
                jc_split_range(n, i, nth, &lo, &hi);
                tiles &= lo == next && hi >= lo && hi - lo <= n / nth + 1;
                next = hi;
            }
            tiles &= next == n;
        }
    tap_ok(tiles, "jc_split_range tiles [0, n) in near-equal ranges, in order (n < 50, 1-9 parts)");
    return tap_done();
}
