// gs_swg.h -- sliding-window generator (im2col on a stream) with a line buffer.
//
// Input, per call (one image): IFM_H*IFM_W*C/SIMD beats, pixels in raster
// order, each pixel's channels in groups of SIMD (beat g of a pixel holds
// channels g*SIMD .. g*SIMD+SIMD-1, lane k at [k*BITS +: BITS]).
// Output, per call: for every output pixel (oy, ox) in raster order, for
// every kernel position (ky, kx) in raster order, for every channel group g,
// one beat of SIMD elements
//     in[oy*S_H - PAD_T + ky][ox*S_W - PAD_L + kx][g*SIMD + k]
// or PAD_RAW (the raw bits of the pad value, in every lane) where that row or
// column lies outside the image -- the same beats as the RTL core gs_swg.
// Parallel windows: with KP > 1 (SIMD = C) a beat carries KP consecutive
// kernel positions (lane j at [j*C*BITS +: C*BITS]), still in (ky, kx, c)
// order: KPW = min(KP, K_W) columns of KPH = KP / KPW kernel rows (KP divides
// K_W, or is K_W times a divisor of K_H), OFM_H*OFM_W*K_H*K_W/KP beats:
//   OFM_H = (IFM_H + PAD_T + PAD_B - K_H) / S_H + 1    (floor)
//   OFM_W = (IFM_W + PAD_L + PAD_R - K_W) / S_W + 1
// Input rows that no window covers are read and dropped. Dilation 1.
//
// Line buffer: K_H rows of IFM_W*C/SIMD beats, input row r in slot r % K_H.
// Before output row oy the rows up to its last one (oy*S_H - PAD_T + K_H - 1,
// clipped to the image) are read into the ring, one beat an iteration; they
// overwrite only rows above oy*S_H - PAD_T, which no later window needs.
// Then the row's OFM_W*K_H*K_W*C/SIMD beats are emitted, one an iteration.
// Both loops are pipelined (II=1); the buffer is partitioned over the K_H
// slots (one read a cycle from any slot, one write into another) and, for
// KP > 1, cyclically over KPW columns (KP reads a cycle from distinct banks).
#ifndef GS_SWG_H
#define GS_SWG_H

#include "gs_stream.h"

template <int IFM_H, int IFM_W, int C, int K_H, int K_W, int S_H, int S_W,
          int PAD_T, int PAD_L, int PAD_B, int PAD_R, int SIMD, int BITS, unsigned long long PAD_RAW, int KP = 1>
void gs_swg(hls::stream<ap_uint<SIMD * BITS> > &in, hls::stream<ap_uint<KP * SIMD * BITS> > &out) {
#pragma HLS INLINE off
    const int G = C / SIMD;
    const int OFM_H = (IFM_H + PAD_T + PAD_B - K_H) / S_H + 1;
    const int OFM_W = (IFM_W + PAD_L + PAD_R - K_W) / S_W + 1;
    const int ROW = IFM_W * G;           // beats of an input row
    const int WIN = K_H * K_W * G;        // positions of one window
    const int KPW = KP < K_W ? KP : K_W;  // kernel columns per beat
    const int KPH = KP / KPW;             // kernel rows per beat
    ap_uint<SIMD * BITS> buf[K_H][ROW];
#pragma HLS ARRAY_PARTITION variable=buf complete dim=1
#pragma HLS ARRAY_PARTITION variable=buf cyclic factor=KPW dim=2
    ap_uint<SIMD * BITS> pad = 0;
pad_lanes:
    for (int k = 0; k < SIMD; k++) {
#pragma HLS UNROLL
        pad.range((k + 1) * BITS - 1, k * BITS) = ap_uint<BITS>(PAD_RAW);
    }
    int rows_in = 0;  // input rows read so far
out_rows:
    for (int oy = 0; oy < OFM_H; oy++) {
        int last = oy * S_H - PAD_T + K_H - 1;  // last input row this output row needs
        if (last > IFM_H - 1) {
            last = IFM_H - 1;
        }
        int need = (last + 1 - rows_in) * ROW;
        if (need < 0) {
            need = 0;
        }
        int slot = rows_in % K_H;
        int col = 0;
    fill:
        for (int i = 0; i < need; i++) {
#pragma HLS PIPELINE II=1
            buf[slot][col] = in.read();
            if (col == ROW - 1) {
                col = 0;
                slot = (slot == K_H - 1) ? 0 : slot + 1;
            } else {
                col++;
            }
        }
        if (need > 0) {
            rows_in = last + 1;
        }
        int ox = 0, ky = 0, kx = 0, g = 0;
    emit:
        for (int i = 0; i < OFM_W * WIN / KP; i++) {
#pragma HLS PIPELINE II=1
            ap_uint<KP * SIMD * BITS> beat;
        lanes:
            for (int j = 0; j < KP; j++) {
#pragma HLS UNROLL
                int iy = oy * S_H - PAD_T + ky + j / KPW;
                int ix = ox * S_W - PAD_L + kx + j % KPW;
                ap_uint<SIMD * BITS> word = pad;
                if (iy >= 0 && iy < IFM_H && ix >= 0 && ix < IFM_W) {
                    word = buf[iy % K_H][ix * G + g];
                }
                beat.range((j + 1) * SIMD * BITS - 1, j * SIMD * BITS) = word;
            }
            out.write(beat);
            if (g == G - 1) {
                g = 0;
                if (kx == K_W - KPW) {
                    kx = 0;
                    if (ky == K_H - KPH) {
                        ky = 0;
                        ox++;
                    } else {
                        ky += KPH;
                    }
                } else {
                    kx += KPW;
                }
            } else {
                g++;
            }
        }
    }
    // rows below the last window: read and dropped
drop:
    for (int i = rows_in * ROW; i < IFM_H * ROW; i++) {
#pragma HLS PIPELINE II=1
        in.read();
    }
}

#endif  // GS_SWG_H
