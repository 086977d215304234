"""Would one engine with both dataflows pay? Per-layer best of output- and weight-stationary.

Usage::

    python benchmarks/dataflow_choice.py
    python benchmarks/dataflow_choice.py --networks resnet50 --boards ulx3s-85f

Every layer of each shipped network goes through the exact engine model
(:func:`systolic.workloads.network_report`) of a board's default engine twice, once a dataflow.
``best`` takes the faster dataflow layer by layer, which is what an engine with both dataflows
and a run-time choice (Gemmini's ``BOTH``) would get; ``gain`` is how much faster that is than
the better of the two single-dataflow engines, the most such an engine could deliver per unit
of area if it cost no more than one of them. The area side is in BENCHMARKS.md ("FPGA builds").
"""

import argparse
import dataclasses

import machine_info

from systolic.boards.design import default_engine_config
from systolic.workloads import load_network, network_report

DATAFLOWS = ("output-stationary", "weight-stationary")
NETWORKS = ["resnet50", "mobilenetv2", "bert_base_encoder"]
BOARDS = ["icebreaker", "ulx3s-85f"]


def layer_cycles(network, config):
    """Each layer's ``total_cycles`` on ``config`` (operand load of its first job included)."""
    return [row["total_cycles"] for row in network_report(network, config)["layers"]]


def choice_row(network, board):
    """One row: the network on the board's default engine, each dataflow and the per-layer best."""
    base = default_engine_config(board)
    cycles = {name: layer_cycles(network, dataclasses.replace(
                  base, array=dataclasses.replace(base.array, dataflow=name)))
              for name in DATAFLOWS}
    os_cycles, ws_cycles = (cycles[name] for name in DATAFLOWS)
    best = [min(pair) for pair in zip(os_cycles, ws_cycles)]
    single = min(sum(os_cycles), sum(ws_cycles))
    return {"network": network.name, "board": board, "layers": len(best),
            "os": sum(os_cycles), "ws": sum(ws_cycles), "best": sum(best),
            "ws_layers": sum(w < o for o, w in zip(os_cycles, ws_cycles)),
            "gain": single / sum(best) - 1}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default=",".join(NETWORKS), help="shipped topologies")
    parser.add_argument("--boards", default=",".join(BOARDS), help="board defaults")
    args = parser.parse_args(argv)
    print(machine_info.describe())
    print()
    print("| network | board default | layers | OS cycles | WS cycles | per-layer best | "
          "layers faster on WS | best over the better single dataflow |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name in args.networks.split(","):
        network = load_network(name)
        for board in args.boards.split(","):
            r = choice_row(network, board)
            print(f"| {r['network']} | {r['board']} | {r['layers']} | {r['os']:,} | {r['ws']:,} "
                  f"| {r['best']:,} | {r['ws_layers']} | {r['gain']:+.1%} |")


if __name__ == "__main__":
    main()
