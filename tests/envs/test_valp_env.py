"""nasgym/VALP-v0: checkers, masks, determinism, pickling, divergence, vectorised and RL smoke."""

from __future__ import annotations

import copy
import math
import pickle

import gymnasium as gym
import numpy as np
import pytest
import torch

import nasgym
from nasgym.envs.valp import VALPEnv
from nasgym.envs.valp_actions import ActionTable
from nasgym.envs.valp_mask import Padding, plan_actions, slot_of
from nasgym.valp.operators import OPERATORS, register_operator
from nasgym.valp.operators.hyper import ChangeLR
from nasgym.valp.subgraphs import outputs_reached

#: tiny budgets: a step trains 3 batches and diagnoses 48 validation rows
TINY = {
    "initial_batches": 5,
    "step_batches": 3,
    "max_steps": 6,
    "eval_samples": 48,
    "diagnostics": {"samples": 48},
}
VALP_IDS = [env_id for env_id in nasgym.env_ids() if "/VALP-" in env_id]


def _env(**kwargs: object) -> VALPEnv:
    return VALPEnv(**{**TINY, **kwargs})


def _valid(env: VALPEnv) -> np.ndarray:
    return np.flatnonzero(env.action_masks())


def test_a_valp_env_is_registered() -> None:
    assert "nasgym/VALP-v0" in VALP_IDS


@pytest.mark.parametrize("env_id", VALP_IDS)
def test_gymnasium_and_sb3_checkers(env_id: str) -> None:
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    # the checkers step random (possibly masked-out) actions: penalise them instead of raising
    digits = {"dataset": "digits", "batch_size": 32} if "Paper" in env_id else {}
    env = gym.make(env_id, invalid_action="penalize", **TINY, **digits)
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped, warn=True)


def _check_mask(env: VALPEnv, rng: np.random.Generator, exhaustive: bool) -> None:
    """Masked-in actions step (from copies of the env); a sample of masked-out ones raise."""
    mask = env.action_masks()
    assert np.array_equal(env._observation()["action_mask"].astype(bool), mask)
    valid = np.flatnonzero(mask)
    if not exhaustive:  # one random valid action per operator variant
        by_variant: dict[int, list[int]] = {}
        for a in valid:
            by_variant.setdefault(env.action_table.decode(a)[0], []).append(int(a))
        valid = [int(rng.choice(v)) for v in by_variant.values()]
    for action in valid:
        copy.deepcopy(env).step(int(action))
    invalid = np.flatnonzero(~mask)
    key, steps = env._model.valp.key, env._steps
    for action in rng.choice(invalid, size=min(12, len(invalid)), replace=False):
        with pytest.raises(ValueError, match="not valid"):
            env.step(int(action))
    assert (env._model.valp.key, env._steps) == (key, steps)  # a refused action changes nothing


def test_mask_equals_the_actions_step_accepts() -> None:
    env = _env(acceptance="always")
    rng = np.random.default_rng(0)
    for seed in (0, 1):
        env.reset(seed=seed)
        _check_mask(env, rng, exhaustive=False)
        env.step(int(rng.choice(_valid(env))))
        _check_mask(env, rng, exhaustive=False)


@pytest.mark.slow
def test_mask_equals_the_actions_step_accepts_exhaustively() -> None:
    env = _env(acceptance="always")
    rng = np.random.default_rng(1)
    for seed in (2, 3):
        env.reset(seed=seed)
        for _ in range(2):
            _check_mask(env, rng, exhaustive=True)
            env.step(int(rng.choice(_valid(env))))


