"""``report.md`` and the console summary, from the report's figures (the
dict ``report.json`` holds)."""
from typing import List

from repseg.equivalence import TOLERANCE


def fmt(value, digits: int = 2) -> str:
    return '-' if value is None else f'{value:.{digits}f}'


def accuracy_section(report: dict) -> List[str]:
    acc = report['accuracy']
    verdict = ('They agree' if acc['agree'] else
               '**They do not agree: fusion changed the model**')
    lines = ['## Accuracy: fused vs multi-branch', '',
             '| model | mIoU | mAcc | aAcc |', '|---|---|---|---|']
    for label, key in (('fused (deploy.pth)', 'fused'),
                       ('multi-branch (as trained)',
                        'multi_branch')):
        m = acc[key]
        lines.append(f"| {label} | {fmt(m['mIoU'])} | {fmt(m['mAcc'])} | "
                     f"{fmt(m['aAcc'])} |")
    lines += ['', f"{verdict}: the mIoU differs by {acc['difference']:.2f} "
              f"(tolerance {acc['tolerance']}) on the demo val set.", '']
    return lines


def comparison_section(report: dict) -> List[str]:
    """The compared models side by side, each fused and timed at its
    network's fastest path: what pretraining adds on the same schedule,
    and the deployed model against the baselines (the other networks)."""
    rows = report['comparison']
    deployed = rows[0]
    lines = ['## Compared models: pretraining and the baselines', '',
             'Every segmentor trained on the same segmentation schedule '
             '(cut alike by --quick), from the classification demo\'s '
             'checkpoint (pretrained) or from random weights (from scratch). '
             'Each is evaluated fused (tools/test.py) and timed at the '
             'fastest fused row of its network in the benchmark below '
             '(fused, fused+...+cl: PyTorch; +onnx: ONNX Runtime; +ncnn: '
             'ncnn; +openvino: OpenVINO; +bf16: in bfloat16, on the '
             'processors with its units), on the processor named there; '
             'models of one network are timed once. G multiply-adds: '
             "per image at the benchmark's input, as the eager fused model "
             'computes them (direct convolutions). Ratios: latency and '
             f"multiply-adds over {deployed['model']} ({deployed['init']})'s.",
             '',
             '| model | initialized | fused mIoU | mAcc | aAcc | G '
             'multiply-adds | fastest path | latency (ms) | images/s | '
             'latency ratio | multiply-adds ratio |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for row in rows:
        m, timed = row['metrics'], row['timed_by']
        lines.append(f"| {row['model']} | {row['init']} | {fmt(m['mIoU'])} | "
                     f"{fmt(m['mAcc'])} | {fmt(m['aAcc'])} | "
                     f"{giga(row['multiply_adds'])} | {timed['mode']} "
                     f"| {fmt(timed['latency_ms'], 1)} | "
                     f"{fmt(timed['images_per_s'], 1)} | "
                     f"{times(row['latency_ratio'])} | "
                     f"{times(row['multiply_adds_ratio'])} |")
    if report['pretraining_gain'] is not None:
        lines += ['', f"Pretraining adds {signed(report['pretraining_gain'])}"
                  f" mIoU points to {deployed['model']} on the same "
                  'schedule.']
    return lines + ['']


def giga(count) -> str:
    return '-' if count is None else f'{count / 1e9:.2f}'


def signed(value) -> str:
    return '-' if value is None else f'{value:+.2f}'


def times(value) -> str:
    return '-' if value is None else f'x{value:.2f}'


def equivalence_section(report: dict) -> List[str]:
    eq = report['equivalence']
    before, after = eq['before'], eq['after']
    folded = ', '.join(f'{k} {v}' for k, v in eq.get('folded', {}).items())
    return ['## Equivalence (tools/deploy.py)', '',
            f"On the same random input {'x'.join(map(str, eq['input_shape']))}"
            f", the fused model's output differs from the trained model's by "
            f"at most {eq['max_abs_diff']:.2e} ({eq['max_rel_diff']:.2e} of "
            f'the largest output; the tool fails above {TOLERANCE:g}).', '',
            '| | parameters | convolutions | BN layers |', '|---|---|---|---|',
            f"| multi-branch | {before['params']:,} | {before['convs']} | "
            f"{before['norms']} |",
            f"| fused | {after['params']:,} | {after['convs']} | "
            f"{after['norms']} |", '',
            f'Head conv+BN pairs folded: {folded or "none"}.', '',
            *engine_lines(eq.get('engines', {}))]


def engine_lines(engines: dict) -> List[str]:
    """What each exported engine file was checked to (tools/deploy.py
    --backend / --onnx), against the trained model on the same input."""
    lines = [f"Exported and checked, {name} ({check['file']}, "
             f"{'dynamic' if check['dynamic_image_size'] else 'fixed'} image "
             f"size{', fp16' if check['fp16'] else ''}): "
             f"{check['max_rel_diff']:.2e} of the largest output (tolerance "
             f"{check['tolerance']:g})." for name, check in engines.items()]
    return lines + [''] if lines else []


def benchmark_section(report: dict) -> List[str]:
    env = report['benchmark']['environment']
    shown = ('device', 'processor', 'input_shape', 'threads', 'repeat',
             'warmup', 'torch')
    described = ', '.join(
        f'{k} {report["benchmark"].get(k) or env[k]}' for k in shown
        if k in env)
    lines = ['## Speed (tools/analysis_tools/benchmark.py)', '',
             f'Latency per call, median and least ({described}); images/s '
             'and speed-up (relative to '
             f"{report['benchmark']['reference']}) from the median; rel "
             'diff: largest output difference from the eager fused model.',
             '',
             '| model | mode | latency (ms) | min (ms) | images/s | '
             'speed-up | rel diff |', '|---|---|---|---|---|---|---|']
    for row in report['benchmark']['rows']:
        lines.append(f"| {row['name']} | {row['mode']} | "
                     f"{fmt(row['latency_ms'], 1)} | "
                     f"{fmt(row['min_latency_ms'], 1)} | "
                     f"{fmt(row['images_per_s'], 1)} | "
                     f"x{row['speedup']:.2f} | {row['max_rel_diff']:.1e} |")
    network = report['comparison'][0]['timed_by']['name']
    baselines = sorted({row['timed_by']['name'] for row in report['comparison']
                        } - {network})
    lines += ['', f"The baselines ({', '.join(baselines) or 'none'}) are "
              'timed with random weights (speed does not depend on them; '
              '"fused": their conv+BN pairs folded); their mIoU is their '
              "trained checkpoints' (above). The plot shows each compared "
              'model, fused, at its fastest fused row, and '
              f'{network} as trained at its multi-branch row.', '',
              '![speed vs accuracy](speed_vs_accuracy.png)', '']
    return lines


def inference_section(report: dict) -> List[str]:
    """The deployed model run as a user runs it (tools/infer.py) on the val
    images and on the street video, and a strip of the video's overlays."""
    if 'inference' not in report:
        return []
    rows = report['inference']
    first = rows['images']
    lines = ['## Inference (tools/infer.py)', '',
             f"The deployed model on {first['backend']} ({first['device']}, "
             f"{first['threads']} threads): the model's median latency per "
             'image or frame, and images or frames per second end to end '
             '(reading, overlay drawing and writing included).', '',
             '| input | done | failed | median latency (ms) | FPS |',
             '|---|---|---|---|---|']
    for label, key in (('val images', 'images'),
                       ('street video (frames)', 'video')):
        row = rows[key]
        lines.append(f"| {label} | {row['done']} | {row['failures']} | "
                     f"{fmt(row['median_latency_ms'], 1)} | "
                     f"{fmt(row['fps'], 1)} |")
    lines.append('')
    strip = report.get('video_strip')
    if strip:
        lines += ['Frames ' + ', '.join(map(str, strip['frames'])) + ' of '
                  f"the overlay video ({strip['video']}); the street video "
                  'is drawn by tools/dataset_converters/make_demo_data.py '
                  'video (a zoom into the vanishing point: no parallax).',
                  '', '![video strip](video_strip.png)', '']
    return lines


def quantization_section(report: dict) -> List[str]:
    """The FP32 / INT8 table: both ONNX files of each model evaluated with
    the same metric (tools/test.py), their output differences
    (tools/quantize.py's quantize.json) and their latencies
    (tools/infer.py)."""
    rows = report.get('quantization')
    if not rows:
        return []
    first = rows[0]
    lines = ['## FP32 / INT8 (tools/quantize.py)', '',
             'Each segmentor quantized after training (ONNX Runtime static '
             f"INT8, calibrated on {first['calibration_images']} training "
             'images), both ONNX files evaluated on the demo val set with the '
             'same metric. Logit diff: the largest INT8-vs-FP32 logit '
             'difference over the largest FP32 logit; agreement: the share '
             'of output positions (the decode head\'s logits) where both '
             'pick the same class (both on the calibration images). '
             'Latency: tools/infer.py\'s median per '
             f"val image ({first['backend']}, {first['device']}, "
             f"{first['threads']} threads); FP32 and INT8 are consecutive "
             'runs on the same machine, not interleaved, so a change of load '
             'between them shows in the ratio.', '',
             '| model | FP32 mIoU | INT8 mIoU | drop | logit diff | '
             'agreement | FP32 latency (ms) | INT8 latency (ms) | '
             'INT8 speed-up |', '|---|---|---|---|---|---|---|---|---|']
    for row in rows:
        speedup = row['int8_speedup']
        lines.append(
            f"| {row['model']} | {fmt(row['fp32_miou'])} | "
            f"{fmt(row['int8_miou'])} | {fmt(row['miou_drop'])} | "
            f"{row['int8_max_rel_diff']:.1e} | "
            f"{100 * row['int8_agreement']:.1f}% | "
            f"{fmt(row['fp32_latency_ms'], 1)} | "
            f"{fmt(row['int8_latency_ms'], 1)} | "
            f"{'-' if speedup is None else f'x{speedup:.2f}'} |")
    return lines + ['']


def training_section(report: dict) -> List[str]:
    seg = report['training']['segmentation']
    cls = report['training']['classification']
    lines = ['## Training', '']
    if seg['loss']:
        deployed = report['comparison'][0]
        lines.append(f"Segmentation ({deployed['model']}, "
                     f"{deployed['init']}): loss "
                     f"{seg['loss'][0][1]:.3f} at "
                     f"iteration {seg['loss'][0][0]}, {seg['loss'][-1][1]:.3f}"
                     f" at iteration {seg['loss'][-1][0]}.")
    if seg['val_miou']:
        lines.append('Validation mIoU: ' + ', '.join(
            f'{v:.2f} at iteration {s}' for s, v in seg['val_miou']) + '.')
    if cls['val_top1']:
        lines.append('Classification pretraining, val top-1: ' + ', '.join(
            f'{v:.1f}% at epoch {s}' for s, v in cls['val_top1']) + '.')
    return lines + ['', '![training curves](training_curves.png)', '']


def per_class_section(report: dict) -> List[str]:
    columns = report['per_class_columns']
    lines = ['## Per-class IoU', '',
             '| class | ' + ' | '.join(columns) + ' |',
             '|---' * (len(columns) + 1) + '|']
    lines += ['| ' + ' | '.join([name] + [fmt(iou) for iou in ious]) + ' |'
              for name, *ious in report['per_class_iou']]
    return lines + ['']


def steps_section(report: dict) -> List[str]:
    seconds = report['step_seconds']
    side_by_side = set(report.get('side_by_side_steps', ()))
    known = [took for name, took in seconds.items()
             if took is not None and name not in side_by_side]
    lines = ['## Time per step', '',
             'Seconds each step took when it last ran (- : made before this '
             'work dir, e.g. the shared demo data). The steps marked "side '
             'by side" ran two at a time; the total counts their block\'s '
             'wall clock.', '',
             '| step | seconds |', '|---|---|']
    lines += [f'| {name}{" (side by side)" if name in side_by_side else ""} '
              f'| {fmt(took, 0)} |' for name, took in seconds.items()]
    return (lines + [f'| total | {sum(known):.0f} |', '']
            + machine_lines(report))


def machine_lines(report: dict) -> List[str]:
    """The trainings' share of the time and the machine's multiply-add
    rate: what to scale these step times by on another machine."""
    trainings = [report['step_seconds'].get(name)
                 for name in report.get('training_steps', ())]
    done = [took for took in trainings if took is not None]
    env = report['benchmark']['environment']
    lines = []
    if done:
        lines.append(f'The {len(done)} trainings took {sum(done):.0f} s in '
                     'all (side by side, each on one core: '
                     f'{sum(done) / 2:.0f} s of both cores).')
    if env.get('gemm_macs_per_s'):
        lines.append('This machine computes '
                     f"{env['gemm_macs_per_s'] / 1e9:.1f} G multiply-adds/s "
                     f"in a float32 GEMM on {env.get('threads', '?')} threads "
                     "(the benchmark's measure of its peak).")
    return [' '.join(lines), ''] if lines else []


def markdown(report: dict) -> str:
    deployed = report['comparison'][0]
    compared = ', '.join(f"{row['model']} ({row['init']})"
                         for row in report['comparison'][1:])
    quantized = ', '.join(row['model']
                          for row in report.get('quantization', []))
    lines = ['# repseg demo report', '',
             f"{deployed['model']} trained with multi-branch blocks on the "
             'built-in Cityscapes-format demo data, then fused into a plain '
             f'network, beside {compared or "no other model"} on the same '
             'schedule' + (f'; quantized to INT8: {quantized}' if quantized
                           else '') + '. Generated '
             f"{report['generated']} by `python tools/run_demo.py`.", '']
    if report['quick']:
        lines += ['**Quick run (`--quick`): the schedules are cut to a few '
                  'iterations; the figures only check the pipeline.**', '']
    lines += accuracy_section(report) + comparison_section(report)
    lines += equivalence_section(report)
    lines += benchmark_section(report) + training_section(report)
    lines += ['## Samples (val)', '',
              'Input, ground truth and the fused model\'s prediction '
              '(Cityscapes palette; ignored pixels black): '
              + ', '.join(report['samples']) + '.', '',
              '![samples](samples.png)', '']
    lines += inference_section(report)
    lines += quantization_section(report)
    lines += per_class_section(report)
    lines += steps_section(report)
    lines += ['## How it was made', '', '```bash']
    lines += report['commands'] + ['```', '']
    return '\n'.join(lines)


def summary(report: dict) -> str:
    """A few lines of the main figures, for the console."""
    acc = report['accuracy']
    lines = [f"mIoU fused {fmt(acc['fused']['mIoU'])}, multi-branch "
             f"{fmt(acc['multi_branch']['mIoU'])} "
             f"({'agree' if acc['agree'] else 'DISAGREE'})",
             f"fused vs trained max |diff| "
             f"{report['equivalence']['max_abs_diff']:.2e}"]
    for row in report['comparison']:
        timed = row['timed_by']
        lines.append(f"{row['model']} ({row['init']}): mIoU "
                     f"{fmt(row['metrics']['mIoU'])}, fastest {timed['mode']}"
                     f" {fmt(timed['latency_ms'], 1)} ms")
    if report['pretraining_gain'] is not None:
        lines.append(f"pretraining: {signed(report['pretraining_gain'])} "
                     'mIoU points (pretrained vs from scratch, the same '
                     'schedule)')
    deployed = report['comparison'][0]['model']
    for row in report['comparison'][1:]:
        lines.append(f"{row['model']} ({row['init']}) latency: "
                     f"{times(row['latency_ratio'])} {deployed}'s, "
                     f"multiply-adds: {times(row['multiply_adds_ratio'])}")
    for row in report['benchmark']['rows']:
        lines.append(f"{row['name']} ({row['mode']}): "
                     f"{fmt(row['latency_ms'], 1)} ms, "
                     f"{fmt(row['images_per_s'], 1)} images/s, "
                     f"x{row['speedup']:.2f}")
    for key, row in report.get('inference', {}).items():
        lines.append(f"tools/infer.py on the {key} ({row['backend']}): "
                     f"{fmt(row['median_latency_ms'], 1)} ms median, "
                     f"{fmt(row['fps'], 1)} FPS end to end")
    for row in report.get('quantization', []):
        lines.append(f"{row['model']} FP32 / INT8: mIoU "
                     f"{fmt(row['fp32_miou'])} / {fmt(row['int8_miou'])}, "
                     f"{fmt(row['fp32_latency_ms'], 1)} / "
                     f"{fmt(row['int8_latency_ms'], 1)} ms median")
    return '\n'.join(lines)
