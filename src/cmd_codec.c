/* cmd_codec.c: `jepatok encode`, `decode` and `roundtrip`: the tokenizer on
 * files.  Each takes many inputs (files, --list FILE, directories searched
 * recursively); with one input -o names the output file, with several it
 * names a directory that receives one output per input. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio.h"
#include "cli.h"
#include "codec.h"
#include "metrics.h"
#include "train_util.h"

typedef enum { CMD_ENCODE, CMD_DECODE, CMD_ROUNDTRIP } cmd_kind;

typedef struct {
    cmd_kind kind;
    const char *name, *out, *npy, *model, *backend;
    int force, float_out, quiet, out_rate;
    char **inputs;
    int n_inputs, cap;
} opts;

static int push_input(opts *o, const char *path)
{
    if (o->n_inputs == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 16;
        char **p = realloc(o->inputs, (size_t)o->cap * sizeof *p);
        if (!p)
            return -1;
        o->inputs = p;
    }
    o->inputs[o->n_inputs] = strdup(path);
    return o->inputs[o->n_inputs++] ? 0 : -1;
}

static int wanted(const opts *o, const char *name)
{
    static const char *const audio[] = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", NULL};
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    if (o->kind == CMD_DECODE)
        return strcasecmp(dot, ".jtok") == 0;
    for (int i = 0; audio[i]; i++)
        if (strcasecmp(dot, audio[i]) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Files of a directory tree, sorted, appended to o->inputs. */
static int scan_dir(opts *o, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    int first = o->n_inputs;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat sb;
        if (stat(path, &sb))
            continue;
        if (S_ISDIR(sb.st_mode))
            scan_dir(o, path);
        else if (wanted(o, de->d_name))
            push_input(o, path);
    }
    closedir(d);
    qsort(o->inputs + first, (size_t)(o->n_inputs - first), sizeof *o->inputs, cmp_str);
    return 0;
}

static int add_arg(opts *o, const char *arg)
{
    struct stat sb;
    if (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode))
        return scan_dir(o, arg);
    return push_input(o, arg); /* a missing file fails later, with its reason */
}

static int add_list(opts *o, const char *list)
{
    FILE *f = fopen(list, "r");
    if (!f)
        return -1;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] && line[0] != '#')
            add_arg(o, line);
    }
    fclose(f);
    return 0;
}

/* The output path of input i: -o itself for one input, else DIR/base.ext. */
static void output_path(const opts *o, const char *in, const char *ext, char *buf, size_t n)
{
    if (o->n_inputs == 1) {
        snprintf(buf, n, "%s", o->out);
        return;
    }
    const char *base = strrchr(in, '/');
    base = base ? base + 1 : in;
    const char *dot = strrchr(base, '.');
    int len = dot ? (int)(dot - base) : (int)strlen(base);
    snprintf(buf, n, "%s/%.*s%s", o->out, len, base, ext);
}

typedef struct {
    double seconds_audio, seconds_compute;
    int64_t frames;
} totals;

static long long pull_reader(void *user, float *buf, size_t max, char *err, size_t errlen)
{
    return jt_audio_reader_read(user, buf, max, err, errlen);
}

/* Encode a file as it is read: memory for one window of samples, whatever
 * the length of the file. */
static int encode_stream(jt_codec *c, const char *in, jt_audio_reader **rd, uint16_t **tok, int64_t *frames,
                         double *seconds, char *err, size_t errlen)
{
    if (jt_audio_reader_open(rd, in, c->model->cfg.sample_rate, err, errlen))
        return -1;
    int64_t n = 0;
    double t0 = jt_now();
    int r = jt_codec_encode_stream(c, pull_reader, *rd, tok, frames, &n, err, errlen);
    *seconds = jt_now() - t0;
    return r;
}

