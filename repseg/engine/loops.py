"""Validation and test loops that evaluate the re-parameterized model.

What a RepVGG user ships is the fused model, so that is what validation
during training and testing report. The loops evaluate a fused copy of the
(unwrapped) model; the trained multi-branch model is left untouched, so
training, checkpoints and hooks still see it.
"""
import torch
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop, ValLoop
from mmengine.runner.amp import autocast
from mmengine.runner.loops import _update_losses
from mmseg.registry import LOOPS

from ..models.fusion import reparameterize_model


def fused_copy(model: torch.nn.Module) -> torch.nn.Module:
    """An eval-mode, fused copy of ``model`` (without its DDP wrapper)."""
    if is_model_wrapper(model):
        model = model.module
    return reparameterize_model(model).eval()


@LOOPS.register_module()
class ReparamValLoop(ValLoop):
    """``ValLoop`` that validates the fused copy of the model."""

    def run(self) -> dict:
        self.eval_model = fused_copy(self.runner.model)
        try:
            return super().run()
        finally:
            del self.eval_model

    @torch.no_grad()
    def run_iter(self, idx, data_batch) -> None:
        # As ValLoop.run_iter, but on the fused copy.
        self.runner.call_hook(
            'before_val_iter', batch_idx=idx, data_batch=data_batch)
        with autocast(enabled=self.fp16):
            outputs = self.eval_model.val_step(data_batch)
        outputs, self.val_loss = _update_losses(outputs, self.val_loss)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook(
            'after_val_iter', batch_idx=idx, data_batch=data_batch,
            outputs=outputs)


@LOOPS.register_module()
class ReparamTestLoop(TestLoop):
    """``TestLoop`` that tests the fused copy of the model."""

    def run(self) -> dict:
        self.eval_model = fused_copy(self.runner.model)
        try:
            return super().run()
        finally:
            del self.eval_model

    @torch.no_grad()
    def run_iter(self, idx, data_batch) -> None:
        # As TestLoop.run_iter, but on the fused copy.
        self.runner.call_hook(
            'before_test_iter', batch_idx=idx, data_batch=data_batch)
        with autocast(enabled=self.fp16):
            outputs = self.eval_model.test_step(data_batch)
        outputs, self.test_loss = _update_losses(outputs, self.test_loss)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook(
            'after_test_iter', batch_idx=idx, data_batch=data_batch,
            outputs=outputs)
