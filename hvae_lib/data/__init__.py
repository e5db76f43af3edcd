"""Data sets of the book, found in one data directory (``HVAE_DATA_DIR``, default ``<project>/data``).

Files that are present are verified and used without network access; missing files are
downloaded where a network exists; missing files offline raise :class:`DataUnavailableError`,
which names the files, the directory searched and how to supply them.
"""

from hvae_lib.data.binarize import BinarizedBatches
from hvae_lib.data.cifar import load_cifar10
from hvae_lib.data.files import DataUnavailableError, data_dir
from hvae_lib.data.images import ImageDataset, ImageSplit, load_images
from hvae_lib.data.planetoid import load_planetoid

__all__ = [
    "BinarizedBatches",
    "DataUnavailableError",
    "ImageDataset",
    "ImageSplit",
    "data_dir",
    "load_cifar10",
    "load_images",
    "load_planetoid",
]
