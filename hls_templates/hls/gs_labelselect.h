// gs_labelselect.h -- top-K indices of a vector (ONNX TopK largest=1 sorted=1,
// or ArgMax for K = 1, at a network's output).
//
// Input, per call: C/PE beats of PE values (value n*PE + k in lane k of beat
// n, decoded per IN_SIGNED / IN_BIPOLAR). Output: K beats of one index each
// (IDX_BITS unsigned), the indices of the K largest values in descending
// order of value, ties broken by the lower index first (as ONNX TopK and
// numpy's stable argsort of -x) -- the beats of the RTL core gs_labelselect.
//
// A sorted K-entry list of (value, index) takes the PE values of a beat in
// one pipelined iteration (II=1), one insertion after the other in index
// order: a value goes behind every entry that is at least as large, so an
// equal value with its higher index stays behind. Then K iterations emit
// the indices. C/PE + K iterations a call.
#ifndef GS_LABELSELECT_H
#define GS_LABELSELECT_H

#include "gs_stream.h"

template <int C, int PE, int IN_BITS, int IN_SIGNED, int IN_BIPOLAR, int K, int IDX_BITS>
void gs_labelselect(hls::stream<ap_uint<PE * IN_BITS> > &in, hls::stream<ap_uint<IDX_BITS> > &out) {
#pragma HLS INLINE off
    typedef gs_elem<IN_BITS, IN_SIGNED, IN_BIPOLAR> in_elem;
    typedef typename in_elem::value_t value_t;
    value_t val[K];
    ap_uint<IDX_BITS> idx[K];
    bool used[K];
#pragma HLS ARRAY_PARTITION variable=val complete
#pragma HLS ARRAY_PARTITION variable=idx complete
#pragma HLS ARRAY_PARTITION variable=used complete
init:
    for (int j = 0; j < K; j++) {
#pragma HLS UNROLL
        val[j] = 0;
        idx[j] = 0;
        used[j] = false;
    }
beats:
    for (int n = 0; n < C / PE; n++) {
#pragma HLS PIPELINE II=1
        ap_uint<PE * IN_BITS> x = in.read();
    lanes:
        for (int k = 0; k < PE; k++) {
#pragma HLS UNROLL
            value_t v = in_elem::decode(gs_lane<IN_BITS, PE>(x, k));
            ap_uint<IDX_BITS> id = n * PE + k;
            int at = 0;  // entries at least as large as v (they form a prefix)
        rank:
            for (int j = 0; j < K; j++) {
#pragma HLS UNROLL
                if (used[j] && val[j] >= v) {
                    at++;
                }
            }
        shift:
            for (int j = K - 1; j >= 0; j--) {
#pragma HLS UNROLL
                if (j > at) {
                    val[j] = val[j - 1];
                    idx[j] = idx[j - 1];
                    used[j] = used[j - 1];
                } else if (j == at) {
                    val[j] = v;
                    idx[j] = id;
                    used[j] = true;
                }
            }
        }
    }
emit:
    for (int j = 0; j < K; j++) {
#pragma HLS PIPELINE II=1
        out.write(idx[j]);
    }
}

#endif  // GS_LABELSELECT_H
