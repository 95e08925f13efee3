// gs_mvu -- streaming matrix-vector unit: out = W . x for every input vector.
//
// W is MH x MW, held in a ROM. The unit computes PE rows x SIMD columns per
// cycle: SF = MW/SIMD input beats make one vector, NF = MH/PE output beats
// make one result. Each cycle reads one weight word (address n*SF + s, fold
// n, slice s), so a vector takes exactly NF*SF cycles when unstalled, and
// vectors follow each other with no gap (steady state: one vector every
// NF*SF cycles). Input beats are taken during fold 0 (one per cycle) and kept
// in an SF-entry buffer that folds 1..NF-1 replay; the next vector's fold 0
// starts the cycle after the last fold's final slice. Latency: the output beat
// of fold n is valid 3 cycles after its last slice was issued (registered ROM
// read / input register, product register, accumulate into the output slice).
// s_axis_tready depends only on registers (gs_skid at the output).
//
// Arithmetic: operands decoded to integers (bipolar bit 1 -> +1, 0 -> -1;
// signed = two's complement; unsigned plain), products summed exactly into
// ACC_BITS-bit two's complement (the caller guarantees the result fits).
//   bipolar x bipolar  : XNOR + popcount, 2*popcount - SIMD per slice
//   bipolar x integer  : conditional negate (no multiplier)
//   integer x integer  : multiply
//
// Parameters
//   MW, MH        matrix columns (input length), rows (output length)
//   PE, SIMD      rows and columns per cycle (PE divides MH, SIMD divides MW;
//                 for a ragged PE the generator passes MH rounded up to a
//                 multiple of PE, the padding rows' weights 0, and drops the
//                 padding outputs in the gs_dwc behind the unit)
//   IN_BITS, IN_SIGNED, IN_BIPOLAR   input element encoding (bipolar: IN_BITS=1)
//   W_BITS, W_SIGNED, W_BIPOLAR      weight encoding (bipolar: W_BITS=1)
//   ACC_BITS      output (accumulator) width, signed
//   WEIGHT_FILE   $readmemh file: depth NF*SF, word width PE*SIMD*W_BITS;
//                 word n*SF+s, bits [(p*SIMD+k)*W_BITS +: W_BITS] =
//                 W[n*PE+p][s*SIMD+k]
//   MEM_STYLE     weight ROM: "auto" (the tool decides), "distributed" (LUT
//                 logic) or "block" (RAMB18/36): rom_style for Vivado; under
//                 Yosys (`YOSYS defined by read_verilog) the distributed branch
//                 says ram_style = "logic" instead, because Yosys' LUTRAM cells
//                 exclude ROMs ("distributed" finds no mapping there).
//                 "ultra" (gs_mvu_wl only): a RAM with ram_style = "ultra"
//                 (URAM288, 72 x 4096 each on UltraScale+) and no initial
//                 contents -- URAM cannot be initialised, so WEIGHT_FILE is
//                 not read; the words come in through the load port.
//   MUL_STYLE     integer x integer products: "auto"/"dsp" (a '*' the tool may
//                 map to DSP slices), "lut" (shift-and-add, never a DSP) or
//                 "pack": rows p and p+1 (p even) of SIMD lane k multiply the
//                 same x, so one multiplier computes both products,
//                 P = (w[p+1]*2^PS + w[p]) * x with PS = XE+WE (XE, WE: the
//                 operand widths as signed values, an unsigned one counting a
//                 bit more); the low PS bits are w[p]*x, P >>> PS plus 1 when
//                 that low product is negative is w[p+1]*x -- exact for every
//                 signed/unsigned combination. The last row of an odd PE
//                 multiplies alone. The packed operand, PW = PS+W_BITS+1
//                 bits, must fit the DSP's multiplier: PW <= PACK_A_MAX and
//                 XE <= 18, else elaboration fails
//                 (gs_mvu_error_MUL_STYLE_pack_...). Bipolar operands have no
//                 multiplier, so "pack" changes nothing there.
//   PACK_A_MAX    the packed operand's port width under MUL_STYLE "pack": 25
//                 (DSP48E1, 7-series: 25 x 18) or 27 (DSP48E2, UltraScale and
//                 UltraScale+: 27 x 18); any other value fails elaboration.
//                 The core cannot know the family: the caller states 27 only
//                 for a DSP48E2 part (Yosys synth_xilinx -family xcup maps a
//                 26- or 27-bit packed pair to one DSP48E2).
//
// Streams: input beat s of a vector holds x[s*SIMD+k] at [k*IN_BITS +: IN_BITS];
// output beat n holds out[n*PE+p] at [p*ACC_BITS +: ACC_BITS] (signed).
// Clock clk, synchronous active-low reset rst_n. Needs gs_skid.v.
// gs_mvu is gs_mvu_wl with its weight-load port tied off. gs_mvu_wl's load
// port (MEM_STYLE "ultra"; ignored otherwise): while wl_valid is high, word
// wl_data (the WEIGHT_FILE layout above) is written to address wl_addr at the
// clock edge; there is no ready, a write always takes one cycle. Load every
// address 0..NF*SF-1 before the first input beat; reset does not clear the
// memory.
module gs_mvu #(
    parameter MW          = 8,
    parameter MH          = 4,
    parameter PE          = 1,
    parameter SIMD        = 1,
    parameter IN_BITS     = 4,
    parameter IN_SIGNED   = 1,
    parameter IN_BIPOLAR  = 0,
    parameter W_BITS      = 4,
    parameter W_SIGNED    = 1,
    parameter W_BIPOLAR   = 0,
    parameter ACC_BITS    = 16,
    parameter WEIGHT_FILE = "",
    parameter [8*11-1:0] MEM_STYLE = "auto",
    parameter [8*4-1:0]  MUL_STYLE = "auto",
    parameter PACK_A_MAX  = 25
) (
    input  wire                     clk,
    input  wire                     rst_n,

    input  wire [SIMD*IN_BITS-1:0]  s_axis_tdata,
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

    localparam DEPTH = (MH / PE) * (MW / SIMD);
    localparam AW    = (DEPTH > 1) ? clog2(DEPTH) : 1;
    localparam WWORD = PE * SIMD * W_BITS;
    localparam [8*11-1:0] M_ULTRA = "ultra";

    generate
        if (MEM_STYLE == M_ULTRA) begin : g_bad_ultra
            gs_mvu_error_MEM_STYLE_ultra_needs_the_load_port_of_gs_mvu_wl u_error ();
        end
    endgenerate

    gs_mvu_wl #(
        .MW          (MW),
        .MH          (MH),
        .PE          (PE),
        .SIMD        (SIMD),
        .IN_BITS     (IN_BITS),
        .IN_SIGNED   (IN_SIGNED),
        .IN_BIPOLAR  (IN_BIPOLAR),
        .W_BITS      (W_BITS),
        .W_SIGNED    (W_SIGNED),
        .W_BIPOLAR   (W_BIPOLAR),
        .ACC_BITS    (ACC_BITS),
        .WEIGHT_FILE (WEIGHT_FILE),
        .MEM_STYLE   (MEM_STYLE),
        .MUL_STYLE   (MUL_STYLE),
        .PACK_A_MAX  (PACK_A_MAX)
    ) u_mvu (
        .clk           (clk),
        .rst_n         (rst_n),
        .s_axis_tdata  (s_axis_tdata),
        .s_axis_tvalid (s_axis_tvalid),
        .s_axis_tready (s_axis_tready),
        .m_axis_tdata  (m_axis_tdata),
        .m_axis_tvalid (m_axis_tvalid),
        .m_axis_tready (m_axis_tready),
        .wl_valid      (1'b0),
        .wl_addr       ({AW{1'b0}}),
        .wl_data       ({WWORD{1'b0}})
    );

endmodule

/* verilator lint_off DECLFILENAME */
module gs_mvu_wl #(
/* verilator lint_on DECLFILENAME */
    parameter MW          = 8,
    parameter MH          = 4,
    parameter PE          = 1,
    parameter SIMD        = 1,
    parameter IN_BITS     = 4,
    parameter IN_SIGNED   = 1,
    parameter IN_BIPOLAR  = 0,
    parameter W_BITS      = 4,
    parameter W_SIGNED    = 1,
    parameter W_BIPOLAR   = 0,
    parameter ACC_BITS    = 16,
    parameter WEIGHT_FILE = "",
    parameter [8*11-1:0] MEM_STYLE = "auto",
    parameter [8*4-1:0]  MUL_STYLE = "auto",
    parameter PACK_A_MAX  = 25
) (
    input  wire                     clk,
    input  wire                     rst_n,

    input  wire [SIMD*IN_BITS-1:0]  s_axis_tdata,
    input  wire                     s_axis_tvalid,
    output wire                     s_axis_tready,

    output wire [PE*ACC_BITS-1:0]   m_axis_tdata,
    output wire                     m_axis_tvalid,
    input  wire                     m_axis_tready,

    // weight load (MEM_STYLE "ultra"; unused otherwise)
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire                     wl_valid,
    input  wire [((MH/PE)*(MW/SIMD) > 1 ? clog2((MH/PE)*(MW/SIMD)) : 1)-1:0] wl_addr,
    input  wire [PE*SIMD*W_BITS-1:0] wl_data
    /* verilator lint_on UNUSEDSIGNAL */
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

    localparam SF    = MW / SIMD;
    localparam NF    = MH / PE;
    localparam DEPTH = NF * SF;
    localparam XWORD = SIMD * IN_BITS;
    localparam WWORD = PE * SIMD * W_BITS;
    localparam SFW   = (SF > 1) ? clog2(SF) : 1;
    localparam NFW   = (NF > 1) ? clog2(NF) : 1;
    localparam AW    = (DEPTH > 1) ? clog2(DEPTH) : 1;
    localparam ROM_INLINE = 4;  // ROMs of up to 4 words stay in this module (see g_rom_small)
    localparam SF_LAST_I = SF - 1;
    localparam NF_LAST_I = NF - 1;
    localparam AD_LAST_I = DEPTH - 1;
    localparam [SFW-1:0] SF_LAST = SF_LAST_I[SFW-1:0];
    localparam [NFW-1:0] NF_LAST = NF_LAST_I[NFW-1:0];
    localparam [AW-1:0]  AD_LAST = AD_LAST_I[AW-1:0];
    // decoded operand widths (two's complement, one spare bit so that
    // negation and the unsigned range both fit)
    localparam XV = IN_BITS + 1;
    localparam WV = W_BITS + 1;

    // style names at the parameters' widths (string literals compare zero-padded)
    localparam [8*11-1:0] M_AUTO  = "auto";
    localparam [8*11-1:0] M_DIST  = "distributed";
    localparam [8*11-1:0] M_BLOCK = "block";
    localparam [8*11-1:0] M_ULTRA = "ultra";
    localparam [8*4-1:0]  X_AUTO  = "auto";
    localparam [8*4-1:0]  X_DSP   = "dsp";
    localparam [8*4-1:0]  X_LUT   = "lut";
    localparam [8*4-1:0]  X_PACK  = "pack";

    // MUL_STYLE "pack": operand widths as signed values (an unsigned operand takes one
    // bit more), PS = a product's exact width (the shift between the two packed
    // weights), PH = WV = the high weight's field (w[p+1] - 1 still fits), PW = the
    // packed weight operand. It has to fit the DSP's signed multiplier: PW <= PACK_A_MAX
    // on the wide port (DSP48E1 25, DSP48E2 27), XE <= 18 on the 18-bit port.
    localparam XE = IN_BITS + (IN_SIGNED ? 0 : 1);
    localparam WE = W_BITS + (W_SIGNED ? 0 : 1);
    localparam PS = XE + WE;
    localparam PH = WV;
    localparam PW = PS + PH;
    localparam MUL_PACK = (MUL_STYLE == X_PACK) && !IN_BIPOLAR && !W_BIPOLAR;

    generate
        if (MW % SIMD != 0 || MH % PE != 0) begin : g_bad_fold
            gs_mvu_error_SIMD_must_divide_MW_and_PE_must_divide_MH u_error ();
        end
        if ((IN_BIPOLAR && IN_BITS != 1) || (W_BIPOLAR && W_BITS != 1)) begin : g_bad_bipolar
            gs_mvu_error_bipolar_operands_are_1_bit u_error ();
        end
        if (MEM_STYLE != M_AUTO && MEM_STYLE != M_DIST && MEM_STYLE != M_BLOCK && MEM_STYLE != M_ULTRA) begin : g_bad_mem
            gs_mvu_error_MEM_STYLE_auto_distributed_block_or_ultra u_error ();
        end
        if (MUL_STYLE != X_AUTO && MUL_STYLE != X_DSP && MUL_STYLE != X_LUT && MUL_STYLE != X_PACK) begin : g_bad_mul
            gs_mvu_error_MUL_STYLE_auto_dsp_lut_or_pack u_error ();
        end
        if (PACK_A_MAX != 25 && PACK_A_MAX != 27) begin : g_bad_pack_a
            gs_mvu_error_PACK_A_MAX_25_DSP48E1_or_27_DSP48E2 u_error ();
        end
        if (MUL_PACK && (PW > PACK_A_MAX || XE > 18)) begin : g_bad_pack
            gs_mvu_error_MUL_STYLE_pack_operands_exceed_the_DSP_PACK_A_MAX_x18 u_error ();
        end
    endgenerate

    // ------------------------------------------------------------ stage 0: issue
    wire            en;          // pipeline advances
    reg  [SFW-1:0]  sf;          // slice within the fold
    reg  [NFW-1:0]  nf;          // fold (output beat) within the vector
    reg  [AW-1:0]   addr;        // nf*SF + sf
    wire            need_in = (nf == {NFW{1'b0}});   // fold 0 reads the stream
    wire            sf_last = (sf == SF_LAST);
    wire            issue   = en && (!need_in || s_axis_tvalid);

    assign s_axis_tready = en && need_in;

    always @(posedge clk) begin
        if (!rst_n) begin
            sf   <= {SFW{1'b0}};
            nf   <= {NFW{1'b0}};
            addr <= {AW{1'b0}};
        end else if (issue) begin
            sf   <= sf_last ? {SFW{1'b0}} : sf + 1'b1;
            addr <= (addr == AD_LAST) ? {AW{1'b0}} : addr + 1'b1;
            if (sf_last) begin
                nf <= (nf == NF_LAST) ? {NFW{1'b0}} : nf + 1'b1;
            end
        end
    end

    // ------------------------------------------------------------ stage 1: operands
    reg              v1, first1, last1;
    wire [WWORD-1:0] w1;
    reg [XWORD-1:0]  xin1;
    wire [XWORD-1:0] x1;

    always @(posedge clk) begin
        if (!rst_n) begin
            v1 <= 1'b0;
        end else if (en) begin
            v1 <= !need_in || s_axis_tvalid;
        end
    end

    // the weight memory, registered read: a gs_rom (a module of its own, see
    // there), or a URAM written through the load port
    generate
        if (MEM_STYLE == M_ULTRA) begin : g_ram_ultra
            // URAM288: no initial contents, written through the load port
            (* ram_style = "ultra" *) reg [WWORD-1:0] wram [0:DEPTH-1];
            reg [WWORD-1:0] q;
            always @(posedge clk) if (wl_valid) wram[wl_addr] <= wl_data;
            always @(posedge clk) if (en) q <= wram[addr];
            assign w1 = q;
        end else if (DEPTH > ROM_INLINE || MEM_STYLE == M_BLOCK) begin : g_rom
            gs_rom #(.DEPTH(DEPTH), .WIDTH(WWORD), .MEM_FILE(WEIGHT_FILE), .MEM_STYLE(MEM_STYLE)) u_rom (
                .clk(clk), .en(en), .addr(addr), .q(w1));
        end else begin : g_rom_small
            // up to ROM_INLINE words: kept in this module, where its constants fold (see gs_rom.v)
            reg [WWORD-1:0] q;
            reg [WWORD-1:0] rom [0:DEPTH-1];
            initial if (WEIGHT_FILE != "") $readmemh(WEIGHT_FILE, rom);
            always @(posedge clk) if (en) q <= rom[addr];
            assign w1 = q;
        end
    endgenerate

    always @(posedge clk) begin
        if (en) begin
            xin1   <= s_axis_tdata;
            first1 <= (sf == {SFW{1'b0}});
            last1  <= sf_last;
        end
    end

    generate
        if (NF > 1) begin : g_buf
            // the current vector, replayed by folds 1..NF-1
            reg [XWORD-1:0] ibuf [0:SF-1];
            reg [XWORD-1:0] xbuf1;
            reg             sel_in1;
            always @(posedge clk) begin
                if (en) begin
                    if (need_in && s_axis_tvalid) begin
                        ibuf[sf] <= s_axis_tdata;
                    end
                    xbuf1   <= ibuf[sf];
                    sel_in1 <= need_in;
                end
            end
            assign x1 = sel_in1 ? xin1 : xbuf1;
        end else begin : g_nobuf
            assign x1 = xin1;
        end
    endgenerate

    // ------------------------------------------------------------ stage 1: dot products
    wire [PE*ACC_BITS-1:0] dsum;

    function [ACC_BITS-1:0] sext_xv;   // XV -> ACC_BITS (truncates if narrower)
        input [XV-1:0] v;
        integer i;
        begin
            for (i = 0; i < ACC_BITS; i = i + 1) begin
                sext_xv[i] = v[(i < XV) ? i : XV - 1];
            end
        end
    endfunction

    function [ACC_BITS-1:0] sext_wv;   // WV -> ACC_BITS
        input [WV-1:0] v;
        integer i;
        begin
            for (i = 0; i < ACC_BITS; i = i + 1) begin
                sext_wv[i] = v[(i < WV) ? i : WV - 1];
            end
        end
    endfunction

    function [ACC_BITS-1:0] sext_pv;   // XV+WV -> ACC_BITS
        input [XV+WV-1:0] v;
        integer i;
        begin
            for (i = 0; i < ACC_BITS; i = i + 1) begin
                sext_pv[i] = v[(i < XV + WV) ? i : XV + WV - 1];
            end
        end
    endfunction

    function [PS-1:0] sext_wps;        // WV -> PS (MUL_STYLE "pack": the low weight)
        input [WV-1:0] v;
        integer i;
        begin
            for (i = 0; i < PS; i = i + 1) begin
                sext_wps[i] = v[(i < WV) ? i : WV - 1];
            end
        end
    endfunction

    function [ACC_BITS-1:0] sext_ps;   // PS -> ACC_BITS
        input [PS-1:0] v;
        integer i;
        begin
            for (i = 0; i < ACC_BITS; i = i + 1) begin
                sext_ps[i] = v[(i < PS) ? i : PS - 1];
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

    // XNOR-popcount helpers (bipolar x bipolar)
    localparam CW = clog2(SIMD + 1);                 // popcount 0..SIMD
    localparam [CW:0] SIMD_C = SIMD[CW:0];

    function [CW-1:0] zext_bit;
        input b;
        begin
            zext_bit    = {CW{1'b0}};
            zext_bit[0] = b;
        end
    endfunction

    function [ACC_BITS-1:0] sext_d;    // CW+1 -> ACC_BITS
        input [CW:0] v;
        integer i;
        begin
            for (i = 0; i < ACC_BITS; i = i + 1) begin
                sext_d[i] = v[(i < CW + 1) ? i : CW];
            end
        end
    endfunction

    genvar p, k;
    generate
        if (IN_BIPOLAR && W_BIPOLAR) begin : g_xnor
            // per slice: sum of +-1 products = 2*popcount(xnor) - SIMD
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                wire [SIMD-1:0] w = w1[p*SIMD +: SIMD];
                wire [SIMD-1:0] match = ~(x1 ^ w);
                reg  [CW-1:0]   pc;
                integer j;
                always @* begin
                    pc = {CW{1'b0}};
                    for (j = 0; j < SIMD; j = j + 1) begin
                        pc = pc + zext_bit(match[j]);
                    end
                end
                wire [CW:0] d = {pc, 1'b0} - SIMD_C;   // in [-SIMD, SIMD]
                assign dsum[p*ACC_BITS +: ACC_BITS] = sext_d(d);
            end
        end else begin : g_int
            wire [PE*SIMD*ACC_BITS-1:0] contrib;
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                for (k = 0; k < SIMD; k = k + 1) begin : g_simd
                    // MUL_STYLE "pack": an odd row's products come from row p-1's multipliers
                    if (!(MUL_PACK && p % 2 == 1)) begin : g_lane
                        wire [IN_BITS-1:0] xr = x1[k*IN_BITS +: IN_BITS];
                        wire [W_BITS-1:0]  wr = w1[(p*SIMD + k)*W_BITS +: W_BITS];
                        wire [ACC_BITS-1:0] c;
                        if (IN_BIPOLAR) begin : g_xbip
                            // x = +-1: +-w
                            wire [WV-1:0] wv  = W_SIGNED ? {wr[W_BITS-1], wr} : {1'b0, wr};
                            wire [WV-1:0] wn  = -wv;
                            assign c = sext_wv(xr[0] ? wv : wn);
                        end else if (W_BIPOLAR) begin : g_wbip
                            // w = +-1: +-x
                            wire [XV-1:0] xv  = IN_SIGNED ? {xr[IN_BITS-1], xr} : {1'b0, xr};
                            wire [XV-1:0] xn  = -xv;
                            assign c = sext_xv(wr[0] ? xv : xn);
                        end else if (MUL_PACK && p + 1 < PE) begin : g_pack
                            // rows p and p+1 share x: P = (w[p+1]*2^PS + w[p]) * x in one
                            // multiplier; the weight operand is {w[p+1] - borrow, w[p] in PS
                            // bits}, borrow = (w[p] < 0). Low PS bits: w[p]*x; the rest,
                            // plus (w[p]*x < 0): w[p+1]*x.
                            wire [W_BITS-1:0] wr1 = w1[((p+1)*SIMD + k)*W_BITS +: W_BITS];
                            wire [WV-1:0] wv0 = W_SIGNED  ? {wr[W_BITS-1], wr}  : {1'b0, wr};
                            wire [WV-1:0] wv1 = W_SIGNED  ? {wr1[W_BITS-1], wr1} : {1'b0, wr1};
                            wire [WV-1:0] hi  = wv1 - {{(WV-1){1'b0}}, wv0[WV-1]};
                            wire signed [PW-1:0] wp = {hi, sext_wps(wv0)};
                            /* verilator lint_off UNUSEDSIGNAL */
                            wire [XV-1:0] xv  = IN_SIGNED ? {xr[IN_BITS-1], xr} : {1'b0, xr};
                            wire signed [XE-1:0] xs = xv[XE-1:0];
                            wire signed [PW+XE-1:0] pp = wp * xs;
                            wire [PS-1:0] p0 = pp[PS-1:0];
                            wire [PH+XE-1:0] p1 = pp[PW+XE-1:PS] + {{(PH+XE-1){1'b0}}, p0[PS-1]};
                            /* verilator lint_on UNUSEDSIGNAL */
                            assign c = sext_ps(p0);
                            assign contrib[((p+1)*SIMD + k)*ACC_BITS +: ACC_BITS] = sext_ps(p1[PS-1:0]);
                        end else begin : g_mul
                            wire [XV-1:0] xv  = IN_SIGNED ? {xr[IN_BITS-1], xr} : {1'b0, xr};
                            wire [WV-1:0] wv  = W_SIGNED  ? {wr[W_BITS-1], wr}  : {1'b0, wr};
                            wire signed [XV+WV-1:0] xs = {{WV{xv[XV-1]}}, xv};
                            wire [XV+WV-1:0] prod;         // exact: |x*w| < 2^(XV+WV-1)
                            if (MUL_STYLE == X_LUT) begin : g_lut
                                assign prod = mul_lut(xs, wv);
                            end else begin : g_dsp
                                // "auto", "dsp", and "pack" for the last row of an odd PE
                                wire signed [XV+WV-1:0] ws = {{XV{wv[WV-1]}}, wv};
                                assign prod = xs * ws;
                            end
                            assign c = sext_pv(prod);
                        end
                        assign contrib[(p*SIMD + k)*ACC_BITS +: ACC_BITS] = c;
                    end
                end
            end
            reg [PE*ACC_BITS-1:0] sums;
            reg [ACC_BITS-1:0]    s;
            integer ip, ik;
            always @* begin
                for (ip = 0; ip < PE; ip = ip + 1) begin
                    s = {ACC_BITS{1'b0}};
                    for (ik = 0; ik < SIMD; ik = ik + 1) begin
                        s = s + contrib[(ip*SIMD + ik)*ACC_BITS +: ACC_BITS];
                    end
                    sums[ip*ACC_BITS +: ACC_BITS] = s;
                end
            end
            assign dsum = sums;
        end
    endgenerate

    // ------------------------------------------------------------ stage 2: accumulate
    reg                    v2, first2, last2;
    reg [PE*ACC_BITS-1:0]  d2;
    reg [PE*ACC_BITS-1:0]  acc;
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
            d2     <= dsum;
            first2 <= first1;
            last2  <= last1;
        end
    end

    integer ap;
    always @* begin
        for (ap = 0; ap < PE; ap = ap + 1) begin
            acc_next[ap*ACC_BITS +: ACC_BITS] =
                (first2 ? {ACC_BITS{1'b0}} : acc[ap*ACC_BITS +: ACC_BITS])
                + d2[ap*ACC_BITS +: ACC_BITS];
        end
    end

    always @(posedge clk) begin
        if (en && v2) begin
            acc <= acc_next;
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
