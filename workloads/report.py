"""A network on one engine design: per-layer GEMMs, cycles, bytes and time, and the totals.

Every cycle figure comes from :func:`systolic.sim.engine_perf.gemm_perf` (the host tiler's jobs
timed by the exact engine model the RTL is held to), asked once per distinct GEMM shape:
networks repeat shapes (ResNet-50's 54 layers have a few dozen), so :func:`gemm_figures` keeps
what it was told. numpy only, through the engine model; no Amaranth.
"""

import csv
import io
import time

from ..rtl.protocol import CRC_BYTES, HEADER_BYTES, MIN_MAX_PAYLOAD
from ..rtl.protocol import DEFAULT_BAUD
from ..sim.engine_perf import gemm_perf

__all__ = ["gemm_figures", "forget_figures", "link_bytes", "mapping_efficiency", "network_report", "report_csv",
           "LAYER_FIELDS", "TOTAL_FIELDS", "SCALESIM_COLUMNS", "BITS_PER_BYTE"]

#: Line bits a byte takes on an 8N1 UART: start, 8 data bits, stop.
BITS_PER_BYTE = 10
_FRAME = HEADER_BYTES + CRC_BYTES
_READ_REQUEST = _FRAME + 2       # a READ carries the word count it asks for

#: Per-layer keys of :func:`network_report`, in the order the CSV gives them.
LAYER_FIELDS = ("layer_id", "name", "kind", "m", "k", "n", "gemms", "macs", "jobs", "cycles",
                "total_cycles", "ideal_cycles", "efficiency", "sustained_efficiency",
                "mapping_efficiency", "bytes_to_engine", "bytes_from_engine", "link_bytes",
                "time_s", "link_s", "origin")
#: SCALE-Sim's COMPUTE_REPORT.csv columns that mean what one of ours does, and how to get them
#: from a layer row. (Its ``Stall Cycles``, memory stalls of its scratchpad model, have no
#: counterpart: the engine's model has no stalls apart from the loads in ``total_cycles``.)
SCALESIM_COLUMNS = {
    "LayerID": lambda row: row["layer_id"],
    "Total Cycles": lambda row: row["total_cycles"],
    "Overall Util %": lambda row: 100 * row["sustained_efficiency"],
    "Mapping Efficiency %": lambda row: 100 * row["mapping_efficiency"],
    "Compute Util %": lambda row: 100 * row["efficiency"],
}
#: Keys of the ``totals`` of :func:`network_report`.
TOTAL_FIELDS = ("layers", "macs", "jobs", "cycles", "total_cycles", "ideal_cycles",
                "efficiency", "sustained_efficiency", "bytes_to_engine", "bytes_from_engine",
                "link_bytes", "latency_s", "inferences_per_s", "sustained_gops", "peak_gops",
                "link_s", "link_inferences_per_s")


_FIGURES = {}


def gemm_figures(config, m, k, n):
    """Return :func:`~systolic.sim.engine_perf.gemm_perf` of ``m x k x n`` on ``config``,
    remembered for the life of the process: the one place this package asks the engine model."""
    key = (config, m, k, n)
    if key not in _FIGURES:
        _FIGURES[key] = gemm_perf(config, m, k, n)
    return _FIGURES[key]


def forget_figures():
    """Empty :func:`gemm_figures`'s memory (to time a report from scratch)."""
    _FIGURES.clear()


