"""``python -m mnist_lit.export``: a file that runs without this project and gives ``predict``'s
probabilities, written where the help says, and one-line errors."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_lit.data.preprocess import normalize
from mnist_lit.export.command import main as export
from mnist_lit.export.formats import SUFFIXES, export_file, run_file
from mnist_lit.export.model import Probabilities
from mnist_lit.models.calibration import Calibration, read_calibration
from mnist_lit.models.classifier import MNISTClassifier
from mnist_lit.training.checkpoints import load_checkpoint, model_from_checkpoint
from tests.helpers import ROOT, TinyMNIST, TrainedModel

OLD = Path(__file__).parents[1] / "fixtures" / "v0.1.0-fast.ckpt"
"""A checkpoint written before calibration existed: no temperature."""

FORMATS = ["onnx", "torchscript"]

OUTSIDE = """
import json, sys
import numpy as np

path, fmt, pixels_file, out_file = sys.argv[1:]
pixels = np.load(pixels_file)
if fmt == "onnx":
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    run = lambda x: session.run(["probabilities"], {"pixels": x})[0]
    meta = session.get_modelmeta().custom_metadata_map
else:
    import torch

    extra = {"mnist_lit.json": ""}
    model = torch.jit.load(path, _extra_files=extra)
    run = lambda x: model(torch.from_numpy(x)).detach().numpy()
    meta = json.loads(extra["mnist_lit.json"])
