"""The drawing demo without a browser: what each event of the page answers, and its command line."""

import csv
import errno
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_lit.data import collection as collection_module
from mnist_lit.data.collection import Collection
from mnist_lit.demo.app import (
    DRAW_HINT,
    MAX_PIXELS,
    PASSWORD_VARIABLE,
    DemoActions,
    blank_canvas,
    build_app,
    canvas_image,
    serve,
)
from mnist_lit.demo.app import main as demo
from mnist_lit.demo.limits import MAX_REQUEST_BYTES
from mnist_lit.demo.recognise import Recogniser
from mnist_lit.errors import ConfigError
from mnist_lit.models.classifier import MNISTClassifier
from mnist_lit.models.convnet import ConvNet
from tests.helpers import DIGITS, ROOT, TinyMNIST, TrainedModel, render, run

pytest.importorskip("gradio")  # the page's outputs (its bar chart's table) need Gradio's pandas


def drawn(digit: int) -> dict[str, Image.Image]:
    """What the sketchpad sends for a digit drawn on its white paper: an opaque RGBA composite."""
    return {"composite": render(DIGITS[digit]).convert("RGBA")}


@pytest.fixture
def untrained() -> Recogniser:
    torch.manual_seed(0)
    return Recogniser(ConvNet())


def test_blank_canvas_asks_for_a_digit(untrained: Recogniser, tmp_path: Path) -> None:
    actions = DemoActions(untrained, Collection(tmp_path / "drawings"))
    for value in (None, {"composite": None}, blank_canvas()):
        label, bars, preview, message, sample = actions.read_drawing(value)
        assert message == DRAW_HINT
        assert label is None and bars is None and preview is None and sample is None


def test_drawing_shows_digit_bars_and_what_the_model_saw(
    untrained: Recogniser, tmp_path: Path
) -> None:
    actions = DemoActions(untrained, Collection(tmp_path / "drawings"))
    label, bars, preview, message, sample = actions.read_drawing(drawn(7))
    assert label is not None and bars is not None and preview is not None and sample is not None
    top = max(label, key=label.__getitem__)
    assert message.startswith(f"Read as **{top}** (")
    assert list(bars["digit"]) == [str(d) for d in range(10)]
    assert bars["probability"].sum() == pytest.approx(1, abs=1e-5)
    # 28x28, each pixel an 8x8 square, then (8 pixels apart) the Grad-CAM map of the digit read
    assert preview.size == (224 + 8 + 224, 224)
    seen = preview.crop((0, 0, 224, 224)).convert("L")
    small = np.asarray(seen.resize((28, 28), Image.Resampling.NEAREST))
    np.testing.assert_array_equal(small, sample.pixels)
    heat = np.asarray(preview.crop((232, 0, 456, 224))).astype(int)
    assert (heat[..., 0] - heat[..., 2] > 60).any()  # some pixels red: for the digit read


def test_the_page_sends_no_telemetry(untrained: Recogniser, tmp_path: Path) -> None:
    app = build_app(DemoActions(untrained, Collection(tmp_path / "drawings")))
    assert app.analytics_enabled is False


def test_canvas_strokes_on_transparency_become_black_on_white() -> None:
    strokes = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    strokes.paste((0, 0, 0, 255), (20, 5, 30, 45))
    image = canvas_image({"composite": strokes})
    assert image is not None and image.mode == "L"
    assert image.getpixel((0, 0)) == 255 and image.getpixel((25, 25)) == 0


