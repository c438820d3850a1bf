"""The training step replayed from a CUDA graph, checked on the CPU (emulated), and the GPU presets.

The other GPU speed mechanisms are tested beside their modules (``data/test_batches.py``,
``models/test_compiling.py``, ``callbacks/test_progress.py``). Speed itself is measured by
``benchmarks/gpu.py`` on a GPU, never here."""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from mnist_lit.models import graphs
from tests.helpers import ROOT, TinyMNIST, run

GPU_FAST = str(ROOT / "configs" / "presets" / "gpu_fast.yaml")
GPU = str(ROOT / "configs" / "presets" / "gpu.yaml")
ON_CPU = ("--trainer.accelerator", "cpu")


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
        "mnist_lit.models.classifier.why_not", lambda *args, **kwargs: None
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
