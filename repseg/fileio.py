"""Writing outputs so that nothing is ever left half-written."""
import os
import shutil
from contextlib import contextmanager
from pathlib import Path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextmanager
def atomic_output(path):
    """Yield a temporary sibling of ``path`` to write (a file or a folder);
    it replaces ``path`` only when the block finishes without error, and is
    removed otherwise. A rename within a folder is atomic on POSIX, so
    readers see the old output or the new one, never a partial one. The
    temporary name keeps the ending, for writers that choose the format by
    it (``cv2.imwrite``, ``cv2.VideoWriter``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.stem}.tmp{os.getpid()}{path.suffix}')
    _remove(tmp)
    try:
        yield tmp
        if tmp.is_dir() and path.is_dir():
            # os.replace cannot overwrite a non-empty folder: swap it aside.
            old = path.with_name(f'.{path.name}.old{os.getpid()}')
            os.replace(path, old)
            os.replace(tmp, path)
            _remove(old)
        else:
            os.replace(tmp, path)
    finally:
        _remove(tmp)