def _reference_plan(valp, table, operators, padding, donor):  # noqa: ANN001, ANN202
    """The slow definition of the mask: build every edit, check it rule by rule and against the
    padding (every structural operator), keep the targets with a surviving choice."""
    from nasgym.valp._validation import rule_by_rule

    found = {}
    for name, op in operators.items():
        sized = op.scope != "hyperparameter"
        d = donor.valp if op.needs_donor else None
        for target in op.candidates(valp):
            if name == "change_lr":  # decides its choices itself: [None] on every output
                kept = op.choices(valp, target)
            else:
                kept = []
                for c in op.raw_choices(valp, target, d):
                    try:
                        edited = op.edit(valp, target, c, d)
                    except ValueError:
                        continue
                    if not rule_by_rule(edited) and (not sized or padding.fits(edited)):
                        kept.append(c)
            if kept:
                found[name, target] = tuple(kept)
    mask = np.zeros(table.n_actions, dtype=bool)
    moves = {}
    for v, (name, variant) in enumerate(table.pairs):
        for (op_name, target), kept in found.items():
            if op_name == name:
                action = table.encode(v, slot_of(valp, table, target))
                mask[action] = True
                moves[action] = (name, variant, target, kept)
    return mask, moves


def test_fast_plan_equals_the_slow_definition_of_the_mask() -> None:
    from types import SimpleNamespace

    from nasgym.tasks import make_task
    from nasgym.valp import build_model, random_valp
    from nasgym.valp.operators import make_operator, operator_names, operator_variants

    task = make_task("image-multitask", SimpleNamespace(name="f", image_shape=(8, 8), n_classes=10))
    operators = {name: make_operator(name) for name in operator_names()}
    rng = np.random.default_rng(11)
    donor = build_model(random_valp(task, rng))
    compared = 0
    for limits in [(8, 24, 4), (5, 12, 2), (6, 9, 3), (3, 30, 1), (8, 24, 4, 48), (6, 12, 3, 70)]:
        padding = Padding(*limits)
        table = ActionTable(
            tuple(operator_variants()),
            tuple(operators[n].effect for n, _ in operator_variants()),
            padding.max_networks,
            tuple(task.output_names),
        )
        for _ in range(12):
            n_nets = int(rng.integers(3, min(6, padding.max_networks) + 1))
            deep = min(2, padding.max_layers) + int(rng.random() < 0.3)  # some exceed the padding
            valp = random_valp(task, rng, max_layers=deep, n_networks=n_nets)
            for _ in range(int(rng.integers(0, 6))):  # grow it (the slots hold every network)
                room = len(valp.networks) < padding.max_networks
                op = operators["clone_network" if room and rng.random() < 0.5 else "add_connection"]
                targets = op.targets(valp)
                if targets:
                    t = targets[int(rng.integers(len(targets)))]
                    valp = op.edit(valp, t, op.choices(valp, t)[0])
            mask, moves = plan_actions(valp, table, operators, padding, lambda o: donor)
            ref_mask, ref_moves = _reference_plan(valp, table, operators, padding, donor)
            assert np.array_equal(mask, ref_mask)
            got = {a: (m.operator, m.variant, m.target, m.choices) for a, m in moves.items()}
            assert got == ref_moves
            compared += padding.fits(valp)
    assert compared > 20  # most models fit the padding, so the fast answers were used


def test_invalid_action_raises_or_is_penalised() -> None:
    env = _env()
    env.reset(seed=0)
    bad = int(np.flatnonzero(~env.action_masks())[0])
    with pytest.raises(ValueError, match="action_masks"):
        env.step(bad)
    with pytest.raises(ValueError, match="out of range"):
        env.step(env.action_space.n)
    soft = _env(invalid_action="penalize")
    soft.reset(seed=0)
    key = soft._model.valp.key
    _, reward, _, _, info = soft.step(bad)
    assert info["invalid"] and not info["accepted"] and reward == -soft.reward_clip
    assert soft._model.valp.key == key


def _rollout(env: VALPEnv, seed: int, steps: int) -> list[tuple]:
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    out = [(info["descriptor"], info["objectives"])]
    for _ in range(steps):
        obs, reward, _, _, info = env.step(int(rng.choice(_valid(env))))
        out.append(
            (
                info["descriptor"],
                info["objectives"],
                reward,
                info["accepted"],
                {k: v.tolist() for k, v in obs.items()},
            )
        )
    return out


def test_same_seed_same_trajectory() -> None:
    a, b = _rollout(_env(), 3, 3), _rollout(_env(), 3, 3)
    assert a == b
    assert _rollout(_env(), 4, 0) != a[:1]


