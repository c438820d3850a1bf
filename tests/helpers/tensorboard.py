"""A run's TensorBoard files read back with TensorBoard's own event reader, as its tabs show them."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2


def events(run_dir: Path) -> EventAccumulator:
    """Every scalar, image and tensor logged in ``run_dir``."""
    accumulator = EventAccumulator(str(run_dir), size_guidance={"images": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def hparams_of(accumulator: EventAccumulator) -> tuple[dict[str, object], list[str]]:
    """The HPARAMS tab's view of a run: its hyperparameters and the metric tags shown beside them."""
    content = accumulator.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]
    ).session_start_info
    experiment = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/experiment"]
    ).experiment
    values = {
        key: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
        for key, value in start.hparams.items()
    }
    return values, [info.name.tag for info in experiment.metric_infos]


def image(accumulator: EventAccumulator, tag: str) -> np.ndarray:
    """The last image logged under ``tag``, as ``(H, W, 3)`` uint8 pixels."""
    encoded = accumulator.Images(tag)[-1].encoded_image_string
    with Image.open(io.BytesIO(encoded)) as picture:
        return np.asarray(picture.convert("RGB"))