whole = run(pixels)
one = run(pixels[:1])  # any batch size
assert np.abs(one - whole[:1]).max() < 1e-6, "a batch of one reads differently"
loaded = {name.split(".")[0] for name in sys.modules} & {"lightning", "pytorch_lightning", "mnist_lit"}
assert not loaded, f"imported {loaded}"
np.save(out_file, whole)
print(json.dumps(dict(meta)))
"""
"""What a user of the file runs, in a new process that must not import Lightning or mnist_lit."""


def run_outside(path: Path, fmt: str, pixels: np.ndarray, work: Path) -> tuple[np.ndarray, dict]:
    """Run an exported file in a new Python process; return its probabilities and metadata."""
    np.save(work / "pixels.npy", pixels)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            OUTSIDE,
            str(path),
            fmt,
            str(work / "pixels.npy"),
            str(work / "out.npy"),
        ],
        cwd=work,  # not the repository: mnist_lit is not importable from the current folder
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return np.load(work / "out.npy"), json.loads(done.stdout.strip().splitlines()[-1])


def pixels_of(tiny: TinyMNIST) -> np.ndarray:
    """The tiny test images as an exported file takes them: ``(200, 1, 28, 28)`` float32 in [0, 1]."""
    return tiny.test_images[:, None].astype(np.float32) / 255


def predict_step(checkpoint: Path, images: np.ndarray) -> np.ndarray:
    """The probabilities ``predict_step`` returns for uint8 ``(N, 28, 28)`` images."""
    model = model_from_checkpoint(load_checkpoint(checkpoint), checkpoint)
    batch = normalize(
        torch.from_numpy(images)[:, None], model.hparams["mean"], model.hparams["std"]
    )
    with torch.inference_mode():
        return model.predict_step([batch], 0).probabilities.numpy()


def fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the command, which must stop with one line and exit status 2; return that line."""
    with pytest.raises(SystemExit) as exit_info:
        export(list(args))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_file_gives_the_probabilities_predict_wrote_without_lightning(
    fmt: str,
    tiny_mnist: TinyMNIST,
    tiny_model: TrainedModel,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    calibration = read_calibration(torch.load(tiny_model.best, weights_only=True))
    assert calibration is not None and abs(calibration.temperature - 1) > 0.05
    out = tmp_path / f"model{SUFFIXES[fmt]}"
    export(["--ckpt_path", str(tiny_model.best), "--format", fmt, "--out", str(out)])
    printed = capsys.readouterr().out
    assert f"Wrote {out}" in printed
    assert "Input  pixels: float32 (N, 1, 28, 28)" in printed and "[0, 1]" in printed
    assert "Output probabilities: float32 (N, 10)" in printed
    assert f"temperature {calibration.temperature:.4f}" in printed

    probabilities, meta = run_outside(out, fmt, pixels_of(tiny_mnist), tmp_path)
    written = np.array(
        [[float(row[f"p{d}"]) for d in range(10)] for row in tiny_model.predictions]
    )  # predict's CSV, 6 decimals
    assert written.shape == probabilities.shape == (200, 10)
    np.testing.assert_allclose(probabilities, written, rtol=0, atol=1e-5)
    # the temperature shows: without it, the same file would be off by more than that
    unscaled = torch.from_numpy(probabilities).log().mul(calibration.temperature).softmax(dim=1)
    assert np.abs(unscaled.numpy() - written).max() > 1e-3
    assert float(meta["temperature"]) == calibration.temperature
    assert float(meta["unsure_below"]) == calibration.threshold


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_checkpoint_without_calibration_exports_unscaled(
    fmt: str, tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert read_calibration(torch.load(OLD, weights_only=True)) is None
    out = tmp_path / "exported" / "old"  # folders created; any name
    export(["--ckpt_path", str(OLD), "--format", fmt, "--out", str(out)])
    printed = capsys.readouterr().out
    assert "has no calibration" in printed and "temperature 1.0000" in printed
    probabilities, meta = run_outside(out, fmt, pixels_of(tiny_mnist), tmp_path)
    expected = predict_step(OLD, tiny_mnist.test_images)
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-5)
    assert meta["unsure_below"] == ""


@pytest.mark.parametrize("fmt", FORMATS)
def test_other_networks_and_normalisations_export_exactly(fmt: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = MNISTClassifier(
        channels=(8, 16, 32), hidden=(20, 12), batch_norm=True, dropout=0.25,
        fc_activation=True, mean=0.1307, std=0.3081,
    ).eval()  # fmt: skip
    for module in model.modules():  # batch statistics other than the initial ones
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    model.calibration = Calibration(temperature=1.7, threshold=0.5)
    images = torch.randint(0, 256, (33, 1, 28, 28), dtype=torch.uint8)
    with torch.inference_mode():
        expected = model.predict_step([normalize(images, 0.1307, 0.3081)], 0).probabilities
    path = tmp_path / f"net{SUFFIXES[fmt]}"
    export_file(Probabilities.from_classifier(model), path, fmt, {})
    got = run_file(path, fmt, (images.float() / 255).numpy())
    np.testing.assert_allclose(got, expected.numpy(), rtol=0, atol=1e-6)


def test_by_default_the_file_goes_into_the_runs_export_folder(
    tiny_model: TrainedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "lightning_logs" / "version_0"
    shutil.copytree(tiny_model.run_dir, run_dir)  # a trained run of this test's own
    checkpoints = {p: hashlib.md5(p.read_bytes()).hexdigest() for p in run_dir.rglob("*.ckpt")}
    args = ["--ckpt_path", "best", "--logs", str(run_dir.parent), "--format", "torchscript"]
    export(args)
    export(args)  # again: the file is replaced
    expected = run_dir / "export" / f"{tiny_model.best.stem}.pt"
    assert expected.is_file()
    assert f"Wrote {expected}" in capsys.readouterr().out
    assert {
        p: hashlib.md5(p.read_bytes()).hexdigest() for p in run_dir.rglob("*.ckpt")
    } == checkpoints
    assert [p.name for p in (run_dir / "export").iterdir()] == [expected.name]  # no leftovers


def test_mistakes_are_one_line(
    tiny_model: TrainedModel,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    best = str(tiny_model.best)
    err = fails(capsys, "--ckpt_path", best, "--format", "tflite")
    assert err.startswith("mnist_lit.export: error:") and "format" in err and "--help" in err
    err = fails(capsys, "--ckpt_path", str(tmp_path / "nope.ckpt"), "--format", "onnx")
    assert "nope.ckpt does not exist" in err
    err = fails(capsys, "--ckpt_path", "best", "--logs", str(tmp_path), "--format", "onnx")
    assert "no checkpoints under" in err
    before = tiny_model.best.read_bytes()
    err = fails(capsys, "--ckpt_path", best, "--format", "onnx", "--out", best)
    assert "is the checkpoint itself" in err
    err = fails(capsys, "--ckpt_path", best, "--format", "onnx", "--out", str(tmp_path / "m.ckpt"))
    assert "not a checkpoint" in err
    assert tiny_model.best.read_bytes() == before
    (tmp_path / "file").write_text("")
    err = fails(
        capsys, "--ckpt_path", best, "--format", "onnx", "--out", str(tmp_path / "file" / "m.onnx")
    )
    assert "is a file, not a folder" in err
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if the extra were not installed
    err = fails(capsys, "--ckpt_path", best, "--format", "onnx", "--out", str(tmp_path / "m.onnx"))
    assert "pip install 'mnist_lit[export]'" in err
    assert not (tmp_path / "m.onnx").exists()


def test_the_help_says_what_goes_in_and_out() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mnist_lit.export", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "python -m mnist_lit.export" in text
    assert "float32 (N, 1, 28, 28)" in text and "(uint8 pixels / 255)" in text
    assert "float32 (N, 10)" in text and "export/<checkpoint name>.onnx" in text
