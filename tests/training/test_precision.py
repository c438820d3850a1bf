"""``precision: auto`` follows the hardware; explicit precisions are used as given."""

from pathlib import Path

import pytest

from mnist_lit.training import trainer as trainer_module
from mnist_lit.training.device import cpu_flags
from mnist_lit.training.precision import choose_precision, device_type
from mnist_lit.training.trainer import Trainer
from tests.helpers import TinyMNIST, run

# Flags as /proc/cpuinfo lists them on the two kinds of machine this project is measured on.
AMD_EPYC_AVX2 = {"fpu", "sse2", "avx", "avx2", "fma", "bmi2"}
XEON_AMX = AMD_EPYC_AVX2 | {"avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"}
AVX512_BF16_ONLY = AMD_EPYC_AVX2 | {"avx512f", "avx512_bf16"}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [(AMD_EPYC_AVX2, "32-true"), (XEON_AMX, "bf16-mixed"), (AVX512_BF16_ONLY, "bf16-mixed")],
)
def test_cpu_choice_follows_the_flags(flags: set[str], expected: str) -> None:
    choice = choose_precision("cpu", flags)
    assert choice.precision == expected
    assert ("10x slower" in choice.reason) == (expected == "32-true")


def test_gpu_choice_follows_bf16_support() -> None:
    assert choose_precision("cuda", cuda_bf16=True).precision == "bf16-mixed"
    assert choose_precision("cuda", cuda_bf16=False).precision == "16-mixed"
    assert choose_precision("mps").precision == "32-true"


def test_this_machines_flags_are_read() -> None:
    flags = cpu_flags()
    if Path("/proc/cpuinfo").is_file():
        assert "fpu" in flags  # every x86 CPU lists it; an empty set would mean a parsing bug
    assert device_type("cpu") == "cpu"


@pytest.mark.parametrize(
    ("flags", "expected"), [(AMD_EPYC_AVX2, "32-true"), (XEON_AMX, "bf16-mixed")]
)
def test_trainer_auto_picks_for_the_cpu(
    monkeypatch: pytest.MonkeyPatch, flags: set[str], expected: str
) -> None:
    monkeypatch.setattr(trainer_module, "cpu_flags", lambda: frozenset(flags))
    trainer = Trainer(accelerator="cpu", precision="auto", logger=False)
    assert trainer.precision == expected
    assert trainer.precision_choice is not None


def test_explicit_precision_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trainer_module, "cpu_flags", lambda: frozenset(AMD_EPYC_AVX2))
    trainer = Trainer(accelerator="cpu", precision="bf16-mixed", logger=False)
    assert trainer.precision == "bf16-mixed" and trainer.precision_choice is None
    assert Trainer(accelerator="cpu", logger=False).precision == "32-true"  # the default


def test_cli_prints_the_choice_and_its_reason(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(trainer_module, "cpu_flags", lambda: frozenset(XEON_AMX))
    cli = run(
        "fit", tiny_mnist, tmp_path, "--trainer.precision", "auto", "--trainer.accelerator", "cpu",
        "--trainer.fast_dev_run", "true",
    )  # fmt: skip
    assert cli.trainer.precision == "bf16-mixed"
    out = capsys.readouterr().out
    assert "Precision: bf16-mixed (auto: the CPU computes in bf16 natively (amx_bf16))" in out
