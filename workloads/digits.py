"""An int8 classifier of handwritten digits, trained at run time: the network ``systolic infer`` runs.

The data are scikit-learn's bundled copy of the UCI "Optical Recognition of Handwritten Digits"
test set (Alpaydin & Kaynak, 1998): 1,797 images of 8 x 8 pixels with values 0 to 16, shipped
inside the scikit-learn wheel (no download). A multi-layer perceptron with ReLU hidden layers
is trained on a stratified split with scikit-learn's ``MLPClassifier`` and quantized to int8
(:meth:`~.int8.Int8Network.from_float`, the training images calibrating the scales).
"""

import time
import warnings
from dataclasses import dataclass

import numpy as np

from .int8 import Int8Network
from .layers import WorkloadError

__all__ = ["DigitsModel", "train_digits", "DEFAULT_HIDDEN", "PIXEL_MAX"]

#: Hidden layer sizes of the default network: 64 -> 32 -> 10.
DEFAULT_HIDDEN = (32,)
#: Largest pixel value of the data set (4 x 4 blocks of a 32 x 32 bitmap, counted).
PIXEL_MAX = 16.0


@dataclass
class DigitsModel:
    """A trained digits classifier, float and int8, with its data split.

    Attributes
    ----------
    network : Int8Network
    x_train, x_test : numpy.ndarray of float
        Pixels scaled to [0, 1].
    y_train, y_test : numpy.ndarray of int
    float_accuracy : float
        Of the float model on the test split.
    train_s : float
        Seconds to load, train and quantize.
    hidden : tuple of int
    seed : int
    """

    network: Int8Network
    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    float_accuracy: float
    train_s: float
    hidden: tuple
    seed: int

    def test_inputs(self):
        """The test images as the network's int8 inputs."""
        return self.network.quantize_input(self.x_test)


def _sklearn():
    try:
        from sklearn.datasets import load_digits
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        raise WorkloadError("the digits classifier needs scikit-learn: "
                            "pip install 'systolic[workloads]'") from None
    return load_digits, ConvergenceWarning, train_test_split, MLPClassifier


def train_digits(*, hidden=DEFAULT_HIDDEN, seed=0, test_fraction=0.2, max_iter=400):
    """Train and quantize the digits classifier; deterministic for a given ``seed``.

    Parameters
    ----------
    hidden : sequence of int
        Hidden layer sizes (ReLU).
    seed : int
        Seed of the split and of the training.
    test_fraction : float
        Share of the images held out for testing (stratified).
    max_iter : int
        Training epochs at most.

    Returns
    -------
    DigitsModel
    """
    load_digits, ConvergenceWarning, train_test_split, MLPClassifier = _sklearn()
    started = time.perf_counter()
    data = load_digits()
    x = data.data / PIXEL_MAX
    x_train, x_test, y_train, y_test = train_test_split(
        x, data.target, test_size=test_fraction, random_state=seed, stratify=data.target)
    classifier = MLPClassifier(hidden_layer_sizes=tuple(hidden), activation="relu",
                               max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():
        # Stopping at max_iter a little short of the tolerance is fine for a demo network.
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(x_train, y_train)
    float_accuracy = float(classifier.score(x_test, y_test))
    network = Int8Network.from_float(classifier.coefs_, classifier.intercepts_, x_train,
                                      names=[f"fc{i + 1}" for i in range(len(classifier.coefs_))])
    return DigitsModel(network, x_train, x_test, y_train, y_test, float_accuracy,
                       time.perf_counter() - started, tuple(hidden), seed)
