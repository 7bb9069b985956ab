"""Kestra's expression syntax on top of Jinja2: `??`, `???`, `? :`, `null`, `contains`, `isIn`.

Jinja's lexer knows no `?`, so `TercelLexer` adds `???`, `??` and `?` as operator tokens (the
lexer already skips string literals, so `'a ?? b'` stays text). `TercelParser` turns them into
ordinary nodes (Jinja forbids new node classes): `??` binds tighter than filters, like Pebble's
precedence 120 over `|` at 100, so `trigger.date ?? execution.startDate | date('yyyy')` formats
whichever date exists. `TercelCodeGenerator` compiles them into calls on the environment with
lazily evaluated arguments, and threads the
dotted path the user wrote (`outputs.hello.value`) into attribute lookups so an undefined-value
error can name it. `secure_tree` rejects, before any code runs, what a template may never do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from jinja2 import lexer as jinja_lexer
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.lexer import Lexer
from jinja2.parser import Parser

from ._errors import ExpressionSyntaxError, SandboxViolation

__all__ = [
    "TercelCodeGenerator",
    "TercelLexer",
    "TercelParser",
    "coalesce_node",
    "concat_node",
    "dotted_path",
    "safe_node",
    "secure_tree",
    "single_expression",
]

TOKEN_NULL_COALESCE = "??"
TOKEN_UNDEFINED_COALESCE = "???"
TOKEN_QUESTION = "?"
_EXTRA_OPERATORS = {
    "???": TOKEN_UNDEFINED_COALESCE,
    "??": TOKEN_NULL_COALESCE,
    "?": TOKEN_QUESTION,
}
_ALL_OPERATORS = {**jinja_lexer.operators, **_EXTRA_OPERATORS}
_OPERATOR_RE = re.compile(
    "(" + "|".join(re.escape(op) for op in sorted(_ALL_OPERATORS, key=lambda op: -len(op))) + ")"
)


class TercelLexer(Lexer):
    """Jinja's lexer with Kestra's `???`, `??` and `?` operators."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        for state, rules in self.rules.items():
            self.rules[state] = [
                rule._replace(pattern=_OPERATOR_RE)
                if rule.pattern is jinja_lexer.operator_re
                else rule
                for rule in rules
            ]

    def wrap(
        self,
        stream: Any,
        name: str | None = None,
        filename: str | None = None,
    ) -> Iterator[jinja_lexer.Token]:
        return super().wrap(_retype(stream), name, filename)


def _retype(stream: Any) -> Iterator[tuple[int, str, str]]:
    """Give the new operators their own token types before Jinja maps the known ones."""
    for lineno, token, value in stream:
        if token == jinja_lexer.TOKEN_OPERATOR and value in _EXTRA_OPERATORS:
            yield lineno, _EXTRA_OPERATORS[value], value
        else:
            yield lineno, token, value


# Jinja forbids custom node classes, so the new operators are calls of environment methods
# (`environment.tercel_coalesce(...)`) that the code generator compiles with lazy arguments.
_COALESCE = "tercel_coalesce"
_SAFE = "tercel_safe"
_CONCAT = "tercel_concat"


def coalesce_node(left: nodes.Expr, right: nodes.Expr, null_too: bool, lineno: int) -> nodes.Call:
    """`left ?? right` (`null_too`) or `left ??? right`: `right` when `left` is undefined (or null)."""
    callee = nodes.EnvironmentAttribute(_COALESCE, lineno=lineno)
    args = [left, right, nodes.Const(null_too, lineno=lineno)]
    return nodes.Call(callee, args, [], None, None, lineno=lineno)


def safe_node(node: nodes.Expr) -> nodes.Call:
    """An expression whose undefined-ness is a value, not an error (for `default`, `is defined`)."""
    callee = nodes.EnvironmentAttribute(_SAFE, lineno=node.lineno)
    return nodes.Call(callee, [node], [], None, None, lineno=node.lineno)


def concat_node(operands: list[nodes.Expr], lineno: int) -> nodes.Call:
    """`a ~ b` with Kestra's text for each value; a call, so Jinja never folds it with `str()`."""
    callee = nodes.EnvironmentAttribute(_CONCAT, lineno=lineno)
    return nodes.Call(callee, operands, [], None, None, lineno=lineno)


def _special_call(node: nodes.Call) -> str | None:
    callee = node.node
    if isinstance(callee, nodes.EnvironmentAttribute) and callee.name in (
        _COALESCE,
        _SAFE,
        _CONCAT,
    ):
        return callee.name
    return None


