"""Agent names given on a command line resolve to the labels the stored runs carry."""

import pytest

from nasgym.bench.results import Run, match_labels, split_labels


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


def test_a_comma_list_keeps_a_label_whose_kwargs_hold_commas_whole():
    """The labels of an agent with two kwargs, as a pre-registered comparison names them."""
    both = _run("rules", mend=2.0, thresholds="t,1.json")
    text = f"random,{both.agent_label}, rea(population=20)"
    assert split_labels(text) == ["random", both.agent_label, "rea(population=20)"]
    assert match_labels(split_labels(text), [*RUNS, both])[1] == both.agent_label
    assert split_labels("") == [] and split_labels("random,,rules") == ["random", "rules"]


@pytest.mark.parametrize("text", ["rules(mend=2.0", "rules)", 'rules(t="a)'])
def test_an_unbalanced_label_list_is_refused(text):
    with pytest.raises(ValueError, match="in agent labels"):
        split_labels(text)
