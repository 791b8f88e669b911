"""The name tables behind every extensible part of nasgym."""

from __future__ import annotations

import pytest

from nasgym.registry import Registry


def test_register_get_and_decorator():
    table: Registry[type] = Registry("widget")

    @table.register("round")
    class Round:
        """A round widget."""

    table.register("square", dict)
    assert table.get("round") is Round
    assert table.get("square") is dict
    assert table.names() == ["round", "square"]
    assert "round" in table and len(table) == 2
    assert table.doc("round") == "A round widget."

    @table.register("long")
    class Long:
        """A summary wrapped
        over two lines.

        Details that the summary leaves out.
        """

    assert table.doc("long") == "A summary wrapped over two lines."


def test_unknown_name_suggests_the_nearest():
    table: Registry[type] = Registry("widget")
    table.register("hypervolume", int)
    with pytest.raises(KeyError, match=r"unknown widget 'hypervolum'.*Did you mean 'hypervolume'"):
        table.get("hypervolum")


def test_duplicate_name_needs_overwrite():
    table: Registry[type] = Registry("widget")
    table.register("a", int)
    with pytest.raises(ValueError, match="already registered"):
        table.register("a", float)
    table.register("a", float, overwrite=True)
    assert table.get("a") is float


@pytest.mark.parametrize("bad", ["", None, 3])
def test_bad_names_are_rejected(bad):
    with pytest.raises(ValueError, match="non-empty string"):
        Registry("widget").register(bad, int)


def test_register_subclass_checks_names_and_rejects():
    class Base:
        name = ""

    table: Registry[type] = Registry("widget")

    @table.register_subclass("good", base=Base)
    class Good(Base):
        """A good widget."""

    assert table.get("good") is Good and Good.name == "good"
    with pytest.raises(TypeError, match=r"widget 'bad' must be a subclass of .*Base"):
        table.register_subclass("bad", int, base=Base)

    def refuse(cls: type) -> None:
        raise ValueError("refused")

    class Other(Base):
        pass

    with pytest.raises(ValueError, match="refused"):
        table.register_subclass("other", Other, base=Base, check=refuse)
    assert "other" not in table and "bad" not in table and Other.name == ""