class TercelParser(Parser):
    """Jinja's parser plus Kestra's operators and the `null` literal."""

    def parse_unary(self, with_filter: bool = True) -> nodes.Expr:
        node = self._parse_operand()
        while True:
            current = self.stream.current
            if current.type in (TOKEN_NULL_COALESCE, TOKEN_UNDEFINED_COALESCE):
                # Left-associative like Pebble: `a ??? b ?? c` is `(a ??? b) ?? c`.
                next(self.stream)
                node = coalesce_node(
                    node,
                    self._parse_operand(),
                    current.type == TOKEN_NULL_COALESCE,
                    current.lineno,
                )
            elif with_filter and (current.type in ("pipe", "lparen") or current.test("name:is")):
                node = self.parse_filter_expr(node)
            else:
                return node

    def _parse_operand(self) -> nodes.Expr:
        """A literal or name with its attribute lookups and calls, optionally signed."""
        token_type = self.stream.current.type
        lineno = self.stream.current.lineno
        if token_type == "sub":
            next(self.stream)
            return nodes.Neg(self._parse_operand(), lineno=lineno)
        if token_type == "add":
            next(self.stream)
            return nodes.Pos(self._parse_operand(), lineno=lineno)
        return self.parse_postfix(self.parse_primary())

    def parse_concat(self) -> nodes.Expr:
        lineno = self.stream.current.lineno
        node = super().parse_concat()
        if isinstance(node, nodes.Concat):
            return concat_node(node.nodes, lineno)
        return node

    def parse_primary(self, with_namespace: bool = False) -> nodes.Expr:
        token = self.stream.current
        if token.type == "name" and token.value == "null":
            next(self.stream)
            return nodes.Const(None, lineno=token.lineno)
        return super().parse_primary(with_namespace)

    def parse_condexpr(self) -> nodes.Expr:
        lineno = self.stream.current.lineno
        expr = super().parse_condexpr()
        if self.stream.current.type == TOKEN_QUESTION:
            next(self.stream)
            when_true = self.parse_condexpr()
            self.stream.expect("colon")
            when_false = self.parse_condexpr()
            return nodes.CondExpr(expr, when_true, when_false, lineno=lineno)
        return expr

    def parse_compare(self) -> nodes.Expr:
        expr = super().parse_compare()
        while True:
            current = self.stream.current
            if current.test("name:contains"):
                next(self.stream)
                needle = self.parse_math1()
                expr = nodes.Compare(needle, [nodes.Operand("in", expr)], lineno=current.lineno)
            elif current.test("name:isIn"):
                next(self.stream)
                haystack = self.parse_math1()
                expr = nodes.Compare(expr, [nodes.Operand("in", haystack)], lineno=current.lineno)
            else:
                return expr


def dotted_path(node: nodes.Node) -> str | None:
    """The path as the user wrote it (`outputs['my-task'].value`), if it is static."""
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Name):
            parts.append(node.name)
            return "".join(reversed(parts))
        if isinstance(node, nodes.Getattr):
            parts.append("." + node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            key = node.arg.value
            if isinstance(key, str) and key.isidentifier():
                parts.append("." + key)
            elif isinstance(key, (str, int)) and not isinstance(key, bool):
                parts.append(f"[{key!r}]")
            else:
                return None
            node = node.node
        else:
            return None


class TercelCodeGenerator(CodeGenerator):
    """Compiles the Kestra nodes and passes dotted paths to attribute lookups."""

    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        special = _special_call(node)
        if special is None:
            super().visit_Call(node, frame, forward_caller=forward_caller)
            return
        # Arguments become lambdas: `??` must catch the left side's undefined-variable error
        # and evaluate the right side only when it is needed.
        if special == _CONCAT:
            self.write("environment.tercel_concat((")
            for arg in node.args:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")
            return
        self.write(f"environment.{special}(")
        lazy, flags = (node.args[:2], node.args[2:]) if special == _COALESCE else (node.args, [])
        for arg in lazy:
            self.write("(lambda: ")
            self.visit(arg, frame)
            self.write("), ")
        for flag in flags:
            self.write(f"{flag.as_const(frame.eval_ctx)!r}, ")
        self.write(")")

    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        self.write("environment.getattr(")
        self.visit(node.node, frame)
        self.write(f", {node.attr!r}, {dotted_path(node)!r})")

    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:
        if isinstance(node.arg, nodes.Slice):
            super().visit_Getitem(node, frame)
            return
        self.write("environment.getitem(")
        self.visit(node.node, frame)
        self.write(", ")
        self.visit(node.arg, frame)
        self.write(f", {dotted_path(node)!r})")


_UNSUPPORTED_TAGS = {
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
}
_TOLERANT_FILTERS = frozenset({"default", "d"})
_TOLERANT_TESTS = frozenset({"defined", "undefined"})


def _forbidden(name: object) -> bool:
    return isinstance(name, str) and name.startswith("__")


def secure_tree(tree: nodes.Template) -> nodes.Template:
    """Reject unsupported tags and dunder names; make `default`/`is defined` undefined-tolerant.

    Runtime checks in the environment catch every other route to Python internals; this one
    fails early, with a line number, on the classic payloads (`''.__class__`, `x['__globals__']`).
    """
    for node in list(tree.find_all(nodes.Node)):
        lineno = getattr(node, "lineno", None)
        for tag_type, tag in _UNSUPPORTED_TAGS.items():
            if isinstance(node, tag_type):
                raise ExpressionSyntaxError(f"the '{tag}' tag is not supported", line=lineno)
        if isinstance(node, nodes.Name) and _forbidden(node.name):
            raise SandboxViolation(f"access to '{node.name}' is not allowed", line=lineno)
        if isinstance(node, nodes.Getattr) and _forbidden(node.attr):
            raise SandboxViolation(f"access to attribute '{node.attr}' is not allowed", line=lineno)
        if (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and _forbidden(node.arg.value)
        ):
            raise SandboxViolation(f"access to item '{node.arg.value}' is not allowed", line=lineno)
        tolerant = (isinstance(node, nodes.Filter) and node.name in _TOLERANT_FILTERS) or (
            isinstance(node, nodes.Test) and node.name in _TOLERANT_TESTS
        )
        if tolerant and node.node is not None:
            node.node = safe_node(node.node)
    return tree


def single_expression(tree: nodes.Template) -> nodes.Expr | None:
    """The expression of a template that is exactly one `{{ expr }}` (whitespace around allowed)."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    found: nodes.Expr | None = None
    for child in tree.body[0].nodes:
        if isinstance(child, nodes.TemplateData):
            if child.data.strip():
                return None
            continue
        if found is not None:
            return None
        found = child
    return found
