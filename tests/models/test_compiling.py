"""``--model.compile``: the network through ``torch.compile``, with the checkpoint unchanged."""

from pathlib import Path
from typing import Any

import pytest
import torch

from tests.helpers import TinyMNIST, run


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
