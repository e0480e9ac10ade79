"""ImageNet-style classification datasets: class folders or a file list."""
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset
from mmengine.fileio import (exists, get_text, isdir, join_path,
                             list_dir_or_file)
from mmseg.registry import DATASETS

from ..errors import RepSegError

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


class DatasetLayoutError(RepSegError, ValueError):
    """A dataset folder or annotation file is missing or malformed."""


def is_image_file(path: str) -> bool:
    """True for the image suffixes OpenCV reads (case-insensitive:
    ImageNet's own files end in ``.JPEG``)."""
    return path.lower().endswith(IMG_EXTENSIONS)


@DATASETS.register_module()
class ImageNetDataset(BaseDataset):
    """ImageNet-style classification dataset, in one of two layouts.

    - Folder layout (``ann_file=''``): ``<img_path>/<class>/<image>``; the
      classes are the sorted folder names (or ``metainfo['classes']``, which
      must then name every folder), labels their indices.
    - List layout: ``ann_file`` holds one ``<relative/path> <label>`` line
      per image, paths relative to ``<img_path>``, e.g. ImageNet's flat
      ``val/`` folder with ``meta/val.txt``. The classes are
      ``metainfo['classes']`` (a list, or a text file with one name a line,
      its path as given: relative to the working directory), or the label
      numbers ``'0'``, ``'1'``, ... up to the largest label.

    Every item is ``dict(img_path=..., gt_label=int)``; ``metainfo['classes']``
    lists the class names in label order.

    Args:
        data_root (str): Root joined to ``ann_file`` and ``data_prefix``.
        data_prefix (dict): ``dict(img_path='train')``: the image folder,
            relative to ``data_root``.
        ann_file (str): The ``path label`` list; '' for the folder layout.
            Defaults to ''.
        metainfo (dict, optional): ``dict(classes=...)`` to fix the class
            names and order. Defaults to None.
        pipeline (list[dict | callable]): Transforms applied to each item.
        test_mode (bool): Raise instead of re-sampling when the pipeline
            returns None. Defaults to False.
        backend_args (dict, optional): mmengine file backend arguments.
        **kwargs: Other ``mmengine.dataset.BaseDataset`` arguments
            (``indices``, ``lazy_init``, ``serialize_data``, ...).
    """

    def __init__(self,
                 data_root: str = '',
                 data_prefix: dict = dict(img_path=''),
                 ann_file: str = '',
                 metainfo: Optional[dict] = None,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 backend_args: Optional[dict] = None,
                 **kwargs):
        self.backend_args = backend_args
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=list(pipeline),
            test_mode=test_mode,
            **kwargs)

    @property
    def img_dir(self) -> str:
        return self.data_prefix.get('img_path', '') or self.data_root

    def load_data_list(self) -> List[dict]:
        if not isdir(self.img_dir, backend_args=self.backend_args):
            raise DatasetLayoutError(
                f'ImageNetDataset: image folder {self.img_dir!r} does not '
                'exist (data_root + data_prefix.img_path)')
        if self.ann_file:
            return self._load_list_layout()
        return self._load_folder_layout()

    def _given_classes(self) -> Optional[Sequence[str]]:
        """``metainfo['classes']``, None when not given. mmengine reads a
        string as a file of names, and keeps the string itself (its
        characters would become the classes) when there is no such file."""
        classes = self._metainfo.get('classes')
        if isinstance(classes, str):
            raise DatasetLayoutError(
                f'ImageNetDataset: metainfo classes file {classes!r} does not '
                'exist')
        return classes or None

    def _set_classes(self, classes: Sequence[str]) -> None:
        self._metainfo['classes'] = tuple(classes)

    def _load_folder_layout(self) -> List[dict]:
        folders = sorted(list_dir_or_file(
            self.img_dir, list_file=False, backend_args=self.backend_args))
        if not folders:
            raise DatasetLayoutError(
                f'ImageNetDataset: {self.img_dir!r} has no class folders '
                '(expected <img_path>/<class>/<image>; for a flat folder '
                'give ann_file)')
        classes = self._given_classes() or folders
        unknown = sorted(set(folders) - set(classes))
        if unknown:
            raise DatasetLayoutError(
                f'ImageNetDataset: folders {unknown[:5]} in {self.img_dir!r} '
                'are not in metainfo classes')
        label_of = {name: label for label, name in enumerate(classes)}
        data_list = []
        for folder in folders:
            class_dir = join_path(self.img_dir, folder)
            images = sorted(
                f for f in list_dir_or_file(
                    class_dir, list_dir=False, recursive=True,
                    backend_args=self.backend_args) if is_image_file(f))
            if not images:
                raise DatasetLayoutError(
                    f'ImageNetDataset: class folder {class_dir!r} holds no '
                    f'images (suffixes {", ".join(IMG_EXTENSIONS)})')
            data_list += [dict(img_path=join_path(class_dir, image),
                               gt_label=label_of[folder]) for image in images]
        self._set_classes(classes)
        return data_list

    def _parse_line(self, line: str, number: int) -> dict:
        # rsplit: the label is the last field; the path may contain spaces.
        fields = line.rsplit(maxsplit=1)
        if len(fields) != 2 or not fields[1].lstrip('-').isdigit():
            raise DatasetLayoutError(
                f'ImageNetDataset: {self.ann_file}:{number}: expected '
                f'"<relative/path> <label>", got {line!r}')
        return dict(img_path=join_path(self.img_dir, fields[0]),
                    gt_label=int(fields[1]), line=number)

    def _load_list_layout(self) -> List[dict]:
        if not exists(self.ann_file, backend_args=self.backend_args):
            raise DatasetLayoutError(
                f'ImageNetDataset: ann_file {self.ann_file!r} does not exist')
        lines = get_text(self.ann_file,
                         backend_args=self.backend_args).splitlines()
        data_list = [self._parse_line(line, number)
                     for number, line in enumerate(lines, 1) if line.strip()]
        if not data_list:
            raise DatasetLayoutError(
                f'ImageNetDataset: ann_file {self.ann_file!r} lists no images')
        classes = self._given_classes() or [
            str(i) for i in range(max(d['gt_label'] for d in data_list) + 1)]
        for item in data_list:
            if not 0 <= item['gt_label'] < len(classes):
                raise DatasetLayoutError(
                    f'ImageNetDataset: {self.ann_file}:{item["line"]}: label '
                    f'{item["gt_label"]} outside 0..{len(classes) - 1} '
                    f'({len(classes)} classes)')
            del item['line']
        self._set_classes(classes)
        return data_list
