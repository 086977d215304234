"""Int8 networks: fixed-point requantization, the numpy reference, and ``systolic infer``."""

import json

import numpy as np
import pytest

from systolic.rtl.config import ArrayConfig
from systolic.rtl.engine_config import EngineConfig
from systolic.sim.engine_model import engine_matmul
from systolic.workloads.int8 import (Int8Layer, Int8Network, quantize_multiplier, requantize,
                                     quantize_symmetric)


@pytest.mark.parametrize("real", [1.0, 0.5, 0.75, 3.1e-3, 1 / 3, 123.456, 2.0 ** -31, 1e-12])
def test_quantize_multiplier_is_a_31_bit_mantissa_and_a_shift(real):
    (m,), (s,) = quantize_multiplier(real)
    assert 1 <= s <= 62
    if s < 62:
        assert 1 << 30 <= m < 1 << 31
    assert m * 2.0 ** -s == pytest.approx(real, rel=2 ** -30, abs=2.0 ** -62)


@pytest.mark.parametrize("real", [0.0, -1.0, float("inf"), 2.0 ** 31])
def test_quantize_multiplier_refuses(real):
    with pytest.raises(ValueError):
        quantize_multiplier(real)


def test_requantize_rounds_and_saturates_like_the_real_product():
    rng = np.random.default_rng(0)
    acc = rng.integers(-(1 << 20), 1 << 20, size=(200, 6))
    real = np.array([3e-4, 1e-3, 7.7e-5, 2.5e-4, 1e-2, 4e-6])
    m, s = quantize_multiplier(real)
    for relu in (False, True):
        got = requantize(acc, m, s, relu=relu).astype(int)
        exact = acc * real
        expected = np.clip(np.floor(exact + 0.5), 0 if relu else -128, 127)
        # The fixed-point multiplier is exact to 2**-30 relative: off by one only at a .5 tie.
        assert np.all(np.abs(got - expected) <= 1)
        assert np.mean(got == expected) > 0.99
        assert got.min() >= (0 if relu else -128) and got.max() <= 127


def _random_network(rng, sizes, *, bias=True):
    weights = [rng.normal(size=(k, n)) / np.sqrt(k) for k, n in zip(sizes, sizes[1:])]
    biases = [rng.normal(size=n) * 0.1 if bias else None for n in sizes[1:]]
    calibration = rng.uniform(0, 1, size=(500, sizes[0]))
    return weights, biases, calibration


def test_from_float_tracks_the_float_network():
    rng = np.random.default_rng(1)
    weights, biases, calibration = _random_network(rng, [20, 16, 12, 5])
    network = Int8Network.from_float(weights, biases, calibration)
    x = rng.uniform(0, 1, size=(300, 20))
    result = network.run(network.quantize_input(x))
    real = x
    for i, (w, b) in enumerate(zip(weights, biases)):
        real = real @ w + b
        if i < len(weights) - 1:
            real = np.maximum(real, 0)
    assert result.scores.shape == real.shape
    assert np.corrcoef(result.scores.ravel(), real.ravel())[0, 1] > 0.99
    assert np.mean(result.predictions == np.argmax(real, axis=1)) > 0.9


def test_batches_and_any_exact_matmul_give_the_same_accumulators():
    rng = np.random.default_rng(2)
    weights, biases, calibration = _random_network(rng, [40, 24, 10], bias=False)
    network = Int8Network.from_float(weights, biases, calibration)
    x = network.quantize_input(rng.uniform(0, 1, size=(37, 40)))
    whole = network.run(x)
    config = EngineConfig(ArrayConfig(rows=3, cols=5), k_depth=16, m_blocks=2, n_blocks=2)
    calls = []

    def engine(a, b):                  # the engine's exact numpy model, counted
        calls.append(a.shape[0])
        return engine_matmul(a, b, config)
    batched = network.run(x, engine, batch=8)
    assert calls == [8, 8, 8, 8, 5] * 2
    for mine, theirs in zip(whole.accumulators, batched.accumulators):
        assert np.array_equal(mine, theirs)
    assert np.array_equal(whole.predictions, batched.predictions)


def test_a_hand_built_network_runs_as_written():
    # Two layers by hand: acc1 = x @ W1 + b1, requantized by 1/2 (m = 2**30, s = 31), ReLU;
    # acc2 = h @ W2, dequantized by its output scale.
    w1 = np.array([[1, -2], [3, 4]], dtype=np.int8)
    w2 = np.array([[1], [1]], dtype=np.int8)
    first = Int8Layer(w1, np.array([1, 0], dtype=np.int32), np.array([1.0, 1.0]), 1.0,
                      np.array([1 << 30, 1 << 30]), np.array([31, 31]), relu=True, name="a")
    second = Int8Layer(w2, None, np.array([0.5]), 1.0, name="b")
    network = Int8Network([first, second])
    x = np.array([[2, 1], [-1, 3]], dtype=np.int8)
    result = network.run(x)
    acc1 = x.astype(int) @ w1.astype(int) + [1, 0]             # [[6, 0], [9, 14]]
    hidden = np.clip(np.floor(acc1 / 2 + 0.5), 0, 127)          # [[3, 0], [5, 7]]
    assert np.array_equal(result.accumulators[0], acc1)
    assert np.array_equal(result.accumulators[1], hidden @ w2.astype(int))
    assert np.allclose(result.scores, (hidden @ w2.astype(int)) * 0.5)


