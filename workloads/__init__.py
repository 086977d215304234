"""Whole networks on the accelerator: per-layer GEMMs through the exact engine model, and int8
inference through the driver.

::

    from systolic.workloads import load_network, network_report
    from systolic.rtl.engine.config import EngineConfig
    from systolic.rtl.config import ArrayConfig

    net = load_network("resnet50")             # a shipped topology, a SCALE-Sim CSV or an .onnx
    report = network_report(net, EngineConfig(ArrayConfig(rows=16, cols=16)), clock_hz=100e6)
    print(report["totals"]["inferences_per_s"])

    from systolic.workloads import Int8Network
    from systolic.host import Accelerator

    net = Int8Network.from_float([w1, w2], [b1, b2], calibration=x_train)   # or Int8Layer(...)s
    with Accelerator.virtual() as acc:
        result = net.run(net.quantize_input(x_test), acc.matmul, batch=32)
    print(result.predictions)

Modules: :mod:`.layers` (layers as GEMMs), :mod:`.topology` (SCALE-Sim CSV), :mod:`.onnx_model`
(ONNX, needs ``onnx``), :mod:`.report` (cycles, bytes, time), :mod:`.economics` (cost and
energy per million inferences), :mod:`.plot`, :mod:`.int8` (quantized networks) and
:mod:`.digits` (the digits classifier, needs ``scikit-learn``). The shipped topologies are in
``topologies/`` beside this file.
"""

from importlib import resources
from pathlib import Path

from .int8 import Int8Layer, Int8Network, Int8Result
from .layers import Layer, LayerError, Network, WorkloadError
from .report import network_report

__all__ = ["load_network", "topology_path", "shipped_topologies", "network_report", "Layer",
           "Network", "WorkloadError", "LayerError", "Int8Layer", "Int8Network", "Int8Result"]


def shipped_topologies():
    """Return ``{name: path}`` of the topologies shipped with the package (``resnet50``, ...)."""
    folder = resources.files(__package__).joinpath("topologies")
    return {Path(entry.name).stem: Path(str(entry)) for entry in sorted(
        folder.iterdir(), key=lambda e: e.name) if entry.name.endswith(".csv")}


def topology_path(name):
    """Return the path of the shipped topology ``name`` (see :func:`shipped_topologies`).

    Raises
    ------
    WorkloadError
        If there is no such topology.
    """
    shipped = shipped_topologies()
    if name not in shipped:
        raise WorkloadError(f"no shipped topology {name!r}; there are {', '.join(shipped)}")
    return shipped[name]


def load_network(source):
    """Read a network: an ONNX model (``.onnx``, or any file that is not text), a SCALE-Sim
    topology CSV, or the name of a shipped topology.

    Raises
    ------
    WorkloadError
        If the file is missing, unreadable or malformed, or a layer cannot be mapped; the
        message says where.
    """
    from .onnx_model import read_onnx
    from .topology import read_topology
    path = Path(source)
    if not path.exists():
        shipped = shipped_topologies()
        if str(source) in shipped:
            return read_topology(shipped[str(source)])
        raise WorkloadError(f"{source}: no such file, and not a shipped topology "
                            f"({', '.join(shipped)})")
    if path.is_dir():
        raise WorkloadError(f"{source}: is a directory; give a topology CSV or an ONNX model")
    if path.suffix.lower() == ".onnx" or not _is_text(path):
        return read_onnx(path)
    return read_topology(path)


def _is_text(path):
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise WorkloadError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start >= len(head) - 3 and b"\0" not in head
    return b"\0" not in head
