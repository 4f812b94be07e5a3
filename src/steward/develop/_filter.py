"""The run filter language: ``metrics.auc > 0.9 and params.model = 'rf' and tags.team = 'risk'``.

Grammar (keywords are case-insensitive)::

    filter     := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" or_expr ")" | comparison
    comparison := field op value | field "is" ["not"] "null" | field ["not"] "in" "(" value, ... ")"
    field      := (metrics|params|tags|attributes|datasets) "." name | attribute
    op         := = | == | != | <> | < | <= | > | >= | like | ilike

Names with spaces or dots are quoted with backticks or double quotes: metrics.`val auc`.

Written by hand rather than with a parser library: the grammar is a dozen lines, and what
users need most is an error that points at the character where the filter went wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from steward.errors import InvalidInput, did_you_mean

ATTRIBUTES = (
    "run_id",
    "name",
    "status",
    "user",
    "experiment",
    "project",
    "parent_run_id",
    "start_time",
    "end_time",
)
ALIASES = {
    "id": "run_id",
    "run_name": "name",
    "attribute": "attributes",
    "attr": "attributes",
    "metric": "metrics",
    "param": "params",
    "tag": "tags",
    "dataset": "datasets",
}
NAMESPACES = ("metrics", "params", "tags", "attributes", "datasets")
DATASET_FIELDS = ("name", "version")
OPERATORS = (
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "like",
    "ilike",
    "in",
    "not in",
    "is null",
    "is not null",
)

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])
  | (?P<string>'(?:[^'\\]|\\.|'')*')
  | (?P<quoted>`[^`]*`|"[^"]*")
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<punct>[(),.])
  | (?P<word>[A-Za-z_][A-Za-z0-9_\-:/]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


@dataclass(frozen=True)
class Comparison:
    """``namespace.key op value``; value is a str, float, tuple of them, or None."""

    namespace: str
    key: str
    op: str
    value: Any


@dataclass(frozen=True)
class BoolOp:
    """``and`` / ``or`` of several clauses, or ``not`` of one."""

    op: str
    items: tuple[Any, ...]


def parse_filter(text: str) -> Comparison | BoolOp | None:
    """Return the parsed filter (None for an empty one), or raise InvalidInput saying where."""
    if not text or not text.strip():
        return None
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize(text)
        self.i = 0

    def _tokenize(self, text: str) -> list[Token]:
        tokens: list[Token] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:
                self._fail(pos, f"unexpected character {text[pos]!r}")
            assert m is not None and m.lastgroup is not None
            if m.lastgroup != "ws":
                tokens.append(Token(m.lastgroup, m.group(), pos))
            pos = m.end()
        tokens.append(Token("end", "", len(text)))
        return tokens

    def _fail(self, pos: int, message: str) -> None:
        raise InvalidInput(
            f"Filter syntax error at character {pos + 1}: {message}.\n  {self.text}\n  {' ' * pos}^\n"
            "Example: metrics.auc > 0.9 and params.model = 'rf' and tags.team = 'risk'",
            position=pos,
        )

    def peek(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok.kind == "word" and tok.text.lower() == word:
            self.i += 1
            return True
        return False

    def parse(self) -> Comparison | BoolOp:
        node: Comparison | BoolOp = self.or_expr()
        tok = self.peek()
        if tok.kind != "end":
            self._fail(
                tok.pos, f"expected 'and', 'or' or the end of the filter, found {tok.text!r}"
            )
        return node

    def or_expr(self) -> Any:
        items = [self.and_expr()]
        while self.keyword("or"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_expr(self) -> Any:
        items = [self.not_expr()]
        while self.keyword("and"):
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def not_expr(self) -> Any:
        if self.keyword("not"):
            return BoolOp("not", (self.not_expr(),))
        if self.peek().text == "(":
            self.next()
            node = self.or_expr()
            tok = self.next()
            if tok.text != ")":
                self._fail(
                    tok.pos, f"expected ')' to close the '(', found {tok.text or 'the end'!r}"
                )
            return node
        return self.comparison()

    def field(self) -> tuple[str, str]:
        tok = self.next()
        if tok.kind not in {"word", "quoted"}:
            what = repr(tok.text) if tok.text else "the end of the filter"
            self._fail(tok.pos, f"expected a field such as metrics.auc, found {what}")
        head = ALIASES.get(tok.text.lower(), tok.text.lower()) if tok.kind == "word" else tok.text
        if self.peek().text != ".":
            if head in ATTRIBUTES:
                return "attributes", head
            self._fail(
                tok.pos,
                f"unknown field {tok.text!r}; use metrics.<key>, params.<key>, tags.<key>, "
                f"datasets.name or one of {', '.join(ATTRIBUTES)}"
                + did_you_mean(tok.text, ATTRIBUTES + NAMESPACES).rstrip("?"),
            )
        if head not in NAMESPACES:
            self._fail(
                tok.pos,
                f"unknown namespace {tok.text!r}; use one of {', '.join(NAMESPACES)}"
                + did_you_mean(tok.text, NAMESPACES).rstrip("?"),
            )
        self.next()  # the dot
        key_tok = self.next()
        if key_tok.kind == "quoted":
            key = key_tok.text[1:-1]
        elif key_tok.kind in {"word", "number"}:
            key = key_tok.text
            # Unquoted keys may contain dots: metrics.val.auc
            while self.peek().text == "." and self.tokens[self.i + 1].kind in {"word", "number"}:
                self.next()
                key += "." + self.next().text
        else:
            self._fail(
                key_tok.pos, f"expected a key after '{head}.', found {key_tok.text or 'the end'!r}"
            )
        if head == "attributes":
            key = ALIASES.get(key, key)
            if key not in ATTRIBUTES:
                self._fail(
                    key_tok.pos,
                    f"unknown attribute {key!r}; attributes are {', '.join(ATTRIBUTES)}"
                    + did_you_mean(key, ATTRIBUTES).rstrip("?"),
                )
        if head == "datasets" and key not in DATASET_FIELDS:
            self._fail(
                key_tok.pos, f"unknown dataset field {key!r}; use datasets.name or datasets.version"
            )
        return head, key

    def comparison(self) -> Comparison:
        namespace, key = self.field()
        tok = self.next()
        word = tok.text.lower()
        if tok.kind == "word" and word == "is":
            negate = self.keyword("not")
            null = self.next()
            if null.text.lower() != "null":
                self._fail(null.pos, f"expected 'null' after 'is{' not' if negate else ''}'")
            return Comparison(namespace, key, "is not null" if negate else "is null", None)
        if tok.kind == "word" and word == "not":
            if not self.keyword("in"):
                self._fail(self.peek().pos, "expected 'in' after 'not'")
            return Comparison(namespace, key, "not in", self.value_list())
        if tok.kind == "word" and word == "in":
            return Comparison(namespace, key, "in", self.value_list())
        if tok.kind == "word" and word in {"like", "ilike"}:
            value = self.value()
            if not isinstance(value, str):
                self._fail(
                    self.tokens[self.i - 1].pos,
                    f"{word.upper()} needs a quoted pattern such as '%rf%'",
                )
            return Comparison(namespace, key, word, value)
        if tok.kind != "op":
            what = repr(tok.text) if tok.text else "the end of the filter"
            self._fail(
                tok.pos,
                f"expected a comparison operator (=, !=, <, <=, >, >=, LIKE, IN, IS NULL) after '{namespace}.{key}', found {what}",
            )
        op = {"==": "=", "<>": "!="}.get(tok.text, tok.text)
        return Comparison(namespace, key, op, self.value())

    def value(self) -> str | float:
        tok = self.next()
        if tok.kind == "number":
            return float(tok.text)
        if tok.kind == "string":
            return tok.text[1:-1].replace("''", "'").replace("\\'", "'")
        what = repr(tok.text) if tok.text else "the end of the filter"
        hint = " (quote strings with single quotes: 'rf')" if tok.kind in {"word", "quoted"} else ""
        self._fail(tok.pos, f"expected a number or a 'quoted string', found {what}{hint}")
        raise AssertionError  # unreachable

    def value_list(self) -> tuple[str | float, ...]:
        tok = self.next()
        if tok.text != "(":
            self._fail(tok.pos, "expected '(' to start a list such as ('rf', 'gbm')")
        values = [self.value()]
        while self.peek().text == ",":
            self.next()
            values.append(self.value())
        tok = self.next()
        if tok.text != ")":
            self._fail(tok.pos, f"expected ',' or ')' in the list, found {tok.text or 'the end'!r}")
        return tuple(values)
