// gs_labelselect -- top-K indices of a vector (FINN LabelSelect; ONNX TopK
// with largest=1, sorted=1, or ArgMax for K=1, at a network's output).
//
// Input, per inference: C/PE beats of PE values, value n*PE + k in lane k of
// beat n at [k*IN_BITS +: IN_BITS]. Output, per inference: K beats of one
// index each (IDX_BITS unsigned): the indices of the K largest values in
// descending order of value, ties broken by the lower index first (as ONNX
// TopK and numpy's stable argsort of -x). Inferences follow back to back,
// no tlast.
//
// A K-entry list of (value, index), sorted descending, takes the PE values
// of a beat in one cycle (PE insertions one after the other, combinational;
// a value displaces an entry only if strictly larger, so an equal value
// with its higher index stays behind). The last beat of an inference moves
// the list's indices to an output shift register, which drains one index a
// cycle while the next inference fills the list.
//
// Throughput, unstalled, steady state:
//   cycles per inference = max(C/PE, K)   (exact)
// Latency: the first index is valid 2 cycles after the last input beat of
// its inference was taken. s_axis_tready depends only on registers (gs_skid
// at the output); only the last beat of an inference can wait, for the
// previous inference's indices to leave.
//
// Parameters
//   C          values per inference (classes)
//   PE         values per input beat (divides C)
//   IN_BITS    value width
//   IN_SIGNED  1: values are two's complement, 0: unsigned
//   K          indices out per inference (1..C)
//   IDX_BITS   index width (2^IDX_BITS >= C)
//
// Clock clk, synchronous active-low reset rst_n. Needs gs_skid.v.
module gs_labelselect #(
    parameter C         = 10,
    parameter PE        = 1,
    parameter IN_BITS   = 8,
    parameter IN_SIGNED = 1,
    parameter K         = 1,
    parameter IDX_BITS  = 4
) (
    input  wire                   clk,
    input  wire                   rst_n,

    input  wire [PE*IN_BITS-1:0]  s_axis_tdata,
    input  wire                   s_axis_tvalid,
    output wire                   s_axis_tready,

    output wire [IDX_BITS-1:0]    m_axis_tdata,
    output wire                   m_axis_tvalid,
    input  wire                   m_axis_tready
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

    localparam CF  = C / PE;                         // beats per inference
    localparam BW  = (CF > 1) ? clog2(CF) : 1;
    localparam RW  = clog2(K + 1);                   // counts 0..K
    localparam B_LAST_I = CF - 1;
    localparam PE_I     = PE;
    localparam K_I      = K;
    localparam [BW-1:0]       B_LAST = B_LAST_I[BW-1:0];
    localparam [IDX_BITS-1:0] IDX_PE = PE_I[IDX_BITS-1:0];
    localparam [RW-1:0]       R_K    = K_I[RW-1:0];
    localparam [RW-1:0]       R_ONE  = 1;

    // parameter checks: an unknown module makes elaboration fail on purpose
    generate
        if (C % PE != 0) begin : g_bad_pe
            gs_labelselect_error_PE_must_divide_C u_error ();
        end
        if (K < 1 || K > C) begin : g_bad_k
            gs_labelselect_error_K_must_be_1_to_C u_error ();
        end
        if (C > (1 << IDX_BITS)) begin : g_bad_idx
            gs_labelselect_error_IDX_BITS_too_narrow_for_C u_error ();
        end
    endgenerate

    // ------------------------------------------------------------ the sorted list
    reg  [K-1:0]          lv;          // entry valid
    reg  [K*IN_BITS-1:0]  lkey;        // order-preserving unsigned keys
    reg  [K*IDX_BITS-1:0] lidx;
    reg  [BW-1:0]         beat;        // beat within the inference
    reg  [IDX_BITS-1:0]   base;        // beat*PE: index of lane 0

    // list after inserting the PE values of the input beat (the first beat
    // of an inference starts from an empty list)
    reg  [K-1:0]          nv;
    reg  [K*IN_BITS-1:0]  nkey;
    reg  [K*IDX_BITS-1:0] nidx;
    reg  [K-1:0]          beats;       // the new value beats entry i
    reg  [IN_BITS-1:0]    key;
    reg  [IDX_BITS-1:0]   lane_idx;
    integer lane, i;
    /* verilator lint_off UNUSEDSIGNAL */
    integer up;                        // i - 1 (only its low bits index)
    /* verilator lint_on UNUSEDSIGNAL */

    always @* begin
        nv   = (beat == {BW{1'b0}}) ? {K{1'b0}} : lv;
        nkey = lkey;
        nidx = lidx;
        lane_idx = base;
        for (lane = 0; lane < PE; lane = lane + 1) begin
            key = s_axis_tdata[lane*IN_BITS +: IN_BITS];
            if (IN_SIGNED != 0) begin
                key[IN_BITS-1] = !key[IN_BITS-1];
            end
            for (i = 0; i < K; i = i + 1) begin
                beats[i] = !nv[i] || (key > nkey[i*IN_BITS +: IN_BITS]);
            end
            // entry i: kept if not beaten, the new value at the first
            // beaten entry, else the entry above it (shift down)
            for (i = K - 1; i >= 0; i = i - 1) begin
                up = (i > 0) ? i - 1 : 0;
                if (beats[i]) begin
                    if (i == 0 || !beats[up]) begin
                        nv[i] = 1'b1;
                        nkey[i*IN_BITS +: IN_BITS]   = key;
                        nidx[i*IDX_BITS +: IDX_BITS] = lane_idx;
                    end else begin
                        nv[i] = nv[up];
                        nkey[i*IN_BITS +: IN_BITS]   = nkey[up*IN_BITS +: IN_BITS];
                        nidx[i*IDX_BITS +: IDX_BITS] = nidx[up*IDX_BITS +: IDX_BITS];
                    end
                end
            end
            lane_idx = lane_idx + 1'b1;
        end
    end

    // ------------------------------------------------------------ output shift register
    wire                  skid_ready;
    reg  [K*IDX_BITS-1:0] obuf;        // indices still to send, next one lowest
    reg  [RW-1:0]         orem;        // how many
    wire                  last_beat = (beat == B_LAST);
    wire                  send      = (orem != {RW{1'b0}}) && skid_ready;

    assign s_axis_tready = !last_beat || (orem == {RW{1'b0}}) || (orem == R_ONE && skid_ready);

    wire take = s_axis_tvalid && s_axis_tready;

    always @(posedge clk) begin
        if (!rst_n) begin
            beat <= {BW{1'b0}};
            base <= {IDX_BITS{1'b0}};
            orem <= {RW{1'b0}};
        end else begin
            if (take) begin
                beat <= last_beat ? {BW{1'b0}} : beat + 1'b1;
                base <= last_beat ? {IDX_BITS{1'b0}} : base + IDX_PE;
            end
            if (take && last_beat) begin
                orem <= R_K;
            end else if (send) begin
                orem <= orem - R_ONE;
            end
        end
    end

    always @(posedge clk) begin
        if (take) begin
            lv   <= nv;
            lkey <= nkey;
            lidx <= nidx;
        end
        if (take && last_beat) begin
            obuf <= nidx;
        end else if (send) begin
            obuf <= obuf >> IDX_BITS;
        end
    end

    gs_skid #(
        .WIDTH(IDX_BITS)
    ) u_out (
        .clk           (clk),
        .rst_n         (rst_n),
        .s_axis_tdata  (obuf[IDX_BITS-1:0]),
        .s_axis_tvalid (orem != {RW{1'b0}}),
        .s_axis_tready (skid_ready),
        .m_axis_tdata  (m_axis_tdata),
        .m_axis_tvalid (m_axis_tvalid),
        .m_axis_tready (m_axis_tready)
    );

endmodule
