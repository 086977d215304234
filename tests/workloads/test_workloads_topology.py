"""Layers as GEMMs and SCALE-Sim topology files: shapes and MACs against hand computation."""

import math

import pytest

from systolic.workloads import load_network, shipped_topologies
from systolic.workloads.layers import (LayerError, conv_layer, conv_output_size, gemm_layer,
                                       scalesim_output_size)
from systolic.workloads.topology import TopologyError, parse_topology

CONV_HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"


def _hand_conv(h, w, fh, fw, c, f, s, s_w=None):
    """A SCALE-Sim conv row by hand: output (H - F) // S + 1 when S divides H - F, else one more."""
    s_w = s if s_w is None else s_w
    out_h = (h - fh) // s + 1 + (1 if (h - fh) % s else 0)
    out_w = (w - fw) // s_w + 1 + (1 if (w - fw) % s_w else 0)
    return out_h * out_w, fh * fw * c, f


# --- output sizes ------------------------------------------------------------------------------

@pytest.mark.parametrize("size, kernel, stride, pad, dilation, expected", [
    (224, 7, 2, 3, 1, 112),      # ResNet conv1
    (56, 3, 1, 1, 1, 56),        # same padding
    (56, 1, 2, 0, 1, 28),        # strided projection
    (227, 11, 4, 0, 1, 55),      # AlexNet conv1
    (32, 3, 1, 2, 2, 32),        # dilation 2, padding 2
    (5, 5, 1, 0, 1, 1),
])
def test_conv_output_size(size, kernel, stride, pad, dilation, expected):
    assert conv_output_size(size, kernel, stride, pad, pad, dilation) == expected


def test_conv_output_size_refuses_a_kernel_larger_than_the_input():
    with pytest.raises(LayerError, match="does not fit"):
        conv_output_size(4, 5)


@pytest.mark.parametrize("size, kernel, stride", [(229, 7, 2), (230, 7, 2), (58, 3, 1), (55, 1, 2),
                                                  (56, 1, 2), (13, 3, 3)])
def test_scalesim_output_size_is_the_ceil_formula(size, kernel, stride):
    assert scalesim_output_size(size, kernel, stride) == math.ceil((size - kernel + stride) / stride)
    if (size - kernel) % stride == 0:
        assert scalesim_output_size(size, kernel, stride) == conv_output_size(size, kernel, stride)


# --- conv lowering -----------------------------------------------------------------------------

