// gs_concat -- channel concatenation of two pixel streams.
//
// Two modes, chosen by PE:
//
// PE dividing CA and CB (beat mode): for every pixel, forever, the CA/PE
// beats of s0 (CA channels, PE a beat), then the CB/PE beats of s1 (CB
// channels, PE a beat), on m_axis with PE elements a beat (element i of a
// beat at tdata[i*ELEM_BITS +: ELEM_BITS], passed through unchanged). Only
// the input whose turn it is is read (s0_axis_tready is low during s1's beats
// and vice versa). One beat a cycle while unstalled, including across the
// switches between inputs; latency one cycle (input handshake in cycle t ->
// m_axis_tvalid in cycle t+1).
//
// PE = CA + CB (pixel mode, for channel counts whose common divisors are too
// small to keep up): s0 carries a whole pixel's CA channels a beat, s1 its CB
// channels, m_axis the CA + CB channels of the pixel (s0's in the low
// elements). Each input has a one-beat holding register; a pixel leaves when
// both are full, so the inputs are read independently. One pixel a cycle
// while unstalled; latency two cycles.
//
// In both modes the tready outputs depend only on registers (turn, beat
// counter, holding registers and the gs_skid output slice).
//
// Parameters
//   CA, CB      channels of s0 and of s1 per pixel
//   PE          elements per output beat: divides CA and CB, or is CA + CB
//   ELEM_BITS   element width in bits
//
// Ports: s0_axis_tdata is PE (pixel mode: CA) elements wide, s1_axis_tdata PE
// (pixel mode: CB) elements, m_axis_tdata PE elements.
//
// Clock clk, synchronous active-low reset rst_n (beat mode: the next beat is
// s0's first of a pixel; pixel mode: both holding registers empty). Needs
// gs_skid.v.
module gs_concat #(
    parameter CA        = 4,
    parameter CB        = 4,
    parameter PE        = 1,
    parameter ELEM_BITS = 8
) (
    input  wire                    clk,
    input  wire                    rst_n,

    input  wire [((PE == CA + CB) ? CA : PE)*ELEM_BITS-1:0] s0_axis_tdata,
    input  wire                    s0_axis_tvalid,
    output wire                    s0_axis_tready,

    input  wire [((PE == CA + CB) ? CB : PE)*ELEM_BITS-1:0] s1_axis_tdata,
    input  wire                    s1_axis_tvalid,
    output wire                    s1_axis_tready,

    output wire [PE*ELEM_BITS-1:0] m_axis_tdata,
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

    localparam PIXEL = (PE == CA + CB) ? 1 : 0;
    localparam GA = PIXEL ? 1 : CA / PE;
    localparam GB = PIXEL ? 1 : CB / PE;
    localparam GMAX = (GA > GB) ? GA : GB;
    localparam CW = (GMAX > 1) ? clog2(GMAX) : 1;
    localparam GA_LAST_I = GA - 1;
    localparam GB_LAST_I = GB - 1;
    localparam [CW-1:0] GA_LAST = GA_LAST_I[CW-1:0];
    localparam [CW-1:0] GB_LAST = GB_LAST_I[CW-1:0];

    generate
        if (PE < 1 || CA < 1 || CB < 1 || (!PIXEL && (CA % PE != 0 || CB % PE != 0))) begin : g_bad_pe
            gs_concat_error_PE_must_divide_CA_and_CB_or_be_their_sum u_error ();
        end
    endgenerate

    wire                    skid_ready;
    wire                    skid_valid_in;
    wire [PE*ELEM_BITS-1:0] skid_data_in;

    generate
        if (PIXEL) begin : g_pixel
            reg  [CA*ELEM_BITS-1:0] a_data;
            reg  [CB*ELEM_BITS-1:0] b_data;
            reg                     a_full;
            reg                     b_full;
            // a pixel leaves when both halves are held and the output slice has room
            wire fire = a_full && b_full && skid_ready;

            assign s0_axis_tready = !a_full || fire;
            assign s1_axis_tready = !b_full || fire;
            assign skid_valid_in  = a_full && b_full;
            assign skid_data_in   = {b_data, a_data};

            always @(posedge clk) begin
                if (!rst_n) begin
                    a_full <= 1'b0;
                    b_full <= 1'b0;
                end else begin
                    if (s0_axis_tvalid && s0_axis_tready) begin
                        a_full <= 1'b1;
                    end else if (fire) begin
                        a_full <= 1'b0;
                    end
                    if (s1_axis_tvalid && s1_axis_tready) begin
                        b_full <= 1'b1;
                    end else if (fire) begin
                        b_full <= 1'b0;
                    end
                end
            end

            always @(posedge clk) begin
                if (s0_axis_tvalid && s0_axis_tready) begin
                    a_data <= s0_axis_tdata;
                end
                if (s1_axis_tvalid && s1_axis_tready) begin
                    b_data <= s1_axis_tdata;
                end
            end
        end else begin : g_beat
            reg           sel;    // 0: s0's turn, 1: s1's turn
            reg  [CW-1:0] cnt;    // beat within the current input's part of the pixel
            wire          in_valid = sel ? s1_axis_tvalid : s0_axis_tvalid;
            wire          take = skid_ready && in_valid;
            wire          last = sel ? (cnt == GB_LAST) : (cnt == GA_LAST);

            assign s0_axis_tready = skid_ready && !sel;
            assign s1_axis_tready = skid_ready && sel;
            assign skid_valid_in  = in_valid;
            assign skid_data_in   = sel ? s1_axis_tdata : s0_axis_tdata;

            always @(posedge clk) begin
                if (!rst_n) begin
                    sel <= 1'b0;
                    cnt <= {CW{1'b0}};
                end else if (take) begin
                    if (last) begin
                        sel <= !sel;
                        cnt <= {CW{1'b0}};
                    end else begin
                        cnt <= cnt + 1'b1;
                    end
                end
            end
        end
    endgenerate

    gs_skid #(
        .WIDTH(PE * ELEM_BITS)
    ) u_out (
        .clk           (clk),
        .rst_n         (rst_n),
        .s_axis_tdata  (skid_data_in),
        .s_axis_tvalid (skid_valid_in),
        .s_axis_tready (skid_ready),
        .m_axis_tdata  (m_axis_tdata),
        .m_axis_tvalid (m_axis_tvalid),
        .m_axis_tready (m_axis_tready)
    );

endmodule
