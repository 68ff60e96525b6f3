"""Configuration: `az-bcdr-scan.toml`, or `[tool.az-bcdr-scan]` in pyproject.toml, or `--config FILE`.

    fail_on = "high"                      # severity at or above which the scan exits non-zero
    disable = ["BCDR103", "vault-immutability-off"]

    [rules.BCDR501]                       # a rule code or its slug
    severity = "high"
    [rules.BCDR501.params]
    limit = 18                            # type and bounds checked against the rule's Param
    [rules.backup-job-stuck]
    enabled = false

Lookup: an explicit path wins (missing or unreadable is an error); else `az-bcdr-scan.toml` in the
working directory; else the `[tool.az-bcdr-scan]` table of its pyproject.toml; else defaults.
Only one source is read: the dedicated file wins over pyproject.toml.

Everything is validated before a single API call is made, and every problem is a ConfigError with
one line that names the file and the key. Unknown keys, rule codes and parameter names are errors:
a typo must not silently leave a rule at its default.
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from rules import Param, Rule, load_all

from .engine import RuleSettings
from .vocabulary import SEVERITIES

FILE_NAME = "az-bcdr-scan.toml"
PYPROJECT = "pyproject.toml"
PYPROJECT_TABLE = ("tool", "az-bcdr-scan")
TOP_LEVEL_KEYS = ("fail_on", "disable", "rules")
RULE_KEYS = ("enabled", "severity", "params")


class ConfigError(ValueError):
    """A configuration problem, as one line: `<file>: <key>: <problem>`."""

    def __init__(self, problem: str, key: str = "", path: str | Path | None = None):
        self.problem = problem
        self.key = key
        self.path = str(path) if path is not None else ""
        parts = [p for p in (self.path, key, problem) if p]
        # One line whatever the input: a key or value may carry a newline.
        super().__init__(": ".join(parts).replace("\r", "\\r").replace("\n", "\\n"))


@dataclass(frozen=True)
class Config:
    source: Path | None = None  # the file read, None when defaults
    fail_on: str | None = None  # None: not set here (the CLI applies its own default)
    rule_settings: dict[str, RuleSettings] = field(default_factory=dict)  # code -> settings, configured rules only

    @property
    def disabled(self) -> frozenset[str]:
        return frozenset(code for code, s in self.rule_settings.items() if s.enabled is False)


def load_config(path: str | Path | None, cwd: Path) -> Config:
    """Read and validate the configuration (see the module docstring for the lookup order)."""
    cwd = Path(cwd)
    if path is not None:
        explicit = Path(path)
        if not explicit.is_absolute():
            explicit = cwd / explicit
        data = _read(explicit, str(path))
        prefix: tuple[str, ...] = ()
        if explicit.name == PYPROJECT:
            table, prefix = _tool_table(data, str(path)), PYPROJECT_TABLE
            if table is None:
                raise ConfigError(f"no [{'.'.join(PYPROJECT_TABLE)}] table", path=str(path))
            data = table
        return _parse(data, explicit, str(path), prefix)
    dedicated = cwd / FILE_NAME
    if dedicated.exists():
        return _parse(_read(dedicated, FILE_NAME), dedicated, FILE_NAME, ())
    pyproject = cwd / PYPROJECT
    if pyproject.exists():
        table = _tool_table(_read(pyproject, PYPROJECT), PYPROJECT)
        if table is not None:
            return _parse(table, pyproject, PYPROJECT, PYPROJECT_TABLE)
    return Config()


# --------------------------------------------------------------------------- reading
def _read(path: Path, display: str) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", path=display) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a file", path=display) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", path=display) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", path=display) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=display) from None


def _tool_table(data: Mapping[str, Any], display: str) -> dict[str, Any] | None:
    node: Any = data
    for i, part in enumerate(PYPROJECT_TABLE):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
        if not isinstance(node, Mapping):
            raise ConfigError(f"expected a table, got {_kind(node)}", _key(PYPROJECT_TABLE[: i + 1]), display)
    return dict(node)


# --------------------------------------------------------------------------- validation
def _parse(data: Mapping[str, Any], source: Path, display: str, prefix: tuple[str, ...]) -> Config:
    registry = load_all()
    by_slug = {rule.meta.slug: code for code, rule in registry.items()}

    def err(problem: str, *key: str) -> ConfigError:
        return ConfigError(problem, _key(prefix + key), display)

    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise err(f"unknown key (expected one of: {', '.join(TOP_LEVEL_KEYS)})", key)

    fail_on = None
    if "fail_on" in data:
        fail_on = _severity(data["fail_on"], lambda p: err(p, "fail_on"))

    def resolve(name: Any, *key: str) -> str:
        if not isinstance(name, str):
            raise err(f"expected a rule code or slug, got {_kind(name)}", *key)
        code = name.upper() if name.upper() in registry else by_slug.get(name.lower())
        if code is None:
            raise err(f"unknown rule {name!r}{_suggest(name, registry, by_slug)}", *key)
        return code

    disabled: dict[str, str] = {}
    if "disable" in data:
        items = data["disable"]
        if not isinstance(items, list):
            raise err(f"expected a list of rule codes or slugs, got {_kind(items)}", "disable")
        for i, name in enumerate(items):
            disabled.setdefault(resolve(name, f"disable[{i}]"), str(name))

    settings: dict[str, RuleSettings] = {}
    written_as: dict[str, str] = {}
    rules_table = data.get("rules", {})
    if not isinstance(rules_table, Mapping):
        raise err(f"expected a table, got {_kind(rules_table)}", "rules")
    for name, body in rules_table.items():
        code = resolve(name, "rules", name)
        if code in written_as:
            raise err(f"rule {code} is configured twice (also as rules.{written_as[code]})", "rules", name)
        written_as[code] = name
        rule = registry[code]
        if not isinstance(body, Mapping):
            raise err(f"expected a table, got {_kind(body)}", "rules", name)
        for key in body:
            if key not in RULE_KEYS:
                raise err(f"unknown key (expected one of: {', '.join(RULE_KEYS)})", "rules", name, key)
        enabled: bool | None = None  # not said: the rule's own default (RuleMeta.enabled_by_default)
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise err(f"expected true or false, got {_kind(body['enabled'])}", "rules", name, "enabled")
            enabled = body["enabled"]
            if enabled and code in disabled:
                raise err(f"true contradicts disable = [..., {disabled[code]!r}]", "rules", name, "enabled")
        severity = None
        if "severity" in body:
            severity = _severity(body["severity"], lambda p: err(p, "rules", name, "severity"))
        params: dict[str, Any] = {}
        if "params" in body:
            if not isinstance(body["params"], Mapping):
                raise err(f"expected a table, got {_kind(body['params'])}", "rules", name, "params")
            params = _params(rule, body["params"], lambda p, pname: err(p, "rules", name, "params", pname))
        settings[code] = RuleSettings(enabled=False if code in disabled else enabled, severity=severity, params=params)
    for code in disabled:
        if code not in settings:
            settings[code] = RuleSettings(enabled=False)
    return Config(source=source, fail_on=fail_on, rule_settings=settings)


def _severity(value: Any, err) -> str:
    if not isinstance(value, str):
        raise err(f"expected a severity ({', '.join(SEVERITIES)}), got {_kind(value)}")
    if value.lower() not in SEVERITIES:
        raise err(f"{value!r} is not a severity (expected one of: {', '.join(SEVERITIES)})")
    return value.lower()


def _params(rule: Rule, given: Mapping[str, Any], err) -> dict[str, Any]:
    declared = {p.name: p for p in rule.meta.params}
    out: dict[str, Any] = {}
    for name, value in given.items():
        param = declared.get(name)
        if param is None:
            known = ", ".join(declared) or "none"
            raise err(f"unknown parameter for {rule.meta.code} (parameters: {known})", name)
        out[name] = _param_value(param, value, lambda p: err(p, name))
    return out


def _param_value(param: Param, value: Any, err) -> Any:
    kind = param.type
    if kind is bool:
        if not isinstance(value, bool):
            raise err(f"expected true or false, got {_kind(value)}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise err(f"expected an integer, got {_kind(value)}")
    elif kind is float:
        # TOML writes 24 for 24.0; an integer is a fine value for a float parameter.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise err(f"expected a number, got {_kind(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise err(f"{value} is not a finite number")
        value = float(value)
    elif kind is str:
        if not isinstance(value, str):
            raise err(f"expected a string, got {_kind(value)}")
        return _string_param(param, value, err)
    else:  # pragma: no cover - a Param with another default type would be a rule bug
        raise err(f"parameter type {kind.__name__} is not configurable")
    if param.minimum is not None and value < param.minimum:
        raise err(f"{_num(value)} is below the minimum {_num(param.minimum)}")
    if param.maximum is not None and value > param.maximum:
        raise err(f"{_num(value)} is above the maximum {_num(param.maximum)}")
    return value


def _string_param(param: Param, value: str, err) -> str:
    # Param has no "choices"; two naming conventions carry the constraint instead. A severity
    # parameter with a typo would put an unknown severity in the report, and a regular expression
    # that does not compile would make the rule raise at evaluation: both are caught here, before
    # the scan starts.
    if param.name.endswith("severity") and param.default in SEVERITIES:
        return _severity(value, err)
    if param.name.endswith("pattern"):
        try:
            re.compile(value)
        except re.error as exc:
            raise err(f"not a valid regular expression: {exc}") from None
    return value


# --------------------------------------------------------------------------- messages
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(parts: tuple[str, ...]) -> str:
    """A TOML dotted key as the user would write it (quoted where a part is not a bare key)."""
    out = []
    for part in parts:
        if part.startswith("disable["):  # a list position, not a key
            out.append(part)
        elif _BARE_KEY.match(part):
            out.append(part)
        else:
            out.append('"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return ".".join(out)


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array", dict: "a table"}
    name = names.get(type(value), type(value).__name__)
    if isinstance(value, (bool, int, float)):
        return f"{name} ({str(value).lower() if isinstance(value, bool) else value})"
    if isinstance(value, str):
        return f"{name} ({value!r})"
    return name


def _num(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _suggest(name: str, registry: Mapping[str, Rule], by_slug: Mapping[str, str]) -> str:
    import difflib
    close = difflib.get_close_matches(name, list(registry) + list(by_slug), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""
