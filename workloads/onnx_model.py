"""ONNX models: their Conv, Gemm and MatMul nodes as GEMMs, everything else counted.

The model is read with the ``onnx`` package and its shapes inferred with
``onnx.shape_inference`` (constant folding of shape inputs included), so a graph that carries
no weights (the ``onnx`` wheel's "light" test models) maps as well as a full one. Symbolic
dimensions of the graph inputs (a batch called ``N``, say) are taken as 1; a batch of B is
applied afterwards (:meth:`~.layers.Layer.batched`).

Mapped to GEMMs: ``Conv``, ``ConvInteger``, ``QLinearConv`` (padding, strides, dilations,
``auto_pad`` and groups honoured: a depthwise convolution is one GEMM per channel), ``Gemm``
(``transA``/``transB``), ``MatMul``, ``MatMulInteger`` and ``QLinearMatMul`` (numpy's
broadcasting: with a constant 2-D right operand the leading dimensions of the left one are
more rows; otherwise each leading index is a GEMM of its own). Every other node is listed as
not mapped, with its count.
"""

import math
from collections import Counter
from pathlib import Path

from .layers import LayerError, Network, WorkloadError, conv_layer, conv_output_size, gemm_layer

__all__ = ["ModelError", "read_onnx", "network_from_model", "CONV_OPS", "MATMUL_OPS"]

