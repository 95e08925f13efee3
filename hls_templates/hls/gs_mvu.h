// gs_mvu.h -- streaming matrix-vector unit: out = W . x for each of REPS input vectors.
//
// W is MH x MW. PE rows and SIMD columns are computed per cycle: SF = MW/SIMD
// input beats make one vector, NF = MH/PE output beats make one result; one
// call takes REPS*NF*SF pipelined iterations (II=1). The SF input beats are read
// and decoded during fold 0 and kept in a buffer (partitioned over SIMD) that
// folds 1..NF-1 replay.
//
// weights[p][k][n*SF + s] = W[n*PE + p][s*SIMD + k], stored as the integer
// value of the weight (bipolar: the raw bit, 1 = +1). The array is partitioned
// completely over p and k, so every PE x SIMD lane owns a ROM of NF*SF words.
//
// Arithmetic: operands decoded to integers (see gs_stream.h), products summed
// into an ACC_BITS-bit two's complement accumulator. The IR guarantees that
// every result fits ACC_BITS; partial sums wrap modulo 2^ACC_BITS, so the
// final sum is exact even if a partial sum does not fit.
//   bipolar x bipolar : XNOR (+1 when the bits are equal, -1 otherwise)
//   bipolar x integer : conditional negation, no multiplier
//   integer x integer : multiplication; MUL_STYLE 0 leaves the operator to the
//                       tool, 1 binds it to DSP slices, 2 to fabric (LUTs), 3
//                       ("pack", as rtl/gs_mvu.v) computes rows p and p+1 (p even)
//                       of a SIMD lane, which share x, with one DSP multiplier
//                       (gs_mul_pack); the last row of an odd PE multiplies alone
//
// Streams: input beat s holds x[s*SIMD + k] in lane k (IN_BITS each); output
// beat n holds out[n*PE + p] in lane p (ACC_BITS, signed). REPS vectors a call
// (the pixels of a feature map, each its own vector; 1 for an MLP layer).
#ifndef GS_MVU_H
#define GS_MVU_H

#include "gs_stream.h"

// x * w bound to an implementation; a pragma takes literals, so one
// specialisation a MUL_STYLE (0: the tool decides, 1: DSP, 2: fabric)
template <int MUL_STYLE> struct gs_mul_op;
template <> struct gs_mul_op<0> {
    template <typename P, typename A, typename B> static P mul(A a, B b) {
#pragma HLS INLINE
        return P(a * b);
    }
};
template <> struct gs_mul_op<1> {
    template <typename P, typename A, typename B> static P mul(A a, B b) {
#pragma HLS INLINE
        P p = a * b;
#pragma HLS BIND_OP variable=p op=mul impl=dsp
        return p;
    }
};
template <> struct gs_mul_op<2> {
    template <typename P, typename A, typename B> static P mul(A a, B b) {
#pragma HLS INLINE
        P p = a * b;
#pragma HLS BIND_OP variable=p op=mul impl=fabric
        return p;
    }
};

template <> struct gs_mul_op<3> : gs_mul_op<1> {};  // pack: a row multiplying alone

// MUL_STYLE 3: p0 = w0 * x and p1 = w1 * x from one product P = (w1 * 2^PS + w0) * x,
// PS = XE + WE the exact product width (operands as signed values, an unsigned one a
// bit wider). The weight operand is {w1 - (w0 < 0), w0 in PS bits}; the low PS bits of
// P are p0, P >> PS plus (p0 < 0) is p1. Exact for every signed/unsigned combination.
template <int IN_BITS, int IN_SIGNED, int W_BITS, int W_SIGNED, typename WT>
void gs_mul_pack(ap_int<IN_BITS + 1> x, WT w0r, WT w1r,
                 ap_int<IN_BITS + W_BITS + 2> &p0, ap_int<IN_BITS + W_BITS + 2> &p1) {
#pragma HLS INLINE
    const int XE = IN_BITS + (IN_SIGNED ? 0 : 1);
    const int PS = XE + W_BITS + (W_SIGNED ? 0 : 1);
    const int PW = PS + W_BITS + 1;
    ap_int<W_BITS + 1> w0 = w0r;
    ap_int<W_BITS + 1> w1 = w1r;
    ap_int<PW> wp;
    wp.range(PS - 1, 0) = ap_int<PS>(w0).range(PS - 1, 0);
    wp.range(PW - 1, PS) = ap_int<W_BITS + 1>(w1 - (w0 < 0 ? 1 : 0)).range(W_BITS, 0);
    ap_int<PW + XE> pp = wp * ap_int<XE>(x);
#pragma HLS BIND_OP variable=pp op=mul impl=dsp
    ap_int<PS> lo = pp;
    ap_int<PW + XE - PS> up = pp >> PS;
    p0 = lo;
    p1 = ap_int<PS>(up + (lo < 0 ? 1 : 0));
}

