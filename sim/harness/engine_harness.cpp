// Compiled Verilator testbench for the GEMM engine: the fast path behind
// systolic.sim.engine_verilog.run_engine_gemm_verilog(backend="verilator").
//
// It drives the engine's word streams as the Amaranth harness
// (systolic.sim.engine_sim.run_engine_words) does, cycle for cycle: cycle 0 is the first
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

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "verilated.h"
#include "Vtop.h"  // the model, built with --prefix Vtop

#if VM_TRACE_FST
#include "verilated_fst_c.h"
using Trace = VerilatedFstC;
#elif VM_TRACE
#include "verilated_vcd_c.h"
using Trace = VerilatedVcdC;
#endif

// Verilator escapes "__" in port names as "___05F": i_stream__valid is i_stream___05Fvalid.

namespace {

// Verilator stores a port in the narrowest of CData/SData/IData/QData that fits, or in
// VlWide<N> (N uint32 words) beyond 64 bits; these overloads copy between any of them and
// uint32 words, so words of any width the engine allows pass through unchanged.
template <typename T> constexpr std::size_t words_of(const T&) { return sizeof(T) <= 4 ? 1 : 2; }
template <std::size_t N> constexpr std::size_t words_of(const VlWide<N>&) { return N; }

template <typename T> void put(T& port, const uint32_t* w) {
    uint64_t value = w[0];
    if (sizeof(T) > 4) value |= static_cast<uint64_t>(w[1]) << 32;
    port = static_cast<T>(value);
}
template <std::size_t N> void put(VlWide<N>& port, const uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) port[i] = w[i];
}

template <typename T> void get(const T& port, uint32_t* w) {
    const uint64_t value = port;
    w[0] = static_cast<uint32_t>(value);
    if (sizeof(T) > 4) w[1] = static_cast<uint32_t>(value >> 32);
}
template <std::size_t N> void get(const VlWide<N>& port, uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) w[i] = port[i];
}

int fail(int status, const char* message) {
    std::fprintf(stderr, "engine_harness: %s\n", message);
    return status;
}

unsigned long long ull(uint64_t value) { return static_cast<unsigned long long>(value); }

}  // namespace

int main(int argc, char** argv) {
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

    auto context = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vtop>(context.get());
    if (words_of(top->i_stream___05Fpayload) != width_words ||
        words_of(top->o_stream___05Fpayload) != out_width_words) {
        std::fprintf(stderr, "engine_harness: this build's words and beats are %zu and %zu "
                             "uint32 wide, the host packed %zu and %zu\n",
                     words_of(top->i_stream___05Fpayload), words_of(top->o_stream___05Fpayload),
                     width_words, out_width_words);
        return 2;
    }

    std::vector<uint32_t> words(n_words * width_words);
    {
        std::FILE* f = std::fopen(words_path, "rb");
        if (!f) return fail(2, "cannot open the words file");
        const std::size_t got = std::fread(words.data(), sizeof(uint32_t), words.size(), f);
        std::fclose(f);
        if (got != words.size()) return fail(2, "the words file is shorter than NWORDS words");
    }

#if VM_TRACE
    std::unique_ptr<Trace> trace;
    if (argc == 11) {
        context->traceEverOn(true);
        trace = std::make_unique<Trace>();
        top->trace(trace.get(), 99);
        trace->open(argv[10]);
    }
    auto dump = [&]() { if (trace) trace->dump(context->time()); };
#else
    if (argc == 11) return fail(2, "this build has no waveform support");
    auto dump = []() {};
#endif

    // A 10 ns clock, like the cocotb benches' Clock(dut.clk, 10, unit="ns"), so that
    // waveforms of all drivers line up. Context time counts in the design's time precision.
    uint64_t half_period = 5;
    for (int exponent = -9; exponent > context->timeprecision(); --exponent) half_period *= 10;
    auto tick = [&]() {
        top->clk = 1;
        top->eval();
        context->timeInc(half_period);
        dump();
        top->clk = 0;
        top->eval();
        context->timeInc(half_period);
        dump();
    };

    // Two cycles of reset bring every register to its reset value, which is where the
    // Amaranth simulator starts; cycle 0 is the first cycle after.
    top->clk = 0;
    top->rst = 1;
    top->i_stream___05Fvalid = 0;
    top->o_stream___05Fready = 1;
    top->eval();
    dump();
    for (int i = 0; i < 2; ++i) tick();
    top->rst = 0;

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
        const bool offer = index < n_words;
        top->i_stream___05Fvalid = offer;
        if (offer) put(top->i_stream___05Fpayload, &words[index * width_words]);
        top->eval();
        if (offer && top->i_stream___05Fready) {
            accepted.push_back(cycle);
            ++index;
        }
        if (top->o_stream___05Fvalid) {
            outputs.resize(outputs.size() + record);
            uint32_t* out = &outputs[outputs.size() - record];
            out[0] = static_cast<uint32_t>(cycle);
            out[1] = static_cast<uint32_t>(cycle >> 32);
            get(top->o_stream___05Fpayload, out + 2);
            ++seen;
        }
        if (!done && index == n_words && seen >= n_out) {
            done = true;
            done_at = cycle;
        }
        tick();
        ++cycle;
    }
    top->i_stream___05Fvalid = 0;
    top->final();

    std::FILE* f = std::fopen(accepted_path, "wb");
    if (!f) return fail(2, "cannot write the accepted file");
    std::size_t put_count = std::fwrite(accepted.data(), sizeof(uint64_t), accepted.size(), f);
    std::fclose(f);
    if (put_count != accepted.size()) return fail(2, "short write to the accepted file");
    f = std::fopen(outputs_path, "wb");
    if (!f) return fail(2, "cannot write the outputs file");
    put_count = std::fwrite(outputs.data(), sizeof(uint32_t), outputs.size(), f);
    std::fclose(f);
    if (put_count != outputs.size()) return fail(2, "short write to the outputs file");

    std::printf("cycles=%llu taken=%llu outputs=%llu\n", ull(cycle), ull(index), ull(seen));
    return 0;
}
