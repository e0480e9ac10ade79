"""Post-training INT8: a trained model deployed to an engine, calibrated on
images through the config's own test pipeline, and quantized
(``deploy`` with ``precisions=('fp32', 'int8')``), with the report of
``tools/quantize.py``."""
import os.path as osp
from typing import Optional, Sequence

from ..engines import ENGINES
from ..fileio import atomic_output
from ..results import QuantizeReport
from .deploy import DeployError, check_key, deploy

#: Each engine that has a quantizer (``Engine.quantizer``): its INT8 file
#: in the output folder.
INT8_FILES = {name: 'deploy' + engine.int8_suffix
              for name, engine in ENGINES.items() if engine.quantizer}


def quantize(config, checkpoint: str, out_dir: str,
             calib_images: int = 32, calib_dir: Optional[str] = None,
             backend: str = 'onnxruntime',
             shape: Optional[Sequence[int]] = None,
             min_agreement: Optional[float] = None) -> QuantizeReport:
    """Write ``out_dir`` with what ``deploy`` writes for ``backend`` in fp32
    and INT8 (``INT8_FILES``), each checked against the trained model, and
    ``quantize.json`` (the returned report).

    Calibration runs ``calib_images`` images (``repseg.apis.calibration``)
    through the config's test pipeline; the engine's model is exported at
    the size that gives (``shape``, H W, must agree). The INT8 file is held
    to ``repseg.equivalence.BOUNDS['int8']`` on the calibration images
    (``min_agreement`` replacing its agreement). Nothing is written if any
    step fails.
    """
    if backend not in INT8_FILES:
        raise DeployError(f'no INT8 quantizer for backend {backend!r}; '
                          f'choose from {sorted(INT8_FILES)}')
    with atomic_output(out_dir) as tmp:
        deployed = deploy(config, checkpoint, tmp, shape, [backend],
                          precisions=('fp32', 'int8'),
                          calib_images=calib_images, calib_dir=calib_dir,
                          min_agreement=min_agreement)
        fp32 = deployed.engines[backend]
        int8 = deployed.engines[check_key(backend, 'int8')]
        report = QuantizeReport(
            backend=backend, fp32_file=fp32.file, int8_file=int8.file,
            input_shape=list(deployed.input_shape),
            calibration_images=int8.options['calibration_images'],
            calibration_source=osp.abspath(calib_dir) if calib_dir else
            'the config\'s training set',
            settings=int8.options['quantizer'],
            fp32_max_rel_diff=fp32.max_rel_diff,
            int8_max_rel_diff=int8.max_rel_diff,
            int8_agreement=int8.argmax_agreement)
        report.dump(tmp / 'quantize.json')
    return report
