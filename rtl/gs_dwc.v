// gs_dwc -- element-wise AXI-Stream data width converter (any ratio).
//
// Takes beats of IN_ELEMS elements and emits the same element sequence in
// beats of OUT_ELEMS elements (e.g. 4->6, 6->4, 3->5). Element order is
// preserved; no element is dropped or invented (a trailing partial output
// beat stays inside until enough elements have arrived).
//
// Implementation: a buffer of CAP = IN_ELEMS + OUT_ELEMS + min(IN_ELEMS,
// OUT_ELEMS) - 1 elements with a fill count. An output beat is the oldest
// OUT_ELEMS elements (straight from the buffer register); an input beat is
// written behind the valid elements (after the output shift, if any).
// s_axis_tready = (count <= CAP - IN_ELEMS) and m_axis_tvalid = (count >=
// OUT_ELEMS) are functions of registers only, so there is no combinational
// path between the ports. CAP is the smallest size for which the unstalled
// converter accepts an input beat every cycle when IN_ELEMS <= OUT_ELEMS and
// emits an output beat every cycle when IN_ELEMS > OUT_ELEMS (the narrow side
// runs at full rate). Latency: an output beat is valid the cycle after the
// input beat that completes it is accepted.
//
// Ragged input (GROUP_BEATS > 1 or LAST_ELEMS < IN_ELEMS): the input comes in
// groups of GROUP_BEATS beats (one vector of a unit whose IN_ELEMS lanes do
// not divide the vector length), and only the first LAST_ELEMS elements of a
// group's last beat are elements; the rest is padding, dropped here. A beat
// counter says which beat is a group's last; a partial beat is written like
// a full one and the count grows by LAST_ELEMS, so the padding lies beyond
// the valid elements and the next beat overwrites it.
//
// Parameters
//   IN_ELEMS     elements per input beat  (>= 1)
//   OUT_ELEMS    elements per output beat (>= 1)
//   ELEM_BITS    bits per element         (>= 1)
//   GROUP_BEATS  input beats per group (>= 1; default 1: every beat full)
//   LAST_ELEMS   elements in a group's last beat (1 .. IN_ELEMS; default
//                IN_ELEMS)
//
// Streams: element i of a beat occupies bits [i*ELEM_BITS +: ELEM_BITS]
// (element 0 in the LSBs, i.e. first in stream order).
// Clock clk, synchronous active-low reset rst_n.
module gs_dwc #(
    parameter IN_ELEMS  = 4,
    parameter OUT_ELEMS = 6,
    parameter ELEM_BITS = 8,
    parameter GROUP_BEATS = 1,
    parameter LAST_ELEMS  = IN_ELEMS
) (
    input  wire                           clk,
    input  wire                           rst_n,

    input  wire [IN_ELEMS*ELEM_BITS-1:0]  s_axis_tdata,
    input  wire                           s_axis_tvalid,
    output wire                           s_axis_tready,

    output wire [OUT_ELEMS*ELEM_BITS-1:0] m_axis_tdata,
    output wire                           m_axis_tvalid,
    input  wire                           m_axis_tready
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

    localparam MINE = (IN_ELEMS < OUT_ELEMS) ? IN_ELEMS : OUT_ELEMS;
    localparam CAP  = IN_ELEMS + OUT_ELEMS + MINE - 1;   // elements in the buffer
    localparam IW   = IN_ELEMS * ELEM_BITS;
    localparam OW   = OUT_ELEMS * ELEM_BITS;
    localparam BW   = CAP * ELEM_BITS;
    localparam CW   = clog2(CAP + 1);
    localparam IN_MAX_I = CAP - IN_ELEMS;
    localparam [CW-1:0] IN_N   = IN_ELEMS[CW-1:0];
    localparam [CW-1:0] OUT_N  = OUT_ELEMS[CW-1:0];
    localparam [CW-1:0] IN_MAX = IN_MAX_I[CW-1:0];        // accept while count <= IN_MAX
    localparam [CW-1:0] LAST_N = LAST_ELEMS[CW-1:0];
    localparam RAGGED = (LAST_ELEMS != IN_ELEMS);
    localparam GW     = (GROUP_BEATS > 1) ? clog2(GROUP_BEATS) : 1;
    localparam LAST_BEAT_I = GROUP_BEATS - 1;
    localparam [GW-1:0] LAST_BEAT = LAST_BEAT_I[GW-1:0];

    generate
        if (LAST_ELEMS < 1 || LAST_ELEMS > IN_ELEMS || GROUP_BEATS < 1) begin : g_bad_group
            gs_dwc_error_LAST_ELEMS_must_be_1_to_IN_ELEMS_and_GROUP_BEATS_at_least_1 u_error ();
        end
    endgenerate

    reg  [BW-1:0] buffer;   // element j at [j*ELEM_BITS +: ELEM_BITS], 0 = oldest
    reg  [CW-1:0] count;    // valid elements in buffer

    wire out_valid = (count >= OUT_N);
    wire in_ready  = (count <= IN_MAX);
    wire pop  = out_valid && m_axis_tready;
    wire push = s_axis_tvalid && in_ready;

    // elements left after this cycle's pop; the input beat is written there
    wire [CW-1:0] level = pop ? count - OUT_N : count;
    wire [BW-1:0] kept  = pop ? (buffer >> OW) : buffer;
    wire [BW-1:0] ins   = {{(BW-IW){1'b0}}, s_axis_tdata}  << (level * ELEM_BITS);
    wire [BW-1:0] mask  = {{(BW-IW){1'b0}}, {IW{1'b1}}}   << (level * ELEM_BITS);

    // elements this input beat brings: IN_ELEMS, or LAST_ELEMS for a group's last beat
    wire [CW-1:0] in_n;
    generate
        if (RAGGED) begin : g_ragged
            reg  [GW-1:0] beat;   // index of the next input beat within its group
            wire last = (beat == LAST_BEAT);
            assign in_n = last ? LAST_N : IN_N;
            always @(posedge clk) begin
                if (!rst_n) begin
                    beat <= {GW{1'b0}};
                end else if (push) begin
                    beat <= last ? {GW{1'b0}} : beat + 1'b1;
                end
            end
        end else begin : g_full
            assign in_n = IN_N;
        end
    endgenerate

    assign s_axis_tready = in_ready;
    assign m_axis_tvalid = out_valid;
    assign m_axis_tdata  = buffer[OW-1:0];

    always @(posedge clk) begin
        if (push) begin
            buffer <= (kept & ~mask) | ins;
        end else if (pop) begin
            buffer <= kept;
        end
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            count <= {CW{1'b0}};
        end else if (push) begin
            count <= level + in_n;
        end else if (pop) begin
            count <= level;
        end
    end

endmodule
