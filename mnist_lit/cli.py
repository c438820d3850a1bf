"""The command line, built on LightningCLI.

    python -m mnist_lit fit  --config configs/default.yaml --data.mirror ../shared/data/mnist
    python -m mnist_lit test --config configs/default.yaml --data.mirror ../shared/data/mnist --ckpt_path best
    python -m mnist_lit predict --config configs/default.yaml --ckpt_path best --data.predict_dir my_digits/

Adds to LightningCLI: checkpoint callbacks (the best by ``val/acc`` as ``--checkpoint.*``, and
``last.ckpt`` after every epoch as ``--last_checkpoint.*``); TensorBoard figures and
hyperparameters (``--dashboards.*``); ``--ckpt_path best|last`` resolved to
the newest run's files, in a new process too, with the model and normalisation it was trained
with; ``fit --test true`` (test the best checkpoint in the same process); ``--trainer.precision
auto`` (``trainer.py``); a progress bar redrawn every 10 batches (``--progress_bar.*``); the compute
device and precision printed at start; a predictions CSV for ``predict`` (``--predictions`` sets
its path, written once however many processes predict); ``fit --ckpt_path`` continuing in the
run folder it resumes; and one-line errors for mistakes a user can fix, including output folders
that cannot be written.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any, NoReturn

import torch
from jsonargparse import Namespace
from lightning.fabric.plugins.environments.slurm import SLURMEnvironment
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import (
    ArgsType,
    LightningArgumentParser,
    LightningCLI,
    SaveConfigCallback,
)
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from mnist_lit import distributed
from mnist_lit.callbacks.dashboards import Dashboards
from mnist_lit.callbacks.loggers import log_file, logger_failure, start_loggers
from mnist_lit.callbacks.predictions import PredictionWriter
from mnist_lit.callbacks.progress import ProgressBar as LoggedValuesBar
from mnist_lit.callbacks.summary import TestSummary
from mnist_lit.commands import fail, show_log_messages, user_errors
from mnist_lit.data.datamodule import MNISTDataModule
from mnist_lit.entry import EXTRA_COMMANDS
from mnist_lit.errors import ConfigError
from mnist_lit.models.classifier import MNISTClassifier
from mnist_lit.presets import resolve_config_arguments
from mnist_lit.training.checkpoints import (
    BEST_PREFIX,
    LAST_NAME,
    load_checkpoint,
    resolve_checkpoint,
)
from mnist_lit.training.device import describe_device
from mnist_lit.training.runs import (
    RUN_DIR_VARIABLE,
    claim_run_dir,
    inherited_run_dir,
    keeps_folder,
    log_root,
    release_if_empty,
    resumable_run,
)
from mnist_lit.training.trainer import Trainer

log = logging.getLogger("mnist_lit")

CKPT_PATH_HELP = (
    "Checkpoint to start from: 'best' (highest val/acc) or 'last' from the newest run under "
    "lightning_logs/ that has checkpoints (the file chosen is printed), or the path of a .ckpt "
    "file. For fit it resumes training; for validate, test and predict it gives the weights and "
    "the model's hyperparameters."
)
PREDICTIONS_HELP = (
    "CSV file for the predictions (created with its folders); default: predictions.csv in the "
    "run folder (lightning_logs/version_N/)."
)
TEST_HELP = (
    "After training, test the best checkpoint (the last weights when val_size is 0) in the same "
    "process, into the same run folder: as 'test --ckpt_path best' afterwards, without starting "
    "a second process."
)
REFERENCE_EPOCHS = 3
"""Epochs of a ``fit`` that sets none: the reference run's (Lightning's own default is 1,000)."""
PROGRESS_REFRESH = 10
"""Batches between progress-bar updates: each update reads the logged values back from the device."""
DESCRIPTION = (
    "Train, evaluate and use a CNN for handwritten digits (MNIST). Start with: fit "
    "[--data.mirror DIR] (the reference run, 3 epochs); then test --ckpt_path best. --config takes "
    "a YAML file or the name of a packaged preset, e.g. --config fast or --config best "
    "(mnist-lit presets lists them). More commands: mnist-lit "
    + "|".join(EXTRA_COMMANDS)
    + " --help."
)


class MNISTArgumentParser(LightningArgumentParser):
    """Parser whose errors are one line: the message and where to find the options."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        """Print ``mnist_lit: error: <message>`` and exit with status 2."""
        if not self.exit_on_error:  # jsonargparse is trying alternatives: let it catch this
            super().error(message, ex)
        prog = self.prog.replace(" [options]", "")
        fail("mnist_lit", f"{message} (options: {prog} --help)")


class SaveConfig(SaveConfigCallback):
    """Save ``config.yaml`` into the run folder, and attach it to an MLflow run too."""

    def save_config(self, trainer: Any, pl_module: Any, stage: str) -> None:
        """Attach the saved ``config.yaml`` to the run's MLflow runs (``loggers.py``).

        Runs on the first process only, so the folder is read without ``trainer.log_dir``, which
        would wait for the other processes.
        """
        folder = getattr(trainer, "run_dir", None)
        if folder is None and trainer.loggers and keeps_folder(trainer.loggers[0]):
            folder = trainer.loggers[0].log_dir
        if folder is not None:
            log_file(trainer.loggers, Path(folder) / self.config_filename)


class MNISTLightningCLI(LightningCLI):
    """LightningCLI for ``MNISTClassifier`` and ``MNISTDataModule`` with checkpoint conveniences."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Link the normalisation into the model; add the checkpoint and dashboard callbacks.

        ``--checkpoint.*`` keeps the best epoch by ``val/acc``; ``--last_checkpoint.*`` keeps
        ``last.ckpt``, rewritten after every epoch (Lightning's ``save_last`` only writes it when
        a best checkpoint is written too). ``--dashboards.*`` sets the TensorBoard figures and
        hyperparameters (``dashboards.py``). ``--progress_bar.*`` configures the progress bar,
        redrawn every 10 batches by default rather than after every one, so that it does not
        make the host wait for the device at each step.
        """
        parser.link_arguments("data.mean", "model.mean", apply_on="parse")
        parser.link_arguments("data.std", "model.std", apply_on="parse")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.add_lightning_class_args(ModelCheckpoint, "last_checkpoint")
        parser.add_lightning_class_args(Dashboards, "dashboards")
        parser.add_lightning_class_args(LoggedValuesBar, "progress_bar")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/acc",
                "checkpoint.mode": "max",
                "checkpoint.filename": BEST_PREFIX + "epoch={epoch}-val_acc={val/acc:.4f}",
                "checkpoint.auto_insert_metric_name": False,
                "last_checkpoint.filename": LAST_NAME.removesuffix(".ckpt"),
                "last_checkpoint.enable_version_counter": False,
                "progress_bar.refresh_rate": PROGRESS_REFRESH,
            }
        )

    def _prepare_subcommand_parser(
        self, klass: type, subcommand: str, **kwargs: Any
    ) -> LightningArgumentParser:
        """Document ``--ckpt_path``; add ``--test`` to ``fit`` and ``--predictions`` to ``predict``."""
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        for action in parser._actions:  # argparse's list; Lightning takes the help from Trainer.fit
            if action.dest == "ckpt_path":
                action.help = CKPT_PATH_HELP
        if subcommand == "fit":
            parser.add_argument("--test", type=bool, default=False, help=TEST_HELP)
        if subcommand == "predict":
            parser.add_argument(
                "--predictions", type=str | None, default=None, help=PREDICTIONS_HELP
            )
        return parser

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        """Parse, then resolve ``ckpt_path`` so the checkpoint's hyperparameters are used.

        The model's hyperparameters are restored by LightningCLI; the normalisation the model
        was trained with is restored here, as it is applied by the datamodule.
        """
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
        path = resolve_checkpoint(spec, log_root(config))
        hparams = load_checkpoint(path).get("hyper_parameters", {})
        if spec in ("best", "last"):
            _print(f"Checkpoint ({spec}): {path}")
        config["ckpt_path"] = str(path)
        for key in ("mean", "std"):
            if key in hparams and config.data[key] != hparams[key]:
                _print(f"Normalisation of the checkpoint: data.{key} = {hparams[key]}")
                config.data[key] = hparams[key]

    def instantiate_classes(self) -> None:
        """Make the model, data and trainer; a logger that cannot be made is a one-line error."""
        try:
            super().instantiate_classes()
        except ValueError as err:  # jsonargparse reports a constructor's failure as a ValueError
            failed = logger_failure(err)
            if failed is None:
                raise
            raise ConfigError(failed) from err

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """Make the Trainer, logging into a run folder of its own (see ``training/runs.py``).

        With the default logger, ``fit --ckpt_path`` of the newest run's checkpoint goes on in
        that run's folder; any other run claims a new ``lightning_logs/version_N/``, so that runs
        started at the same moment never share one. A TensorBoard or CSV logger of the config's
        is used as it is, its folder the run folder; with any other logger (MLflow, W&B, ...)
        the run claims a folder as with the default one, for its checkpoints, ``config.yaml`` and
        ``predictions.csv``, and the logger is started here, so that one that cannot start is a
        one-line error.
        """
        subcommand = self.subcommand  # None with run=False: the config is not split by subcommand
        config = self.config[subcommand] if subcommand else self.config
        trainer = (self.config_init[subcommand] if subcommand else self.config_init).trainer
        logger = trainer.get("logger")
        first = logger[0] if isinstance(logger, list) and logger else logger
        default = logger in (None, True)
        claims = default or (isinstance(first, Logger) and not keeps_folder(first))
        claimed = self._run_dir(config) if claims and not trainer.get("fast_dev_run") else None
        run_dir = None  # the run folder the Trainer is told of: a logger's own folder otherwise
        if claimed is not None and default:
            kwargs["logger"] = TensorBoardLogger(
                save_dir=claimed.parent.parent, name=claimed.parent.name, version=claimed.name
            )
        elif claimed is not None:
            run_dir = claimed
        made = super().instantiate_trainer(**kwargs)
        assert isinstance(made, Trainer)
        if run_dir is not None:
            made.run_dir = run_dir
            for callback in made.checkpoint_callbacks:
                if isinstance(callback, ModelCheckpoint) and callback.dirpath is None:
                    callback.dirpath = str(run_dir / "checkpoints")
        start_loggers(made.loggers, run_dir)
        return made

    def _run_dir(self, config: Namespace) -> Path | None:
        """Return the run folder this process logs into, claiming one if it is the first process.

        ``None`` leaves the choice to Lightning: in a process that a job scheduler started
        beside the first (its folder reaches it from there), and under SLURM, whose job ID
        Lightning uses as the version.
        """
        root = log_root(config)
        spec = config.get("ckpt_path")
        if self.subcommand == "fit" and spec is not None:
            resumed, message = resumable_run(spec, root)
            if message:
                _print(message)
            if resumed is not None:
                warnings.filterwarnings(
                    "ignore", ".*Checkpoint directory .* exists and is not empty.*"
                )
                return resumed
        inherited = inherited_run_dir()
        if inherited is not None:
            return inherited
        if getattr(rank_zero_only, "rank", 0) != 0 or SLURMEnvironment.job_id() is not None:
            return None
        run_dir = claim_run_dir(root)
        os.environ[RUN_DIR_VARIABLE] = str(run_dir)  # for the processes a DDP run launches
        return run_dir

    def after_instantiate_classes(self) -> None:
        """Print the compute device, as the reference system does."""
        _print(describe_device(self.trainer))

    def before_fit(self) -> None:
        """Without validation data there is no best checkpoint (``best`` then means last)."""
        if isinstance(self.datamodule, MNISTDataModule) and self.datamodule.val_size == 0:
            for callback in self.trainer.checkpoint_callbacks:
                if isinstance(callback, ModelCheckpoint) and callback.monitor == "val/acc":
                    callback.monitor = None
                    callback.save_top_k = 0
            _print("val_size is 0: training on all images, no validation; only last.ckpt is kept")

    def after_fit(self) -> None:
        """Say where the checkpoints are; with ``--test true``, test the best one right away."""
        callbacks = [c for c in self.trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint)]
        best = next(
            (c.best_model_path for c in callbacks if c.monitor is not None and c.best_model_path),
            None,
        )
        last = next(  # --last_checkpoint keeps one file, its newest
            (
                path
                for c in callbacks
                if c.monitor is None and (path := c.last_model_path or c.best_model_path)
            ),
            None,
        )
        saved = [f"best {best}"] if best else []
        saved += [f"last {last}"] if last else []
        if saved:  # what --ckpt_path best|last will find
            _print(f"Checkpoints: {', '.join(saved)}")
        if not self.config["fit"].get("test") or self.trainer.interrupted:
            return
        _print(f"Testing {best or 'the weights after the last epoch'}")
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best)

    def before_predict(self) -> None:
        """Write the predictions to ``--predictions`` or the run folder."""
        writer = PredictionWriter(self.config["predict"].get("predictions"))
        self.trainer.callbacks.append(writer)  # type: ignore[attr-defined]
        self.config_init["predict"]["return_predictions"] = False  # rows go to the file


@rank_zero_only
def _print(message: str) -> None:
    print(message, flush=True)


def _configure_output() -> None:
    # A log file or CI, not a terminal: redraw the progress bar every 50 steps, not every step.
    if not sys.stdout.isatty():
        os.environ.setdefault("TQDM_MINITERS", "50")
    show_log_messages()
    # Batches are slices of an in-memory tensor: worker processes would not make them faster.
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*isinstance.treespec, LeafSpec.*")  # inside Lightning
    # With val_size 0 there is no validation loader, as intended.
    warnings.filterwarnings("ignore", ".*Total length of .list. across ranks is zero.*")
    # Epoch values are torchmetrics results, already reduced over the processes (DDP).
    warnings.filterwarnings("ignore", ".*when logging on epoch level in distributed setting.*")
    # A checkpoint from another run is loaded for test/predict: its callback state is not needed.
    warnings.filterwarnings("ignore", ".*The dirpath has changed from.*")
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_drop_advert)


def _drop_advert(record: logging.LogRecord) -> bool:
    """Hide Lightning's advert for its cloud logger from every run's output."""
    return "litlogger" not in record.getMessage()


def main(args: ArgsType = None, **kwargs: Any) -> MNISTLightningCLI:
    """Build and run the CLI; a user's mistake ends the process with a one-line error (exit 2).

    Args:
        args: Command-line arguments; ``None`` reads ``sys.argv``.
        **kwargs: Passed on to ``MNISTLightningCLI`` (e.g. ``run=False``).

    """
    _configure_output()
    with user_errors("mnist_lit"):  # --config NAME: a packaged preset
        if args is None:  # LightningCLI warns when given args and sys.argv: it reads sys.argv
            sys.argv[1:] = resolve_config_arguments(sys.argv[1:])
        elif isinstance(args, list):  # a dict or Namespace names no config files
            args = resolve_config_arguments(args)
    threads = torch.get_num_threads()
    inherited = os.environ.get(RUN_DIR_VARIABLE)
    try:
        with user_errors("mnist_lit", MisconfigurationException):
            try:
                defaults: dict[str, Any] = {"max_epochs": REFERENCE_EPOCHS}
                defaults.update(kwargs.pop("trainer_defaults", None) or {})
                own = defaults.get("callbacks") or []
                own = own if isinstance(own, list) else [own]
                defaults["callbacks"] = [*own, TestSummary()]
                cli = MNISTLightningCLI(
                    MNISTClassifier,
                    MNISTDataModule,
                    args=args,
                    trainer_defaults=defaults,
                    save_config_callback=SaveConfig,
                    save_config_kwargs={"overwrite": True},
                    seed_everything_default=42,
                    trainer_class=Trainer,
                    parser_class=MNISTArgumentParser,
                    parser_kwargs={"description": DESCRIPTION, "allow_abbrev": False},
                    **kwargs,
                )
                distributed.close()  # only after success: a failed rank must not wait here
                return cli
            except MisconfigurationException as err:
                if "gpu" in str(err).lower() and not torch.cuda.is_available():
                    hint = "accelerator gpu and configs/presets/gpu.yaml need a CUDA GPU"
                    raise ConfigError(f"{err} ({hint})") from err
                raise
    finally:
        # The datamodule lends cores to the workers that decode image folders and gives them
        # back in ``teardown``, which Lightning skips when a run raises.
        torch.set_num_threads(threads)
        claimed = None if inherited is not None else os.environ.pop(RUN_DIR_VARIABLE, None)
        if claimed is not None:
            release_if_empty(Path(claimed))