@pytest.mark.parametrize("channels, filters, groups, kind", [
    (64, 128, 1, "conv"), (64, 128, 4, "grouped conv"), (96, 96, 96, "depthwise conv"),
    (32, 64, 32, "depthwise conv"),
])
def test_conv_layer_lowers_by_im2col_per_group(channels, filters, groups, kind):
    layer = conv_layer("x", batch=2, channels=channels, out_spatial=(14, 7), kernel=(3, 5),
                       filters=filters, groups=groups)
    assert (layer.m, layer.k, layer.n, layer.count, layer.kind) == (
        2 * 14 * 7, 3 * 5 * channels // groups, filters // groups, groups, kind)
    # Every output element is one dot product over its group's receptive field.
    assert layer.macs == 2 * 14 * 7 * filters * 3 * 5 * (channels // groups)


def test_conv_layer_refuses_channels_that_do_not_split_into_groups():
    with pytest.raises(LayerError, match="do not split into 3 groups"):
        conv_layer("x", batch=1, channels=64, out_spatial=(7, 7), kernel=(3, 3), filters=64,
                   groups=3)


@pytest.mark.parametrize("axis, batch, expected", [("m", 4, (4 * 10, 1)), ("count", 4, (10, 3 * 4))])
def test_batch_multiplies_rows_or_gemms(axis, batch, expected):
    layer = gemm_layer("x", 10, 20, 30, count=3 if axis == "count" else 1, batch_axis=axis)
    batched = layer.batched(batch)
    assert (batched.m, batched.count) == expected
    assert batched.macs == batch * layer.macs


# --- SCALE-Sim files -------------------------------------------------------------------------

ROWS = [
    # name, IFMAP H, W, filter H, W, channels, filters, stride (some not dividing H - F)
    ("Conv1", 224, 224, 3, 3, 3, 32, 2),
    ("Conv2", 112, 112, 1, 1, 32, 64, 1),
    ("Conv3", 57, 57, 3, 3, 64, 128, 2),
    ("Wide", 30, 60, 5, 3, 16, 8, 3),
    ("FC", 1, 1, 1, 1, 1024, 1000, 1),
]


def test_a_conv_topology_reports_the_hand_computed_macs():
    text = CONV_HEADER + "\n" + "\n".join(", ".join(map(str, row)) + "," for row in ROWS) + "\n"
    network = parse_topology(text, name="t")
    assert network.form == "SCALE-Sim conv" and [l.name for l in network.layers] == [r[0] for r in ROWS]
    for layer, row in zip(network.layers, ROWS):
        m, k, n = _hand_conv(*row[1:])
        assert (layer.m, layer.k, layer.n, layer.count) == (m, k, n, 1)
        assert layer.macs == m * k * n
    assert network.macs == sum(math.prod(_hand_conv(*row[1:])) for row in ROWS)


def test_a_gemm_topology_is_m_by_k_times_k_by_n():
    network = parse_topology("Layer, M, N, K,\nfc1, 12, 10, 40,\nattn, 128, 128, 64,\n")
    assert network.form == "SCALE-Sim GEMM"
    assert [(l.m, l.k, l.n, l.macs) for l in network.layers] == [
        (12, 40, 10, 12 * 40 * 10), (128, 64, 128, 128 * 64 * 128)]


def test_files_as_found_in_the_wild_are_read():
    # Comments, blank lines, tabs, a missing trailing comma, a comment after it, a second stride.
    text = ("# a comment\n\nLayer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
            "Channels, Num Filter, Stride height, Stride width,\n"
            "\tConv1,14,14,3,3,8,16,1,#dw\n"
            "Conv2, 14, 14, 3, 3, 8, 16, 1, 2\n"
            "\n")
    network = parse_topology(text)
    assert [(l.m, l.k, l.n) for l in network.layers] == [(12 * 12, 72, 16), (12 * 7, 72, 16)]  # ceil(13 / 2)


def test_dp_in_the_name_is_depthwise_as_in_scalesim():
    network = parse_topology(CONV_HEADER + "\nb1_DP, 114, 114, 3, 3, 32, 1, 1,\n")
    (layer,) = network.layers
    assert (layer.m, layer.k, layer.n, layer.count, layer.kind) == (112 * 112, 9, 1, 32,
                                                                    "depthwise conv")
    assert layer.macs == 112 * 112 * 9 * 32


@pytest.mark.parametrize("text, message", [
    ("Layer, M, N, K,\nfc1, 12, 10, 40,\nfc2, 12, 1x0, 40,\n", "line 3: N='1x0' must be a whole number"),
    ("Layer, M, N, K,\nfc1, 12, 10,\n", "line 2: expected a name and 3 numbers"),
    ("Layer, M, N, K,\nfc1, 12, 0, 4,\n", "line 2: N='0' must be a whole number >= 1"),
    ("# c\nLayer, M, N, K,\n\nfc1, 1, 2, 3, 4, 5,\n", "line 4: expected a name and 3 numbers"),
    (CONV_HEADER + "\nc, 5, 5, 7, 3, 1, 1, 1,\n", "line 2: Filter Height 7 is larger than IFMAP Height 5"),
    (CONV_HEADER + "\nc, 5, 5, 3, 3, 1, 1, -1,\n", "line 2: Strides='-1'"),
    ("Name, Rows, Cols,\nx, 1, 2,\n", "line 1: expected a SCALE-Sim header"),
    ("Layer, M, N, K,\n", "a header but no layer rows"),
    ("\n# only comments\n", "empty"),
])
def test_malformed_files_name_the_line(text, message):
    with pytest.raises(TopologyError, match=message):
        parse_topology(text, source="f.csv")


# --- the shipped topologies --------------------------------------------------------------------

# MACs per inference as the papers state them (multiply-adds): He et al. 2016, Table 1 (1.8e9,
# 3.8e9); Sandler et al. 2018 (300M); BERT-base's layer from its dimensions (H 768, 12 heads of
# 64, FFN 3072, 128 tokens): 4 projections, scores and context per head, two FFN GEMMs.
PAPER_MACS = {
    "resnet18": (1.8e9, 0.05), "resnet50": (3.8e9, 0.05), "mobilenetv2": (300e6, 0.01),
    "bert_base_encoder": (4 * 128 * 768 * 768 + 2 * 12 * 128 * 128 * 64 + 2 * 128 * 768 * 3072, 0),
}
PAPER_LAYERS = {"resnet18": 21, "resnet50": 54, "mobilenetv2": 53, "bert_base_encoder": 30}


@pytest.mark.parametrize("name", sorted(PAPER_MACS))
def test_shipped_topologies_have_the_papers_macs(name):
    assert name in shipped_topologies()
    network = load_network(name)
    macs, tolerance = PAPER_MACS[name]
    assert network.macs == pytest.approx(macs, rel=tolerance, abs=0)
    # conv layers + the classifier (ResNet-18: 17 convs, 3 projections, fc; ResNet-50: 49 + 4 + 1;
    # MobileNetV2: conv1, 17 blocks of 3 convs less the first block's expansion, conv, fc).
    assert len(network.layers) == PAPER_LAYERS[name]
    text = shipped_topologies()[name].read_text()
    assert text.startswith("# ") and ("He, Zhang" in text or "Sandler" in text or "Devlin" in text)


def test_mobilenetv2_depthwise_layers_are_one_gemm_per_channel():
    network = load_network("mobilenetv2")
    depthwise = [l for l in network.layers if "_DP" in l.name]
    assert len(depthwise) == 17
    assert all(l.kind == "depthwise conv" and l.k == 9 and l.n == 1 for l in depthwise)
