"""Agent names given on a command line resolve to the labels the stored runs carry."""

import pytest

from nasgym.bench.results import Run, match_labels


def _run(agent: str, **kwargs) -> Run:
    return Run("nasgym/VALP-v0", {}, agent, seed=0, agent_kwargs=kwargs)


RUNS = [
    _run("random"),
    _run("rules", thresholds="t.json"),
    _run("rea", population=10),
    _run("rea", population=20),
]


def test_a_bare_name_resolves_to_its_only_label():
    assert match_labels(["random", "rules"], RUNS) == ["random", 'rules(thresholds="t.json")']


def test_a_full_label_stands_as_it_is():
    assert match_labels(["rea(population=20)"], RUNS) == ["rea(population=20)"]


def test_an_ambiguous_or_unknown_name_is_refused_with_the_labels_named():
    with pytest.raises(ValueError, match="several agent labels.*rea\\(population=10\\)"):
        match_labels(["rea"], RUNS)
    with pytest.raises(ValueError, match="'rando' matches no agent label"):
        match_labels(["rando"], RUNS)
