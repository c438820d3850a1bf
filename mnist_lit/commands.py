"""What every command shares: a user's mistake ends it with one line and exit status 2.

    with user_errors("mnist_lit.report"):
        ...  # raises ConfigError("...")  ->  mnist_lit.report: error: ...

Library code raises the exceptions of ``errors.py``; only the commands (``cli.py``,
``report/``, ``demo/``, ``experiments/``) turn them into messages and exit codes, here.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import yaml
from jsonargparse import ArgumentParser, Namespace, dict_to_namespace

from mnist_lit.errors import ConfigError, MnistLitError, one_line
from mnist_lit.files import why_unwritable
from mnist_lit.presets import resolve_config_arguments
from mnist_lit.training.runs import log_root

USAGE_ERROR = 2
"""Exit status of a command stopped by a mistake its user can fix (as argparse's)."""

INTERRUPTED = 130
"""Exit status of a command stopped with Ctrl-C (128 + SIGINT, as shells report it)."""

OUTPUT_ERRNOS = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.ENOTDIR,
        errno.EEXIST,
        errno.EISDIR,
    }
)
"""``OSError`` numbers of a file or folder that cannot be used as asked (e.g. an output folder
on a read-only mount): one line naming it, not a traceback."""


def command_name(command: str, module: str) -> str:
    """Return ``command`` as the user typed it, for its usage line.

    ``mnist-lit report`` through the console script, ``python -m mnist_lit report`` through the
    package's ``__main__``, else ``python -m <module>``.
    """
    started = sys.argv[0] if sys.argv else ""
    if Path(started).name == "mnist-lit":
        return f"mnist-lit {command}"
    if started == "python -m mnist_lit":
        return f"{started} {command}"
    return f"python -m {module}"


def fail(prog: str, message: str, status: int = USAGE_ERROR) -> NoReturn:
    """Print ``<prog>: error: <message>`` (on one line) to stderr and exit with ``status``."""
    print(f"{prog}: error: {one_line(message)}", file=sys.stderr, flush=True)
    raise SystemExit(status)


@contextmanager
def user_errors(prog: str, *also: type[Exception], hint: str = "") -> Iterator[None]:
    """Turn a user's mistake raised inside the block into a one-line error and exit status 2.

    Args:
        prog: The command's name, e.g. ``mnist_lit.report``: messages start with it.
        *also: Exception types besides ``MnistLitError`` that are a user's mistake.
        hint: Appended to the message, e.g. where to read the options.

    ``MnistLitError`` (and ``also``) print their message; an ``OSError`` on a file or folder
    that cannot be written names it and why. Anything else is a bug and keeps its traceback.

    """
    suffix = f" ({hint})" if hint else ""
    try:
        yield
    except OSError as err:
        if err.errno not in OUTPUT_ERRNOS or err.filename is None:
            raise
        reason = why_unwritable(Path(err.filename), err)
        fail(prog, f"cannot use {err.filename}: {reason}{suffix}")
    except (MnistLitError, *also) as err:  # type: ignore[misc]  # mypy reads *also as one type
        fail(prog, f"{err}{suffix}")


def parse_or_fail(parser: ArgumentParser, args: Sequence[str] | None, prog: str) -> Namespace:
    """Parse ``args`` (``sys.argv`` when ``None``); a mistake is a one-line error naming ``--help``.

    ``prog`` starts the message; the hint names ``parser.prog``, the command as typed. ``parser``
    must be made with ``exit_on_error=False``, so that its errors reach this function.
    """
    try:
        return parser.parse_args(args)
    except Exception as err:  # jsonargparse's parse errors
        fail(prog, f"{one_line(err)} (options: {parser.prog} --help)")


def apply_fit_configs(parser: ArgumentParser, args: Sequence[str]) -> list[str]:
    """Take ``--config FILE|NAME`` out of ``args``; the fit configs named set ``parser``'s defaults.

    For the commands that evaluate a checkpoint (the report): they take the configs a run was
    trained with, as ``fit`` and ``test`` do. Each ``data:`` option the parser has becomes its
    default (the training ``batch_size`` excepted), ``--logs`` becomes the folder of the run
    folders (a TensorBoard or CSV logger's ``save_dir/name``, else
    ``trainer.default_root_dir/lightning_logs``), and options on the command line still win. The rest
    (the model's, the trainer's) is left out: the checkpoint holds the model.

    Returns:
        ``args`` without the ``--config`` options.

    Raises:
        ConfigError: A config that is missing, not YAML, or not a mapping of sections.

    """
    rest: list[str] = []
    paths: list[str] = []
    tokens = iter(resolve_config_arguments(args))
    for token in tokens:
        flag, equals, value = token.partition("=")
        if flag in ("--config", "-c"):
            paths.append(value if equals else next(tokens, ""))
        else:
            rest.append(token)
    defaults: dict[str, Any] = {}
    for path in paths:
        try:
            config = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"cannot read config {path!r}: {one_line(err)}") from err
        if not isinstance(config, dict):
            raise ConfigError(f"config {path} is not a mapping of sections (data:, model:, ...)")
        options = {f"data.{key}": value for key, value in (config.get("data") or {}).items()}
        options.pop("data.batch_size", None)  # the training batch; evaluation takes its own
        trainer = config.get("trainer") or {}
        if trainer.get("default_root_dir") is not None or trainer.get("logger"):
            options["logs"] = str(log_root(dict_to_namespace({"trainer": trainer})))
        for name, value in options.items():
            with contextlib.suppress(KeyError):  # an option this command has not
                parser.get_default(name)
                defaults[name] = value
    if defaults:
        parser.set_defaults(defaults)
    return rest


def instantiate(parser: ArgumentParser, config: Namespace) -> Any:
    """Instantiate the classes ``config`` names (``instantiate`` since jsonargparse 4.49)."""
    return getattr(parser, "instantiate", parser.instantiate_classes)(config)


def show_log_messages() -> None:
    """Show the ``mnist_lit`` logger's messages (INFO and up) on stderr as bare lines, once.

    Every command calls this at its start; a second call (another command in the same process,
    as in the tests) adds nothing.
    """
    log = logging.getLogger("mnist_lit")
    if not log.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Write to whatever ``sys.stderr`` is at the time (it may be replaced, e.g. by pytest)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass
