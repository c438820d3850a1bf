"""What each Lightning logger can take besides scalars, and loggers that cannot start.

    python -m mnist_lit fit --trainer.logger MLFlowLogger --trainer.logger.tracking_uri sqlite:///mlflow.db

Scalars and hyperparameters reach every logger through Lightning (``self.log``,
``log_hyperparams``). Figures and text need a logger that stores images: ``Sink`` wraps the two
that do, TensorBoard (IMAGES and TEXT tabs) and MLflow (the run's images, by key and step, and
text artifacts); ``sinks`` says which of a run's loggers take none (CSV, W&B, ...), for one line.

A logger that cannot be made or started (MLflow 3 refusing its old file store ``./mlruns``, a
store that cannot be reached, a package that is not installed) is a ``ConfigError``: one line.
"""

from __future__ import annotations

import socket
import traceback
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import numpy as np
from lightning.pytorch.loggers import Logger, MLFlowLogger, TensorBoardLogger

from mnist_lit.errors import ConfigError, one_line
from mnist_lit.training.runs import keeps_folder

RUN_DIR_TAG = "mnist_lit.run_dir"
"""MLflow tag naming the run folder that holds the run's checkpoints and files (``runs.py``)."""

MLFLOW_RUN_NAME = "mlflow.runName"
"""MLflow's tag for a run's name (``mlflow.utils.mlflow_tags.MLFLOW_RUN_NAME``)."""

MLFLOW_HINT = (
    "MLflow 3 needs a database store, e.g. --trainer.logger.tracking_uri sqlite:///mlflow.db"
)
FILE_STORE_WORDS = ("filesystem", "file store", "filestore")
"""Words of MLflow's refusal of its old file store: only that refusal gets ``MLFLOW_HINT``."""

CONNECT_SECONDS = 10.0
"""How long a tracking server gets to accept a connection before the run stops (MLflow itself
retries for about 4 minutes before it gives up on a server that is down)."""


class Sink:
    """Figures (as RGB arrays) and text for one logger that stores them."""

    def __init__(self, logger: TensorBoardLogger | MLFlowLogger) -> None:
        self.logger = logger

    def add_image(self, tag: str, image: np.ndarray, step: int) -> None:
        """Log an ``(H, W, 3)`` uint8 image under ``tag`` at ``step``."""
        if isinstance(self.logger, TensorBoardLogger):
            self.logger.experiment.add_image(tag, image, step, dataformats="HWC")
        else:  # MLflow shows the images of a key step by step
            self.logger.experiment.log_image(self.logger.run_id, image, key=tag, step=step)

    def add_text(self, tag: str, text: str, step: int) -> None:
        """Log ``text`` (markdown) under ``tag``: TensorBoard's TEXT tab, MLflow's ``tag.md``."""
        if isinstance(self.logger, TensorBoardLogger):
            self.logger.experiment.add_text(tag, text, step)
        else:
            self.logger.experiment.log_text(self.logger.run_id, text, f"{tag}.md")


def sinks(loggers: Iterable[Logger]) -> tuple[list[Sink], list[str]]:
    """Return the sinks of the loggers that store figures, and the class names of the others."""
    taken: list[Sink] = []
    skipped: list[str] = []
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger | MLFlowLogger):
            taken.append(Sink(logger))
        else:
            skipped.append(type(logger).__name__)
    return taken, skipped


def start_loggers(loggers: Iterable[Logger], run_dir: Path | None = None) -> None:
    """Start the loggers without a folder of their own now, rather than at the first value.

    An MLflow run is tagged with ``run_dir``, the folder of its checkpoints (``RUN_DIR_TAG``), and
    named after it (``version_N``) unless ``run_name`` says otherwise.

    Raises:
        ConfigError: A logger cannot start; the message names it and says why, in one line.

    """
    for logger in loggers:
        if keeps_folder(logger):
            continue
        try:
            if isinstance(logger, MLFlowLogger):
                if run_dir is not None and getattr(logger, "_run_name", None) is None:
                    # MLflow's random run names repeat after a seeded start: name it by its folder
                    logger.tags = {MLFLOW_RUN_NAME: run_dir.name, **(logger.tags or {})}
                check_reachable(getattr(logger, "_tracking_uri", ""))
                client = logger.experiment  # MLflow makes its experiment and run here
                if run_dir is not None and logger.run_id:
                    client.set_tag(logger.run_id, RUN_DIR_TAG, str(run_dir))
            else:  # every Lightning logger has one; the base class does not declare it
                logger.experiment  # type: ignore[attr-defined]  # noqa: B018
        except Exception as err:  # whatever the logger's library raises: its message says why
            raise ConfigError(_cannot_start(type(logger).__name__, err)) from err


def check_reachable(uri: str, seconds: float = CONNECT_SECONDS) -> None:
    """Raise ``ConnectionError`` at once if the server of an ``http(s)`` ``uri`` takes no connection.

    Only a connection is tried (no request): a server that accepts one is MLflow's to judge. Not
    tried through a proxy (``HTTP(S)_PROXY``): the proxy is the one to reach then.
    """
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return
    if getproxies().get(parts.scheme) and not proxy_bypass(parts.hostname):
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=seconds):
            pass
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        raise ConnectionError(f"no server answers at {parts.hostname}:{port} ({reason})") from None


def logger_failure(err: BaseException) -> str | None:
    """Return a one-line message if ``err`` (or its cause) was raised making a logger, else ``None``.

    LightningCLI makes the logger while parsing, and jsonargparse reports what its constructor
    raised as a ``ValueError`` caused by the constructor's own exception.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for frame, _ in traceback.walk_tb(current.__traceback__):
            owner = frame.f_locals.get("self")
            if frame.f_code.co_name == "__init__" and isinstance(owner, Logger):
                return _cannot_start(type(owner).__name__, current)
        current = current.__cause__ or current.__context__
    return None


def _cannot_start(name: str, err: BaseException) -> str:
    message = one_line(err) or type(err).__name__
    if len(message) > 300:  # MLflow's messages run on with links and migration advice
        message = message[:297].rsplit(" ", 1)[0] + " ..."
    hint = ""
    if name == "MLFlowLogger" and isinstance(err, ImportError):
        hint = " (pip install 'mnist_lit[mlflow]')"
    elif name == "MLFlowLogger" and any(word in message.lower() for word in FILE_STORE_WORDS):
        hint = f" ({MLFLOW_HINT})"
    return f"the logger {name} cannot start: {message}{hint}"


def log_file(loggers: Iterable[Logger], path: Path) -> None:
    """Attach a file of the run (e.g. ``config.yaml``) to the MLflow runs among ``loggers``."""
    for logger in loggers:
        if isinstance(logger, MLFlowLogger) and logger.run_id:
            logger.experiment.log_artifact(logger.run_id, str(path))
