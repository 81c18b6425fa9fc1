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

/* appends a point; -1 when memory runs out (the series is kept as it was) */
static int push(series *s, double x, double y)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 256;
        double *nx = realloc(s->x, (size_t)cap * sizeof *nx);
        if (!nx)
            return -1;
        s->x = nx;
        double *ny = realloc(s->y, (size_t)cap * sizeof *ny);
        if (!ny)
            return -1;
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n++] = y;
    return 0;
}

static void free_series(series *s, int n)
{
    for (int k = 0; k < n; k++) {
        free(s[k].x);
        free(s[k].y);
    }
}

/* text as SVG character data: &, < and > escaped (a title or a key may hold
 * any of them) */
static void print_text(FILE *f, const char *t)
{
    for (; *t; t++)
        switch (*t) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        default: fputc(*t, f);
        }
}

/* Centred moving mean over 2 * half + 1 points (fewer at the ends): one
 * step's loss on a batch of a few clips is noise around the trend the
 * picture is for. */
static void moving_mean(const double *y, int n, int half, double *out)
{
    double sum = 0;
    int lo = 0, hi = -1;
    for (int i = 0; i < n; i++) {
        int a = i - half < 0 ? 0 : i - half, b = i + half >= n ? n - 1 : i + half;
        while (hi < b)
            sum += y[++hi];
        while (lo < a)
            sum -= y[lo++];
        out[i] = sum / (b - a + 1);
    }
}

typedef struct {
    int W, H, L, R, T, B;
    double x0, x1, y0, y1; /* y in log10 */
} plot_frame;

/* colour as #rrggbb, mixed with white by `pale` (0: itself, 1: white); a
 * pale colour rather than transparency, which not every renderer draws */
static void print_colour(FILE *f, unsigned rgb, double pale)
{
    fputc('#', f);
    for (int shift = 16; shift >= 0; shift -= 8) {
        unsigned c = (rgb >> shift) & 0xff;
        fprintf(f, "%02x", (unsigned)lround(c + (255 - c) * pale));
    }
}

/* pixel coordinates of a step and of a value (on the log axis) */
static double frame_x(const plot_frame *p, double step)
{
    return p->L + (step - p->x0) / (p->x1 - p->x0) * (p->W - p->L - p->R);
}

static double frame_y(const plot_frame *p, double value)
{
    return p->H - p->B - (log10(value) - p->y0) / (p->y1 - p->y0) * (p->H - p->T - p->B);
}

static void polyline(FILE *f, const plot_frame *p, const double *x, const double *y, int n, unsigned rgb,
                     double pale, double width)
{
    if (n == 0)
        return;
    fprintf(f, "<polyline fill='none' stroke='");
    print_colour(f, rgb, pale);
    fprintf(f, "' stroke-width='%.1f' points='", width);
    for (int i = 0; i < n; i++)
        fprintf(f, "%.1f,%.1f ", frame_x(p, x[i]), frame_y(p, y[i]));
    fprintf(f, "'/>\n");
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
    int ok = 1;
    while (ok && fgets(line, sizeof line, in)) {
        json_t *o = json_loads(line, 0, NULL);
        json_t *st = o ? json_object_get(o, "step") : NULL;
        for (int k = 0; st && k < n_keys; k++) {
            json_t *v = json_object_get(o, keys[k]);
            if (v && json_is_number(v) && json_number_value(v) > 0 &&
                push(&s[k], (double)json_integer_value(st), json_number_value(v)) != 0)
                ok = 0;
        }
        json_decref(o);
    }
    fclose(in);
    FILE *f = NULL;
    if (ok) {
        snprintf(path, sizeof path, "%s/loss.svg", dir);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        f = fopen(tmp, "w");
    }
    if (!f) {
        free_series(s, n_keys);
        return -1;
    }
    /* log scale on y: losses span decades */
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int k = 0; k < n_keys; k++)
        for (int i = 0; i < s[k].n; i++) {
            x0 = fmin(x0, s[k].x[i]);
            x1 = fmax(x1, s[k].x[i]);
            y0 = fmin(y0, log10(s[k].y[i]));
            y1 = fmax(y1, log10(s[k].y[i]));
        }
    const int W = 800, H = 450, L = 70, R = 20, T = 40, B = 50;
    if (x1 <= x0)
        x1 = x0 + 1;
    if (y1 <= y0)
        y1 = y0 + 1;
    const plot_frame p = {W, H, L, R, T, B, x0, x1, y0, y1};
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif' "
               "font-size='12'>\n<rect width='100%%' height='100%%' fill='white'/>\n", W, H);
    /* a long title shrinks to fit the width (about 0.55 em per character) */
    double title_px = fmax(8, fmin(15, (W - 20) / (0.55 * (double)strlen(title))));
    fprintf(f, "<text x='10' y='22' font-size='%.1f'>", title_px);
    print_text(f, title);
    fputs("</text>\n", f);
    fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#888'/>\n", L, T, W - L - R, H - T - B);
    /* ticks at 1, 2 and 5 times each power of ten, only 1 past two decades */
    const int mantissas[] = {1, 2, 5}, n_mantissas = y1 - y0 > 2 ? 1 : 3;
    for (int d = (int)floor(y0); d <= (int)ceil(y1); d++)
        for (int m = 0; m < n_mantissas; m++) {
            double v = mantissas[m] * pow(10, d), yy = frame_y(&p, v);
            if (yy < T - 1 || yy > H - B + 1)
                continue;
            fprintf(f, "<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#ddd'/><text x='%d' y='%.1f' "
                       "text-anchor='end'>%g</text>\n", L, W - R, yy, yy, L - 6, yy + 4, v);
        }
    fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>step (%.0f to %.0f)</text>\n", (L + W - R) / 2, H - 15, x0,
            x1);
    static const unsigned colours[] = {0x1f77b4, 0xd62728, 0x2ca02c, 0x9467bd,
                                       0xff7f0e, 0x8c564b, 0xe377c2, 0x7f7f7f};
    int half = 0; /* the moving mean spans about 1 % of the longest series */
    for (int k = 0; k < n_keys; k++)
        half = s[k].n / 200 > half ? s[k].n / 200 : half;
    for (int k = 0; half > 0 && k < n_keys; k++) /* every pale line under every mean */
        polyline(f, &p, s[k].x, s[k].y, s[k].n, colours[k], 0.75, 1);
    for (int k = 0; k < n_keys; k++) {
        if (!s[k].n)
            continue;
        double *mean = half > 0 ? malloc((size_t)s[k].n * sizeof *mean) : NULL;
        if (mean) {
            moving_mean(s[k].y, s[k].n, half, mean);
            polyline(f, &p, s[k].x, mean, s[k].n, colours[k], 0, 2);
            free(mean);
        } else { /* no moving mean (short series, or no memory for one) */
            polyline(f, &p, s[k].x, s[k].y, s[k].n, colours[k], 0, 1.5);
        }
        fprintf(f, "<text x='%d' y='%d' fill='", W - R - 150, T + 18 + 16 * k);
        print_colour(f, colours[k], 0);
        fputs("'>", f);
        print_text(f, keys[k]);
        fputs("</text>\n", f);
    }
    free_series(s, n_keys);
    if (half > 0)
        fprintf(f, "<text x='%d' y='%d' fill='#555'>pale: every logged value; line: mean over %d of them</text>\n",
                L, H - 2, 2 * half + 1);
    fprintf(f, "</svg>\n");
    ok = fclose(f) == 0;
    return ok && rename(tmp, path) == 0 ? 0 : -1;
}