@pytest.mark.parametrize("build, message", [
    (lambda w: Int8Network([Int8Layer(w, None, np.ones(3), 1.0),
                            Int8Layer(np.zeros((4, 2), np.int8), None, np.ones(2), 1.0)]),
     "has 3 outputs but layer 1 takes 4"),
    (lambda w: Int8Network([Int8Layer(w, None, np.ones(3), 1.0),
                            Int8Layer(np.zeros((3, 2), np.int8), None, np.ones(2), 1.0)]),
     "needs a requantization multiplier"),
    (lambda w: Int8Layer(w.astype(np.int16), None, np.ones(3), 1.0), "int8 array"),
    (lambda w: Int8Layer(w, np.zeros(2, np.int32), np.ones(3), 1.0), "bias must be 3"),
    (lambda w: Int8Network([]), "at least one layer"),
])
def test_malformed_networks_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build(np.zeros((2, 3), dtype=np.int8))


def test_inputs_outside_int8_are_refused():
    network = Int8Network([Int8Layer(np.zeros((2, 3), np.int8), None, np.ones(3), 1.0)])
    with pytest.raises(ValueError, match="int8 values"):
        network.run(np.array([[200, 0]]))
    assert quantize_symmetric([[300.0, -300.0]], 1.0).tolist() == [[127, -128]]


# --- the digits classifier and `systolic infer` -------------------------------------------------

def test_digits_classifier_quantizes_above_90_percent():
    from systolic.workloads.digits import train_digits
    model = train_digits(seed=0)
    result = model.network.run(model.test_inputs())
    assert len(model.y_test) == 360 and model.float_accuracy >= 0.9
    assert np.mean(result.predictions == model.y_test) >= 0.9
    again = train_digits(seed=0)
    assert all(np.array_equal(a.weights, b.weights)
               for a, b in zip(model.network.layers, again.network.layers))


def test_infer_on_the_engine_model(run_cli):
    status, out, err = run_cli("infer", "--rows", "3", "--cols", "5", "--k-depth", "16", "--json")
    assert status == 0, err
    report = json.loads(out)
    assert report["target"] == "model" and report["match"] and report["mismatched_images"] == 0
    assert report["accelerator_accuracy"] == report["int8_accuracy"] >= 0.9
    assert report["float_accuracy"] >= 0.9 and report["images"] == 360
    assert report["batch"] == EngineConfig.from_dict(report["config"]).max_m


@pytest.mark.parametrize("argv, message", [
    (["--hidden", "0"], "--hidden 0 is out of range"),
    (["--batch", "0"], "--batch 0 is out of range"),
    (["--unsigned"], "needs signed operands"),
    (["--width", "6"], "at least 8 bits"),
    (["--port", "/dev/null", "--rows", "8"], "describe(s) a virtual board"),
    (["--virtual", "--baud", "-3"], "argument --baud"),
])
def test_infer_bad_options_exit_2(run_cli, argv, message):
    status, out, err = run_cli("infer", *argv)
    assert status == 2 and out == "" and message in err
    assert len(err.strip().splitlines()) == 1


def _weight_bytes(report):
    return sum(layer["k"] * layer["n"] for layer in report["layers"])


def test_infer_on_a_virtual_board(run_cli):
    status, out, err = run_cli("infer", "--virtual", "--json")
    assert status == 0, err
    report = json.loads(out)
    assert report["target"] == "virtual" and report["match"]
    assert report["accelerator_accuracy"] == report["int8_accuracy"] >= 0.9
    assert report["images_per_s"] > 0 and report["retries"] == 0
    estimate = report["link_estimate"]
    wire = report["bytes_to_board"] + report["bytes_from_board"]
    assert estimate["baud"] == 1_000_000 and estimate["bytes"] == wire
    assert estimate["images_per_s"] == pytest.approx(report["images"] / (wire * 10 / 1_000_000))
    # The weights stay on the board across batches: less goes out than the activations plus
    # the weights once per batch (the int8 operands alone, framing not even counted).
    activations = report["images"] * sum(layer["k"] for layer in report["layers"])
    batches = -(-report["images"] // report["batch"])
    assert report["payload_to_board"] < activations + batches * _weight_bytes(report)


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["--hidden", "48", "24", "--batch", "50"],
                                  ["--rows", "8", "--cols", "8", "--seed", "3"]])
def test_infer_on_other_virtual_boards(run_cli, argv):
    status, out, err = run_cli("infer", "--virtual", *argv, "--json")
    assert status == 0, err
    report = json.loads(out)
    assert report["match"] and report["accelerator_accuracy"] == report["int8_accuracy"] >= 0.9
