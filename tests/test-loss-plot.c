/* test-loss-plot: the loss picture (jt_plot_metrics in src/train_util.c)
 * drawn from a metrics.jsonl written here: a long noisy series gets a pale
 * raw line under a smooth moving mean, a short one only its raw line, an
 * all-zero key no line, a long title a smaller font, and markup characters
 * in a title come out escaped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "train_util.h"

static char dir[] = "/tmp/jt-loss-plot-XXXXXX";

/* rows of (step, loss_g = 2 +- 50 % noise, loss_d = 0), then the picture */
static char *plot(int rows, const char *title)
{
    char path[256];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "w");
    unsigned seed = 12345;
    for (int i = 1; i <= rows; i++) {
        seed = seed * 1664525u + 1013904223u;
        double noise = (seed >> 8) / 16777216.0 - 0.5; /* uniform in [-0.5, 0.5) */
        fprintf(f, "{\"step\": %d, \"loss_g\": %.6f, \"loss_d\": 0}\n", 10 * i, 2 * (1 + noise));
    }
    fclose(f);
    const char *keys[] = {"loss_g", "loss_d"};
    if (jt_plot_metrics(dir, keys, 2, title) != 0)
        return NULL;
    snprintf(path, sizeof path, "%s/loss.svg", dir);
    f = fopen(path, "r");
    static char svg[1 << 20];
    size_t n = fread(svg, 1, sizeof svg - 1, f);
    svg[n] = 0;
    fclose(f);
    return svg;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (; (s = strstr(s, what)); s++)
        n++;
    return n;
}

/* roughness of the k-th polyline: its mean step in y, in pixels */
static double roughness(const char *svg, int k)
{
    const char *p = svg;
    for (int i = 0; i <= k; i++)
        p = strstr(p, "<polyline") + 1;
    p = strstr(p, "points='") + 8;
    double x, y, prev = 0, sum = 0;
    int used, n = 0;
    while (sscanf(p, "%lf,%lf %n", &x, &y, &used) == 2) {
        sum += n++ ? (y > prev ? y - prev : prev - y) : 0;
        prev = y;
        p += used;
    }
    return n > 1 ? sum / (n - 1) : 0;
}

int main(void)
{
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    const char *svg = plot(2000, "short title");
    tap_ok(svg != NULL, "a picture of 2000 rows is written");
    if (svg) {
        tap_ok(count(svg, "<polyline") == 2, "loss_g drawn twice (raw and mean), the all-zero loss_d not at all");
        tap_ok(strstr(svg, "stroke='#c7ddec'") && strstr(svg, "stroke='#1f77b4'"),
               "the raw line is the pale colour, the mean the full one");
        double raw = roughness(svg, 0), mean = roughness(svg, 1);
        tap_ok(mean < 0.1 * raw, "the moving mean is smooth: mean step %.2f px against %.2f px raw", mean, raw);
        tap_ok(strstr(svg, "mean over 21 of them") != NULL, "the note names the window (21 points for 2000)");
        tap_ok(strstr(svg, "font-size='15.0'>short title") != NULL, "a short title keeps its 15 px font");
    }
    svg = plot(150, "a long title that would not fit the picture's width at fifteen pixels: "
                    "the cycles of many milestones one after another, each with its steps named here");
    tap_ok(svg != NULL, "a picture of 150 rows is written");
    if (svg) {
        tap_ok(count(svg, "<polyline") == 1 && !strstr(svg, "mean over"),
               "150 rows: only the raw line, no moving mean");
        double px = 0;
        const char *t = strstr(svg, "y='22' font-size='"); /* the title's text element */
        int found = t && sscanf(t, "y='22' font-size='%lf'", &px) == 1;
        tap_ok(found && px < 15 && px >= 8, "a long title shrinks to fit (%.1f px)", px);
    }
    svg = plot(20, "loss < 2 & falling");
    tap_ok(svg && strstr(svg, ">loss &lt; 2 &amp; falling</text>") && !strstr(svg, "< 2 &"),
           "a title's < and & are escaped (the picture stays valid XML)");
    char path[256];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/loss.svg", dir);
    unlink(path);
    rmdir(dir);
    return tap_done();
}
