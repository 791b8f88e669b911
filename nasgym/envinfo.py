"""What an environment is and which arguments it takes, read from its source without importing it.

``nasgym envs`` lists every env with the first paragraph of its docstring (or, for an id that
presets another's class, its summary in :data:`nasgym.registration.ENV_SUMMARIES`), and ``nasgym
envs --describe ID`` its arguments with their defaults (from the ``__init__`` signature, with the
values the id registers in their place) and their descriptions (from the docstring's
*Arguments* section). Both parse the module's source with
:mod:`ast`, so listing never imports torch: it answers in well under a second.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from nasgym.registry import first_paragraph

__all__ = ["EnvArg", "EnvInfo", "describe", "env_info"]


@dataclass(frozen=True)
class EnvArg:
    """One constructor argument: its name, annotation and default as written, and what the
    docstring says about it ("" when it says nothing). ``preset``: the default is the value the
    env id registers, not the class's."""

    name: str
    annotation: str
    default: str | None
    doc: str = ""
    preset: bool = False


@dataclass(frozen=True)
class EnvInfo:
    """An env id, its class, its docstring and its constructor arguments (``preset_summary``:
    the id's own summary, for an id that presets another's class)."""

    env_id: str
    entry_point: str
    doc: str
    args: list[EnvArg] = field(default_factory=list)
    preset_summary: str = ""

    @property
    def summary(self) -> str:
        """The id's preset summary, else the first paragraph of the class docstring."""
        return self.preset_summary or first_paragraph(self.doc)


def _class_node(entry_point: str) -> ast.ClassDef:
    module, _, name = entry_point.partition(":")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise LookupError(f"module {module!r} of {entry_point!r} cannot be found")
    source = Path(spec.origin).read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise LookupError(f"class {name!r} not found in {spec.origin}")


def _args(cls: ast.ClassDef) -> list[tuple[str, str, str | None]]:
    init = next(
        (n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None
    )
    if init is None:
        return []
    a = init.args
    positional = a.posonlyargs + a.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(a.defaults)) + list(
        a.defaults
    )
    pairs = list(zip(positional, defaults, strict=True)) + list(
        zip(a.kwonlyargs, a.kw_defaults, strict=True)
    )
    out = []
    for arg, default in pairs:
        if arg.arg == "self":
            continue
        ann = ast.unparse(arg.annotation) if arg.annotation else ""
        dflt = ast.unparse(default) if default is not None else None
        out.append((arg.arg, ann or "", dflt))
    return out


def _arguments_section(doc: str) -> str:
    """The text of the docstring's *Arguments* section (Markdown ``## Arguments`` or a
    reStructuredText-like ``Arguments`` heading), joined into one paragraph."""
    lines = inspect.cleandoc(doc).splitlines()
    start = next(
        (i for i, ln in enumerate(lines) if ln.strip().lstrip("#").strip() == "Arguments"), None
    )
    if start is None:
        return ""
    body = []
    for ln in lines[start + 1 :]:
        if ln.startswith("#") or (ln.strip() and set(ln.strip()) <= {"-", "="}):
            if body:
                break
            continue
        body.append(ln.strip())
    return " ".join(body).strip()


def _arg_docs(section: str, names: list[str]) -> dict[str, str]:
    """Split the *Arguments* text at each ````name```` that starts a description."""
    marks = sorted(
        (m.start(), m.end(), m.group(1))
        for m in re.finditer(r"``(\w+)``", section)
        if m.group(1) in names
    )
    out: dict[str, str] = {}
    for i, (_start, end, name) in enumerate(marks):
        if name in out:
            continue
        stop = marks[i + 1][0] if i + 1 < len(marks) else len(section)
        text = section[end:stop].strip().strip(",;").strip()
        out[name] = re.sub(r"\s+", " ", text.removesuffix(" and").removesuffix(" or"))
    return out


def env_info(env_id: str) -> EnvInfo:
    """The :class:`EnvInfo` of a registered env id, read from its source (KeyError if unknown)."""
    import gymnasium as gym

    import nasgym  # noqa: F401  (registers the nasgym ids)
    from nasgym.registration import ENV_SUMMARIES

    spec = gym.spec(env_id)
    info = _class_info(env_id, spec.entry_point)
    preset = spec.kwargs or {}
    args = [
        replace(a, default=repr(preset[a.name]), preset=True) if a.name in preset else a
        for a in info.args
    ]
    return replace(info, args=args, preset_summary=ENV_SUMMARIES.get(env_id, ""))


def _class_info(env_id: str, entry: object) -> EnvInfo:
    if not isinstance(entry, str):
        doc = inspect.getdoc(entry) or ""
        params = inspect.signature(entry).parameters.values()
        args = [
            EnvArg(
                p.name,
                "" if p.annotation is inspect.Parameter.empty else str(p.annotation),
                None if p.default is inspect.Parameter.empty else repr(p.default),
            )
            for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        return EnvInfo(env_id, getattr(entry, "__qualname__", str(entry)), doc, args)
    cls = _class_node(entry)
    doc = ast.get_docstring(cls) or ""
    raw = _args(cls)
    docs = _arg_docs(_arguments_section(doc), [n for n, _, _ in raw])
    args = [EnvArg(n, ann, d, docs.get(n, "")) for n, ann, d in raw]
    return EnvInfo(env_id, entry, doc, args)


def describe(env_id: str) -> str:
    """A text description of ``env_id``: its summary, entry point and arguments with defaults."""
    info = env_info(env_id)
    lines = [f"{info.env_id}: {info.summary}", f"class: {info.entry_point}", "", "Arguments:"]
    if not info.args:
        lines.append("  (none)")
    width = max((len(a.name) for a in info.args), default=0)
    for a in info.args:
        default = "(required)" if a.default is None else f"= {a.default}"
        ann = f": {a.annotation}" if a.annotation else ""
        mark = "  (this id's value)" if a.preset else ""
        lines.append(f"  {a.name:<{width}} {default}{'  ' + ann.lstrip(': ') if ann else ''}{mark}")
        if a.doc:
            lines.append(f"  {'':<{width}}   {a.doc}")
    module, _, name = info.entry_point.partition(":")
    if name:
        lines += ["", f'Full manual: python -c "import {module} as m; help(m.{name})"']
    return "\n".join(lines)
