/* threadpool.h: a fixed pool of worker threads for the CPU backend.
 * jc_threadpool_run calls fn(arg, i, n) once for every i in [0, n) (n is the
 * pool size, the calling thread takes i = 0) and returns when all are done.
 * Work is split by the callee from (i, n), so results depend only on the
 * thread count, never on scheduling: that keeps the backend deterministic. */
#ifndef JC_THREADPOOL_H
#define JC_THREADPOOL_H

typedef struct jc_threadpool jc_threadpool;
typedef void (*jc_parallel_fn)(void *arg, int ith, int nth);

jc_threadpool *jc_threadpool_new(int nthreads);
void jc_threadpool_free(jc_threadpool *tp);
int jc_threadpool_size(const jc_threadpool *tp);
void jc_threadpool_run(jc_threadpool *tp, jc_parallel_fn fn, void *arg);
/* Split [0, n) into nth near-equal ranges; range ith is [*lo, *hi). */
void jc_split_range(long n, int ith, int nth, long *lo, long *hi);

#endif
