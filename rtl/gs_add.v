// gs_add -- elementwise add of two streams on a common integer grid.
//
// Beat k of s0 (a, PE lanes) pairs with beat k of s1 (b, PE lanes); lane i of
// the output beat is
//     out[i] = M_A * a[i] + M_B * b[i]
// exactly, in OUT_BITS-bit two's complement (the caller guarantees the result
// fits; the arithmetic is done modulo 2^OUT_BITS, which is exact then even
// where a single product would not fit). Element i of every beat is at
// tdata[i*BITS +: BITS].
//
// Pairing: a pair is consumed (leaves the two input slices together) only
// when both inputs have a beat; no beat is ever used, dropped or reordered
// without its partner. Each input has its own register slice (gs_skid), so
// both tready outputs are registers; the price is that a slice may accept up
// to two beats of its input before their partners arrive (tready cannot wait
// for the other input's tvalid without a combinational path, or without
// halving the throughput). That is bounded buffering, never a deadlock: it
// only adds two beats of slack to each branch of a residual block.
//
// Timing: one beat pair a cycle while unstalled; latency 3 cycles (input
// handshake in cycle t -> m_axis_tvalid in cycle t+3: input slice, product
// register, output slice).
//
// Multipliers: a lane multiplies by a constant only when it must. A bipolar
// operand selects +M or -M; M = 1 passes the operand through; otherwise a
// constant multiply of OUT_BITS bits.
//
// Parameters
//   PE                           lanes per beat
//   A_BITS, A_SIGNED, A_BIPOLAR  s0 element encoding (bipolar: 1 bit, 1 = +1, 0 = -1)
//   B_BITS, B_SIGNED, B_BIPOLAR  s1 element encoding
//   M_A, M_B                     signed 64-bit integer multipliers, |M| < 2^63 (scales of the two
//                                inputs can lie many octaves apart on their common grid)
//   OUT_BITS                     output element width, signed
//
// Clock clk, synchronous active-low reset rst_n. Needs gs_skid.v.
module gs_add #(
    parameter PE         = 1,
    parameter A_BITS     = 8,
    parameter A_SIGNED   = 1,
    parameter A_BIPOLAR  = 0,
    parameter B_BITS     = 8,
    parameter B_SIGNED   = 1,
    parameter B_BIPOLAR  = 0,
    parameter signed [63:0] M_A = 64'sd1,
    parameter signed [63:0] M_B = 64'sd1,
    parameter OUT_BITS   = 9
) (
    input  wire                   clk,
    input  wire                   rst_n,

    input  wire [PE*A_BITS-1:0]   s0_axis_tdata,
    input  wire                   s0_axis_tvalid,
    output wire                   s0_axis_tready,

    input  wire [PE*B_BITS-1:0]   s1_axis_tdata,
    input  wire                   s1_axis_tvalid,
    output wire                   s1_axis_tready,

    output wire [PE*OUT_BITS-1:0] m_axis_tdata,
    output wire                   m_axis_tvalid,
    input  wire                   m_axis_tready
);

    localparam XW = (A_BITS > B_BITS) ? A_BITS : B_BITS;

    generate
        if ((A_BIPOLAR && A_BITS != 1) || (B_BIPOLAR && B_BITS != 1)) begin : g_bad_bipolar
            gs_add_error_bipolar_operands_are_1_bit u_error ();
        end
        if (PE < 1 || A_BITS < 1 || B_BITS < 1 || OUT_BITS < 2) begin : g_bad_width
            gs_add_error_PE_and_widths_must_be_positive u_error ();
        end
    endgenerate

    // the 64-bit signed multiplier m, sign-extended (or truncated) to OUT_BITS
    function [OUT_BITS-1:0] mconst;
        input [63:0] m;
        integer i;
        begin
            for (i = 0; i < OUT_BITS; i = i + 1) begin
                mconst[i] = m[(i < 64) ? i : 63];
            end
        end
    endfunction

    // the raw element value (bits wide, signed or unsigned) in OUT_BITS bits
    function [OUT_BITS-1:0] widen;
        input [XW-1:0] raw;
        input integer  bits;
        input integer  sgn;
        integer i;
        begin
            for (i = 0; i < OUT_BITS; i = i + 1) begin
                if (i < bits) begin
                    widen[i] = raw[(i < XW) ? i : XW - 1];
                end else begin
                    widen[i] = (sgn != 0) && raw[bits - 1];
                end
            end
        end
    endfunction

    // ------------------------------------------------------------ stage 0: input slices
    wire [PE*A_BITS-1:0] a0;
    wire [PE*B_BITS-1:0] b0;
    wire                 a0_valid, b0_valid;
    wire                 en;
    wire                 pair = a0_valid && b0_valid && en;

    gs_skid #(
        .WIDTH(PE * A_BITS)
    ) u_in0 (
        .clk           (clk),
        .rst_n         (rst_n),
        .s_axis_tdata  (s0_axis_tdata),
        .s_axis_tvalid (s0_axis_tvalid),
        .s_axis_tready (s0_axis_tready),
        .m_axis_tdata  (a0),
        .m_axis_tvalid (a0_valid),
        .m_axis_tready (pair)
    );

    gs_skid #(
        .WIDTH(PE * B_BITS)
    ) u_in1 (
        .clk           (clk),
        .rst_n         (rst_n),
        .s_axis_tdata  (s1_axis_tdata),
        .s_axis_tvalid (s1_axis_tvalid),
        .s_axis_tready (s1_axis_tready),
        .m_axis_tdata  (b0),
        .m_axis_tvalid (b0_valid),
        .m_axis_tready (pair)
    );

    // ------------------------------------------------------------ stage 1: products
    // term t of lane k (t = 0: M_A * a, t = 1: M_B * b) at [(t*PE + k)*OUT_BITS +: OUT_BITS]
    wire [2*PE*OUT_BITS-1:0] prod0;

    genvar k, t;
    generate
        for (k = 0; k < PE; k = k + 1) begin : g_lane
            wire [2*XW-1:0] x;   // a and b of lane k, each zero-extended to XW bits
            assign x[A_BITS-1:0]   = a0[k*A_BITS +: A_BITS];
            assign x[XW +: B_BITS] = b0[k*B_BITS +: B_BITS];
            if (XW > A_BITS) begin : g_apad
                assign x[XW-1:A_BITS] = {(XW - A_BITS){1'b0}};
            end
            if (XW > B_BITS) begin : g_bpad
                assign x[2*XW-1:XW+B_BITS] = {(XW - B_BITS){1'b0}};
            end
            for (t = 0; t < 2; t = t + 1) begin : g_term
                localparam BITS = t ? B_BITS : A_BITS;
                localparam SGN  = t ? B_SIGNED : A_SIGNED;
                localparam BIP  = t ? B_BIPOLAR : A_BIPOLAR;
                localparam signed [63:0] M = t ? M_B : M_A;
                localparam [OUT_BITS-1:0] MC = mconst(M);
                /* verilator lint_off UNUSEDSIGNAL */
                wire [XW-1:0] raw = x[t*XW +: XW];   // a bipolar operand uses bit 0 only
                /* verilator lint_on UNUSEDSIGNAL */
                wire [OUT_BITS-1:0] p;
                if (BIP) begin : g_bipolar           // +M or -M, no multiplier
                    assign p = raw[0] ? MC : -MC;
                end else if (M == 1) begin : g_one   // the operand itself, no multiplier
                    assign p = widen(raw, BITS, SGN);
                end else begin : g_mul               // constant multiply
                    assign p = widen(raw, BITS, SGN) * MC;
                end
                assign prod0[(t*PE + k)*OUT_BITS +: OUT_BITS] = p;
            end
        end
    endgenerate

    reg                      v1;
    reg [2*PE*OUT_BITS-1:0]  prod1;
    reg [PE*OUT_BITS-1:0]    sum1;
    wire                     skid_ready;

    assign en = !(v1 && !skid_ready);

    always @(posedge clk) begin
        if (!rst_n) begin
            v1 <= 1'b0;
        end else if (en) begin
            v1 <= a0_valid && b0_valid;
        end
    end

    always @(posedge clk) begin
        if (pair) begin
            prod1 <= prod0;
        end
    end

    integer ap;
    always @* begin
        for (ap = 0; ap < PE; ap = ap + 1) begin
            sum1[ap*OUT_BITS +: OUT_BITS] = prod1[ap*OUT_BITS +: OUT_BITS] + prod1[(PE + ap)*OUT_BITS +: OUT_BITS];
        end
    end

    // ------------------------------------------------------------ stage 2: output slice
    gs_skid #(
        .WIDTH(PE * OUT_BITS)
    ) u_out (
        .clk           (clk),
        .rst_n         (rst_n),
        .s_axis_tdata  (sum1),
        .s_axis_tvalid (v1),
        .s_axis_tready (skid_ready),
        .m_axis_tdata  (m_axis_tdata),
        .m_axis_tvalid (m_axis_tvalid),
        .m_axis_tready (m_axis_tready)
    );

endmodule
