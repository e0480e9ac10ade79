"""Evaluate a checkpoint; by default the fused (re-parameterized) model.

    python tools/test.py CONFIG CKPT [--work-dir DIR] [--multi-branch]
                         [--precision fp32|bf16|int8] [--report FILE.json] [--out DIR] [--show-dir DIR]
                         [--cfg-options KEY=VALUE ...] [--launcher ...]

CKPT is loaded strictly. It may be a tools/deploy.py --auto folder, which
stands for the fastest path recorded there. It may also be an exported model of tools/deploy.py
or tools/quantize.py (deploy.onnx, deploy.ncnn.param, deploy.xml,
deploy.int8.onnx, deploy.int8.xml), evaluated in its engine with the
same metric. --precision bf16 evaluates in bf16: a PyTorch model under
mmengine's CPU autocast (the test loop's fp16 switch, which is bf16 on a
CPU), an OpenVINO file with its bf16 inference precision. --report
writes the metrics as JSON (mIoU, mAcc, aAcc, per_class for segmentation;
accuracy for classification), with fused, config, checkpoint and backend
(--multi-branch: fused is false) and precision. --out writes the predictions as Cityscapes
labelId PNGs named after the inputs, for cityscapesscripts' official
evaluation. --show-dir writes colour overlays of the predictions.
"""
import argparse
import json
import math
import os.path as osp
from contextlib import ExitStack
from pathlib import Path
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.runner import Runner

# repseg.apis also registers EngineModel, the model of exported files.
from repseg.apis import CheckpointMismatch
from repseg.apis.model import deployed_fastest
from repseg.engines import backend_for_file
from repseg.cli import add_runner_args, load_config
from repseg.engine.config import (adapt_to_device, check_datasets,
                                  init_cpu_process_group)
from repseg.engines import file_precision
from repseg.errors import RepSegError
from repseg.precision import PRECISIONS
from repseg.fileio import atomic_output
from repseg.results import EvaluationReport


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--multi-branch', '--no-reparam',
                        dest='multi_branch', action='store_true',
                        help='evaluate the multi-branch model as trained '
                        '(--no-reparam: its former name)')
    parser.add_argument('--precision', choices=PRECISIONS,
                        help='what the network computes in (default: the '
                        'checkpoint\'s own: fp32, int8 for an INT8 file)')
    parser.add_argument('--report', metavar='FILE.json',
                        help='write the metrics as JSON')
    parser.add_argument('--out', metavar='DIR', help='write predictions as '
                        'Cityscapes labelId PNGs into DIR')
    parser.add_argument('--show-dir', metavar='DIR',
                        help='write colour overlays of the predictions')
    add_runner_args(parser)
    return parser.parse_args(argv)


def resolve_folder(args) -> None:
    """A tools/deploy.py --auto folder as CKPT: its fastest path's file and
    (unless --precision says otherwise) precision."""
    if osp.isdir(args.checkpoint):
        fastest = deployed_fastest(args.checkpoint)
        args.checkpoint = osp.join(args.checkpoint, fastest.file)
        args.precision = args.precision or fastest.precision


def build_config(args, staging: Optional[Path] = None) -> Config:
    """The test config; ``staging`` is where --out's predictions are
    written before they replace --out."""
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    # Testing needs no training set (hooks asking for runner.iter would
    # otherwise build the train loop and load it).
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper',
                'param_scheduler'):
        cfg[key] = None
    # The weights come from CKPT: no need to load pretrained ones first.
    cfg.model.get('backbone', {}).pop('init_cfg', None)
    if backend_for_file(args.checkpoint):
        if args.multi_branch:
            raise SystemExit('test.py: --multi-branch: an exported model has '
                             'only its inference form')
        # The engine runs the network; the exported file is the model, and
        # a copy of it cannot be fused again (the plain TestLoop).
        cfg.model = dict(type='EngineModel', model=cfg.model,
                         file=args.checkpoint, precision=args.precision)
        cfg.load_from = None
        cfg.test_cfg = dict(type='TestLoop')
    else:
        if args.multi_branch:
            cfg.test_cfg = dict(type='TestLoop')
        if args.precision == 'int8':
            raise SystemExit(f'test.py: --precision int8: {args.checkpoint} '
                             'is not an INT8 file (tools/deploy.py '
                             '--precision int8 makes one)')
        if args.precision == 'bf16':
            if torch.cuda.is_available():  # mmengine's autocast: fp16 there
                raise SystemExit('test.py: --precision bf16 is for the CPU '
                                 '(CUDA autocasts the test loop to fp16)')
            # mmengine's test loop autocasts with fp16=True, in bf16 on a CPU.
            cfg.test_cfg = dict(cfg.test_cfg or dict(type='TestLoop'),
                                fp16=True)
    if args.out:
        if cfg.test_dataloader.dataset.type != 'CityscapesDataset':
            raise SystemExit('test.py: --out writes Cityscapes labelId PNGs '
                             'and needs a CityscapesDataset test set')
        evaluators = cfg.test_evaluator
        evaluators = list(evaluators) if isinstance(evaluators,
                                                    (list, tuple)) else [
                                                        evaluators]
        # mmseg's CityscapesMetric in format-only mode writes trainId
        # predictions as labelId PNGs, named after the input images, into
        # the staging folder (every rank writes there).
        evaluators.append(dict(type='CityscapesMetric', format_only=True,
                               keep_results=True, output_dir=str(staging)))
        cfg.test_evaluator = evaluators
    if args.show_dir:
        hook = cfg.default_hooks.get('visualization')
        if not hook:
            raise SystemExit('test.py: --show-dir needs a visualization hook '
                             'in default_hooks')
        hook.update(draw=True, interval=1)
        cfg.visualizer['save_dir'] = args.show_dir
    adapt_to_device(cfg)
    return cfg


