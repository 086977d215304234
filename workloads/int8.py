"""Int8 networks of Gemm/MatMul layers: quantization, the numpy reference, any GEMM backend.

The arithmetic is the usual integer-only inference (Jacob et al., "Quantization and Training of
Neural Networks for Efficient Integer-Arithmetic-Only Inference", CVPR 2018), symmetric:

* activations are int8 with one scale a tensor (``x = scale * q``, zero point 0);
* weights are int8 with one scale per output channel (column of ``W``), in [-127, 127];
* a layer accumulates ``q_x @ q_W`` in int32 (the engine's accumulator) and adds an int32 bias
  at the scale ``s_x * s_W[j]``;
* between layers the host requantizes each accumulator to the next layer's int8 scale by a
  fixed-point multiplier and a rounding right shift, ``(acc * m_j + 2**(s_j - 1)) >> s_j``
  with ``m_j`` in [2**30, 2**31), then applies ReLU (clamp at 0) and saturates to int8;
* the last layer's accumulators are dequantized (``acc * s_x * s_W[j]``) for the scores.

The GEMMs go to whatever ``matmul(a, b)`` is given: the exact numpy product by default,
:meth:`systolic.host.Accelerator.matmul` for a board. Layer by layer, in batches of rows: one
layer's weights serve every batch before the next layer's go out, so a board that keeps the
operands it holds (the driver does) receives each weight matrix once.
"""

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Int8Layer", "Int8Network", "Int8Result", "quantize_multiplier", "requantize",
           "quantize_symmetric", "INT8_MIN", "INT8_MAX"]

INT8_MIN, INT8_MAX = -128, 127
_INT32 = (-(1 << 31), (1 << 31) - 1)


def quantize_multiplier(real):
    """Return ``(m, s)`` with ``real ~= m * 2**-s``, ``m`` in [2**30, 2**31), ``1 <= s <= 62``
    (for ``real`` below ``2**-32``: ``s = 62`` and a smaller ``m``).

    Parameters
    ----------
    real : float or array_like
        Positive real multipliers (one per output channel).

    Raises
    ------
    ValueError
        If a multiplier is not positive and finite, or ``2**30`` or more.
    """
    real = np.atleast_1d(np.asarray(real, dtype=np.float64))
    if not np.all(np.isfinite(real)) or np.any(real <= 0):
        raise ValueError("requantization multipliers must be positive and finite")
    mantissa, exponent = np.frexp(real)                 # real = mantissa * 2**exponent
    multiplier = np.round(mantissa * (1 << 31)).astype(np.int64)
    shift = 31 - exponent.astype(np.int64)
    carry = multiplier == (1 << 31)                     # mantissa rounded up to 1.0
    multiplier[carry] >>= 1
    shift[carry] -= 1
    if np.any(shift < 1):
        raise ValueError(f"a requantization multiplier of {real.max():g} is more than a 31-bit "
                         f"multiplier and a shift of at least 1 hold")
    # Below 2**-32 the multiplier is held at the longest shift (a dead channel's outputs
    # round to 0 then, as they should).
    tiny = shift > 62
    multiplier[tiny] = np.round(real[tiny] * 2.0 ** 62).astype(np.int64)
    shift[tiny] = 62
    return multiplier, shift


def requantize(acc, multiplier, shift, *, relu):
    """Return int8 ``clamp((acc * m + 2**(s-1)) >> s)``, clamped below at 0 with ``relu``.

    ``acc`` is an integer array whose last axis is the output channel; ``multiplier`` and
    ``shift`` have one entry per channel (see :func:`quantize_multiplier`).
    """
    acc = np.asarray(acc, dtype=np.int64)
    scaled = (acc * multiplier + (np.int64(1) << (shift - 1))) >> shift
    return np.clip(scaled, 0 if relu else INT8_MIN, INT8_MAX).astype(np.int8)


def quantize_symmetric(values, scale):
    """Return int8 ``clamp(round(values / scale))`` (round half to even)."""
    return np.clip(np.round(np.asarray(values, dtype=np.float64) / scale),
                   INT8_MIN, INT8_MAX).astype(np.int8)


