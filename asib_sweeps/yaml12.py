"""YAML as a person types numbers: scalars resolved by the YAML 1.2 core schema, safely.

PyYAML implements YAML 1.1, whose resolvers read `1e-4` and `1e6` as strings (a 1.1
float needs a dot), `010` as octal 8, `0b11` as binary and `yes`/`on` as booleans;
YAML 1.2 (2009) and every reader a user compares with (JSON, Python, ruamel) read them
as 0.0001, 1000000.0, 10, a string and strings. `load` is `yaml.safe_load` (no object
construction) with the 1.2 core schema's resolvers for null, bool, int and float.

Every failure is a `YamlError` naming the source: invalid YAML, bytes that are not
UTF-8, and a self-referencing anchor (`a: &x [*x]`), which safe_load builds as a
cyclic list that would later recurse without end.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml


class YamlError(ValueError):
    """Text that is not a YAML document this project can use; the message names its source."""


class Yaml12SafeLoader(yaml.SafeLoader):
    """safe_load's constructors with the YAML 1.2 core schema's implicit scalar types."""


Yaml12SafeLoader.yaml_implicit_resolvers = {}  # drop the 1.1 resolvers inherited from SafeLoader
_RESOLVERS = (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+.0123456789"),
    ),
)
for _tag, _pattern, _first in _RESOLVERS:
    Yaml12SafeLoader.add_implicit_resolver(_tag, re.compile(_pattern), _first)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """Decimal (leading zeros are decimal: `010` is 10), `0o` octal and `0x` hexadecimal."""
    text = str(loader.construct_scalar(node))
    if text.startswith(("0o", "0x")):
        return int(text, 0)
    return int(text, 10)


Yaml12SafeLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load(text: str | bytes, source: str) -> Any:
    """Parse one YAML document with the 1.2 core schema; YamlError names `source` on any failure."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise YamlError(f"{source} is not UTF-8 text (byte {error.start}: {error.reason})") from None
    try:
        loaded = yaml.load(text, Loader=Yaml12SafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise YamlError(f"{source} is not valid YAML: {error}") from None
    _refuse_cycles(loaded, source, ())
    return loaded


def load_file(path: Path) -> Any:
    """`load` of a file's bytes; an unreadable file is a YamlError too."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise YamlError(f"{path} cannot be read: {error.strerror}") from None
    return load(data, str(path))


def _refuse_cycles(value: Any, source: str, path: tuple[int, ...]) -> None:
    if not isinstance(value, (dict, list)):
        return
    if id(value) in path:
        raise YamlError(f"{source}: an anchor refers to itself (a value that contains itself has no finite form)")
    children = value.values() if isinstance(value, dict) else value
    for child in children:
        _refuse_cycles(child, source, (*path, id(value)))
