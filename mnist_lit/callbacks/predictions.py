"""Write ``predict`` results to a CSV file, batch by batch (memory stays flat), and summarise them.

Columns: ``path`` (relative to the folder predicted; ``t10k-images-idx3-ubyte[i]`` for the MNIST
test set), ``label`` (known digit, or empty), ``prediction``, ``confidence``, ``p0`` … ``p9`` and
``error`` (why a file could not be used; its prediction columns are then empty) and ``unsure``
(``true`` when the calibrated confidence is below the checkpoint's threshold, so the reading should
not be trusted: an unclear digit, or not a digit at all; ``false`` otherwise, and always for a
checkpoint without calibration; empty for a file that could not be used). See
``models/calibration.py``. With test-time augmentation (``--model.tta``) ``prediction``,
``confidence`` and ``p0`` … ``p9`` are the average over the image and its shifted copies, while
``unsure`` is still decided on the plain reading, the score the threshold was fitted on
(``Readings``): a row's confidence may then be below the threshold with ``unsure`` false.

With ``--data.read number`` (``docs/numbers.md``) each row is a file of a number written in a
row: ``path``, ``number`` (the digits as text, leading zeros kept: ``0417``), ``digits`` (how
many), ``confidence`` (the lowest of its digits'), ``confidences`` (each digit's, space-separated),
``boxes`` (each digit's ``left,top,right,bottom`` in the image's pixels, space-separated),
``error`` and ``unsure`` (``true`` when any digit is unsure).

A ``path`` or ``error`` that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
(a file named ``=HYPERLINK(...).png``) gets a leading ``'``, so that a spreadsheet opening the
file shows it as text instead of running it as a formula (``FORMULA_START``).
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter

from mnist_lit.constants import CLASS_NAMES
from mnist_lit.data.folders import UNLABELLED, FolderBatch
from mnist_lit.distributed import gather
from mnist_lit.errors import ConfigError, OutputError
from mnist_lit.files import PartFile
from mnist_lit.numbers.folders import NumberBatch
from mnist_lit.numbers.reader import DEFAULT_COSTS, choose, costs_for
from mnist_lit.training.checkpoints import load_checkpoint

if TYPE_CHECKING:
    from mnist_lit.models.classifier import Readings

FILE_NAME = "predictions.csv"
MNIST_TEST_FILE = "t10k-images-idx3-ubyte"
COLUMNS = [
    "path",
    "label",
    "prediction",
    "confidence",
    *(f"p{c}" for c in CLASS_NAMES),
    "error",
    "unsure",
]
NUMBER_COLUMNS = [
    "path",
    "number",
    "digits",
    "confidence",
    "confidences",
    "boxes",
    "error",
    "unsure",
]
"""The columns with ``--data.read number``."""
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP: CSV injection)."""


