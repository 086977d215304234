"""Simulation speed of the array on each backend, in useful MACs per second of simulation.

Usage::

    python benchmarks/sim_speed.py                  # 4x4, 8x8, 16x16; every backend found
    python benchmarks/sim_speed.py --arrays 4 --backends amaranth,verilator

Each backend runs an int8 GEMM sized to take it a few seconds: the Amaranth simulator is
given 32x64x32 (about 50 to 70 thousand MACs a second, a 256x256x256 GEMM would take minutes),
the compiled Verilator harness 256x256x256, and the cocotb bench (a Python call per cycle)
64x64x64. Every result is checked against the numpy model (result and cycle count) before
its speed counts. Build (compile or elaborate) time is reported apart from simulation time:
builds go to a fresh temporary directory, so they are real compiles, not cache hits.

The last column divides a backend's MACs/s by the Amaranth simulator's on the same array;
the project's goal is at least 100x for Verilator on 16x16.
"""

import argparse
import shutil
import sys
import tempfile
import time

import numpy as np

import machine_info

from systolic.rtl.config import ArrayConfig
from systolic.sim.model import gemm_cycles, matmul

#: backend name -> (simulator, driver, GEMM M, K, N)
BACKENDS = {
    "amaranth": (None, None, (32, 64, 32)),
    "verilator": ("verilator", "native", (256, 256, 256)),
    "verilator-cocotb": ("verilator", "cocotb", (64, 64, 64)),
    "icarus-cocotb": ("icarus", "cocotb", (64, 64, 64)),
}


def operands(config, m, k, n, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(*config.a_range, size=(m, k), endpoint=True, dtype=np.int64)
    b = rng.integers(*config.b_range, size=(k, n), endpoint=True, dtype=np.int64)
    return a, b


def measure(config, backend, build_root):
    """Run one backend on one array; return a row of the table (a dict)."""
    simulator, driver, (m, k, n) = BACKENDS[backend]
    a, b = operands(config, m, k, n)
    if simulator is None:
        from systolic.sim.backends.amaranth_array import run_array_gemm
        run = run_array_gemm(config, a, b)
        build_s = run.build_s
    else:
        from systolic.sim.backends.cocotb_array import build_simulator, run_gemm_verilog
        build_s = build_simulator(config, simulator, driver, build_root=build_root).compile_s
        run = run_gemm_verilog(config, a, b, backend=simulator, driver=driver, build_dir=build_root)
    ok = np.array_equal(run.result, matmul(a, b, config)) and run.cycles == gemm_cycles(m, k, n, config)
    return {"array": f"{config.rows}x{config.cols}", "backend": backend, "gemm": f"{m}x{k}x{n}",
            "macs": m * k * n, "cycles": run.cycles, "build_s": build_s, "sim_s": run.wall_s,
            "macs_per_s": m * k * n / run.wall_s, "ok": ok}


def available(backend):
    simulator = BACKENDS[backend][0]
    if simulator == "icarus":
        return shutil.which("iverilog") is not None
    if simulator == "verilator":
        from systolic.sim.backends.verilator_tools import locate_verilator
        return locate_verilator() is not None
    return True


def table(rows):
    base = {row["array"]: row["macs_per_s"] for row in rows if row["backend"] == "amaranth"}
    lines = ["| array | backend | GEMM | cycles | build s | sim s | MACs/s | vs Amaranth | checked |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        ratio = row["macs_per_s"] / base[row["array"]] if row["array"] in base else None
        lines.append(f"| {row['array']} | {row['backend']} | {row['gemm']} | {row['cycles']} | "
                     f"{row['build_s']:.1f} | {row['sim_s']:.3f} | {row['macs_per_s']:,.0f} | "
                     f"{'-' if ratio is None else f'{ratio:,.0f}x'} | {'ok' if row['ok'] else 'MISMATCH'} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arrays", default="4,8,16", help="square array sides (default 4,8,16)")
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help=f"comma-separated, from {', '.join(BACKENDS)} (default: all available)")
    parser.add_argument("--build-dir", help="build cache to use (default: a fresh temporary one, "
                                            "so that build times are real compiles)")
    args = parser.parse_args(argv)
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    for name in backends:
        if name not in BACKENDS:
            parser.error(f"unknown backend {name!r}")
    skipped = [name for name in backends if not available(name)]
    backends = [name for name in backends if name not in skipped]

    build_root = args.build_dir or tempfile.mkdtemp(prefix="systolic-sim-speed-")
    rows = []
    try:
        for side in (int(x) for x in args.arrays.split(",")):
            config = ArrayConfig(rows=side, cols=side, a_width=8, b_width=8, signed=True)
            for backend in backends:
                started = time.perf_counter()
                rows.append(measure(config, backend, build_root))
                print(f"  {side}x{side} {backend}: {time.perf_counter() - started:.1f} s",
                      file=sys.stderr, flush=True)
    finally:
        if args.build_dir is None:
            shutil.rmtree(build_root, ignore_errors=True)

    print(f"Machine: {machine_info.describe()}")
    print("Operands: int8 signed, accumulators 28 bits (max_k 4096), random values; "
          "MACs/s = M*K*N / simulation seconds (build apart).")
    if skipped:
        print(f"Not run (tool not installed): {', '.join(skipped)}")
    print()
    print(table(rows))
    base = {row["array"]: row["macs_per_s"] for row in rows if row["backend"] == "amaranth"}
    for row in rows:
        if row["backend"] == "verilator" and row["array"] == "16x16" and "16x16" in base:
            ratio = row["macs_per_s"] / base["16x16"]
            print(f"\n16x16 Verilator ({row['gemm']}) vs Amaranth: {ratio:,.0f}x the simulated "
                  f"MACs/s (goal: at least 100x): {'met' if ratio >= 100 else 'NOT MET'}")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
