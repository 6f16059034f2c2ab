"""Data for gtgen: the embedded 8×8 digits, MNIST / Fashion-MNIST IDX files, coloured digits in
five styles (PolyDigits, PolyMNIST files), partitioners.

Nothing here touches the network: the digits ship with scikit-learn, and MNIST is read from
IDX files in a folder the user names.
"""

from gtgen.data.digits import DIGITS_THRESHOLD, Dataset, flip_noise, load_digits
from gtgen.data.idx import MNIST_THRESHOLD, load_idx, load_mnist, save_idx
from gtgen.data.partition import by_classes, dirichlet, disjoint_slices, row_weights, stack_players
from gtgen.data.polydigits import (
    STYLES,
    PolyData,
    load_polydigits,
    load_polymnist,
    polydigits,
)

__all__ = [
    "DIGITS_THRESHOLD",
    "MNIST_THRESHOLD",
    "STYLES",
    "Dataset",
    "PolyData",
    "by_classes",
    "dirichlet",
    "disjoint_slices",
    "flip_noise",
    "load_digits",
    "load_idx",
    "load_mnist",
    "load_polydigits",
    "load_polymnist",
    "polydigits",
    "row_weights",
    "save_idx",
    "stack_players",
]
