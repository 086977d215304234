"""Network layers as the GEMMs the engine computes (standard library only).

A convolution is lowered the standard way, by im2col: each output pixel of each image is a row
of ``A`` (its receptive field, ``filter height x filter width x channels`` values), each filter
a column of ``B``, so ``M = output pixels x batch``, ``K = kernel size x channels`` and
``N = filters``. A grouped convolution is one such GEMM per group, on its share of the channels
and filters; a depthwise convolution is the extreme case, one group per channel. A fully
connected layer (Gemm) or a MatMul is a GEMM as it stands.
"""

import math
from dataclasses import dataclass, field, replace

__all__ = ["WorkloadError", "LayerError", "Layer", "Network", "conv_output_size", "scalesim_output_size",
           "conv_layer", "gemm_layer", "BATCH_AXES"]

#: What a batch of B inferences multiplies in a layer: ``"m"``, the GEMM's rows (the B
#: operand, the weights, is shared by every inference), or ``"count"``, the number of GEMMs
#: (both operands are activations, e.g. attention scores: one GEMM per inference).
BATCH_AXES = ("m", "count")


class WorkloadError(ValueError):
    """A network that cannot be read or lowered; the message says where and what is wrong."""


class LayerError(WorkloadError):
    """A layer that cannot be lowered to GEMMs; the message names the layer and the value."""


def _positive(what, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LayerError(f"{what}={value!r} must be a whole number >= 1")
    return value


@dataclass(frozen=True)
class Layer:
    """One layer: ``count`` GEMMs of ``M x K`` times ``K x N``.

    Attributes
    ----------
    name : str
        The layer's name in its source (CSV row, ONNX node).
    kind : str
        ``conv``, ``grouped conv``, ``depthwise conv``, ``gemm`` or ``matmul``.
    m, k, n : int
        One GEMM's shape.
    count : int
        GEMMs of that shape (groups of a convolution, heads of an attention product).
    batch_axis : str
        One of :data:`BATCH_AXES`: what :meth:`batched` multiplies.
    origin : str
        Where the layer comes from (``line 7``, ``node 'conv1' (Conv)``), for messages.
    """

    name: str
    kind: str
    m: int
    k: int
    n: int
    count: int = 1
    batch_axis: str = "m"
    origin: str = ""

    def __post_init__(self):
        for what in ("m", "k", "n", "count"):
            _positive(f"{self.name}: {what.upper() if what != 'count' else what}",
                      getattr(self, what))
        if self.batch_axis not in BATCH_AXES:
            raise LayerError(f"{self.name}: batch_axis={self.batch_axis!r} must be one of "
                             f"{', '.join(BATCH_AXES)}")

    @property
    def macs(self):
        """Multiply-accumulates of the layer: ``count * M * K * N``."""
        return self.count * self.m * self.k * self.n

    def batched(self, batch):
        """Return the layer for ``batch`` inferences at once (the same layer for 1)."""
        _positive("batch", batch)
        if batch == 1:
            return self
        if self.batch_axis == "m":
            return replace(self, m=self.m * batch)
        return replace(self, count=self.count * batch)

    def to_dict(self):
        """The layer as a JSON-serializable dict (``macs`` included)."""
        return {"name": self.name, "kind": self.kind, "m": self.m, "k": self.k, "n": self.n,
                "gemms": self.count, "batch_axis": self.batch_axis, "macs": self.macs,
                "origin": self.origin}


@dataclass(frozen=True)
class Network:
    """A network as a list of layers, with what could not be mapped to GEMMs.

    Attributes
    ----------
    name : str
    layers : tuple of Layer
    form : str
        Where it was read from: ``SCALE-Sim conv``, ``SCALE-Sim GEMM`` or ``ONNX``.
    source : str
        The file.
    not_mapped : tuple of (str, int)
        Operator types that are not GEMMs (pooling, activations, normalization, ...) and how
        many nodes of each the model has, most frequent first.
    notes : tuple of str
        What the reader assumed (a symbolic dimension taken as 1, say).
    """

    name: str
    layers: tuple
    form: str = ""
    source: str = ""
    not_mapped: tuple = ()
    notes: tuple = field(default=())

    @property
    def macs(self):
        """Multiply-accumulates of one inference."""
        return sum(layer.macs for layer in self.layers)


def conv_output_size(size, kernel, stride=1, pad_begin=0, pad_end=0, dilation=1):
    """Output extent of a convolution along one axis: ``floor((size + pads - d*(kernel-1) - 1)
    / stride) + 1`` (Dumoulin & Visin, "A guide to convolution arithmetic for deep learning",
    2016).

    Raises
    ------
    LayerError
        If the (padded) input is smaller than the dilated kernel.
    """
    span = dilation * (kernel - 1) + 1
    padded = size + pad_begin + pad_end
    if padded < span:
        raise LayerError(f"a kernel spanning {span} does not fit an input of {size} padded to "
                         f"{padded}")
    return (padded - span) // stride + 1


def scalesim_output_size(size, kernel, stride):
    """Output extent of a SCALE-Sim topology row: ``ceil((size - kernel + stride) / stride)``.

    SCALE-Sim's own formula (``topology_utils.py``): equal to :func:`conv_output_size` when the
    stride divides ``size - kernel``, one more otherwise (a last, partial window).
    """
    if kernel > size:
        raise LayerError(f"a filter of {kernel} is larger than the IFMAP's {size}")
    return -(-(size - kernel + stride) // stride)


def conv_layer(name, *, batch, channels, out_spatial, kernel, filters, groups=1, origin=""):
    """Return the :class:`Layer` of a convolution lowered by im2col.

    Parameters
    ----------
    name : str
    batch : int
        Images the layer sees at once (the model's own batch).
    channels : int
        Input channels.
    out_spatial : sequence of int
        Output extent along each spatial axis.
    kernel : sequence of int
        Kernel extent along each spatial axis.
    filters : int
        Output channels.
    groups : int
        Channel groups; ``channels`` and ``filters`` must be multiples of it. Each group is one
        GEMM: ``M = batch * prod(out_spatial)``, ``K = prod(kernel) * channels / groups``,
        ``N = filters / groups``.
    origin : str
    """
    for what, value in (("batch", batch), ("channels", channels), ("filters", filters),
                        ("groups", groups)):
        _positive(f"{name}: {what}", value)
    if channels % groups or filters % groups:
        raise LayerError(f"{name}: {channels} channels and {filters} filters do not split into "
                         f"{groups} groups")
    for what, values in (("output size", out_spatial), ("kernel", kernel)):
        for value in values:
            _positive(f"{name}: {what}", value)
    if groups == 1:
        kind = "conv"
    elif groups == channels:
        kind = "depthwise conv"
    else:
        kind = "grouped conv"
    return Layer(name, kind, m=batch * math.prod(out_spatial),
                 k=math.prod(kernel) * (channels // groups), n=filters // groups, count=groups,
                 batch_axis="m", origin=origin)


def gemm_layer(name, m, k, n, *, count=1, kind="gemm", batch_axis="m", origin=""):
    """Return the :class:`Layer` of ``count`` ``m x k x n`` GEMMs."""
    return Layer(name, kind, m=m, k=k, n=n, count=count, batch_axis=batch_axis, origin=origin)
