"""repseg's main job in one command, on the built-in demo data, with a report.

    python tools/run_demo.py [--work-dir DIR] [--restart] [--quick]

Runs, each as the command a user would type (the same tools, the same
arguments as docs/train_and_test.md and docs/deploy.md), their output on
the console (side by side: in DIR/logs/steps/):

1. the demo datasets and the demo street video
   (tools/dataset_converters/make_demo_data.py,
   tools/dataset_converters/cityscapes.py), unless present, two makers at a
   time;
2. two lanes side by side, the CPUs shared between them. One lane:
   RepVGG-A0 pretraining on the classification demo
   (configs/demo/repvgg_a0_demo_cls.py), PSPNet-RepVGG-A0 on the
   Cityscapes-format demo from those weights
   (configs/demo/pspnet_repvgg_a0_demo.py) and from random weights
   (configs/demo/pspnet_repvgg_a0_demo_scratch.py) (tools/train.py); then
   fusion into the inference form, checked equal, and its ONNX export at
   the test size (tools/deploy.py --onnx); the evaluation of the fused and
   of the multi-branch model and of the from-scratch one, fused
   (tools/test.py); and post-training INT8 quantization (tools/quantize.py)
   with the evaluation of the FP32 and the INT8 ONNX model (tools/test.py).
   The other lane: the same pair with QARepVGG blocks
   (configs/demo/qarepvgg_a0_demo_cls.py,
   configs/demo/pspnet_qarepvgg_a0_demo.py) and the PSPNet-R-18 baseline
   from random weights (configs/demo/pspnet_r18_demo.py); the baseline's
   evaluation, fused; and the QARepVGG model's quantization and FP32 / INT8
   evaluations;
then, on idle cores, what is timed:
3. the RepVGG-A0 and ResNet-18 PSPNets, multi-branch and fused, in
   PyTorch, ONNX Runtime and ncnn (tools/analysis_tools/benchmark.py);
4. the deployed model (ONNX Runtime) on the val images and on the street
   video (tools/infer.py);
5. for both A0 segmentors, the latency of the FP32 and of the INT8 ONNX
   model on the val images (tools/infer.py, one run after the other);
6. DIR/report.md (with plots, sample images, a strip of the segmented
   video's frames, the measured FPS, what pretraining adds and how
   PSPNet-R-18 compares, and the FP32 / INT8 table) and DIR/report.json.

A step whose output exists is skipped, so a second run only rebuilds the
report; once a step has run, every later one runs again (its inputs
changed; in a lane, the rest of that lane and every step after the lanes).
An interrupted training continues from its last checkpoint.
The models are the entries of repseg/demo/models.py (a compared model is
one entry there); the steps are made from them in repseg/demo/pipeline.py.
"""
import argparse
import sys
from pathlib import Path

from repseg.demo.pipeline import Demo
from repseg.demo.report import summary
from repseg.errors import RepSegError

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.split('\n')[3:]))
    parser.add_argument(
        '--work-dir', type=Path,
        help='where the deployed model, evaluations, benchmark, segmented '
        'images and video and the report '
        'go (default: work_dirs/demo, with --quick work_dirs/demo_quick); '
        'the trainings use the configs\' work dirs (work_dirs/<config '
        'name>), with --quick folders inside this one')
    parser.add_argument(
        '--restart', action='store_true',
        help='clear the work dir and every training\'s work dir first and '
        'run every step (the demo datasets in data/ are kept)')
    parser.add_argument(
        '--quick', action='store_true',
        help='the same steps with the schedules cut (1 short pretraining '
        'epoch, 4 segmentation iterations, 4 val images evaluated, a short '
        'benchmark, 2 calibration images) '
        'in their own work dirs: checks the pipeline in a few minutes; the '
        'figures mean nothing')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    demo = Demo(REPO, args.work_dir, quick=args.quick)
    try:
        run = demo.run(restart=args.restart)
    except RepSegError as error:
        sys.exit(f'run_demo.py: {error}')
    print('\n[run_demo] steps:')
    for name, seconds in run.timings.items():
        took = seconds if isinstance(seconds, str) else f'{seconds:.0f} s'
        print(f'  {name}: {took}')
    print(summary(run.report))
    print(f'[run_demo] done in {run.seconds:.0f} s; report: '
          f"{demo.work_dir / 'report.md'} "
          f"(figures: {demo.work_dir / 'report.json'})")
    if not run.report['accuracy']['agree']:
        sys.exit('run_demo.py: the fused and the multi-branch model do not '
                 'give the same mIoU (see the report)')


if __name__ == '__main__':
    main()
