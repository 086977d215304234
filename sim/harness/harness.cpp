// Compiled Verilator testbench for the systolic array: the fast path behind
// systolic.sim.cocotb_sim.run_gemm_verilog(backend="verilator").
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
// VlWide<N> words beyond 64 bits; these overloads copy between any of them and uint32 words.
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
    std::fprintf(stderr, "harness: %s\n", message);
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 6 && argc != 7) {
        return fail(2, "usage: harness BEATS NBEATS ROWS NROWS MAX_CYCLES [TRACE]");
    }
    const char* beats_path = argv[1];
    const uint64_t n_beats = std::strtoull(argv[2], nullptr, 10);
    const char* rows_path = argv[3];
    const uint64_t n_rows = std::strtoull(argv[4], nullptr, 10);
    const uint64_t max_cycles = std::strtoull(argv[5], nullptr, 10);

    auto context = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vtop>(context.get());
    const std::size_t in_words = words_of(top->i_stream___05Fpayload);
    const std::size_t out_words = words_of(top->o_stream___05Fpayload);

    std::vector<uint32_t> beats(n_beats * in_words);
    {
        std::FILE* f = std::fopen(beats_path, "rb");
        if (!f) return fail(2, "cannot open the beats file");
        const std::size_t got = std::fread(beats.data(), sizeof(uint32_t), beats.size(), f);
        std::fclose(f);
        if (got != beats.size()) return fail(2, "the beats file is shorter than NBEATS beats");
    }

#if VM_TRACE
    std::unique_ptr<Trace> trace;
    if (argc == 7) {
        context->traceEverOn(true);
        trace = std::make_unique<Trace>();
        top->trace(trace.get(), 99);
        trace->open(argv[6]);
    }
    auto dump = [&]() { if (trace) trace->dump(context->time()); };
#else
    if (argc == 7) return fail(2, "this build has no waveform support");
    auto dump = []() {};
#endif

    // A 10 ns clock, like the cocotb bench's Clock(dut.clk, 10, unit="ns"), so that
    // waveforms of both line up. Context time counts in the design's time precision.
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

    top->clk = 0;
    top->rst = 1;
    top->i_stream___05Fvalid = 0;
    top->eval();
    dump();
    for (int i = 0; i < 2; ++i) tick();
    top->rst = 0;

    std::vector<uint32_t> rows;
    rows.reserve(n_rows * out_words);
    uint64_t index = 0, cycle = 0, first = 0, last = 0, seen = 0;
    bool started = false;
    while (seen < n_rows) {
        if (cycle > max_cycles) {
            std::fprintf(stderr, "harness: no result after %llu cycles: %llu of %llu rows seen\n",
                         static_cast<unsigned long long>(max_cycles),
                         static_cast<unsigned long long>(seen),
                         static_cast<unsigned long long>(n_rows));
            return 3;
        }
        // Drive this cycle's inputs, settle the combinational logic (ready depends on the
        // payload's last flag), then sample the handshake and the registered outputs: the
        // values the next rising edge acts on.
        const bool offer = index < n_beats;
        top->i_stream___05Fvalid = offer;
        if (offer) put(top->i_stream___05Fpayload, &beats[index * in_words]);
        top->eval();
        if (offer && top->i_stream___05Fready) {
            if (!started) { started = true; first = cycle; }
            ++index;
        }
        if (top->o_stream___05Fvalid) {
            rows.resize(rows.size() + out_words);
            get(top->o_stream___05Fpayload, &rows[rows.size() - out_words]);
            last = cycle;
            ++seen;
        }
        tick();
        ++cycle;
    }
    // A few idle cycles more, so that a waveform shows the array settling back to idle.
    top->i_stream___05Fvalid = 0;
    for (int i = 0; i < 4; ++i) tick();
    top->final();

    std::FILE* f = std::fopen(rows_path, "wb");
    if (!f) return fail(2, "cannot write the rows file");
    const std::size_t put_count = std::fwrite(rows.data(), sizeof(uint32_t), rows.size(), f);
    std::fclose(f);
    if (put_count != rows.size()) return fail(2, "short write to the rows file");

    std::printf("first=%llu last=%llu cycles=%llu rows=%llu\n",
                static_cast<unsigned long long>(first), static_cast<unsigned long long>(last),
                static_cast<unsigned long long>(last - first + 1),
                static_cast<unsigned long long>(seen));
    return 0;
}
