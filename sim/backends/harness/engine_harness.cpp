// Compiled Verilator testbench for the GEMM engine: the fast path behind
// systolic.sim.backends.verilog_engine.run_engine_gemm_verilog(backend="verilator").
//
// It drives the engine's word streams as the Amaranth harness
// (systolic.sim.backends.amaranth_engine.run_engine_words) does, cycle for cycle: cycle 0 is the first
// cycle after reset; the next input word is offered on every cycle until all are taken
// (honouring i_stream.ready), and every output beat is taken on the cycle it appears
// (o_stream.ready is held high). The run ends once every input word was taken and NOUT
// output beats were seen, plus TAIL more cycles (to catch beats that should not be there).
//
// Usage: engine_harness WORDS NWORDS WIDTH_WORDS OUT_WIDTH_WORDS NOUT MAX_CYCLES TAIL ACCEPTED
//                       OUTPUTS [TRACE]
//   WORDS        binary file of NWORDS input words, each WIDTH_WORDS little-endian uint32
//                (bit 0 of the first uint32 is bit 0 of i_stream__payload)
//   WIDTH_WORDS, OUT_WIDTH_WORDS
//                uint32 per input word and per output beat; must be what the model's ports
//                hold (a check that the host packed the words for this build)
//   NOUT         output beats to wait for
//   MAX_CYCLES   give up (exit status 3) when the run has not finished by then
//   ACCEPTED     file written with the cycle each input word was taken (uint64 each)
//   OUTPUTS      file written with one record per output beat: its cycle (uint64), then
//                the beat (OUT_WIDTH_WORDS uint32)
//   TRACE        waveform file (only in builds made with --trace or --trace-fst)
// On success prints "cycles=N taken=T outputs=O" and exits with status 0.

#include "harness.h"

using harness::fail;
using harness::ull;

int main(int argc, char** argv) {
    harness::name = "engine_harness";
    if (argc != 10 && argc != 11) {
        return fail(2, "usage: engine_harness WORDS NWORDS WIDTH_WORDS OUT_WIDTH_WORDS NOUT "
                       "MAX_CYCLES TAIL ACCEPTED OUTPUTS [TRACE]");
    }
    const char* words_path = argv[1];
    const uint64_t n_words = std::strtoull(argv[2], nullptr, 10);
    const std::size_t width_words = std::strtoull(argv[3], nullptr, 10);
    const std::size_t out_width_words = std::strtoull(argv[4], nullptr, 10);
    const uint64_t n_out = std::strtoull(argv[5], nullptr, 10);
    const uint64_t max_cycles = std::strtoull(argv[6], nullptr, 10);
    const uint64_t tail = std::strtoull(argv[7], nullptr, 10);
    const char* accepted_path = argv[8];
    const char* outputs_path = argv[9];

    harness::Bench bench;
    const std::size_t in_words = harness::words_of(bench->i_stream___05Fpayload);
    const std::size_t out_words = harness::words_of(bench->o_stream___05Fpayload);
    if (in_words != width_words || out_words != out_width_words) {
        std::fprintf(stderr, "engine_harness: this build's words and beats are %zu and %zu "
                             "uint32 wide, the host packed %zu and %zu\n",
                     in_words, out_words, width_words, out_width_words);
        return 2;
    }

    std::vector<uint32_t> words(n_words * width_words);
    if (!harness::read_file(words_path, words)) {
        return fail(2, "cannot open the words file, or it is shorter than NWORDS words");
    }
    if (argc == 11 && !bench.trace(argv[10])) return fail(2, "this build has no waveform support");
    // Two cycles of reset bring every register to its reset value, which is where the
    // Amaranth simulator starts; cycle 0 is the first cycle after.
    bench->o_stream___05Fready = 1;
    bench.reset(2);

    std::vector<uint64_t> accepted;
    accepted.reserve(n_words);
    // One record per output beat: the cycle as two uint32 (low first), then the beat.
    const std::size_t record = 2 + out_width_words;
    std::vector<uint32_t> outputs;
    outputs.reserve(n_out * record);
    uint64_t index = 0, cycle = 0, seen = 0, done_at = 0;
    bool done = false;
    while (!done || cycle < done_at + tail) {
        if (cycle > max_cycles) {
            std::fprintf(stderr, "engine_harness: engine still running after %llu cycles: "
                                 "%llu of %llu words taken, %llu of %llu output beats seen\n",
                         ull(max_cycles), ull(index), ull(n_words), ull(seen), ull(n_out));
            return 3;
        }
        // Drive this cycle's inputs, settle the combinational logic, then sample the
        // handshake and the outputs: the values the next rising edge acts on.
        if (bench.offer(index < n_words ? &words[index * width_words] : nullptr)) {
            accepted.push_back(cycle);
            ++index;
        }
        if (bench.take_output(outputs, {static_cast<uint32_t>(cycle),
                                        static_cast<uint32_t>(cycle >> 32)})) {
            ++seen;
        }
        if (!done && index == n_words && seen >= n_out) {
            done = true;
            done_at = cycle;
        }
        bench.tick();
        ++cycle;
    }
    bench->i_stream___05Fvalid = 0;
    bench.finish();

    if (!harness::write_file(accepted_path, accepted)) {
        return fail(2, "cannot write the accepted file");
    }
    if (!harness::write_file(outputs_path, outputs)) return fail(2, "cannot write the outputs file");

    std::printf("cycles=%llu taken=%llu outputs=%llu\n", ull(cycle), ull(index), ull(seen));
    return 0;
}
