// Compiled Verilator testbench for the systolic array: the fast path behind
// systolic.sim.backends.cocotb_array.run_gemm_verilog(backend="verilator").
//
// It does what the cocotb bench and the Amaranth harness do, cycle for cycle, without a
// Python call per cycle: offer a beat every cycle, take every result row, and count cycles
// from the first accepted beat to the last result row, both included.
//
// Usage: harness BEATS NBEATS ROWS NROWS MAX_CYCLES [TRACE]
//   BEATS       binary file of NBEATS operand beats, each IN_WORDS little-endian uint32
//               words (bit 0 of word 0 is bit 0 of i_stream__payload)
//   ROWS        file written with the result rows, OUT_WORDS words each, same order
//   NROWS       result rows to wait for
//   MAX_CYCLES  give up (exit status 3) when the rows have not all come by then
//   TRACE       waveform file (only in builds made with --trace or --trace-fst)
// On success prints one line "first=F last=L cycles=N rows=R" and exits with status 0.

#include "harness.h"

using harness::fail;
using harness::ull;

int main(int argc, char** argv) {
    harness::name = "harness";
    if (argc != 6 && argc != 7) {
        return fail(2, "usage: harness BEATS NBEATS ROWS NROWS MAX_CYCLES [TRACE]");
    }
    const char* beats_path = argv[1];
    const uint64_t n_beats = std::strtoull(argv[2], nullptr, 10);
    const char* rows_path = argv[3];
    const uint64_t n_rows = std::strtoull(argv[4], nullptr, 10);
    const uint64_t max_cycles = std::strtoull(argv[5], nullptr, 10);

    harness::Bench bench;
    const std::size_t in_words = harness::words_of(bench->i_stream___05Fpayload);
    const std::size_t out_words = harness::words_of(bench->o_stream___05Fpayload);

    std::vector<uint32_t> beats(n_beats * in_words);
    if (!harness::read_file(beats_path, beats)) {
        return fail(2, "cannot open the beats file, or it is shorter than NBEATS beats");
    }
    if (argc == 7 && !bench.trace(argv[6])) return fail(2, "this build has no waveform support");
    bench.reset(2);

    std::vector<uint32_t> rows;
    rows.reserve(n_rows * out_words);
    uint64_t index = 0, cycle = 0, first = 0, last = 0, seen = 0;
    bool started = false;
    while (seen < n_rows) {
        if (cycle > max_cycles) {
            std::fprintf(stderr, "harness: no result after %llu cycles: %llu of %llu rows seen\n",
                         ull(max_cycles), ull(seen), ull(n_rows));
            return 3;
        }
        // Drive this cycle's inputs, settle the combinational logic (ready depends on the
        // payload's last flag), then sample the handshake and the registered outputs: the
        // values the next rising edge acts on.
        if (bench.offer(index < n_beats ? &beats[index * in_words] : nullptr)) {
            if (!started) { started = true; first = cycle; }
            ++index;
        }
        if (bench.take_output(rows)) {
            last = cycle;
            ++seen;
        }
        bench.tick();
        ++cycle;
    }
    // A few idle cycles more, so that a waveform shows the array settling back to idle.
    bench->i_stream___05Fvalid = 0;
    for (int i = 0; i < 4; ++i) bench.tick();
    bench.finish();

    if (!harness::write_file(rows_path, rows)) return fail(2, "cannot write the rows file");
    std::printf("first=%llu last=%llu cycles=%llu rows=%llu\n", ull(first), ull(last),
                ull(last - first + 1), ull(seen));
    return 0;
}
