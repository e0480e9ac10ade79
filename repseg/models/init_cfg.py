"""Reading a module's ``init_cfg``: one dict or mmengine's list of them."""
from typing import Optional


def pretrained_init(init_cfg) -> Optional[dict]:
    """The ``type='Pretrained'`` entry of ``init_cfg`` (one dict, a list of
    them, or None), i.e. what loads a checkpoint; None when none does."""
    init_cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    for entry in init_cfgs:
        if isinstance(entry, dict) and entry.get('type') == 'Pretrained':
            return entry
    return None
