"""Just enough PromQL lexing to scale durations and to read facts off an expression.

Rendering for a fast profile multiplies every duration in a rule by one factor. A blind regex
over the expression would also rewrite ``service:http_requests:rate5m`` (a metric name) or a
label value such as ``route="/v1/5m"``, so durations are found by position instead:

* inside ``[...]`` after a selector or expression: the range of a range selector (``[5m]``),
  or the range and step of a subquery (``[30m:1m]``, ``[30m:]``);
* right after the ``offset`` keyword (optionally negative: ``offset -5m``).

Strings (all three quote styles) and comments are lexed as units, so nothing inside them is
ever touched; identifiers are lexed whole (``rate5m`` in a metric name is not a duration).
PromQL 2.42 has no other place a duration can appear in an expression.

Not scaled, because nothing marks them as time: plain numbers that happen to be seconds, e.g.
the horizon of ``predict_linear(x[6h], 4 * 3600)`` or ``time() - start > 300``. A rule using
such a number keeps it at production scale; none of the seed's rules does.

Durations follow Prometheus' own syntax (``model.ParseDuration``): integer amounts, units
``y w d h m s ms`` in that order, compound allowed (``1m30s``), no decimals.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, cast

from alertdrill.errors import ConfigError

__all__ = [
    "DurationEdit",
    "ExprFacts",
    "Matcher",
    "RangeUse",
    "ScaledExpr",
    "Token",
    "analyze",
    "format_duration",
    "parse_duration",
    "scale_durations",
    "tokenize",
]

TokenKind = Literal["space", "comment", "string", "duration", "number", "ident", "punct"]
DurationPosition = Literal["range", "subquery_step", "offset"]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+)(?!\w)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][\w:]*)
  | (?P<punct>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){}\[\],:@])
    """,
    re.VERBOSE,
)

_BRACKET_TOKEN = re.compile(
    r"(?P<space>\s+)|(?P<duration>(?:\d+(?:ms|[smhdwy]))+)(?!\w)|(?P<punct>[:\]])"
)
_DURATION = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?"
)
_UNIT_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)
# Emitted units: hours at most, so a reader never has to convert days or weeks back.
_EMIT_UNITS = (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))

# Words that look like metric names but are not: keywords, and aggregations (which may be
# followed by a `by (...)` clause instead of their opening parenthesis).
_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan"}
    | {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile"}
)
# Followed by a parenthesised list of label names, not of expressions.
_LABEL_LIST_WORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    start: int


def tokenize(expr: str) -> Iterator[Token]:
    """The tokens of ``expr`` covering it exactly (joining their texts gives ``expr`` back)."""
    position = 0
    in_brackets = False
    while position < len(expr):
        # Inside [...] PromQL lexes durations and ':' only: ":1m" is not a metric name there.
        match = (_BRACKET_TOKEN if in_brackets else _TOKEN).match(expr, position)
        if match is None or match.lastgroup is None:
            raise ConfigError(
                f"cannot lex PromQL at offset {position}: {expr[position : position + 20]!r}"
            )
        if match.lastgroup == "duration" and not _DURATION.fullmatch(match.group()):
            raise ConfigError(f"invalid duration {match.group()!r} (units out of order?)")
        if match.group() in ("[", "]"):
            in_brackets = match.group() == "["
        yield Token(cast("TokenKind", match.lastgroup), match.group(), position)
        position = match.end()


