/* train_util.c: progress bar, metrics log, loss-curve SVG, directories. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "train_util.h"

int jt_mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0777) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0777) && errno != EEXIST ? -1 : 0;
}

double jt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void jt_progress_start(jt_progress *p, int64_t start_step, int64_t total)
{
    p->total = total;
    p->start_step = start_step;
    p->t0 = jt_now();
    p->last_print = 0;
    p->tty = isatty(fileno(stderr));
}

static void fmt_duration(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "?");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

void jt_progress_update(jt_progress *p, int64_t step, const char *extra)
{
    double now = jt_now(), el = now - p->t0;
    double rate = (double)(step - p->start_step) / (el > 1e-9 ? el : 1e-9);
    int every_5pct = p->total >= 20 && step % (p->total / 20) == 0;
    if (!p->tty && !every_5pct && step != p->total)
        return;
    if (p->tty && now - p->last_print < 0.2 && step != p->total)
        return;
    p->last_print = now;
    char eta[32];
    fmt_duration(rate > 0 ? (double)(p->total - step) / rate : NAN, eta, sizeof eta);
    int width = 24, filled = p->total > 0 ? (int)(width * step / p->total) : width;
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[width] = 0;
    fprintf(stderr, "%s[%s] %lld/%lld %s %.2f steps/s ETA %s%s", p->tty ? "\r" : "", bar, (long long)step,
            (long long)p->total, extra ? extra : "", rate, eta, p->tty ? "\033[K" : "\n");
    fflush(stderr);
}

void jt_progress_end(jt_progress *p)
{
    if (p->tty)
        fputc('\n', stderr);
}

FILE *jt_metrics_open(const char *dir, int64_t resume_step)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    if (resume_step > 0) { /* keep only the lines up to the checkpoint */
        FILE *in = fopen(path, "r");
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FILE *out = in ? fopen(tmp, "w") : NULL;
        char line[4096];
        while (in && out && fgets(line, sizeof line, in)) {
            json_t *o = json_loads(line, 0, NULL);
            json_t *st = o ? json_object_get(o, "step") : NULL;
            if (st && json_integer_value(st) <= resume_step)
                fputs(line, out);
            json_decref(o);
        }
        if (in)
            fclose(in);
        if (out && fclose(out) == 0)
            rename(tmp, path);
    }
    return fopen(path, resume_step > 0 ? "a" : "w");
}

typedef struct {
    double *x, *y;
    int n, cap;
} series;

static void push(series *s, double x, double y)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->x = realloc(s->x, (size_t)s->cap * sizeof *s->x);
        s->y = realloc(s->y, (size_t)s->cap * sizeof *s->y);
    }
    s->x[s->n] = x;
    s->y[s->n++] = y;
}

int jt_plot_metrics(const char *dir, const char *const *keys, int n_keys, const char *title)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *in = fopen(path, "r");
    if (!in)
        return -1;
    series s[8] = {{0}};
    if (n_keys > 8)
        n_keys = 8;
    char line[4096];
    while (fgets(line, sizeof line, in)) {
        json_t *o = json_loads(line, 0, NULL);
        json_t *st = o ? json_object_get(o, "step") : NULL;
        for (int k = 0; st && k < n_keys; k++) {
            json_t *v = json_object_get(o, keys[k]);
            if (v && json_is_number(v) && json_number_value(v) > 0)
                push(&s[k], (double)json_integer_value(st), json_number_value(v));
        }
        json_decref(o);
    }
    fclose(in);
    /* log scale on y: losses span decades */
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int k = 0; k < n_keys; k++)
        for (int i = 0; i < s[k].n; i++) {
            x0 = fmin(x0, s[k].x[i]);
            x1 = fmax(x1, s[k].x[i]);
            y0 = fmin(y0, log10(s[k].y[i]));
            y1 = fmax(y1, log10(s[k].y[i]));
        }
    snprintf(path, sizeof path, "%s/loss.svg", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    const int W = 800, H = 450, L = 70, R = 20, T = 40, B = 50;
    if (x1 <= x0)
        x1 = x0 + 1;
    if (y1 <= y0)
        y1 = y0 + 1;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif' "
               "font-size='12'>\n<rect width='100%%' height='100%%' fill='white'/>\n", W, H);
    fprintf(f, "<text x='%d' y='22' font-size='15'>%s</text>\n", L, title);
    fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#888'/>\n", L, T, W - L - R, H - T - B);
    for (int d = (int)floor(y0); d <= (int)ceil(y1); d++) { /* decades */
        double yy = H - B - (d - y0) / (y1 - y0) * (H - T - B);
        if (yy < T - 1 || yy > H - B + 1)
            continue;
        fprintf(f, "<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#ddd'/><text x='%d' y='%.1f' "
                   "text-anchor='end'>1e%d</text>\n", L, W - R, yy, yy, L - 6, yy + 4, d);
    }
    fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>step (%.0f to %.0f)</text>\n", (L + W - R) / 2, H - 15, x0,
            x1);
    static const char *const colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
                                          "#e377c2", "#7f7f7f"};
    for (int k = 0; k < n_keys; k++) {
        if (!s[k].n)
            continue;
        fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.5' points='", colours[k]);
        for (int i = 0; i < s[k].n; i++)
            fprintf(f, "%.1f,%.1f ", L + (s[k].x[i] - x0) / (x1 - x0) * (W - L - R),
                    H - B - (log10(s[k].y[i]) - y0) / (y1 - y0) * (H - T - B));
        fprintf(f, "'/>\n<text x='%d' y='%d' fill='%s'>%s</text>\n", W - R - 150, T + 18 + 16 * k, colours[k],
                keys[k]);
        free(s[k].x);
        free(s[k].y);
    }
    fprintf(f, "</svg>\n");
    int ok = fclose(f) == 0;
    return ok && rename(tmp, path) == 0 ? 0 : -1;
}
