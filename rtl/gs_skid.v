// gs_skid -- AXI-Stream register slice (skid buffer).
//
// Cuts every combinational path between the two ports: m_axis_tvalid/tdata
// come straight from registers and s_axis_tready is a register (it is low
// exactly when the skid register holds a beat). Full throughput: one beat a
// cycle while the sink is ready; latency one cycle (s_axis handshake in cycle
// t -> m_axis_tvalid in cycle t+1).
//
// Parameters
//   WIDTH  tdata width in bits (>= 1)
//
// Streams: s_axis_* in, m_axis_* out; tdata passes through unchanged.
// Clock clk, synchronous active-low reset rst_n.
module gs_skid #(
    parameter WIDTH = 8
) (
    input  wire             clk,
    input  wire             rst_n,

    input  wire [WIDTH-1:0] s_axis_tdata,
    input  wire             s_axis_tvalid,
    output wire             s_axis_tready,

    output wire [WIDTH-1:0] m_axis_tdata,
    output wire             m_axis_tvalid,
    input  wire             m_axis_tready
);

    reg  [WIDTH-1:0] out_data;
    reg              out_valid;
    reg  [WIDTH-1:0] skid_data;
    reg              skid_valid;

    // the output register may be (re)loaded this cycle
    wire out_free = m_axis_tready || !out_valid;

    assign s_axis_tready = !skid_valid;
    assign m_axis_tvalid = out_valid;
    assign m_axis_tdata  = out_data;

    always @(posedge clk) begin
        if (!rst_n) begin
            out_valid  <= 1'b0;
            skid_valid <= 1'b0;
        end else if (out_free) begin
            if (skid_valid) begin
                // drain the skid register first (s_axis_tready is low now)
                out_valid  <= 1'b1;
                skid_valid <= 1'b0;
            end else begin
                out_valid  <= s_axis_tvalid;
            end
        end else if (s_axis_tvalid && !skid_valid) begin
            // output stalled: park the accepted beat
            skid_valid <= 1'b1;
        end
    end

    always @(posedge clk) begin
        if (out_free) begin
            out_data <= skid_valid ? skid_data : s_axis_tdata;
        end
        if (!skid_valid) begin
            skid_data <= s_axis_tdata;
        end
    end

endmodule
