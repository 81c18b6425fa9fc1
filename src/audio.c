/* audio.c: audio file I/O for jepatok (libsndfile + libsoxr).  See audio.h. */
#include "audio.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>
#include <soxr.h>

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

void jt_audio_free(jt_audio *a)
{
    if (!a)
        return;
    free(a->samples);
    memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------ resampler */

#define JT_OBUF 16384 /* soxr output block, samples */

struct jt_audio_resampler {
    soxr_t s; /* NULL when the rates are equal */
    int in_rate, out_rate;
    unsigned long long in_total, out_total;
    float *obuf;
    float *pend; /* output held back until the total allows it */
    size_t npend, pcap;
};

int jt_audio_resampler_open(jt_audio_resampler **rp, int in_rate, int out_rate, char *err, size_t errlen)
{
    if (!rp || in_rate <= 0 || out_rate <= 0)
        return fail(err, errlen, JT_AUDIO_EARG, "resample: bad arguments");
    *rp = NULL;
    jt_audio_resampler *r = calloc(1, sizeof *r);
    if (!r)
        return fail(err, errlen, JT_AUDIO_ENOMEM, "resample: out of memory");
    r->in_rate = in_rate;
    r->out_rate = out_rate;
    if (in_rate != out_rate) {
        r->obuf = malloc(JT_OBUF * sizeof *r->obuf);
        if (!r->obuf) {
            free(r);
            return fail(err, errlen, JT_AUDIO_ENOMEM, "resample: out of memory");
        }
        /* The settings of soxr_oneshot in the whole-buffer version this
         * replaced: HQ, default run-time spec. */
        soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
        soxr_error_t e = NULL;
        r->s = soxr_create(in_rate, out_rate, 1, &e, &io, &q, NULL);
        if (!r->s || e) {
            if (r->s)
                soxr_delete(r->s);
            free(r->obuf);
            free(r);
            return fail(err, errlen, JT_AUDIO_ERESAMPLE, "resample %d -> %d Hz: %s", in_rate, out_rate,
                        e ? e : "cannot create the resampler");
        }
    }
    *rp = r;
    return JT_AUDIO_OK;
}

void jt_audio_resampler_close(jt_audio_resampler *r)
{
    if (!r)
        return;
    if (r->s)
        soxr_delete(r->s);
    free(r->obuf);
    free(r->pend);
    free(r);
}

/* Hand y (k samples) on, never beyond cap samples in all; the rest waits in
 * pend. */
static int deliver(jt_audio_resampler *r, const float *y, size_t k, unsigned long long cap, jt_audio_emit_fn emit,
                   void *user, char *err, size_t errlen)
{
    if (r->npend && k) { /* queue behind what waits already */
        if (r->npend + k > r->pcap) {
            size_t nc = (r->npend + k) * 2;
            float *t = realloc(r->pend, nc * sizeof *t);
            if (!t)
                return fail(err, errlen, JT_AUDIO_ENOMEM, "resample: out of memory");
            r->pend = t;
            r->pcap = nc;
        }
        memcpy(r->pend + r->npend, y, k * sizeof *y);
        r->npend += k;
        k = 0;
    }
    int from_pend = r->npend > 0;
    if (from_pend) {
        y = r->pend;
        k = r->npend;
    }
    unsigned long long room = cap > r->out_total ? cap - r->out_total : 0;
    size_t take = (unsigned long long)k < room ? k : (size_t)room;
    if (take) {
        int rc = emit(user, y, take, err, errlen);
        if (rc)
            return rc < 0 ? rc : JT_AUDIO_EWRITE;
        r->out_total += take;
    }
    size_t rest = k - take;
    if (from_pend) {
        memmove(r->pend, r->pend + take, rest * sizeof *r->pend);
        r->npend = rest;
    } else if (rest) {
        if (rest > r->pcap) {
            float *t = realloc(r->pend, rest * sizeof *t);
            if (!t)
                return fail(err, errlen, JT_AUDIO_ENOMEM, "resample: out of memory");
            r->pend = t;
            r->pcap = rest;
        }
        memcpy(r->pend, y + take, rest * sizeof *y);
        r->npend = rest;
    }
    return JT_AUDIO_OK;
}

int jt_audio_resampler_push(jt_audio_resampler *r, const float *in, size_t n, int last, jt_audio_emit_fn emit,
                            void *user, char *err, size_t errlen)
{
    if (!r || !emit || (n && !in))
        return fail(err, errlen, JT_AUDIO_EARG, "resample: bad arguments");
    r->in_total += n;
    if (!r->s) {
        int rc = n ? emit(user, in, n, err, errlen) : 0;
        if (rc)
            return rc < 0 ? rc : JT_AUDIO_EWRITE;
        r->out_total += n;
        return JT_AUDIO_OK;
    }
    /* Until the end, at most floor(in * out / in_rate) samples (the filter
     * delay keeps soxr below that anyway); at the end, exactly the rounded
     * total of jt_audio_resample. */
    unsigned long long cap = last ? (unsigned long long)floor((double)r->in_total * r->out_rate / r->in_rate + 0.5)
                                  : r->in_total * (unsigned long long)r->out_rate / (unsigned long long)r->in_rate;
    size_t off = 0;
    while (off < n) {
        size_t idone = 0, odone = 0;
        soxr_error_t e = soxr_process(r->s, in + off, n - off, &idone, r->obuf, JT_OBUF, &odone);
        if (e)
            return fail(err, errlen, JT_AUDIO_ERESAMPLE, "resample %d -> %d Hz: %s", r->in_rate, r->out_rate, e);
        off += idone;
        int rc = deliver(r, r->obuf, odone, cap, emit, user, err, errlen);
        if (rc)
            return rc;
    }
    if (!last)
        return JT_AUDIO_OK;
    for (;;) { /* flush: input NULL until nothing more comes */
        size_t odone = 0;
        soxr_error_t e = soxr_process(r->s, NULL, 0, NULL, r->obuf, JT_OBUF, &odone);
        if (e)
            return fail(err, errlen, JT_AUDIO_ERESAMPLE, "resample %d -> %d Hz: %s", r->in_rate, r->out_rate, e);
        if (!odone)
            break;
        int rc = deliver(r, r->obuf, odone, cap, emit, user, err, errlen);
        if (rc)
            return rc;
    }
    int rc = deliver(r, NULL, 0, cap, emit, user, err, errlen);
    if (rc)
        return rc;
    r->npend = 0; /* beyond the rounded length */
    /* soxr may deliver a sample less than the rounded length; pad with zero
     * so callers can rely on the documented length. */
    static const float zeros[256];
    while (r->out_total < cap) {
        unsigned long long k = cap - r->out_total;
        size_t take = k < 256 ? (size_t)k : 256;
        rc = emit(user, zeros, take, err, errlen);
        if (rc)
            return rc < 0 ? rc : JT_AUDIO_EWRITE;
        r->out_total += take;
    }
    return JT_AUDIO_OK;
}

typedef struct {
    float *y;
    size_t n, cap;
} membuf;

/* emit into a growing buffer */
static int emit_mem(void *user, const float *y, size_t n, char *err, size_t errlen)
{
    membuf *b = user;
    if (b->n + n > b->cap) {
        size_t nc = b->cap * 2 > b->n + n ? b->cap * 2 : b->n + n;
        float *t = realloc(b->y, nc * sizeof *t);
        if (!t)
            return fail(err, errlen, JT_AUDIO_ENOMEM, "out of memory (%zu samples)", nc);
        b->y = t;
        b->cap = nc;
    }
    memcpy(b->y + b->n, y, n * sizeof *y);
    b->n += n;
    return 0;
}

int jt_audio_resample(const float *in, size_t n, int in_rate, int out_rate, float **out,
                      size_t *out_n, char *err, size_t errlen)
{
    if (!out || !out_n || (n && !in) || in_rate <= 0 || out_rate <= 0)
        return fail(err, errlen, JT_AUDIO_EARG, "resample: bad arguments");
    *out = NULL;
    *out_n = 0;
    /* Rounded rather than truncated so that a round trip a -> b -> a keeps
     * the length whenever the rates allow it. */
    size_t m = (size_t)floor((double)n * out_rate / in_rate + 0.5);
    membuf b = {.y = malloc((m ? m : 1) * sizeof(float)), .n = 0, .cap = m ? m : 1};
    if (!b.y)
        return fail(err, errlen, JT_AUDIO_ENOMEM, "resample: out of memory (%zu samples)", m);
    jt_audio_resampler *r = NULL;
    int rc = jt_audio_resampler_open(&r, in_rate, out_rate, err, errlen);
    if (rc == JT_AUDIO_OK)
        rc = jt_audio_resampler_push(r, in, n, 1, emit_mem, &b, err, errlen);
    jt_audio_resampler_close(r);
    if (rc != JT_AUDIO_OK) {
        free(b.y);
        return rc;
    }
    *out = b.y;
    *out_n = b.n;
    return JT_AUDIO_OK;
}

/* --------------------------------------------------------------- reader */

#define JT_RCHUNK 8192 /* frames read from the file at a time */

struct jt_audio_reader {
    char *path;
    SNDFILE *sf;
    int ch, orig_rate, rate;
    long long expected;
    float *ibuf, *mono;
    size_t orig_frames, out_frames;
    jt_audio_resampler *rs;
    float *fifo; /* resampled samples not yet handed out: [head, head + nf) */
    size_t head, nf, fcap;
    int done, status;
};

static int emit_fifo(void *user, const float *y, size_t n, char *err, size_t errlen)
{
    jt_audio_reader *r = user;
    if (r->head) {
        memmove(r->fifo, r->fifo + r->head, r->nf * sizeof *r->fifo);
        r->head = 0;
    }
    if (r->nf + n > r->fcap) {
        size_t nc = (r->nf + n) * 2;
        float *t = realloc(r->fifo, nc * sizeof *t);
        if (!t)
            return fail(err, errlen, JT_AUDIO_ENOMEM, "out of memory");
        r->fifo = t;
        r->fcap = nc;
    }
    memcpy(r->fifo + r->nf, y, n * sizeof *y);
    r->nf += n;
    return 0;
}

void jt_audio_reader_close(jt_audio_reader *r)
{
    if (!r)
        return;
    if (r->sf)
        sf_close(r->sf);
    jt_audio_resampler_close(r->rs);
    free(r->path);
    free(r->ibuf);
    free(r->mono);
    free(r->fifo);
    free(r);
}

int jt_audio_reader_open(jt_audio_reader **rp, const char *path, int target_rate, char *err, size_t errlen)
{
    if (rp)
        *rp = NULL;
    if (!path || !rp || target_rate <= 0)
        return fail(err, errlen, JT_AUDIO_EARG, "%s: bad arguments to jt_audio_load", path ? path : "(null)");

    /* Check readability ourselves first: libsndfile reports a missing file
     * and a file in an unknown format with similar messages, and the two
     * need different fixes. */
    struct stat st;
    if (stat(path, &st) != 0)
        return fail(err, errlen, JT_AUDIO_EUNREADABLE, "%s: unreadable: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return fail(err, errlen, JT_AUDIO_EUNREADABLE, "%s: unreadable: is a directory", path);
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return fail(err, errlen, JT_AUDIO_EUNREADABLE, "%s: unreadable: %s", path, strerror(errno));
    fclose(probe);
    if (S_ISREG(st.st_mode) && st.st_size == 0)
        return fail(err, errlen, JT_AUDIO_EEMPTY, "%s: empty file (0 bytes)", path);

    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf)
        return fail(err, errlen, JT_AUDIO_ENOTAUDIO, "%s: not an audio file libsndfile reads (%s)", path,
                    sf_strerror(NULL));
    if (info.channels <= 0 || info.samplerate <= 0) {
        sf_close(sf);
        return fail(err, errlen, JT_AUDIO_ENOTAUDIO, "%s: not audio (%d channels, %d Hz)", path, info.channels,
                    info.samplerate);
    }
    jt_audio_reader *r = calloc(1, sizeof *r);
    if (!r) {
        sf_close(sf);
        return fail(err, errlen, JT_AUDIO_ENOMEM, "%s: out of memory", path);
    }
    r->sf = sf;
    r->ch = info.channels;
    r->orig_rate = info.samplerate;
    r->rate = target_rate;
    r->expected = info.frames > 0 ? (long long)info.frames : -1;
    r->path = strdup(path);
    r->ibuf = malloc((size_t)JT_RCHUNK * (size_t)r->ch * sizeof *r->ibuf);
    r->mono = malloc(JT_RCHUNK * sizeof *r->mono);
    if (!r->path || !r->ibuf || !r->mono) {
        jt_audio_reader_close(r);
        return fail(err, errlen, JT_AUDIO_ENOMEM, "%s: out of memory", path);
    }
    char rerr[256];
    int rc = jt_audio_resampler_open(&r->rs, r->orig_rate, target_rate, rerr, sizeof rerr);
    if (rc) {
        jt_audio_reader_close(r);
        return fail(err, errlen, rc, "%s: %s", path, rerr);
    }
    *rp = r;
    return JT_AUDIO_OK;
}

/* One block from the file through the resampler into the fifo. */
static int reader_step(jt_audio_reader *r, char *err, size_t errlen)
{
    /* Read until EOF instead of trusting the header's frame count: for MP3
     * and some Ogg streams it is an estimate. */
    sf_count_t got = sf_readf_float(r->sf, r->ibuf, (sf_count_t)JT_RCHUNK);
    char rerr[256];
    int rc;
    if (got > 0) {
        const int ch = r->ch;
        for (sf_count_t i = 0; i < got; i++) {
            /* Average in double so many channels do not lose precision. */
            double s = 0.0;
            for (int c = 0; c < ch; c++)
                s += r->ibuf[(size_t)i * ch + c];
            float v = (float)(s / ch);
            if (!isfinite(v))
                return fail(err, errlen, JT_AUDIO_ENONFINITE, "%s: non-finite sample (NaN or Inf) at frame %zu",
                            r->path, r->orig_frames + (size_t)i);
            r->mono[i] = v;
        }
        r->orig_frames += (size_t)got;
        rc = jt_audio_resampler_push(r->rs, r->mono, (size_t)got, 0, emit_fifo, r, rerr, sizeof rerr);
    } else {
        if (sf_error(r->sf) != SF_ERR_NO_ERROR)
            return fail(err, errlen, JT_AUDIO_EUNREADABLE, "%s: decode error after %zu frames: %s", r->path,
                        r->orig_frames, sf_strerror(r->sf));
        if (r->orig_frames == 0)
            return fail(err, errlen, JT_AUDIO_EEMPTY, "%s: empty: no audio frames", r->path);
        r->done = 1;
        rc = jt_audio_resampler_push(r->rs, NULL, 0, 1, emit_fifo, r, rerr, sizeof rerr);
    }
    if (rc)
        return fail(err, errlen, rc, "%s: %s", r->path, rerr);
    return JT_AUDIO_OK;
}

long long jt_audio_reader_read(jt_audio_reader *r, float *buf, size_t max, char *err, size_t errlen)
{
    if (!r || (max && !buf))
        return fail(err, errlen, JT_AUDIO_EARG, "bad arguments to jt_audio_reader_read");
    if (r->status)
        return fail(err, errlen, r->status, "%s: read after an error", r->path);
    while (r->nf == 0 && !r->done) {
        int rc = reader_step(r, err, errlen);
        if (rc) {
            r->status = rc;
            return rc;
        }
    }
    size_t take = r->nf < max ? r->nf : max;
    memcpy(buf, r->fifo + r->head, take * sizeof *buf);
    r->head += take;
    r->nf -= take;
    r->out_frames += take;
    return (long long)take;
}

int jt_audio_reader_orig_rate(const jt_audio_reader *r) { return r->orig_rate; }
int jt_audio_reader_orig_channels(const jt_audio_reader *r) { return r->ch; }
size_t jt_audio_reader_orig_frames(const jt_audio_reader *r) { return r->orig_frames; }
long long jt_audio_reader_expected_frames(const jt_audio_reader *r) { return r->expected; }
size_t jt_audio_reader_frames(const jt_audio_reader *r) { return r->out_frames; }

int jt_audio_load(const char *path, int target_rate, jt_audio *out, char *err, size_t errlen)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!path || !out || target_rate <= 0)
        return fail(err, errlen, JT_AUDIO_EARG, "%s: bad arguments to jt_audio_load", path ? path : "(null)");
    jt_audio_reader *r = NULL;
    int rc = jt_audio_reader_open(&r, path, target_rate, err, errlen);
    if (rc)
        return rc;
    size_t cap = r->expected > 0 ? (size_t)((double)r->expected * target_rate / r->orig_rate) + 64 : 1u << 16;
    float *y = malloc(cap * sizeof *y);
    size_t n = 0;
    if (!y) {
        jt_audio_reader_close(r);
        return fail(err, errlen, JT_AUDIO_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            float *t = realloc(y, 2 * cap * sizeof *t);
            if (!t) {
                free(y);
                jt_audio_reader_close(r);
                return fail(err, errlen, JT_AUDIO_ENOMEM, "%s: out of memory", path);
            }
            y = t;
            cap *= 2;
        }
        long long got = jt_audio_reader_read(r, y + n, cap - n, err, errlen);
        if (got < 0) {
            free(y);
            jt_audio_reader_close(r);
            return (int)got;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    out->samples = y;
    out->frames = n;
    out->rate = target_rate;
    out->orig_rate = r->orig_rate;
    out->orig_channels = r->ch;
    out->orig_frames = r->orig_frames;
    jt_audio_reader_close(r);
    return JT_AUDIO_OK;
}

/* --------------------------------------------------------------- writer */

struct jt_audio_writer {
    char *path, *tmp;
    SNDFILE *sf;
    size_t written;
};

int jt_audio_writer_open(jt_audio_writer **wp, const char *path, int rate, jt_audio_format fmt, char *err,
                         size_t errlen)
{
    if (wp)
        *wp = NULL;
    if (!wp || !path || rate <= 0 || (fmt != JT_AUDIO_PCM16 && fmt != JT_AUDIO_FLOAT32))
        return fail(err, errlen, JT_AUDIO_EARG, "%s: bad arguments to jt_audio_write", path ? path : "(null)");
    jt_audio_writer *w = calloc(1, sizeof *w);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (w)
        w->path = strdup(path);
    if (!w || !tmp || !w->path) {
        if (w)
            free(w->path);
        free(w);
        free(tmp);
        return fail(err, errlen, JT_AUDIO_ENOMEM, "%s: out of memory", path);
    }
    /* The temporary lives next to the target so rename() stays within one
     * file system and is atomic. */
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        free(w->path);
        free(w);
        return fail(err, errlen, JT_AUDIO_EWRITE, "%s: cannot create temporary file: %s", path, strerror(e));
    }
    /* mkstemp makes the file 0600; a written audio file should get the
     * usual permissions, filtered by the umask. */
    mode_t um = umask(0);
    umask(um);
    (void)fchmod(fd, 0666 & ~um);

    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | (fmt == JT_AUDIO_PCM16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT);
    SNDFILE *sf = sf_open_fd(fd, SFM_WRITE, &info, SF_TRUE);
    if (!sf) {
        close(fd);
        unlink(tmp);
        free(tmp);
        free(w->path);
        free(w);
        return fail(err, errlen, JT_AUDIO_EWRITE, "%s: cannot write WAV: %s", path, sf_strerror(NULL));
    }
    /* Without clipping, libsndfile wraps out-of-range floats around when it
     * converts to 16-bit, turning a small overshoot into a full-scale click. */
    if (fmt == JT_AUDIO_PCM16)
        sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    w->tmp = tmp;
    w->sf = sf;
    *wp = w;
    return JT_AUDIO_OK;
}