@dataclass(frozen=True, eq=False)
class Int8Layer:
    """One Gemm (with bias) or MatMul (without) layer: ``acc = q_x @ weights + bias``.

    Attributes
    ----------
    weights : numpy.ndarray of int8, shape (K, N)
    bias : numpy.ndarray of int32, shape (N,), or None
        At the accumulator's scale, ``input_scale * weight_scale``.
    weight_scale : numpy.ndarray of float, shape (N,)
        One scale per output channel.
    input_scale : float
        Scale of the int8 activations this layer takes.
    multiplier, shift : numpy.ndarray of int64, shape (N,), or None
        Requantization to the next layer's input (:func:`requantize`); None for the last layer.
    relu : bool
        Clamp the requantized activations at 0.
    name : str
    """

    weights: np.ndarray
    bias: np.ndarray | None
    weight_scale: np.ndarray
    input_scale: float
    multiplier: np.ndarray | None = None
    shift: np.ndarray | None = None
    relu: bool = False
    name: str = ""

    def __post_init__(self):
        weights = np.asarray(self.weights)
        if weights.ndim != 2 or weights.dtype != np.int8:
            raise ValueError(f"layer {self.name!r}: weights must be a 2-D int8 array, got "
                             f"{weights.dtype} of shape {weights.shape}")
        n = weights.shape[1]
        if self.bias is not None:
            bias = np.asarray(self.bias)
            if bias.shape != (n,) or not np.issubdtype(bias.dtype, np.integer) or (
                    bias.size and (bias.min() < _INT32[0] or bias.max() > _INT32[1])):
                raise ValueError(f"layer {self.name!r}: bias must be {n} int32 values")
        if np.asarray(self.weight_scale).shape != (n,):
            raise ValueError(f"layer {self.name!r}: weight_scale must have {n} entries")
        if (self.multiplier is None) != (self.shift is None):
            raise ValueError(f"layer {self.name!r}: give both multiplier and shift, or neither")
        if self.multiplier is not None and (np.asarray(self.multiplier).shape != (n,)
                                            or np.asarray(self.shift).shape != (n,)):
            raise ValueError(f"layer {self.name!r}: multiplier and shift need {n} entries each")

    @property
    def shape(self):
        """``(K, N)``: inputs and outputs."""
        return self.weights.shape

    @property
    def output_scale(self):
        """Real value of one unit of the accumulator, per output channel."""
        return self.input_scale * np.asarray(self.weight_scale, dtype=np.float64)


@dataclass
class Int8Result:
    """What :meth:`Int8Network.run` computed.

    Attributes
    ----------
    accumulators : list of numpy.ndarray
        Each layer's int32 accumulators (bias included), int64 arrays of shape (rows, N).
    scores : numpy.ndarray
        The last layer's dequantized outputs.
    """

    accumulators: list
    scores: np.ndarray

    @property
    def predictions(self):
        """``argmax`` of the scores along the last axis (the class of a classifier)."""
        return np.argmax(self.scores, axis=-1)


def _exact_matmul(a, b):
    return np.asarray(a, dtype=np.int64) @ np.asarray(b, dtype=np.int64)


