"""Numbers: images of one or more handwritten digits in a row, segmented and read digit by digit.

- ``segment.py``: the ink split into pieces and cuts; every run of pieces that could be a digit
  drawn as a 28x28 candidate (``Lattice``), without a network.
- ``reader.py``: ``choose`` picks the candidates with the best total of network log-probability
  and shape prior (a dynamic programme over the cuts); ``NumberReader`` reads an image with a
  plain network (the demo, the benchmark).
- ``folders.py``: ``predict --data.read number``: each file segmented in a DataLoader worker,
  a batch's candidates read by the model at once.
- ``training.py``: ``make_candidates``: pieces cut from made-up numbers as the reader cuts them,
  labelled by the strokes they hold, to train on (``--data.number_pieces``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_lit.lazy import lazy_attributes

if TYPE_CHECKING:
    from mnist_lit.numbers.folders import NumberBatch, NumberImages
    from mnist_lit.numbers.reader import Costs, NumberReader, NumberReading, choose
    from mnist_lit.numbers.segment import Lattice, segment_image, segment_ink
    from mnist_lit.numbers.training import make_candidates

__all__ = [
    "Costs",
    "Lattice",
    "NumberBatch",
    "NumberImages",
    "NumberReader",
    "NumberReading",
    "choose",
    "make_candidates",
    "segment_image",
    "segment_ink",
]

__getattr__ = lazy_attributes(
    __name__,
    {
        "Costs": "reader",
        "Lattice": "segment",
        "NumberBatch": "folders",
        "NumberImages": "folders",
        "NumberReader": "reader",
        "NumberReading": "reader",
        "choose": "reader",
        "make_candidates": "training",
        "segment_image": "segment",
        "segment_ink": "segment",
    },
)
