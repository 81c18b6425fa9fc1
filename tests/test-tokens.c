/* test-tokens.c: FSQ mixed-radix packing and the token file formats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "code_usage.h"
#include "fsq.h"
#include "tap.h"
#include "tokens.h"
#include "jc.h"

static char dir[256];

static void test_packing(void)
{
    jt_config c;
    jt_config_preset("small", &c);
    jt_fsq_layout f;
    jt_fsq_layout_init(&f, &c);
    tap_ok(f.n_groups == 19 && f.radix[0] == 16384 && f.radix[18] == 16 && f.group_start[18] == 126,
           "128 dims x 4 levels -> 19 tokens: 18 of radix 16384 and one of 16");
    tap_ok(jt_fsq_bits_per_frame(&f) == 256.0, "256 bits per frame (640 bit/s at 2.5 frames/s)");
    int digits[128] = {2, 1, 3, 0, 2, 1, 3}, back[128];
    uint16_t tok[19];
    jt_fsq_pack(&f, digits, tok);
    tap_ok(tok[0] == 10023, "paper example [2,1,3,0,2,1,3] packs to 10023 (got %u)", tok[0]);
    jc_rng r;
    jc_rng_seed(&r, 1);
    int all_ok = 1;
    for (int trial = 0; trial < 2000 && all_ok; trial++) {
        for (int d = 0; d < 128; d++)
            digits[d] = trial == 0 ? 0 : trial == 1 ? 3 : (int)jc_rng_below(&r, 4);
        all_ok = jt_fsq_pack(&f, digits, tok) == 0 && jt_fsq_unpack(&f, tok, back) == 0 &&
                 memcmp(digits, back, sizeof digits) == 0;
        for (int k = 0; k < 19 && all_ok; k++)
            all_ok = tok[k] < f.radix[k];
    }
    tap_ok(all_ok, "unpack(pack(x)) == x for all-zero, all-max and 1998 random frames; tokens within radix");
    tok[18] = 16;
    tap_ok(jt_fsq_unpack(&f, tok, back) == -1, "a token out of its radix's range is rejected");
    digits[5] = 4;
    tap_ok(jt_fsq_pack(&f, digits, tok) == -1, "a digit out of its level range is rejected");
    /* mixed levels: 8,5,5,5 repeated -> groups while the product <= 16384 */
    for (int d = 0; d < 128; d++)
        c.fsq_levels[d] = d % 4 == 0 ? 8 : 5;
    jt_fsq_layout_init(&f, &c);
    int ok = 1;
    for (int k = 0; k < f.n_groups; k++) {
        int64_t prod = 1;
        for (int d = f.group_start[k]; d < f.group_start[k + 1]; d++)
            prod *= f.levels[d];
        ok &= prod == f.radix[k] && prod <= 16384;
        if (k + 1 < f.n_groups)
            ok &= prod * f.levels[f.group_start[k + 1]] > 16384; /* greedy: the next dim would not fit */
    }
    for (int d = 0; d < 128; d++)
        digits[d] = (int)jc_rng_below(&r, c.fsq_levels[d]);
    uint16_t tk[64];
    ok &= jt_fsq_pack(&f, digits, tk) == 0 && jt_fsq_unpack(&f, tk, back) == 0 && !memcmp(digits, back, sizeof digits);
    tap_ok(ok, "levels 8,5,5,5: greedy groups within 16384 (%d tokens), exact round trip", f.n_groups);
}

static int write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fwrite(data, 1, n, f);
    return fclose(f);
}

