/* cmd_eval.c: `jepatok eval`: objective metrics of degraded (decoded)
 * speech against references, file by file, paired by name. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "audio.h"
#include "codec.h"
#include "train_util.h"
#include "cli.h"
#include "code_usage.h"
#include "metrics.h"

/* Everything is compared at the model's rate; the metrics resample further
 * where their definitions ask for it (STOI: 10 kHz). */
#define EVAL_RATE 24000

static void eval_usage(FILE *f)
{
    fprintf(f,
            "usage: jepatok eval --ref DIR --deg DIR [--csv FILE] [--json] [--jobs N] [--quiet]\n"
            "       jepatok eval --model M|default --data PATH --out DIR [--backend NAME] [...]\n"
            "\n"
            "Scores degraded speech against references with STOI, ESTOI, log-mel\n"
            "distance, SI-SDR and the multi-resolution STFT distance (definitions in\n"
            "EVALUATION.md).  Files pair by name without extension (ref/a.wav with\n"
            "deg/a.flac); every reference needs a degraded file.  Both are loaded as\n"
            "mono at 24 kHz and truncated to the shorter one.\n"
            "\n"
            "  --ref DIR     reference (clean) audio files\n"
            "  --deg DIR     degraded (decoded) audio files\n"
            "  --csv FILE    write the per-file CSV to FILE (the summary goes to stdout);\n"
            "                without it the CSV goes to stdout and the summary to stderr\n"
            "  --json        print per-file results and means as JSON on stdout instead\n"
            "  --jobs N      files scored in parallel (default 1)\n"
            "  --quiet       only the summary: no progress bar (shown only when stderr is a\n"
            "                terminal), and with --model no coding-speed and code-usage lines\n"
            "  --model M --data PATH --out DIR\n"
            "                encode and decode every file of PATH (a directory or a list\n"
            "                file, one path per line) with model M ('default': the shipped\n"
            "                one), write the results to DIR/NNNNN.wav, and score them;\n"
            "                also reports how many of the nominal bits per frame the\n"
            "                codes use (entropy per dim, summed; the part not predicted\n"
            "                by the previous frame; digits that change between frames)\n"
            "\n"
            "CSV columns: file,seconds,stoi,estoi,mel_distance,si_sdr,mrstft.  STOI and\n"
            "ESTOI are nan for files with under ~0.4 s of non-silent speech; means skip\n"
            "nan values and say how many they cover.  Exit status 0 when every file\n"
            "was scored, 1 when any failed, 2 on usage errors.\n");
}

typedef struct entry {
    char *stem; /* file name without its last extension */
    char *path;
} entry;

typedef struct item {
    const entry *ref, *deg;
    int done, failed;
    char err[512];
    double seconds;
    jt_metrics m;
} item;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->stem, ((const entry *)b)->stem);
}

static void free_entries(entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].stem);
        free(e[i].path);
    }
    free(e);
}

/* Regular files of dir (hidden ones skipped), sorted by stem.  Two files
 * with one stem are an error: which one was meant cannot be guessed. */
static int scan_dir(const char *dir, const char *what, entry **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "jepatok eval: cannot open %s directory %s: %m\n", what, dir);
        return -1;
    }
    entry *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        size_t pl = strlen(dir) + strlen(de->d_name) + 2;
        char *path = malloc(pl);
        if (!path)
            break;
        snprintf(path, pl, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            entry *t = realloc(v, cap * sizeof *v);
            if (!t) {
                free(path);
                break;
            }
            v = t;
        }
        char *stem = strdup(de->d_name);
        char *dot = stem ? strrchr(stem, '.') : NULL;
        if (dot && dot != stem)
            *dot = '\0';
        v[n].stem = stem;
        v[n].path = path;
        n++;
    }
    closedir(d);
    qsort(v, n, sizeof *v, cmp_entry);
    int bad = 0;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(v[i].stem, v[i - 1].stem) == 0) {
            fprintf(stderr, "jepatok eval: %s directory has two files named %s: %s and %s\n",
                    what, v[i].stem, v[i - 1].path, v[i].path);
            bad = 1;
        }
    }
    if (bad) {
        free_entries(v, n);
        return -1;
    }
    *out = v;
    *count = n;
    return 0;
}

typedef struct shared {
    item *items;
    size_t n, next, finished;
    int progress;
    pthread_mutex_t mu;
} shared;

