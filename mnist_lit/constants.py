"""Facts about MNIST that the rest of the package shares (one source of truth each)."""

IMAGE_SIZE = 28
"""Height and width of an MNIST image in pixels."""

NUM_CLASSES = 10
"""Digits 0-9."""

CLASS_NAMES = tuple(str(digit) for digit in range(NUM_CLASSES))

MEAN = 0.5
"""Default normalisation mean: with ``STD`` it maps pixels from [0, 1] to [-1, 1], as the reference."""

STD = 0.5
"""Default normalisation standard deviation."""

TRAIN_IMAGES = 60_000
"""Images in the official MNIST training set."""

TEST_IMAGES = 10_000
"""Images in the official MNIST test set."""

NOT_A_DIGIT = -1
"""Label of a generated non-digit in training batches (``data/non_digits.py``, outlier exposure)."""
