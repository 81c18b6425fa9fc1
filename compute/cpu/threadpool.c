/* threadpool.c: workers sleep on a condition variable between jobs, so an
 * idle pool costs nothing while OpenBLAS or another library runs its own
 * threads. A generation counter tells workers a new job has arrived. */
#include "threadpool.h"

#include <pthread.h>
#include <stdlib.h>

struct jc_threadpool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t job_cv, done_cv;
    unsigned long generation;
    int pending; /* workers still running the current job */
    int quit;
    jc_parallel_fn fn;
    void *arg;
};

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
        pthread_mutex_lock(&tp->mu);
        while (!tp->quit && tp->generation == seen)
            pthread_cond_wait(&tp->job_cv, &tp->mu);
        if (tp->quit) {
            pthread_mutex_unlock(&tp->mu);
            return NULL;
        }
        seen = tp->generation;
        jc_parallel_fn fn = tp->fn;
        void *arg = tp->arg;
        pthread_mutex_unlock(&tp->mu);

        fn(arg, ith, tp->n);

        pthread_mutex_lock(&tp->mu);
        if (--tp->pending == 0)
            pthread_cond_signal(&tp->done_cv);
        pthread_mutex_unlock(&tp->mu);
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
    tp->pending = tp->n - 1;
    tp->generation++;
    pthread_cond_broadcast(&tp->job_cv);
    pthread_mutex_unlock(&tp->mu);

    fn(arg, 0, tp->n);

    pthread_mutex_lock(&tp->mu);
    while (tp->pending > 0)
        pthread_cond_wait(&tp->done_cv, &tp->mu);
    pthread_mutex_unlock(&tp->mu);
}

void jc_split_range(long n, int ith, int nth, long *lo, long *hi)
{
    long base = n / nth, rem = n % nth;
    *lo = ith * base + (ith < rem ? ith : rem);
    *hi = *lo + base + (ith < rem ? 1 : 0);
}
