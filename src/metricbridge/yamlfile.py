"""YAML files people keep in git (scenarios, criteria): safe loading with the line of every field.

A file is read as bytes and decoded here (UTF-8 with or without a BOM, UTF-16 or UTF-32 with a BOM, else
Windows-1252 or Latin-1, named in any message about the file); NUL bytes without a BOM mean it is not text.
Its cost is bounded before any Python object is built (limits.yaml_bytes, yaml_aliases, yaml_nodes,
yaml_depth): the composer counts every alias use and node as if the aliases were written out, and refuses a
recursive alias. It also refuses what PyYAML would silently accept or turn into a traceback: duplicate keys
(PyYAML keeps the last), keys that are not text, tags outside plain YAML (nothing in a file is ever run),
numbers written with hundreds of digits, and dates that are not days of the calendar (kept as text, so the
field that holds them says what is wrong).
"""

from __future__ import annotations

import functools
import math
import re
import reprlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metricbridge.errors import MetricBridgeError
from metricbridge.limits import LIMITS

if TYPE_CHECKING:  # PyYAML is imported when a file is read, not with the types that use it
    import yaml

__all__ = ["FieldPath", "Lines", "read_yaml", "field_message", "decode_yaml", "shown", "described", "figure",
           "not_a_number"]

FieldPath = tuple[str | int, ...]

# A figure here is at most 1e12 (limits.py); a number written with more characters than this is a mistake,
# and reading one costs time that grows with the square of its length (Python caps int() at 4300 digits).
_NUMBER_CHARS = 100
# The characters YAML allows in a stream (PyYAML's reader refuses the others, with a position, not a line).
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BOMS = ((b"\xef\xbb\xbf", "utf-8", "UTF-8"), (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32 LE"),
         (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32 BE"), (b"\xff\xfe", "utf-16-le", "UTF-16 LE"),
         (b"\xfe\xff", "utf-16-be", "UTF-16 BE"))
_STANDARD = "tag:yaml.org,2002:"


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlong, _SHORT.maxlevel = 40, 2
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 5


def shown(value: Any) -> str:
    """``value`` as a message shows it: its repr, cut short (a field may hold a long text or a deep list)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 1000:
        return figure(value)  # repr() refuses ints of more than 4300 digits
    return _SHORT.repr(value)


def described(value: Any) -> str:
    """What a value is, in words: 'a list', 'text ('abc')', 'a number (3)', 'empty'."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"yes/no ({'yes' if value else 'no'})"
    if isinstance(value, int | float):
        return f"a number ({shown(value)})"
    if isinstance(value, str):
        return f"text ({shown(value)})"
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, Mapping) else f"{type(value).__name__} {shown(value)}"


def not_a_number(raw: Any) -> str:
    """'must be a number, not 'lots'.', with the fix when YAML read a number as text (1e6, 1,000)."""
    hint = ""
    if isinstance(raw, str) and len(raw) < 40:
        try:
            number = float(raw.replace(",", "").replace(" ", ""))
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            hint = (" (YAML reads 1e6 and 1,000 as text): write it as 1000000 or 1.0e+6, without separators, "
                    "with a dot and a sign in the exponent")
    return f"must be a number, not {shown(raw)}{hint}."


def figure(value: float) -> str:
    """A number as a message shows it: '20000', '1.5e+13', 'about 1e+400' for an int beyond any float."""
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) < 10**15:
            return str(value)
        if value.bit_length() > 1020:
            return f"about {'-' if value < 0 else ''}1e+{int(value.bit_length() * 0.30103)}"
    return f"{value:.15g}"  # every digit a float64 holds: 1.000000001e12 is not shown as the 1e+12 it exceeds


