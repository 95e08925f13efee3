// gs_concat.h -- channel concatenation of two pixel streams.
//
// For each of PIX pixels: the CA/PE beats of a (CA channels, PE a beat), then
// the CB/PE beats of b, written unchanged to out (PE elements of BITS a
// beat). Only the input whose turn it is is read. One beat an iteration
// (II=1): PIX*(CA + CB)/PE iterations a call.
//
// Pixel mode (PE = CA + CB, gs_concat_pixel): a carries a pixel's CA channels
// a beat, b its CB channels; each iteration reads one beat of each and writes
// the pixel (a's channels in the low elements). PIX iterations a call.
#ifndef GS_CONCAT_H
#define GS_CONCAT_H

#include "gs_stream.h"

template <int CA, int CB, int PE, int BITS, int PIX>
void gs_concat(hls::stream<ap_uint<PE * BITS> > &a, hls::stream<ap_uint<PE * BITS> > &b,
               hls::stream<ap_uint<PE * BITS> > &out) {
#pragma HLS INLINE off
    const int NA = CA / PE;
    const int N = (CA + CB) / PE;
    int j = 0;  // beat within the pixel
beats:
    for (int i = 0; i < PIX * N; i++) {
#pragma HLS PIPELINE II=1
        out.write(j < NA ? a.read() : b.read());
        j = (j == N - 1) ? 0 : j + 1;
    }
}

template <int CA, int CB, int BITS, int PIX>
void gs_concat_pixel(hls::stream<ap_uint<CA * BITS> > &a, hls::stream<ap_uint<CB * BITS> > &b,
                     hls::stream<ap_uint<(CA + CB) * BITS> > &out) {
#pragma HLS INLINE off
pixels:
    for (int i = 0; i < PIX; i++) {
#pragma HLS PIPELINE II=1
        ap_uint<CA * BITS> x = a.read();
        ap_uint<CB * BITS> y = b.read();
        out.write((y, x));
    }
}

#endif  // GS_CONCAT_H
