"""A small name -> class/factory table shared by every extensible part of nasgym.

Data sets, tasks, VALP operators, search spaces, rewards and agents are all added by
registering a class or a factory under a name, never by editing an ``if/elif`` chain.
Registries hold classes or factories, never built instances.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def summary(obj: Any) -> str:
    """The first paragraph of ``obj``'s docstring on one line (empty when it has none).

    A summary wrapped over several lines is joined, never cut mid-sentence.
    """
    return first_paragraph(getattr(obj, "__doc__", None) or "")


def first_paragraph(text: str) -> str:
    """The first paragraph of ``text`` on one line (whitespace collapsed)."""
    return " ".join(text.strip().split("\n\n")[0].split())


class Registry(Generic[T]):
    """Map names to classes or factories, with a "did you mean" on unknown names.

    >>> shapes = Registry("shape")
    >>> @shapes.register("square")
    ... class Square: ...
    >>> shapes.get("square") is Square
    True
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, obj: T | None = None, *, overwrite: bool = False) -> Any:
        """Register ``obj`` under ``name``; without ``obj``, return a decorator."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")

        def _add(value: T) -> T:
            if name in self._entries and not overwrite and self._entries[name] is not value:
                raise ValueError(
                    f"{self.kind} {name!r} is already registered; pass overwrite=True to replace it"
                )
            self._entries[name] = value
            return value

        if obj is None:
            return _add
        return _add(obj)

    def register_subclass(
        self,
        name: str,
        cls: type | None = None,
        *,
        base: type,
        check: Callable[[type], None] | None = None,
        overwrite: bool = False,
    ) -> Any:
        """Register ``cls``, a subclass of ``base``, under ``name`` and set ``cls.name = name``.

        Usable as a decorator (without ``cls``). ``check(cls)`` may raise to reject the class
        (e.g. a bad declared attribute) before anything is registered.
        """

        def _add(sub: type) -> type:
            if not (isinstance(sub, type) and issubclass(sub, base)):
                raise TypeError(
                    f"{self.kind} {name!r} must be a subclass of "
                    f"{base.__module__}.{base.__qualname__}, got {sub!r}"
                )
            if check is not None:
                check(sub)
            sub.name = name
            return self.register(name, sub, overwrite=overwrite)

        return _add if cls is None else _add(cls)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a no-op when it is absent)."""
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        """Return the entry for ``name``; raise ``KeyError`` with close matches if unknown."""
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        """The error text for an unknown ``name``, suggesting the nearest registered names."""
        close = difflib.get_close_matches(str(name), list(self._entries), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(sorted(self._entries)) or "(none)"
        return f"unknown {self.kind} {name!r}.{hint} Registered: {known}"

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._entries)

    def doc(self, name: str) -> str:
        """The entry's summary: its docstring's first paragraph (:func:`summary`)."""
        return summary(self.get(name))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


def call_registered(registry: Registry[Callable[..., T]], name: str, /, **kwargs: Any) -> T:
    """Build the entry ``name`` of ``registry`` with ``kwargs``."""
    return registry.get(name)(**kwargs)
