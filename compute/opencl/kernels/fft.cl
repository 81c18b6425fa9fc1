/* fft.cl: the real DFT (rdft) and its transpose (rdft_adjoint) of rows of
 * length n = 2m, a power of two, one work-group per row: the row is packed
 * into m complex values in local memory (2m floats, the launch's local
 * argument), transformed there by a radix-2 FFT of length m, and split
 * into its m + 1 bins, as compute/cpu/k_fft.c does (its comments derive
 * the packing).  tw is the graph's twiddle table: cos then sin of
 * 2 pi k / n, k = 0..m.  bits = log2(m).  The barriers sit in loops whose
 * bounds every item shares, never under a branch (PoCL 3.1: see
 * reduce_cols). */

uint bit_reverse(uint q, uint bits)
{
    uint r = 0;
    for (uint b = 0; b < bits; b++)
        r |= ((q >> b) & 1u) << (bits - 1 - b);
    return r;
}

/* In place over re and im, bit-reversed input, exp(sign 2 pi i j k / m). */
void fft_local(__local float *re, __local float *im, uint m, uint n, __global const float *tw, float sign)
{
    uint lid = get_local_id(0), ls = get_local_size(0);
    for (uint h = 1; h < m; h *= 2) {
        uint step = n / (2 * h);
        for (uint b = lid; b < m / 2; b += ls) {
            uint q = b % h, i0 = (b / h) * 2 * h + q, i1 = i0 + h;
            float wr = tw[q * step], wi = sign * tw[m + 1 + q * step];
            float xr = re[i1], xi = im[i1];
            float tr = xr * wr - xi * wi, ti = xr * wi + xi * wr;
            float ur = re[i0], ui = im[i0];
            re[i0] = ur + tr;
            im[i0] = ui + ti;
            re[i1] = ur - tr;
            im[i1] = ui - ti;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

__kernel void rdft(__global const float *x, ulong xoff, __global const float *tw, ulong twoff, __global float *y,
                   ulong yoff, uint n, uint bits, __local float *buf)
{
    uint m = n / 2, bins = m + 1, lid = get_local_id(0), ls = get_local_size(0);
    ulong row = get_group_id(0);
    __local float *re = buf, *im = buf + m;
    x += xoff + row * n;
    y += yoff + row * 2 * bins;
    tw += twoff;
    for (uint q = lid; q < m; q += ls) {
        uint r = bit_reverse(q, bits);
        re[r] = x[2 * q];
        im[r] = x[2 * q + 1];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    fft_local(re, im, m, n, tw, -1.0f);
    for (uint k = lid; k <= m; k += ls) {
        uint a = k == m ? 0 : k, b = k == 0 ? 0 : m - k;
        float zr = re[a], zi = im[a], cr = re[b], ci = -im[b];
        float er = (zr + cr) * 0.5f, ei = (zi + ci) * 0.5f;
        float odr = (zi - ci) * 0.5f, odi = (cr - zr) * 0.5f;
        float wc = tw[k], ws = tw[m + 1 + k];
        y[k] = er + odr * wc + odi * ws;
        y[bins + k] = ei + odi * wc - odr * ws;
    }
}

__kernel void rdft_adjoint(__global const float *y, ulong yoff, __global const float *tw, ulong twoff,
                           __global float *x, ulong xoff, uint n, uint bits, __local float *buf)
{
    uint m = n / 2, bins = m + 1, lid = get_local_id(0), ls = get_local_size(0);
    ulong row = get_group_id(0);
    __local float *re = buf, *im = buf + m;
    y += yoff + row * 2 * bins;
    x += xoff + row * n;
    tw += twoff;
    for (uint k = lid; k < m; k += ls) {
        uint c = m - k; /* W[k + m] = conj W[m - k] */
        float hk = k == 0 ? 1.0f : 0.5f, hc = c == m ? 1.0f : 0.5f;
        float pr = y[k] * hk, pi = k == 0 ? 0.0f : y[bins + k] * 0.5f;
        float qr = y[c] * hc, qi = c == m ? 0.0f : -y[bins + c] * 0.5f;
        float wc = tw[k], ws = tw[m + 1 + k];
        float dr = pr - qr, di = pi - qi;
        float odr = dr * wc - di * ws, odi = di * wc + dr * ws;
        uint r = bit_reverse(k, bits);
        re[r] = pr + qr - odi;
        im[r] = pi + qi + odr;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    fft_local(re, im, m, n, tw, 1.0f);
    for (uint q = lid; q < m; q += ls) {
        x[2 * q] = re[q];
        x[2 * q + 1] = im[q];
    }
}