def test_pickle_round_trip_continues_identically() -> None:
    env = _env()
    env.reset(seed=5)
    env.step(int(_valid(env)[0]))
    clone = pickle.loads(pickle.dumps(env))
    action = int(_valid(env)[-1])
    assert np.array_equal(clone.action_masks(), env.action_masks())
    _, r1, _, _, i1 = env.step(action)
    _, r2, _, _, i2 = clone.step(action)
    assert (r1, i1["descriptor"], i1["objectives"]) == (r2, i2["descriptor"], i2["objectives"])


def test_info_and_episode_end() -> None:
    env = _env(max_steps=2, acceptance="always")
    _, info = env.reset(seed=0)
    assert set(info["objectives"]) == set(VALPEnv.objective_spec) == {"class", "hist", "sample"}
    assert info["cost"] == TINY["initial_batches"]
    _, _, terminated, truncated, info = env.step(int(_valid(env)[0]))
    assert not terminated and not truncated
    assert info["cost"] == TINY["initial_batches"] + TINY["step_batches"]
    assert info["operator"] in env.action_table.variants and info["target"]
    assert info["accepted"] and info["current_descriptor"] == info["descriptor"]
    _, _, terminated, truncated, _ = env.step(int(_valid(env)[0]))
    assert truncated and not terminated


def test_observation_carries_absolute_and_relative_loss_slopes() -> None:
    env = _env()
    obs, _ = env.reset(seed=0)
    relative = [env._diagnosis.relative_slopes[name] for name in env.output_names]
    np.testing.assert_allclose(obs["loss_slope_relative"], relative, rtol=1e-6)
    assert np.array_equal(np.sign(obs["loss_slope_relative"]), np.sign(obs["loss_slope"]))
    assert np.all(obs["loss_slope"] != 0.0)


def test_paper_acceptance_reverts_worse_candidates() -> None:
    env = _env(max_steps=8)
    env.reset(seed=2)
    rng = np.random.default_rng(2)
    for _ in range(6):
        current = dict(env._objectives)
        _, _, _, _, info = env.step(int(rng.choice(_valid(env))))
        better = sum(info["objectives"][k] < current[k] for k in current)
        assert info["accepted"] == (better >= 2 and not info["diverged"])
        assert info["current_objectives"] == (info["objectives"] if info["accepted"] else current)


class _ExplodeLR(ChangeLR):
    """Push every output's learning rate to 1e12 with plain SGD (training must diverge)."""

    def _edit(self, valp):  # noqa: ANN001, ANN202
        from nasgym.valp.descriptor import OutputHParams

        return valp.with_hparams({s.name: OutputHParams(1e12, "sgd") for s in valp.task_outputs})

    def apply(self, model, target, rng, *, variant=None, choice=None, donor=None):  # noqa: ANN001, ANN201
        from nasgym.valp.operators._weights import same_weights

        return same_weights(model, self._edit(model.valp).validate())


@pytest.fixture
def explode_lr():  # noqa: ANN201
    register_operator("explode_lr", _ExplodeLR)
    yield "explode_lr"
    OPERATORS.unregister("explode_lr")


def test_learning_rate_pushed_to_divergence_is_reported_and_penalised(explode_lr: str) -> None:
    env = _env(operators=[explode_lr, "change_lr"], step_batches=10)
    env.reset(seed=0)
    key = env._model.valp.key
    action = env.action_table.encode(explode_lr, env.action_table.output_slot("class"))
    obs, reward, _, _, info = env.step(action)
    assert info["diverged"] and not info["accepted"]
    assert reward == -env.reward_clip
    assert any(math.isinf(v) for v in info["objectives"].values())
    assert env._model.valp.key == key  # the diverged candidate was not kept
    assert env.observation_space.contains(obs)
    env.step(int(_valid(env)[0]))  # the episode goes on


def test_hypervolume_reward_grows_with_new_points() -> None:
    env = _env(reward="hypervolume", acceptance="always")
    env.reset(seed=0)
    rewards = [env.step(int(_valid(env)[0]))[1] for _ in range(3)]
    assert all(0.0 <= r <= 1.0 for r in rewards)


