// gs_thresholds.h -- multi-threshold activation: out[c] = BASE + #{k : x[c] >= T[c][k]}.
//
// C channels, PE per beat: REPS*C/PE pipelined iterations (II=1) a call.
// thresholds[p][k][n] = T[n*PE + p][k] (the IR's ascending thresholds,
// clipped to [min(x), max(x) + 1], which changes no count), partitioned
// completely over p and k: N comparators a lane, each with a ROM of C/PE words.
// A bipolar output (OUT_BIPOLAR, OUT_BITS == 1) is +1 (bit 1) when
// BASE + count > 0 and -1 (bit 0) otherwise, as the IR defines it.
//
// Streams: beat n holds channel n*PE + p in lane p, input IN_BITS each
// (decoded per IN_SIGNED / IN_BIPOLAR), output OUT_BITS each. REPS vectors of
// C channels a call (the pixels of a feature map; 1 for a vector).
#ifndef GS_THRESHOLDS_H
#define GS_THRESHOLDS_H

#include "gs_stream.h"

template <int C, int PE, int N,
          int IN_BITS, int IN_SIGNED, int IN_BIPOLAR,
          int T_BITS, int OUT_BITS, int OUT_SIGNED, int OUT_BIPOLAR, int BASE, int REPS, typename TT>
void gs_thresholds(hls::stream<ap_uint<PE * IN_BITS> > &in,
                   hls::stream<ap_uint<PE * OUT_BITS> > &out,
                   const TT thresholds[PE][N][C / PE]) {
#pragma HLS INLINE off
#pragma HLS ARRAY_PARTITION variable=thresholds complete dim=1
#pragma HLS ARRAY_PARTITION variable=thresholds complete dim=2
    const int NF = C / PE;
    int n = 0;
fold:
    for (int i = 0; i < REPS * NF; i++) {
#pragma HLS PIPELINE II=1
        ap_uint<PE * IN_BITS> x = in.read();
        ap_uint<PE * OUT_BITS> word = 0;
    lanes:
        for (int p = 0; p < PE; p++) {
#pragma HLS UNROLL
            typename gs_elem<IN_BITS, IN_SIGNED, IN_BIPOLAR>::value_t v =
                gs_elem<IN_BITS, IN_SIGNED, IN_BIPOLAR>::decode(gs_lane<IN_BITS, PE>(x, p));
            ap_int<32> level = BASE;
        steps:
            for (int k = 0; k < N; k++) {
#pragma HLS UNROLL
                ap_int<T_BITS> t = thresholds[p][k][n];
                if (v >= t) {
                    level++;
                }
            }
            word.range((p + 1) * OUT_BITS - 1, p * OUT_BITS) =
                gs_elem<OUT_BITS, OUT_SIGNED, OUT_BIPOLAR>::encode(level);
        }
        out.write(word);
        n = (n == NF - 1) ? 0 : n + 1;
    }
}

#endif  // GS_THRESHOLDS_H
