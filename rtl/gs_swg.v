// gs_swg -- sliding-window generator (im2col on a stream) for convolution
// and pooling.
//
// Input, per image: IFM_H*IFM_W*C/SIMD beats, pixels in raster order (row y,
// then column x), each pixel's channels in groups of SIMD (beat g of a pixel
// holds channels g*SIMD .. g*SIMD+SIMD-1, lane k at [k*ELEM_BITS +: ELEM_BITS]).
// Output, per image: for every output pixel (oy, ox) in raster order, for
// every kernel position (ky, kx) in raster order, for every channel group g,
// one beat of SIMD elements
//     in[oy*S_H - PAD_T + ky][ox*S_W - PAD_L + kx][g*SIMD + k]
// or PAD_VALUE (in every lane) where that row or column lies outside the
// image: OFM_H*OFM_W*K_H*K_W*C/SIMD beats, the im2col vector of each output
// pixel in (ky, kx, c) order. Images follow each other back to back, no tlast.
//
// Parallel windows (KP > 1, needs SIMD = C): one beat carries KP consecutive
// kernel positions of the same (ky, kx, c) order, position j of the beat in
// lanes [j*C, (j+1)*C): KPW = min(KP, K_W) kernel columns of KPH = KP/KPW
// kernel rows. KP must divide K_W (part of a kernel row a beat) or be K_W*Q
// with Q dividing K_H (Q whole kernel rows; KP = K_H*K_W: a window a beat).
// OFM_H*OFM_W*K_H*K_W/KP beats of KP*C elements. KP = 1 is the plain core.
// Input rows and columns that no window covers are consumed and dropped.
//
//   OFM_H = (IFM_H + PAD_T + PAD_B - K_H) / S_H + 1    (floor)
//   OFM_W = (IFM_W + PAD_L + PAD_R - K_W) / S_W + 1
//
// Line buffer: a ring of R = K_H + S_H + RING_EXTRA rows of IFM_W*C/SIMD
// words (one memory, synchronous read; R*IFM_W*C elements; KP read ports,
// one a lane). Input rows go into the ring
// in order (row g of the stream into slot g mod R) whenever a slot is free,
// one beat a cycle. The reader starts an output row once every image row it
// needs is complete and then emits one beat a cycle. Rows are freed during
// the last window of an output row, each as soon as that window has read it
// and the next output row does not need it; the window's last beat frees
// the rest (at the end of an image: every row left of it, covered or not).
// With KPH > 1 a beat reads KPH rows; they are freed together after the
// last beat of their row group.
// So the writer fills S_H + RING_EXTRA rows ahead while the reader works,
// and the next image's first rows flow in while the last window of an image
// is read. The formula below assumes a source that is always valid; behind
// a producer that runs at the same rate as this core, RING_EXTRA >= 1 (and
// B = 0) keeps the ring from ever holding that producer up (the generator
// picks it: ir/schedule/folding.py swg_ring_extra).
//
// Throughput, unstalled (source always valid, sink always ready), steady
// state with back-to-back images (exact: the bench pins it, and it matched
// every one of ~100 configurations simulated):
//   cycles per image = max(IN, OUT + S)
//   IN   = IFM_H*IFM_W*C/SIMD              input beats per image
//   OUT  = OFM_H*OFM_W*K_H*K_W*C/SIMD/KP   output beats per image
// S is the reader's wait at an image boundary for the next image's first
// rows that did not fit into the ring before the image's last window began:
//   ROW  = IFM_W*C/SIMD                    beats of an input row
//   KWC  = K_W*C/SIMD/KPW                  beats of a window row group
//   WIN  = (K_H/KPH)*KWC                   beats of a window
//   Y    = (OFM_H-1)*S_H - PAD_T           first row of the last output row
//   N0   = min(K_H - PAD_T, IFM_H)         rows the first output row needs
//   HL   = IFM_H - max(0, Y)               rows the last output row holds
//   B    = max(0, N0 - (R - HL))           rows still to write at its start
//   TP   = max(0, -Y)                      padded rows atop the last window
//   f_j  = (floor((TP+j-1)/KPH) + 1)*KWC for j = 1..M, where
//          M = min(K_H-KPH-1, IFM_H-1-Y) - TP + 1 (slots freed while the last
//          window runs: kernel row TP+j-1 goes with its row group),
//          f_j = WIN for j > M
//   e_0  = 0, e_j = max(e_{j-1}, f_j) + ROW
//   S    = 0 if B = 0, else max(0, e_B - WIN)
// Common case (KP = 1, TP = 0, IFM_W >= K_W, B <= M):
//   S = max(0, B*ROW - (K_H-1)*KWC)
// e.g. "same" padding (3x3 pad 1, 5x5 pad 2, 7x7 s2 pad 3), pooling with
// K = S on sizes S divides, 1x1 (any stride) and kernel = whole image:
// S = 0, cycles = max(IN, OUT); 3x3 stride 1 without padding: B = 2,
// S = 2*(IFM_W-3)*C/SIMD. (Where trailing rows are dropped, S may be > 0
// but IN usually dominates: 7x7 input, 2x2 s2 pool, C/SIMD = 2:
// max(98, 72 + 10) = 98.) A window a beat (KP = K_H*K_W) frees no row
// early: 32x32, 3x3 stride 1, C = SIMD = 3 (FINN's CNV): B = 2, WIN = 1,
// e_2 = 1 + 2*32, S = 64, cycles = max(1024, 900 + 64) = 1024.
// Latency: an output beat is valid 2 cycles after its issue (registered
// memory read, then the gs_skid output slice). s_axis_tready depends only on
// registers (no combinational path from m_axis_tready).
//
// Parameters
//   IFM_H, IFM_W      input image height, width
//   C, SIMD           channels, channels per beat (SIMD divides C)
//   K_H, K_W          kernel height, width
//   S_H, S_W          strides
//   PAD_T, PAD_L, PAD_B, PAD_R   padding (each smaller than the kernel
//                     extent in its direction; may be 0 and asymmetric)
//   ELEM_BITS         element width
//   PAD_VALUE         raw ELEM_BITS-bit pattern emitted for padded positions
//   KP                kernel positions per output beat (default 1; > 1 needs
//                     SIMD = C; m_axis_tdata is KP*SIMD*ELEM_BITS wide)
//   RING_EXTRA        rows of the ring beyond K_H + S_H (default 0)
//
// Clock clk, synchronous active-low reset rst_n. Needs gs_skid.v.
module gs_swg #(
    parameter IFM_H     = 5,
    parameter IFM_W     = 5,
    parameter C         = 2,
    parameter K_H       = 3,
    parameter K_W       = 3,
    parameter S_H       = 1,
    parameter S_W       = 1,
    parameter PAD_T     = 0,
    parameter PAD_L     = 0,
    parameter PAD_B     = 0,
    parameter PAD_R     = 0,
    parameter SIMD      = 1,
    parameter ELEM_BITS = 8,
    parameter PAD_VALUE = 0,
    parameter KP        = 1,
    parameter RING_EXTRA = 0
) (
    input  wire                      clk,
    input  wire                      rst_n,

    input  wire [SIMD*ELEM_BITS-1:0] s_axis_tdata,
    input  wire                      s_axis_tvalid,
    output wire                      s_axis_tready,

    output wire [KP*SIMD*ELEM_BITS-1:0] m_axis_tdata,
    output wire                      m_axis_tvalid,
    input  wire                      m_axis_tready
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

    function integer max2;
        input integer a;
        input integer b;
        begin
            max2 = (a > b) ? a : b;
        end
    endfunction

    localparam WORD  = SIMD * ELEM_BITS;
    localparam CF    = C / SIMD;                                  // beats per pixel
    localparam OFM_H = (IFM_H + PAD_T + PAD_B - K_H) / S_H + 1;
    localparam OFM_W = (IFM_W + PAD_L + PAD_R - K_W) / S_W + 1;
    localparam R     = K_H + S_H + RING_EXTRA;                    // rows in the ring
    localparam ROWW  = IFM_W * CF;                                // words per row
    localparam DEPTH = R * ROWW;
    localparam KPW   = (KP < 1) ? 1 : ((KP < K_W) ? KP : K_W);                     // kernel columns per beat
    localparam KPH   = KP / KPW;                                  // kernel rows per beat
    localparam KWC   = K_W * CF;                                  // positions per window row
    localparam OWORD = KP * WORD;
    localparam AW    = (DEPTH > 1) ? clog2(DEPTH) : 1;
    // one width for all counters and address arithmetic (>= AW, holds every
    // biased coordinate, 2R and the largest address)
    localparam BIG   = max2(max2(DEPTH, 2 * R + 1),
                            max2(IFM_H + PAD_T + PAD_B + K_H + S_H,
                                 (IFM_W + PAD_L + PAD_R + K_W + S_W) * CF));
    localparam UW    = clog2(BIG + 1) + 1;

    // sized constants (biased coordinates: row index + PAD_T, and column
    // position (x + PAD_L)*CF + g, so that all arithmetic is unsigned)
    localparam [UW-1:0] U_ONE     = 1;
    localparam U_R_I        = R;
    localparam U_2R_I       = 2 * R;
    localparam U_ROWW_I     = ROWW;
    localparam U_ROW_END_I  = ROWW - 1;
    localparam U_DEP_END_I  = DEPTH - 1;
    localparam U_PT_I       = PAD_T;
    localparam U_PT_H_I     = PAD_T + IFM_H;               // first bottom-pad row
    localparam U_KH_1_I     = K_H - 1;
    localparam U_SH_I       = S_H;
    localparam U_PLC_I      = PAD_L * CF;
    localparam U_PLC_W_I    = (PAD_L + IFM_W) * CF;        // first right-pad position
    localparam U_SWC_I      = S_W * CF;
    localparam U_KWC_1_I    = KWC - KPW;                   // wp of a window row's last beat
    localparam U_KPW_I      = KPW;
    localparam U_KPH_I      = KPH;
    localparam U_KH_KPH_I   = K_H - KPH;                   // ky of a window's last beat
    localparam U_OW_1_I     = OFM_W - 1;
    localparam U_OH_1_I     = OFM_H - 1;
    localparam [UW-1:0] U_R       = U_R_I[UW-1:0];
    localparam [UW-1:0] U_2R      = U_2R_I[UW-1:0];
    localparam [UW-1:0] U_ROWW    = U_ROWW_I[UW-1:0];
    localparam [UW-1:0] U_ROW_END = U_ROW_END_I[UW-1:0];
    localparam [UW-1:0] U_DEP_END = U_DEP_END_I[UW-1:0];
    localparam [UW-1:0] U_PT      = U_PT_I[UW-1:0];
    localparam [UW-1:0] U_PT_H    = U_PT_H_I[UW-1:0];
    localparam [UW-1:0] U_KH_1    = U_KH_1_I[UW-1:0];
    localparam [UW-1:0] U_SH      = U_SH_I[UW-1:0];
    localparam [UW-1:0] U_PLC     = U_PLC_I[UW-1:0];
    localparam [UW-1:0] U_PLC_W   = U_PLC_W_I[UW-1:0];
    localparam [UW-1:0] U_SWC     = U_SWC_I[UW-1:0];
    localparam [UW-1:0] U_KWC_1   = U_KWC_1_I[UW-1:0];
    localparam [UW-1:0] U_KPW     = U_KPW_I[UW-1:0];
    localparam [UW-1:0] U_KPH     = U_KPH_I[UW-1:0];
    localparam [UW-1:0] U_KH_KPH  = U_KH_KPH_I[UW-1:0];
    localparam [UW-1:0] U_OW_1    = U_OW_1_I[UW-1:0];
    localparam [UW-1:0] U_OH_1    = U_OH_1_I[UW-1:0];
    localparam [ELEM_BITS-1:0] PAD_E = PAD_VALUE[ELEM_BITS-1:0];

    // parameter checks: an unknown module makes elaboration fail on purpose
    generate
        if (C % SIMD != 0) begin : g_bad_simd
            gs_swg_error_SIMD_must_divide_C u_error ();
        end
        if (IFM_H + PAD_T + PAD_B < K_H || IFM_W + PAD_L + PAD_R < K_W) begin : g_bad_kernel
            gs_swg_error_kernel_larger_than_padded_image u_error ();
        end
        if (PAD_T >= K_H || PAD_B >= K_H || PAD_L >= K_W || PAD_R >= K_W) begin : g_bad_pad
            gs_swg_error_padding_must_be_smaller_than_the_kernel u_error ();
        end
        if (S_H < 1 || S_W < 1) begin : g_bad_stride
            gs_swg_error_strides_must_be_at_least_1 u_error ();
        end
        if (KP < 1 || (KP <= K_W && K_W % KP != 0) || (KP > K_W && (KP % K_W != 0 || K_H % (KP / K_W) != 0))) begin : g_bad_kp
            gs_swg_error_KP_must_divide_K_W_or_be_K_W_times_a_divisor_of_K_H u_error ();
        end
        if (KP > 1 && SIMD != C) begin : g_bad_kp_simd
            gs_swg_error_KP_above_1_needs_SIMD_equal_to_C u_error ();
        end
    endgenerate

    reg [WORD-1:0] mem [0:DEPTH-1];

    // occupancy: db = R + (rows written completely) - (rows freed), in
    // [1, 2R]; rows may be freed before they are written (rows no window
    // covers), hence the bias
    reg  [UW-1:0] db;
    reg  [UW-1:0] fslot;          // ring slot of the oldest unfreed row

    // ------------------------------------------------------------ writer
    reg  [UW-1:0] wptr;           // memory address of the next input word
    reg  [UW-1:0] wpos;           // position in the row being written
    wire          w_ready  = (db < U_2R);
    wire          w_push   = s_axis_tvalid && w_ready;
    wire          row_done = w_push && (wpos == U_ROW_END);

    assign s_axis_tready = w_ready;

    always @(posedge clk) begin
        if (w_push) begin
            mem[wptr[AW-1:0]] <= s_axis_tdata;
        end
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            wptr <= {UW{1'b0}};
            wpos <= {UW{1'b0}};
        end else if (w_push) begin
            wptr <= (wptr == U_DEP_END) ? {UW{1'b0}} : wptr + U_ONE;
            wpos <= (wpos == U_ROW_END) ? {UW{1'b0}} : wpos + U_ONE;
        end
    end

    // ------------------------------------------------------------ reader
    reg  [UW-1:0] oy;             // output row
    reg  [UW-1:0] ox;             // output column
    reg  [UW-1:0] rbase;          // oy*S_H (biased first window row)
    reg  [UW-1:0] ky;             // kernel row (of the beat's first position)
    reg  [UW-1:0] cbase;          // ox*S_W*CF (biased first window position)
    reg  [UW-1:0] wp;             // kx*CF + g within the window row (first position)
    wire          en;             // stage 1 may take a beat
    wire          skid_ready;

    // rows of the current output row still held: rfree .. hi (biased, real)
    reg  [UW-1:0] rfree;          // image row of the oldest unfreed row
    wire [UW-1:0] rtop    = rbase + U_KH_1;
    wire [UW-1:0] hi      = (rtop < U_PT_H) ? rtop : U_PT_H - U_ONE;
    wire [UW-1:0] need    = hi + U_ONE - rfree + U_R;      // compare with db
    wire          rows_ok = (db >= need);
    wire          issue   = en && rows_ok;

    // the beat issued this cycle: its first position (lane 0) is at row rb,
    // position cp; lane j adds j / KPW rows and j % KPW columns (KP > 1 has
    // CF = 1: a position is a column)
    wire [UW-1:0] rb      = rbase + ky;
    wire [UW-1:0] cp      = cbase + wp;

    wire          wp_last = (wp == U_KWC_1);
    wire          ky_last = (ky == U_KH_KPH);
    wire          ox_last = (ox == U_OW_1);
    wire          oy_last = (oy == U_OH_1);

    // Freeing rows. The output row keeps its rows up to the next output
    // row's first row (lim); at the end of an image every row left goes.
    // In the last window of an output row, a row below lim is freed as soon
    // as the window has read it (then rb == rfree), so that the next rows
    // (or the next image's first rows) can flow in while the window ends;
    // the window's last beat frees the rest, up to lim.
    wire [UW-1:0] rnext   = rbase + U_SH;
    wire [UW-1:0] lo_next = (rnext + U_ONE <= U_PT) ? U_PT : rnext;
    wire [UW-1:0] lim     = oy_last ? U_PT_H : lo_next;
    // A beat covers KPH kernel rows: those real and below lim go (mcnt).
    wire          win_row = issue && wp_last && ox_last;        // a row group of the last window done
    wire          row_end = win_row && ky_last;
    wire [UW-1:0] mlo     = (rb + U_ONE <= U_PT) ? U_PT : rb;
    wire [UW-1:0] mhx_a   = rb + U_KPH;
    wire [UW-1:0] mhx     = (mhx_a < lim) ? mhx_a : lim;
    wire [UW-1:0] mcnt    = (mhx > mlo) ? mhx - mlo : {UW{1'b0}};
    wire          mid     = win_row && !ky_last && (mcnt != {UW{1'b0}});
    wire [UW-1:0] free    = row_end ? lim - rfree : (mid ? mcnt : {UW{1'b0}});
    wire [UW-1:0] fslot_s = fslot + free;

    always @(posedge clk) begin
        if (!rst_n) begin
            oy    <= {UW{1'b0}};
            ox    <= {UW{1'b0}};
            rbase <= {UW{1'b0}};
            ky    <= {UW{1'b0}};
            cbase <= {UW{1'b0}};
            wp    <= {UW{1'b0}};
            fslot <= {UW{1'b0}};
            rfree <= U_PT;
        end else if (issue) begin
            wp <= wp_last ? {UW{1'b0}} : wp + U_KPW;
            if (wp_last) begin
                ky <= ky_last ? {UW{1'b0}} : ky + U_KPH;
                if (ky_last) begin
                    ox    <= ox_last ? {UW{1'b0}} : ox + U_ONE;
                    cbase <= ox_last ? {UW{1'b0}} : cbase + U_SWC;
                    if (ox_last) begin
                        oy    <= oy_last ? {UW{1'b0}} : oy + U_ONE;
                        rbase <= oy_last ? {UW{1'b0}} : rnext;
                    end
                end
            end
            if (row_end || mid) begin
                fslot <= (fslot_s >= U_R) ? fslot_s - U_R : fslot_s;
                rfree <= row_end ? (oy_last ? U_PT : lo_next) : rfree + mcnt;
            end
        end
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            db <= U_R;
        end else begin
            db <= db + (row_done ? U_ONE : {UW{1'b0}}) - free;
        end
    end

    // ------------------------------------------------------------ stage 1: memory read
    reg             v1;
    wire [OWORD-1:0] out_word;

    assign en = !v1 || skid_ready;

    always @(posedge clk) begin
        if (!rst_n) begin
            v1 <= 1'b0;
        end else if (en) begin
            v1 <= rows_ok;
        end
    end

    // one memory read port a lane (KP ports on the ring)
    genvar j;
    generate
        for (j = 0; j < KP; j = j + 1) begin : g_lane
            localparam DY_I = j / KPW;
            localparam DX_I = j % KPW;
            localparam [UW-1:0] U_DY = DY_I[UW-1:0];
            localparam [UW-1:0] U_DX = DX_I[UW-1:0];
            wire [UW-1:0] rbj     = rb + U_DY;
            wire [UW-1:0] cpj     = cp + U_DX;
            wire          pad     = (rbj + U_ONE <= U_PT) || (rbj >= U_PT_H) ||
                                    (cpj + U_ONE <= U_PLC) || (cpj >= U_PLC_W);
            wire [UW-1:0] slot_s  = fslot + (rbj - rfree);
            wire [UW-1:0] slot    = (slot_s >= U_R) ? slot_s - U_R : slot_s;
            // only the low AW bits address the memory (padded beats read anything)
            /* verilator lint_off UNUSEDSIGNAL */
            wire [UW-1:0] raddr   = slot * U_ROWW + (cpj - U_PLC);
            /* verilator lint_on UNUSEDSIGNAL */
            reg            pad1;
            reg [WORD-1:0] rdata1;

            always @(posedge clk) begin
                if (issue) begin
                    rdata1 <= mem[raddr[AW-1:0]];
                    pad1   <= pad;
                end
            end

            assign out_word[j*WORD +: WORD] = pad1 ? {SIMD{PAD_E}} : rdata1;
        end
    endgenerate

    gs_skid #(
        .WIDTH(OWORD)
    ) u_out (
        .clk           (clk),
        .rst_n         (rst_n),
        .s_axis_tdata  (out_word),
        .s_axis_tvalid (v1),
        .s_axis_tready (skid_ready),
        .m_axis_tdata  (m_axis_tdata),
        .m_axis_tvalid (m_axis_tvalid),
        .m_axis_tready (m_axis_tready)
    );

endmodule
