"""Validation and test loops that evaluate the re-parameterized model.

What a RepVGG user ships is the inference form (``to_inference_form``:
RepVGG blocks fused, conv+BN pairs folded), so that is what validation
during training and testing report. The loops evaluate an inference-form
copy of the (unwrapped) model; the trained multi-branch model is left
untouched, so
training, checkpoints and the hooks around the loop still see it.
"""
from contextlib import contextmanager

import torch
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop, ValLoop
from mmseg.registry import LOOPS

from ..models.fusion import to_inference_form


def fused_copy(model: torch.nn.Module) -> torch.nn.Module:
    """The inference form of ``model`` (without its DDP wrapper), a copy."""
    if is_model_wrapper(model):
        model = model.module
    return to_inference_form(model)[0]


class _FusedEvalMixin:
    """Runs the loop's iterations on a fused copy of ``runner.model``.

    The copy stands in for ``runner.model`` only within each iteration
    (model step and iteration hooks); epoch hooks, such as saving the best
    checkpoint after validation, see the trained model.
    """

    def run(self) -> dict:
        self.fused_model = fused_copy(self.runner.model)
        try:
            return super().run()
        finally:
            del self.fused_model

    @contextmanager
    def _fused_runner_model(self):
        trained, self.runner.model = self.runner.model, self.fused_model
        try:
            yield
        finally:
            self.runner.model = trained

    def run_iter(self, idx, data_batch) -> None:
        with self._fused_runner_model():
            super().run_iter(idx, data_batch)


@LOOPS.register_module()
class ReparamValLoop(_FusedEvalMixin, ValLoop):
    """``ValLoop`` that validates the fused copy of the model."""


@LOOPS.register_module()
class ReparamTestLoop(_FusedEvalMixin, TestLoop):
    """``TestLoop`` that tests the fused copy of the model."""