def test_start_from_a_given_model_and_bad_arguments() -> None:
    env = _env()
    _, info = env.reset(seed=0)
    _, again = env.reset(seed=1, options={"valp": info["descriptor"]})
    assert again["descriptor"] == info["descriptor"]
    with pytest.raises(ValueError, match="acceptance"):
        _env(acceptance="greedy")
    with pytest.raises(KeyError, match="add_layer"):
        _env(operators=["add_layr"])
    with pytest.raises(ValueError, match="diagnostics"):
        _env(diagnostics={"sample": 10})
    with pytest.raises(ValueError, match="padding"):
        _env(max_connections=2).reset(seed=0, options={"valp": info["descriptor"]})


@pytest.mark.slow
def test_runs_in_subproc_vec_env() -> None:
    from stable_baselines3.common.vec_env import SubprocVecEnv

    vec = SubprocVecEnv([lambda: _env() for _ in range(2)], start_method="fork")
    try:
        vec.seed(0)
        vec.reset()
        masks = np.stack(vec.env_method("action_masks"))
        actions = np.array([int(np.flatnonzero(m)[0]) for m in masks])
        obs, rewards, dones, infos = vec.step(actions)
        assert rewards.shape == (2,) and obs["action_mask"].shape == masks.shape
    finally:
        vec.close()


@pytest.mark.slow
def test_maskable_ppo_trains_a_few_hundred_steps() -> None:
    from sb3_contrib import MaskablePPO

    env = _env(
        step_batches=1,
        initial_batches=2,
        max_steps=20,
        diagnostics={"samples": 32, "dependency": False},
        eval_samples=32,
    )
    model = MaskablePPO(
        "MultiInputPolicy", env, n_steps=100, batch_size=50, n_epochs=1, seed=0, device="cpu"
    )
    model.learn(total_timesteps=200)
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, action_masks=env.action_masks())
    assert env.action_masks()[int(action)]


def _holds_training_rows(obj: object, train: object, seen: set[int] | None = None) -> bool:
    """Whether ``obj`` references the training split or a tensor as large as it, at any depth."""
    import torch

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return False
    seen.add(id(obj))
    if obj is train:
        return True
    if isinstance(obj, torch.Tensor):
        return obj.numel() >= train.inputs["x"].numel() // 2
    if isinstance(obj, dict):
        return any(_holds_training_rows(v, train, seen) for v in obj.values())
    if isinstance(obj, list | tuple):
        return any(_holds_training_rows(v, train, seen) for v in obj)
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return _holds_training_rows(vars(obj), train, seen)
    return False


@pytest.mark.parametrize("credit", ["parent", "control"])
def test_kept_models_hold_weights_and_descriptors_only(credit: str) -> None:
    env = _env(max_steps=8, credit=credit, acceptance="always")
    env.reset(seed=2)
    rng = np.random.default_rng(0)
    for _ in range(6):
        env.step(int(rng.choice(_valid(env))))
    kept = [m for donors in env._donors.values() for _, m in donors]
    assert kept and all(m._trainer is None for m in kept)  # no optimizer, no data position
    assert len({id(m) for m in kept}) <= 2 * len(env.output_names)
    assert not any(_holds_training_rows(m, env._train) for m in kept)
    # the current model is never trained again (a step trains an edited copy or a control
    # clone): it holds no optimizer state, no gradients and no training rows
    current = env._model
    assert current._trainer is None and all(p.grad is None for p in current.parameters())
    assert not _holds_training_rows(current, env._train)


