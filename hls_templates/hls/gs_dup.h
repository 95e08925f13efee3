// gs_dup.h -- stream duplication for fan-out: every one of the BEATS beats of
// a call goes to both outputs, in order, one beat an iteration (II=1). A
// value read by N > 2 stages goes through a chain of N - 1 duplicators. In a
// DATAFLOW region each output must have room for what its consumer has not
// taken yet (the generator sizes the streams in front of two-input stages by
// ir.schedule.fifos); otherwise a full output stalls the other one.
#ifndef GS_DUP_H
#define GS_DUP_H

#include "gs_stream.h"

template <int BEATS, int WIDTH>
void gs_dup(hls::stream<ap_uint<WIDTH> > &in, hls::stream<ap_uint<WIDTH> > &out0,
            hls::stream<ap_uint<WIDTH> > &out1) {
#pragma HLS INLINE off
beats:
    for (int i = 0; i < BEATS; i++) {
#pragma HLS PIPELINE II=1
        ap_uint<WIDTH> x = in.read();
        out0.write(x);
        out1.write(x);
    }
}

#endif  // GS_DUP_H