static void draw_progress(const shared *s, const char *name)
{
    const int width = 30;
    int fill = s->n ? (int)((double)s->finished * width / (double)s->n) : width;
    fprintf(stderr, "\r[%.*s%*s] %zu/%zu %-30.30s", fill, "##############################",
            width - fill, "", s->finished, s->n, name);
    fflush(stderr);
}

static void score(item *it)
{
    jt_audio r = {0}, d = {0};
    char e[400];
    if (jt_audio_load(it->ref->path, EVAL_RATE, &r, e, sizeof e) != JT_AUDIO_OK) {
        snprintf(it->err, sizeof it->err, "reference %s", e);
        it->failed = 1;
        return;
    }
    if (jt_audio_load(it->deg->path, EVAL_RATE, &d, e, sizeof e) != JT_AUDIO_OK) {
        snprintf(it->err, sizeof it->err, "degraded %s", e);
        it->failed = 1;
        jt_audio_free(&r);
        return;
    }
    if (jt_metrics_compute(r.samples, r.frames, d.samples, d.frames, EVAL_RATE, &it->m, e,
                           sizeof e) != 0) {
        snprintf(it->err, sizeof it->err, "%s vs %s: %s", it->ref->path, it->deg->path, e);
        it->failed = 1;
    } else {
        it->seconds = (double)it->m.n / EVAL_RATE;
    }
    jt_audio_free(&r);
    jt_audio_free(&d);
}

