"""What every exporter shares."""
from ..errors import RepSegError


class ExportError(RepSegError, RuntimeError):
    """An exporter that failed on a model; the message says why."""


def fp32_only(export: str, fp16: bool) -> None:
    """``ExportError`` for ``fp16`` weights in an export that keeps fp32."""
    if fp16:
        raise ExportError('fp16 weights are for engines that store them '
                          f'(ncnn); the {export} export stays fp32')
