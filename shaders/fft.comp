#version 450
// fft.comp: the real DFT (ADJOINT 0) and its transpose (ADJOINT 1) of rows
// of length n = 2m, a power of two up to 2 * MAX_M, a workgroup per row:
// the row is packed into m complex values in shared memory, transformed
// there by a radix-2 FFT of length m, and split into its m + 1 bins (or the
// reverse for the transpose), the steps of compute/cpu/k_fft.c, whose
// comments derive the packing.  tw is the graph's twiddle table: cos then
// sin of 2 pi k / n, k = 0..m; bits = log2(m).  Every loop here runs under
// 1024 / LS iterations, far inside lavapipe's loop limit (common.glsl).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 64;
layout(constant_id = 1) const uint ADJOINT = 0;

layout(push_constant) uniform Params {
    FBuf x;  // rows of n (RDFT) or n + 2 (transpose)
    FBuf tw;
    FBuf y;
    uint rows;
    uint n;
    uint bits;
} p;

const uint MAX_M = 2048; // JC_RDFT_GPU_MAX_N / 2: 16 KiB of shared memory
shared float re[MAX_M], im[MAX_M];

uint reversed(uint q) { return p.bits == 0 ? 0 : bitfieldReverse(q) >> (32 - p.bits); }

// In place over re and im, bit-reversed input, exp(sign 2 pi i j k / m).
void fft(uint m, float sign)
{
    for (uint h = 1; h < m; h *= 2) {
        uint step = p.n / (2 * h);
        for (uint b = gl_LocalInvocationID.x; b < m / 2; b += LS) {
            uint q = b % h, i0 = (b / h) * 2 * h + q, i1 = i0 + h;
            float wr = p.tw.v[q * step], wi = sign * p.tw.v[m + 1 + q * step];
            float xr = re[i1], xi = im[i1];
            float tr = xr * wr - xi * wi, ti = xr * wi + xi * wr;
            float ur = re[i0], ui = im[i0];
            re[i0] = ur + tr;
            im[i0] = ui + ti;
            re[i1] = ur - tr;
            im[i1] = ui - ti;
        }
        barrier();
    }
}

void main()
{
    uint row = flat_group();
    if (row >= p.rows) // whole workgroups only
        return;
    uint n = p.n, m = n / 2, bins = m + 1, lid = gl_LocalInvocationID.x;
    if (ADJOINT == 0) {
        uint xo = row * n, yo = row * 2 * bins;
        for (uint q = lid; q < m; q += LS) {
            re[reversed(q)] = p.x.v[xo + 2 * q];
            im[reversed(q)] = p.x.v[xo + 2 * q + 1];
        }
        barrier();
        fft(m, -1.0);
        for (uint k = lid; k <= m; k += LS) {
            uint a = k == m ? 0 : k, b = k == 0 ? 0 : m - k;
            float zr = re[a], zi = im[a], cr = re[b], ci = -im[b];
            float er = (zr + cr) * 0.5, ei = (zi + ci) * 0.5;
            float odr = (zi - ci) * 0.5, odi = (cr - zr) * 0.5;
            float wc = p.tw.v[k], ws = p.tw.v[m + 1 + k];
            p.y.v[yo + k] = er + odr * wc + odi * ws;
            p.y.v[yo + bins + k] = ei + odi * wc - odr * ws;
        }
    } else {
        uint xo = row * 2 * bins, yo = row * n;
        for (uint k = lid; k < m; k += LS) {
            uint c = m - k; // W[k + m] = conj W[m - k]
            float hk = k == 0 ? 1.0 : 0.5, hc = c == m ? 1.0 : 0.5;
            float pr = p.x.v[xo + k] * hk, pi = k == 0 ? 0.0 : p.x.v[xo + bins + k] * 0.5;
            float qr = p.x.v[xo + c] * hc, qi = c == m ? 0.0 : -p.x.v[xo + bins + c] * 0.5;
            float wc = p.tw.v[k], ws = p.tw.v[m + 1 + k];
            float dr = pr - qr, di = pi - qi;
            float odr = dr * wc - di * ws, odi = di * wc + dr * ws;
            re[reversed(k)] = pr + qr - odi;
            im[reversed(k)] = pi + qi + odr;
        }
        barrier();
        fft(m, 1.0);
        for (uint q = lid; q < m; q += LS) {
            p.y.v[yo + 2 * q] = re[q];
            p.y.v[yo + 2 * q + 1] = im[q];
        }
    }
}
