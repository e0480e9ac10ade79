"""Writing outputs so that nothing is ever left half-written."""
import os
import shutil
from contextlib import contextmanager
from pathlib import Path


def _ignore_missing(function, path, exc_info) -> None:
    if not issubclass(exc_info[0], FileNotFoundError):
        raise exc_info[1]


def _remove(path: Path) -> None:
    """Remove a file or folder, if there; what another process removes at
    the same time is no error."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, onerror=_ignore_missing)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def temporary_sibling(path, shared: bool = False) -> Path:
    """The name ``atomic_output(path, shared)`` writes ``path`` under: a
    hidden sibling keeping the ending, for writers that choose the format by
    it (``cv2.imwrite``, ``cv2.VideoWriter``). Per process, or with
    ``shared`` one name for all the processes of a distributed run."""
    path = Path(path)
    tag = 'partial' if shared else f'tmp{os.getpid()}'
    return path.with_name(f'.{path.stem}.{tag}{path.suffix}')


def _is_main_process() -> bool:
    from mmengine.dist import is_main_process
    return is_main_process()


def _replace(tmp: Path, path: Path) -> None:
    if tmp.is_dir() and path.is_dir():
        # os.replace cannot overwrite a non-empty folder: swap it aside.
        old = path.with_name(f'.{path.name}.old{os.getpid()}')
        os.replace(path, old)
        os.replace(tmp, path)
        _remove(old)
    else:
        os.replace(tmp, path)


@contextmanager
def atomic_output(path, shared: bool = False):
    """Yield a temporary sibling of ``path`` to write (a file or a folder);
    it replaces ``path`` only when the block finishes without error, and is
    removed otherwise. A rename within a folder is atomic on POSIX, so
    readers see the old output or the new one, never a partial one.

    With ``shared``, every process of a distributed run gets the same
    temporary name (``temporary_sibling``) to write into, and only the main
    one replaces ``path`` or removes the temporary: the other processes
    leave it alone on exit. What a failed earlier run left there is removed
    on entry, so every process must enter before any of them writes (before
    the processes first synchronize)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path, shared)
    _remove(tmp)
    try:
        yield tmp
        if not shared or _is_main_process():
            _replace(tmp, path)
    finally:
        if not shared or _is_main_process():
            _remove(tmp)