class PredictionWriter(BasePredictionWriter):
    """Write one CSV row per image (see the module's docstring), and a summary at the end.

    The file appears only when prediction finishes, complete: an interrupted run, a full disk or
    an unwritable folder leaves no partial file (``files.PartFile``). With several processes
    (DDP) each keeps the rows of its share of the images, and the first process writes them all,
    in the order one process would have, each image once.

    Args:
        path: Output file; ``None`` writes ``predictions.csv`` into the run's log folder.

    """

    def __init__(self, path: str | None = None) -> None:
        super().__init__(write_interval="batch")
        self.path = path
        self.written: Path | None = None  # the output file, once prediction has started
        self._part: PartFile | None = None
        self._writer: Any = None
        self._kept: list[tuple[int | str, list[Any]]] = []  # (order, row), with several processes
        self._digits: Counter[int] = Counter()
        self._failed = 0
        self._unsure = 0
        self._started = 0.0
        self._seconds = 0.0  # from the start of prediction to the file in place
        self._columns = COLUMNS
        self._costs = DEFAULT_COSTS  # how numbers are cut: those that suit the network
        self._numbers = 0  # files read as numbers

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Open a hidden ``.part`` file next to the target and write the header."""
        run_dir = Path(trainer.log_dir or trainer.default_root_dir)  # the same on every process
        self.written = Path(self.path) if self.path is not None else run_dir / FILE_NAME
        if self.written.is_dir():
            raise ConfigError(f"--predictions {self.written} is a folder; give a file name")
        datamodule = getattr(trainer, "datamodule", None)
        _check_not_an_input(self.written, getattr(datamodule, "predict_set", None))
        numbers = getattr(datamodule, "read", "digit") == "number"
        self._columns = NUMBER_COLUMNS if numbers else COLUMNS
        ckpt_path = trainer.ckpt_path if numbers else None
        self._costs = costs_for(load_checkpoint(ckpt_path)) if ckpt_path else DEFAULT_COSTS
        self._numbers = 0
        self._kept = []
        self._digits.clear()
        self._failed = 0
        self._unsure = 0
        self._started = time.perf_counter()
        self._seconds = 0.0
        failure = None
        if trainer.is_global_zero:
            try:  # UTF-8 whatever the platform; file names that are not valid UTF-8 are escaped.
                self._part = PartFile(
                    self.written, "w", newline="", encoding="utf-8", errors="backslashreplace"
                )
                self._writer = csv.writer(self._part.file)
                self._write([self._columns])
            except OutputError as err:
                failure = str(err)
        if trainer.world_size > 1:  # the others must stop too, not wait for the first
            failure = trainer.strategy.broadcast(failure)
        if failure is not None:
            raise OutputError(failure)

    def write_on_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        prediction: Readings,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        """Append one row per file of the batch, in the order of the file names."""
        if isinstance(batch, NumberBatch):
            self._keep(trainer, self._number_rows(prediction, batch))
            return
        probs = prediction.probabilities.float().cpu()
        confidence, predicted = probs.max(dim=1)  # (B,), (B,); B is 0 when every file failed
        unsure = prediction.unsure.tolist()
        rows: list[list[Any]] = []
        if isinstance(batch, FolderBatch):
            names, labels = batch.names, batch.labels.tolist()
            rows += [
                [name, _label(label), *[""] * 12, reason, ""]
                for name, label, reason in batch.failures
            ]
        else:  # MNIST test images: (images, labels), their positions in the test file
            start = sum(self._digits.values())  # images predicted so far
            indices = (
                list(batch_indices)
                if batch_indices is not None
                else list(range(start, start + len(probs)))
            )
            names = [f"{MNIST_TEST_FILE}[{index}]" for index in indices]
            labels = batch[1].tolist()
        # Python lists once per batch: indexing tensors per row costs more than the model.
        predicted_list, confidence_list, probs_list = (
            predicted.tolist(),
            confidence.tolist(),
            probs.tolist(),
        )
        for row, name in enumerate(names):
            rows.append(
                [
                    name,
                    _label(labels[row]),
                    predicted_list[row],
                    f"{confidence_list[row]:.6f}",
                    *(f"{p:.6f}" for p in probs_list[row]),
                    "",
                    "true" if unsure[row] else "false",
                ]
            )
        if isinstance(batch, FolderBatch):
            self._keep(trainer, rows)
        elif trainer.world_size > 1:  # MNIST: by position in the file
            self._kept += zip(indices, rows, strict=True)
        else:
            self._write(rows)
        self._digits.update(predicted_list)
        self._failed += len(rows) - len(names)
        self._unsure += sum(unsure)

    def _keep(self, trainer: Trainer, rows: list[list[Any]]) -> None:
        """Write the rows of files, by name (or keep them for the first process, under DDP)."""
        rows.sort(key=lambda row: str(row[0]))
        if trainer.world_size > 1:
            self._kept += [(str(row[0]), row) for row in rows]
        else:
            self._write(rows)

    def _number_rows(self, prediction: Readings, batch: NumberBatch) -> list[list[Any]]:
        """One row per file of numbers: its candidates' readings split off and its digits chosen."""
        probs = prediction.probabilities.float().cpu().numpy()  # (N, 10), N candidates
        unsure = prediction.unsure.cpu().numpy()  # (N,)
        rows: list[list[Any]] = [
            [name, "", "", "", "", "", reason, ""] for name, _, reason in batch.failures
        ]
        self._failed += len(rows)
        start = 0
        for name, lattice in zip(batch.names, batch.lattices, strict=True):
            stop = start + len(lattice.spans)
            reading = choose(lattice, probs[start:stop], unsure[start:stop], self._costs)
            start = stop
            rows.append(
                [
                    name,
                    reading.number,
                    len(reading.number),
                    f"{min(reading.confidences, default=0.0):.6f}",
                    " ".join(f"{c:.6f}" for c in reading.confidences),
                    " ".join(",".join(str(v) for v in box) for box in reading.boxes),
                    "",
                    "true" if reading.is_unsure else "false",
                ]
            )
            self._numbers += 1
            self._digits.update(int(d) for d in reading.number)
            self._unsure += reading.is_unsure
        return rows

    def _write(self, rows: list[list[Any]]) -> None:
        assert self._part is not None
        try:
            self._writer.writerows([_as_text(row, self._columns) for row in rows])
        except OSError as err:  # e.g. a full disk
            raise self._part.error(err) from err

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Move the finished file into place and say where it is."""
        if trainer.world_size > 1:
            self._collect()
        if self._part is not None:
            self._part.commit()
            self._part = None
        self._seconds = time.perf_counter() - self._started
        if trainer.is_global_zero:  # not pl_module.print: the progress bar is closed by now
            print(self.summary(), flush=True)

    def _collect(self) -> None:
        """Gather every process's rows on the first, which writes them in order (DDP)."""
        parts = gather((self._kept, self._digits, self._failed, self._unsure, self._numbers))
        if self._part is not None:
            kept = sorted((item for part in parts for item in part[0]), key=lambda item: item[0])
            self._write([row for _, row in kept])
        self._digits = sum((part[1] for part in parts), Counter())
        self._failed = sum(part[2] for part in parts)
        self._unsure = sum(part[3] for part in parts)
        self._numbers = sum(part[4] for part in parts)
        self._kept = []

    def summary(self) -> str:
        """Say where the rows went, how many files failed and how often each digit was predicted."""
        digits = sum(self._digits.values())
        numbers = self._columns is NUMBER_COLUMNS
        predicted = self._numbers if numbers else digits
        lines = [f"Wrote {predicted + self._failed:,} rows to {self.written}"]
        speed = f" ({predicted / self._seconds:,.0f} images/s)" if self._seconds else ""
        read = f" ({digits:,} digits)" if numbers else ""
        lines.append(f"  predicted: {predicted:,} images{read} in {self._seconds:.2f} s{speed}")
        if self._failed:
            lines.append(
                f"  could not be used: {self._failed:,} files (reasons in the error column)"
            )
        if self._unsure:
            lines.append(
                f"  unsure: {self._unsure:,} images (unsure column true: an unclear digit or "
                f"not a digit{', in numbers: any digit' if numbers else ''})"
            )
        counts = "  ".join(f"{d}: {self._digits[d]:,}" for d in range(len(CLASS_NAMES)))
        lines.append(f"  predicted digits: {counts}")
        return "\n".join(lines)

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, exception: BaseException
    ) -> None:
        """Remove the partial file of an interrupted run, and say so."""
        if self._part is not None:
            self._part.abort()
            self._part = None
            stopped = "interrupted" if isinstance(exception, KeyboardInterrupt) else "failed"
            print(f"Prediction {stopped}: {self.written} was not written", flush=True)


def _check_not_an_input(path: Path, images: object) -> None:
    """Refuse to write the CSV over one of the files being read.

    Raises:
        ConfigError: ``path`` is one of the files of ``images`` (a ``FolderImages``).

    """
    root, files = getattr(images, "root", None), getattr(images, "files", None)
    if root is None or files is None:
        return
    target, folder = path.expanduser().resolve(), Path(root).expanduser().resolve()
    if folder in target.parents and target.relative_to(folder).as_posix() in set(files):
        raise ConfigError(
            f"--predictions {path} is one of the images read; the CSV would overwrite it"
        )


def _as_text(row: list[Any], columns: list[str]) -> list[Any]:
    """Return ``row`` with its path and error cells safe to open in a spreadsheet."""
    for column in (columns.index("path"), columns.index("error")):
        cell = row[column]
        if isinstance(cell, str) and cell.startswith(FORMULA_START):
            row[column] = "'" + cell
    return row


def _label(label: int) -> int | str:
    return "" if label == UNLABELLED else label
