"""What every exporter shares."""


class ExportError(RuntimeError):
    """An exporter that failed on a model; the message says why."""
