// gs_stream.h -- common definitions of gatesmith's HLS kernel library.
//
// Stream convention (the same as the RTL cores'): a beat of E elements is an
// ap_uint<E*BITS>; element i sits at bits [i*BITS +: BITS] as the raw bits of
// its IR type: two's complement (signed), plain binary (unsigned), or one bit
// per bipolar element with 1 = +1 and 0 = -1.
//
// Constant arrays (weights, thresholds, requantizer parameters) are declared
// with GS_ROM_TYPE(hw, sim): the exact-width ap_int type under synthesis
// (__SYNTHESIS__, so the ROMs are as narrow as the IR types), a plain C
// integer type of the same values in C simulation (g++ compiles a large
// initializer of ap_int objects very slowly; the values are identical).
//
// Needs the Xilinx ap_types headers (ap_int.h, hls_stream.h) on the include
// path: $XILINX_HLS/include, or the copy shipped with hls4ml.
#ifndef GS_STREAM_H
#define GS_STREAM_H

#include <ap_int.h>
#include <hls_stream.h>
#include <stdint.h>

#ifdef __SYNTHESIS__
#define GS_ROM_TYPE(hw, sim) hw
#else
#define GS_ROM_TYPE(hw, sim) sim
#endif

// Rounding modes of the requantizer (values = ir.ops.Rounding, RTL ROUNDING).
enum gs_rounding {
    GS_ROUND = 0,      // half to even
    GS_CEIL = 1,
    GS_FLOOR = 2,
    GS_UP = 3,         // away from zero
    GS_DOWN = 4,       // toward zero
    GS_HALF_UP = 5,    // ties away from zero
    GS_HALF_DOWN = 6   // ties toward zero
};

// One element encoding: BITS raw bits, SIGNED (two's complement) or not,
// BIPOLAR (BITS == 1, bit 1 = +1, bit 0 = -1).
template <int BITS, int SIGNED, int BIPOLAR>
struct gs_elem {
    // holds every value of the encoding: signed BITS, unsigned BITS, or +-1
    typedef ap_int<BITS + 1> value_t;

    static value_t decode(ap_uint<BITS> raw) {
        if (BIPOLAR) {
            return raw[0] ? value_t(1) : value_t(-1);
        }
        if (SIGNED) {
            ap_int<BITS> s = raw;  // reinterpret the bits as two's complement
            return value_t(s);
        }
        return value_t(raw);
    }

    // raw bits of an integer value that fits the encoding
    template <typename T>
    static ap_uint<BITS> encode(T v) {
        if (BIPOLAR) {
            return (v > 0) ? ap_uint<BITS>(1) : ap_uint<BITS>(0);
        }
        ap_uint<BITS> r = v;  // the low BITS bits (two's complement when signed)
        return r;
    }
};

// element I of a beat of E elements
template <int BITS, int E>
ap_uint<BITS> gs_lane(const ap_uint<E * BITS> &word, int i) {
#pragma HLS INLINE
    return word.range((i + 1) * BITS - 1, i * BITS);
}

#endif  // GS_STREAM_H
