// gs_requant -- streaming dyadic / shift requantizer.
//
//   t   = x * M[c] + B[c]                 (exact; M[c] taken as 1 if USE_MULT=0)
//   q   = round_ROUNDING(t / 2^SHIFT)     (exact rational, see ROUNDING)
//   out = clamp(q, LO, HI)
//
// PE channels per beat; beat i carries channels (i mod (C/PE))*PE + p for
// lanes p = 0..PE-1, cycling through the C/PE channel folds forever.
// II = 1; latency 3 cycles (s_axis handshake in cycle t -> m_axis_tvalid in
// cycle t+3: ROM/input register, product register, round+clamp into the
// output slice). s_axis_tready depends only on registers (gs_skid at the output).
//
// Parameters
//   C, PE       channels; channels per beat (PE divides C)
//   IN_BITS     input width (signed)
//   M_BITS      multiplier width (signed); B_BITS bias width (signed)
//   SHIFT       right shift (>= 0)
//   ROUNDING    0 ROUND (half to even), 1 CEIL, 2 FLOOR, 3 UP (away from zero),
//               4 DOWN (toward zero), 5 HALF_UP (ties away from zero),
//               6 HALF_DOWN (ties toward zero); SHIFT=0: identity
//   LO, HI      clamp bounds (signed integers, representable in the output)
//   OUT_BITS    output width; OUT_SIGNED 1: two's complement, 0: unsigned
//   PARAM_FILE  $readmemh file: depth C/PE, word width PE*(M_BITS+B_BITS);
//               lane p: B at [p*(M_BITS+B_BITS) +: B_BITS],
//                       M at [p*(M_BITS+B_BITS)+B_BITS +: M_BITS]
//   USE_MULT    1: multiply by M; 0: M fields ignored (no multiplier is built)
//
// Streams: element p at [p*IN_BITS +: IN_BITS] in, [p*OUT_BITS +: OUT_BITS] out.
// Clock clk, synchronous active-low reset rst_n. Needs gs_skid.v.
module gs_requant #(
    parameter C          = 4,
    parameter PE         = 1,
    parameter IN_BITS    = 16,
    parameter M_BITS     = 8,
    parameter B_BITS     = 16,
    parameter SHIFT      = 8,
    parameter ROUNDING   = 0,
    parameter LO         = -128,
    parameter HI         = 127,
    parameter OUT_BITS   = 8,
    parameter OUT_SIGNED = 1,
    parameter PARAM_FILE = "",
    parameter USE_MULT   = 1
) (
    input  wire                     clk,
    input  wire                     rst_n,

    input  wire [PE*IN_BITS-1:0]    s_axis_tdata,
    input  wire                     s_axis_tvalid,
    output wire                     s_axis_tready,

    output wire [PE*OUT_BITS-1:0]   m_axis_tdata,
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

    localparam CF   = C / PE;
    localparam ROM_INLINE = 4;  // ROMs of up to 4 words stay in this module (see g_rom_small)
    localparam LW   = M_BITS + B_BITS;                   // lane field width
    localparam PW   = PE * LW;                           // parameter word
    localparam FW   = (CF > 1) ? clog2(CF) : 1;
    localparam FOLD_LAST_I = CF - 1;
    localparam [FW-1:0] FOLD_LAST = FOLD_LAST_I[FW-1:0];
    // t = x*M + B is exact in TW bits (signed)
    localparam XM   = USE_MULT ? IN_BITS + M_BITS : IN_BITS;
    localparam TW   = ((XM > B_BITS) ? XM : B_BITS) + 1;
    localparam QW   = TW + 1;                            // after the rounding increment
    localparam KW   = (QW > 32) ? QW : 32;               // clamp compare width
    localparam OUT_MIN = OUT_SIGNED ? -(1 << (OUT_BITS - 1)) : 0;
    localparam OUT_MAX = OUT_SIGNED ? (1 << (OUT_BITS - 1)) - 1 : (1 << OUT_BITS) - 1;

    generate
        if (C % PE != 0) begin : g_bad_pe
            gs_requant_error_PE_must_divide_C u_error ();
        end
        if (ROUNDING < 0 || ROUNDING > 6 || SHIFT < 0) begin : g_bad_rounding
            gs_requant_error_ROUNDING_0_to_6_SHIFT_ge_0 u_error ();
        end
        if (LO > HI || LO < OUT_MIN || HI > OUT_MAX || OUT_BITS > KW) begin : g_bad_range
            gs_requant_error_LO_HI_not_in_OUT_range u_error ();
        end
    endgenerate

    // ---- width helpers (explicit, lint-clean sign extension)
    function [TW-1:0] sext_in;
        input [IN_BITS-1:0] v;
        begin
            sext_in = {TW{v[IN_BITS-1]}};
            sext_in[IN_BITS-1:0] = v;
        end
    endfunction

    function [TW-1:0] sext_b;
        input [B_BITS-1:0] v;
        begin
            sext_b = {TW{v[B_BITS-1]}};
            sext_b[B_BITS-1:0] = v;
        end
    endfunction

    function [KW-1:0] sext_k;   // QW -> KW bits
        input [QW-1:0] v;
        begin
            sext_k = {KW{v[QW-1]}};
            sext_k[QW-1:0] = v;
        end
    endfunction

    function [KW-1:0] sext_int; // 32-bit integer -> KW bits
        input [31:0] v;
        begin
            sext_int = {KW{v[31]}};
            sext_int[31:0] = v;
        end
    endfunction

    localparam [KW-1:0] LO_K = sext_int(LO);
    localparam [KW-1:0] HI_K = sext_int(HI);

    // ---- stage 1: input beat and its parameters (registered ROM read)
    wire                  skid_ready;
    reg                   v1, v2;
    reg [FW-1:0]          fold;
    reg [PE*IN_BITS-1:0]  x1;
    // with USE_MULT=0 the M fields of the word are read but not used
    /* verilator lint_off UNUSEDSIGNAL */
    wire [PW-1:0]         p1;
    /* verilator lint_on UNUSEDSIGNAL */
    reg [PE*TW-1:0]       t2;
    wire en = !v2 || skid_ready;

    assign s_axis_tready = en;

    always @(posedge clk) begin
        if (!rst_n) begin
            v1   <= 1'b0;
            v2   <= 1'b0;
            fold <= {FW{1'b0}};
        end else if (en) begin
            v1 <= s_axis_tvalid;
            v2 <= v1;
            if (s_axis_tvalid) begin
                fold <= (fold == FOLD_LAST) ? {FW{1'b0}} : fold + 1'b1;
            end
        end
    end

    always @(posedge clk) begin
        if (en) begin
            x1 <= s_axis_tdata;
        end
    end

    // the parameter ROM, registered read: a gs_rom (a module of its own, see there) above ROM_INLINE words
    generate
        if (CF > ROM_INLINE) begin : g_rom
            gs_rom #(.DEPTH(CF), .WIDTH(PW), .MEM_FILE(PARAM_FILE)) u_rom (
                .clk(clk), .en(en), .addr(fold), .q(p1));
        end else begin : g_rom_small
            // up to ROM_INLINE words: kept in this module, where its constants fold (see gs_rom.v)
            reg [PW-1:0] q;
            reg [PW-1:0] rom [0:CF-1];
            initial if (PARAM_FILE != "") $readmemh(PARAM_FILE, rom);
            always @(posedge clk) if (en) q <= rom[fold];
            assign p1 = q;
        end
    endgenerate

    // ---- stage 2: t = x*M + B, registered
    wire [PE*TW-1:0] t1;
    wire [PE*OUT_BITS-1:0] result;

    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_lane
            wire [IN_BITS-1:0] x = x1[p*IN_BITS +: IN_BITS];
            wire [B_BITS-1:0]  b = p1[p*LW +: B_BITS];
            if (USE_MULT) begin : g_mul
                wire signed [M_BITS-1:0]        m = p1[p*LW + B_BITS +: M_BITS];
                wire signed [IN_BITS+M_BITS-1:0] xs = {{M_BITS{x[IN_BITS-1]}}, x};
                wire signed [IN_BITS+M_BITS-1:0] ms = {{IN_BITS{m[M_BITS-1]}}, m};
                // low IN_BITS+M_BITS bits of the product of the extended
                // operands = the exact product
                wire [IN_BITS+M_BITS-1:0] prod = xs * ms;
                wire [TW-1:0] prod_t;
                if (TW > IN_BITS + M_BITS) begin : g_ext
                    assign prod_t = {{(TW - IN_BITS - M_BITS){prod[IN_BITS+M_BITS-1]}}, prod};
                end else begin : g_same
                    assign prod_t = prod;
                end
                assign t1[p*TW +: TW] = prod_t + sext_b(b);
            end else begin : g_add
                assign t1[p*TW +: TW] = sext_in(x) + sext_b(b);
            end

            // ---- stage 3: round, clamp (combinational into the output slice)
            wire [TW-1:0] t   = t2[p*TW +: TW];
            wire [QW-1:0] q;
            if (SHIFT == 0) begin : g_noshift
                assign q = {t[TW-1], t};
            end else begin : g_shift
                // floor(t / 2^SHIFT) and the fraction bits
                wire [TW-1:0]    fl = $signed(t) >>> SHIFT;
                wire [SHIFT-1:0] frac;
                if (SHIFT <= TW) begin : g_frac
                    assign frac = t[SHIFT-1:0];
                end else begin : g_frac_wide
                    assign frac = {{(SHIFT - TW){t[TW-1]}}, t};
                end
                wire [SHIFT-1:0] frac_sh = frac << 1;       // drops the top bit
                wire neg   = t[TW-1];
                wire nz    = |frac;
                wire half  = frac[SHIFT-1] && (frac_sh == {SHIFT{1'b0}});
                wire above = frac[SHIFT-1] && !half;
                reg  inc;
                always @* begin
                    case (ROUNDING)
                        0:       inc = above || (half && fl[0]);   // half to even
                        1:       inc = nz;                         // ceil
                        2:       inc = 1'b0;                       // floor
                        3:       inc = nz && !neg;                 // away from zero
                        4:       inc = nz && neg;                  // toward zero
                        5:       inc = above || (half && !neg);    // ties away from zero
                        default: inc = above || (half && neg);     // ties toward zero
                    endcase
                end
                assign q = {fl[TW-1], fl} + {{(QW - 1){1'b0}}, inc};
            end

            wire [KW-1:0] qk = sext_k(q);
            wire [KW-1:0] clamped = ($signed(qk) < $signed(LO_K)) ? LO_K :
                                    ($signed(qk) > $signed(HI_K)) ? HI_K : qk;
            // LO..HI fit in OUT_BITS (checked above): the upper bits are copies
            /* verilator lint_off UNUSEDSIGNAL */
            wire [KW-1:0] clamped_out = clamped;
            /* verilator lint_on UNUSEDSIGNAL */
            assign result[p*OUT_BITS +: OUT_BITS] = clamped_out[OUT_BITS-1:0];
        end
    endgenerate

    always @(posedge clk) begin
        if (en) begin
            t2 <= t1;
        end
    end

    gs_skid #(
        .WIDTH(PE * OUT_BITS)
    ) u_out (
        .clk           (clk),
        .rst_n         (rst_n),
        .s_axis_tdata  (result),
        .s_axis_tvalid (v2),
        .s_axis_tready (skid_ready),
        .m_axis_tdata  (m_axis_tdata),
        .m_axis_tvalid (m_axis_tvalid),
        .m_axis_tready (m_axis_tready)
    );

endmodule