static void test_files(void)
{
    jt_tokens t = {.sample_rate = 44100, .samples = 123457, .frames = 7, .per_frame = 19};
    for (int i = 0; i < 16; i++)
        t.model_id[i] = (uint8_t)(i * 17);
    for (int k = 0; k < 19; k++)
        t.radix[k] = k < 18 ? 16384 : 16;
    uint16_t toks[7 * 19];
    for (int i = 0; i < 7 * 19; i++)
        toks[i] = (uint16_t)((i * 977) % t.radix[i % 19]);
    t.tokens = toks;
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/a.jtok", dir);
    tap_ok(jt_tokens_write(path, &t, err, sizeof err) == 0, "write a token file (%s)", err);
    jt_tokens u;
    int r = jt_tokens_read(path, &u, err, sizeof err);
    tap_ok(r == 0 && u.frames == 7 && u.samples == 123457 && u.sample_rate == 44100 &&
               !memcmp(u.model_id, t.model_id, 16) && !memcmp(u.tokens, toks, sizeof toks) && u.radix[18] == 16,
           "read it back exactly (%s)", r ? err : "ok");
    jt_tokens_free(&u);
    struct stat st;
    stat(path, &st);
    tap_ok(st.st_size == 44 + 2 * 19 + 2 * 7 * 19 + 4, "size = header + radices + tokens + CRC (%lld bytes)",
           (long long)st.st_size);

    FILE *f = fopen(path, "rb");
    unsigned char buf[2048];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.jtok", dir);
    struct {
        const char *what;
        size_t len;
        int flip; /* byte to change, -1 none */
        const char *expect;
    } cases[] = {
        {"truncated", n - 5, -1, "truncated"}, {"flipped token byte", n, 100, "checksum"},
        {"bad magic", n, 0, "magic"},           {"empty", 0, -1, "short"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char copy[2048];
        memcpy(copy, buf, n);
        if (cases[i].flip >= 0)
            copy[cases[i].flip] ^= 0x40;
        write_file(bad, copy, cases[i].len);
        int rr = jt_tokens_read(bad, &u, err, sizeof err);
        tap_ok(rr == -1 && strstr(err, cases[i].expect) && strstr(err, bad), "reject %s: %s", cases[i].what, err);
    }
    /* an out-of-range token with a valid checksum */
    toks[18] = 16;
    jt_tokens_write(bad, &t, err, sizeof err);
    toks[18] = 0;
    int rr = jt_tokens_read(bad, &u, err, sizeof err);
    tap_ok(rr == -1 && strstr(err, "out of range"), "reject an out-of-range token: %s", err);
    rr = jt_tokens_read("/nonexistent/x.jtok", &u, err, sizeof err);
    tap_ok(rr == -1 && strstr(err, "/nonexistent/x.jtok"), "missing file: %s", err);

    snprintf(path, sizeof path, "%s/a.npy", dir);
    tap_ok(jt_tokens_write_npy(path, &t, err, sizeof err) == 0, "write .npy");
    f = fopen(path, "rb");
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    unsigned hl = buf[8] | buf[9] << 8;
    int header_ok = !memcmp(buf, "\x93NUMPY\x01\x00", 8) && (10 + hl) % 64 == 0 && buf[10 + hl - 1] == '\n' &&
                    strstr((char *)buf + 10, "'descr': '<u2'") && strstr((char *)buf + 10, "'shape': (7, 19)");
    uint16_t first = (uint16_t)(buf[10 + hl] | buf[11 + hl] << 8), second = (uint16_t)(buf[12 + hl] | buf[13 + hl] << 8);
    tap_ok(header_ok && n == 10 + hl + 2 * 7 * 19 && first == toks[0] && second == toks[1],
           ".npy: v1.0 header, '<u2', shape (7, 19), 64-byte aligned, data row-major");
    /* numpy itself, when this machine has it */
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import numpy as n; a = n.load('%s'); import sys; "
                 "sys.exit(0 if a.shape == (7, 19) and a.dtype == n.uint16 and a[0, 1] == %u and a[6, 18] == %u else 1)\"",
                 path, toks[1], toks[7 * 19 - 1]);
        tap_ok(system(cmd) == 0, "numpy.load reads the .npy with the right shape, dtype and values");
    } else {
        tap_diag("numpy not installed: .npy checked byte by byte only");
    }
}


