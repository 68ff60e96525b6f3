"""scanner.quickinit.quick_init: the faster __init__ builds exactly what the dataclass's own would
(fields, defaults, a fresh default_factory value per object), and the class stays frozen."""
from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from rules import _nsg, vm_state
from scanner import engine, model, readiness, vocabulary
from scanner.quickinit import frozen_dataclass, quick_init


@frozen_dataclass(frozen=True, slots=True)
class Slotted:
    a: str
    b: int
    c: dict[str, Any] = field(default_factory=dict)
    d: str | None = None
    e: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SlottedAsDataclasses:  # the same class built by dataclasses alone
    a: str
    b: int
    c: dict[str, Any] = field(default_factory=dict)
    d: str | None = None
    e: tuple[str, ...] = ()


@frozen_dataclass(frozen=True, slots=True)
class Plain:
    a: str
    b: list[int] = field(default_factory=list)
    c: int = 3


@dataclass(frozen=True, slots=True)
class PlainAsDataclasses:
    a: str
    b: list[int] = field(default_factory=list)
    c: int = 3


@pytest.mark.parametrize("quick, reference", [(Slotted, SlottedAsDataclasses), (Plain, PlainAsDataclasses)])
@pytest.mark.parametrize("args, kwargs", [(("x", 1), {}), (("x",), {"b": [2]}), (("x", 1, {"k": 1}, "d", ("e",)), {}),
                                          ((), {"a": "x", "b": 2})])
def test_it_builds_what_the_dataclass_builds(quick, reference, args, kwargs):
    n = len(dataclasses.fields(quick))
    args, kwargs = args[:n], {k: v for k, v in kwargs.items() if k in {f.name for f in dataclasses.fields(quick)}}
    got, want = quick(*args, **kwargs), reference(*args, **kwargs)
    assert dataclasses.astuple(got) == dataclasses.astuple(want)
    assert got == quick(*args, **kwargs) and hash(dataclasses.astuple(got)[0]) == hash(dataclasses.astuple(want)[0])
    assert repr(got).replace(quick.__qualname__, "X") == repr(want).replace(reference.__qualname__, "X")


def test_a_default_factory_gives_each_object_its_own_value():
    assert Slotted("x", 1).c == {} and Slotted("x", 1).c is not Slotted("x", 1).c
    assert Plain("x").b is not Plain("x").b


def test_the_class_stays_a_frozen_dataclass():
    obj = Slotted("x", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        obj.a = "y"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Plain("x").c = 4  # type: ignore[misc]
    assert dataclasses.replace(obj, b=2) == Slotted("x", 2)
    assert pickle.loads(pickle.dumps(obj)) == obj
    assert not hasattr(obj, "__dict__")  # slots kept


def test_missing_or_unknown_arguments_fail_as_they_would():
    with pytest.raises(TypeError):
        Slotted("x")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Slotted("x", 1, z=1)  # type: ignore[call-arg]


def test_what_it_cannot_mirror_is_refused():
    with pytest.raises(TypeError):
        frozen_dataclass(frozen=False)
    with pytest.raises(TypeError):
        frozen_dataclass(frozen=True, slots=False)
    with pytest.raises(TypeError):
        @quick_init
        @dataclass(frozen=True, init=False)
        class NoSlots:
            a: str
    with pytest.raises(TypeError):
        @quick_init
        @dataclass(slots=True, init=False)
        class NotFrozen:
            a: str
    with pytest.raises(TypeError):
        @quick_init
        @dataclass(frozen=True, slots=True, init=False)
        class KeywordOnly:
            a: str = field(kw_only=True)
    with pytest.raises(TypeError):
        @quick_init
        @dataclass(frozen=True, slots=True, init=False)
        class NotInInit:
            a: str = field(default="", init=False)
    with pytest.raises(TypeError):
        @quick_init
        @dataclass(frozen=True, slots=True, init=False)
        class WithClassVar:
            a: str
            b: ClassVar[int] = 1
    with pytest.raises(TypeError):
        @quick_init
        @dataclass(frozen=True, slots=True, init=False)
        class PostInit:
            a: str

            def __post_init__(self) -> None:
                pass
    with pytest.raises(TypeError):
        @quick_init
        @dataclass(frozen=True, slots=True, init=False)
        class DefaultFirst:
            a: str = ""
            b: str  # type: ignore[misc]


@pytest.mark.parametrize("cls", [vocabulary.Result, engine.Finding, model.Finding, readiness.Verdict,
                                 readiness.VmReadiness, _nsg.Flow, _nsg.Verdict, vm_state.ProtectedVm])
def test_the_classes_that_use_it_take_every_field_by_name(cls):
    names = [f.name for f in dataclasses.fields(cls)]
    assert list(cls.__init__.__code__.co_varnames[1:cls.__init__.__code__.co_argcount]) == names


def test_an_undocumented_class_gets_the_docstring_dataclasses_gives():
    assert Plain.__doc__ == PlainAsDataclasses.__doc__.replace("PlainAsDataclasses", "Plain")