class Lines:
    """Line numbers (1-based) of every key and item in a YAML document, by path; ``encoding`` names the
    encoding the file was read in when it was not UTF-8 (every message about the file says so)."""

    def __init__(self, node: yaml.Node | None, *, encoding: str | None = None) -> None:
        self.lines: dict[FieldPath, int] = {}
        self.encoding = encoding
        if node is not None:
            self._walk(node)

    def _walk(self, root: yaml.Node) -> None:
        import yaml

        # Iterative, and a node reached again through an alias is not walked again: the walk costs the
        # document's size, not its expanded size (a field reached through an alias gets the line where what
        # the alias repeats is written, which is where to fix it).
        seen: set[int] = set()
        stack: list[tuple[yaml.Node, FieldPath]] = [(root, ())]
        while stack:
            node, path = stack.pop()
            self.lines.setdefault(path, node.start_mark.line + 1)
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    self.lines.setdefault((*path, str(key.value)), key.start_mark.line + 1)
                    stack.append((value, (*path, str(key.value))))
            elif isinstance(node, yaml.SequenceNode):
                stack.extend((item, (*path, index)) for index, item in enumerate(node.value))

    def at(self, path: FieldPath) -> int | None:
        """The line of ``path``, or of its nearest parent that has one."""
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)


def _field_name(path: FieldPath) -> str:
    if len(path) > 8:  # only a file nested by mistake goes this deep: its start and its end say where
        return f"{_field_name(path[:4])}...{_field_name(path[-2:])} ({len(path)} levels)"
    return ".".join(_plain(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")


def _plain(text: str) -> str:
    """A name from the file as a message shows it: as written when short and printable, else quoted."""
    return text if text.isprintable() and len(text) <= 60 else shown(text)


def _encoding_note(encoding: str | None) -> str:
    return f" (The file was read as {encoding}: it is not UTF-8.)" if encoding else ""


def _say(source: str, line: int | None, path: FieldPath, message: str, *, whole: str,
         encoding: str | None = None) -> str:
    return (f"{source}{f', line {line}' if line else ''}: {_field_name(path) or whole}: {message}"
            f"{_encoding_note(encoding)}")


def field_message(source: str, lines: Lines, path: FieldPath, message: str, *, whole: str) -> str:
    """'file.yaml, line 7: status_quo[0].recall: must be at most 1': the file, the line, the field."""
    return _say(source, lines.at(path), path, message, whole=whole, encoding=lines.encoding)


def decode_yaml(raw: bytes, name: str, error: type[MetricBridgeError]) -> tuple[str, str | None]:
    """(text, encoding) of a YAML file's bytes; the encoding is None for UTF-8, else its name. A byte-order
    mark decides; without one, UTF-8, else Windows-1252, else Latin-1 (which reads any byte)."""
    for bom, codec, label in _BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom):].decode(codec), None if codec == "utf-8" else label
            except UnicodeDecodeError as problem:
                line = raw[:len(bom) + problem.start].count(b"\n" if codec == "utf-8" else "\n".encode(codec)) + 1
                raise error(f"{name}, line {line}: starts with a {label} byte-order mark, but byte "
                            f"{len(bom) + problem.start + 1:,} is not {label} ({problem.reason}): save the file "
                            "again as UTF-8 text.") from problem
    if b"\x00" in raw:
        half = max(1, len(raw) // 2)  # ASCII text in UTF-16 has a NUL in every other byte, and only there
        odd, even = raw[1::2].count(0) / half, raw[0::2].count(0) / half
        looks_utf16 = max(odd, even) > 0.3 and min(odd, even) < 0.05
        hint = (" (it looks like UTF-16 without a byte-order mark: save it as UTF-8)" if looks_utf16 else
                " (it holds NUL bytes, as a binary file does; choose the YAML file, or save it as UTF-8 text)")
        raise error(f"{name}: is not a text file{hint}.")
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    try:  # what a Windows editor saves; it leaves five bytes undefined, which Latin-1 reads
        return raw.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "Latin-1"


def _read_bytes(path: Path, name: str, error: type[MetricBridgeError]) -> bytes:
    limit = LIMITS.yaml_bytes
    try:
        with path.open("rb") as file:  # read at most the limit and one byte: /dev/zero is a file too
            raw = file.read(limit + 1)
    except OSError as problem:
        raise error(f"{name}: cannot be read ({problem.strerror or problem}).") from problem
    if len(raw) > limit:
        raise error(_too_big(name, path.stat().st_size if path.is_file() else len(raw)))
    return raw


def _too_big(name: str, size: int) -> str:
    at_least = "" if size > LIMITS.yaml_bytes + 1 else "at least "
    return (f"{name}: is {at_least}{size:,} bytes, above the limit of {LIMITS.yaml_bytes:,} bytes "
            "(limits.yaml_bytes): a scenario or criteria file is a page of settings; is this the right file?")


def _check_text(text: str, name: str, error: type[MetricBridgeError], encoding: str | None) -> None:
    note = _encoding_note(encoding)
    if len(text) > LIMITS.yaml_bytes:
        raise error(_too_big(name, len(text.encode("utf-8", "surrogatepass"))) + note)
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as problem:
        line = text.count("\n", 0, problem.start) + 1
        raise error(f"{name}, line {line}: holds U+{ord(text[problem.start]):04X}, half of a character pair "
                    "and no character of its own: save the file as UTF-8 text.") from problem
    if size > LIMITS.yaml_bytes:
        raise error(_too_big(name, size) + note)
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise error(f"{name}, line {line}: holds the control character U+{ord(bad.group()):04X}, which YAML "
                    "does not allow: remove it (is this the YAML file you meant?)." + note)


class _Refusal(Exception):
    """What the bounded loader refuses: the line, the field and what is wrong."""

    def __init__(self, line: int, path: FieldPath, message: str) -> None:
        super().__init__(message)
        self.line, self.path, self.message = line, path, message


@functools.cache
def _loader(pure: bool = False) -> type:
    """A safe loader whose composer counts and checks as it builds nodes (see the module's docstring):
    libyaml's parser when PyYAML has it (about twice as fast), else PyYAML's own."""
    import yaml
    from yaml.constructor import ConstructorError
    from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
    from yaml.nodes import MappingNode, ScalarNode

    class Constructor(yaml.constructor.SafeConstructor):
        def construct_yaml_timestamp(self, node: Any) -> Any:
            try:
                return super().construct_yaml_timestamp(node)
            except (ValueError, OverflowError, AttributeError):  # 2026-02-30: text, and the field says why
                return self.construct_scalar(node)

    def strict(tag: str, kind: str) -> Any:
        base = yaml.constructor.SafeConstructor.yaml_constructors[tag]

        def construct(self: Constructor, node: Any) -> Any:
            try:
                return base(self, node)
            except (ValueError, KeyError, IndexError, OverflowError) as problem:  # !!int abc, !!bool maybe, !!int ""
                raise ConstructorError(None, None, f"{shown(node.value)} cannot be read as {kind}: fix the "
                                       "value, or remove its tag", node.start_mark) from problem
        return construct

    for name, kind in (("int", "a whole number"), ("float", "a number"), ("bool", "yes or no")):
        Constructor.add_constructor(_STANDARD + name, strict(_STANDARD + name, kind))
    Constructor.add_constructor(_STANDARD + "timestamp", Constructor.construct_yaml_timestamp)
    for tag in ("merge", "value"):  # '<<' or '=' where no key is: plain text
        Constructor.add_constructor(_STANDARD + tag, yaml.constructor.SafeConstructor.construct_yaml_str)
    tags = frozenset(tag for tag in Constructor.yaml_constructors if tag is not None)

    class Composer(yaml.composer.Composer):
        def __init__(self) -> None:
            super().__init__()
            self._field_path: list[str | int | None] = []  # None for a key (its errors name the mapping)
            self._open_anchors: list[str | None] = []  # the anchors of the collections being composed
            self._alias_uses = self._node_count = 0  # alias uses and nodes, aliases expanded
            self._anchored: dict[str, tuple[int, int]] = {}  # anchor -> its alias uses and nodes, expanded

        def _here(self) -> FieldPath:
            return tuple(part for part in self._field_path if part is not None)

        def _count(self, uses: int, nodes: int, line: int, anchor: str | None) -> None:
            self._alias_uses += uses
            self._node_count += nodes
            if self._alias_uses > LIMITS.yaml_aliases:
                raise _Refusal(line, self._here(), f"repeats anchors more than {LIMITS.yaml_aliases} times (*{anchor} "
                               "here), counting the aliases inside what each alias repeats (limits.yaml_aliases): "
                               "write the repeated parts out, or repeat less.")
            if self._node_count > LIMITS.yaml_nodes:
                raise _Refusal(line, self._here(), f"makes the file hold more than {LIMITS.yaml_nodes:,} keys, "
                               "values and items, counting what its aliases repeat (limits.yaml_nodes): a "
                               "scenario or criteria file needs a few dozen; is this the right file?")

        def compose_node(self, parent: Any, index: Any) -> Any:
            self._field_path.append(str(index.value) if isinstance(index, ScalarNode) else
                                    index if isinstance(index, int) else None)
            try:
                return self._checked_node(parent, index)
            finally:
                self._field_path.pop()

        def _checked_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            line = event.start_mark.line + 1
            if isinstance(event, AliasEvent):
                if event.anchor in self._open_anchors:
                    raise _Refusal(line, self._here(), f"the alias *{event.anchor} is inside the anchor it repeats "
                                   f"(&{event.anchor}), so it would repeat itself without end: write that part "
                                   "out, or refer to an anchor that is complete before the alias.")
                uses, nodes = self._anchored.get(event.anchor, (0, 0))  # an undefined alias: PyYAML's message
                self._count(uses + 1, nodes, line, event.anchor)
                return super().compose_node(parent, index)
            if event.tag not in (None, "!") and event.tag not in tags:
                written = event.tag.replace(_STANDARD, "!!")
                raise _Refusal(line, self._here(), f"has the tag {written}, which is not read: a file holds plain data "
                               "(text, numbers, dates, lists and mappings) and nothing in it is ever run; remove "
                               "the tag.")
            collection = isinstance(event, CollectionStartEvent)
            if collection and len(self._open_anchors) >= LIMITS.yaml_depth:
                raise _Refusal(line, self._here(), f"is nested more than {LIMITS.yaml_depth} levels deep "
                               "(limits.yaml_depth): scenario and criteria files need 3; check the indentation "
                               "and the brackets.")
            before = (self._alias_uses, self._node_count)
            self._count(0, 1, line, None)
            if collection:
                self._open_anchors.append(event.anchor)
            try:
                node = super().compose_node(parent, index)
            finally:
                if collection:
                    self._open_anchors.pop()
            if event.anchor is not None:
                self._anchored[event.anchor] = (self._alias_uses - before[0], self._node_count - before[1])
            if (isinstance(event, ScalarEvent) and node.tag in (_STANDARD + "int", _STANDARD + "float")
                    and len(node.value) > _NUMBER_CHARS):
                raise _Refusal(line, self._here(), f"is a number written with {len(node.value):,} characters, far "
                               "beyond any figure a file may hold (the largest limit is 1e+12, limits.py); fix "
                               "the number, or quote it if it is text.")
            return node

        def compose_mapping_node(self, anchor: str | None) -> Any:
            start = self.get_event()
            tag = start.tag
            if tag is None or tag == "!":
                tag = self.resolve(MappingNode, None, start.implicit)
            node = MappingNode(tag, [], start.start_mark, None, flow_style=start.flow_style)
            if anchor is not None:
                self.anchors[anchor] = node
            seen: dict[str, int] = {}
            while not self.check_event(yaml.MappingEndEvent):
                key = self.compose_node(node, None)
                self._check_key(key, seen)
                node.value.append((key, self.compose_node(node, key)))
            node.end_mark = self.get_event().end_mark
            return node

        def _check_key(self, key: Any, seen: dict[str, int]) -> None:
            line = key.start_mark.line + 1
            if key.tag == _STANDARD + "merge":  # '<<: *base' merges a mapping in: a key of YAML's own
                return
            if not isinstance(key, ScalarNode) or key.tag not in (_STANDARD + "str", _STANDARD + "value"):
                raise _Refusal(line, self._here(), f"has a key that is not text ({_key_kind(key)}): the keys are "
                               "the fields' names; quote it if it is one, or check the indentation.")
            if key.value in seen:
                lines = f"lines {seen[key.value]} and {line}" if seen[key.value] != line else f"both on line {line}"
                raise _Refusal(line, (*self._here(), key.value), f"appears twice ({lines}); YAML keeps only the "
                               "last, so one of them would be ignored: keep one.")
            seen[key.value] = line

    if pure or not yaml.__with_libyaml__:
        class PureLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, Composer, Constructor,
                         yaml.resolver.Resolver):
            def __init__(self, stream: str) -> None:
                yaml.reader.Reader.__init__(self, stream)
                yaml.scanner.Scanner.__init__(self)
                yaml.parser.Parser.__init__(self)
                Composer.__init__(self)
                Constructor.__init__(self)
                yaml.resolver.Resolver.__init__(self)

        return PureLoader

    # libyaml's parser for the events, Python's composer over them (its own would count nothing)
    class FastLoader(Composer, yaml.cyaml.CParser, Constructor, yaml.resolver.Resolver):
        def __init__(self, stream: str) -> None:
            yaml.cyaml.CParser.__init__(self, stream)
            Composer.__init__(self)
            Constructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    return FastLoader