/* Frames of 128 digits -> tokens, for the code-usage cases. */
static void pack_frames(const jt_fsq_layout *f, int frames, int digits[][128], uint16_t *tok)
{
    for (int t = 0; t < frames; t++)
        jt_fsq_pack(f, digits[t], tok + t * 19);
}

static int near(double a, double b, double tol)
{
    return a > b - tol && a < b + tol;
}

static void test_code_usage(void)
{
    jt_config c;
    jt_config_preset("small", &c);
    jt_code_usage u;
    jt_code_usage_report r;
    static int d[4096][128];
    static uint16_t tok[4096 * 19];

    /* constant codes carry nothing */
    memset(d, 0, sizeof d);
    for (int t = 0; t < 50; t++)
        d[t][5] = 2;
    tap_ok(jt_code_usage_init(&u, &c) == 0, "code usage: init for small");
    pack_frames(&u.layout, 50, d, tok);
    jt_code_usage_add(&u, tok, 50);
    jt_code_usage_get(&u, &r);
    tap_ok(r.frames == 50 && r.entropy_bits == 0 && r.new_bits == 0 && r.change == 0 && r.nominal_bits == 256,
           "constant codes: entropy %g, new %g, change %g of 256 bits", r.entropy_bits, r.new_bits, r.change);
    jt_code_usage_free(&u);

    /* one dim alternating 0,3,0,3: 1 bit of entropy, none new (predictable) */
    jt_code_usage_init(&u, &c);
    for (int t = 0; t < 50; t++)
        d[t][7] = t % 2 ? 3 : 0;
    pack_frames(&u.layout, 50, d, tok);
    jt_code_usage_add(&u, tok, 50);
    jt_code_usage_get(&u, &r);
    tap_ok(near(r.entropy_bits, 1, 1e-12) && r.new_bits == 0 && near(r.change, 1.0 / 128, 1e-12),
           "one alternating dim: entropy %g (1), new %g (0), change %g (1/128)", r.entropy_bits, r.new_bits,
           r.change);
    jt_code_usage_free(&u);

    /* two files, each constant but different: the pair across files does not count as a change */
    jt_code_usage_init(&u, &c);
    memset(d, 0, sizeof d);
    pack_frames(&u.layout, 10, d, tok);
    jt_code_usage_add(&u, tok, 10);
    for (int k = 0; k < 128; k++)
        d[0][k] = 1;
    for (int t = 1; t < 10; t++)
        memcpy(d[t], d[0], sizeof d[0]);
    pack_frames(&u.layout, 10, d, tok);
    jt_code_usage_add(&u, tok, 10);
    jt_code_usage_get(&u, &r);
    tap_ok(near(r.entropy_bits, 128, 1e-9) && r.new_bits == 0 && r.change == 0,
           "two constant files: entropy %g (128: one bit a dim), new %g, change %g (no pair across files)",
           r.entropy_bits, r.new_bits, r.change);
    tok[3] = 16384;
    tap_ok(jt_code_usage_add(&u, tok, 10) == -1 && u.frames == 20, "an out-of-range token: -1, nothing counted");
    jt_code_usage_free(&u);

    /* independent uniform digits: about all 256 bits, all new, 3/4 change */
    jc_rng g;
    jc_rng_seed(&g, 3);
    for (int t = 0; t < 4096; t++)
        for (int k = 0; k < 128; k++)
            d[t][k] = (int)jc_rng_below(&g, 4);
    jt_code_usage_init(&u, &c);
    pack_frames(&u.layout, 4096, d, tok);
    jt_code_usage_add(&u, tok, 4096);
    jt_code_usage_get(&u, &r);
    tap_ok(near(r.entropy_bits, 256, 0.2) && near(r.new_bits, 256, 1.5) && near(r.change, 0.75, 0.005),
           "uniform random digits: entropy %.2f, new %.2f (about 256), change %.4f (0.75)", r.entropy_bits,
           r.new_bits, r.change);
    jt_code_usage_free(&u);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/jt-tokens.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    test_packing();
    test_files();
    test_code_usage();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
    return tap_done();
}
