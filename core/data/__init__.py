"""The digits: MNIST from a file, the Keras cache or the built-in sample (mnist), and a class's uploads (uploads).

The lowest layer: it imports nothing else of core.
"""

from core.data.mnist import (
    IMAGE_SIDE,
    MNIST_PATH_VARIABLE,
    NUM_CLASSES,
    DataError,
    DataTooLarge,
    MnistData,
    flatten_images,
    load_default,
    load_file,
    load_mnist,
    normalize_images,
    one_hot,
)
from core.data.uploads import load_upload

__all__ = [
    "IMAGE_SIDE", "MNIST_PATH_VARIABLE", "NUM_CLASSES", "DataError", "DataTooLarge", "MnistData", "flatten_images", "load_default",
    "load_file", "load_mnist", "load_upload", "normalize_images", "one_hot",
]