def test_control_credit_trains_a_control_on_the_same_batches() -> None:
    env = _env(credit="control", acceptance="paper")
    env.reset(seed=1)
    before = dict(env._objectives)
    rng = np.random.default_rng(1)
    for _ in range(4):
        _, reward, _, _, info = env.step(int(rng.choice(_valid(env))))
        control = info["control_objectives"]
        assert set(control) == set(before)
        better = sum(info["objectives"][k] < control[k] for k in control)
        # accepted against the control, not the parent; rejected: the control is current
        assert info["accepted"] == (better >= 2)
        if not info["accepted"]:
            assert info["current_objectives"] == control
        expected = np.mean([math.log(control[k] / info["objectives"][k]) for k in control])
        assert reward == pytest.approx(np.clip(expected, -5, 5), rel=1e-6, abs=1e-9)
        before = info["current_objectives"]
    # both models are charged: the cost counts the control's batches too
    assert info["cost"] == TINY["initial_batches"] + 4 * 2 * TINY["step_batches"]


@pytest.mark.parametrize("acceptance", ["paper", "changed"])
def test_an_edit_confined_to_one_output_ties_the_control_on_the_others(acceptance: str) -> None:
    """Under the control, outputs the edit does not reach train bit for bit alike: "paper"
    cannot keep such an edit; "changed" keeps it exactly when it beats the control on its
    output."""
    env = _env(
        credit="control", acceptance=acceptance, start_networks=(1, 1), operators=["clone_network"]
    )
    env.reset(seed=0)
    valp = env._model.valp  # three disjoint networks, one per output
    (net,) = [n for n in valp.network_ids if "o:sample" in outputs_reached(valp, n)]
    action = env.action_table.encode("clone_network:gentle", slot_of(valp, env.action_table, net))
    _, _, _, _, info = env.step(action)
    control = info["control_objectives"]
    for name in ("class", "hist"):
        assert info["objectives"][name] == control[name]
    helped = info["objectives"]["sample"] < control["sample"]
    assert helped  # the gentle clone helped the sampler on this seed
    assert info["accepted"] == (acceptance == "changed")


