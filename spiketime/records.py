"""Typed records <-> JSON, driven by the dataclass field types: the one serializer.

A record is a dataclass that inherits `Record`: `to_dict()` gives the JSON-ready dict
and `Cls.from_dict(d)` reads one back, converting each value by its field's type
(nested records, `tuple[X, ...]`, `dict[str, X]`, `X | None`, int, bool; floats and
strings as they are). A key missing from `d` takes the field's default, so files from
before a field read back; keys a record does not know are ignored.

Field metadata (`json_field`) covers the shapes files already have on disk:
- key:       the JSON name, when it differs from the field's
- group:     fields sharing a group are written nested under that key (at the first one)
- flatten:   a nested record's keys are written into its parent's dict; an optional
             one counts as present when its first key is there
- omit_none: a None value is left out rather than written as null
A class may name its keys' order (`json_order`), when files hold them in another order
than the fields'. `init=False` fields are written and never read (constants).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any, ClassVar, Union


def json_field(*, key: str | None = None, group: str | None = None, flatten: bool = False,
               omit_none: bool = False, **kwargs) -> Any:
    """`dataclasses.field` with the JSON shape of the field (see the module docstring)."""
    meta = {"key": key, "group": group, "flatten": flatten, "omit_none": omit_none}
    return dataclasses.field(metadata={"json": meta}, **kwargs)


def _meta(f: dataclasses.Field) -> dict:
    return f.metadata.get("json", {})


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)  # each class's annotations in its own module


def _optional(tp: Any) -> tuple[Any, bool]:
    """(the type inside `X | None`, whether None is allowed)."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) < len(typing.get_args(tp)):
            return (args[0] if len(args) == 1 else tp), True  # X | Y | None: as it is
    return tp, False


class Record:
    """Mixin: `to_dict` and `from_dict` by the field types (see the module docstring)."""

    json_order: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        return _write(self)

    @classmethod
    def from_dict(cls, d: dict):
        return _read(cls, d)


def to_json(value: Any) -> Any:
    """A value as JSON holds it: records as dicts, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.to_dict() if isinstance(value, Record) else _write(value)
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def _write(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        meta, value = _meta(f), getattr(obj, f.name)
        if value is None and meta.get("omit_none"):
            continue
        if meta.get("flatten"):
            if value is not None:
                out.update(to_json(value))
            continue
        target = out
        if meta.get("group"):
            target = out.setdefault(meta["group"], {})
        target[meta.get("key") or f.name] = to_json(value)
    order = getattr(obj, "json_order", ())
    return {**{k: out[k] for k in order if k in out}, **out} if order else out


def _read(cls: type, d: dict) -> Any:
    if not isinstance(d, dict):
        raise TypeError(f"{cls.__name__}: expected an object, got {type(d).__name__}")
    hints, kwargs = _hints(cls), {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        meta = _meta(f)
        tp, optional = _optional(hints[f.name])
        if meta.get("flatten"):
            first = _first_key(tp)
            if optional and first not in d:
                kwargs[f.name] = None
            else:
                kwargs[f.name] = from_json(tp, d)
            continue
        source = d.get(meta["group"], {}) if meta.get("group") else d
        key = meta.get("key") or f.name
        if key not in source:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise KeyError(key)
            continue  # the default
        kwargs[f.name] = from_json(hints[f.name], source[key])
    return cls(**kwargs)


def _first_key(cls: type) -> str:
    f = dataclasses.fields(cls)[0]
    return _meta(f).get("key") or f.name


def from_json(tp: Any, value: Any) -> Any:
    """`value` (as JSON holds it) converted to the type `tp`."""
    inner, optional = _optional(tp)
    if value is None and optional:
        return None
    tp = inner
    if dataclasses.is_dataclass(tp):
        return tp.from_dict(value) if issubclass(tp, Record) else _read(tp, value)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_json(args[0], v) for v in value)
        if args:
            if len(value) != len(args):
                raise ValueError(f"expected {len(args)} values, got {len(value)}")
            return tuple(from_json(a, v) for a, v in zip(args, value))
        return tuple(value)
    if origin is list:
        return [from_json(args[0], v) for v in value] if args else list(value)
    if origin is dict:
        return {k: from_json(args[1], v) for k, v in value.items()} if args else dict(value)
    if tp is int:
        return int(value)
    if tp is bool:
        return bool(value)
    return value  # float, str, Any, plain dict: as JSON holds them