def mapping_efficiency(m, n, rows, cols):
    """Share of the array's R x C tiles that hold output elements: ``M*N / (ceil(M/R)*R *
    ceil(N/C)*C)`` (what SCALE-Sim calls the mapping efficiency of an output-stationary array)."""
    return m * n / (-(-m // rows) * rows * -(-n // cols) * cols)


def link_bytes(words_in, words_out, word_bytes, max_payload=MIN_MAX_PAYLOAD):
    """Bytes on the wire, both ways, to move ``words_in`` engine words to the board and
    ``words_out`` back in the wire protocol's frames (at least: every frame full).

    WRITE frames of at most ``max_payload`` bytes, each answered by an ACK; READ requests, each
    answered by a DATA frame of at most ``max_payload`` bytes. The driver's status words after
    each job and its partly filled frames add a little more.
    """
    step = max(1, max_payload // word_bytes) * word_bytes
    into, out = words_in * word_bytes, words_out * word_bytes
    writes, reads = -(-into // step), -(-out // step)
    return into + out + writes * 2 * _FRAME + reads * (_READ_REQUEST + _FRAME)


def _layer_row(index, layer, config, clock_hz, baud, max_payload):
    perf = gemm_figures(config, layer.m, layer.k, layer.n)
    count = layer.count
    array = config.array
    word_bytes = config.word_width // 8
    words_in, words_out = count * perf.words_in, count * perf.words_out
    wire = count * link_bytes(perf.words_in, perf.words_out, word_bytes, max_payload)
    row = {
        "layer_id": index, "name": layer.name, "kind": layer.kind,
        "m": layer.m, "k": layer.k, "n": layer.n, "gemms": count, "macs": layer.macs,
        "jobs": count * perf.jobs, "cycles": count * perf.cycles,
        "total_cycles": count * perf.total_cycles, "ideal_cycles": count * perf.ideal_cycles,
        "efficiency": perf.efficiency, "sustained_efficiency": perf.sustained_efficiency,
        "mapping_efficiency": mapping_efficiency(layer.m, layer.n, array.rows, array.cols),
        "bytes_to_engine": words_in * word_bytes, "bytes_from_engine": words_out * word_bytes,
        "link_bytes": wire,
        "time_s": count * perf.total_cycles / clock_hz if clock_hz else None,
        "link_s": wire * BITS_PER_BYTE / baud,
        "origin": layer.origin,
    }
    return row


def _totals(rows, config, batch, clock_hz):
    def total(key):
        return sum(row[key] for row in rows)
    totals = {key: total(key) for key in ("macs", "jobs", "cycles", "total_cycles",
                                          "ideal_cycles", "bytes_to_engine",
                                          "bytes_from_engine", "link_bytes", "link_s")}
    totals["layers"] = len(rows)
    totals["efficiency"] = totals["ideal_cycles"] / totals["cycles"]
    totals["sustained_efficiency"] = totals["ideal_cycles"] / totals["total_cycles"]
    latency = totals["total_cycles"] / clock_hz if clock_hz else None
    totals["latency_s"] = latency
    totals["inferences_per_s"] = batch / latency if latency else None
    totals["sustained_gops"] = 2 * totals["macs"] / latency / 1e9 if latency else None
    totals["peak_gops"] = 2 * config.array.macs * clock_hz / 1e9 if clock_hz else None
    totals["link_inferences_per_s"] = batch / totals["link_s"]
    return {key: totals[key] for key in TOTAL_FIELDS}


def network_report(network, config, *, batch=1, clock_hz=None, baud=DEFAULT_BAUD,
                   max_payload=MIN_MAX_PAYLOAD, progress=None):
    """Run every layer of ``network`` through the exact engine model of ``config``.

    Parameters
    ----------
    network : Network
        From :func:`~.topology.read_topology` or :func:`~.onnx_model.read_onnx`.
    config : EngineConfig
        The design.
    batch : int
        Inferences computed together (each layer's GEMMs grow by it, see
        :meth:`~.layers.Layer.batched`).
    clock_hz : float, optional
        The engine's clock; without it the times and rates are ``None``.
    baud : int
        Line rate of the board's UART, for the link's time.
    max_payload : int
        The board's frame size, for the bytes over the link.
    progress : callable, optional
        Called with a message whenever a new GEMM shape goes to the engine model.

    Returns
    -------
    dict
        ``network``, ``form``, ``source``, ``batch``, ``clock_hz``, ``baud``, ``config``,
        ``design``, ``layers`` (dicts with the keys :data:`LAYER_FIELDS`), ``totals`` (keys
        :data:`TOTAL_FIELDS`), ``not_mapped`` (``{op: count}``), ``notes``, ``shapes``
        (distinct GEMM shapes) and ``report_s`` (seconds this took).

    Notes
    -----
    ``cycles`` counts from a GEMM's first START to its last result word (the figure
    ``systolic simulate`` reports); ``total_cycles`` adds the first job's operand load, which
    nothing overlaps: the host sends a layer's operands only once the previous layer's results
    are back. Times, the latency (one pass over the batch) and the rates use ``total_cycles``;
    ``link_s`` is the time the same words take over the board's UART (:func:`link_bytes`).
    """
    started = time.perf_counter()
    layers = [layer.batched(batch) for layer in network.layers]
    shapes = sorted({(layer.m, layer.k, layer.n) for layer in layers})
    new = [shape for shape in shapes if (config, *shape) not in _FIGURES]
    if progress is not None and new:
        progress(f"{network.name}: {len(layers)} layers, {len(shapes)} distinct GEMM shapes, "
                 f"{len(new)} to run through the engine model of {config.describe()}")
    for number, (m, k, n) in enumerate(new, start=1):
        if progress is not None:
            progress(f"  GEMM shape {number}/{len(new)}: {m}x{k}x{n}")
        gemm_figures(config, m, k, n)
    rows = [_layer_row(i, layer, config, clock_hz, baud, max_payload)
            for i, layer in enumerate(layers)]
    return {
        "network": network.name, "form": network.form, "source": network.source,
        "batch": batch, "clock_hz": clock_hz, "baud": baud, "max_payload": max_payload,
        "config": config.to_dict(), "design": config.describe(),
        "layers": rows, "totals": _totals(rows, config, batch, clock_hz),
        "not_mapped": dict(network.not_mapped), "notes": list(network.notes),
        "shapes": len(shapes), "report_s": time.perf_counter() - started,
    }


def report_csv(report):
    """Return a :func:`network_report`'s layers as CSV text: a header line, then one line a layer
    with the columns :data:`LAYER_FIELDS` followed by :data:`SCALESIM_COLUMNS`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*LAYER_FIELDS, *SCALESIM_COLUMNS])
    for row in report["layers"]:
        writer.writerow([*(row[key] for key in LAYER_FIELDS),
                         *(column(row) for column in SCALESIM_COLUMNS.values())])
    return out.getvalue()
