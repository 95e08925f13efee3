// gs_add.h -- elementwise add of two streams on a common integer grid:
//     out[i] = M_A * a[i] + M_B * b[i]
// exactly, in OUT_BITS-bit two's complement (the IR guarantees the result
// fits; the arithmetic is done wide enough that no partial result wraps).
//
// Beat n of a (PE lanes, A_* encoding) pairs with beat n of b (PE lanes, B_*
// encoding; bipolar: 1 bit, 1 = +1); ELEMS/PE beat pairs a call, one an
// iteration (II=1). Element i of every beat at [i*BITS +: BITS].
#ifndef GS_ADD_H
#define GS_ADD_H

#include "gs_stream.h"

template <int ELEMS, int PE, int A_BITS, int A_SIGNED, int A_BIPOLAR,
          int B_BITS, int B_SIGNED, int B_BIPOLAR, long long M_A, long long M_B, int OUT_BITS>
void gs_add(hls::stream<ap_uint<PE * A_BITS> > &a, hls::stream<ap_uint<PE * B_BITS> > &b,
            hls::stream<ap_uint<PE * OUT_BITS> > &out) {
#pragma HLS INLINE off
    const int AB = A_BITS > B_BITS ? A_BITS : B_BITS;
    typedef ap_int<AB + 67> wide_t;  // |M| < 2^63, operands within AB + 1 signed bits
beats:
    for (int n = 0; n < ELEMS / PE; n++) {
#pragma HLS PIPELINE II=1
        ap_uint<PE * A_BITS> xa = a.read();
        ap_uint<PE * B_BITS> xb = b.read();
        ap_uint<PE * OUT_BITS> word = 0;
    lanes:
        for (int k = 0; k < PE; k++) {
#pragma HLS UNROLL
            wide_t va = gs_elem<A_BITS, A_SIGNED, A_BIPOLAR>::decode(gs_lane<A_BITS, PE>(xa, k));
            wide_t vb = gs_elem<B_BITS, B_SIGNED, B_BIPOLAR>::decode(gs_lane<B_BITS, PE>(xb, k));
            wide_t s = va * wide_t(M_A) + vb * wide_t(M_B);
            word.range((k + 1) * OUT_BITS - 1, k * OUT_BITS) = s.range(OUT_BITS - 1, 0);
        }
        out.write(word);
    }
}

#endif  // GS_ADD_H
