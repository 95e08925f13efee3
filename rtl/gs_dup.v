// gs_dup -- AXI-Stream duplicator: one input stream fanned out to N outputs.
//
// Every input beat is delivered exactly once to every output, in order. Each
// output has its own register slice (gs_skid, two beats of buffering), so the
// outputs progress independently: a stalled output holds back the others only
// once its slice is full. The input beat is taken when every slice can take
// it, i.e. s_axis_tready is the AND of the slices' s_axis_tready, which are
// registers (s_axis_tready depends only on registers). Full throughput (one
// beat a cycle) while every output is ready; latency one cycle (s_axis
// handshake in cycle t -> m_axis_tvalid[k] in cycle t+1).
//
// Parameters
//   WIDTH  tdata width in bits (>= 1)
//   N      number of outputs (2..4)
//
// Streams: s_axis_* in; output k is m_axis_tdata[k*WIDTH +: WIDTH],
// m_axis_tvalid[k], m_axis_tready[k].
// Clock clk, synchronous active-low reset rst_n. Needs gs_skid.v.
module gs_dup #(
    parameter WIDTH = 8,
    parameter N     = 2
) (
    input  wire               clk,
    input  wire               rst_n,

    input  wire [WIDTH-1:0]   s_axis_tdata,
    input  wire               s_axis_tvalid,
    output wire               s_axis_tready,

    output wire [N*WIDTH-1:0] m_axis_tdata,
    output wire [N-1:0]       m_axis_tvalid,
    input  wire [N-1:0]       m_axis_tready
);

    generate
        if (N < 2 || N > 4) begin : g_bad_n
            gs_dup_error_N_must_be_2_to_4 u_error ();
        end
    endgenerate

    wire [N-1:0] slice_ready;
    wire         take = s_axis_tvalid && s_axis_tready;

    assign s_axis_tready = &slice_ready;

    genvar k;
    generate
        for (k = 0; k < N; k = k + 1) begin : g_out
            gs_skid #(
                .WIDTH(WIDTH)
            ) u_slice (
                .clk           (clk),
                .rst_n         (rst_n),
                .s_axis_tdata  (s_axis_tdata),
                .s_axis_tvalid (take),
                .s_axis_tready (slice_ready[k]),
                .m_axis_tdata  (m_axis_tdata[k*WIDTH +: WIDTH]),
                .m_axis_tvalid (m_axis_tvalid[k]),
                .m_axis_tready (m_axis_tready[k])
            );
        end
    endgenerate

endmodule
