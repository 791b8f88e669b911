"""Published NAS-Bench-201 search results to compare against (Dong & Yang, ICLR 2020, Table 5).

Test accuracy in % of the cell each search chose, 200-epoch schedule, mean and std over
:data:`NB201_PUBLISHED_RUNS` runs, under the protocol of ``nasgym/NB201-v0`` (12-epoch
validation signal, 12,000 s simulated budget). Source and conventions:
``../shared/data/nb201/BASELINES.md``.
"""

from __future__ import annotations

#: agent -> data set -> (mean, std) of the chosen cell's 200-epoch test accuracy (%)
NB201_PUBLISHED: dict[str, dict[str, tuple[float, float]]] = {
    "random": {
        "cifar10": (93.70, 0.36),
        "cifar100": (71.04, 1.07),
        "ImageNet16-120": (44.57, 1.25),
    },
    "reinforce": {
        "cifar10": (93.85, 0.37),
        "cifar100": (71.71, 1.09),
        "ImageNet16-120": (45.24, 1.18),
    },
    "rea": {"cifar10": (93.92, 0.30), "cifar100": (71.84, 0.99), "ImageNet16-120": (45.54, 1.03)},
}

#: runs behind each published row
NB201_PUBLISHED_RUNS = 500
