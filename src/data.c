/* data.c: the training data pipeline (see data.h). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "audio.h"
#include "data.h"
#include "jc.h"

#define MAX_QUEUE 8

typedef struct {
    char **paths;
    int64_t n, cap;
} path_list;

struct jt_data {
    jt_data_config cfg;
    path_list files;
    signed char *bad; /* per file: 0 unknown, 1 usable, -1 skipped */
    int64_t *perm;    /* order of the epoch perm_epoch */
    int64_t perm_epoch;
    int64_t n_skipped;
    char skip_report[1024];

    /* producer -> consumer ring of prepared batches */
    jt_batch queue[MAX_QUEUE];
    int head, count, depth;
    int64_t produce_index; /* stream position of the producer */
    int stop, failed;
    char fail_msg[512];
    int consumed_slot; /* slot handed out by the last jt_data_next */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t ready, space;
};

static int add_path(path_list *l, const char *p)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 256;
        char **np = realloc(l->paths, (size_t)cap * sizeof *np);
        if (!np)
            return -1;
        l->paths = np;
        l->cap = cap;
    }
    l->paths[l->n] = strdup(p);
    return l->paths[l->n++] ? 0 : -1;
}

static int is_audio_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    static const char *const exts[] = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3"};
    for (size_t i = 0; dot && i < sizeof exts / sizeof exts[0]; i++)
        if (strcasecmp(dot, exts[i]) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Recursive scan; names are sorted afterwards so the order is the same on
 * every file system. */
static int scan_dir(path_list *l, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int r = 0;
    while (r == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(len);
        if (!p) {
            r = -1;
            break;
        }
        snprintf(p, len, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            r = scan_dir(l, p);
        else if (is_audio_name(e->d_name))
            r = add_path(l, p);
        free(p);
    }
    closedir(d);
    return r;
}

static int read_list(path_list *l, const char *list, char *err, size_t errlen)
{
    FILE *f = fopen(list, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", list, strerror(errno));
        return -1;
    }
    char base[4096];
    snprintf(base, sizeof base, "%s", list);
    char *slash = strrchr(base, '/');
    if (slash)
        slash[1] = 0;
    else
        base[0] = 0;
    char line[4096];
    int r = 0;
    while (r == 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#')
            continue;
        if (*s == '/') {
            r = add_path(l, s);
        } else {
            char full[8192];
            snprintf(full, sizeof full, "%s%s", base, s);
            r = add_path(l, full);
        }
    }
    fclose(f);
    if (r)
        snprintf(err, errlen, "%s: out of memory", list);
    return r;
}

/* Stream example i -> (file index, generator for its crop and augmentation).
 * Only the loader thread calls this; it keeps the current epoch's order. */
static int64_t file_of(jt_data *d, int64_t i, jc_rng *r)
{
    int64_t n = d->files.n, epoch = i / n;
    if (epoch != d->perm_epoch) {
        jc_rng pr;
        jc_rng_seed(&pr, d->cfg.seed * 0x9e3779b97f4a7c15ULL + (uint64_t)epoch * 0xbf58476d1ce4e5b9ULL + 1);
        for (int64_t k = 0; k < n; k++)
            d->perm[k] = k;
        for (int64_t k = n - 1; k > 0; k--) { /* Fisher-Yates */
            int64_t j = jc_rng_below(&pr, k + 1), t = d->perm[k];
            d->perm[k] = d->perm[j];
            d->perm[j] = t;
        }
        d->perm_epoch = epoch;
    }
    jc_rng_seed(r, d->cfg.seed ^ ((uint64_t)i * 0x94d049bb133111ebULL + 0x2545f4914f6cdd1dULL));
    return d->perm[i % n];
}

static void note_skip(jt_data *d, int64_t file, const char *why)
{
    d->bad[file] = -1;
    pthread_mutex_lock(&d->mu);
    d->n_skipped++;
    size_t used = strlen(d->skip_report);
    if (d->n_skipped <= 5 && used + 8 < sizeof d->skip_report)
        snprintf(d->skip_report + used, sizeof d->skip_report - used, "%s%s", used ? "; " : "", why);
    pthread_mutex_unlock(&d->mu);
}

/* Fill clip slot b of batch with stream example i; -1 if the file is bad. */
static int load_example(jt_data *d, int64_t i, float *dst, int64_t *len)
{
    jc_rng r;
    int64_t file = file_of(d, i, &r);
    if (d->bad[file] < 0)
        return -1;
    jt_audio a = {0};
    char err[512];
    if (jt_audio_load(d->files.paths[file], d->cfg.sample_rate, &a, err, sizeof err) != JT_AUDIO_OK) {
        note_skip(d, file, err);
        return -1;
    }
    float peak = 0;
    for (size_t k = 0; k < a.frames; k++)
        peak = fmaxf(peak, fabsf(a.samples[k]));
    if (peak < 1e-4f) { /* silent: nothing to learn, and it breaks statistics */
        snprintf(err, sizeof err, "%s: silent (peak %.1e)", d->files.paths[file], peak);
        note_skip(d, file, err);
        jt_audio_free(&a);
        return -1;
    }
    d->bad[file] = 1;
    int64_t n = (int64_t)a.frames, crop = d->cfg.crop_samples;
    int64_t take = n < crop ? n : crop;
    int64_t start = n > crop ? jc_rng_below(&r, n - crop + 1) : 0;
    float gain = 1.0f;
    if (jc_rng_uniform(&r) < d->cfg.gain_p)
        gain = (float)(0.8 + 0.4 * jc_rng_uniform(&r));
    int noisy = jc_rng_uniform(&r) < d->cfg.noise_p;
    for (int64_t k = 0; k < take; k++) {
        float v = a.samples[start + k] * gain;
        if (noisy)
            v = fminf(1.0f, fmaxf(-1.0f, v + 0.001f * (float)jc_rng_normal(&r)));
        dst[k] = v;
    }
    memset(dst + take, 0, (size_t)(crop - take) * sizeof *dst);
    *len = take;
    jt_audio_free(&a);
    return 0;
}

/* Build the batch starting at stream position *index (skipping bad files). */
static int fill_batch(jt_data *d, jt_batch *b, int64_t *index)
{
    b->first_index = *index;
    for (int64_t k = 0; k < d->cfg.batch; k++) {
        int64_t fails = 0;
        while (load_example(d, (*index)++, b->wave + k * d->cfg.crop_samples, &b->lengths[k]) != 0)
            if (++fails > 2 * d->files.n)
                return -1; /* two passes over the corpus without one usable clip */
    }
    b->next_index = *index;
    return 0;
}

static void *producer(void *arg)
{
    jt_data *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        while (!d->stop && d->count == d->depth)
            pthread_cond_wait(&d->space, &d->mu);
        if (d->stop)
            break;
        int slot = (d->head + d->count) % MAX_QUEUE;
        int64_t index = d->produce_index;
        pthread_mutex_unlock(&d->mu);
        int r = fill_batch(d, &d->queue[slot], &index);
        pthread_mutex_lock(&d->mu);
        if (r) {
            d->failed = 1;
            snprintf(d->fail_msg, sizeof d->fail_msg, "no usable audio: all %lld files were skipped (%.400s)",
                     (long long)d->files.n, d->skip_report);
            pthread_cond_broadcast(&d->ready);
            break;
        }
        d->produce_index = index;
        d->count++;
        pthread_cond_broadcast(&d->ready);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

jt_data *jt_data_open(const char *path, const jt_data_config *cfg, char *err, size_t errlen)
{
    jt_data *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->cfg = *cfg;
    d->depth = cfg->prefetch > 0 && cfg->prefetch < MAX_QUEUE ? cfg->prefetch : 3;
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        if (scan_dir(&d->files, path)) {
            snprintf(err, errlen, "%s: cannot scan: %s", path, strerror(errno));
            goto fail;
        }
        qsort(d->files.paths, (size_t)d->files.n, sizeof *d->files.paths, cmp_str);
    } else if (read_list(&d->files, path, err, errlen)) {
        goto fail;
    }
    if (d->files.n == 0) {
        snprintf(err, errlen, "%s: no audio files (.wav .flac .ogg .oga .opus .mp3)", path);
        goto fail;
    }
    d->bad = calloc((size_t)d->files.n, 1);
    d->perm = malloc((size_t)d->files.n * sizeof *d->perm);
    d->perm_epoch = -1;
    if (!d->bad || !d->perm) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < MAX_QUEUE; i++) {
        d->queue[i].wave = calloc((size_t)(cfg->batch * cfg->crop_samples), sizeof(float));
        d->queue[i].lengths = calloc((size_t)cfg->batch, sizeof(int64_t));
        if (!d->queue[i].wave || !d->queue[i].lengths) {
            snprintf(err, errlen, "out of memory for batches");
            goto fail;
        }
    }
    d->produce_index = cfg->start_index;
    d->consumed_slot = -1;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->ready, NULL);
    pthread_cond_init(&d->space, NULL);
    if (pthread_create(&d->thread, NULL, producer, d) != 0) {
        snprintf(err, errlen, "cannot start the loader thread");
        goto fail;
    }
    return d;
fail:
    d->thread = 0;
    jt_data_close(d);
    return NULL;
}