def _key_kind(key: yaml.Node) -> str:
    import yaml

    if isinstance(key, yaml.MappingNode):
        return "a mapping"
    if isinstance(key, yaml.SequenceNode):
        return "a list"
    kind = key.tag.removeprefix(_STANDARD)
    if kind == "null":
        return "empty"
    words = {"bool": "read as yes/no", "int": "a number", "float": "a number", "timestamp": "a date"}
    return f"{words.get(kind, kind)}: {_plain(key.value)}"


# The fix for PyYAML's commonest complaints, by a fragment of its words.
_FIXES = {
    "undefined alias": "define the anchor (&name) before the alias that repeats it (*name)",
    "duplicate anchor": "give each anchor (&name) a name of its own",
    "expected a single document": "keep one document: a file holds one scenario or one set of criteria",
    "mapping values are not allowed": "check the indentation, or quote a value that holds ': '",
    "exceeded maximum nesting depth": f"a file may nest {LIMITS.yaml_depth} levels deep (limits.yaml_depth); check "
                                      "the indentation and the brackets",
    "could not find expected ':'": "write each field as 'name: value' on one line (a key is at most 1024 "
                                   "characters)",
}


def _yaml_problem(problem: Exception, text: str) -> tuple[int | None, str, str]:
    """The line, the words and the fix of a PyYAML error (a tab used to indent gets its own fix)."""
    mark = getattr(problem, "problem_mark", None)
    line = mark.line + 1 if mark else None
    position = getattr(problem, "position", None)
    if line is None and isinstance(position, int):  # a reader error gives a position, not a line
        line = text.count("\n", 0, position) + 1
    words = str(getattr(problem, "problem", None) or problem).replace("\n", " ")
    context = getattr(problem, "context", None)
    if context and not context.startswith("while") and getattr(problem, "problem", None):  # "expected a
        # single document in the stream" + "but found another document"; "while scanning ..." says nothing
        words = f"{context} {words}"
    if line is not None:
        lines = text.splitlines()
        current = lines[line - 1] if line <= len(lines) else ""
        if "\t" in current[:len(current) - len(current.lstrip(" \t"))] or "'\\t'" in words:
            return line, words, (f"; line {line} is indented with a tab, and YAML indents with spaces only: "
                                 "replace the tab with spaces")
    fix = next((fix for fragment, fix in _FIXES.items() if fragment in words), "")
    return line, words, f"; {fix}" if fix else ""


