"""The README's quick start, run as written in a cut-down form.

Each command of its bash block runs as a user runs it, a process of its
own, in a folder laid out as the demo leaves the repository
(``configs/``, ``data/``, ``work_dirs/``), with
options appended that cut it down (later options win in argparse): two
training iterations, a tiny benchmark input, two calibration images, two
video frames. The demo itself (``tools/run_demo.py``) is left to
tests/test_run_demo.py. The Python snippet runs as written too.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import load_tool

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = 'configs/demo/pspnet_repvgg_a0_demo.py'
DEMO_CHECKPOINT = 'work_dirs/pspnet_repvgg_a0_demo/iter_300.pth'
DEMO_DEPLOY = 'work_dirs/demo/deploy'

#: Options appended to each tool's quick-start command.
CUT_DOWN = {
    'train': ['--cfg-options', 'train_cfg.max_iters=2',
              'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
              'model.backbone.init_cfg=None'],
    'analysis_tools/benchmark': ['--shape', '64', '128', '--repeat', '1',
                                 '--warmup', '0'],
    # The stand-in checkpoint is barely trained: its close logits need a
    # looser INT8 agreement than a trained model's 0.9.
    'quantize': ['--calib-images', '2', '--min-agreement', '0.5'],
    'infer': ['--max-frames', '2'],
}


def readme_quick_start():
    """The bash commands and the Python snippet of the README's quick
    start, continuation lines joined and comments dropped."""
    text = (REPO / 'README.md').read_text()
    section = text.split('## Quick start', 1)[1].split('\n## ', 1)[0]
    bash = re.search(r'```bash\n(.*?)```', section, re.S).group(1)
    commands = [line.strip() for line in bash.replace('\\\n', ' ').splitlines()
                if line.strip() and not line.strip().startswith('#')]
    python = re.search(r'```python\n(.*?)```', section, re.S).group(1)
    return commands, python


def tool_and_args(command):
    words = shlex.split(command)
    assert words[0] == 'python' and words[1].startswith('tools/'), command
    return words[1][len('tools/'):-len('.py')], words[2:]


@pytest.fixture(scope='module')
def demo_layout(tmp_path_factory, demo_cityscapes):
    """A folder laid out as after ``tools/run_demo.py``: the configs, the
    (tiny) demo data and street video, a checkpoint where the demo's
    training leaves one and the demo's deployed ONNX model."""
    from repseg.demo import make_demo_video
    from helpers import save_as_trained
    root = tmp_path_factory.mktemp('quickstart')
    (root / 'configs').symlink_to(REPO / 'configs')
    (root / 'data').mkdir()
    (root / 'data' / 'demo_cityscapes').symlink_to(demo_cityscapes)
    make_demo_video(root / 'data' / 'demo_street.mp4', size=(256, 128),
                    seconds=0.3)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        checkpoint = root / DEMO_CHECKPOINT
        checkpoint.parent.mkdir(parents=True)
        save_as_trained(DEMO_CONFIG, checkpoint)
        load_tool('deploy').main([DEMO_CONFIG, str(checkpoint), DEMO_DEPLOY,
                                  '--shape', '128', '256', '--onnx'])
    finally:
        os.chdir(cwd)
    return root


def test_the_quick_start_names_every_task():
    commands, _ = readme_quick_start()
    tools = [tool_and_args(c)[0] for c in commands]
    for tool in ('run_demo', 'train', 'test', 'deploy', 'infer',
                 'analysis_tools/benchmark', 'quantize'):
        assert tool in tools


def tool_commands():
    """The quick start's commands but the demo's, which
    tests/test_run_demo.py runs with --quick."""
    return [c for c in readme_quick_start()[0]
            if tool_and_args(c)[0] != 'run_demo']


@pytest.mark.parametrize('command', tool_commands())
def test_quick_start_command_runs(command, demo_layout):
    tool, args = tool_and_args(command)
    extra = list(CUT_DOWN.get(tool, []))
    if tool == 'infer' and not args[2].endswith('.mp4'):
        extra = []
    done = subprocess.run([sys.executable, str(REPO / 'tools' / f'{tool}.py')]
                          + args + extra, cwd=demo_layout,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = [a for a in args if a.startswith('work_dirs/my_')]
    for output in outputs:  # whatever the command names as its output
        assert (demo_layout / output).exists(), output
    for output in outputs:  # commands run twice must start afresh
        shutil.rmtree(demo_layout / output, ignore_errors=True)


def test_quick_start_python_snippet_runs(demo_layout, monkeypatch, capsys):
    _, snippet = readme_quick_start()
    monkeypatch.chdir(demo_layout)
    exec(compile(snippet, 'README.md', 'exec'), {})
    assert re.search(r'\(1, 128, 256\)|torch.Size\(\[1, 128, 256\]\)',
                     capsys.readouterr().out)