static int encode_file(const opts *o, jt_codec *c, const char *in, totals *tot, char *err, size_t errlen)
{
    const jt_model *m = c->model;
    jt_audio_reader *rd = NULL;
    uint16_t *tok = NULL;
    int64_t frames = 0;
    double secs = 0;
    int r = encode_stream(c, in, &rd, &tok, &frames, &secs, err, errlen);
    tot->seconds_compute += secs;
    if (r == 0) {
        jt_tokens t = {.sample_rate = (uint32_t)jt_audio_reader_orig_rate(rd),
                       .samples = jt_audio_reader_orig_frames(rd),
                       .frames = (uint64_t)frames,
                       .per_frame = (uint16_t)m->fsq.n_groups,
                       .tokens = tok};
        memcpy(t.model_id, m->id, sizeof t.model_id);
        for (int k = 0; k < m->fsq.n_groups; k++)
            t.radix[k] = (uint16_t)m->fsq.radix[k];
        char path[4096];
        output_path(o, in, ".jtok", path, sizeof path);
        r = jt_tokens_write(path, &t, err, errlen);
        if (r == 0 && o->npy) {
            output_path(o, in, ".npy", path, sizeof path);
            if (o->n_inputs == 1)
                snprintf(path, sizeof path, "%s", o->npy);
            r = jt_tokens_write_npy(path, &t, err, errlen);
        }
        tot->frames += frames;
        tot->seconds_audio += (double)jt_audio_reader_frames(rd) / m->cfg.sample_rate;
    }
    free(tok);
    jt_audio_reader_close(rd);
    return r;
}

/* Where decoded speech goes: 24 kHz decoder output -> (resampled to rate)
 * -> cropped or padded to exactly `samples` -> the WAV writer, opened at
 * the first sample so that errors found before (tokens) come first.  With
 * keep, the output is also kept in memory (roundtrip's scores). */
typedef struct {
    const char *path;
    int rate;
    jt_audio_format fmt;
    int64_t samples, written;
    jt_audio_writer *w;
    jt_audio_resampler *rs;
    int keep;
    float *y;
} sink;

static int sink_out(void *user, const float *x, size_t n, char *err, size_t errlen)
{
    sink *s = user;
    size_t take = (int64_t)n < s->samples - s->written ? n : (size_t)(s->samples - s->written);
    if (!s->w && jt_audio_writer_open(&s->w, s->path, s->rate, s->fmt, err, errlen))
        return -1;
    if (take && jt_audio_writer_write(s->w, x, take, err, errlen))
        return -1;
    if (s->keep && take)
        memcpy(s->y + s->written, x, take * sizeof *x);
    s->written += (int64_t)take;
    return 0;
}

static int sink_push(void *user, const float *pcm, size_t n, char *err, size_t errlen)
{
    sink *s = user;
    if (s->rs)
        return jt_audio_resampler_push(s->rs, pcm, n, 0, sink_out, s, err, errlen) ? -1 : 0;
    return sink_out(s, pcm, n, err, errlen);
}

/* Decode tokens of a clip recorded at rate with `samples` samples into
 * path, chunk by chunk; the file appears complete or not at all. */