def test_changed_acceptance_is_the_majority_of_the_objectives_that_differ() -> None:
    env = _env(credit="control", acceptance="changed")
    env.reset(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(4):
        _, _, _, _, info = env.step(int(rng.choice(_valid(env))))
        control, cand = info["control_objectives"], info["objectives"]
        better = sum(cand[k] < control[k] for k in control)
        worse = sum(cand[k] > control[k] for k in control)
        assert info["accepted"] == (not info["diverged"] and better > (better + worse) / 2)
        assert info["current_objectives"] == (cand if info["accepted"] else control)


def test_the_diagnostic_rows_are_copied_out_of_the_split() -> None:
    """A fork or a bench checkpoint of the env copies the diagnostic rows, not the whole split
    and data set that a slice of them would hold on to (277 MB on Fashion-MNIST)."""
    env = _env()
    env.reset(seed=0)
    data = env._diag_data.data
    assert len(data) == TINY["diagnostics"]["samples"] and data.dataset is None
    for tensor in [*data.inputs.values(), *data.targets.values()]:
        assert tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size()
    assert env.fork()._diag_data.data.dataset is None


def test_fork_is_independent_and_reseedable() -> None:
    env = _env(credit="control")
    env.reset(seed=3)
    a = int(_valid(env)[0])
    same = [env.fork(seed=7).step(a)[1] for _ in range(2)]
    assert same[0] == same[1]
    key = env._model.valp.key
    env.fork().step(a)
    assert env._model.valp.key == key  # the original is untouched


def test_loss_trend_is_observed_and_reported() -> None:
    env = _env()
    obs, info = env.reset(seed=0)
    assert obs["loss_gain"].shape == (3,) and obs["loss_gain_t"].shape == (3,)
    assert set(info["loss_gain"]) == {"class", "hist", "sample"}
    # after initial training, losses are falling: positive projected gains, negative t
    assert (obs["loss_gain"] > 0).all() and (obs["loss_gain_t"] < 0).all()


def test_paper_preset_settings() -> None:
    env = gym.make("nasgym/VALP-Paper-v0", dataset="digits", **TINY).unwrapped
    from nasgym.registration import PAPER_OPERATORS

    assert {p[0] for p in env.action_table.pairs} == set(PAPER_OPERATORS)
    assert env.credit == "control" and env.acceptance == "paper"
    _, info = env.reset(seed=0)
    valp = env._model.valp
    assert valp.batch_size == 200
    assert 3 <= len(valp.network_ids) <= 6  # 1-2 networks per output
    scaled = gym.spec("nasgym/VALP-PaperScaled-v0").kwargs
    paper = gym.spec("nasgym/VALP-Paper-v0").kwargs
    assert scaled["initial_batches"] < paper["initial_batches"] <= 5000
    assert paper["dataset"] == "fashion-mnist" and paper["max_steps"] == 60
    with pytest.raises(ValueError, match="credit"):
        _env(credit="other")
    with pytest.raises(ValueError, match="start_networks"):
        _env(start_networks=(2, 1))


def test_a_reducer_that_would_exceed_the_padding_is_masked() -> None:
    """delete_network reconnects every predecessor to every successor, so it can add
    connections; at the connection limit such a deletion is not offered (it used to be, and
    the step then failed on the padding)."""
    from types import SimpleNamespace

    from nasgym.tasks import make_task
    from nasgym.valp import random_valp
    from nasgym.valp.operators import make_operator, operator_variants

    task = make_task("image-multitask", SimpleNamespace(name="f", image_shape=(8, 8), n_classes=10))
    op = make_operator("delete_network")
    operators = {"delete_network": op}
    rng = np.random.default_rng(3)
    found = 0
    for _ in range(2000):
        valp = random_valp(task, rng, max_layers=1, n_networks=int(rng.integers(5, 9)))
        growing = [
            t
            for t in op.targets(valp)
            if len(op.edit(valp, t, None).connections) > len(valp.connections)
        ]
        if not growing:
            continue
        padding = Padding(8, len(valp.connections), 4)
        table = ActionTable(
            tuple(p for p in operator_variants() if p[0] == "delete_network"),
            ("reducer",),
            padding.max_networks,
            tuple(task.output_names),
        )
        mask, moves = plan_actions(valp, table, operators, padding, lambda o: None)
        planned = {m.target for m in moves.values()}
        assert not planned & set(growing)
        assert planned == set(op.targets(valp)) - set(growing)
        found += 1
        if found == 3:
            break
    assert found == 3


def test_max_width_bounds_every_model_of_an_episode() -> None:
    from dataclasses import replace

    from nasgym.valp.operators.base import widest_layer

    # digits: the input is 64 pixels wide; the random start uses widths 16, 32 and 64
    ops = ["insert_network", "add_layer", "extend_layer"]
    env = _env(max_width=64, max_steps=12, operators=ops)
    env.reset(seed=2)
    unlimited = replace(env.padding, max_width=None)
    rng = np.random.default_rng(0)
    masked = 0
    for _ in range(12):
        free, _ = plan_actions(env._model.valp, env.action_table, env._ops, unlimited, env._donor)
        assert not (env.action_masks() & ~free).any()  # the limit only removes actions
        masked += int((free & ~env.action_masks()).sum())
        env.step(int(rng.choice(_valid(env))))
        assert widest_layer(*env._model.valp.networks) <= 64
    assert masked > 0  # e.g. widening a 64-unit layer
    with pytest.raises(ValueError, match="max_width"):
        _env(max_width=0)


def test_warmup_batches_change_only_the_training_after_an_edit() -> None:
    """The starting model is trained as before (same first observation); the steps' training
    differs (other candidate objectives); a bad value is refused."""
    plain, warm = _env(credit="control"), _env(credit="control", warmup_batches=5)
    obs_a, _ = plain.reset(seed=4)
    obs_b, _ = warm.reset(seed=4)
    assert all(np.array_equal(obs_a[k], obs_b[k]) for k in obs_a)
    action = int(np.flatnonzero(plain.action_masks())[0])
    *_, info_a = plain.step(action)
    *_, info_b = warm.step(action)
    assert info_a["objectives"] != info_b["objectives"]
    with pytest.raises(ValueError, match="warmup_batches"):
        _env(warmup_batches=-1)


def test_operator_kwargs_build_the_envs_operators() -> None:
    """``{"add_connection": {"detach_gentle": True}}``: every gentle connection the env adds is
    detached; unknown operators or options are refused by name."""
    env = _env(operator_kwargs={"add_connection": {"detach_gentle": True}})
    env.reset(seed=3)
    mask, moves = env._plan()
    gentle = [
        a for a, m in moves.items() if (m.operator, m.variant) == ("add_connection", "gentle")
    ]
    assert gentle
    before = {(c.src, c.dst) for c in env._model.valp.connections}
    candidate = env.apply_move(moves[gentle[0]]).valp
    new = [c for c in candidate.connections if (c.src, c.dst) not in before]
    assert len(new) == 1 and new[0].detached
    *_, info = env.step(gentle[0])  # the step trains and evaluates it like any candidate
    assert np.isfinite(list(info["objectives"].values())).all()
    with pytest.raises(ValueError, match="does not use"):
        _env(operators=["add_layer"], operator_kwargs={"add_connection": {"detach_gentle": True}})
    with pytest.raises(ValueError, match="takes options"):
        _env(operator_kwargs={"add_connection": {"detach": True}})


class FakeLibc:
    """A stand-in for glibc that records ``mallopt`` calls (the test process keeps glibc's own
    allocator settings)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        return 1


def test_bound_heap_is_applied_once_unless_the_user_set_the_threshold(monkeypatch) -> None:
    """The opt-in bound_heap sets glibc's mmap threshold once per process; a
    MALLOC_MMAP_THRESHOLD_ of the user's is left alone."""
    import nasgym._memory as mem

    libc = FakeLibc()
    calls = libc.calls
    monkeypatch.setattr(mem, "_LIBC", libc)
    monkeypatch.setattr(mem, "_BOUNDED", [])
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert mem.bound_heap() is True and mem.bound_heap() is True
    assert calls == [(-3, mem.MMAP_THRESHOLD)]  # M_MMAP_THRESHOLD, once
    monkeypatch.setattr(mem, "_BOUNDED", [])
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "4096")
    assert mem.bound_heap() is False and len(calls) == 1


