// Compiled Verilator harness of a whole board core (protocol bridge + GEMM engine) on byte
// streams: the simulated board behind systolic.host.virtual_board.VirtualBoard.
//
// Bytes the host sends arrive on stdin and go into i_stream, one per cycle when the core is
// ready; bytes of o_stream go out on stdout. Python connects both to the master side of a
// pseudo-terminal, so the driver talks to the slave side exactly as to a USB-serial adapter.
//
// The clock runs while anything is going on: bytes waiting to go in, bytes coming out, or
// an "active" bit of the core's status port set (a frame being received, executed or
// answered; a job in the array). Only once the core has been idle for SETTLE cycles does the
// harness sleep until the next byte, so the core's own timeouts (a frame that stops
// arriving, a READ with nothing to read) always run to their end in simulated time, and an
// idle virtual board costs no CPU.
//
// Usage: board_harness ACTIVE_MASK
//   ACTIVE_MASK  bits of the `status` port that mean "busy" (decimal or 0x hex)
// Runs until stdin reaches end of file or its other side is gone, or until SIGTERM/SIGINT;
// then prints "cycles=N bytes_in=I bytes_out=O" on stderr and exits with status 0.

#include <cerrno>
#include <csignal>
#include <deque>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "harness.h"

namespace {

volatile std::sig_atomic_t stop_requested = 0;

void on_signal(int) { stop_requested = 1; }

// Cycles of a quiet core (no byte in or out, no active status bit) before the harness
// sleeps: covers the few register stages between a byte and the status bit it sets.
constexpr uint64_t SETTLE = 64;
// Most cycles between two looks at stdin and stdout.
constexpr int BATCH = 1024;
// Cycles without an output byte that end an output burst (then it is written out).
constexpr uint64_t BURST_GAP = 8;
// Output bytes held before o_stream.ready is dropped (the host is not reading).
constexpr std::size_t OUT_HIGH = 1 << 16;
// Input bytes read ahead of the core.
constexpr std::size_t IN_HIGH = 1 << 14;

int set_nonblocking(int fd) {
    const int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

}  // namespace

int main(int argc, char** argv) {
    harness::name = "board_harness";
    if (argc != 2) return harness::fail(2, "usage: board_harness ACTIVE_MASK");
    const uint64_t active_mask = std::strtoull(argv[1], nullptr, 0);

    struct sigaction action = {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);   // no SA_RESTART: poll() returns EINTR at once
    sigaction(SIGINT, &action, nullptr);
    std::signal(SIGPIPE, SIG_IGN);          // a vanished reader shows as EPIPE/EIO instead

    // stdin and stdout are the same pty master; O_NONBLOCK on one sets it on both.
    if (set_nonblocking(0) < 0 || set_nonblocking(1) < 0) {
        std::perror("board_harness: fcntl");
        return 2;
    }

    harness::Bench bench;
    bench->o_stream___05Fready = 0;
    bench.reset(4);

    std::deque<uint8_t> in;
    std::vector<uint8_t> out;
    std::vector<uint8_t> buffer(4096);
    uint64_t cycle = 0, bytes_in = 0, bytes_out = 0;
    uint64_t quiet = 0;            // cycles since the core was last active
    uint64_t since_output = 0;     // cycles since the last output byte
    bool eof = false;

    while (!stop_requested && !eof) {
        // Read what the host sent (never blocking here).
        if (in.size() < IN_HIGH) {
            const ssize_t got = read(0, buffer.data(), buffer.size());
            if (got > 0) {
                in.insert(in.end(), buffer.begin(), buffer.begin() + got);
            } else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                eof = true;   // EIO: every slave descriptor is closed, the host is gone
                break;
            }
        }

        for (int i = 0; i < BATCH; ++i) {
            const bool offer = !in.empty();
            bench->i_stream___05Fvalid = offer;
            if (offer) bench->i_stream___05Fpayload = in.front();
            bench->o_stream___05Fready = out.size() < OUT_HIGH;
            // Settle the inputs, then sample the handshakes the rising edge acts on.
            bench.eval();
            const bool took = offer && bench->i_stream___05Fready;
            const bool gave = bench->o_stream___05Fvalid && bench->o_stream___05Fready;
            const uint8_t byte = bench->o_stream___05Fpayload;
            bench.tick();
            ++cycle;
            if (took) { in.pop_front(); ++bytes_in; }
            if (gave) { out.push_back(byte); ++bytes_out; since_output = 0; } else { ++since_output; }
            const bool active = took || gave || (bench->status & active_mask);
            quiet = active ? 0 : quiet + 1;
            if (in.empty() && quiet >= SETTLE) break;                 // idle: sleep below
            if (!out.empty() && since_output >= BURST_GAP) break;     // a reply is complete
        }

        // Write what the core sent, as much as the pty takes now.
        std::size_t written = 0;
        while (written < out.size()) {
            const ssize_t put = write(1, out.data() + written, out.size() - written);
            if (put > 0) { written += put; continue; }
            if (put < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
            eof = true;   // the other side is gone
            break;
        }
        out.erase(out.begin(), out.begin() + written);

        if (in.empty() && quiet >= SETTLE && out.empty()) {
            // Idle: wait for the host. POLLHUP means every slave descriptor was closed.
            pollfd fd = {0, POLLIN, 0};
            const int ready = poll(&fd, 1, 1000);
            if (ready > 0 && (fd.revents & (POLLHUP | POLLERR | POLLNVAL)) && !(fd.revents & POLLIN)) {
                eof = true;
            }
        } else if (out.size() >= OUT_HIGH) {
            // The host is not reading: wait until it does instead of spinning.
            pollfd fd = {1, POLLOUT, 0};
            poll(&fd, 1, 100);
        }
    }
    bench.finish();
    std::fprintf(stderr, "cycles=%llu bytes_in=%llu bytes_out=%llu\n", harness::ull(cycle),
                 harness::ull(bytes_in), harness::ull(bytes_out));
    return 0;
}
