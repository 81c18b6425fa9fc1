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
    float *y = malloc((m ? m : 1) * sizeof *y);
    if (!y)
        return fail(err, errlen, JT_AUDIO_ENOMEM, "resample: out of memory (%zu samples)", m);
    if (in_rate == out_rate) {
        if (n)
            memcpy(y, in, n * sizeof *y);
        *out = y;
        *out_n = n;
        return JT_AUDIO_OK;
    }
    if (m) {
        /* soxr_oneshot flushes the filter and removes its delay, which is
         * what keeps the time alignment stated in audio.h. */
        soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
        size_t idone = 0, odone = 0;
        soxr_error_t e =
            soxr_oneshot(in_rate, out_rate, 1, in, n, &idone, y, m, &odone, &io, &q, NULL);
        if (e) {
            free(y);
            return fail(err, errlen, JT_AUDIO_ERESAMPLE, "resample %d -> %d Hz: %s", in_rate,
                        out_rate, e);
        }
        /* soxr may deliver a sample less than the rounded length; pad with
         * zero so callers can rely on the documented length. */
        for (size_t i = odone; i < m; i++)
            y[i] = 0.0f;
    }
    *out = y;
    *out_n = m;
    return JT_AUDIO_OK;
}

int jt_audio_load(const char *path, int target_rate, jt_audio *out, char *err, size_t errlen)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!path || !out || target_rate <= 0)
        return fail(err, errlen, JT_AUDIO_EARG, "%s: bad arguments to jt_audio_load",
                    path ? path : "(null)");

    /* Check readability ourselves first: libsndfile reports a missing file
     * and a file in an unknown format with similar messages, and the two
     * need different fixes. */
    struct stat st;
    if (stat(path, &st) != 0)
        return fail(err, errlen, JT_AUDIO_EUNREADABLE, "%s: unreadable: %s", path,
                    strerror(errno));
    if (S_ISDIR(st.st_mode))
        return fail(err, errlen, JT_AUDIO_EUNREADABLE, "%s: unreadable: is a directory", path);
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return fail(err, errlen, JT_AUDIO_EUNREADABLE, "%s: unreadable: %s", path,
                    strerror(errno));
    fclose(probe);
    if (S_ISREG(st.st_mode) && st.st_size == 0)
        return fail(err, errlen, JT_AUDIO_EEMPTY, "%s: empty file (0 bytes)", path);

    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf)
        return fail(err, errlen, JT_AUDIO_ENOTAUDIO, "%s: not an audio file libsndfile reads (%s)",
                    path, sf_strerror(NULL));
    if (info.channels <= 0 || info.samplerate <= 0) {
        sf_close(sf);
        return fail(err, errlen, JT_AUDIO_ENOTAUDIO, "%s: not audio (%d channels, %d Hz)", path,
                    info.channels, info.samplerate);
    }

    /* Read until EOF instead of trusting info.frames: for MP3 and some Ogg
     * streams it is an estimate. */
    const int ch = info.channels;
    const size_t chunk = 8192;
    float *buf = malloc(chunk * (size_t)ch * sizeof *buf);
    size_t cap = info.frames > 0 ? (size_t)info.frames + 1 : 1u << 16;
    float *mono = malloc(cap * sizeof *mono);
    size_t n = 0;
    if (!buf || !mono) {
        free(buf);
        free(mono);
        sf_close(sf);
        return fail(err, errlen, JT_AUDIO_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        sf_count_t got = sf_readf_float(sf, buf, (sf_count_t)chunk);
        if (got <= 0)
            break;
        if (n + (size_t)got > cap) {
            size_t ncap = cap * 2 > n + (size_t)got ? cap * 2 : n + (size_t)got;
            float *t = realloc(mono, ncap * sizeof *mono);
            if (!t) {
                free(buf);
                free(mono);
                sf_close(sf);
                return fail(err, errlen, JT_AUDIO_ENOMEM, "%s: out of memory", path);
            }
            mono = t;
            cap = ncap;
        }
        for (sf_count_t i = 0; i < got; i++) {
            /* Average in double so many channels do not lose precision. */
            double s = 0.0;
            for (int c = 0; c < ch; c++)
                s += buf[(size_t)i * ch + c];
            mono[n + (size_t)i] = (float)(s / ch);
        }
        n += (size_t)got;
    }
    int serr = sf_error(sf);
    char smsg[256];
    snprintf(smsg, sizeof smsg, "%s", sf_strerror(sf));
    sf_close(sf);
    free(buf);
    if (serr != SF_ERR_NO_ERROR) {
        free(mono);
        return fail(err, errlen, JT_AUDIO_EUNREADABLE, "%s: decode error after %zu frames: %s",
                    path, n, smsg);
    }
    if (n == 0) {
        free(mono);
        return fail(err, errlen, JT_AUDIO_EEMPTY, "%s: empty: no audio frames", path);
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(mono[i])) {
            free(mono);
            return fail(err, errlen, JT_AUDIO_ENONFINITE,
                        "%s: non-finite sample (NaN or Inf) at frame %zu", path, i);
        }
    }

    float *res = NULL;
    size_t m = 0;
    char rerr[256];
    int rc = jt_audio_resample(mono, n, info.samplerate, target_rate, &res, &m, rerr, sizeof rerr);
    free(mono);
    if (rc != JT_AUDIO_OK)
        return fail(err, errlen, rc, "%s: %s", path, rerr);
    out->samples = res;
    out->frames = m;
    out->rate = target_rate;
    out->orig_rate = info.samplerate;
    out->orig_channels = ch;
    out->orig_frames = n;
    return JT_AUDIO_OK;
}

int jt_audio_write(const char *path, const float *x, size_t n, int rate, jt_audio_format fmt,
                   char *err, size_t errlen)
{
    if (!path || (n && !x) || rate <= 0 || (fmt != JT_AUDIO_PCM16 && fmt != JT_AUDIO_FLOAT32))
        return fail(err, errlen, JT_AUDIO_EARG, "%s: bad arguments to jt_audio_write",
                    path ? path : "(null)");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return fail(err, errlen, JT_AUDIO_ENONFINITE,
                        "%s: refusing to write non-finite sample at frame %zu", path, i);

    /* The temporary lives next to the target so rename() stays within one
     * file system and is atomic. */
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return fail(err, errlen, JT_AUDIO_ENOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return fail(err, errlen, JT_AUDIO_EWRITE, "%s: cannot create temporary file: %s", path,
                    strerror(e));
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
        return fail(err, errlen, JT_AUDIO_EWRITE, "%s: cannot write WAV: %s", path,
                    sf_strerror(NULL));
    }
    /* Without clipping, libsndfile wraps out-of-range floats around when it
     * converts to 16-bit, turning a small overshoot into a full-scale click. */
    if (fmt == JT_AUDIO_PCM16)
        sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    sf_count_t wrote = n ? sf_writef_float(sf, x, (sf_count_t)n) : 0;
    int bad = wrote != (sf_count_t)n;
    char smsg[256];
    snprintf(smsg, sizeof smsg, "%s", sf_strerror(sf));
    if (sf_close(sf) != 0)
        bad = 1;
    if (bad) {
        unlink(tmp);
        free(tmp);
        return fail(err, errlen, JT_AUDIO_EWRITE, "%s: write failed: %s", path, smsg);
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return fail(err, errlen, JT_AUDIO_EWRITE, "%s: cannot rename temporary file: %s", path,
                    strerror(e));
    }
    free(tmp);
    return JT_AUDIO_OK;
}
