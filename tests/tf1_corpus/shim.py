"""Data and plotting stand-ins for the corpus scripts, so they run offline and headless.

`input_data.read_data_sets(...)` mimics tensorflow.examples.tutorials.mnist.input_data: scikit-learn's
8x8 digits (1797 images shipped with the package) upscaled 3x and padded to 28x28 like MNIST, float32 in
[0, 1], split into train/validation/test DataSets with TF's `next_batch` (same epoch and shuffle logic).
`plt` swallows every plotting call."""
import os
import types

import numpy as np

_SIDE = 28


def _digits():
    """All 1797 scikit-learn digits as (N, 784) float32 images in [0, 1] and integer labels."""
    from sklearn.datasets import load_digits
    d = load_digits()
    img = np.kron(d.images / 16.0, np.ones((3, 3)))              # 8x8 -> 24x24
    img = np.pad(img, ((0, 0), (2, 2), (2, 2)))                   # -> 28x28, centred like MNIST
    order = np.random.RandomState(0).permutation(len(img))       # one fixed split, whatever the script seeds
    return img[order].reshape(-1, _SIDE * _SIDE).astype(np.float32), d.target[order].astype(np.uint8)


def _one_hot(labels, num_classes=10):
    """Dense one-hot rows (float64, as TF's dense_to_one_hot gives)."""
    out = np.zeros((len(labels), num_classes))
    out[np.arange(len(labels)), labels] = 1
    return out


class DataSet:
    """tensorflow.contrib.learn.python.learn.datasets.mnist.DataSet: images, labels and next_batch."""

    def __init__(self, images, labels, reshape=True):
        self._images = images if reshape else images.reshape(-1, _SIDE, _SIDE, 1)
        self._labels = labels
        self._num_examples = len(images)
        self._epochs_completed = 0
        self._index_in_epoch = 0

    images = property(lambda self: self._images)
    labels = property(lambda self: self._labels)
    num_examples = property(lambda self: self._num_examples)
    epochs_completed = property(lambda self: self._epochs_completed)

    def next_batch(self, batch_size, fake_data=False, shuffle=True):
        """The next `batch_size` examples, reshuffled at each epoch (TF's logic, numpy's global RNG)."""
        start = self._index_in_epoch
        if self._epochs_completed == 0 and start == 0 and shuffle:
            perm0 = np.arange(self._num_examples)
            np.random.shuffle(perm0)
            self._images, self._labels = self.images[perm0], self.labels[perm0]
        if start + batch_size > self._num_examples:
            self._epochs_completed += 1
            rest = self._num_examples - start
            images_rest, labels_rest = self._images[start:], self._labels[start:]
            if shuffle:
                perm = np.arange(self._num_examples)
                np.random.shuffle(perm)
                self._images, self._labels = self.images[perm], self.labels[perm]
            start = 0
            self._index_in_epoch = batch_size - rest
            end = self._index_in_epoch
            return (np.concatenate((images_rest, self._images[start:end]), axis=0),
                    np.concatenate((labels_rest, self._labels[start:end]), axis=0))
        self._index_in_epoch += batch_size
        end = self._index_in_epoch
        return self._images[start:end], self._labels[start:end]


def read_data_sets(train_dir=None, fake_data=False, one_hot=False, dtype=None, reshape=True,
                   validation_size=150, seed=None, source_url=None):
    """MNIST-shaped digits: 1347 train, 150 validation, 300 test (train_dir is ignored: nothing is read)."""
    images, labels = _digits()
    if one_hot:
        labels = _one_hot(labels)
    n_test = 300
    n_train = len(images) - n_test - validation_size
    cut = [n_train, n_train + validation_size]
    parts = [DataSet(i, lab, reshape) for i, lab in zip(np.split(images, cut), np.split(labels, cut))]
    return types.SimpleNamespace(train=parts[0], validation=parts[1], test=parts[2])


input_data = types.SimpleNamespace(read_data_sets=read_data_sets)


class _NoPlot:
    """Accepts any matplotlib call and does nothing (the corpus runs headless); unpacks as a pair."""

    def __getattr__(self, name):
        return self

    def __call__(self, *args, **kwargs):
        return self

    def __getitem__(self, key):
        return self

    def __iter__(self):
        return iter((self, self))


plt = _NoPlot()
matplotlib = _NoPlot()

# golbin/TensorFlow-Tutorials' "05 - TensorBoard, Saver/data.csv" (fur, wings -> class), copied as is
golbin_data_csv = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "golbin_data.csv")
