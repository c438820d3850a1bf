"""The configs that ship inside the package, named without a path from any folder.

    mnist-lit fit --config fast --data.mirror ../shared/data/mnist   # = mnist_lit/configs/presets/fast.yaml
    mnist-lit presets                                                # names, paths and what each does

A ``--config`` value that is not an existing file and is a plain name (``fast``, ``best``,
``default``, ``data_scale``) is the packaged config of that name; a path works as always.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

from mnist_lit.errors import ConfigError

CONFIG_DIR = Path(__file__).parent / "configs"
"""The packaged configs: ``default.yaml``, ``presets/*.yaml`` and ``experiments/*.yaml``."""

_NAME = re.compile(r"[A-Za-z0-9_-]+(\.yaml)?")
_CONFIG_FLAGS = ("--config", "-c")


def packaged_configs() -> dict[str, Path]:
    """Return the packaged configs by name: ``default``, then the presets, then the experiments."""
    paths = [
        CONFIG_DIR / "default.yaml",
        *sorted((CONFIG_DIR / "presets").glob("*.yaml")),
        *sorted((CONFIG_DIR / "experiments").glob("*.yaml")),
    ]
    return {path.stem: path for path in paths if path.is_file()}


def resolve_config(value: str, option: str = "--config") -> str:
    """Return ``value`` if it is a file or not a plain name, else the packaged config it names.

    ``option`` names where the value came from in the error message.

    Raises:
        ConfigError: A plain name that is neither a file nor a packaged config; the message
            lists the names.

    """
    if Path(value).exists() or not _NAME.fullmatch(value):
        return value  # a path (missing ones are reported by the parser, naming the file)
    configs = packaged_configs()
    name = value.removesuffix(".yaml")
    if name in configs:
        return str(configs[name])
    raise ConfigError(
        f"{option} {value}: no such file and no packaged config of that name; "
        f"packaged: {', '.join(configs)} (mnist-lit presets shows what each does)"
    )


def resolve_config_arguments(args: Sequence[str]) -> list[str]:
    """Return ``args`` with each ``--config NAME`` (or ``--config=NAME``) turned into its path."""
    resolved = list(args)
    for index, arg in enumerate(resolved):
        flag, equals, value = arg.partition("=")
        if flag not in _CONFIG_FLAGS:
            continue
        if equals:
            resolved[index] = f"{flag}={resolve_config(value)}"
        elif index + 1 < len(resolved):
            resolved[index + 1] = resolve_config(resolved[index + 1])
    return resolved


def describe_presets() -> str:
    """Return each packaged config's name, the first sentence of its comment, and its path."""
    blocks = []
    for name, path in packaged_configs().items():
        comment = []
        for line in path.read_text().splitlines():
            if not line.startswith("#"):
                break
            comment.append(line.lstrip("# ").strip())
        first = re.split(r"(?<=[\w)])\. (?=[A-Z])", " ".join(comment))[0].rstrip(".") + "."
        text = textwrap.fill(f"{name}: {first}", width=100, subsequent_indent="    ")
        blocks.append(f"{text}\n    {path}")
    return "\n".join(blocks)
