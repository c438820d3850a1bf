"""The command line, built on LightningCLI.

    python -m mnist_lit fit  --config configs/default.yaml --data.mirror ../shared/data/mnist
    python -m mnist_lit test --config configs/default.yaml --data.mirror ../shared/data/mnist --ckpt_path best

Adds to LightningCLI: a checkpoint callback (best by ``val/acc`` plus ``last.ckpt``) configurable as
``--checkpoint.*``; ``--ckpt_path best|last`` resolved to the newest run's files, in a new process
too; the compute device printed at start; a predictions CSV for ``predict``; and one-line errors
for mistakes a user can fix.
"""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities import rank_zero_only

from mnist_lit.checkpoints import BEST_PREFIX, check_checkpoint, resolve_checkpoint
from mnist_lit.data import MNISTDataModule
from mnist_lit.device import describe_device
from mnist_lit.errors import MnistLitError
from mnist_lit.model import MNISTClassifier
from mnist_lit.predictions import PredictionWriter

log = logging.getLogger("mnist_lit")

DEFAULT_LOGGER_NAME = "lightning_logs"
CKPT_PATH_HELP = (
    "Checkpoint to start from: 'best' (highest val/acc) or 'last' from the newest run under "
    "lightning_logs/ that has checkpoints (the file chosen is printed), or the path of a .ckpt "
    "file. For fit it resumes training; for validate, test and predict it gives the weights and "
    "the model's hyperparameters."
)
DESCRIPTION = (
    "Train, evaluate and use a CNN for handwritten digits (MNIST). Start with: "
    "fit --config configs/default.yaml [--data.mirror DIR]; then test --ckpt_path best."
)


class MNISTLightningCLI(LightningCLI):
    """LightningCLI for ``MNISTClassifier`` and ``MNISTDataModule`` with checkpoint conveniences."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Add the checkpoint callback as ``--checkpoint.*`` with defaults for this project."""
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/acc",
                "checkpoint.mode": "max",
                "checkpoint.save_last": True,
                "checkpoint.filename": BEST_PREFIX + "epoch={epoch}-val_acc={val/acc:.4f}",
                "checkpoint.auto_insert_metric_name": False,
            }
        )

    def _prepare_subcommand_parser(
        self, klass: type, subcommand: str, **kwargs: Any
    ) -> LightningArgumentParser:
        """Document how this CLI resolves ``--ckpt_path`` (Lightning's text is about one process)."""
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        for action in parser._actions:
            if action.dest == "ckpt_path":
                action.help = CKPT_PATH_HELP
        return parser

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        """Parse, then resolve ``ckpt_path`` (best/last/path) so its hyperparameters are used."""
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        if subcommand is None:
            return
        config = self.config[subcommand]
        spec = config.get("ckpt_path")
        if spec is None:
            if subcommand != "fit":
                _print(
                    f"Warning: {subcommand} without --ckpt_path uses an untrained model; pass "
                    "--ckpt_path best (newest run), last, or the path of a .ckpt file"
                )
            return
        path = resolve_checkpoint(spec, _log_root(config))
        check_checkpoint(path)
        if spec in ("best", "last"):
            _print(f"Checkpoint ({spec}): {path}")
        config["ckpt_path"] = str(path)

    def after_instantiate_classes(self) -> None:
        """Print the compute device, as the reference system does."""
        _print(describe_device(self.trainer))

    def before_fit(self) -> None:
        """Without validation data, keep only ``last.ckpt`` (``best`` then means last)."""
        if isinstance(self.datamodule, MNISTDataModule) and self.datamodule.val_size == 0:
            for callback in self.trainer.checkpoint_callbacks:
                if isinstance(callback, ModelCheckpoint) and callback.monitor == "val/acc":
                    callback.monitor = None
                    callback.save_top_k = 0
            _print("val_size is 0: training on all images, no validation; only last.ckpt is kept")

    def before_predict(self) -> None:
        """Write the predictions to ``predictions.csv`` in the run folder."""
        self.trainer.callbacks.append(PredictionWriter())  # type: ignore[attr-defined]


def _log_root(config: Namespace) -> Path:
    """Folder holding the run folders (``version_N/``) of the logger that ``config`` sets up."""
    trainer = config.get("trainer") or Namespace()
    root = Path(trainer.get("default_root_dir") or ".")
    logger = trainer.get("logger")
    if isinstance(logger, Namespace) and "init_args" in logger:  # an explicit logger class
        init = logger.init_args
        return Path(init.get("save_dir") or root) / (init.get("name") or DEFAULT_LOGGER_NAME)
    return root / DEFAULT_LOGGER_NAME


@rank_zero_only
def _print(message: str) -> None:
    print(message, flush=True)


def _configure_logging() -> None:
    if not log.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    # Batches are slices of an in-memory tensor: worker processes would not make them faster.
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*isinstance.treespec, LeafSpec.*")  # inside Lightning
    warnings.filterwarnings(
        "ignore", ".*Total length of .list. across ranks is zero.*"
    )  # val_size 0
    # A checkpoint from another run is loaded for test/predict: its callback state is not needed.
    warnings.filterwarnings("ignore", ".*The dirpath has changed from.*")
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_drop_advert)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Write to whatever ``sys.stderr`` is at the time (it may be replaced, e.g. by pytest)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _drop_advert(record: logging.LogRecord) -> bool:
    """Hide Lightning's advert for its cloud logger from every run's output."""
    return "litlogger" not in record.getMessage()


def main(args: ArgsType = None, **kwargs: Any) -> MNISTLightningCLI:
    """Build and run the CLI; a user's mistake ends the process with a one-line error (exit 2).

    Args:
        args: Command-line arguments; ``None`` reads ``sys.argv``.
        **kwargs: Passed on to ``MNISTLightningCLI`` (e.g. ``run=False``).

    """
    _configure_logging()
    try:
        return MNISTLightningCLI(
            MNISTClassifier,
            MNISTDataModule,
            args=args,
            save_config_kwargs={"overwrite": True},
            seed_everything_default=42,
            parser_kwargs={"description": DESCRIPTION, "allow_abbrev": False},
            **kwargs,
        )
    except (MnistLitError, MisconfigurationException) as err:
        message = str(err)
        if isinstance(err, MisconfigurationException) and "gpu" in message.lower():
            message += " (accelerator gpu and configs/presets/gpu.yaml need a CUDA GPU)"
        print(f"mnist_lit: error: {message}", file=sys.stderr)
        raise SystemExit(2) from None


def entry_point() -> None:
    """Console script ``mnist-lit`` (same as ``python -m mnist_lit``)."""
    main()
