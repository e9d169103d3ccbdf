"""Restoring photos: luminance -> denoise -> colorize at render size -> full-resolution merge.

Rooms, in the order a photo passes through them:
- :mod:`~revive.restore.options`: the options of a restore, shared by every command;
- :mod:`~revive.restore.files`: the files and folders of a run, their outputs and the summary;
- :mod:`~revive.restore.photo`: one photo file read (its luminance, its "before"), for predict
  and the web page alike;
- :mod:`~revive.restore.restorer`: the loaded networks, one photo from luminance to color;
- :mod:`~revive.restore.tiling` and :mod:`~revive.restore.forward`: denoising in tiles, in fp32
  or bf16;
- :mod:`~revive.restore.canvas`: the colorizer's square canvas and the chroma merge;
- :mod:`~revive.restore.cli`: ``predict.py`` (``revive-predict``).
"""

from revive.errors import SetupError
from revive.restore.files import RestoreSummary, restore_config, restore_paths
from revive.restore.options import RestoreOptions
from revive.restore.restorer import Restorer, load_restorer

__all__ = [
    "RestoreOptions",
    "RestoreSummary",
    "Restorer",
    "SetupError",
    "load_restorer",
    "restore_config",
    "restore_paths",
]
