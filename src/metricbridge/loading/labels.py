"""Which label value is the positive class: inferred when it is safe, asked for when it is not."""

from __future__ import annotations

from collections.abc import Sequence

from metricbridge.errors import InputError

__all__ = ["KNOWN_PAIRS", "normalise", "resolve_positive"]

# (negative, positive) spellings, compared after normalise()
KNOWN_PAIRS = (("0", "1"), ("0.0", "1.0"), ("false", "true"), ("no", "yes"), ("n", "y"), ("f", "t"),
               ("-1", "1"), ("negative", "positive"))
_POSITIVE_WORDS = {pos for _, pos in KNOWN_PAIRS}
_NEGATIVE_WORDS = {neg for neg, _ in KNOWN_PAIRS}


def normalise(value: object) -> str:
    """Label values compare case- and space-insensitively; SQL uses the same form (lower(trim(...)))."""
    return str(value).strip().lower()


def resolve_positive(values: Sequence[str], positive: str | None, *, file: str, column: str) -> str:
    """The normalised positive value among the column's distinct normalised ``values`` (one or two).

    ``positive`` is what the user named; it must be one of the values. Without it, a known pair (0/1,
    true/false, yes/no) decides; two other strings are refused with a question instead of a guess.
    """
    shown = ", ".join(repr(v) for v in sorted(values))
    if positive is not None:
        wanted = normalise(positive)
        if wanted in values:
            return wanted
        if len(values) == 1:  # all items negative is allowed: the named class simply never occurs
            return wanted
        raise InputError(f"{file}: the positive class {positive!r} does not occur in label column {column!r}, "
                         f"which holds {shown}. Name one of these with --positive.")
    pair = tuple(sorted(values, key=lambda v: v in _POSITIVE_WORDS))
    if len(values) == 2 and pair in KNOWN_PAIRS:
        return pair[1]
    if len(values) == 2 and set(values) in ({"0", "1.0"}, {"0.0", "1"}):
        return "1" if "1" in values else "1.0"
    if len(values) == 1 and values[0] in _POSITIVE_WORDS | _NEGATIVE_WORDS:
        only = values[0]
        return only if only in _POSITIVE_WORDS else dict(KNOWN_PAIRS)[only]
    raise InputError(
        f"{file}: label column {column!r} holds {shown}, and which one is the positive class (the one the "
        f"model looks for) cannot be told safely. Name it with --positive (for example --positive "
        f"{sorted(values)[0]!r}), or pick it in the app.")
