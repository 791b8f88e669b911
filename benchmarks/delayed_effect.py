"""Does an edit's effect last? One-step against delayed improvement over the control.

From ``nasgym characterize --horizon H`` records (each application's improvement over the
control right after the step, ``improve.<o>``, and after h more steps of training both,
``improve@h.<o>``), it prints, per output and per operator variant (network targets reaching
the output):

- the mean improvement right after the step and after H more steps, and the paired Wilcoxon
  test of their difference (does the edit's effect grow, hold or fade?);
- the share of applications that beat the control right after the step and after H more;
- over all the output's applications, Spearman's rho between the two (1: the one-step target
  ranks the edits as the delayed one does; near 0: a one-step metamodel learns another order).

    python benchmarks/delayed_effect.py runs/characterize-mnist-h3

Prints the table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasgym.stats import paired_wilcoxon  # noqa: E402
from nasgym.training.metamodel import read_records  # noqa: E402


def horizons(records) -> list[int]:  # noqa: ANN001
    """The horizons the records hold (``improve@h`` columns)."""
    found = {
        int(c.split("@")[1].split(".")[0]) for c in records.columns if c.startswith("improve@")
    }
    return sorted(found)


def main(argv: list[str] | None = None) -> dict:
    """Compare; print the table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+", help="characterize folders or records files")
    parser.add_argument(
        "--horizon", type=int, default=None, help="h to compare (default: the largest)"
    )
    args = parser.parse_args(argv)
    records = read_records(args.data)
    have = horizons(records)
    if not have:
        raise SystemExit(
            "the records have no improve@h columns: run nasgym characterize --horizon H"
        )
    h = have[-1] if args.horizon is None else args.horizon
    if h not in have:
        raise SystemExit(f"no improve@{h} columns; the records have horizons {have}")
    nets = records[records["target_type"] == "network"]
    outputs = [c.split(".", 1)[1] for c in records.columns if c.startswith("improve.")]
    result: dict = {"horizon": h, "rows": int(len(nets)), "outputs": {}}
    print(
        f"{len(nets)} network applications, {nets['seed'].nunique()} models; after the step vs {h} steps later"
    )
    for o in outputs:
        on = nets[nets[f"target.relevance.{o}"].notna()]
        now, later = on[f"improve.{o}"].to_numpy(float), on[f"improve@{h}.{o}"].to_numpy(float)
        ok = np.isfinite(now) & np.isfinite(later)
        rho = stats.spearmanr(now[ok], later[ok]).statistic if ok.sum() > 2 else float("nan")
        rows = {}
        print(f"{o} ({ok.sum()} applications reaching it; Spearman now vs later {rho:+.2f}):")
        for name in sorted(on["variant_name"].unique()):
            pick = ok & (on["variant_name"].to_numpy() == name)
            if pick.sum() < 2:
                continue
            test = paired_wilcoxon(later[pick], now[pick])
            row = {
                "n": int(pick.sum()),
                "now": float(now[pick].mean()),
                "later": float(later[pick].mean()),
                "beats_now": float((now[pick] > 0).mean()),
                "beats_later": float((later[pick] > 0).mean()),
                "p": test["p"],
            }
            rows[name] = row
            p = "-" if row["p"] is None else f"{row['p']:.2g}"
            print(
                f"  {name:28s} n={row['n']:3d}  now {row['now']:+.3f} ({row['beats_now']:.0%} beat the "
                f"control)  later {row['later']:+.3f} ({row['beats_later']:.0%})  p = {p}"
            )
        result["outputs"][o] = {"spearman": float(rho), "variants": rows}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
