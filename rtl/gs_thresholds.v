// gs_thresholds -- streaming multi-threshold requantizer.
//
//   out[c] = BASE + #{ k : x[c] >= T[c][k] }      (signed compare)
//
// PE channels per beat; beat i carries channels (i mod (C/PE))*PE + p for
// lanes p = 0..PE-1, cycling through the C/PE channel folds forever.
// II = 1: one beat in and one beat out per cycle when unstalled. Latency 2
// cycles (s_axis handshake in cycle t -> m_axis_tvalid in cycle t+2).
// s_axis_tready depends only on registers (the output goes through a
// gs_skid), so there is no combinational path from m_axis_tready.
//
// Parameters
//   C            channels (PE divides C)
//   PE           channels per beat
//   IN_BITS      input element width (signed two's complement)
//   N            thresholds per channel (>= 1)
//   T_BITS       threshold width, signed, >= IN_BITS
//   OUT_BITS     output element width
//   OUT_SIGNED   1: output is two's complement, 0: unsigned
//                (BASE .. BASE+N must be representable; checked at elaboration)
//   BASE         signed integer added to the count (may be negative)
//   THRESH_FILE  $readmemh file: depth C/PE, word width PE*N*T_BITS,
//                bits [(p*N + k)*T_BITS +: T_BITS] of word n = T[n*PE+p][k]
//   MEM_STYLE    threshold ROM: "auto" (the tool decides), "distributed" (LUT
//                logic) or "block" (RAMB18/36); see gs_mvu.v for the attributes
//
// Streams: element p at [p*IN_BITS +: IN_BITS] in, [p*OUT_BITS +: OUT_BITS] out.
// Clock clk, synchronous active-low reset rst_n. Needs gs_skid.v.
module gs_thresholds #(
    parameter C           = 4,
    parameter PE          = 1,
    parameter IN_BITS     = 8,
    parameter N           = 3,
    parameter T_BITS      = 8,
    parameter OUT_BITS    = 2,
    parameter OUT_SIGNED  = 0,
    parameter BASE        = 0,
    parameter THRESH_FILE = "",
    parameter [8*11-1:0] MEM_STYLE = "auto"
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

    localparam CF   = C / PE;                        // channel folds
    localparam TW   = PE * N * T_BITS;               // threshold word
    localparam FW   = (CF > 1) ? clog2(CF) : 1;
    localparam CNTW = clog2(N + 1);                 // count 0..N
    localparam FOLD_LAST_I = CF - 1;
    localparam [FW-1:0] FOLD_LAST = FOLD_LAST_I[FW-1:0];
    localparam [OUT_BITS-1:0] BASE_O = BASE[OUT_BITS-1:0];
    localparam OUT_MIN = OUT_SIGNED ? -(1 << (OUT_BITS - 1)) : 0;
    localparam OUT_MAX = OUT_SIGNED ? (1 << (OUT_BITS - 1)) - 1 : (1 << OUT_BITS) - 1;

    // parameter checks: an unknown module makes elaboration fail on purpose
    // style names at the parameters' widths (string literals compare zero-padded)
    localparam [8*11-1:0] M_AUTO  = "auto";
    localparam [8*11-1:0] M_DIST  = "distributed";
    localparam [8*11-1:0] M_BLOCK = "block";
    localparam ROM_INLINE = 4;  // ROMs of up to 4 words stay in this module (see g_rom_small)

    generate
        if (C % PE != 0) begin : g_bad_pe
            gs_thresholds_error_PE_must_divide_C u_error ();
        end
        if (N < 1 || T_BITS < IN_BITS) begin : g_bad_n
            gs_thresholds_error_N_ge_1_and_T_BITS_ge_IN_BITS u_error ();
        end
        if (BASE < OUT_MIN || BASE + N > OUT_MAX) begin : g_bad_range
            gs_thresholds_error_BASE_to_BASE_plus_N_not_in_OUT_range u_error ();
        end
        if (MEM_STYLE != M_AUTO && MEM_STYLE != M_DIST && MEM_STYLE != M_BLOCK) begin : g_bad_mem
            gs_thresholds_error_MEM_STYLE_auto_distributed_or_block u_error ();
        end
    endgenerate

    // ---- stage 1: input beat and its thresholds (registered ROM read)
    wire                  skid_ready;
    reg                   v1;
    reg [FW-1:0]          fold;
    reg [PE*IN_BITS-1:0]  x1;
    wire [TW-1:0]         t1;
    wire en = !v1 || skid_ready;

    assign s_axis_tready = en;

    always @(posedge clk) begin
        if (!rst_n) begin
            v1   <= 1'b0;
            fold <= {FW{1'b0}};
        end else if (en) begin
            v1 <= s_axis_tvalid;
            if (s_axis_tvalid) begin
                fold <= (fold == FOLD_LAST) ? {FW{1'b0}} : fold + 1'b1;
            end
        end
    end

    // the threshold ROM, registered read: a gs_rom (a module of its own, see there) above ROM_INLINE words
    generate
        if (CF > ROM_INLINE || MEM_STYLE == M_BLOCK) begin : g_rom
            gs_rom #(.DEPTH(CF), .WIDTH(TW), .MEM_FILE(THRESH_FILE), .MEM_STYLE(MEM_STYLE)) u_rom (
                .clk(clk), .en(en), .addr(fold), .q(t1));
        end else begin : g_rom_small
            // up to ROM_INLINE words: kept in this module, where its constants fold (see gs_rom.v)
            reg [TW-1:0] q;
            reg [TW-1:0] rom [0:CF-1];
            initial if (THRESH_FILE != "") $readmemh(THRESH_FILE, rom);
            always @(posedge clk) if (en) q <= rom[fold];
            assign t1 = q;
        end
    endgenerate

    always @(posedge clk) begin
        if (en) begin
            x1 <= s_axis_tdata;
        end
    end

    // ---- compare and count (combinational), then into the output slice
    function [CNTW-1:0] zext_bit;
        input b;
        begin
            zext_bit    = {CNTW{1'b0}};
            zext_bit[0] = b;
        end
    endfunction

    function [OUT_BITS-1:0] zext_cnt;
        input [CNTW-1:0] v;
        begin
            zext_cnt            = {OUT_BITS{1'b0}};
            zext_cnt[CNTW-1:0]  = v;
        end
    endfunction

    wire [PE*N-1:0]       ge;
    reg  [PE*OUT_BITS-1:0] result;

    genvar p, k;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_lane
            wire [IN_BITS-1:0] x = x1[p*IN_BITS +: IN_BITS];
            // sign-extend x to T_BITS+1 (at least one copy of the sign bit)
            wire [T_BITS:0] xe = {{(T_BITS - IN_BITS + 1){x[IN_BITS-1]}}, x};
            for (k = 0; k < N; k = k + 1) begin : g_thr
                wire [T_BITS-1:0] t  = t1[(p*N + k)*T_BITS +: T_BITS];
                wire [T_BITS:0]   te = {t[T_BITS-1], t};
                assign ge[p*N + k] = ($signed(xe) >= $signed(te));
            end
        end
    endgenerate

    integer lp, lk;
    reg [CNTW-1:0] cnt;
    always @* begin
        for (lp = 0; lp < PE; lp = lp + 1) begin
            cnt = {CNTW{1'b0}};
            for (lk = 0; lk < N; lk = lk + 1) begin
                cnt = cnt + zext_bit(ge[lp*N + lk]);
            end
            result[lp*OUT_BITS +: OUT_BITS] = BASE_O + zext_cnt(cnt);
        end
    end

    gs_skid #(
        .WIDTH(PE * OUT_BITS)
    ) u_out (
        .clk           (clk),
        .rst_n         (rst_n),
        .s_axis_tdata  (result),
        .s_axis_tvalid (v1),
        .s_axis_tready (skid_ready),
        .m_axis_tdata  (m_axis_tdata),
        .m_axis_tvalid (m_axis_tvalid),
        .m_axis_tready (m_axis_tready)
    );

endmodule
