"""Guards of the speed paths that cannot be run here: where the CUDA graph turns itself off, and
fused Adam giving way to gradient clipping under mixed precision."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mnist_lit.models.graphs import why_not
from tests.helpers import TinyMNIST, run

CUDA = torch.device("cuda", 0)


def test_cuda_graph_is_off_with_a_wrapping_strategy_even_on_one_gpu() -> None:
    assert why_not(CUDA, 1, "bf16-mixed", 1) is None
    reason = why_not(CUDA, 1, "bf16-mixed", 1, wrapped=True)
    assert reason is not None and "DDP" in reason


@pytest.mark.parametrize("mode", ["default", "max-autotune-no-cudagraphs"])
def test_cuda_graph_is_off_with_compile(mode: str) -> None:
    reason = why_not(CUDA, 1, "bf16-mixed", 1, mode)
    assert reason is not None and "compile" in reason


def test_fused_adam_gives_way_to_gradient_clipping_under_mixed_precision(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = run(
        "fit", tiny_mnist, tmp_path,
        "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", "3",
        "--trainer.limit_val_batches", "1",
        "--trainer.precision", "bf16-mixed",
        "--trainer.gradient_clip_val", "1.0",
        "--model.fused", "true",
    )  # fmt: skip
    assert cli.trainer.global_step == 3  # Lightning would have raised at the first step
    assert "fused: off, as Lightning cannot clip" in capsys.readouterr().out
    optimizer = cli.trainer.optimizers[0]
    assert not optimizer.defaults["fused"]