def test_the_env_bounds_the_heap_only_while_it_resets_and_steps(monkeypatch) -> None:
    """Resets and steps run with glibc's mmap threshold at 1 MiB and leave it fixed at the
    relaxed 32 MiB (trim threshold 64 MiB), so the rest of the process allocates as after glibc's
    own warm-up; a user's MALLOC_MMAP_THRESHOLD_, or bound_heap already applied, wins."""
    import nasgym._memory as mem

    libc = FakeLibc()
    monkeypatch.setattr(mem, "_LIBC", libc)
    monkeypatch.setattr(mem, "_BOUNDED", [])
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    env = _env()
    env.reset(seed=0)
    bound, relax = (
        (-3, mem.MMAP_THRESHOLD),
        [(-3, mem.RELAXED_THRESHOLD), (-1, 2 * mem.RELAXED_THRESHOLD)],
    )
    assert libc.calls == [bound, *relax]
    env.step(int(_valid(env)[0]))
    assert libc.calls == [bound, *relax] * 2
    with mem.bounded_heap() as applied:
        assert applied and libc.calls[-1] == bound
    assert libc.calls[-2:] == relax
    libc.calls.clear()
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "4096")
    with mem.bounded_heap() as applied:
        assert not applied
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    assert mem.bound_heap() and libc.calls == [bound]
    with mem.bounded_heap() as applied:
        assert not applied and libc.calls == [bound]


def _trajectory(env: VALPEnv, steps: int = 4) -> list[dict]:
    infos = [env.reset(seed=5)[1]]
    for _ in range(steps):
        infos.append(env.step(int(_valid(env)[0]))[4])
    return infos


def test_test_scores_leave_the_trajectory_as_it_is() -> None:
    plain = _trajectory(_env(credit="control"))
    scored = _trajectory(_env(credit="control", test_samples=40))
    assert [i["objectives"] for i in plain] == [i["objectives"] for i in scored]
    assert [i["current_descriptor"] for i in plain] == [i["current_descriptor"] for i in scored]
    assert all("test_objectives" not in i for i in plain)
    for info in scored:  # every evaluated model is scored, candidate and control
        assert set(info["test_objectives"]) == {"class", "hist", "sample"}
        assert info["test_objectives"] != info["objectives"]  # other rows, other scores
    assert all("control_test_objectives" in i for i in scored[1:])


