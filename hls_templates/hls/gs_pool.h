// gs_pool.h -- streaming window reduction per channel: max or exact sum.
//
// For each of PIX output pixels: POS positions x C/PE beats of PE elements in
// (what gs_swg emits with SIMD = PE and POS = K_H*K_W, or a whole feature
// map with POS = H*W for global pooling), C/PE beats out, lane k of beat g the
// reduction of channel g*PE + k over the POS positions:
//   MODE 0  max (inputs decoded per IN_SIGNED / IN_BIPOLAR, the output in the
//           same encoding: the max of bipolar values is their OR)
//   MODE 1  exact sum (signed inputs sign-extended, unsigned zero-extended),
//           OUT_BITS wide, OUT_SIGNED; the IR guarantees the sum fits
// Output beat g leaves with the last position's beat of group g. One input
// beat an iteration (II=1): PIX*POS*C/PE iterations a call. Partial results
// acc[g][k], partitioned over k.
#ifndef GS_POOL_H
#define GS_POOL_H

#include "gs_stream.h"

template <int POS, int C, int PE, int IN_BITS, int IN_SIGNED, int IN_BIPOLAR,
          int OUT_BITS, int OUT_SIGNED, int MODE, int PIX>
void gs_pool(hls::stream<ap_uint<PE * IN_BITS> > &in,
             hls::stream<ap_uint<PE * OUT_BITS> > &out) {
#pragma HLS INLINE off
    typedef gs_elem<IN_BITS, IN_SIGNED, IN_BIPOLAR> in_elem;
    const int G = C / PE;
    const int A_BITS = (MODE == 0 ? IN_BITS : OUT_BITS) + 2;
    ap_int<A_BITS> acc[G][PE];
#pragma HLS ARRAY_PARTITION variable=acc complete dim=2
    int pos = 0;
    int g = 0;
beats:
    for (int i = 0; i < PIX * POS * G; i++) {
#pragma HLS PIPELINE II=1
        ap_uint<PE * IN_BITS> x = in.read();
        ap_uint<PE * OUT_BITS> word = 0;
    lanes:
        for (int k = 0; k < PE; k++) {
#pragma HLS UNROLL
            ap_int<A_BITS> v = in_elem::decode(gs_lane<IN_BITS, PE>(x, k));
            ap_int<A_BITS> a;
            if (pos == 0) {
                a = v;
            } else if (MODE == 0) {
                a = (v > acc[g][k]) ? v : acc[g][k];
            } else {
                a = acc[g][k] + v;
            }
            acc[g][k] = a;
            if (MODE == 0) {
                word.range((k + 1) * OUT_BITS - 1, k * OUT_BITS) = in_elem::encode(a);
            } else {
                word.range((k + 1) * OUT_BITS - 1, k * OUT_BITS) = gs_elem<OUT_BITS, OUT_SIGNED, 0>::encode(a);
            }
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

#endif  // GS_POOL_H