// one product: x is the decoded input (bipolar: +-1), wr the stored weight
template <int IN_BITS, int IN_BIPOLAR, int W_BITS, int W_BIPOLAR, typename WT, int MUL_STYLE = 0>
ap_int<IN_BITS + W_BITS + 2> gs_mul(ap_int<IN_BITS + 1> x, WT wr) {
#pragma HLS INLINE
    typedef ap_int<IN_BITS + W_BITS + 2> prod_t;
    if (W_BIPOLAR) {
        bool wp = (wr != 0);
        if (IN_BIPOLAR) {
            return ((x > 0) == wp) ? prod_t(1) : prod_t(-1);  // XNOR
        }
        return wp ? prod_t(x) : prod_t(-x);
    }
    ap_int<W_BITS + 1> w = wr;  // the stored value (signed or unsigned) fits W_BITS + 1 signed bits
    if (IN_BIPOLAR) {
        return (x > 0) ? prod_t(w) : prod_t(-w);
    }
    return gs_mul_op<MUL_STYLE>::template mul<prod_t>(x, w);
}

template <int MW, int MH, int PE, int SIMD,
          int IN_BITS, int IN_SIGNED, int IN_BIPOLAR,
          int W_BITS, int W_SIGNED, int W_BIPOLAR,
          int ACC_BITS, int REPS, int MUL_STYLE = 0, typename WT>
void gs_mvu(hls::stream<ap_uint<SIMD * IN_BITS> > &in,
            hls::stream<ap_uint<PE * ACC_BITS> > &out,
            const WT weights[PE][SIMD][(MH / PE) * (MW / SIMD)]) {
#pragma HLS INLINE off
#pragma HLS ARRAY_PARTITION variable=weights complete dim=1
#pragma HLS ARRAY_PARTITION variable=weights complete dim=2
    typedef gs_elem<IN_BITS, IN_SIGNED, IN_BIPOLAR> in_elem;
    const int NF = MH / PE;
    const int SF = MW / SIMD;
    // the SF beats of the vector, decoded, for folds 1..NF-1 to replay
    typename in_elem::value_t buf[SF][SIMD];
#pragma HLS ARRAY_PARTITION variable=buf complete dim=2
    ap_int<ACC_BITS> acc[PE];
#pragma HLS ARRAY_PARTITION variable=acc complete dim=1
    int nf = 0;
    int sf = 0;
fold:
    for (int j = 0; j < REPS * NF * SF; j++) {
#pragma HLS PIPELINE II=1
        if (nf == 0) {
            ap_uint<SIMD * IN_BITS> x = in.read();
        decode:
            for (int k = 0; k < SIMD; k++) {
#pragma HLS UNROLL
                buf[sf][k] = in_elem::decode(gs_lane<IN_BITS, SIMD>(x, k));
            }
        }
        ap_uint<PE * ACC_BITS> word = 0;
        // the slice's products; MUL_STYLE 3 (pack): one multiplier for rows p and p + 1
        const bool pack = MUL_STYLE == 3 && !IN_BIPOLAR && !W_BIPOLAR;
        ap_int<IN_BITS + W_BITS + 2> prod[PE][SIMD];
#pragma HLS ARRAY_PARTITION variable=prod complete dim=0
    products:
        for (int p = 0; p < PE; p++) {
#pragma HLS UNROLL
        lanes:
            for (int k = 0; k < SIMD; k++) {
#pragma HLS UNROLL
                if (pack && p % 2 == 0 && p + 1 < PE) {
                    gs_mul_pack<IN_BITS, IN_SIGNED, W_BITS, W_SIGNED, WT>(
                        buf[sf][k], weights[p][k][nf * SF + sf], weights[p + 1][k][nf * SF + sf],
                        prod[p][k], prod[p + 1][k]);
                } else if (!(pack && p % 2 == 1)) {
                    prod[p][k] = gs_mul<IN_BITS, IN_BIPOLAR, W_BITS, W_BIPOLAR, WT, MUL_STYLE>(
                        buf[sf][k], weights[p][k][nf * SF + sf]);
                }
            }
        }
    rows:
        for (int p = 0; p < PE; p++) {
#pragma HLS UNROLL
            ap_int<ACC_BITS> a = (sf == 0) ? ap_int<ACC_BITS>(0) : acc[p];
        columns:
            for (int k = 0; k < SIMD; k++) {
#pragma HLS UNROLL
                a += prod[p][k];
            }
            acc[p] = a;
            word.range((p + 1) * ACC_BITS - 1, p * ACC_BITS) = a;
        }
        if (sf == SF - 1) {
            out.write(word);
            sf = 0;
            nf = (nf == NF - 1) ? 0 : nf + 1;
        } else {
            sf++;
        }
    }
}

#endif  // GS_MVU_H
