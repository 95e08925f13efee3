// gs_requant.h -- dyadic / shift requantizer:
//   out[c] = clamp(round_MODE((x[c] * M[c] + B[c]) / 2^SHIFT), LO, HI)
// exactly as ir.ops.Requant; with USE_MULT == 0 every M is 1 and no
// multiplier is built (shift style).
//
// C channels, PE per beat: REPS*C/PE pipelined iterations (II=1) a call (REPS
// vectors: the pixels of a feature map, 1 for a vector).
// mult[p][n] = M[n*PE + p], bias[p][n] = B[n*PE + p], partitioned over p.
// T_BITS holds every x*M + B exactly (sized by the generator from the IR).
//
// Rounding of t / 2^S (S = SHIFT): q = floor(t / 2^S), r = t mod 2^S; q + 1
// is taken for CEIL when r != 0, UP when r != 0 and t >= 0, DOWN when r != 0
// and t < 0, and for ROUND / HALF_UP / HALF_DOWN when r > 2^(S-1), or on an
// exact tie when q is odd / t >= 0 / t < 0 respectively. FLOOR keeps q.
#ifndef GS_REQUANT_H
#define GS_REQUANT_H

#include "gs_stream.h"

// round_MODE(t / 2^SHIFT) for a W-bit signed t, exactly
template <int W, int SHIFT, int MODE>
ap_int<(W > SHIFT ? W : SHIFT) + 2> gs_round_shift(ap_int<W> t) {
#pragma HLS INLINE
    const int W2 = (W > SHIFT ? W : SHIFT) + 2;
    const int S = SHIFT > 0 ? SHIFT : 1;
    ap_int<W2> tt = t;
    if (SHIFT == 0) {
        return tt;
    }
    ap_int<W2> q = tt >> S;                   // floor division
    ap_uint<S> r = tt.range(S - 1, 0);        // remainder, 0 <= r < 2^S
    ap_uint<S> half = ap_uint<S>(1) << (S - 1);
    bool exact = (r == 0);
    bool neg = (tt < 0);
    bool up;
    if (MODE == GS_FLOOR) {
        up = false;
    } else if (MODE == GS_CEIL) {
        up = !exact;
    } else if (MODE == GS_UP) {
        up = !exact && !neg;
    } else if (MODE == GS_DOWN) {
        up = !exact && neg;
    } else {
        bool tie_up;
        if (MODE == GS_ROUND) {
            tie_up = (q[0] == 1);
        } else if (MODE == GS_HALF_UP) {
            tie_up = !neg;
        } else {  // GS_HALF_DOWN
            tie_up = neg;
        }
        up = (r > half) || ((r == half) && tie_up);
    }
    return up ? ap_int<W2>(q + 1) : q;
}

template <int C, int PE, int IN_BITS, int IN_SIGNED, int IN_BIPOLAR,
          int M_BITS, int B_BITS, int T_BITS, int SHIFT, int MODE,
          long long LO, long long HI, int OUT_BITS, int OUT_SIGNED, int USE_MULT,
          int REPS, typename MT, typename BT>
void gs_requant(hls::stream<ap_uint<PE * IN_BITS> > &in,
                hls::stream<ap_uint<PE * OUT_BITS> > &out,
                const MT mult[PE][C / PE],
                const BT bias[PE][C / PE]) {
#pragma HLS INLINE off
#pragma HLS ARRAY_PARTITION variable=mult complete dim=1
#pragma HLS ARRAY_PARTITION variable=bias complete dim=1
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
            ap_int<B_BITS> b = bias[p][n];
            ap_int<T_BITS> t;
            if (USE_MULT) {
                ap_int<M_BITS> m = mult[p][n];
                t = v * m + b;
            } else {
                t = v + b;
            }
            // wide enough for the rounded value and for LO / HI
            ap_int<(T_BITS > SHIFT ? T_BITS : SHIFT) + 66> q = gs_round_shift<T_BITS, SHIFT, MODE>(t);
            if (q < LO) {
                q = LO;
            }
            if (q > HI) {
                q = HI;
            }
            word.range((p + 1) * OUT_BITS - 1, p * OUT_BITS) = gs_elem<OUT_BITS, OUT_SIGNED, 0>::encode(q);
        }
        out.write(word);
        n = (n == NF - 1) ? 0 : n + 1;
    }
}

#endif  // GS_REQUANT_H