def test_unreadable_upload_says_so_and_a_photo_is_read(
    untrained: Recogniser, tmp_path: Path
) -> None:
    actions = DemoActions(untrained, Collection(tmp_path / "drawings"))
    fake = tmp_path / "holiday.png"
    fake.write_text("not an image")
    empty = tmp_path / "empty.jpg"
    empty.touch()
    blank = tmp_path / "blank.png"
    Image.new("L", (60, 60), 200).save(blank)
    for path, reason in [
        (fake, "not an image of a format read here (PNG, JPEG"),
        (empty, "empty file"),
        (blank, "no digit found"),
    ]:
        label, _, _, message, sample = actions.read_upload(str(path))
        assert message.startswith(f"Cannot read {path.name}: {reason}")
        assert label is None and sample is None
    assert actions.read_upload(None)[3] == "Upload a photo or scan of one digit."

    photo = tmp_path / "photo.JPG"
    exif = Image.Exif()
    exif[0x0112] = 6  # taken with the phone turned: shown turned a quarter clockwise
    render(DIGITS[4]).convert("RGB").rotate(90, expand=True).save(photo, "JPEG", exif=exif)
    with photo.open("ab") as file:  # a polyglot: a ZIP archive after the image's data
        file.write(b"PK\x03\x04 anything at all")
    label, _, _, message, sample = actions.read_upload(str(photo))
    assert label is not None and sample is not None and message.startswith("Read as")
    actions.save(sample, "4")
    saved = next((tmp_path / "drawings" / "4").iterdir())
    assert saved.suffix == ".png"  # encoded anew: nothing the user sent is stored as it came
    assert b"PK\x03\x04" not in saved.read_bytes()
    with Image.open(saved) as image:  # upright, without the phone's EXIF
        assert image.size == render(DIGITS[4]).size and not image.getexif()
        assert actions.recognise(image).digit == actions.recognise(render(DIGITS[4])).digit


def test_save_needs_a_reading_and_a_label(untrained: Recogniser, tmp_path: Path) -> None:
    actions = DemoActions(untrained, Collection(tmp_path / "drawings"))
    sample = actions.read_drawing(drawn(2))[4]
    assert actions.save(None, "2")[0] == "Nothing to save: draw or upload a digit first."
    assert actions.save(sample, None)[0] == "Pick the digit the image shows, then press Save."
    assert not (tmp_path / "drawings").exists()

    message, _, label, saved = actions.save(sample, "2")
    assert saved is not None and saved.saved is not None and message.startswith("Saved as")
    assert label is None  # the next drawing needs its own label
    message, _, label, _ = actions.save(saved, "2")  # a second click on the same drawing
    assert saved.saved is not None
    where = saved.saved.relative_to(tmp_path).as_posix()  # no server path in the reply
    assert message == f"Already saved as `{where}`: draw the next digit." and label == "2"
    assert len(list((tmp_path / "drawings" / "2").iterdir())) == 1


