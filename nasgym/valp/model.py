"""The torch module of a VALP, built from its descriptor.

Parameter layout (stable: variation operators and weight inheritance rely on these names).
``model.nets[<key>]`` is the :class:`NetworkModule` of network ``<id>``, where ``<key>`` is the id
with ``":"`` replaced by ``"_"`` (``"n:3"`` -> ``"n_3"``); source keys are sanitised the same way
(``"i:x"`` -> ``"i_x"``, ``"n:0"`` -> ``"n_0"``). Inside a network of ``L`` layers:

* ``mlp`` / ``classifier`` / ``regressor``: the *first stage* is layer 0 when ``L >= 1``, else the
  head. It is ``in_proj[src_key]`` (``Linear(src_size, first_width, bias=False)``, one per source)
  summed, plus ``in_bias`` (``Parameter(first_width)``); ``first_width`` is ``layers[0].width``, or
  ``out_size`` when ``L == 0`` (then ``in_proj`` maps straight to the logits/values and ``head`` is
  None). The activation of layer 0 follows the first stage. ``layers[i - 1]`` is layer ``i``
  (``Linear(width[i-1], width[i])``) for ``i = 1..L-1``, each followed by its activation.
  ``head`` is ``Linear(width[L-1], out_size)`` (no activation) for classifiers and regressors with
  ``L >= 1``; ``mlp`` has no head and emits its last layer's activations.
* ``sampler``: the first stage is the encoder ``mu_proj[src_key]`` / ``logvar_proj[src_key]``
  (``Linear(src_size, latent, bias=False)``) summed plus ``mu_bias`` / ``logvar_bias``
  (``Parameter(latent)``); z = mu + eps * exp(logvar / 2). The decoder ``layers[i]`` is layer ``i``
  for ``i = 0..L-1`` (``layers[0]`` maps ``latent -> width[0]``), each followed by its activation,
  and ``head`` is ``Linear(width[L-1] or latent, out_size)`` giving pixel logits. A sampler has no
  ``in_proj``/``in_bias``.

:attr:`NetworkModule.projections` names the per-source projection tables of a network
(``("in_proj",)`` or ``("mu_proj", "logvar_proj")``); the bias of ``X_proj`` is ``X_bias``.
Operators change weights in place (``with torch.no_grad(): p.copy_(...)``); to change structure,
build a new model from the new descriptor and :func:`inherit_weights`.

Initialisation follows ``torch.nn.Linear`` (uniform in +-1/sqrt(fan_in), for weights and bias),
drawn from a ``torch.Generator``; a first stage's fan-in is the sum of its source sizes, as for
the equivalent concatenation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nasgym.valp.descriptor import ACTIVATIONS, VALP, Network

__all__ = [
    "ACTIVATION_FNS",
    "ForwardResult",
    "NetworkModule",
    "VALPModel",
    "build_model",
    "inherit_weights",
    "model_from",
    "resolve_device",
    "sanitize",
]

#: activation name -> function (None: identity); keyed exactly by ``descriptor.ACTIVATIONS``
ACTIVATION_FNS: dict[str, Callable[[Tensor], Tensor] | None] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "elu": F.elu,
    "identity": None,
}
assert tuple(ACTIVATION_FNS) == ACTIVATIONS


def sanitize(cid: str) -> str:
    """Module key of component id ``cid`` (``"n:3"`` -> ``"n_3"``)."""
    return cid.replace(":", "_")


def resolve_device(device: Any) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else through ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _linear(
    n_in: int, n_out: int, bias: bool, gen: torch.Generator | None, fan_in: int | None = None
) -> nn.Linear:
    # Built without nn.Linear's default init (we initialise below or copy weights in):
    # ~25x cheaper than skip_init, which matters because operators build a model per call.
    lin = nn.Linear.__new__(nn.Linear)
    nn.Module.__init__(lin)
    lin.in_features, lin.out_features = n_in, n_out
    lin.weight = nn.Parameter(torch.empty(n_out, n_in))
    lin.bias = nn.Parameter(torch.empty(n_out)) if bias else None
    if gen is not None:
        bound = 1.0 / math.sqrt(fan_in or n_in)
        with torch.no_grad():
            lin.weight.uniform_(-bound, bound, generator=gen)
            if bias:
                lin.bias.uniform_(-bound, bound, generator=gen)
    return lin


def _bias(n: int, gen: torch.Generator | None, fan_in: int) -> nn.Parameter:
    p = torch.empty(n)
    if gen is not None:
        bound = 1.0 / math.sqrt(fan_in)
        p.uniform_(-bound, bound, generator=gen)
    return nn.Parameter(p)


@dataclass(frozen=True)
class _Compiled:
    """A network as plain tensors: first-stage projections, activation, then (W, b, act) stages."""

    sampler: bool
    latent: int
    proj: tuple[tuple[Tensor, ...], Tensor]  # in_proj (or mu_proj) weights per source, bias
    proj2: tuple[tuple[Tensor, ...], Tensor] | None  # logvar_proj of a sampler
    first_act: Any
    stages: list[tuple[Tensor, Tensor, Any]]


def _affine(proj: tuple[tuple[Tensor, ...], Tensor], xs: list[Tensor]) -> Tensor:
    ws, bias = proj
    if len(ws) == 1:
        return F.linear(xs[0], ws[0], bias)
    h = torch.addmm(bias, xs[0], ws[0].t())
    for w, x in zip(ws[1:], xs[1:], strict=True):
        h = torch.addmm(h, x, w.t())
    return h


def _read(em: dict[str, Tensor], srcs: tuple[str, ...], cut: tuple[bool, ...]) -> list[Tensor]:
    """The sources' emissions, those read through a detached connection without their graph."""
    return [em[s].detach() if d else em[s] for s, d in zip(srcs, cut, strict=True)]


