// gs_dwc.h -- element-wise stream width converter (any ratio), one vector a call.
//
// Reads the ELEMS elements of one vector in beats of IN_ELEMS and writes them,
// in the same order, in beats of OUT_ELEMS (lane 0 first). Each pipelined
// iteration either emits an output beat (when OUT_ELEMS elements are buffered)
// or reads an input beat, so a call takes ELEMS/IN_ELEMS + ELEMS/OUT_ELEMS
// iterations. The buffer holds at most IN_ELEMS + OUT_ELEMS - 1 elements.
#ifndef GS_DWC_H
#define GS_DWC_H

#include "gs_stream.h"

template <int ELEMS, int IN_ELEMS, int OUT_ELEMS, int BITS>
void gs_dwc(hls::stream<ap_uint<IN_ELEMS * BITS> > &in,
            hls::stream<ap_uint<OUT_ELEMS * BITS> > &out) {
#pragma HLS INLINE off
    const int CAP = IN_ELEMS + OUT_ELEMS;
    const int STEPS = ELEMS / IN_ELEMS + ELEMS / OUT_ELEMS;
    ap_uint<CAP * BITS> buf = 0;
    int count = 0;
steps:
    for (int i = 0; i < STEPS; i++) {
#pragma HLS PIPELINE II=1
        if (count >= OUT_ELEMS) {
            out.write(ap_uint<OUT_ELEMS * BITS>(buf.range(OUT_ELEMS * BITS - 1, 0)));
            buf = buf >> (OUT_ELEMS * BITS);
            count -= OUT_ELEMS;
        } else {
            ap_uint<CAP * BITS> x = in.read();
            buf = buf | (x << (count * BITS));
            count += IN_ELEMS;
        }
    }
}

#endif  // GS_DWC_H