def parse_duration(text: str) -> float:
    """Seconds from a Prometheus duration (``5m``, ``1m30s``, ``250ms``); ConfigError if not one."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or not text.strip() or not any(match.groups()):
        if text.strip() == "0":  # Prometheus accepts a bare 0
            return 0.0
        raise ConfigError(f"not a Prometheus duration: {text!r} (e.g. 250ms, 5s, 1m30s)")
    milliseconds = sum(
        int(amount) * unit for amount, unit in zip(match.groups(), _UNIT_MS, strict=True) if amount
    )
    return milliseconds / 1000


def format_duration(seconds: float) -> str:
    """A duration Prometheus 2.42 and Alertmanager 0.25 accept, to the millisecond.

    ``0.25 -> 250ms``, ``1.6 -> 1s600ms``, ``60 -> 1m``, ``0 -> 0s``.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be finite and non-negative, got {seconds!r}")
    remaining = round(seconds * 1000)
    if remaining == 0:
        return "0s"
    parts = []
    for unit, size in _EMIT_UNITS:
        amount, remaining = divmod(remaining, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


# -- scaling ------------------------------------------------------------------


@dataclass(frozen=True)
class DurationEdit:
    """One duration rewritten in an expression (or a rule's ``for``)."""

    position: DurationPosition | Literal["for"]
    original: str
    rendered: str
    clamped: bool
    """True when the scaled value was raised to a minimum (see ``scale_durations``)."""


@dataclass(frozen=True)
class ScaledExpr:
    text: str
    edits: tuple[DurationEdit, ...]


def scale_seconds(seconds: float, factor: float, minimum: float = 0.0) -> tuple[float, bool]:
    """``seconds * factor`` rounded to the millisecond and raised to ``minimum``.

    A non-zero duration never becomes zero: it is at least 1 ms (``[0s]`` and ``offset 0s``
    are errors or no-ops in PromQL, neither is what the rule meant). Returns (value, clamped).
    """
    scaled = round(seconds * factor * 1000) / 1000
    if seconds > 0:
        scaled = max(scaled, 0.001)
    if scaled < minimum:
        return minimum, True
    return scaled, False


def scale_durations(expr: str, factor: float, *, min_range: float = 0.0) -> ScaledExpr:
    """``expr`` with every range, subquery range/step and offset multiplied by ``factor``.

    ``min_range``: a range (selector or subquery) is raised to at least this many seconds, so
    that e.g. ``rate()`` still sees enough samples when a short production window is scaled
    below a few scrape intervals. Steps and offsets are only kept non-zero. With ``factor``
    1.0 the expression is returned unchanged, byte for byte, and nothing is clamped.
    """
    if factor <= 0 or not math.isfinite(factor):
        raise ValueError(f"scale factor must be positive, got {factor!r}")
    if factor == 1.0:
        return ScaledExpr(expr, ())
    out: list[str] = []
    edits: list[DurationEdit] = []
    in_brackets: DurationPosition | None = None  # "range" before the colon, then "subquery_step"
    after_offset = False
    for token in tokenize(expr):
        text = token.text
        if token.kind in ("space", "comment"):
            out.append(text)
            continue
        if in_brackets is not None:
            if token.kind == "duration":
                minimum = min_range if in_brackets == "range" else 0.0
                text = _edit(text, in_brackets, factor, minimum, edits)
            elif text == ":":
                in_brackets = "subquery_step"
            elif text == "]":
                in_brackets = None
            else:
                raise ConfigError(f"unexpected {text!r} inside [...] in: {expr.strip()}")
        elif after_offset and text == "-":
            out.append(text)
            continue  # a negative offset: the duration follows the sign
        elif after_offset and token.kind == "duration":
            text = _edit(text, "offset", factor, 0.0, edits)
        elif text == "[":
            in_brackets = "range"
        after_offset = token.kind == "ident" and text.lower() == "offset"
        out.append(text)
    return ScaledExpr("".join(out), tuple(edits))


def _edit(
    text: str,
    position: DurationPosition,
    factor: float,
    minimum: float,
    edits: list[DurationEdit],
) -> str:
    value, clamped = scale_seconds(parse_duration(text), factor, minimum)
    rendered = format_duration(value)
    edits.append(DurationEdit(position, text, rendered, clamped))
    return rendered


# -- facts --------------------------------------------------------------------


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str


@dataclass(frozen=True)
class RangeUse:
    """One ``[...]``: its range in seconds, and whether an ``offset`` follows it."""

    seconds: float
    offset: bool


@dataclass(frozen=True)
class ExprFacts:
    metric_names: frozenset[str]
    matchers: tuple[Matcher, ...]
    ranges: tuple[RangeUse, ...]


def analyze(expr: str) -> ExprFacts:
    """Metric names, label matchers and ranges an expression uses (lexer-level, not a parser).

    A metric name is an identifier that is not a keyword, not a function (followed by ``(``),
    and not inside ``{...}`` or a ``by``/``on``/... label list; ``{__name__="x"}`` counts too.
    """
    tokens = [t for t in tokenize(expr) if t.kind not in ("space", "comment")]
    names: set[str] = set()
    matchers: list[Matcher] = []
    ranges: list[RangeUse] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if token.text == "{":
            index = _read_matchers(tokens, index + 1, matchers, names)
            continue
        if token.text == "[":
            seconds = parse_duration(tokens[index + 1].text)
            close = next(i for i in range(index, len(tokens)) if tokens[i].text == "]")
            after = tokens[close + 1] if close + 1 < len(tokens) else None
            offset = after is not None and after.text.lower() == "offset"
            ranges.append(RangeUse(seconds, offset))
            index = close + 1
            continue
        if token.kind == "ident":
            word = token.text.lower()
            if word in _LABEL_LIST_WORDS and following is not None and following.text == "(":
                index = next(i for i in range(index, len(tokens)) if tokens[i].text == ")") + 1
                continue
            is_call = following is not None and following.text == "("
            if word not in _KEYWORDS and not is_call:
                names.add(token.text)
        index += 1
    return ExprFacts(frozenset(names), tuple(matchers), tuple(ranges))


def _read_matchers(
    tokens: list[Token], index: int, matchers: list[Matcher], names: set[str]
) -> int:
    """Read ``name op "value"`` triples up to the closing brace; return the index after it."""
    while index < len(tokens) and tokens[index].text != "}":
        if (
            tokens[index].kind == "ident"
            and index + 2 < len(tokens)
            and tokens[index + 2].kind == "string"
        ):
            matcher = Matcher(
                tokens[index].text, tokens[index + 1].text, _unquote(tokens[index + 2].text)
            )
            matchers.append(matcher)
            if matcher.name == "__name__" and matcher.op == "=":
                names.add(matcher.value)
            index += 3
        else:
            index += 1
    return index + 1


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    if literal[0] == "`":
        return body
    # PromQL strings use Go escapes; label values in rules rarely need more than these.
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)
