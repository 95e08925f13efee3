// gs_fifo -- AXI-Stream FIFO with a registered output.
//
// Holds up to DEPTH beats: DEPTH-1 in a memory (synchronous read, so it can
// map to LUTRAM/BRAM) plus the output register. Full throughput (one beat in
// and one beat out per cycle) while it is neither empty nor full; when full a
// beat can be accepted again one cycle after a beat leaves. First-beat latency
// one cycle (the beat bypasses the memory into the output register when the
// FIFO is empty). s_axis_tready and m_axis_tvalid/tdata come from registers
// (no combinational path between the ports).
//
// Parameters
//   WIDTH  tdata width in bits (>= 1)
//   DEPTH  capacity in beats (>= 2; any integer, not only powers of two)
//
// Streams: s_axis_* in, m_axis_* out; tdata passes through unchanged.
// Clock clk, synchronous active-low reset rst_n.
module gs_fifo #(
    parameter WIDTH = 8,
    parameter DEPTH = 16
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

    localparam MEMD = DEPTH - 1;                         // memory entries
    localparam PW   = (MEMD > 1) ? clog2(MEMD) : 1;     // pointer width
    localparam CW   = clog2(DEPTH);                     // counts 0..MEMD
    localparam PTR_LAST_I = MEMD - 1;
    localparam [PW-1:0] PTR_LAST = PTR_LAST_I[PW-1:0];
    localparam [CW-1:0] CNT_FULL = MEMD[CW-1:0];

    generate
        if (DEPTH < 2) begin : g_bad_depth
            // elaboration error on purpose: DEPTH must be >= 2
            gs_fifo_error_DEPTH_must_be_at_least_2 u_error ();
        end
    endgenerate

    reg [WIDTH-1:0] mem [0:MEMD-1];
    reg [PW-1:0]    wr_ptr;
    reg [PW-1:0]    rd_ptr;
    reg [CW-1:0]    mem_count;   // beats in the memory (output register excluded)
    reg [WIDTH-1:0] out_data;
    reg             out_valid;
    reg             in_ready;    // == (mem_count != MEMD), kept as a register

    wire push     = s_axis_tvalid && in_ready;
    wire out_free = m_axis_tready || !out_valid;
    wire mem_any  = (mem_count != {CW{1'b0}});
    wire from_mem = out_free && mem_any;             // load output from memory
    wire bypass   = out_free && !mem_any && push;    // input goes straight to output
    wire mem_wr   = push && !bypass;

    assign s_axis_tready = in_ready;
    assign m_axis_tvalid = out_valid;
    assign m_axis_tdata  = out_data;

    always @(posedge clk) begin
        if (mem_wr) begin
            mem[wr_ptr] <= s_axis_tdata;
        end
        if (from_mem) begin
            out_data <= mem[rd_ptr];
        end else if (bypass) begin
            out_data <= s_axis_tdata;
        end
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            wr_ptr    <= {PW{1'b0}};
            rd_ptr    <= {PW{1'b0}};
            mem_count <= {CW{1'b0}};
            out_valid <= 1'b0;
            in_ready  <= 1'b1;
        end else begin
            if (mem_wr) begin
                wr_ptr <= (wr_ptr == PTR_LAST) ? {PW{1'b0}} : wr_ptr + 1'b1;
            end
            if (from_mem) begin
                rd_ptr <= (rd_ptr == PTR_LAST) ? {PW{1'b0}} : rd_ptr + 1'b1;
            end
            if (mem_wr && !from_mem) begin
                mem_count <= mem_count + 1'b1;
                in_ready  <= (mem_count + 1'b1 != CNT_FULL);
            end else if (from_mem && !mem_wr) begin
                mem_count <= mem_count - 1'b1;
                in_ready  <= 1'b1;
            end
            if (out_free) begin
                out_valid <= mem_any || push;
            end
        end
    end

endmodule
