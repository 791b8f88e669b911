"""Optional download of MNIST / Fashion-MNIST through torchvision (extra ``nasgym[vision]``).

This is the only module of nasgym that touches torchvision, and only inside the function.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DOWNLOADABLE", "download_mnist"]

#: nasgym name -> torchvision data set class name (also its folder under ``root``)
_TORCHVISION_NAMES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
#: names :func:`download_mnist` can fetch
DOWNLOADABLE: tuple[str, ...] = tuple(_TORCHVISION_NAMES)


def download_mnist(root: str | os.PathLike[str], name: str = "mnist") -> Path:
    """Fetch ``name`` ("mnist" or "fashion-mnist") into ``root/<Name>/raw/`` with torchvision.

    Returns that folder. Afterwards ``load_dataset(name, data_dir=root)`` finds the files.
    Needs torchvision: ``pip install nasgym[vision]``.
    """
    if name not in _TORCHVISION_NAMES:
        raise ValueError(
            f"download_mnist can fetch {sorted(_TORCHVISION_NAMES)}, got {name!r}; "
            "other data sets: put their IDX files in the data directory yourself"
        )
    try:
        import torchvision.datasets as tvd
    except ImportError as err:
        raise ImportError(
            "download_mnist needs torchvision: pip install nasgym[vision] "
            "(or place the four IDX .gz files under <dir>/mnist/ yourself)"
        ) from err
    root = Path(root).expanduser().resolve()
    cls = getattr(tvd, _TORCHVISION_NAMES[name])
    cls(str(root), train=True, download=True)
    cls(str(root), train=False, download=True)
    return root / _TORCHVISION_NAMES[name] / "raw"
