"""Reporting one search run: its incumbent, its best-reward model and its Pareto front."""

from __future__ import annotations

from typing import Any

import numpy as np

from nasgym import indicators as ind
from nasgym.bench.records import agent_label


def best_of(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The best model of a run: its incumbent (``best_*`` info of the last step), the step of
    highest reward, and the steps on the Pareto front of the objectives (distinct points).

    A step whose ``info["in_budget"]`` is False (NB201's evaluation that would overrun the time
    budget: not performed, not charged) counts in none of them; ``over_budget`` counts those.
    """
    every = [r for r in records if r["type"] == "step"]
    steps = [r for r in every if (r.get("info") or {}).get("in_budget", True) is not False]
    over = len(every) - len(steps)
    if not every:
        return {"steps": 0, "over_budget": 0, "incumbent": {}, "best_reward": None, "front": []}
    last = every[-1].get("info") or {}
    incumbent = {k: v for k, v in last.items() if k.startswith("best")}
    rewards = [r["reward"] if r["reward"] is not None else -np.inf for r in steps]
    best = steps[int(np.argmax(rewards))] if steps else None
    names = list(steps[0].get("objectives") or {}) if steps else []
    front: list[dict[str, Any]] = []
    if names:
        pts = np.array([[_num(r["objectives"].get(n)) for n in names] for r in steps])
        ok = np.all(np.isfinite(pts), axis=1)
        mask = np.zeros(len(steps), dtype=bool)
        mask[ok] = ind.nondominated_mask(pts[ok])
        seen: set[tuple[float, ...]] = set()
        for r, p, m in zip(steps, pts, mask, strict=True):
            if m and tuple(p) not in seen:
                seen.add(tuple(p))
                front.append(r)
        front.sort(key=lambda r: r["objectives"][names[0]])
    return {
        "steps": len(steps),
        "over_budget": over,
        "incumbent": incumbent,
        "best_reward": best,
        "front": front,
    }


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _fmt(value: Any) -> str:
    """A printed value: floats at 6 significant figures (no ``6.549999999999997``)."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _objectives(objectives: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in objectives.items()) + "}"


def _model(rec: dict[str, Any]) -> str:
    info = rec.get("info") or {}
    return str(info.get("arch") or info.get("model") or rec.get("action"))


def print_search_result(records: list[dict[str, Any]]) -> None:
    """Print the best model and the Pareto front found by one run."""
    res = best_of(records)
    head = records[0] if records else {}
    agent = agent_label(str(head.get("agent")), head.get("agent_kwargs") or {})
    over = f" (+{res['over_budget']} over the budget, not evaluated)" if res["over_budget"] else ""
    print(f"{head.get('env')} / {agent} / seed {head.get('seed')}: {res['steps']} steps{over}")
    if res["incumbent"]:
        print("incumbent (the env's choice):")
        for k, v in res["incumbent"].items():
            print(f"  {k}: {_fmt(v)}")
    best = res["best_reward"]
    if best is not None:
        print(f"highest reward {best['reward']:.6g} at step {best['step']}: {_model(best)}")
        print(f"  objectives: {_objectives(best['objectives'])}")
    if res["front"]:
        names = list(res["front"][0]["objectives"])
        print(
            f"Pareto front found ({len(res['front'])} models; {', '.join(names)}; lower is better):"
        )
        for r in res["front"]:
            vals = ", ".join(_fmt(r["objectives"][n]) for n in names)
            print(f"  step {r['step']:>5}: ({vals})  {_model(r)}")
