// gs_wload -- weight loader: one AXI-Stream of words written into the load
// ports of LAYERS weight memories (gs_mvu_wl with MEM_STYLE "ultra": URAM has
// no initial contents, so its weights are streamed in after reset).
//
// Order: layer 0's words for addresses 0..DEPTH0-1, then layer 1's, and so
// on; one word a beat, right-aligned in s_axis_tdata (a narrower memory takes
// the low bits). Beat b of layer i drives wl_valid[i] with wl_addr = b and
// wl_data = s_axis_tdata in the cycle of its handshake (the memory writes at
// that clock edge). After the last word of the last layer, loaded rises and
// stays high until reset; s_axis_tready is low from then on (a reset starts a
// new load).
//
// Parameters
//   LAYERS   memories to load (>= 1)
//   LAST_ADDRS  their last addresses (depth - 1), 32 bits each, layer i at
//            [32*i +: 32]
//   AW       address width (>= ceil(log2(the largest depth)), >= 1)
//   DW       stream / word width (>= the widest memory word)
// Clock clk, synchronous active-low reset rst_n.
module gs_wload #(
    parameter LAYERS = 1,
    parameter [32*LAYERS-1:0] LAST_ADDRS = {LAYERS{32'd0}},
    parameter AW = 1,
    parameter DW = 8
) (
    input  wire              clk,
    input  wire              rst_n,

    input  wire [DW-1:0]     s_axis_tdata,
    input  wire              s_axis_tvalid,
    output wire              s_axis_tready,

    output wire [LAYERS-1:0] wl_valid,
    output wire [AW-1:0]     wl_addr,
    output wire [DW-1:0]     wl_data,
    output wire              loaded
);

    localparam [LAYERS-1:0] FIRST = 1;

    reg  [LAYERS-1:0] layer;     // one-hot: the layer being loaded
    reg  [AW-1:0]     addr;
    reg               done;
    reg  [AW-1:0]     last_addr; // the current layer's last address
    wire              take = s_axis_tvalid && !done;

    integer i;
    always @* begin
        last_addr = {AW{1'b0}};
        for (i = 0; i < LAYERS; i = i + 1) begin
            if (layer[i]) last_addr = last_addr | LAST_ADDRS[32*i +: AW];
        end
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            layer <= FIRST;
            addr  <= {AW{1'b0}};
            done  <= 1'b0;
        end else if (take) begin
            if (addr == last_addr) begin
                addr <= {AW{1'b0}};
                if (layer[LAYERS-1]) done <= 1'b1;
                else layer <= layer << 1;
            end else begin
                addr <= addr + 1'b1;
            end
        end
    end

    assign wl_valid      = layer & {LAYERS{take}};
    assign s_axis_tready = !done;
    assign wl_addr       = addr;
    assign wl_data       = s_axis_tdata;
    assign loaded        = done;

endmodule
