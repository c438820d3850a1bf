"""The demo's ``Recogniser``: one image read by a trained network, as ``predict`` reads it."""

from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_lit.data.preprocess import normalize, preprocess
from mnist_lit.demo.recognise import Recogniser
from mnist_lit.models.classifier import MNISTClassifier
from mnist_lit.models.convnet import ConvNet
from tests.helpers import DIGITS, render


def test_recogniser_reads_a_drawing_like_predict_would() -> None:
    torch.manual_seed(0)
    untrained = Recogniser(ConvNet())
    image = render(DIGITS[3])
    result = untrained(image)
    assert result.pixels.shape == (28, 28) and result.pixels.dtype == np.uint8
    np.testing.assert_array_equal(result.pixels, preprocess(image))  # the image the model saw
    assert result.probabilities.shape == (10,)
    assert result.probabilities.sum() == pytest.approx(1, abs=1e-5)
    assert result.digit == result.probabilities.argmax()
    with pytest.raises(ValueError, match=r"expected \(28, 28\) uint8"):
        untrained.classify(np.zeros((28, 28), dtype=np.float32))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"channels": (8, 16, 32), "hidden": (20, 12)},
        {"batch_norm": True, "dropout": 0.25, "fc_activation": True},
    ],
)
def test_the_demo_network_gives_the_models_outputs(tmp_path: Path, options: dict) -> None:
    torch.manual_seed(0)
    model = MNISTClassifier(**options, mean=0.1307, std=0.3081).eval()
    path = tmp_path / "model.ckpt"
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, path)
    recogniser = Recogniser.from_checkpoint(path)
    image = render(DIGITS[9])
    result = recogniser(image)
    with torch.inference_mode():
        expected = model(normalize(torch.from_numpy(result.pixels)[None, None], 0.1307, 0.3081))
    np.testing.assert_allclose(result.probabilities, expected.softmax(1)[0].numpy(), atol=1e-6)