void jt_data_close(jt_data *d)
{
    if (!d)
        return;
    if (d->thread) {
        pthread_mutex_lock(&d->mu);
        d->stop = 1;
        pthread_cond_broadcast(&d->space);
        pthread_mutex_unlock(&d->mu);
        pthread_join(d->thread, NULL);
        pthread_mutex_destroy(&d->mu);
        pthread_cond_destroy(&d->ready);
        pthread_cond_destroy(&d->space);
    }
    for (int64_t i = 0; i < d->files.n; i++)
        free(d->files.paths[i]);
    free(d->files.paths);
    free(d->bad);
    free(d->perm);
    for (int i = 0; i < MAX_QUEUE; i++) {
        free(d->queue[i].wave);
        free(d->queue[i].lengths);
    }
    free(d);
}

int64_t jt_data_files(const jt_data *d) { return d->files.n; }

int jt_data_next(jt_data *d, const jt_batch **out, char *err, size_t errlen)
{
    pthread_mutex_lock(&d->mu);
    if (d->consumed_slot >= 0) { /* release the batch handed out last time */
        d->head = (d->head + 1) % MAX_QUEUE;
        d->count--;
        d->consumed_slot = -1;
        pthread_cond_broadcast(&d->space);
    }
    while (d->count == 0 && !d->failed)
        pthread_cond_wait(&d->ready, &d->mu);
    int r = 0;
    if (d->count == 0) {
        snprintf(err, errlen, "%s", d->fail_msg);
        r = -1;
    } else {
        d->consumed_slot = d->head;
        *out = &d->queue[d->head];
    }
    pthread_mutex_unlock(&d->mu);
    return r;
}

int jt_data_skipped(const jt_data *d, char *report, size_t n)
{
    pthread_mutex_lock((pthread_mutex_t *)&d->mu);
    int64_t k = d->n_skipped;
    if (report && n)
        snprintf(report, n, "%s", d->skip_report);
    pthread_mutex_unlock((pthread_mutex_t *)&d->mu);
    return (int)k;
}