class Int8Network:
    """A chain of :class:`Int8Layer`: each layer's N is the next layer's K.

    Every layer but the last requantizes (it has a multiplier and shift), and each one's
    input scale is the scale its predecessor requantizes to.

    Parameters
    ----------
    layers : sequence of Int8Layer
    """

    def __init__(self, layers):
        self.layers = tuple(layers)
        if not self.layers:
            raise ValueError("an Int8Network needs at least one layer")
        for i, (layer, after) in enumerate(zip(self.layers, self.layers[1:])):
            if layer.shape[1] != after.shape[0]:
                raise ValueError(f"layer {i} has {layer.shape[1]} outputs but layer {i + 1} takes "
                                 f"{after.shape[0]} inputs")
            if layer.multiplier is None:
                raise ValueError(f"layer {i} ({layer.name!r}) is followed by another one, so it "
                                 f"needs a requantization multiplier and shift")

    @property
    def input_scale(self):
        """Scale of the int8 input the first layer takes."""
        return self.layers[0].input_scale

    def quantize_input(self, x):
        """Return the int8 form of real inputs ``x`` at :attr:`input_scale`."""
        return quantize_symmetric(x, self.input_scale)

    def run(self, x, matmul=None, *, batch=None):
        """Run int8 inputs ``x`` (rows x K) through the network.

        Parameters
        ----------
        x : array_like of int8, shape (rows, K)
        matmul : callable, optional
            ``matmul(a, b)`` returning the exact integer product of an int8 ``rows x K`` and
            ``K x N`` pair (default: numpy, in int64). ``Accelerator.matmul`` fits.
        batch : int, optional
            Rows per call of ``matmul`` (default: all at once). Layers run one after the other,
            each over every batch, so a layer's weights go out before the next layer's.

        Returns
        -------
        Int8Result
        """
        matmul = _exact_matmul if matmul is None else matmul
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.layers[0].shape[0]:
            raise ValueError(f"inputs must be rows x {self.layers[0].shape[0]}, got shape {x.shape}")
        if x.size and (x.min() < INT8_MIN or x.max() > INT8_MAX):
            raise ValueError("inputs must be int8 values (-128 to 127); use quantize_input()")
        batch = x.shape[0] if batch is None else batch
        if batch < 1:
            raise ValueError(f"batch={batch} must be at least 1")
        accumulators = []
        activations = x.astype(np.int8)
        for layer in self.layers:
            products = [np.asarray(matmul(activations[i:i + batch], layer.weights), dtype=np.int64)
                        for i in range(0, len(activations), batch)]
            acc = np.concatenate(products) if products else np.zeros((0, layer.shape[1]), np.int64)
            if layer.bias is not None:
                acc = acc + np.asarray(layer.bias, dtype=np.int64)
            accumulators.append(acc)
            if layer.multiplier is not None:
                activations = requantize(acc, layer.multiplier, layer.shift, relu=layer.relu)
        return Int8Result(accumulators, accumulators[-1] * self.layers[-1].output_scale)

    @classmethod
    def from_float(cls, weights, biases, calibration, *, relu=True, names=None):
        """Quantize a float MLP (``x @ W + b`` layers) with the scheme of the module.

        Parameters
        ----------
        weights : sequence of array_like, each K x N
        biases : sequence of array_like or None
            One per layer (None: a MatMul without bias).
        calibration : array_like, rows x K
            Representative real inputs: they set the input scale, and the float network's
            activations on them set each layer's output scale (largest magnitude / 127).
        relu : bool
            ReLU after every layer but the last.
        names : sequence of str, optional
        """
        weights = [np.asarray(w, dtype=np.float64) for w in weights]
        biases = list(biases) if biases is not None else [None] * len(weights)
        if len(biases) != len(weights):
            raise ValueError(f"{len(weights)} weight matrices but {len(biases)} biases")
        names = list(names) if names is not None else [f"layer{i + 1}" for i in range(len(weights))]
        x = np.asarray(calibration, dtype=np.float64)
        scale = _scale(x)
        layers = []
        for i, (w, b) in enumerate(zip(weights, biases)):
            last = i == len(weights) - 1
            w_scale = np.where(np.abs(w).max(axis=0) > 0, np.abs(w).max(axis=0) / 127, 1.0)
            q_w = np.clip(np.round(w / w_scale), -127, 127).astype(np.int8)
            q_b = None
            if b is not None:
                q_b = np.clip(np.round(np.asarray(b, dtype=np.float64) / (scale * w_scale)),
                              *_INT32).astype(np.int32)
            x = x @ w + (0 if b is None else np.asarray(b, dtype=np.float64))
            multiplier = shift = None
            if not last:
                if relu:
                    x = np.maximum(x, 0)
                out_scale = _scale(x)
                multiplier, shift = quantize_multiplier(scale * w_scale / out_scale)
            layers.append(Int8Layer(q_w, q_b, w_scale, scale, multiplier, shift,
                                    relu=relu and not last, name=names[i]))
            if not last:
                scale = out_scale
        return cls(layers)


def _scale(values):
    peak = float(np.abs(values).max()) if np.size(values) else 0.0
    return peak / 127 if peak > 0 and math.isfinite(peak) else 1.0
