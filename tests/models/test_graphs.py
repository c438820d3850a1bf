"""The GPU speed mechanisms, checked on the CPU: batches formed on the device, the training step
replayed from a CUDA graph (emulated), ``torch.compile``, no wait for the device at every step, and
the GPU presets. Speed itself is measured by ``benchmarks/gpu.py`` on a GPU, never here."""

from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

from mnist_lit.callbacks.progress import ProgressBar
from mnist_lit.data.batches import DeviceBatches
from mnist_lit.data.datamodule import MNISTDataModule
from mnist_lit.models import graphs
from tests.conftest import ROOT, TinyMNIST
from tests.test_cli import run
from tests.test_distributed import FakeTrainer

GPU_FAST = str(ROOT / "configs" / "presets" / "gpu_fast.yaml")
GPU = str(ROOT / "configs" / "presets" / "gpu.yaml")
ON_CPU = ("--trainer.accelerator", "cpu")


def batches(loader: Any) -> list[tuple[Tensor, Tensor]]:
    return [(images.clone(), labels.clone()) for images, labels in loader]


def assert_same_batches(a: list[tuple[Tensor, Tensor]], b: list[tuple[Tensor, Tensor]]) -> None:
    assert len(a) == len(b)
    for (images_a, labels_a), (images_b, labels_b) in zip(a, b, strict=True):
        assert torch.equal(images_a, images_b) and torch.equal(labels_a, labels_b)