static void *worker(void *arg)
{
    shared *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        size_t i = s->next++;
        pthread_mutex_unlock(&s->mu);
        if (i >= s->n)
            break;
        score(&s->items[i]);
        pthread_mutex_lock(&s->mu);
        s->items[i].done = 1;
        s->finished++;
        if (s->progress)
            draw_progress(s, s->items[i].ref->stem);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* Numbers as CSV/JSON want them: nan spelled out, enough digits. */
static void put_num(FILE *f, double v)
{
    if (isnan(v))
        fputs("nan", f);
    else
        fprintf(f, "%.6f", v);
}

static void put_csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void write_csv(FILE *f, const item *items, size_t n)
{
    fprintf(f, "file,seconds,stoi,estoi,mel_distance,si_sdr,mrstft\n");
    for (size_t i = 0; i < n; i++) {
        const item *it = &items[i];
        if (it->failed)
            continue;
        put_csv_field(f, it->ref->stem);
        fprintf(f, ",%.3f,", it->seconds);
        put_num(f, it->m.stoi);
        fputc(',', f);
        put_num(f, it->m.estoi);
        fputc(',', f);
        put_num(f, it->m.mel_distance);
        fputc(',', f);
        put_num(f, it->m.si_sdr);
        fputc(',', f);
        put_num(f, it->m.mrstft);
        fputc('\n', f);
    }
}

enum { N_METRICS = 5 };
static const char *const metric_names[N_METRICS] = {"stoi", "estoi", "mel_distance", "si_sdr",
                                                    "mrstft"};

static double metric_of(const jt_metrics *m, int k)
{
    switch (k) {
    case 0: return m->stoi;
    case 1: return m->estoi;
    case 2: return m->mel_distance;
    case 3: return m->si_sdr;
    default: return m->mrstft;
    }
}

typedef struct summary {
    size_t files, failed;
    double seconds;
    double mean[N_METRICS];
    size_t count[N_METRICS];
} summary;

static summary summarise(const item *items, size_t n)
{
    summary s;
    memset(&s, 0, sizeof s);
    double sum[N_METRICS] = {0};
    for (size_t i = 0; i < n; i++) {
        if (items[i].failed) {
            s.failed++;
            continue;
        }
        s.files++;
        s.seconds += items[i].seconds;
        for (int k = 0; k < N_METRICS; k++) {
            double v = metric_of(&items[i].m, k);
            if (isfinite(v)) {
                sum[k] += v;
                s.count[k]++;
            }
        }
    }
    for (int k = 0; k < N_METRICS; k++)
        s.mean[k] = s.count[k] ? sum[k] / (double)s.count[k] : NAN;
    return s;
}

static void print_summary(FILE *f, const summary *s)
{
    fprintf(f, "summary: %zu files scored, %zu failed, %.1f s (%.2f min) of audio\n", s->files,
            s->failed, s->seconds, s->seconds / 60.0);
    fprintf(f, "%-14s %12s %8s\n", "metric", "mean", "files");
    for (int k = 0; k < N_METRICS; k++) {
        fprintf(f, "%-14s ", metric_names[k]);
        if (isnan(s->mean[k]))
            fprintf(f, "%12s", "nan");
        else
            fprintf(f, "%12.4f", s->mean[k]);
        fprintf(f, " %8zu\n", s->count[k]);
    }
}

/* JSON has no NaN: undefined values become null. */
static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static int print_json(const item *items, size_t n, const summary *s)
{
    json_t *root = json_object(), *files = json_array(), *sum = json_object();
    for (size_t i = 0; i < n; i++) {
        const item *it = &items[i];
        json_t *o = json_object();
        json_object_set_new(o, "file", json_string(it->ref->stem));
        json_object_set_new(o, "ref", json_string(it->ref->path));
        json_object_set_new(o, "deg", json_string(it->deg->path));
        if (it->failed) {
            json_object_set_new(o, "error", json_string(it->err));
        } else {
            json_object_set_new(o, "seconds", json_real(it->seconds));
            for (int k = 0; k < N_METRICS; k++)
                json_object_set_new(o, metric_names[k], jnum(metric_of(&it->m, k)));
        }
        json_array_append_new(files, o);
    }
    json_object_set_new(sum, "files", json_integer((json_int_t)s->files));
    json_object_set_new(sum, "failed", json_integer((json_int_t)s->failed));
    json_object_set_new(sum, "seconds", json_real(s->seconds));
    for (int k = 0; k < N_METRICS; k++) {
        json_t *m = json_object();
        json_object_set_new(m, "mean", jnum(s->mean[k]));
        json_object_set_new(m, "files", json_integer((json_int_t)s->count[k]));
        json_object_set_new(sum, metric_names[k], m);
    }
    json_object_set_new(root, "files", files);
    json_object_set_new(root, "summary", sum);
    int rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
    fputc('\n', stdout);
    json_decref(root);
    return rc;
}

/* Round-trip every file of data (a directory, or a list file of paths
 * relative to its own directory) through the model into out_dir; refs and
 * degs receive the pairs in order. */
static int roundtrip_data(const char *model, const char *data, const char *out_dir, const char *backend, int quiet,
                          entry **refs, entry **degs, size_t *count)
{
    entry *r = NULL;
    size_t n = 0;
    struct stat sb;
    if (stat(data, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if (scan_dir(data, "data", &r, &n))
            return -1;
    } else {
        FILE *f = fopen(data, "r");
        if (!f) {
            fprintf(stderr, "jepatok eval: cannot read %s: %m\n", data);
            return -1;
        }
        const char *slash = strrchr(data, '/');
        int dlen = slash ? (int)(slash - data) : 0;
        char line[4096];
        size_t cap = 0;
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = 0;
            if (!line[0] || line[0] == '#')
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 256;
                r = realloc(r, cap * sizeof *r);
            }
            char path[8192];
            if (line[0] == '/' || !slash)
                snprintf(path, sizeof path, "%s", line);
            else
                snprintf(path, sizeof path, "%.*s/%s", dlen, data, line);
            r[n].path = strdup(path);
            r[n].stem = strdup(path);
            n++;
        }
        fclose(f);
    }
    char err[1024], mp[4096];
    jt_model m;
    jt_codec c;
    if (!strcmp(model, "default"))
        model = jt_model_default_path(mp, sizeof mp);
    if (n == 0 || (mkdir(out_dir, 0777) != 0 && errno != EEXIST)) {
        fprintf(stderr, "jepatok eval: %s\n", n ? "cannot create the output directory" : "no data files");
        free_entries(r, n);
        return -1;
    }
    if (jt_model_open(&m, model, err, sizeof err) || jt_codec_open(&c, &m, backend, NULL, err, sizeof err)) {
        fprintf(stderr, "jepatok eval: %s\n", err);
        if (m.host)
            jt_model_close(&m);
        free_entries(r, n);
        return -1;
    }
    entry *d = calloc(n, sizeof *d);
    double audio_s = 0, compute_s = 0;
    jt_code_usage usage;
    int status = d && jt_code_usage_init(&usage, &m.cfg) == 0 ? 0 : -1;
    for (size_t i = 0; i < n && status == 0; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%05zu.wav", out_dir, i);
        d[i].path = strdup(path);
        d[i].stem = strdup(path);
        jt_audio a = {0};
        uint16_t *tok = NULL;
        float *y = NULL;
        int64_t frames = 0;
        double t0 = jt_now();
        /* a file that cannot be coded fails its scoring later, with the reason */
        if (jt_audio_load(r[i].path, EVAL_RATE, &a, err, sizeof err) == 0 &&
            jt_codec_encode(&c, a.samples, (int64_t)a.frames, &tok, &frames, err, sizeof err) == 0 &&
            jt_codec_decode(&c, tok, frames, &y, err, sizeof err) == 0) {
            compute_s += jt_now() - t0;
            audio_s += (double)a.frames / EVAL_RATE;
            jt_code_usage_add(&usage, tok, frames);
            if (jt_audio_write(path, y, a.frames, EVAL_RATE, JT_AUDIO_FLOAT32, err, sizeof err))
                fprintf(stderr, "jepatok eval: %s\n", err);
        } else {
            fprintf(stderr, "jepatok eval: %s\n", err);
        }
        free(tok);
        free(y);
        jt_audio_free(&a);
        if (!quiet && isatty(STDERR_FILENO))
            fprintf(stderr, "\rcoding %zu/%zu", i + 1, n);
    }
    if (!quiet && status == 0) {
        jt_code_usage_report u;
        jt_code_usage_get(&usage, &u);
        fprintf(stderr, "%scoded %.1f s of audio in %.1f s: real-time factor %.4f (%s)\n",
                isatty(STDERR_FILENO) ? "\n" : "", audio_s, compute_s, audio_s > 0 ? compute_s / audio_s : 0,
                jc_backend_name(c.be));
        fprintf(stderr,
                "codes: %lld frames; entropy %.1f of %.0f bits/frame; %.1f bits/frame new given the previous "
                "frame; %.1f%% of digits change between frames\n",
                (long long)u.frames, u.entropy_bits, u.nominal_bits, u.new_bits, 100 * u.change);
    }
    if (status == 0)
        jt_code_usage_free(&usage);
    jt_codec_close(&c);
    jt_model_close(&m);
    *refs = r;
    *degs = d;
    *count = n;
    return status;
}