int jt_audio_writer_write(jt_audio_writer *w, const float *x, size_t n, char *err, size_t errlen)
{
    if (!w || (n && !x))
        return fail(err, errlen, JT_AUDIO_EARG, "bad arguments to jt_audio_writer_write");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return fail(err, errlen, JT_AUDIO_ENONFINITE, "%s: refusing to write non-finite sample at frame %zu",
                        w->path, w->written + i);
    if (n && sf_writef_float(w->sf, x, (sf_count_t)n) != (sf_count_t)n)
        return fail(err, errlen, JT_AUDIO_EWRITE, "%s: write failed: %s", w->path, sf_strerror(w->sf));
    w->written += n;
    return JT_AUDIO_OK;
}

static void writer_free(jt_audio_writer *w)
{
    free(w->tmp);
    free(w->path);
    free(w);
}

void jt_audio_writer_abort(jt_audio_writer *w)
{
    if (!w)
        return;
    sf_close(w->sf);
    unlink(w->tmp);
    writer_free(w);
}

int jt_audio_writer_commit(jt_audio_writer *w, char *err, size_t errlen)
{
    if (!w)
        return fail(err, errlen, JT_AUDIO_EARG, "bad arguments to jt_audio_writer_commit");
    char smsg[256];
    snprintf(smsg, sizeof smsg, "%s", sf_strerror(w->sf));
    int rc = JT_AUDIO_OK;
    if (sf_close(w->sf) != 0) {
        unlink(w->tmp);
        rc = fail(err, errlen, JT_AUDIO_EWRITE, "%s: write failed: %s", w->path, smsg);
    } else if (rename(w->tmp, w->path) != 0) {
        int e = errno;
        unlink(w->tmp);
        rc = fail(err, errlen, JT_AUDIO_EWRITE, "%s: cannot rename temporary file: %s", w->path, strerror(e));
    }
    writer_free(w);
    return rc;
}

int jt_audio_write(const char *path, const float *x, size_t n, int rate, jt_audio_format fmt,
                   char *err, size_t errlen)
{
    if (!path || (n && !x) || rate <= 0 || (fmt != JT_AUDIO_PCM16 && fmt != JT_AUDIO_FLOAT32))
        return fail(err, errlen, JT_AUDIO_EARG, "%s: bad arguments to jt_audio_write",
                    path ? path : "(null)");
    /* checked before anything is created */
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return fail(err, errlen, JT_AUDIO_ENONFINITE,
                        "%s: refusing to write non-finite sample at frame %zu", path, i);
    jt_audio_writer *w = NULL;
    int rc = jt_audio_writer_open(&w, path, rate, fmt, err, errlen);
    if (rc)
        return rc;
    rc = jt_audio_writer_write(w, x, n, err, errlen);
    if (rc) {
        jt_audio_writer_abort(w);
        return rc;
    }
    return jt_audio_writer_commit(w, err, errlen);
}