def test_device_batches_are_the_dataloaders_batches(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    """Every split, every epoch and every process's share: the same images in the same order."""
    loaders: dict[bool, dict[str, list[list[tuple[Tensor, Tensor]]]]] = {}
    for on_device in (True, False):
        dm = MNISTDataModule(
            data_dir=str(tmp_path), mirror=str(tiny_mnist.mirror), val_size=100,
            batch_size=64, on_device=on_device,
        )  # fmt: skip
        dm.prepare_data()
        dm.setup("fit")
        dm.setup("test")
        seen: dict[str, list[list[tuple[Tensor, Tensor]]]] = {"train": [], "val": [], "test": []}
        for world_size, rank in ((1, 0), (2, 0), (2, 1)):
            dm.trainer = FakeTrainer(world_size, rank)  # type: ignore[assignment]
            train = dm.train_dataloader()
            for epoch in (0, 1):
                train.sampler.set_epoch(epoch)  # type: ignore[union-attr]
                seen["train"].append(batches(train))
            seen["val"].append(batches(dm.val_dataloader()))
            seen["test"].append(batches(dm.test_dataloader()))
        assert isinstance(train, DeviceBatches) == on_device
        loaders[on_device] = seen
    for split in ("train", "val", "test"):
        for on_device, on_host in zip(loaders[True][split], loaders[False][split], strict=True):
            assert_same_batches(on_device, on_host)
    epochs = loaders[True]["train"][:2]
    assert not torch.equal(epochs[0][0][1], epochs[1][0][1])  # a new order each epoch
    assert [len(labels) for _, labels in epochs[0]] == [64] * 7 + [52]  # 500 images
    # predict keeps a DataLoader: the predictions file takes each image's index from its sampler
    dm.setup("predict")
    assert isinstance(dm.predict_dataloader(), torch.utils.data.DataLoader)


class FirstLabels(Callback):
    """Records the labels of each epoch's first training batch, as the Trainer delivers them."""

    def __init__(self) -> None:
        self.labels: list[Tensor] = []

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if batch_idx == 0:
            self.labels.append(batch[1].clone())


def test_the_trainer_shuffles_device_batches_anew_each_epoch(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    firsts = {}
    for on_device in ("true", "false"):
        recorder = FirstLabels()
        cli = run(
            "fit", tiny_mnist, tmp_path / on_device, "--trainer.max_epochs", "2",
            "--data.on_device", on_device, "--trainer.limit_train_batches", "2", "--data.val_size", "0",
            "--trainer.callbacks+", "tests.models.test_graphs.FirstLabels",
        )  # fmt: skip
        recorder = next(c for c in cli.trainer.callbacks if isinstance(c, FirstLabels))
        firsts[on_device] = recorder.labels
    assert len(firsts["true"]) == 2 and not torch.equal(*firsts["true"])  # set_epoch was called
    assert all(torch.equal(a, b) for a, b in zip(firsts["true"], firsts["false"], strict=True))


def emulated_capture(
    replays: list[int],
) -> Callable[[Callable[[], Sequence[Tensor]], Sequence[Tensor]], tuple[Any, Sequence[Tensor]]]:
    """``graphs.capture`` on the CPU: each replay reruns the step, with a CUDA graph's constraints.

    A graph reads and writes fixed addresses: the replay checks that no parameter or gradient
    tensor was replaced since the capture (e.g. gradients set to ``None`` by ``zero_grad``), and
    overwrites the gradients as the graph's backward pass does, rather than adding to them.
    """

    def capture(
        step: Callable[[], Sequence[Tensor]], params: Sequence[Tensor]
    ) -> tuple[Any, Sequence[Tensor]]:
        for param in params:
            param.grad = None
        outputs = step()
        grads = [param.grad for param in params]
        addresses = [param.data_ptr() for param in params]
        assert all(grad is not None for grad in grads)

        def replay() -> None:
            assert [param.data_ptr() for param in params] == addresses, "a parameter moved"
            assert all(p.grad is g for p, g in zip(params, grads, strict=True)), "grads replaced"
            for grad in grads:
                grad.zero_()  # type: ignore[union-attr]
            for output, new in zip(outputs, step(), strict=True):
                output.copy_(new)
            assert all(p.grad is g for p, g in zip(params, grads, strict=True))
            replays.append(1)

        return replay, outputs

    return capture


def test_the_replayed_training_step_trains_as_the_eager_one(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The CUDA-graph path (emulated) gives the eager path's weights, batch-norm statistics and
    loss, through full batches (replayed) and each epoch's smaller last batch (eager)."""
    options = (
        "--trainer.max_epochs", "2", "--data.batch_size", "64", "--model.batch_norm", "true",
        "--seed_everything", "3", "--model.schedule", "onecycle",
    )  # fmt: skip
    eager = run("fit", tiny_mnist, tmp_path / "eager", *options)
    replays: list[int] = []
    monkeypatch.setattr(graphs, "capture", emulated_capture(replays))
    monkeypatch.setattr(
        "mnist_lit.models.classifier.why_not", lambda *args: None
    )  # as if on a CUDA GPU
    graphed = run("fit", tiny_mnist, tmp_path / "graphed", *options, "--model.cuda_graph", "true")
    assert "cuda_graph: the training step is captured at the first batch" in capsys.readouterr().out
    assert len(replays) == 2 * 7  # 500 images: 7 full batches an epoch replayed, the last eager
    assert graphed.trainer.global_step == eager.trainer.global_step == 16
    weights = graphed.model.state_dict()
    for name, value in eager.model.state_dict().items():
        assert torch.equal(weights[name], value), name  # weights and running statistics
    logged = ("train/loss_epoch", "val/acc")
    assert [graphed.trainer.logged_metrics[k] for k in logged] == [
        eager.trainer.logged_metrics[k] for k in logged
    ]
    assert graphed.model._graph is None  # released after training, with its gradients
    assert all(p.grad is None for p in graphed.model.parameters())


def test_cuda_graph_is_off_with_its_reason_where_it_cannot_apply(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run("fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "1", "--model.cuda_graph", "true")
    assert (
        "cuda_graph: off, as it needs a CUDA GPU and this run is on cpu" in capsys.readouterr().out
    )
    cuda = torch.device("cuda")
    assert graphs.why_not(cuda, 1, "bf16-mixed", 1) is None
    assert "one process" in graphs.why_not(cuda, 2, "bf16-mixed", 1)  # type: ignore[operator]
    assert "fp16 loss scaling" in graphs.why_not(cuda, 1, "16-mixed", 1)  # type: ignore[operator]
    assert "accumulate_grad_batches" in graphs.why_not(cuda, 1, "32-true", 4)  # type: ignore[operator]


def test_compile_trains_the_same_and_keeps_the_checkpoint_names(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--model.compile`` goes through ``torch.compile`` (here with its fast ``eager`` backend,
    which traces the network as Inductor would but runs it as is)."""
    modes: list[str] = []
    compile_ = torch.compile

    def traced(model: Any, **kwargs: Any) -> Any:
        modes.append(kwargs.pop("mode"))
        return compile_(model, backend="eager", **kwargs)

    monkeypatch.setattr(torch, "compile", traced)
    options = ("--trainer.max_epochs", "1", "--seed_everything", "5", "--data.batch_size", "100")
    eager = run("fit", tiny_mnist, tmp_path / "eager", *options)
    assert modes == []
    compiled = run("fit", tiny_mnist, tmp_path / "compiled", *options, "--model.compile", "default")
    assert modes == ["default"]
    assert "compile: torch.compile(mode='default') of the network" in capsys.readouterr().out
    weights = compiled.model.state_dict()
    assert weights.keys() == eager.model.state_dict().keys()  # no "_orig_mod." in the names
    for name, value in eager.model.state_dict().items():
        assert torch.allclose(weights[name], value, atol=1e-6), name
    checkpoint = next((Path(compiled.trainer.log_dir) / "checkpoints").glob("best-*.ckpt"))
    assert "compile" not in torch.load(checkpoint, weights_only=True)["hyper_parameters"]
    tested = run("test", tiny_mnist, tmp_path / "compiled", "--ckpt_path", str(checkpoint))
    assert modes == ["default"]  # a setting of use: not taken from the checkpoint
    assert tested.trainer.callback_metrics["test/acc"] > 0.5


SYNCS = ("item", "tolist", "__bool__", "__float__", "__int__")
"""Tensor methods that bring a value to the host: on a GPU, a wait for the device."""


class SyncCounter(Callback):
    """Counts, per training step, the calls that read a tensor's value on the host.

    A step lasts until the next one starts, so that the logger's and the progress bar's work
    after ``on_train_batch_end`` counts too; the end of the epoch is left out.
    """

    active: "SyncCounter | None" = None

    def __init__(self) -> None:
        self.steps: set[int] = set()
        self.step: int | None = None
        SyncCounter.active = self

    def on_train_batch_start(self, trainer: Trainer, *args: Any) -> None:
        self.step = trainer.global_step

    def on_train_epoch_end(self, trainer: Trainer, *args: Any) -> None:
        self.step = None

    @classmethod
    def count(cls) -> None:
        if cls.active is not None and cls.active.step is not None:
            cls.active.steps.add(cls.active.step)


def test_training_steps_read_nothing_back_except_where_values_are_shown(
    tiny_mnist: TinyMNIST, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logging and the progress bar read values from the device only on the steps that show
    them (every 5th for the logger here, every 10th for the bar), never at every step."""
    for name in SYNCS:
        original = getattr(torch.Tensor, name)

        def counted(self: Tensor, *args: Any, _original: Any = original) -> Any:
            SyncCounter.count()
            return _original(self, *args)

        monkeypatch.setattr(torch.Tensor, name, counted)
    monkeypatch.setattr(SyncCounter, "active", None)
    run(
        "fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "1", "--data.val_size", "0",
        "--data.batch_size", "10", "--trainer.enable_progress_bar", "true",
        "--model.fused", "true",  # as the GPU presets (PyTorch's other Adam reads its step count)
        "--trainer.callbacks+", "tests.models.test_graphs.SyncCounter",
    )  # fmt: skip
    counter = SyncCounter.active
    assert counter is not None
    shown = {step for step in range(60) if (step + 1) % 5 == 0}  # 600 images in 60 steps
    assert counter.steps and counter.steps <= shown, sorted(counter.steps - shown)


def test_the_progress_bar_shows_the_training_loss_it_reads_on_redraw() -> None:
    logged = {"train/loss": torch.tensor(0.25), "train/acc": torch.tensor(0.5)}
    trainer = SimpleNamespace(
        training=True, callback_metrics=logged, progress_bar_metrics={"val/acc": 0.9}, loggers=[]
    )
    shown = ProgressBar().get_metrics(trainer, None)  # type: ignore[arg-type]
    assert shown == {"val/acc": 0.9, "train/loss": 0.25, "train/acc": 0.5}


def test_gpu_presets_run_on_a_cpu(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both GPU presets are valid configs end to end (on the CPU: no graph, fp32 or bf16 by the CPU)."""
    fast = run("fit", tiny_mnist, tmp_path, "--config", GPU_FAST, *ON_CPU, "--test", "true")
    out = capsys.readouterr().out
    assert "cuda_graph: off, as it needs a CUDA GPU and this run is on cpu" in out
    assert fast.trainer.max_epochs == 1 and fast.datamodule.on_device
    assert fast.trainer.callback_metrics["test/acc"] > 0.3  # one epoch of 600 tiny images
    run("fit", tiny_mnist, tmp_path, "--config", GPU, *ON_CPU, "--trainer.max_epochs", "1")
