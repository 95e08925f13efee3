// gs_pool -- streaming window reduction (max or sum) per channel.
//
// Input, per output pixel: for each position p = 0..POS-1, for each channel
// group g = 0..C/PE-1, one beat of PE elements (channel g*PE + k in lane k,
// at [k*IN_BITS +: IN_BITS]) -- what gs_swg emits with SIMD = PE and
// POS = K_H*K_W, or a whole feature map (POS = H*W) for global pooling.
// Output, per output pixel: C/PE beats of PE elements (lane k at
// [k*OUT_BITS +: OUT_BITS]), for each channel the reduction over the POS
// positions:
//   MODE 0  max; OUT_BITS = IN_BITS and the signedness of the input
//           (1-bit unsigned input: max = OR, how bipolar streams are pooled)
//   MODE 1  exact sum, signed OUT_BITS two's complement (signed inputs are
//           sign-extended, unsigned ones zero-extended; the caller
//           guarantees the sum fits)
// Pixels follow back to back, no tlast.
//
// Partial results: a memory of C/PE words of PE*OUT_BITS bits (synchronous
// read, one read and one write a cycle, with forwarding for C/PE = 1; none
// at all for POS = 1). The output beat of group g leaves as the last
// position's beat of g goes through, so the core takes one input beat every
// cycle when unstalled:
//   cycles per output pixel = POS * C/PE   (exact in steady state)
// Latency 2 cycles (last input beat of a group in cycle t -> its output beat
// valid in cycle t+2). s_axis_tready depends only on registers (gs_skid at
// the output).
//
// Parameters
//   POS        positions reduced into one output (>= 1)
//   C, PE      channels, channels per beat (PE divides C)
//   IN_BITS    input element width
//   IN_SIGNED  1: inputs are two's complement, 0: unsigned
//   OUT_BITS   output element width (MODE 0: = IN_BITS)
//   MODE       0 = max, 1 = sum
//
// Clock clk, synchronous active-low reset rst_n. Needs gs_skid.v.
module gs_pool #(
    parameter POS       = 4,
    parameter C         = 4,
    parameter PE        = 1,
    parameter IN_BITS   = 8,
    parameter IN_SIGNED = 1,
    parameter OUT_BITS  = 8,
    parameter MODE      = 0
) (
    input  wire                    clk,
    input  wire                    rst_n,

    input  wire [PE*IN_BITS-1:0]   s_axis_tdata,
    input  wire                    s_axis_tvalid,
    output wire                    s_axis_tready,

    output wire [PE*OUT_BITS-1:0]  m_axis_tdata,
    output wire                    m_axis_tvalid,
    input  wire                    m_axis_tready
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

    localparam CF   = C / PE;                        // channel groups
    localparam WORD = PE * OUT_BITS;
    localparam GW   = (CF > 1) ? clog2(CF) : 1;
    localparam PW   = (POS > 1) ? clog2(POS) : 1;
    localparam G_LAST_I = CF - 1;
    localparam P_LAST_I = POS - 1;
    localparam [GW-1:0] G_LAST = G_LAST_I[GW-1:0];
    localparam [PW-1:0] P_LAST = P_LAST_I[PW-1:0];

    // parameter checks: an unknown module makes elaboration fail on purpose
    generate
        if (C % PE != 0 || POS < 1) begin : g_bad_fold
            gs_pool_error_PE_must_divide_C_and_POS_ge_1 u_error ();
        end
        if (MODE == 0 && OUT_BITS != IN_BITS) begin : g_bad_max
            gs_pool_error_max_needs_OUT_BITS_equal_IN_BITS u_error ();
        end
        if (MODE == 1 && OUT_BITS < IN_BITS + (IN_SIGNED ? 0 : 1)) begin : g_bad_sum
            gs_pool_error_sum_needs_a_signed_OUT_BITS_holding_the_input u_error ();
        end
        if (MODE != 0 && MODE != 1) begin : g_bad_mode
            gs_pool_error_MODE_must_be_0_max_or_1_sum u_error ();
        end
    endgenerate

    // input element -> OUT_BITS (sign- or zero-extended)
    function [OUT_BITS-1:0] ext;
        input [IN_BITS-1:0] v;
        integer i;
        begin
            for (i = 0; i < OUT_BITS; i = i + 1) begin
                ext[i] = (i < IN_BITS) ? v[(i < IN_BITS) ? i : IN_BITS - 1]
                                       : (IN_SIGNED != 0) && v[IN_BITS - 1];
            end
        end
    endfunction

    // one lane: first position takes the input, later ones reduce
    function [OUT_BITS-1:0] reduce;
        input [OUT_BITS-1:0] acc;
        input [OUT_BITS-1:0] x;
        reg   [OUT_BITS-1:0] ka, kx;        // order-preserving unsigned keys
        begin
            if (MODE == 0) begin
                ka = acc;
                kx = x;
                if (IN_SIGNED != 0) begin
                    ka[OUT_BITS-1] = !acc[OUT_BITS-1];
                    kx[OUT_BITS-1] = !x[OUT_BITS-1];
                end
                reduce = (kx > ka) ? x : acc;
            end else begin
                reduce = acc + x;
            end
        end
    endfunction

    // ------------------------------------------------------------ stage 0: input
    wire          skid_ready;
    reg           v1, first1, last1;
    reg  [PE*IN_BITS-1:0] x1;
    reg  [GW-1:0] g;                 // channel group of the next input beat
    reg  [PW-1:0] p;                 // position of the next input beat
    // stage 1 moves on unless it holds an output beat the slice cannot take
    wire          en   = !(v1 && last1) || skid_ready;
    wire          take = en && s_axis_tvalid;

    assign s_axis_tready = en;

    always @(posedge clk) begin
        if (!rst_n) begin
            g  <= {GW{1'b0}};
            p  <= {PW{1'b0}};
            v1 <= 1'b0;
        end else if (en) begin
            v1 <= s_axis_tvalid;
            if (s_axis_tvalid) begin
                g <= (g == G_LAST) ? {GW{1'b0}} : g + 1'b1;
                if (g == G_LAST) begin
                    p <= (p == P_LAST) ? {PW{1'b0}} : p + 1'b1;
                end
            end
        end
    end

    always @(posedge clk) begin
        if (take) begin
            x1     <= s_axis_tdata;
            first1 <= (p == {PW{1'b0}});
            last1  <= (p == P_LAST);
        end
    end

    // ------------------------------------------------------------ stage 1: reduce
    wire [WORD-1:0] acc1;            // partial result of group g1
    reg  [WORD-1:0] result;

    integer k;
    always @* begin
        for (k = 0; k < PE; k = k + 1) begin
            result[k*OUT_BITS +: OUT_BITS] = first1
                ? ext(x1[k*IN_BITS +: IN_BITS])
                : reduce(acc1[k*OUT_BITS +: OUT_BITS], ext(x1[k*IN_BITS +: IN_BITS]));
        end
    end

    generate
        if (POS > 1) begin : g_mem
            reg [WORD-1:0] part [0:CF-1];
            reg [GW-1:0]   g1;           // channel group of the stage-1 beat
            reg [WORD-1:0] rd1;          // part[g1] read as the beat entered
            reg [WORD-1:0] fwd_val;      // result written as the beat entered
            reg            fwd1;         // ... to the same group: use fwd_val
            always @(posedge clk) begin
                if (en && v1) begin
                    part[g1] <= result;
                end
                if (take) begin
                    g1      <= g;
                    rd1     <= part[g];
                    fwd_val <= result;
                    fwd1    <= v1 && (g1 == g);
                end
            end
            assign acc1 = fwd1 ? fwd_val : rd1;
        end else begin : g_nomem
            assign acc1 = {WORD{1'b0}};
        end
    endgenerate

    gs_skid #(
        .WIDTH(WORD)
    ) u_out (
        .clk           (clk),
        .rst_n         (rst_n),
        .s_axis_tdata  (result),
        .s_axis_tvalid (v1 && last1),
        .s_axis_tready (skid_ready),
        .m_axis_tdata  (m_axis_tdata),
        .m_axis_tvalid (m_axis_tvalid),
        .m_axis_tready (m_axis_tready)
    );

endmodule