/* Score every pair (in parallel with jobs threads) and report: CSV, JSON
 * or summary as the options ask.  0 when every file was scored. */
static int score_items(item *items, size_t nref, int jobs, int quiet, int json, const char *csv_path)
{
    shared s = {.items = items, .n = nref, .progress = !quiet && isatty(STDERR_FILENO)};
    pthread_mutex_init(&s.mu, NULL);
    if ((size_t)jobs > nref)
        jobs = (int)nref;
    pthread_t th[256];
    int started = 0;
    for (int t = 1; t < jobs; t++)
        if (pthread_create(&th[started], NULL, worker, &s) == 0)
            started++;
    worker(&s);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&s.mu);
    if (s.progress)
        fputc('\n', stderr);

    int status = 0;
    for (size_t i = 0; i < nref; i++) {
        if (items[i].failed) {
            fprintf(stderr, "jepatok eval: %s\n", items[i].err);
            status = 1;
        }
    }
    summary sum = summarise(items, nref);
    if (csv_path) {
        FILE *f = fopen(csv_path, "w");
        if (!f) {
            fprintf(stderr, "jepatok eval: cannot write CSV %s: %m\n", csv_path);
            status = 1;
        } else {
            write_csv(f, items, nref);
            if (fclose(f) != 0) {
                fprintf(stderr, "jepatok eval: error writing CSV %s: %m\n", csv_path);
                status = 1;
            }
        }
    }
    if (json) {
        if (print_json(items, nref, &sum) != 0) {
            fprintf(stderr, "jepatok eval: cannot write JSON\n");
            status = 1;
        }
    } else if (csv_path) {
        print_summary(stdout, &sum);
    } else {
        write_csv(stdout, items, nref);
        print_summary(stderr, &sum);
    }
    if (status)
        fprintf(stderr, "jepatok eval: %zu of %zu files failed\n", sum.failed, nref);
    return status;
}

