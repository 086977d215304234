// What the compiled Verilator harnesses share: the model and its clock, reset and waveform,
// copying stream payloads to and from uint32 words, reading and writing the files the host
// exchanges with them, and one-line failures. Each harness (array_harness.cpp,
// engine_harness.cpp, board_harness.cpp) includes it before its own main().
//
// Verilator escapes "__" in port names as "___05F": i_stream__valid is i_stream___05Fvalid.

#ifndef SYSTOLIC_HARNESS_H
#define SYSTOLIC_HARNESS_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
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

namespace harness {

// The harness's name, the start of every message it prints.
inline const char* name = "harness";

inline int fail(int status, const char* message) {
    std::fprintf(stderr, "%s: %s\n", name, message);
    return status;
}

inline unsigned long long ull(uint64_t value) { return static_cast<unsigned long long>(value); }

// Verilator stores a port in the narrowest of CData/SData/IData/QData that fits, or in
// VlWide<N> (N uint32 words) beyond 64 bits; these overloads copy between any of them and
// uint32 words, so payloads of any width pass through unchanged.
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

// Fill `data` (already sized) from the binary file at `path`; false if it is missing or short.
template <typename T> bool read_file(const char* path, std::vector<T>& data) {
    std::FILE* f = std::fopen(path, "rb");
    if (!f) return false;
    const std::size_t got = std::fread(data.data(), sizeof(T), data.size(), f);
    std::fclose(f);
    return got == data.size();
}

// Write `data` to the binary file at `path`; false if it cannot be written whole.
template <typename T> bool write_file(const char* path, const std::vector<T>& data) {
    std::FILE* f = std::fopen(path, "wb");
    if (!f) return false;
    const std::size_t put_count = std::fwrite(data.data(), sizeof(T), data.size(), f);
    std::fclose(f);
    return put_count == data.size();
}

// The model on a 10 ns clock, like the cocotb benches' Clock(dut.clk, 10, unit="ns"), so that
// waveforms of all drivers line up, with an optional waveform.
class Bench {
public:
    Bench() : context_(std::make_unique<VerilatedContext>()),
              top_(std::make_unique<Vtop>(context_.get())) {
        // Context time counts in the design's time precision.
        for (int exponent = -9; exponent > context_->timeprecision(); --exponent) {
            half_period_ *= 10;
        }
    }

    Vtop* operator->() { return top_.get(); }
    Vtop& top() { return *top_; }

    // Start a waveform at `path`; false when this build has no waveform support.
    bool trace(const char* path) {
#if VM_TRACE
        context_->traceEverOn(true);
        trace_ = std::make_unique<Trace>();
        top_->trace(trace_.get(), 99);
        trace_->open(path);
        return true;
#else
        (void)path;
        return false;
#endif
    }

    // Settle the combinational logic on the inputs as they are now.
    void eval() {
        top_->eval();
    }

    // Offer `item` (the payload's uint32 words) on i_stream, or nothing (nullptr), and settle
    // the combinational logic; true if the design takes it on the next rising edge.
    bool offer(const uint32_t* item) {
        top_->i_stream___05Fvalid = item != nullptr;
        if (item) put(top_->i_stream___05Fpayload, item);
        top_->eval();
        return item && top_->i_stream___05Fready;
    }

    // If o_stream holds a beat (settled), append `head` and then the beat's uint32 words to
    // `out`; true if it did.
    bool take_output(std::vector<uint32_t>& out, std::initializer_list<uint32_t> head = {}) {
        if (!top_->o_stream___05Fvalid) return false;
        out.insert(out.end(), head);
        const std::size_t words = words_of(top_->o_stream___05Fpayload);
        out.resize(out.size() + words);
        get(top_->o_stream___05Fpayload, &out[out.size() - words]);
        return true;
    }

    // One clock cycle: a rising and a falling edge.
    void tick() {
        top_->clk = 1;
        top_->eval();
        context_->timeInc(half_period_);
        dump();
        top_->clk = 0;
        top_->eval();
        context_->timeInc(half_period_);
        dump();
    }

    // Hold reset for `cycles` cycles with i_stream.valid low; the caller sets its other inputs
    // first. Cycle 0 is the first cycle after.
    void reset(int cycles) {
        top_->clk = 0;
        top_->rst = 1;
        top_->i_stream___05Fvalid = 0;
        top_->eval();
        dump();
        for (int i = 0; i < cycles; ++i) tick();
        top_->rst = 0;
    }

    void finish() { top_->final(); }

private:
    void dump() {
#if VM_TRACE
        if (trace_) trace_->dump(context_->time());
#endif
    }

    std::unique_ptr<VerilatedContext> context_;
    std::unique_ptr<Vtop> top_;
    uint64_t half_period_ = 5;
#if VM_TRACE
    std::unique_ptr<Trace> trace_;
#endif
};

}  // namespace harness

#endif  // SYSTOLIC_HARNESS_H
