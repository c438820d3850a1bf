"""Candidate digits cut from made-up numbers: labelled by the ink they hold, added to training."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mnist_lit.constants import NOT_A_DIGIT
from mnist_lit.data.datamodule import MNISTDataModule
from mnist_lit.data.synthetic import written_number
from mnist_lit.demo.recognise import Recogniser
from mnist_lit.errors import ConfigError
from mnist_lit.numbers.reader import DEFAULT_COSTS, PIECE_COSTS, Costs, NumberReading, choose
from mnist_lit.numbers.segment import segment_ink
from mnist_lit.numbers.training import UNCLEAR, label_candidates, make_candidates
from tests.helpers import TinyMNIST, run
from tests.numbers.helpers import FIXTURE, written


def test_a_candidate_is_its_digit_only_when_it_holds_that_digit_alone() -> None:
    columns = np.zeros((2, 40), dtype=np.float32)
    columns[0, 4:16] = 10.0  # digit 3 in columns 4-15
    columns[1, 14:26] = 10.0  # digit 8 in columns 14-25: they share two columns
    boxes = np.array(
        [
            [4, 0, 16, 9],  # all of the 3, a sixth of the 8: the 3 with a sliver
            [4, 0, 14, 9],  # the 3 without its last two columns: 83%, unclear
            [14, 0, 26, 9],  # the 8, with a sixth of the 3
            [4, 0, 26, 9],  # both
            [4, 0, 9, 9],  # under half of the 3
        ]
    )
    labels = label_candidates(boxes, columns, [3, 8])
    assert labels.tolist() == [UNCLEAR, UNCLEAR, UNCLEAR, NOT_A_DIGIT, NOT_A_DIGIT]
    columns[1, 14:16] = 1.0  # the 8 has few pixels in the shared columns: a sliver
    labels = label_candidates(boxes, columns, [3, 8])
    assert labels.tolist() == [3, UNCLEAR, UNCLEAR, NOT_A_DIGIT, NOT_A_DIGIT]  # 2 columns of 3


def test_digits_written_apart_are_labelled_as_the_reader_cuts_them(tiny_mnist: TinyMNIST) -> None:
    digits = [tiny_mnist.train_images[i] for i in range(3)]
    rng = np.random.default_rng(0)
    number = written_number(digits, 8, rng)
    lattice = segment_ink(number.strip.astype(np.float32) / 255)
    truth = [int(tiny_mnist.train_labels[i]) for i in range(3)]
    labels = label_candidates(lattice.boxes, number.columns, truth)
    for digit, strokes in zip(truth, number.columns, strict=True):
        first = int(np.flatnonzero(strokes)[0])
        at = np.abs(lattice.boxes[:, 0] - first) <= 2
        assert digit in labels[at].tolist()  # the candidate starting at each digit reads it
    assert set(labels[labels >= 0].tolist()) == set(truth)
    assert (labels == NOT_A_DIGIT).sum() > 0  # runs of two or three digits are none


def test_candidates_repeat_by_seed_and_half_are_digits(tiny_mnist: TinyMNIST) -> None:
    images = torch.from_numpy(tiny_mnist.train_images)
    labels = torch.from_numpy(tiny_mnist.train_labels).long()
    made, made_labels = make_candidates(images, labels, 200, seed=1)
    assert made.shape == (200, 28, 28) and made.dtype == torch.uint8
    assert made_labels.dtype == torch.long and set(made_labels.tolist()) <= {-1, *range(10)}
    assert 0.3 < float((made_labels == NOT_A_DIGIT).float().mean()) < 0.7
    again, again_labels = make_candidates(images, labels, 200, seed=1)
    assert torch.equal(made, again) and torch.equal(made_labels, again_labels)


def test_the_datamodule_adds_them_to_training_only(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    dm = MNISTDataModule(data_dir=str(tmp_path), mirror=str(tiny_mnist.mirror), val_size=100,
                         number_pieces=0.5)  # fmt: skip
    dm.prepare_data()
    dm.setup("fit")
    assert dm.train_set is not None and dm.val_set is not None
    assert len(dm.train_set.labels) == 750  # 500 training digits and 250 candidates
    assert int((dm.train_set.labels == NOT_A_DIGIT).sum()) > 50
    assert bool((dm.val_set.labels >= 0).all())
    with pytest.raises(ConfigError, match=r"number_pieces must be in \[0, 1\], got 2"):
        MNISTDataModule(number_pieces=2)


def test_fit_with_number_pieces_trains_on_them(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fit = run(
        "fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "2", "--data.number_pieces", "0.5"
    )
    assert torch.isfinite(fit.trainer.callback_metrics["train/loss_epoch"])
    assert float(fit.trainer.callback_metrics["val/acc"]) > 0.5
    assert "Added 250 candidate digits cut from made-up numbers" in capsys.readouterr().err

    # Its numbers are read with the costs for such a network: by predict, the demo, benchmarks.
    best = next((Path(fit.trainer.log_dir) / "checkpoints").glob("best-*.ckpt"))
    assert Recogniser.from_checkpoint(best).number_costs == PIECE_COSTS
    assert Recogniser.from_checkpoint(FIXTURE).number_costs == DEFAULT_COSTS != PIECE_COSTS
    used: list[Costs] = []

    def choose_recorded(*args: Any) -> NumberReading:
        used.append(args[3])
        return choose(*args)

    monkeypatch.setattr("mnist_lit.callbacks.predictions.choose", choose_recorded)
    folder = tmp_path / "numbers"
    folder.mkdir()
    written("0417", 12).save(folder / "0417.png")
    run(
        "predict", tiny_mnist, tmp_path, "--ckpt_path", str(best), "--data.read", "number",
        "--data.predict_dir", str(folder), "--predictions", str(tmp_path / "numbers.csv"),
    )  # fmt: skip
    assert used == [PIECE_COSTS]
