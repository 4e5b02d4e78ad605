"""JSON Schema (draft-07) derived from the status types, never written by hand.

What this module is for: :func:`json_schema` walks a ``TypedDict`` (with
``typing.get_type_hints``) and gives the JSON Schema of the JSON it describes, so that
``STATUS_SCHEMA``, the EOS CLI extension's ``outputSchema``s and the tests all follow
:mod:`eos_vmtracer.status_types`. It uses only what draft-07 validators agree on:
``type``, ``properties``, ``required``, ``additionalProperties``, ``items``, ``enum``,
``const``, ``minimum``/``maximum``, ``pattern``, ``anyOf`` and ``description``; no
``$ref``, no ``format``. Every ``TypedDict`` is a closed object
(``additionalProperties: false``); a ``Dict[str, X]`` is an open one.

It must never import an adapter, and never guess: a type it does not know raises
``TypeError``.
"""

from __future__ import annotations

import enum
import typing
from typing import Any, Dict, List, Union

from eos_vmtracer.status_types import Bounds, Const, Pattern, Words

DRAFT_07 = "http://json-schema.org/draft-07/schema#"

_SCALARS: Dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _description(tp: type) -> str:
    doc = (tp.__doc__ or "").replace("``", "")
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _object(tp: type) -> Dict[str, Any]:
    hints = typing.get_type_hints(tp, include_extras=True)
    required = sorted(k for k in hints if k in tp.__required_keys__)  # type: ignore[attr-defined]
    out: Dict[str, Any] = {"type": "object"}
    description = _description(tp)
    if description and not description.startswith(("dict(", "A TypedDict")):
        out["description"] = description
    out["required"] = required
    out["properties"] = {name: _schema(hint) for name, hint in hints.items()}
    out["additionalProperties"] = False
    return out


def _annotated(base: Any, marks: tuple[Any, ...]) -> Dict[str, Any]:
    out = _schema(base)
    for mark in marks:
        if isinstance(mark, Words):
            out["enum"] = list(mark.words)
        elif isinstance(mark, Bounds):
            out["minimum"] = mark.minimum
            out["maximum"] = mark.maximum
        elif isinstance(mark, Pattern):
            out["pattern"] = mark.regex
        elif isinstance(mark, Const):
            out["const"] = mark.value
        else:
            raise TypeError(f"unknown annotation {mark!r}")
    return out


def _schema(tp: Any) -> Dict[str, Any]:
    if tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    if tp is type(None):
        return {"type": "null"}
    if _is_typeddict(tp):
        return _object(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"type": "string", "enum": [str(m.value) for m in tp]}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return _annotated(args[0], tuple(tp.__metadata__))
    if origin is typing.Literal:
        kinds = {type(a) for a in args}
        if len(kinds) != 1 or next(iter(kinds)) not in _SCALARS:
            raise TypeError(f"mixed or unknown literal {tp!r}")
        return {"type": _SCALARS[next(iter(kinds))], "enum": list(args)}
    if origin is Union:
        members = [a for a in args if a is not type(None)]
        nullable = len(members) < len(args)
        if len(members) == 1 and members[0] in _SCALARS and nullable:
            return {"type": [_SCALARS[members[0]], "null"]}
        options = [_schema(a) for a in members] + ([{"type": "null"}] if nullable else [])
        return {"anyOf": options}
    if origin in (list, List):
        return {"type": "array", "items": _schema(args[0])}
    if origin in (dict, Dict):
        if args[0] is not str:
            raise TypeError(f"JSON object keys are strings, not {args[0]!r}")
        return {"type": "object", "additionalProperties": _schema(args[1])}
    raise TypeError(f"no JSON Schema for {tp!r}")


def json_schema(tp: type, *, top: bool = True) -> Dict[str, Any]:
    """The draft-07 JSON Schema of the JSON that the ``TypedDict`` ``tp`` describes."""
    if not _is_typeddict(tp):
        raise TypeError(f"{tp!r} is not a TypedDict")
    out = _object(tp)
    return {"$schema": DRAFT_07, **out} if top else out
