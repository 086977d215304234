"""Whole networks: how long ``systolic workload`` takes to report, and ``systolic infer``'s figures.

Usage::

    python benchmarks/workloads.py                      # ResNet-50 on 16x16, infer on a virtual board
    python benchmarks/workloads.py --networks resnet50 --rows 16 --cols 16 --repeat 3

Report time: each network goes through :func:`systolic.workloads.network_report` on a fresh
cache of engine-model results, so every distinct GEMM shape is asked of
:func:`systolic.sim.engine_perf.gemm_perf` once; loading the network is timed apart.

Inference: ``systolic infer --virtual --json`` (the digits MLP trained at run time, its GEMMs on
the Verilated board core behind a pseudo-terminal), best images/s of ``--repeat`` runs; the
accuracies are the same every run (the training is seeded).
"""

import argparse
import json
import time
from pathlib import Path

import machine_info

from systolic.host import cli
from systolic.rtl.config import ArrayConfig
from systolic.rtl.engine.config import EngineConfig
from systolic.workloads import load_network, network_report
from systolic.workloads.report import forget_figures


def _light(name):
    import onnx
    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / f"light_{name}.onnx"


def report_time(source, config, clock_hz):
    """Load ``source`` and report it on ``config`` with an empty cache; return a row."""
    forget_figures()
    started = time.perf_counter()
    network = load_network(source)
    load_s = time.perf_counter() - started
    report = network_report(network, config, clock_hz=clock_hz)
    totals = report["totals"]
    return {"network": str(source) if not isinstance(source, Path) else source.name,
            "layers": totals["layers"], "shapes": report["shapes"], "macs": totals["macs"],
            "load_s": load_s, "report_s": report["report_s"],
            "efficiency": totals["sustained_efficiency"],
            "inferences_per_s": totals["inferences_per_s"]}


def infer(repeat):
    """Best of ``repeat`` runs of ``systolic infer --virtual --json``; return its report."""
    import contextlib
    import io
    best = None
    for _ in range(repeat):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = cli.main(["infer", "--virtual", "--json"])
        report = json.loads(out.getvalue())
        if status != 0 or not report["match"]:
            raise SystemExit(f"infer failed: status {status}, match {report['match']}")
        if best is None or report["images_per_s"] > best["images_per_s"]:
            best = report
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="onnx:resnet50,resnet50",
                        help="comma-separated: shipped topology names, or onnx:NAME for the onnx "
                             "wheel's light_NAME.onnx (default onnx:resnet50,resnet50)")
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--cols", type=int, default=16)
    parser.add_argument("--clock-mhz", type=float, default=100.0)
    parser.add_argument("--repeat", type=int, default=3, help="infer runs (best kept)")
    parser.add_argument("--no-infer", action="store_true")
    args = parser.parse_args()
    print(f"Machine: {machine_info.describe()}")
    config = EngineConfig(ArrayConfig(rows=args.rows, cols=args.cols))
    print(f"Design: {config.describe()}; {args.clock_mhz:g} MHz\n")
    print("| network | layers | distinct shapes | MACs | load s | report s | sustained efficiency "
          "| inferences/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in filter(None, args.networks.split(",")):
        source = _light(name[5:]) if name.startswith("onnx:") else name
        row = report_time(source, config, args.clock_mhz * 1e6)
        print(f"| {row['network']} | {row['layers']} | {row['shapes']} | {row['macs']:,} | "
              f"{row['load_s']:.2f} | {row['report_s']:.1f} | {row['efficiency']:.3f} | "
              f"{row['inferences_per_s']:.3g} |", flush=True)
    if args.no_infer:
        return
    report = infer(args.repeat)
    estimate = report["link_estimate"]
    print(f"\nsystolic infer --virtual (best of {args.repeat}): "
          f"{'-'.join(str(n) for n in [64, *report['hidden'], 10])} MLP, {report['images']} test "
          f"images, seed {report['seed']}, {report['batch']} images a GEMM")
    print(f"  accuracy: float {report['float_accuracy']:.4f}, int8 reference "
          f"{report['int8_accuracy']:.4f}, accelerator {report['accelerator_accuracy']:.4f} "
          f"({report['mismatched_images']} images differ)")
    print(f"  virtual board: {report['images_per_s']:,.0f} images/s ({report['wall_s']:.2f} s; "
          f"{report['bytes_to_board']:,} bytes to the board, {report['bytes_from_board']:,} back, "
          f"{report['exchanges']:,} exchanges)")
    print(f"  real UART at {estimate['baud']:,} baud (estimate, same bytes, no adapter latency): "
          f"{estimate['images_per_s']:,.0f} images/s")


if __name__ == "__main__":
    main()