def test_saves_never_overwrite_and_are_counted(
    untrained: Recogniser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Frozen:  # every save at the same microsecond, as from two tabs at once
        @staticmethod
        def now() -> "Frozen":
            return Frozen()

        def strftime(self, fmt: str) -> str:
            return "20261123-101502-000001"

    monkeypatch.setattr(collection_module, "datetime", Frozen)
    root = tmp_path / "drawings"
    actions = DemoActions(untrained, Collection(root))
    sample = actions.read_drawing(drawn(5))[4]
    messages = [actions.save(sample, "5")[0] for _ in range(3)]  # three tabs, same drawing
    names = sorted(p.name for p in (root / "5").iterdir())
    assert names == [
        "20261123-101502-000001-1.png",
        "20261123-101502-000001-2.png",
        "20261123-101502-000001.png",
    ]
    assert messages[0] == "Saved as `drawings/5/20261123-101502-000001.png`."  # no server path
    small = sorted((tmp_path / "drawings_28x28" / "5").iterdir())
    assert [p.name for p in small] == names
    with Image.open(small[0]) as image:
        assert image.size == (28, 28)
        np.testing.assert_array_equal(np.asarray(image), sample.pixels)
    with Image.open(root / "5" / names[0]) as image:  # the drawing, black on white
        assert image.size == (400, 400) and image.getpixel((0, 0)) == 255
    assert Collection(root).counts() == {**dict.fromkeys(range(10), 0), 5: 3}
    table = actions.counts()
    assert "| images | 0 | 0 | 0 | 0 | 0 | 3 | 0 | 0 | 0 | 0 | 3 |" in table


def test_a_save_that_fails_halfway_leaves_no_file(
    untrained: Recogniser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_link = os.link

    def disk_full_for_28x28(source: Path, target: Path) -> None:
        if "_28x28" in str(target):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_link(source, target)

    monkeypatch.setattr(collection_module.os, "link", disk_full_for_28x28)
    actions = DemoActions(untrained, Collection(tmp_path / "drawings"))
    sample = actions.read_drawing(drawn(6))[4]
    message = actions.save(sample, "6")[0]
    assert message == (
        f"Not saved: cannot save into the collection {tmp_path / 'drawings'}: "
        "No space left on device"
    )
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # not even hidden temporaries


def test_the_demo_loads_without_lightning() -> None:
    """Lightning takes seconds to import; reading an image must not need it."""
    code = (
        "import sys, mnist_lit.demo, mnist_lit.demo.recognise, mnist_lit.data.collection; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'lightning'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_a_busy_port_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model.ckpt"
    model = MNISTClassifier()
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit) as exit_info:
            demo(["--ckpt_path", str(path), "--port", str(port), "--collection", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"mnist_lit.demo: error: cannot serve on 127.0.0.1:{port}: ")


def test_a_failed_save_says_why_and_leaves_nothing(untrained: Recogniser, tmp_path: Path) -> None:
    root = tmp_path / "drawings"
    root.mkdir()
    (root / "6").write_text("a file where the digit's folder should be")
    actions = DemoActions(untrained, Collection(root))
    sample = actions.read_drawing(drawn(6))[4]
    message = actions.save(sample, "6")[0]
    assert message.startswith(f"Not saved: cannot save into the collection {root}:")
    with pytest.raises(ConfigError, match="label must be a digit from 0 to 9, got 10"):
        Collection(root).save(Image.new("L", (5, 5)), sample.pixels, 10)
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        Collection(root / "6")


def test_saved_drawings_get_the_same_answers_from_predict_and_test(
    tiny_mnist: TinyMNIST, tiny_model: TrainedModel, tmp_path: Path
) -> None:
    logs = tmp_path / "lightning_logs"
    shutil.copytree(tiny_model.run_dir, logs / "version_0")  # "best" is its best checkpoint
    actions = DemoActions(Recogniser.from_checkpoint("best", logs), Collection(tmp_path / "drawn"))
    shown = {}
    for digit in (1, 3, 7):
        _, bars, _, _, sample = actions.read_drawing(drawn(digit))
        assert bars is not None  # the ten probabilities, shown whether or not it is sure
        path = actions.save(sample, str(digit))[0].split("`")[1]
        label = dict(zip(bars["digit"], bars["probability"], strict=True))
        shown[Path(path).relative_to("drawn").as_posix()] = label  # the reply names no server path

    out = tmp_path / "predictions.csv"
    run(
        "predict", tiny_mnist, tmp_path, "--ckpt_path", "best",
        "--data.predict_dir", str(tmp_path / "drawn"), "--predictions", str(out),
    )  # fmt: skip
    with out.open() as file:
        rows = {row["path"]: row for row in csv.DictReader(file)}
    assert rows.keys() == shown.keys()
    for name, label in shown.items():
        for digit, probability in label.items():
            assert float(rows[name][f"p{digit}"]) == pytest.approx(probability, abs=1e-5)

    test = run(
        "test", tiny_mnist, tmp_path, "--ckpt_path", "best",
        "--data.custom_dir", str(tmp_path / "drawn"),
    )  # fmt: skip
    right = sum(max(label, key=label.__getitem__) == name[0] for name, label in shown.items())
    assert float(test.trainer.callback_metrics["test/acc"]) == pytest.approx(right / 3)


def test_help_and_one_line_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        demo(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--ckpt_path", "--logs", "--collection", "--host", "--port"):
        assert option in out

    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"encoder.weight": torch.zeros(3)}, "hyper_parameters": {}}, foreign)
    for args, message in [
        (["--port", "http"], "mnist_lit.demo: error: "),
        (["--ckpt_path", str(foreign)], f"{foreign} does not hold an mnist_lit model: "),
        (
            ["--ckpt_path", "best", "--logs", str(tmp_path)],
            f"mnist_lit.demo: error: --ckpt_path best: no checkpoints under {tmp_path}",
        ),
        (["--ckpt_path", str(tmp_path / "nope.ckpt")], "does not exist"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            demo(args)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and err.count("\n") == 1

    monkeypatch.setitem(sys.modules, "gradio", None)  # as if Gradio were not installed
    with pytest.raises(SystemExit) as exit_info:
        demo(["--ckpt_path", str(tmp_path / "nope.ckpt")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        "mnist_lit.demo: error: the demo needs Gradio: pip install -e '.[demo]' (in a clone) "
        "or pip install gradio\n"
    )


def test_scripts_read_digits_through_the_stable_predict_api(
    tiny_model: TrainedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script calls the running page as /predict (a drawing) and /predict_file (an image file)."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    recognise = Recogniser.from_checkpoint(tiny_model.best)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", MAX_PIXELS)  # as the demo's main sets it
    app = build_app(DemoActions(recognise, Collection(tmp_path / "drawings")))
    serve(app, "127.0.0.1", None, None, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(app.local_url, verbose=False)
        names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
        assert {"/predict", "/predict_file"} <= names
        image = tmp_path / "seven.png"
        drawn(7)["composite"].save(image)
        direct = recognise(Image.open(image))
        for endpoint, value in (
            ("/predict", {"background": None, "layers": [], "composite": handle_file(image)}),
            ("/predict_file", handle_file(image)),
        ):
            label, _bars, _preview, message = client.predict(value, api_name=endpoint)
            assert label["label"] == str(direct.digit), endpoint
            assert message.startswith(f"Read as **{direct.digit}** ("), endpoint
        assert not names & {"/save", "/cleared", "/counts"}  # only the readings are the API

        # a 13,000 x 13,000 canvas (0.3 MB of PNG) with four such layers: refused from the
        # headers, before Gradio decodes any (it took the server from 0.7 to 5.3 GB)
        huge, large = tmp_path / "huge.png", tmp_path / "large.png"
        Image.new("L", (13_000, 13_000), 255).save(huge, optimize=False)
        Image.new("L", (6_000, 6_000), 255).save(large)  # under Pillow's limit, not the canvas's
        resident = peak_memory_reset()
        started = time.perf_counter()
        for canvas, reason in (
            ([None, *[huge] * 4, huge], "a canvas with 4 layers: at most 2"),
            ([None, huge], "a canvas over the limit of 4,000,000 pixels"),
            ([large] * 2, "a canvas of 6000x6000 pixels is over the limit of 4,000,000"),
        ):
            background, *layers, composite = [None if f is None else handle_file(f) for f in canvas]
            value = {"background": background, "layers": layers, "composite": composite}
            with pytest.raises(AppError, match=reason):
                client.predict(value, api_name="/predict")
        assert time.perf_counter() - started < 10
        if resident is not None:
            assert peak_memory() - resident < 0.5 * 2**30
        jpeg = tmp_path / "canvas.jpg"
        drawn(7)["composite"].convert("RGB").save(jpeg)  # a canvas is PNG: no JPEG decode bombs
        with pytest.raises(AppError, match="the canvas must be sent as PNG"):
            client.predict(
                {"background": None, "layers": [], "composite": handle_file(jpeg)},
                api_name="/predict",
            )
        label, *_ = client.predict(handle_file(image), api_name="/predict_file")  # still serving
        assert label["label"] == str(direct.digit)

        # a request body over the limit is refused before it is read
        request = urllib.request.Request(
            f"{app.local_url}gradio_api/upload",
            data=b"x" * 100,
            headers={"Content-Length": str(MAX_REQUEST_BYTES + 1)},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 413
    finally:
        app.close()


def peak_memory_reset() -> int | None:
    """Reset this process's peak resident memory (Linux); return the resident memory now."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return peak_memory()


def peak_memory() -> int:
    """Peak resident memory of this process since the last reset, in bytes (Linux's VmHWM)."""
    status = Path("/proc/self/status").read_text()
    (line,) = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(line.split()[1]) * 1024


def test_a_page_other_machines_reach_needs_a_password(
    tiny_model: TrainedModel, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_VARIABLE, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        demo(["--ckpt_path", str(tiny_model.best), "--host", "0.0.0.0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "set a password with MNIST_LIT_DEMO_PASSWORD" in err and "Traceback" not in err