static int decode_to_file(const opts *o, jt_codec *c, const uint16_t *tok, int64_t frames, int rate, int64_t samples,
                          const char *path, int keep, float **kept, totals *tot, char *err, size_t errlen)
{
    const jt_config *cfg = &c->model->cfg;
    sink s = {.path = path,
              .rate = rate,
              .fmt = o->float_out ? JT_AUDIO_FLOAT32 : JT_AUDIO_PCM16,
              .samples = samples,
              .keep = keep};
    int r = 0;
    if (keep && !(s.y = calloc((size_t)(samples > 0 ? samples : 1), sizeof *s.y))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (rate != cfg->sample_rate && jt_audio_resampler_open(&s.rs, cfg->sample_rate, rate, err, errlen))
        r = -1;
    double t0 = jt_now();
    if (r == 0)
        r = jt_codec_decode_stream(c, tok, frames, sink_push, &s, err, errlen);
    tot->seconds_compute += jt_now() - t0;
    if (r == 0 && s.rs && jt_audio_resampler_push(s.rs, NULL, 0, 1, sink_out, &s, err, errlen))
        r = -1;
    static const float zeros[1024];
    while (r == 0 && s.written < samples) /* the decoder gave less than recorded */
        r = sink_out(&s, zeros, (size_t)(samples - s.written < 1024 ? samples - s.written : 1024), err, errlen);
    if (r == 0 && !s.w && jt_audio_writer_open(&s.w, path, rate, s.fmt, err, errlen))
        r = -1;
    if (r == 0) {
        r = jt_audio_writer_commit(s.w, err, errlen) ? -1 : 0;
    } else if (s.w) {
        jt_audio_writer_abort(s.w);
    }
    jt_audio_resampler_close(s.rs);
    if (r == 0 && keep)
        *kept = s.y;
    else
        free(s.y);
    return r;
}

static int check_tokens(const opts *o, const jt_model *m, const jt_tokens *t, const char *in, char *err, size_t errlen)
{
    if (memcmp(t->model_id, m->id, JT_MODEL_ID_BYTES) != 0 && !o->force) {
        char a[2 * JT_MODEL_ID_BYTES + 1], b[2 * JT_MODEL_ID_BYTES + 1];
        jt_model_id_hex(t->model_id, a);
        jt_model_id_hex(m->id, b);
        snprintf(err, errlen, "%s: made by model %s, but the model is %s (--force decodes anyway)", in, a, b);
        return -1;
    }
    int same = t->per_frame == m->fsq.n_groups;
    for (int k = 0; same && k < t->per_frame; k++)
        same = t->radix[k] == m->fsq.radix[k];
    if (!same) {
        snprintf(err, errlen, "%s: %u tokens per frame with other radices than the model's %d", in, t->per_frame,
                 m->fsq.n_groups);
        return -1;
    }
    if (t->frames == 0 || t->samples == 0 || t->sample_rate == 0) {
        snprintf(err, errlen, "%s: no audio recorded in the token file", in);
        return -1;
    }
    return 0;
}

static int decode_file(const opts *o, jt_codec *c, const char *in, totals *tot, char *err, size_t errlen)
{
    jt_tokens t = {0};
    if (jt_tokens_read(in, &t, err, errlen))
        return -1;
    int r = check_tokens(o, c->model, &t, in, err, errlen);
    int rate = o->out_rate > 0 ? o->out_rate : (int)t.sample_rate;
    int64_t samples = (int64_t)llround((double)t.samples * rate / t.sample_rate);
    if (r == 0) {
        char path[4096];
        output_path(o, in, ".wav", path, sizeof path);
        r = decode_to_file(o, c, t.tokens, (int64_t)t.frames, rate, samples, path, 0, NULL, tot, err, errlen);
    }
    if (r == 0) {
        tot->frames += (int64_t)t.frames;
        tot->seconds_audio += (double)t.samples / t.sample_rate;
    }
    jt_tokens_free(&t);
    return r;
}

/* roundtrip scores STOI/ESTOI on inputs up to this long; longer ones would
 * need the whole input and output in memory, so they are not scored. */
#define SCORE_MAX_SECONDS 600.0

static int roundtrip_file(const opts *o, jt_codec *c, const char *in, totals *tot, char *err, size_t errlen)
{
    const jt_model *m = c->model;
    jt_audio_reader *rd = NULL;
    jt_audio orig = {0};
    uint16_t *tok = NULL;
    int64_t frames = 0;
    float *y = NULL;
    totals one = {0};
    double enc_s = 0;
    int r = encode_stream(c, in, &rd, &tok, &frames, &enc_s, err, errlen);
    one.seconds_compute = enc_s;
    if (r) {
        jt_audio_reader_close(rd);
        free(tok);
        return -1;
    }
    int orig_rate = jt_audio_reader_orig_rate(rd);
    size_t orig_frames = jt_audio_reader_orig_frames(rd), n24 = jt_audio_reader_frames(rd);
    jt_audio_reader_close(rd);
    int rate = o->out_rate > 0 ? o->out_rate : orig_rate;
    int64_t samples = (int64_t)llround((double)orig_frames * rate / orig_rate);
    double dur = (double)orig_frames / orig_rate;
    int score = !o->quiet && dur <= SCORE_MAX_SECONDS;
    char path[4096];
    output_path(o, in, ".wav", path, sizeof path);
    r = decode_to_file(o, c, tok, frames, rate, samples, path, score, &y, &one, err, errlen);
    if (r == 0 && !o->quiet) {
        double bits = jt_fsq_bits_per_frame(&m->fsq);
        int64_t ntok = frames * m->fsq.n_groups;
        printf("%s: %.2f s, %lld frames, %lld tokens, %.1f tokens/s, %.0f bit/s, %.3f s, real-time factor %.4f",
               in, dur, (long long)frames, (long long)ntok, ntok / dur, frames * bits / dur, one.seconds_compute,
               one.seconds_compute / dur);
        /* the scores compare at the input's own rate */
        if (!score)
            printf(", STOI/ESTOI not scored (longer than %.0f min)", SCORE_MAX_SECONDS / 60);
        else if (jt_audio_load(in, rate, &orig, err, errlen) == 0) {
            size_t n = orig.frames < (size_t)samples ? orig.frames : (size_t)samples;
            printf(", STOI %.3f, ESTOI %.3f", jt_stoi(orig.samples, y, n, rate), jt_estoi(orig.samples, y, n, rate));
        }
        printf("\n");
    }
    tot->frames += frames;
    tot->seconds_audio += (double)n24 / m->cfg.sample_rate;
    tot->seconds_compute += one.seconds_compute;
    free(tok);
    free(y);
    jt_audio_free(&orig);
    return r;
}

static void usage(FILE *f, cmd_kind k)
{
    static const char *const lines[] = {
        "usage: jepatok encode INPUT... -o OUT.jtok [--npy OUT.npy] [options]\n"
        "Speech (any format libsndfile reads, any rate and channel count) to tokens.\n",
        "usage: jepatok decode INPUT.jtok... -o OUT.wav [options]\n"
        "Tokens back to speech, at the original sample rate and sample count.\n"
        "  --force           decode tokens made by another model\n"
        "  --float           write 32-bit float WAV (default 16-bit PCM)\n",
        "usage: jepatok roundtrip INPUT... -o OUT.wav [options]\n"
        "Encode and decode; prints duration, frames, tokens, tokens/s, bit/s, time,\n"
        "real-time factor, and STOI/ESTOI of the output against the input (inputs up\n"
        "to 10 minutes; longer ones are streamed and not scored).\n"
        "  --float           write 32-bit float WAV (default 16-bit PCM)\n"};
    fprintf(f, "%s", lines[k]);
    fprintf(f, "  -o PATH           output file; a directory when there are several inputs\n"
               "  --list FILE       read inputs from FILE, one per line\n"
               "  --model PATH      model file (default: $JEPATOK_MODEL, else the shipped model)\n"
               "  --backend NAME    cpu, opencl, vulkan or auto (default $JEPATOK_BACKEND or cpu),\n"
               "                    optionally with options: cpu:threads=2, vulkan:device=1\n"
               "  --rate HZ         output sample rate (decode, roundtrip; default: the original)\n"
               "  -q, --quiet       no progress bar or per-file lines\n"
               "INPUT may be a file or a directory (searched recursively).\n");
}

static int run(opts *o)
{
    char err[1024], path[4096];
    const char *model_path = o->model ? o->model : jt_model_default_path(path, sizeof path);
    jt_model m;
    if (jt_model_open(&m, model_path, err, sizeof err)) {
        fprintf(stderr, "jepatok %s: model: %s\n", o->name, err);
        return 1;
    }
    jt_codec c;
    if (jt_codec_open(&c, &m, o->backend, NULL, err, sizeof err)) {
        fprintf(stderr, "jepatok %s: %s\n", o->name, err);
        jt_model_close(&m);
        return 1;
    }
    if (o->n_inputs > 1 && jt_mkdirs(o->out)) {
        fprintf(stderr, "jepatok %s: cannot create the output directory %s: %s\n", o->name, o->out, strerror(errno));
        jt_codec_close(&c);
        jt_model_close(&m);
        return 1;
    }
    jt_progress prog;
    int bar = o->n_inputs > 1 && !o->quiet;
    if (bar)
        jt_progress_start(&prog, 0, o->n_inputs);
    totals tot = {0};
    int failed = 0;
    for (int i = 0; i < o->n_inputs; i++) {
        const char *in = o->inputs[i];
        int r = o->kind == CMD_ENCODE   ? encode_file(o, &c, in, &tot, err, sizeof err)
                : o->kind == CMD_DECODE ? decode_file(o, &c, in, &tot, err, sizeof err)
                                        : roundtrip_file(o, &c, in, &tot, err, sizeof err);
        if (r) {
            fprintf(stderr, "%sjepatok %s: %s\n", bar ? "\n" : "", o->name, err);
            failed++;
        }
        if (bar)
            jt_progress_update(&prog, i + 1, "files");
    }
    if (bar)
        jt_progress_end(&prog);
    if (!o->quiet && tot.seconds_audio > 0 && (o->n_inputs > 1 || o->kind != CMD_ROUNDTRIP))
        fprintf(stderr, "%d file(s), %.1f s of audio, %lld frames in %.2f s: real-time factor %.4f%s\n",
                o->n_inputs - failed, tot.seconds_audio, (long long)tot.frames, tot.seconds_compute,
                tot.seconds_compute / tot.seconds_audio, failed ? " (some files failed)" : "");
    jt_codec_close(&c);
    jt_model_close(&m);
    return failed ? 1 : 0;
}

static int codec_command(cmd_kind kind, int argc, char **argv)
{
    opts o = {.kind = kind, .name = argv[0]};
    int status = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, kind);
            status = 0;
            goto out;
        } else if (has && !strcmp(a, "-o")) {
            o.out = argv[++i];
        } else if (has && kind == CMD_ENCODE && !strcmp(a, "--npy")) {
            o.npy = argv[++i];
        } else if (has && !strcmp(a, "--model")) {
            o.model = argv[++i];
        } else if (has && !strcmp(a, "--backend")) {
            o.backend = argv[++i];
        } else if (has && kind != CMD_ENCODE && !strcmp(a, "--rate")) {
            o.out_rate = atoi(argv[++i]);
        } else if (has && !strcmp(a, "--list")) {
            if (add_list(&o, argv[++i])) {
                fprintf(stderr, "jepatok %s: cannot read the list %s: %s\n", o.name, argv[i], strerror(errno));
                status = 1;
                goto out;
            }
        } else if (kind == CMD_DECODE && !strcmp(a, "--force")) {
            o.force = 1;
        } else if (kind != CMD_ENCODE && !strcmp(a, "--float")) {
            o.float_out = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o.quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "jepatok %s: unknown or incomplete option '%s'\n", o.name, a);
            usage(stderr, kind);
            goto out;
        } else {
            add_arg(&o, a);
        }
    }
    if (!o.n_inputs || !o.out) {
        fprintf(stderr, "jepatok %s: %s\n", o.name, !o.n_inputs ? "no input" : "-o OUTPUT is required");
        usage(stderr, kind);
        goto out;
    }
    if (o.out_rate < 0) {
        fprintf(stderr, "jepatok %s: --rate must be positive\n", o.name);
        goto out;
    }
    status = run(&o);
out:
    for (int i = 0; i < o.n_inputs; i++)
        free(o.inputs[i]);
    free(o.inputs);
    return status;
}

int jt_cmd_encode(int argc, char **argv) { return codec_command(CMD_ENCODE, argc, argv); }
int jt_cmd_decode(int argc, char **argv) { return codec_command(CMD_DECODE, argc, argv); }
int jt_cmd_roundtrip(int argc, char **argv) { return codec_command(CMD_ROUNDTRIP, argc, argv); }