def _rounded(value):
    """A metric as JSON takes it: 4 decimals, None for NaN."""
    value = float(value)
    return round(value, 4) if math.isfinite(value) else None


def precision_of(args) -> str:
    """What --precision (or, without it, the checkpoint) computes in."""
    if getattr(args, 'precision', None):
        return args.precision
    if backend_for_file(args.checkpoint):
        return file_precision(args.checkpoint)
    return 'fp32'


def make_report(metrics: dict, args) -> EvaluationReport:
    """The --report content: summary metrics, per-class IoU and provenance
    (``repseg.results.EvaluationReport``)."""
    per_class = {k[len('IoU.'):]: _rounded(v) for k, v in metrics.items()
                 if k.startswith('IoU.')}
    summary = {k: _rounded(v) for k, v in metrics.items()
               if not k.startswith('IoU.')}
    return EvaluationReport(metrics=summary,
                            fused=not args.multi_branch,
                            config=osp.abspath(args.config),
                            checkpoint=osp.abspath(args.checkpoint),
                            per_class=per_class,
                            backend=backend_for_file(args.checkpoint)
                            or 'pytorch', precision=precision_of(args))


def load_strictly(runner: Runner, cfg: Config) -> None:
    """Load ``cfg.load_from`` into the runner's model, failing on any key
    or shape that does not fit. mmengine loads ``load_from`` with
    strict=False, which only logs such a mismatch: a checkpoint of another
    model (another head width, say) would be tested with some layers left
    random, and its metrics reported as the checkpoint's."""
    try:
        runner.load_checkpoint(cfg.load_from, strict=True)
    except RepSegError:
        raise  # already says what the checkpoint is and what to do
    except RuntimeError as err:
        raise CheckpointMismatch(
            f'checkpoint {cfg.load_from!r} does not match config '
            f'{cfg.filename!r}: {err}') from err


def evaluate(args) -> dict:
    """Build the runner and test; the metrics. --out's predictions replace
    --out only when the whole run succeeds."""
    with ExitStack() as stack:
        # One staging folder for every rank, entered before any writes;
        # the main process moves it to --out, or removes it on failure.
        staging = stack.enter_context(atomic_output(
            args.out, shared=True)) if args.out else None
        cfg = build_config(args, staging)
        check_datasets(cfg, names=('test_dataloader', ))
        init_cpu_process_group(cfg)
        runner = Runner.from_cfg(cfg)
        if cfg.load_from:
            load_strictly(runner, cfg)  # then runner.test() loads nothing
        return runner.test()


def main(argv=None):
    args = parse_args(argv)
    try:
        resolve_folder(args)
        metrics = evaluate(args)
    except RepSegError as err:
        raise SystemExit(f'test.py: {err}') from err
    if not is_main_process():
        return
    if args.out:
        print(f'predictions (Cityscapes labelIds): {args.out}')
    report = make_report(metrics, args)
    if args.report:
        report.dump(args.report)
        print(f'report: {args.report}')
    shown = {k: v for k, v in report.to_dict().items() if k != 'per_class'}
    print(json.dumps(shown, indent=2))


if __name__ == '__main__':
    main()
