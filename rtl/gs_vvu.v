// gs_vvu -- streaming vector-vector unit: depthwise convolution on windows.
//
// For every output pixel the unit reads POS window positions of C channels
// (exactly what gs_swg emits: position-major, channels in groups of PE per
// beat) and computes, per channel c,
//     out[c] = sum_p W[c][p] * x[p][c]
// exactly, in ACC_BITS-bit two's complement (the caller guarantees the sum
// fits). Input beat (p, g) holds x[p][g*PE + k] in lane k; output beat g of a
// pixel holds out[g*PE + k] in lane k. One input beat per cycle, unstalled:
// POS * C/PE cycles per output pixel; output beat g leaves with the last
// position's beat of group g (latency 3 cycles: registered ROM read /
// input register, accumulate, output slice). s_axis_tready depends only on
// registers (gs_skid at the output).
//
// Partial sums live in a C/PE-word memory read combinationally at the
// accumulate stage, so consecutive beats of the same group (C = PE) need no
// forwarding.
//
// Parameters
//   POS           window positions per output pixel (KH*KW)
//   C, PE         channels, and channels per beat (PE divides C)
//   IN_BITS, IN_SIGNED, IN_BIPOLAR   input element encoding (bipolar: 1 bit, 1 = +1)
//   W_BITS, W_SIGNED, W_BIPOLAR      weight encoding
//   ACC_BITS      output width, signed
//   WEIGHT_FILE   $readmemh file: depth POS*C/PE, word width PE*W_BITS;
//                 word p*(C/PE)+g, bits [k*W_BITS +: W_BITS] = W[g*PE+k][p]
//   MEM_STYLE     weight ROM: "auto" (the tool decides), "distributed" (LUT
//                 logic) or "block" (RAMB18/36); see gs_mvu.v for the attributes
//   MUL_STYLE     products: "auto"/"dsp" ('*', may map to DSP slices) or "lut"
//                 (shift-and-add, never a DSP)
//
// Clock clk, synchronous active-low reset rst_n. Needs gs_skid.v.
module gs_vvu #(
    parameter POS         = 9,
    parameter C           = 4,
    parameter PE          = 1,
    parameter IN_BITS     = 4,
    parameter IN_SIGNED   = 0,
    parameter IN_BIPOLAR  = 0,
    parameter W_BITS      = 4,
    parameter W_SIGNED    = 1,
    parameter W_BIPOLAR   = 0,
    parameter ACC_BITS    = 16,
    parameter WEIGHT_FILE = "",
    parameter [8*11-1:0] MEM_STYLE = "auto",
    parameter [8*4-1:0]  MUL_STYLE = "auto"
) (
    input  wire                     clk,
    input  wire                     rst_n,

    input  wire [PE*IN_BITS-1:0]    s_axis_tdata,
    input  wire                     s_axis_tvalid,
    output wire                     s_axis_tready,

    output wire [PE*ACC_BITS-1:0]   m_axis_tdata,
    output wire                     m_axis_tvalid,
    input  wire                     m_axis_tready
);

    // ceil(log2(value)) for value >= 1 (Verilog-2001 has no $clog2)
    function integer clog2;
        input integer value;
        integer v;
        begin
            v = value - 1;
            for (clog2 = 0; v > 0; clog2 = clog2 + 1) begin
                v = v >> 1;
            end
        end
    endfunction

    localparam G     = C / PE;
    localparam DEPTH = POS * G;
    localparam GW    = (G > 1) ? clog2(G) : 1;
    localparam PW    = (POS > 1) ? clog2(POS) : 1;
    localparam AW    = (DEPTH > 1) ? clog2(DEPTH) : 1;
    localparam G_LAST_I  = G - 1;
    localparam P_LAST_I  = POS - 1;
    localparam AD_LAST_I = DEPTH - 1;
    localparam [GW-1:0] G_LAST  = G_LAST_I[GW-1:0];
    localparam [PW-1:0] P_LAST  = P_LAST_I[PW-1:0];
    localparam [AW-1:0] AD_LAST = AD_LAST_I[AW-1:0];
    localparam XV = IN_BITS + 1;   // decoded operands: two's complement with a spare bit
    localparam WV = W_BITS + 1;

    // style names at the parameters' widths (string literals compare zero-padded)
    localparam [8*11-1:0] M_AUTO  = "auto";
    localparam [8*11-1:0] M_DIST  = "distributed";
    localparam [8*11-1:0] M_BLOCK = "block";
    localparam ROM_INLINE = 4;  // ROMs of up to 4 words stay in this module (see g_rom_small)
    localparam [8*4-1:0]  X_AUTO  = "auto";
    localparam [8*4-1:0]  X_DSP   = "dsp";
    localparam [8*4-1:0]  X_LUT   = "lut";

    generate
        if (C % PE != 0) begin : g_bad_pe
            gs_vvu_error_PE_must_divide_C u_error ();
        end
        if ((IN_BIPOLAR && IN_BITS != 1) || (W_BIPOLAR && W_BITS != 1)) begin : g_bad_bipolar
            gs_vvu_error_bipolar_operands_are_1_bit u_error ();
        end
        if (MEM_STYLE != M_AUTO && MEM_STYLE != M_DIST && MEM_STYLE != M_BLOCK) begin : g_bad_mem
            gs_vvu_error_MEM_STYLE_auto_distributed_or_block u_error ();
        end
        if (MUL_STYLE != X_AUTO && MUL_STYLE != X_DSP && MUL_STYLE != X_LUT) begin : g_bad_mul
            gs_vvu_error_MUL_STYLE_auto_dsp_or_lut u_error ();
        end
    endgenerate

    // ------------------------------------------------------------ stage 0: counters
    wire           en;
    reg  [GW-1:0]  g;
    reg  [PW-1:0]  p;
    reg  [AW-1:0]  addr;
    wire           take = en && s_axis_tvalid;

    assign s_axis_tready = en;

    always @(posedge clk) begin
        if (!rst_n) begin
            g    <= {GW{1'b0}};
            p    <= {PW{1'b0}};
            addr <= {AW{1'b0}};
        end else if (take) begin
            g    <= (g == G_LAST) ? {GW{1'b0}} : g + 1'b1;
            addr <= (addr == AD_LAST) ? {AW{1'b0}} : addr + 1'b1;
            if (g == G_LAST) begin
                p <= (p == P_LAST) ? {PW{1'b0}} : p + 1'b1;
            end
        end
    end

    // ------------------------------------------------------------ stage 1: operands
    reg                   v1, first1, last1;
    reg [GW-1:0]          g1;
    reg [PE*IN_BITS-1:0]  x1;
    wire [PE*W_BITS-1:0]  w1;

    always @(posedge clk) begin
        if (!rst_n) begin
            v1 <= 1'b0;
        end else if (en) begin
            v1 <= s_axis_tvalid;
        end
    end

    // the weight ROM, registered read: a gs_rom (a module of its own, see there) above ROM_INLINE words
    generate
        if (DEPTH > ROM_INLINE || MEM_STYLE == M_BLOCK) begin : g_rom
            gs_rom #(.DEPTH(DEPTH), .WIDTH(PE*W_BITS), .MEM_FILE(WEIGHT_FILE), .MEM_STYLE(MEM_STYLE)) u_rom (
                .clk(clk), .en(en), .addr(addr), .q(w1));
        end else begin : g_rom_small
            // up to ROM_INLINE words: kept in this module, where its constants fold (see gs_rom.v)
            reg [PE*W_BITS-1:0] q;
            reg [PE*W_BITS-1:0] rom [0:DEPTH-1];
            initial if (WEIGHT_FILE != "") $readmemh(WEIGHT_FILE, rom);
            always @(posedge clk) if (en) q <= rom[addr];
            assign w1 = q;
        end
    endgenerate

    always @(posedge clk) begin
        if (en) begin
            x1     <= s_axis_tdata;
            g1     <= g;
            first1 <= (p == {PW{1'b0}});
            last1  <= (p == P_LAST);
        end
    end

    function [ACC_BITS-1:0] sext_pv;   // XV+WV -> ACC_BITS (truncates if narrower)
        input [XV+WV-1:0] v;
        integer i;
        begin
            for (i = 0; i < ACC_BITS; i = i + 1) begin
                sext_pv[i] = v[(i < XV + WV) ? i : XV + WV - 1];
            end
        end
    endfunction

    // a*b modulo 2^(XV+WV), a sign-extended to XV+WV bits, b a WV-bit two's
    // complement value: shift-and-add over the bits of b, the sign bit weighing
    // -2^(WV-1). No '*', so synthesis builds it in LUTs, never in a DSP.
    function [XV+WV-1:0] mul_lut;
        input [XV+WV-1:0] a;
        input [WV-1:0]    b;
        integer i;
        begin
            mul_lut = {(XV+WV){1'b0}};
            for (i = 0; i < WV - 1; i = i + 1) begin
                if (b[i]) mul_lut = mul_lut + (a << i);
            end
            if (b[WV-1]) mul_lut = mul_lut - (a << (WV - 1));
        end
    endfunction

    wire [PE*ACC_BITS-1:0] prod1;
    genvar k;
    generate
        for (k = 0; k < PE; k = k + 1) begin : g_lane
            wire [IN_BITS-1:0] xr = x1[k*IN_BITS +: IN_BITS];
            wire [W_BITS-1:0]  wr = w1[k*W_BITS +: W_BITS];
            wire [XV-1:0] xv;
            wire [WV-1:0] wv;
            if (IN_BIPOLAR) begin : g_xbip
                assign xv = xr[0] ? {{(XV-1){1'b0}}, 1'b1} : {XV{1'b1}};
            end else begin : g_xint
                assign xv = IN_SIGNED ? {xr[IN_BITS-1], xr} : {1'b0, xr};
            end
            if (W_BIPOLAR) begin : g_wbip
                assign wv = wr[0] ? {{(WV-1){1'b0}}, 1'b1} : {WV{1'b1}};
            end else begin : g_wint
                assign wv = W_SIGNED ? {wr[W_BITS-1], wr} : {1'b0, wr};
            end
            wire signed [XV+WV-1:0] xs = {{WV{xv[XV-1]}}, xv};
            wire [XV+WV-1:0] pr;             // exact: |x*w| < 2^(XV+WV-1)
            if (MUL_STYLE == X_LUT) begin : g_lut
                assign pr = mul_lut(xs, wv);
            end else begin : g_dsp
                wire signed [XV+WV-1:0] ws = {{XV{wv[WV-1]}}, wv};
                assign pr = xs * ws;
            end
            assign prod1[k*ACC_BITS +: ACC_BITS] = sext_pv(pr);
        end
    endgenerate

    // ------------------------------------------------------------ stage 2: accumulate
    reg                    v2, first2, last2;
    reg [GW-1:0]           g2;
    reg [PE*ACC_BITS-1:0]  d2;
    reg [PE*ACC_BITS-1:0]  accm [0:G-1];
    reg [PE*ACC_BITS-1:0]  acc_next;
    wire                   skid_ready;

    assign en = !(v2 && last2 && !skid_ready);

    always @(posedge clk) begin
        if (!rst_n) begin
            v2 <= 1'b0;
        end else if (en) begin
            v2 <= v1;
        end
    end

    always @(posedge clk) begin
        if (en) begin
            d2     <= prod1;
            g2     <= g1;
            first2 <= first1;
            last2  <= last1;
        end
    end

    wire [PE*ACC_BITS-1:0] part = accm[g2];
    integer ap;
    always @* begin
        for (ap = 0; ap < PE; ap = ap + 1) begin
            acc_next[ap*ACC_BITS +: ACC_BITS] =
                (first2 ? {ACC_BITS{1'b0}} : part[ap*ACC_BITS +: ACC_BITS]) + d2[ap*ACC_BITS +: ACC_BITS];
        end
    end

    always @(posedge clk) begin
        if (en && v2) begin
            accm[g2] <= acc_next;
        end
    end

    gs_skid #(
        .WIDTH(PE * ACC_BITS)
    ) u_out (
        .clk           (clk),
        .rst_n         (rst_n),
        .s_axis_tdata  (acc_next),
        .s_axis_tvalid (v2 && last2),
        .s_axis_tready (skid_ready),
        .m_axis_tdata  (m_axis_tdata),
        .m_axis_tvalid (m_axis_tvalid),
        .m_axis_tready (m_axis_tready)
    );

endmodule
