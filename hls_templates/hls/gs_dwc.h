// gs_dwc.h -- element-wise stream width converter (any ratio), one vector a call.
//
// Reads the ELEMS elements of one vector in beats of IN_ELEMS and writes them,
// in the same order, in beats of OUT_ELEMS (lane 0 first). Each pipelined
// iteration either emits an output beat (when OUT_ELEMS elements are buffered)
// or reads an input beat, so a call takes IN_BEATS + ELEMS/OUT_ELEMS
// iterations. The buffer holds at most IN_ELEMS + OUT_ELEMS - 1 elements.
//
// Ragged input (LAST_ELEMS < IN_ELEMS): the input comes in groups of
// GROUP_BEATS beats (one vector of a unit whose IN_ELEMS lanes do not divide
// the vector length) and only the first LAST_ELEMS elements of a group's last
// beat are elements; the padding is masked off and dropped (as rtl/gs_dwc.v).
#ifndef GS_DWC_H
#define GS_DWC_H

#include "gs_stream.h"

template <int ELEMS, int IN_ELEMS, int OUT_ELEMS, int BITS, int GROUP_BEATS = 1, int LAST_ELEMS = IN_ELEMS>
void gs_dwc(hls::stream<ap_uint<IN_ELEMS * BITS> > &in,
            hls::stream<ap_uint<OUT_ELEMS * BITS> > &out) {
#pragma HLS INLINE off
    const int CAP = IN_ELEMS + OUT_ELEMS;
    const int GROUP = (GROUP_BEATS - 1) * IN_ELEMS + LAST_ELEMS;  // elements a group
    const int IN_BEATS = ELEMS / GROUP * GROUP_BEATS;
    const int STEPS = IN_BEATS + ELEMS / OUT_ELEMS;
    ap_uint<CAP * BITS> buf = 0;
    int count = 0;
    int beat = 0;  // index of the next input beat within its group
steps:
    for (int i = 0; i < STEPS; i++) {
#pragma HLS PIPELINE II=1
        if (count >= OUT_ELEMS) {
            out.write(ap_uint<OUT_ELEMS * BITS>(buf.range(OUT_ELEMS * BITS - 1, 0)));
            buf = buf >> (OUT_ELEMS * BITS);
            count -= OUT_ELEMS;
        } else {
            ap_uint<CAP * BITS> x = in.read();
            const bool last = (beat == GROUP_BEATS - 1);
            const int n = last ? LAST_ELEMS : IN_ELEMS;
            if (LAST_ELEMS != IN_ELEMS) {
                ap_uint<CAP * BITS> keep = 0;
                keep = ~keep;
                x &= ~(keep << (n * BITS));  // the padding lanes of a group's last beat
            }
            buf = buf | (x << (count * BITS));
            count += n;
            beat = last ? 0 : beat + 1;
        }
    }
}

#endif  // GS_DWC_H
