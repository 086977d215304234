"""Run SCALE-Sim (the peer's analytical model) on GEMMs; print its figures as JSON lines.

Runs *inside* a virtual environment that has SCALE-Sim (``pip install scalesim``, which needs
``numpy<2``, so not systolic's own environment)::

    python3 -m venv scalesim-venv
    scalesim-venv/bin/pip install "numpy<2" scalesim
    echo '[[8, 8, "os", 128, 128, 128]]' | scalesim-venv/bin/python benchmarks/scalesim_peer.py

Input (stdin): a JSON list of ``[rows, cols, dataflow, M, K, N]`` (dataflow ``os``, ``ws`` or
``is``). Output: one JSON object a line, ``{"rows", "cols", "dataflow", "m", "k", "n",
"total_cycles", "overall_util", "mapping_efficiency", "compute_util", "seconds",
"version"}`` from SCALE-Sim's ``COMPUTE_REPORT.csv`` (``overall_util`` is its ``Overall Util
%`` over 100: the compute-only efficiency, operand prefetch not counted). The SRAMs are sized
(6 MiB operands, 2 MiB results) and the interface bandwidth computed (``CALC``) so that
SCALE-Sim stalls on nothing: its figure is the array's own. This script imports nothing of
systolic's.
"""

import csv
import importlib.metadata
import json
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """[general]
run_name = peer

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: 6144
FilterSramSzkB: 6144
OfmapSramSzkB: 2048
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Dataflow: {dataflow}
Bandwidth: 10
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""


def run_one(rows, cols, dataflow, m, k, n):
    from scalesim.scale_sim import scalesim
    with tempfile.TemporaryDirectory(prefix="scalesim-") as tmp:
        tmp = Path(tmp)
        (tmp / "scale.cfg").write_text(CONFIG.format(rows=rows, cols=cols, dataflow=dataflow))
        # SCALE-Sim's GEMM topology columns are M, N, K.
        (tmp / "gemm.csv").write_text(f"Layer, M, N, K,\ngemm, {m}, {n}, {k},\n")
        started = time.perf_counter()
        sim = scalesim(save_disk_space=True, verbose=False, config=str(tmp / "scale.cfg"),
                       topology=str(tmp / "gemm.csv"), layout=str(tmp / "gemm.csv"),
                       input_type_gemm=True)
        sim.run_scale(top_path=str(tmp / "out"))
        seconds = time.perf_counter() - started
        (report,) = (tmp / "out").glob("*/COMPUTE_REPORT.csv")
        with open(report) as f:
            row = [dict((key.strip(), value.strip()) for key, value in line.items() if key)
                   for line in csv.DictReader(f)][0]
    return {"rows": rows, "cols": cols, "dataflow": dataflow, "m": m, "k": k, "n": n,
            "total_cycles": int(row["Total Cycles"]),
            "overall_util": float(row["Overall Util %"]) / 100,
            "mapping_efficiency": float(row["Mapping Efficiency %"]) / 100,
            "compute_util": float(row["Compute Util %"]) / 100,
            "seconds": seconds, "version": importlib.metadata.version("scalesim")}


def main():
    for rows, cols, dataflow, m, k, n in json.load(sys.stdin):
        print(json.dumps(run_one(rows, cols, dataflow, m, k, n)), flush=True)


if __name__ == "__main__":
    main()
