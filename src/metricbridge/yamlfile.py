"""YAML files people keep in git (scenarios, criteria): safe loading with the line of every field."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from metricbridge.errors import MetricBridgeError

if TYPE_CHECKING:  # PyYAML is imported when a file is read, not with the types that use it
    import yaml

__all__ = ["FieldPath", "Lines", "read_yaml", "field_message"]

FieldPath = tuple[str | int, ...]


class Lines:
    """Line numbers (1-based) of every key and item in a YAML document, by path."""

    def __init__(self, node: yaml.Node | None) -> None:
        self.lines: dict[FieldPath, int] = {}
        if node is not None:
            self._walk(node, ())

    def _walk(self, node: yaml.Node, path: FieldPath) -> None:
        import yaml

        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self.lines[(*path, str(key.value))] = key.start_mark.line + 1
                self._walk(value, (*path, str(key.value)))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, (*path, index))

    def at(self, path: FieldPath) -> int | None:
        """The line of ``path``, or of its nearest parent that has one."""
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)


def field_message(source: str, lines: Lines, path: FieldPath, message: str, *, whole: str) -> str:
    """'file.yaml, line 7: status_quo[0].recall: must be at most 1': the file, the line, the field."""
    name = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")
    line = lines.at(path)
    return f"{source}{f', line {line}' if line else ''}: {name or whole}: {message}"


def read_yaml(source: str | Path, text: str | None, error: type[MetricBridgeError], what: str) -> tuple[
        str, Any, Lines]:
    """(name for messages, data, lines) of a YAML file (or ``text`` named ``source``); ``error`` for any
    problem, naming the file and line. Only plain YAML is read (safe loader: nothing is executed)."""
    import yaml

    name = Path(source).name if text is None else str(source)
    if text is None:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as problem:
            raise error(f"{name}: cannot be read ({problem.strerror}).") from problem
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise error(f"{name}{where}: is not valid YAML ({getattr(problem, 'problem', problem)}).") from problem
    if data is None:
        raise error(f"{name}: is empty; {what}.")
    return name, data, Lines(node)
