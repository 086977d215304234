"""ONNX models as GEMMs: built graphs against hand computation, and the onnx wheel's light models."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from systolic.workloads.onnx_model import ModelError, read_onnx  # noqa: E402

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
LIGHT_MODELS = sorted(p.name for p in LIGHT.glob("light_*.onnx"))


def _model(tmp_path, nodes, inputs, outputs, initializers=(), name="m"):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def _weight(name, shape):
    return numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)


def _input(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _output(name):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, None)


def _out_size(size, kernel, stride, pad_begin, pad_end, dilation=1):
    return (size + pad_begin + pad_end - dilation * (kernel - 1) - 1) // stride + 1


@pytest.mark.parametrize("n, c, h, w, f, kh, kw, stride, pads, dilation, groups", [
    (1, 3, 224, 224, 64, 7, 7, 2, (3, 3, 3, 3), 1, 1),       # a ResNet stem
    (2, 32, 56, 56, 32, 3, 3, 2, (1, 1, 1, 1), 1, 32),       # depthwise, batch 2
    (1, 24, 28, 20, 48, 3, 5, 1, (0, 2, 1, 2), 1, 4),        # grouped, asymmetric padding
    (1, 8, 30, 30, 16, 3, 3, 1, (2, 2, 2, 2), 2, 1),         # dilated
])
def test_conv_nodes_map_with_padding_strides_dilation_groups(tmp_path, n, c, h, w, f, kh, kw,
                                                             stride, pads, dilation, groups):
    node = helper.make_node("Conv", ["x", "w"], ["y"], strides=[stride, stride], pads=list(pads),
                            dilations=[dilation, dilation], group=groups, name="conv")
    path = _model(tmp_path, [node, helper.make_node("Relu", ["y"], ["z"])],
                  [_input("x", [n, c, h, w])], [_output("z")], [_weight("w", [f, c // groups, kh, kw])])
    network = read_onnx(path)
    (layer,) = network.layers
    out_h = _out_size(h, kh, stride, pads[0], pads[2], dilation)
    out_w = _out_size(w, kw, stride, pads[1], pads[3], dilation)
    assert (layer.m, layer.k, layer.n, layer.count) == (n * out_h * out_w, kh * kw * c // groups,
                                                        f // groups, groups)
    assert layer.macs == n * out_h * out_w * f * kh * kw * (c // groups)
    assert network.not_mapped == (("Relu", 1),)


def test_auto_pad_same_upper(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"], strides=[2, 2], auto_pad="SAME_UPPER")
    path = _model(tmp_path, [node], [_input("x", [1, 4, 15, 15])], [_output("y")],
                  [_weight("w", [8, 4, 3, 3])])
    assert read_onnx(path).layers[0].m == 8 * 8       # ceil(15 / 2) each way


def test_gemm_and_matmul_shapes(tmp_path):
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1, name="fc1"),
        helper.make_node("MatMul", ["h", "w2"], ["y"], name="fc2"),
        helper.make_node("MatMul", ["q", "k"], ["s"], name="scores"),
    ]
    path = _model(tmp_path, nodes, [_input("x", [5, 64]), _input("q", [2, 12, 128, 64]),
                                    _input("k", [2, 12, 64, 128])],
                  [_output("y"), _output("s")],
                  [_weight("w1", [32, 64]), _weight("b1", [32]), _weight("w2", [32, 10])])
    fc1, fc2, scores = read_onnx(path).layers
    assert (fc1.m, fc1.k, fc1.n, fc1.count, fc1.kind) == (5, 64, 32, 1, "gemm")
    assert (fc2.m, fc2.k, fc2.n, fc2.count, fc2.kind) == (5, 32, 10, 1, "matmul")
    # Two activations: one GEMM per (batch, head), and a batch multiplies the GEMMs.
    assert (scores.m, scores.k, scores.n, scores.count, scores.batch_axis) == (128, 64, 128, 24, "count")
    assert scores.batched(3).count == 72


def test_matmul_with_a_weight_matrix_folds_leading_dimensions_into_rows(tmp_path):
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    path = _model(tmp_path, [node], [_input("x", [4, 128, 768])], [_output("y")],
                  [_weight("w", [768, 3072])])
    (layer,) = read_onnx(path).layers
    assert (layer.m, layer.k, layer.n, layer.count, layer.batch_axis) == (512, 768, 3072, 1, "m")


def test_a_symbolic_batch_is_taken_as_one_and_noted(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"])
    path = _model(tmp_path, [node], [_input("x", ["N", 3, 8, 8])], [_output("y")],
                  [_weight("w", [4, 3, 3, 3])])
    network = read_onnx(path)
    assert network.layers[0].m == 36 and "taken as 1" in network.notes[0]


@pytest.mark.parametrize("build, message", [
    # Channels that do not split into the groups.
    (lambda: ([helper.make_node("Conv", ["x", "w"], ["y"], group=3)],
              [_input("x", [1, 8, 8, 8])], [_weight("w", [6, 2, 3, 3])]), "cannot map"),
    # A weight whose shape nothing can infer.
    (lambda: ([helper.make_node("Conv", ["x", "w"], ["y"])],
              [_input("x", [1, 8, 8, 8]), _input("w", None)], []), "shape of its weight"),
    # No GEMM at all.
    (lambda: ([helper.make_node("Relu", ["x"], ["y"])], [_input("x", [1, 8])], []),
     "no Conv, Gemm or MatMul node"),
])
def test_layers_that_cannot_map_are_errors(tmp_path, build, message):
    nodes, inputs, weights = build()
    path = _model(tmp_path, nodes, inputs, [_output("y")], weights)
    with pytest.raises(ModelError, match=message):
        read_onnx(path)


def test_a_file_that_is_not_onnx(tmp_path):
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"\x08\x07garbage that is not protobuf\xff\xff")
    with pytest.raises(ModelError, match="not an ONNX model"):
        read_onnx(path)


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_models_map_every_conv_and_gemm(name):
    model = onnx.load(str(LIGHT / name))
    ops = Counter(node.op_type for node in model.graph.node)
    network = read_onnx(LIGHT / name)
    kinds = Counter(l.kind for l in network.layers)
    assert len(network.layers) == ops["Conv"] + ops["Gemm"] + ops["MatMul"]
    assert kinds["gemm"] == ops["Gemm"]
    assert dict(network.not_mapped) == {op: n for op, n in ops.items()
                                        if op not in ("Conv", "Gemm", "MatMul")}


def test_light_resnet50_macs_by_hand():
    network = read_onnx(LIGHT / "light_resnet50.onnx")
    assert len(network.layers) == 54 and network.layers[0].name and network.layers[-1].kind == "gemm"
    # The Caffe2 ResNet-50 (stride on the 3x3 conv of each downsampling block), by hand:
    stem = 112 * 112 * 7 * 7 * 3 * 64
    blocks = 0
    in_c = 64
    for width, count, size, first_stride in ((64, 3, 56, 1), (128, 4, 28, 2), (256, 6, 14, 2),
                                             (512, 3, 7, 2)):
        for i in range(count):
            in_size = size * (first_stride if i == 0 else 1)
            blocks += in_size ** 2 * in_c * width                 # 1x1 reduce
            blocks += size ** 2 * 9 * width * width               # 3x3 (strided in the first)
            blocks += size ** 2 * width * 4 * width               # 1x1 expand
            if i == 0:
                blocks += size ** 2 * in_c * 4 * width            # projection shortcut
            in_c = 4 * width
    assert network.macs == stem + blocks + 2048 * 1000
