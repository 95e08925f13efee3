// gs_vvu.h -- streaming vector-vector unit: depthwise convolution on windows.
//
// For each of PIX output pixels the unit reads POS window positions of C
// channels (what gs_swg emits: position-major, channels in groups of PE a
// beat) and computes, per channel c,
//     out[c] = sum_p W[c][p] * x[p][c]
// exactly in ACC_BITS-bit two's complement (the IR guarantees the sum fits;
// partial sums wrap modulo 2^ACC_BITS, so the final sum is exact). Input beat
// (p, g) holds x[p][g*PE + k] in lane k; output beat g of a pixel holds
// out[g*PE + k] in lane k and leaves with the last position's beat of group g.
// One input beat an iteration (II=1): PIX*POS*C/PE iterations a call.
//
// weights[k][p*(C/PE) + g] = W[g*PE + k][p] (bipolar: the raw bit, 1 = +1),
// partitioned over the PE lanes; partial sums acc[g][k], partitioned over k.
// Products as in gs_mvu.h (XNOR / conditional negation / multiplication).
#ifndef GS_VVU_H
#define GS_VVU_H

#include "gs_mvu.h"

template <int POS, int C, int PE,
          int IN_BITS, int IN_SIGNED, int IN_BIPOLAR,
          int W_BITS, int W_SIGNED, int W_BIPOLAR,
          int ACC_BITS, int PIX, int MUL_STYLE = 0, typename WT>
void gs_vvu(hls::stream<ap_uint<PE * IN_BITS> > &in,
            hls::stream<ap_uint<PE * ACC_BITS> > &out,
            const WT weights[PE][POS * (C / PE)]) {
#pragma HLS INLINE off
#pragma HLS ARRAY_PARTITION variable=weights complete dim=1
    typedef gs_elem<IN_BITS, IN_SIGNED, IN_BIPOLAR> in_elem;
    const int G = C / PE;
    ap_int<ACC_BITS> acc[G][PE];
#pragma HLS ARRAY_PARTITION variable=acc complete dim=2
    int pos = 0;
    int g = 0;
beats:
    for (int i = 0; i < PIX * POS * G; i++) {
#pragma HLS PIPELINE II=1
        ap_uint<PE * IN_BITS> x = in.read();
        ap_uint<PE * ACC_BITS> word = 0;
    lanes:
        for (int k = 0; k < PE; k++) {
#pragma HLS UNROLL
            ap_int<ACC_BITS> a = (pos == 0) ? ap_int<ACC_BITS>(0) : acc[g][k];
            a += gs_mul<IN_BITS, IN_BIPOLAR, W_BITS, W_BIPOLAR, WT, MUL_STYLE>(
                in_elem::decode(gs_lane<IN_BITS, PE>(x, k)), weights[k][pos * G + g]);
            acc[g][k] = a;
            word.range((k + 1) * ACC_BITS - 1, k * ACC_BITS) = a;
        }
        if (pos == POS - 1) {
            out.write(word);
        }
        if (g == G - 1) {
            g = 0;
            pos = (pos == POS - 1) ? 0 : pos + 1;
        } else {
            g++;
        }
    }
}

#endif  // GS_VVU_H