def test_test_scores_are_the_models_scores_on_the_test_rows() -> None:
    from nasgym.valp.evaluate import evaluate

    env = _env(credit="control", test_samples=40)
    info = env.reset(seed=5)[1]
    gen = torch.Generator().manual_seed(env._test_seed)
    assert evaluate(env._model, env._test, gen).objectives == info["test_objectives"]
    assert len(env._test) == 40
    # the same generator state for every model: scoring twice gives the same scores
    assert env._score_test(env._model) == env._score_test(env._model)


def test_a_fork_without_test_scores_does_not_score() -> None:
    env = _env(credit="control", test_samples=40)
    env.reset(seed=5)
    a = int(_valid(env)[0])
    seen = env.fork(test=False).step(a)[4]
    scored = env.fork().step(a)[4]
    assert "test_objectives" not in seen and seen["objectives"] == scored["objectives"]


@pytest.mark.parametrize("bad", [0, 3, 2.5, "100"])
def test_bad_test_samples_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="test_samples"):
        _env(test_samples=bad)


@pytest.mark.parametrize("credit", ["control", "parent"])
def test_the_bench_reads_the_held_models_test_scores(credit: str) -> None:
    """What the bench summary reports as the chosen model's test scores is the test score of the
    model the env holds at the end, whether candidates were accepted or not."""
    from nasgym.bench.records import run_key, step_record
    from nasgym.bench.results import Run

    env = _env(credit=credit, test_samples=40, max_steps=8)
    env.reset(seed=11)
    key = run_key("nasgym/VALP-v0", {}, "first-valid", 11)
    recs = []
    for t in range(1, 9):
        info = env.step(int(_valid(env)[-1]))[4]
        recs.append(step_record(key, t, 0, 0.0, False, False, info))
    run = Run("nasgym/VALP-v0", {}, "first-valid", 11, recs)
    assert {r["accepted"] for r in recs} == {True, False}  # both paths are exercised
    names = list(env.objective_spec)
    assert run.chosen_test(names) == pytest.approx(env._score_test(env._model))


def test_reseed_makes_a_reseeded_forks_outcome_the_real_one() -> None:
    env = _env(credit="control", test_samples=40)
    env.reset(seed=5)
    a = int(_valid(env)[0])
    peeks = [env.fork(seed=s).step(a)[4] for s in (1, 2)]
    assert peeks[0]["objectives"] != peeks[1]["objectives"]  # other draws, other outcomes
    env.reseed(2)
    info = env.step(a)[4]
    assert info["objectives"] == peeks[1]["objectives"]
    assert info["test_objectives"] == peeks[1]["test_objectives"]


def test_common_noise_gives_agents_on_one_seed_the_same_batches_at_every_step() -> None:
    """Two episodes of one seed that apply different operators train on the same batches at
    step t with ``common_noise=True``; without it, what earlier steps drew shifts them apart."""
    from nasgym.registration import PAPER_OPERATORS

    def orders(common: bool, pick: int) -> list[torch.Tensor]:
        env = _env(operators=PAPER_OPERATORS, credit="control", common_noise=common, max_steps=8)
        env.reset(seed=3)
        drawn: list[torch.Tensor] = []
        draw = env._batch_order
        env._batch_order = lambda rows: drawn.append(draw(rows)) or drawn[-1]  # type: ignore[method-assign]
        rng = np.random.default_rng(pick)
        for _ in range(8):
            env.step(int(rng.choice(_valid(env))))
        return drawn

    def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> list[bool]:
        return [bool(torch.equal(x, y)) for x, y in zip(a, b, strict=True)]

    assert all(same(orders(True, 0), orders(True, 1)))
    assert not all(same(orders(False, 0), orders(False, 1)))
    with pytest.raises(ValueError, match="common_noise"):
        _env(common_noise="yes")
