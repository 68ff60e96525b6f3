"""A faster `__init__` for the frozen dataclasses built by the ten thousand during an evaluation
(rule results, findings, readiness rows, NSG flows and verdicts).

A frozen dataclass's generated `__init__` sets each field with `object.__setattr__`, looked up
anew for every field: on Python 3.11 that is most of the cost of building the object (a Result,
11 fields: ~890 ns, against ~140 ns for the same class unfrozen). `quick_init` gives a slotted one
an `__init__` of the same parameters, defaults and default factories that stores each field where
`object.__setattr__` would have, through the slot's own descriptor (~520 ns). Nothing else
changes: the class is the same frozen dataclass (assigning to a field still raises
FrozenInstanceError), `dataclasses.replace`, `fields`, equality, hashing and pickling work as
before.

Declare the class with `@frozen_dataclass(frozen=True, slots=True)` instead of `@dataclass(...)`:
it is `dataclass(frozen=True, slots=True, init=False)` (dataclasses then does not compile an
`__init__` of its own that would be thrown away) followed by `quick_init`, and type checkers see
it as the dataclass it is (typing.dataclass_transform: they check calls against the fields).

A class it cannot mirror exactly (no slots, an InitVar or ClassVar, a keyword-only or init=False
field, a `__post_init__`) is refused with TypeError at import, never half-handled.
"""
from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, TypeVar, cast, dataclass_transform

T = TypeVar("T", bound=type)


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen_dataclass(*, frozen: bool = True, slots: bool = True) -> Callable[[T], T]:
    """`@dataclass(frozen=True, slots=True)` with `quick_init`'s `__init__`. `frozen` and `slots` must
    be True (spelled at the call site, so that type checkers treat the class as frozen)."""
    if not (frozen and slots):
        raise TypeError("frozen_dataclass is for frozen, slotted dataclasses")

    def build(cls: T) -> T:
        documented = cls.__dict__.get("__doc__") is not None
        out = quick_init(cast(T, dataclasses.dataclass(frozen=True, slots=True, init=False)(cls)))
        if not documented:  # what dataclasses writes there, from the __init__ it would have made
            out.__doc__ = out.__name__ + str(inspect.signature(out)).replace(" -> None", "")
        return out
    return build


class _Factory:
    """The default of a parameter whose field has a default_factory (as dataclasses does)."""

    __slots__ = ("factory",)

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def __repr__(self) -> str:
        return "<factory>"


def quick_init(cls: T) -> T:
    """Class decorator, applied over `@dataclass(frozen=True, slots=True, init=False)` (see frozen_dataclass)."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"{cls.__qualname__}: quick_init is for frozen dataclasses")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__qualname__}: quick_init does not run __post_init__")
    fields = dataclasses.fields(cls)
    if len(fields) != len(getattr(cls, "__dataclass_fields__")) or any(not f.init or f.kw_only for f in fields):
        raise TypeError(f"{cls.__qualname__}: quick_init handles plain fields only "
                        "(no InitVar, ClassVar, kw_only or init=False field)")
    names = [f.name for f in fields]
    if "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__qualname__}: quick_init is for slotted dataclasses")
    scope: dict[str, Any] = {}
    defaults: list[Any] = []
    body = []
    for i, field in enumerate(fields):
        if field.default is not dataclasses.MISSING:
            defaults.append(field.default)
        elif field.default_factory is not dataclasses.MISSING:
            defaults.append(scope.setdefault(f"_factory{i}", _Factory(field.default_factory)))
            body.append(f"    if {field.name} is _factory{i}:\n        {field.name} = _factory{i}.factory()\n")
        elif defaults:
            raise TypeError(f"{cls.__qualname__}.{field.name}: a field without a default follows one with a default")
        member = cls.__dict__.get(field.name)
        if type(member).__name__ != "member_descriptor":
            raise TypeError(f"{cls.__qualname__}.{field.name}: not a slot")
        scope[f"_set{i}"] = getattr(member, "__set__")
        body.append(f"    _set{i}(self, {field.name})\n")
    if set(names) & ({"self"} | set(scope)):
        raise TypeError(f"{cls.__qualname__}: a field name clashes with quick_init's own names")
    source = f"def __init__(self, {', '.join(names)}):\n{''.join(body) or '    pass'}\n"
    exec(source, scope)  # noqa: S102 - built from the dataclass's own field names, as dataclasses does
    init = scope["__init__"]
    init.__defaults__ = tuple(defaults) or None
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = {f.name: f.type for f in fields} | {"return": None}
    setattr(cls, "__init__", init)
    return cls