def read_yaml(source: str | Path, text: str | None, error: type[MetricBridgeError], what: str, *,
              whole: str = "the file") -> tuple[str, Any, Lines]:
    """(name for messages, data, lines) of a YAML file (or ``text`` named ``source``); ``error`` for any
    problem, naming the file and line. Only plain YAML is read (safe loader: nothing is executed), and the
    work is bounded (limits.yaml_*) before any Python object is built."""
    import yaml

    name = Path(source).name if text is None else str(source)
    encoding = None
    if text is None:
        text, encoding = decode_yaml(_read_bytes(Path(source), name, error), name, error)
    _check_text(text, name, error, encoding)
    note = _encoding_note(encoding)
    loader = _loader()(text)
    try:
        node = loader.get_single_node()
        lines = Lines(node, encoding=encoding)
        data = None if node is None else loader.construct_document(node)
    except _Refusal as refusal:
        raise error(_say(name, refusal.line, refusal.path, refusal.message, whole=whole, encoding=encoding)
                    ) from refusal
    except yaml.YAMLError as problem:
        line, words, fix = _yaml_problem(problem, text)
        where = f", line {line}" if line else ""
        raise error(f"{name}{where}: is not valid YAML ({words}){fix}.{note}") from problem
    finally:
        loader.dispose()
    if data is None:
        found = "is empty" if not text.lstrip("\ufeff").strip() else (
            "holds only comments" if node is None else "holds no fields (only an empty value)")
        raise error(f"{name}: {found}; {what}.{note}")
    return name, data, lines
