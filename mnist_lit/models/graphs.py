"""The training step captured once as a CUDA graph and replayed for every batch (``cuda_graph``).

    python -m mnist_lit fit --config configs/default.yaml --config configs/presets/gpu_fast.yaml

A training step of this small network launches about a hundred kernels of a few microseconds of
GPU work each, but each costs tens of microseconds of Python and launch on the host: on a fast GPU
the device waits for the host. Captured as a CUDA graph, the forward pass, the loss and the
backward pass become one launch. The optimizer (fused Adam, a few kernels), the metrics and
Lightning's loop then run as usual after it.

What a graph needs, and how ``StepGraph`` provides it:

- **fixed addresses**: every batch is copied into the same input tensors; the gradients are made
  during capture and kept, the graph overwriting them at each replay (so the optimizer must not set
  them to ``None``: see ``MNISTClassifier.optimizer_zero_grad``);
- **fixed shapes**: a batch of another size (the last of an epoch) runs the ordinary eager step;
- **warm-up** before capture, on a side stream (cuDNN and cuBLAS set themselves up), whose effect
  on batch-norm statistics is undone;
- **autocast without its cache** of cast weights, which would otherwise be baked into the graph.

``capture`` is the one function that needs a GPU; tests replace it with an emulation on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

Step = Callable[[Tensor, Tensor], tuple[Tensor, ...]]
"""Forward pass and loss of one batch ``(images, labels)``; returns ``(loss, ...)``."""
Replay = Callable[[], None]
GRAPHED_COMPILE_MODES = ("reduce-overhead", "max-autotune")
"""``torch.compile`` modes that replay CUDA graphs themselves."""
WARMUP = 3
"""Eager runs of the step before capture (PyTorch's CUDA-graph notes use 3 for one device)."""


def why_not(
    device: torch.device,
    world_size: int,
    precision: str,
    accumulate: int,
    compile_mode: str | None = None,
    wrapped: bool = False,
) -> str | None:
    """Return why a CUDA graph of the training step cannot be used here, or ``None`` if it can.

    ``wrapped``: the strategy wraps the model for several processes (DDP, FSDP, ...), which it
    does even when there is only one.
    """
    if compile_mode in GRAPHED_COMPILE_MODES:
        return f"compile mode {compile_mode} replays CUDA graphs of its own"
    if device.type != "cuda":
        return f"it needs a CUDA GPU and this run is on {device.type}"
    if world_size > 1:
        return f"it supports one process and this run has {world_size}"
    if wrapped:
        return "it supports a single-device strategy and this run's wraps the model (DDP, FSDP)"
    if precision in ("16-mixed", "16"):
        return (
            "fp16 loss scaling changes the gradients outside the graph; use bf16-mixed or 32-true"
        )
    if accumulate > 1:
        return "accumulate_grad_batches adds gradients up, and a replay overwrites them"
    if compile_mode is not None:  # never run together on a GPU: choose one
        return f"it has not been tried together with compile (mode {compile_mode}); use one of them"
    return None


def capture(
    step: Callable[[], Sequence[Tensor]], params: Sequence[Tensor]
) -> tuple[Replay, Sequence[Tensor]]:
    """Warm ``step`` up on a side stream, then capture it as a CUDA graph.

    Args:
        step: Runs the work once (reading fixed input tensors) and returns its output tensors.
        params: Parameters whose gradients ``step`` makes: set to ``None`` before the capture,
            so that the backward pass in the graph writes them afresh at every replay instead
            of adding to them.

    Returns:
        The graph's ``replay`` and the output tensors that every replay overwrites.

    """
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(WARMUP):
            _clear_grads(params)
            step()
    torch.cuda.current_stream().wait_stream(stream)
    _clear_grads(params)
    graph = torch.cuda.CUDAGraph()
    # One stream for both (ROCm's BLAS handles). thread_local: work other threads start during
    # capture (a pinned-memory DataLoader's, with on_device false) must not abort it.
    with torch.cuda.graph(graph, stream=stream, capture_error_mode="thread_local"):
        outputs = step()
    return graph.replay, outputs


def _clear_grads(params: Sequence[Tensor]) -> None:
    for param in params:
        param.grad = None


class StepGraph:
    """A training step captured on its first batch and replayed for every later batch of that size.

    Args:
        step: Forward pass and loss of a batch; returns the loss first, then any other tensors
            the caller needs (per-image losses, logits). The graph holds it and the backward
            pass of the loss (run outside autocast, as in eager training).
        module: The module ``step`` trains: its parameters' gradients are the graph's, and its
            buffers (batch-norm statistics) are restored after the warm-up.

    """

    def __init__(self, step: Step, module: nn.Module) -> None:
        self.step = step
        self.module = module
        self.replay: Replay | None = None
        self.inputs: tuple[Tensor, Tensor] | None = None
        self.outputs: tuple[Tensor, ...] = ()

    @property
    def captured(self) -> bool:
        """Whether the graph exists (from the first batch on)."""
        return self.replay is not None

    def fits(self, images: Tensor) -> bool:
        """Whether ``images`` can go through the graph: the first batch, or one of its shape.

        The graph takes the first batch's size; a first batch smaller than the others (a split
        smaller than one batch) would leave the others to the eager path.
        """
        return self.inputs is None or images.shape == self.inputs[0].shape

    def __call__(self, images: Tensor, labels: Tensor) -> tuple[Tensor, ...]:
        """Run the step and its backward pass on a batch by replaying the graph (captured first).

        Returns ``step``'s outputs, detached: the graph's own tensors, overwritten by the next
        replay, so use them (or copy them) before the next batch.
        """
        if self.inputs is None:
            self._capture(images, labels)
        assert self.inputs is not None and self.replay is not None
        self.inputs[0].copy_(images)
        self.inputs[1].copy_(labels)
        self.replay()
        return self.outputs

    def _capture(self, images: Tensor, labels: Tensor) -> None:
        inputs = (images.clone(), labels.clone())
        device_type = images.device.type
        autocast = torch.is_autocast_enabled(device_type)
        dtype = torch.get_autocast_dtype(device_type)

        def run() -> tuple[Tensor, ...]:
            with torch.autocast(device_type, dtype=dtype, enabled=autocast, cache_enabled=False):
                outputs = self.step(*inputs)
            with torch.autocast(device_type, enabled=False):  # backward outside, as in eager
                outputs[0].backward()
            return tuple(output.detach() for output in outputs)

        buffers = [(buffer, buffer.clone()) for buffer in self.module.buffers()]
        params = [param for param in self.module.parameters() if param.requires_grad]
        replay, outputs = capture(run, params)  # looked up now: tests put an emulation in its place
        for buffer, before in buffers:  # the warm-up's batch-norm updates (same batch, 3 times)
            buffer.copy_(before)
        self.inputs, self.replay, self.outputs = inputs, replay, tuple(outputs)
