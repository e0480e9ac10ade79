#!/usr/bin/env bash
# Install repseg and its stack into the current Python environment.
# Idempotent: what is already installed is kept, so a second run takes
# seconds. The slow part, building mmcv with its compiled ops (about 12
# minutes on 2 cores), happens once; pip's wheel cache keeps the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
pip_install() { "$PYTHON" -m pip install --disable-pip-version-check -q "$@"; }

# A bare `torch` would pull a multi-GB CUDA build; 2.13.0 is the CPU wheel
# these machines carry. Any torch >= 2.1 already installed is kept.
if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
    pip_install torch==2.13.0
fi
# mmcv's setup.py and mmengine need pkg_resources (setuptools < 82).
pip_install 'setuptools>=77,<82' wheel ninja 'numpy<2.4' mmengine==0.10.7
# mmsegmentation imports the compiled mmcv.ops: mmcv-lite is not enough.
if ! "$PYTHON" -c 'import mmcv.ops' 2>/dev/null; then
    echo 'install.sh: building mmcv 2.1.0 with ops (once, ~12 min on 2 cores)'
    MMCV_WITH_OPS=1 pip_install --no-build-isolation mmcv==2.1.0
fi
pip_install --no-build-isolation -e '.[tests,onnx,deploy,demo]'
"$PYTHON" -c 'import repseg, mmseg, mmcv.ops; print("install.sh: repseg", repseg.__version__, "ready")'
