// gs_rom -- read-only memory with a registered read.
//
// The weight, threshold and parameter memories of gs_mvu, gs_vvu, gs_thresholds
// and gs_requant. It is a module of its own so that synthesis maps it on its
// own: under Yosys synth_xilinx (hierarchy kept) a ROM in LUTs whose address
// comes from a counter register in the same module is mapped without MUXF7/
// MUXF8, about 4x the LUTs (measured: 64 x 196 words, 967 LUTs in the module
// of its counter, 269 in a module of its own; 64 x 64 words, 280 vs 64 -- one
// LUT6 a column). Vivado maps either the same way.
//
// Those cores keep a ROM of up to ROM_INLINE (4) words that is not block RAM in
// their own module (g_rom_small) instead: there its constants (a one-word ROM is
// all constants) and its one or two address bits fold into the logic it feeds,
// which a module boundary prevents under a hierarchy-kept synthesis (measured: a
// fully parallel gs_thresholds, C/PE = 1, 805 LUTs as a gs_rom vs 570 inline).
//
// Parameters
//   DEPTH      words (>= 1)
//   WIDTH      bits per word
//   MEM_FILE   $readmemh file of DEPTH words ("" : all zero)
//   MEM_STYLE  "auto" (the tool decides), "distributed" (LUT logic) or
//              "block" (RAMB18/36): rom_style for Vivado; under Yosys (`YOSYS
//              defined by read_verilog) the distributed branch says
//              ram_style = "logic", because Yosys' LUTRAM cells exclude ROMs.
//
// Ports
//   en         read enable: q <= rom[addr] on a rising clk edge with en high
//   addr       word address, 0 .. DEPTH-1
//   q          the word read on the last enabled edge
module gs_rom #(
    parameter integer DEPTH = 2,
    parameter integer WIDTH = 1,
    parameter MEM_FILE = "",
    parameter [8*11-1:0] MEM_STYLE = "auto"
) (
    input  wire                 clk,
    input  wire                 en,
    input  wire [((DEPTH > 1) ? clog2(DEPTH) : 1)-1:0] addr,
    output reg  [WIDTH-1:0]     q
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

    localparam [8*11-1:0] M_AUTO  = "auto";
    localparam [8*11-1:0] M_DIST  = "distributed";
    localparam [8*11-1:0] M_BLOCK = "block";

    // one branch per MEM_STYLE: a Verilog-2001 attribute takes a literal, not a parameter
    generate
        if (MEM_STYLE != M_AUTO && MEM_STYLE != M_DIST && MEM_STYLE != M_BLOCK) begin : g_bad_style
            gs_rom_error_MEM_STYLE_auto_distributed_or_block u_error ();
        end
        if (MEM_STYLE == M_DIST) begin : g_rom_dist
`ifdef YOSYS
            (* ram_style = "logic" *)           // Yosys: a ROM in LUTs is "logic"
`else
            (* rom_style = "distributed" *)     // Vivado
`endif
            reg [WIDTH-1:0] rom [0:DEPTH-1];
            initial if (MEM_FILE != "") $readmemh(MEM_FILE, rom);
            always @(posedge clk) if (en) q <= rom[addr];
        end else if (MEM_STYLE == M_BLOCK) begin : g_rom_block
            (* rom_style = "block" *) reg [WIDTH-1:0] rom [0:DEPTH-1];
            initial if (MEM_FILE != "") $readmemh(MEM_FILE, rom);
            always @(posedge clk) if (en) q <= rom[addr];
        end else begin : g_rom_auto
            reg [WIDTH-1:0] rom [0:DEPTH-1];
            initial if (MEM_FILE != "") $readmemh(MEM_FILE, rom);
            always @(posedge clk) if (en) q <= rom[addr];
        end
    endgenerate
endmodule