def _run_stages(h: Tensor, stages: list[tuple[Tensor, Tensor, Any]]) -> Tensor:
    for w, b, act in stages:
        h = F.linear(h, w, b)
        if act is not None:
            h = act(h)
    return h


class NetworkModule(nn.Module):
    """One sub-network of a VALP (see the module docstring for its parameter layout)."""

    def __init__(
        self, net: Network, sources: Mapping[str, int], generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        self.net = net
        self.kind = net.kind
        #: source component ids, in canonical order (the order of the projections)
        self.sources: tuple[str, ...] = tuple(sources)
        self._src_keys = tuple(sanitize(s) for s in self.sources)
        fan_in = sum(sources.values())
        widths = [layer.width for layer in net.layers]
        self._acts = [ACTIVATION_FNS[layer.activation] for layer in net.layers]
        g = generator
        if net.kind == "sampler":
            self.projections: tuple[str, ...] = ("mu_proj", "logvar_proj")
            for name in self.projections:
                table = nn.ModuleDict(
                    {
                        sanitize(s): _linear(n, net.latent, False, g, fan_in)
                        for s, n in sources.items()
                    }
                )
                setattr(self, name, table)
                setattr(self, name.replace("_proj", "_bias"), _bias(net.latent, g, fan_in))
            sizes = [net.latent, *widths]
            self.layers = nn.ModuleList(
                _linear(a, b, True, g) for a, b in zip(sizes, widths, strict=False)
            )
            self.head: nn.Linear | None = _linear(sizes[-1], net.out_size, True, g)
        else:
            self.projections = ("in_proj",)
            first = widths[0] if widths else net.out_size
            self.in_proj = nn.ModuleDict(
                {sanitize(s): _linear(n, first, False, g, fan_in) for s, n in sources.items()}
            )
            self.in_bias = _bias(first, g, fan_in)
            self.layers = nn.ModuleList(
                _linear(a, b, True, g) for a, b in zip(widths, widths[1:], strict=False)
            )
            has_head = net.kind != "mlp" and widths
            self.head = _linear(widths[-1], net.out_size, True, g) if has_head else None

    def compiled(self) -> _Compiled:
        """Direct references to this network's tensors, for the fast forward pass."""

        def stages(layers: Any, acts: list[Any]) -> list[tuple[Tensor, Tensor, Any]]:
            out = [(lin.weight, lin.bias, act) for lin, act in zip(layers, acts, strict=True)]
            if self.head is not None:
                out.append((self.head.weight, self.head.bias, None))
            return out

        def proj(name: str) -> tuple[tuple[Tensor, ...], Tensor]:
            table = getattr(self, name)
            return tuple(table[k].weight for k in self._src_keys), getattr(
                self, name.replace("_proj", "_bias")
            )

        if self.kind == "sampler":
            return _Compiled(
                True,
                self.net.latent,
                proj("mu_proj"),
                proj("logvar_proj"),
                None,
                stages(self.layers, self._acts),
            )
        first_act = self._acts[0] if self._acts else None
        return _Compiled(
            False, 0, proj("in_proj"), None, first_act, stages(self.layers, self._acts[1:])
        )

    def project(self, name: str, xs: list[Tensor]) -> Tensor:
        """Sum of the per-source projections ``name`` of ``xs`` plus its bias."""
        table = getattr(self, name)
        bias = getattr(self, name.replace("_proj", "_bias"))
        keys = self._src_keys
        if len(keys) == 1:
            return F.linear(xs[0], table[keys[0]].weight, bias)
        h = torch.addmm(bias, xs[0], table[keys[0]].weight.t())
        for key, x in zip(keys[1:], xs[1:], strict=False):
            h = torch.addmm(h, x, table[key].weight.t())
        return h

    def _stack(self, h: Tensor, layers: Any, acts: list[Any]) -> Tensor:
        for lin, act in zip(layers, acts, strict=False):
            h = F.linear(h, lin.weight, lin.bias)
            if act is not None:
                h = act(h)
        if self.head is not None:
            h = F.linear(h, self.head.weight, self.head.bias)
        return h

    def decode(self, z: Tensor) -> Tensor:
        """Sampler only: pixel logits of latent codes ``z``."""
        return self._stack(z, self.layers, self._acts)

    def encode(self, xs: list[Tensor]) -> tuple[Tensor, Tensor]:
        """Sampler only: ``(mu, logvar)`` of the sources' emissions ``xs``."""
        return self.project("mu_proj", xs), self.project("logvar_proj", xs)

    def forward(self, xs: list[Tensor], eps: Tensor | None = None) -> Any:
        """Emission of the network for its sources' emissions ``xs`` (canonical source order).

        A sampler returns ``(pixel logits, mu, logvar)``; ``eps`` None means z = mu.
        """
        if self.kind == "sampler":
            mu, logvar = self.encode(xs)
            z = mu if eps is None else mu + eps * torch.exp(0.5 * logvar)
            return self.decode(z), mu, logvar
        h = self.project("in_proj", xs)
        if self._acts:
            if self._acts[0] is not None:
                h = self._acts[0](h)
            return self._stack(h, self.layers, self._acts[1:])
        return h


@dataclass
class ForwardResult:
    """What :meth:`VALPModel.forward` returns.

    ``outputs``: output name -> summed emissions (class logits, regression values, or pixel
    logits before the sigmoid). ``latents``: sampler id -> ``(mu, logvar)``.
    """

    outputs: dict[str, Tensor]
    latents: dict[str, tuple[Tensor, Tensor]] = field(default_factory=dict)


class VALPModel(nn.Module):
    """A VALP as a torch module; ``.valp`` is its (immutable) descriptor."""

    def __init__(
        self, valp: VALP, generator: torch.Generator | None = None, *, init: bool = True
    ) -> None:
        super().__init__()
        valp.validate()
        self.valp = valp
        if init and generator is None:
            generator = torch.Generator()
            generator.seed()
        g = generator if init else None
        self.nets = nn.ModuleDict()
        # (net id, module key, source ids, eps key) in topological order
        self._plan: list[tuple[str, str, tuple[str, ...], str]] = []
        #: network id -> which of its sources it reads through a detached connection
        self._cut: dict[str, tuple[bool, ...]] = {}
        for nid in valp.network_order():
            srcs = valp.predecessors(nid)
            key = sanitize(nid)
            self.nets[key] = NetworkModule(
                valp.network(nid), {s: valp.emit_size(s) for s in srcs}, g
            )
            self._plan.append((nid, key, tuple(srcs), self._eps_key(nid)))
            cut = tuple(valp.detached(s, nid) for s in srcs)
            if any(cut):
                self._cut[nid] = cut
        #: output name -> (kind, ids of the networks feeding it)
        self.output_sources: dict[str, tuple[str, tuple[str, ...]]] = {
            s.name: (s.kind, tuple(valp.predecessors(f"o:{s.name}"))) for s in valp.task_outputs
        }
        self._trainer: Any = None
        self._compiled: list[tuple[str, tuple[str, ...], str, _Compiled]] | None = None

    def _compiled_plan(self) -> list[tuple[str, tuple[str, ...], str, _Compiled]]:
        if self._compiled is None:
            self._compiled = [
                (nid, srcs, eps_key, self.nets[key].compiled())
                for nid, key, srcs, eps_key in self._plan
            ]
        return self._compiled

    def refresh(self) -> None:
        """Forget the cached tensor references of the forward pass.

        :meth:`forward` uses direct references to the parameters. Changing weights in place
        (``copy_``, ``load_state_dict``, optimizers, ``.to()``) needs nothing; after *replacing* a
        parameter or submodule object, call this.
        """
        self._compiled = None

    def _apply(self, fn: Any, recurse: bool = True) -> VALPModel:
        out = super()._apply(fn, recurse)
        self._compiled = None
        return out

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        """``nn.Module.load_state_dict`` (also forgets cached references when ``assign``)."""
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self._compiled = None
        return result

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_compiled"] = None  # rebuilt from the (copied) parameters on first use
        return state

    def _eps_key(self, nid: str) -> str:
        """Samplers feeding a sampling output share that output's noise; others use their id."""
        for succ in self.valp.successors(nid):
            if succ.startswith("o:") and self.valp.output_spec(succ).kind == "sampling":
                return succ[2:]
        return nid

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return next(self.parameters()).device

    def network_module(self, net_id: str) -> NetworkModule:
        """The :class:`NetworkModule` of network ``net_id``."""
        key = sanitize(net_id)
        if key not in self.nets:
            raise KeyError(f"no network {net_id!r}; networks: {self.valp.network_ids}")
        return self.nets[key]

    def release_training_state(self) -> None:
        """Free what only further training of this model needs: its optimizers' state (Adam's
        moments are twice the weights per output) and gradients. Weights and whether training
        diverged are kept; a later :func:`~nasgym.valp.train.train` starts fresh optimizers."""
        if self._trainer is not None and not self._trainer.diverged:
            self._trainer = None
        for p in self.parameters():
            p.grad = None

    def clone(self) -> VALPModel:
        """An independent copy (same descriptor and weights, no optimizer state)."""
        return model_from(self.valp, self.state_dict(), device=self.device)

    def forward(
        self,
        inputs: Mapping[str, Tensor],
        noise: Mapping[str, Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> ForwardResult:
        """Outputs for ``inputs`` (input name -> ``(B, size)`` float tensor).

        Sampler noise: ``noise[output name]`` (or ``noise[sampler id]`` for a sampler feeding no
        sampling output) when given, else drawn from ``generator``, else zero (z = mu).
        """
        em: dict[str, Tensor] = {}
        for spec in self.valp.task_inputs:
            if spec.name not in inputs:
                raise KeyError(f"missing model input {spec.name!r}; got {sorted(inputs)}")
            em["i:" + spec.name] = inputs[spec.name]
        latents: dict[str, tuple[Tensor, Tensor]] = {}
        eps_cache: dict[str, Tensor] = {}
        for nid, srcs, eps_key, c in self._compiled_plan():
            cut = self._cut.get(nid)
            xs = [em[s] for s in srcs] if cut is None else _read(em, srcs, cut)
            if c.sampler:
                mu, logvar = _affine(c.proj, xs), _affine(c.proj2, xs)
                eps = self._eps(eps_key, c.latent, xs[0], noise, generator, eps_cache)
                z = mu if eps is None else mu + eps * torch.exp(0.5 * logvar)
                em[nid] = _run_stages(z, c.stages)
                latents[nid] = (mu, logvar)
            else:
                h = _affine(c.proj, xs)
                if c.first_act is not None:
                    h = c.first_act(h)
                em[nid] = _run_stages(h, c.stages)
        outputs = {}
        for name, (_, srcs) in self.output_sources.items():
            out = em[srcs[0]]
            for s in srcs[1:]:
                out = out + em[s]
            outputs[name] = out
        return ForwardResult(outputs, latents)

    @staticmethod
    def _eps(
        key: str,
        latent: int,
        like: Tensor,
        noise: Mapping[str, Tensor] | None,
        generator: torch.Generator | None,
        cache: dict[str, Tensor],
    ) -> Tensor | None:
        if noise is not None and key in noise:
            return noise[key]
        if generator is None:
            return None
        if key not in cache:
            shape = (like.shape[0], latent)
            if generator.device == like.device:
                cache[key] = torch.randn(shape, generator=generator, device=like.device)
            else:
                cache[key] = torch.randn(shape, generator=generator, device=generator.device).to(
                    like.device
                )
        return cache[key]

    @torch.no_grad()
    def generate(self, n: int, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``n`` generated images per sampling output, in [0, 1] (``(n, size)`` each).

        z ~ N(0, I) (one draw per output, shared by its samplers) goes through every decoder
        feeding the output; their pixel logits are summed, then the sigmoid is applied.
        """
        dev = self.device
        out = {}
        for spec in self.valp.task_outputs:
            if spec.kind != "sampling":
                continue
            gdev = generator.device if generator is not None else dev
            z = torch.randn((n, spec.latent), generator=generator, device=gdev).to(dev)
            logits = None
            compiled = {nid: c for nid, _, _, c in self._compiled_plan()}
            for nid in self.output_sources[spec.name][1]:
                part = _run_stages(z, compiled[nid].stages)
                logits = part if logits is None else logits + part
            out[spec.name] = torch.sigmoid(logits)
        return out

    def extra_repr(self) -> str:
        return f"valp={self.valp!r}"


def build_model(
    valp: VALP, generator: torch.Generator | None = None, device: Any = "cpu"
) -> VALPModel:
    """A freshly initialised :class:`VALPModel` of ``valp`` on ``device`` (``"auto"`` allowed).

    Weights are drawn from ``generator`` (same seed -> identical weights); a random seed when None.
    """
    return _to(VALPModel(valp, generator), resolve_device(device))


def model_from(valp: VALP, state_dict: Mapping[str, Tensor], device: Any = "cpu") -> VALPModel:
    """A :class:`VALPModel` of ``valp`` with weights ``state_dict`` (names and shapes must match)."""
    model = VALPModel(valp, init=False)
    model.load_state_dict(state_dict, strict=True)
    return _to(model, resolve_device(device))


def _to(model: VALPModel, device: torch.device) -> VALPModel:
    """``model.to(device)``, skipped when the model is there already (a no-op then, but a slow
    one: it visits every parameter). A new model's tensors are all made on one device."""
    first = next(model.parameters(), None)
    if first is not None and first.device == device:
        return model
    return model.to(device)


@torch.no_grad()
def inherit_weights(child: nn.Module, parent: nn.Module) -> int:
    """Copy into ``child`` every tensor of ``parent`` whose name and shape match; return the count."""
    theirs = parent.state_dict()
    count = 0
    for name, t in child.state_dict().items():
        src = theirs.get(name)
        if src is not None and src.shape == t.shape:
            t.copy_(src)
            count += 1
    return count
