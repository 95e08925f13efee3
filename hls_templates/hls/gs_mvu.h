// gs_mvu.h -- streaming matrix-vector unit: out = W . x for one input vector a call.
//
// W is MH x MW. PE rows and SIMD columns are computed per cycle: SF = MW/SIMD
// input beats make one vector, NF = MH/PE output beats make one result; one
// call takes NF*SF pipelined iterations (II=1). The SF input beats are read
// during fold 0 and kept in a buffer that folds 1..NF-1 replay.
//
// weights[p][k][n*SF + s] = W[n*PE + p][s*SIMD + k], stored as the integer
// value of the weight (bipolar: the raw bit, 1 = +1). The array is partitioned
// completely over p and k, so every PE x SIMD lane owns a ROM of NF*SF words.
//
// Arithmetic: operands decoded to integers (see gs_stream.h), products summed
// into an ACC_BITS-bit two's complement accumulator. The IR guarantees that
// every result fits ACC_BITS; partial sums wrap modulo 2^ACC_BITS, so the
// final sum is exact even if a partial sum does not fit.
//   bipolar x bipolar : XNOR (+1 when the bits are equal, -1 otherwise)
//   bipolar x integer : conditional negation, no multiplier
//   integer x integer : multiplication
//
// Streams: input beat s holds x[s*SIMD + k] in lane k (IN_BITS each); output
// beat n holds out[n*PE + p] in lane p (ACC_BITS, signed).
#ifndef GS_MVU_H
#define GS_MVU_H

#include "gs_stream.h"

template <int IN_BITS, int IN_SIGNED, int IN_BIPOLAR, int W_BITS, int W_SIGNED, int W_BIPOLAR, typename WT>
ap_int<IN_BITS + W_BITS + 2> gs_mul(ap_uint<IN_BITS> xr, WT wr) {
#pragma HLS INLINE
    typedef ap_int<IN_BITS + W_BITS + 2> prod_t;
    typename gs_elem<IN_BITS, IN_SIGNED, IN_BIPOLAR>::value_t x =
        gs_elem<IN_BITS, IN_SIGNED, IN_BIPOLAR>::decode(xr);
    if (W_BIPOLAR) {
        bool wp = (wr != 0);
        if (IN_BIPOLAR) {
            return (xr[0] == wp) ? prod_t(1) : prod_t(-1);
        }
        return wp ? prod_t(x) : prod_t(-x);
    }
    ap_int<W_BITS + 1> w = wr;  // the stored value (signed or unsigned) fits W_BITS + 1 signed bits
    if (IN_BIPOLAR) {
        return xr[0] ? prod_t(w) : prod_t(-w);
    }
    return prod_t(x * w);
}

template <int MW, int MH, int PE, int SIMD,
          int IN_BITS, int IN_SIGNED, int IN_BIPOLAR,
          int W_BITS, int W_SIGNED, int W_BIPOLAR,
          int ACC_BITS, typename WT>
void gs_mvu(hls::stream<ap_uint<SIMD * IN_BITS> > &in,
            hls::stream<ap_uint<PE * ACC_BITS> > &out,
            const WT weights[PE][SIMD][(MH / PE) * (MW / SIMD)]) {
#pragma HLS INLINE off
#pragma HLS ARRAY_PARTITION variable=weights complete dim=1
#pragma HLS ARRAY_PARTITION variable=weights complete dim=2
    const int NF = MH / PE;
    const int SF = MW / SIMD;
    ap_uint<SIMD * IN_BITS> buf[SF];
    ap_int<ACC_BITS> acc[PE];
#pragma HLS ARRAY_PARTITION variable=acc complete dim=1
    int nf = 0;
    int sf = 0;
fold:
    for (int i = 0; i < NF * SF; i++) {
#pragma HLS PIPELINE II=1
        ap_uint<SIMD * IN_BITS> x;
        if (nf == 0) {
            x = in.read();
            buf[sf] = x;
        } else {
            x = buf[sf];
        }
        ap_uint<PE * ACC_BITS> word = 0;
    rows:
        for (int p = 0; p < PE; p++) {
#pragma HLS UNROLL
            ap_int<ACC_BITS> a = (sf == 0) ? ap_int<ACC_BITS>(0) : acc[p];
        columns:
            for (int k = 0; k < SIMD; k++) {
#pragma HLS UNROLL
                a += gs_mul<IN_BITS, IN_SIGNED, IN_BIPOLAR, W_BITS, W_SIGNED, W_BIPOLAR, WT>(
                    gs_lane<IN_BITS, SIMD>(x, k), weights[p][k][i]);
            }
            acc[p] = a;
            word.range((p + 1) * ACC_BITS - 1, p * ACC_BITS) = a;
        }
        if (sf == SF - 1) {
            out.write(word);
            sf = 0;
            nf++;
        } else {
            sf++;
        }
    }
}

#endif  // GS_MVU_H
