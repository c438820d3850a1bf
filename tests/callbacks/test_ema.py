"""The average of the weights (EMA) and the accuracy recipe that uses it (``configs/presets/best.yaml``)
as a user runs it, on tiny synthetic data: the preset trains and tests; the average is what is
validated, saved and tested; test-time augmentation is reported beside the plain accuracy; AdamW is
chosen. TTA on its own: ``models/test_tta.py``."""

from pathlib import Path

import pytest
import torch

from mnist_lit.callbacks.ema import EMA, EMAModel
from mnist_lit.errors import ConfigError
from mnist_lit.models.convnet import ConvNet
from tests.helpers import ROOT, TinyMNIST, run

BEST = str(ROOT / "configs" / "presets" / "best.yaml")
SMALL = (  # the preset, made small enough for the tiny data and a test's time
    "--config", BEST, "--model.channels", "[8, 16, 32]", "--trainer.max_epochs", "2",
    "--data.batch_size", "50",
)  # fmt: skip


def test_the_ema_warms_up_then_keeps_decay_of_itself() -> None:
    net = ConvNet(batch_norm=True)
    average = EMAModel(net, decay=0.5, device=torch.device("cpu"))
    weight = net.classifier[-1].weight
    start = weight.detach().clone()
    expected = start.clone()
    for n in range(40):
        with torch.no_grad():
            weight.add_(1.0)
        net(torch.randn(4, 1, 28, 28))  # moves batch norm's statistics and batch count
        average.update_parameters(net)
        keep = 0.0 if n == 0 else min(0.5, (1 + n) / (10 + n))
        expected = keep * expected + (1 - keep) * weight.detach()
        averaged = average.module.classifier[-1].weight
        assert torch.allclose(averaged, expected, atol=1e-4), n
    # warm-up over (n = 8), the average lags a steady 0.5 / (1 - 0.5) = 1 step behind the weights
    assert float((weight - averaged).mean().detach()) == pytest.approx(1, abs=1e-3)
    batch_norm, live = average.module.features[1], net.features[1]
    assert batch_norm.num_batches_tracked == 40 and average.n_averaged == 40  # counts: copied
    assert not torch.allclose(batch_norm.running_mean, live.running_mean)  # statistics: averaged


def test_bad_ema_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"decay must be in \[0, 1\), got 1.0"):
        EMA(decay=1.0)


def test_the_best_preset_validates_saves_and_tests_the_averaged_weights(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fit = run("fit", tiny_mnist, tmp_path, *SMALL, "--test", "true")
    assert isinstance(fit.model.configure_optimizers()["optimizer"], torch.optim.AdamW)
    run_dir = Path(fit.trainer.log_dir)
    best = next((run_dir / "checkpoints").glob("best-*.ckpt"))
    saved = torch.load(best, weights_only=True)
    averaged, raw = saved["state_dict"], saved["current_model_state"]
    assert not torch.equal(averaged["net.features.0.weight"], raw["net.features.0.weight"])
    # fit --test true tested the averaged weights (Lightning's own callback loaded the raw ones)
    tested = fit.model.state_dict()
    assert all(torch.equal(tested[key], averaged[key]) for key in averaged)
    in_process = dict(fit.trainer.callback_metrics)
    out = capsys.readouterr().out
    assert "Test-time augmentation (tta 1): accuracy" in out

    # the best checkpoint's val/acc, which chose it, is that of the averaged weights it holds
    validate = run("validate", tiny_mnist, tmp_path, "--ckpt_path", str(best), "--config", BEST)
    score = next(v for k, v in saved["callbacks"].items() if "val/acc" in k)["best_model_score"]
    assert validate.trainer.callback_metrics["val/acc"] == pytest.approx(float(score))
    test = run("test", tiny_mnist, tmp_path, "--ckpt_path", str(best), "--config", BEST)
    for key in ("test/acc", "test/acc_tta", "test/loss"):
        assert test.trainer.callback_metrics[key] == pytest.approx(float(in_process[key]))
    assert in_process["test/acc"] > 0.5  # learnt something in 20 steps on augmented digits


def test_a_resumed_run_ends_with_the_average_of_an_uninterrupted_one(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    args = (*SMALL, "--model.schedule", "constant", "--trainer.deterministic", "true")
    run("fit", tiny_mnist, tmp_path / "whole", *args)
    run("fit", tiny_mnist, tmp_path / "split", *args, "--trainer.max_epochs", "1")
    run("fit", tiny_mnist, tmp_path / "split", *args, "--ckpt_path", "last")
    whole, split = (
        torch.load(next((tmp_path / run_dir).rglob("last.ckpt")), weights_only=True)
        for run_dir in ("whole", "split")
    )
    assert split["epoch"] == whole["epoch"] == 1
    for key in ("state_dict", "current_model_state", "averaging_state"):
        assert whole[key].keys() == split[key].keys()
        assert all(torch.equal(whole[key][name], split[key][name]) for name in whole[key]), key
    # 2 epochs of 13 steps: 500 training digits and the preset's 125 non-digits, batches of 50
    assert whole["averaging_state"]["n_averaged"] == 26
    assert not torch.equal(whole["state_dict"]["net.features.0.weight"],
                           whole["current_model_state"]["net.features.0.weight"])  # fmt: skip