#: Convolutions and the position of their weight input.
CONV_OPS = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}
#: Matrix products and the positions of their two operands.
MATMUL_OPS = {"Gemm": (0, 1), "MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3)}

_INSTALL = "pip install 'systolic[workloads]'"


class ModelError(WorkloadError):
    """An ONNX model that cannot be read or mapped; the message names the file and the node."""


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ModelError(f"reading ONNX models needs the onnx package: {_INSTALL}") from None
    return onnx


def read_onnx(path):
    """Read an ONNX model file; return its :class:`~.layers.Network` (the model's own batch).

    Raises
    ------
    ModelError
        If the file does not parse as an ONNX model, shape inference fails, or a Conv, Gemm or
        MatMul node cannot be mapped (its shapes unknown, its channels not a multiple of its
        groups, ...).
    """
    onnx = _onnx()
    path = Path(path)
    try:
        model = onnx.load(str(path))
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    except Exception as exc:     # protobuf's DecodeError and friends: the bytes are not a model
        raise ModelError(f"{path}: not an ONNX model ({type(exc).__name__}: {exc})") from None
    if not model.graph.node:
        raise ModelError(f"{path}: not an ONNX model (no graph nodes)")
    return network_from_model(model, name=path.stem, source=str(path))


def network_from_model(model, *, name="model", source="<model>"):
    """Map an in-memory ``onnx.ModelProto`` (see :func:`read_onnx`)."""
    onnx = _onnx()
    model, notes = _fix_symbolic_inputs(model)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:     # onnx raises its own InferenceError and plain RuntimeErrors
        raise ModelError(f"{source}: shape inference failed ({exc})") from None
    graph = inferred.graph
    shapes = _shapes(graph)
    constant = _constants(graph)
    attributes = onnx.helper.get_attribute_value
    layers, not_mapped = [], Counter()
    for index, node in enumerate(graph.node):
        label = node.name or f"{node.op_type}_{index}"
        where = f"{source}: node {label!r} ({node.op_type})"
        attrs = {a.name: attributes(a) for a in node.attribute}
        try:
            if node.op_type in CONV_OPS:
                layers.append(_conv(node, label, attrs, shapes))
            elif node.op_type in MATMUL_OPS:
                layers.append(_matmul(node, label, attrs, shapes, constant))
            else:
                not_mapped[node.op_type] += 1
        except LayerError as exc:
            raise ModelError(f"{where}: cannot map: {exc}") from None
    if not layers:
        raise ModelError(f"{source}: no Conv, Gemm or MatMul node to map (nodes: "
                         f"{', '.join(f'{op} x{n}' for op, n in not_mapped.most_common())})")
    return Network(name, tuple(layers), form="ONNX", source=source,
                   not_mapped=tuple(not_mapped.most_common()), notes=tuple(notes))


def _fix_symbolic_inputs(model):
    """Return a copy of ``model`` whose graph inputs have every symbolic dimension set to 1."""
    initializers = {i.name for i in model.graph.initializer}
    copy = None
    notes = []
    for index, value in enumerate(model.graph.input):
        if value.name in initializers or not value.type.HasField("tensor_type"):
            continue
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if not dim.HasField("dim_value"):
                if copy is None:
                    copy = type(model)()
                    copy.CopyFrom(model)
                label = dim.dim_param or "unnamed"
                copy.graph.input[index].type.tensor_type.shape.dim[axis].dim_value = 1
                notes.append(f"input {value.name!r}: dimension {axis} ({label}) taken as 1")
    return (copy or model), notes


def _shapes(graph):
    shapes = {}
    for value in (*graph.input, *graph.value_info, *graph.output):
        if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
            continue
        dims = value.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[value.name] = tuple(d.dim_value for d in dims)
    for tensor in graph.initializer:
        shapes[tensor.name] = tuple(tensor.dims)
    return shapes


def _constants(graph):
    """Names of the tensors that do not depend on a graph input (weights, folded shapes)."""
    constant = {tensor.name for tensor in graph.initializer}
    for node in graph.node:
        if all(name in constant for name in node.input if name):
            constant.update(node.output)
    return constant


def _shape(node, position, shapes, what):
    if position >= len(node.input) or not node.input[position]:
        raise LayerError(f"it has no {what} input")
    name = node.input[position]
    if name not in shapes:
        raise LayerError(f"the shape of its {what} {name!r} is unknown after shape inference")
    return shapes[name]


def _conv(node, label, attrs, shapes):
    x = _shape(node, 0, shapes, "input")
    w = _shape(node, CONV_OPS[node.op_type], shapes, "weight")
    if len(x) < 3 or len(w) != len(x):
        raise LayerError(f"input {list(x)} and weight {list(w)} are not N x C x spatial and "
                         f"F x C/groups x kernel")
    batch, channels, spatial = x[0], x[1], x[2:]
    filters, per_group, kernel = w[0], w[1], tuple(attrs.get("kernel_shape", w[2:]))
    groups = attrs.get("group", 1)
    if per_group * groups != channels:
        raise LayerError(f"{channels} input channels, but the weight takes {per_group} per group "
                         f"x {groups} group{'s' if groups != 1 else ''}")
    out = node.output[0] if node.output else ""
    if out in shapes and len(shapes[out]) == len(x):
        out_spatial = shapes[out][2:]
    else:
        out_spatial = _conv_output(spatial, kernel, attrs)
    return conv_layer(label, batch=batch, channels=channels, out_spatial=out_spatial,
                      kernel=kernel, filters=filters, groups=groups,
                      origin=f"node {label!r} ({node.op_type})")


def _conv_output(spatial, kernel, attrs):
    rank = len(spatial)
    strides = attrs.get("strides", [1] * rank)
    dilations = attrs.get("dilations", [1] * rank)
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return tuple(-(-size // stride) for size, stride in zip(spatial, strides))
    pads = attrs.get("pads", [0] * 2 * rank) if auto_pad in ("NOTSET", "") else [0] * 2 * rank
    return tuple(conv_output_size(size, k, s, pads[i], pads[i + rank], d)
                 for i, (size, k, s, d) in enumerate(zip(spatial, kernel, strides, dilations)))


def _matmul(node, label, attrs, shapes, constant):
    first, second = MATMUL_OPS[node.op_type]
    a = _shape(node, first, shapes, "left operand")
    b = _shape(node, second, shapes, "right operand")
    origin = f"node {label!r} ({node.op_type})"
    kind = "gemm" if node.op_type == "Gemm" else "matmul"
    if node.op_type == "Gemm":
        if len(a) != 2 or len(b) != 2:
            raise LayerError(f"Gemm takes 2-D operands, got {list(a)} and {list(b)}")
        m, k = reversed(a) if attrs.get("transA", 0) else a
        k_b, n = reversed(b) if attrs.get("transB", 0) else b
        a, b = (m, k), (k_b, n)
    if not a or not b:
        raise LayerError("a scalar operand is not a matrix product")
    # numpy's rules: a 1-D left operand is a row, a 1-D right operand a column.
    a = (1, *a) if len(a) == 1 else tuple(a)
    b = (*b, 1) if len(b) == 1 else tuple(b)
    if a[-1] != b[-2]:
        raise LayerError(f"inner dimensions differ: {list(a)} x {list(b)}")
    m, k, n = a[-2], a[-1], b[-1]
    weights = node.input[second] in constant
    if weights and len(b) == 2:
        # One weight matrix for every row of every leading index: one taller GEMM.
        return gemm_layer(label, math.prod(a[:-1]), k, n, kind=kind, origin=origin)
    try:
        leading = _broadcast(a[:-2], b[:-2])
    except LayerError as exc:
        raise LayerError(f"{exc}: {list(a)} x {list(b)}") from None
    return gemm_layer(label, m, k, n, count=math.prod(leading), kind=kind, batch_axis="count",
                      origin=origin)


def _broadcast(left, right):
    rank = max(len(left), len(right))
    left = (1,) * (rank - len(left)) + tuple(left)
    right = (1,) * (rank - len(right)) + tuple(right)
    out = []
    for x, y in zip(left, right):
        if x != y and 1 not in (x, y):
            raise LayerError("leading dimensions do not broadcast")
        out.append(max(x, y))
    return tuple(out)
