"""Typed node configurations <-> flat ROS 2 parameters <-> ROS params YAML files.

One dataclass per node is the single source of every parameter: the node declares each field
with its default (``declare_parameter(name, default)``), reads the values back into the
dataclass, and ``configs/ros/*.yaml`` (the ``--params-file`` format,
``<node>: {ros__parameters: {...}}``) is checked against the same dataclass in tests. Nested
dataclasses become dotted names (``safety.heartbeat_timeout_s``), as ROS 2 flattens nested YAML.

A field made with :func:`param` also carries what ``ros2 param describe`` shows: a description,
an inclusive range for a number (ROS refuses values outside it, at start and on ``param set``;
:func:`config_from_params` does the same without ROS) and whether it is read-only.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One ROS parameter of a config: its default and its descriptor's contents."""

    default: Any
    description: str
    range: tuple[float, float] | tuple[int, int] | None = None  # inclusive; numbers only
    read_only: bool | None = None  # None: the node decides (see vla_ros.ros_glue)


def param(
    default: Any = dataclasses.MISSING,
    *,
    default_factory: Any = dataclasses.MISSING,
    description: str,
    range: tuple[float, float] | tuple[int, int] | None = None,  # noqa: A002 (ROS's word)
    read_only: bool | None = None,
):
    """A config dataclass field that is a ROS parameter with a descriptor (see the module doc)."""
    if range is not None and not (isinstance(range, tuple) and len(range) == 2):
        raise ValueError(f"range must be (low, high), got {range!r}")
    meta = {"description": description, "range": range, "read_only": read_only}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def param_specs(config) -> dict[str, ParamSpec]:
    """Flat {parameter name: ParamSpec} of a config dataclass (class or instance), nested
    dataclasses included. A field made without :func:`param` is described by its name and
    default."""
    config = config() if isinstance(config, type) else config
    out: dict[str, ParamSpec] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out.update({f"{f.name}.{k}": v for k, v in param_specs(value).items()})
            continue
        value = list(value) if isinstance(value, tuple) else value
        meta = f.metadata
        description = meta.get("description") or (
            f"{type(config).__name__}.{f.name} (default {value!r})"
        )
        out[f.name] = ParamSpec(value, description, meta.get("range"), meta.get("read_only"))
    return out


def _check_range(name: str, value: Any, spec_range) -> None:
    if spec_range is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    low, high = spec_range
    if not low <= value <= high:
        raise ValueError(
            f"parameter {name!r} = {value!r} is outside its range [{low}, {high}] "
            "(`ros2 param describe` shows it); choose a value inside"
        )


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1} (how ROS 2 names nested parameters)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def param_defaults(config) -> dict[str, Any]:
    """Flat {parameter name: value} of a (nested) config dataclass instance."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out.update({f"{f.name}.{k}": v for k, v in param_defaults(value).items()})
        else:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def _check_type(name: str, value: Any, default: Any) -> Any:
    # ROS 2 parameters are strictly typed: a double parameter given `10` in YAML fails at
    # start-up on the robot, so catch it here with the fix in the message.
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, float)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, (list, tuple)):
        ok = (
            isinstance(value, (list, tuple))
            and bool(value)
            and all(type(v) is type(default[0]) for v in value)
            if default
            else isinstance(value, (list, tuple))
        )
    else:
        ok = True
    if not ok:
        raise TypeError(
            f"parameter {name!r}: got {value!r} ({type(value).__name__}), expected the type of "
            f"its default {default!r}; ROS 2 parameters are strictly typed (write 10.0, not 10)"
        )
    return list(value) if isinstance(value, tuple) else value


def config_from_params(
    cls: type[T], params: dict[str, Any], *, strict: bool = True, prefix: str = ""
) -> T:
    """Build config ``cls`` from flat parameters; unknown names raise when ``strict``."""
    defaults = param_defaults(cls())
    if strict:
        unknown = [prefix + u for u in sorted(set(params) - set(defaults))]
        if unknown:
            raise KeyError(
                f"unknown parameters {unknown} for {cls.__name__}; known: {sorted(defaults)}"
            )
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        sub = hints[f.name]
        if dataclasses.is_dataclass(sub):
            head = f.name + "."
            nested = {k[len(head) :]: v for k, v in params.items() if k.startswith(head)}
            kwargs[f.name] = config_from_params(sub, nested, strict=strict, prefix=prefix + head)
        elif f.name in params:
            kwargs[f.name] = _check_type(prefix + f.name, params[f.name], defaults[f.name])
            _check_range(prefix + f.name, kwargs[f.name], f.metadata.get("range"))
    return cls(**kwargs)


def load_params_file(path: str | Path, node_name: str) -> dict[str, Any]:
    """The flat ``ros__parameters`` of ``node_name`` in a ROS 2 params YAML file."""
    import yaml

    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    for key in (node_name, "/" + node_name, "/**"):
        if key in doc:
            section = doc[key]
            if "ros__parameters" not in section:
                raise ValueError(f"{path}: section {key!r} lacks 'ros__parameters'")
            return flatten(section["ros__parameters"])
    raise KeyError(f"{path} has no section for node {node_name!r}; sections: {list(doc)}")