int jt_cmd_eval(int argc, char **argv)
{
    const char *ref_dir = NULL, *deg_dir = NULL, *csv_path = NULL, *model = NULL, *data = NULL, *out_dir = NULL,
               *backend = NULL;
    int json = 0, quiet = 0, jobs = 1;
    static const struct option opts[] = {
        {"ref", required_argument, NULL, 'r'},   {"deg", required_argument, NULL, 'd'},
        {"csv", required_argument, NULL, 'c'},   {"json", no_argument, NULL, 'J'},
        {"jobs", required_argument, NULL, 'j'},  {"quiet", no_argument, NULL, 'q'},
        {"model", required_argument, NULL, 'm'}, {"data", required_argument, NULL, 'D'},
        {"out", required_argument, NULL, 'o'},   {"backend", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "hj:q", opts, NULL)) != -1) {
        switch (c) {
        case 'r': ref_dir = optarg; break;
        case 'd': deg_dir = optarg; break;
        case 'c': csv_path = optarg; break;
        case 'J': json = 1; break;
        case 'q': quiet = 1; break;
        case 'm': model = optarg; break;
        case 'D': data = optarg; break;
        case 'o': out_dir = optarg; break;
        case 'b': backend = optarg; break;
        case 'j': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 256) {
                fprintf(stderr, "jepatok eval: --jobs wants a number from 1 to 256, not '%s'\n",
                        optarg);
                return 2;
            }
            jobs = (int)v;
            break;
        }
        case 'h': eval_usage(stdout); return 0;
        default: eval_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "jepatok eval: unexpected argument '%s'\n", argv[optind]);
        eval_usage(stderr);
        return 2;
    }
    if (model || data) {
        if (!model || !data || !out_dir) {
            fprintf(stderr, "jepatok eval: --model, --data and --out go together\n");
            return 2;
        }
        entry *refs = NULL, *degs = NULL;
        size_t n = 0;
        if (roundtrip_data(model, data, out_dir, backend, quiet, &refs, &degs, &n))
            return 1;
        item *items = calloc(n ? n : 1, sizeof *items);
        for (size_t i = 0; items && i < n; i++) {
            items[i].ref = &refs[i];
            items[i].deg = &degs[i];
        }
        int status = items ? score_items(items, n, jobs, quiet, json, csv_path) : 1;
        free(items);
        free_entries(refs, n);
        free_entries(degs, n);
        return status;
    }
    if (!ref_dir || !deg_dir) {
        fprintf(stderr, "jepatok eval: --ref DIR and --deg DIR are required\n");
        eval_usage(stderr);
        return 2;
    }

    entry *refs = NULL, *degs = NULL;
    size_t nref = 0, ndeg = 0;
    if (scan_dir(ref_dir, "reference", &refs, &nref) != 0)
        return 1;
    if (scan_dir(deg_dir, "degraded", &degs, &ndeg) != 0) {
        free_entries(refs, nref);
        return 1;
    }
    if (nref == 0) {
        fprintf(stderr, "jepatok eval: no files in reference directory %s\n", ref_dir);
        free_entries(refs, nref);
        free_entries(degs, ndeg);
        return 1;
    }
    item *items = calloc(nref, sizeof *items);
    if (!items) {
        fprintf(stderr, "jepatok eval: out of memory\n");
        free_entries(refs, nref);
        free_entries(degs, ndeg);
        return 1;
    }
    size_t missing = 0;
    for (size_t i = 0; i < nref; i++) {
        items[i].ref = &refs[i];
        items[i].deg = bsearch(&refs[i], degs, ndeg, sizeof *degs, cmp_entry);
        if (!items[i].deg) {
            fprintf(stderr, "jepatok eval: no degraded file for %s (looked for %s/%s.*)\n",
                    refs[i].path, deg_dir, refs[i].stem);
            missing++;
        }
    }
    if (missing) {
        fprintf(stderr, "jepatok eval: %zu of %zu reference files have no degraded file\n",
                missing, nref);
        free(items);
        free_entries(refs, nref);
        free_entries(degs, ndeg);
        return 1;
    }
    size_t extra = 0;
    for (size_t i = 0; i < ndeg; i++)
        if (!bsearch(&degs[i], refs, nref, sizeof *refs, cmp_entry))
            extra++;
    if (extra)
        fprintf(stderr, "jepatok eval: warning: %zu degraded files have no reference; ignored\n",
                extra);

    int status = score_items(items, nref, jobs, quiet, json, csv_path);
    free(items);
    free_entries(refs, nref);
    free_entries(degs, ndeg);
    return status;
}
