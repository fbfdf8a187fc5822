"""The Jinja2 environment pages render with: stock Jinja2, but a cheaper ``{{ value }}``
and plain-dict template globals.

With autoescape on, Jinja2 compiles every ``{{ value }}`` to ``markupsafe.escape(value)``,
which wraps each piece of a page in a new ``Markup`` object only for the page to be joined
into one ``str`` right after. A code page has some 60 of them: a fifth of its render time.
Our code generator emits ``environment.escape_output(value)`` instead: the same text, as a
plain ``str`` (a buffer that needs Markup, a macro's or a ``{% set %}`` block's, is wrapped
in Markup when it is joined, as before).

Stock Jinja2 yields each piece of an output node on its own (``<title>``, the title, ``</title>``):
every piece of a page passes up through the generators of the page, its layout and the block,
some 150 resumptions of three frames each per code page. Ours yields the pieces of one output
node as one string, joined where they are made (the same text: ``render`` joins them anyway).

Each template's globals are a ChainMap over the environment's in stock Jinja2: every render
copies them into the page's context and every ``{% from ... import ... %}`` compares their
keys, both slow over a ChainMap (a tenth of a code page's render time). Ours are a plain
dict: a template sees the environment's globals as they were when it was loaded, which is
all Jinja2 promises anyway ("avoid modifying any globals after a template is loaded").
"""

from __future__ import annotations

import io
import os
from collections.abc import MutableMapping
from typing import Any

from jinja2 import Environment, Template, nodes
from jinja2.bccache import Bucket, BytecodeCache
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Expr
from markupsafe import Markup, escape

from ..outputs import atomic_write

try:
    from markupsafe import _escape_inner  # the C function inside markupsafe.escape
except ImportError:  # pragma: no cover - a markupsafe without it: the public function

    def _escape_inner(s: str, /) -> str:
        return str(escape(s))


def escape_output(value: Any) -> str:
    """The text ``markupsafe.escape(value)`` has, without making a Markup of it."""
    kind = type(value)
    if kind is str:
        return _escape_inner(value)
    if kind is Markup:
        return value
    return escape(value)  # __html__, numbers, undefined values (which raise) as before


class _Generator(CodeGenerator):
    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        """Outside a buffer: one ``yield "".join((...))`` for the node's pieces, not one yield each
        (inside one, stock Jinja2 already adds them in one ``extend``)."""
        if frame.buffer is not None or (frame.require_output_check and self.has_known_extends):
            super().visit_Output(node, frame)
            return
        finalize = self._make_finalize()
        body: list[list[Any] | nodes.Expr] = []
        for child in node.nodes:  # constants folded as stock Jinja2 folds them
            try:
                if not (finalize.const or isinstance(child, nodes.TemplateData)):
                    raise nodes.Impossible()
                const = self._output_child_to_const(child, frame, finalize)
            except (nodes.Impossible, Exception):
                body.append(child)
                continue
            if body and isinstance(body[-1], list):
                body[-1].append(const)
            else:
                body.append([const])
        if not body:
            return
        if frame.require_output_check:
            self.writeline("if parent_template is None:")
            self.indent()
        one = len(body) == 1
        if not one:
            self.writeline('yield "".join((')
            self.indent()
        for item in body:
            node_of = None if isinstance(item, list) else item  # its line, for tracebacks
            if one:
                self.writeline("yield ", node_of)
            else:
                self.newline(node_of)
            if isinstance(item, list):
                self.write(self._output_const_repr(item))
            else:
                self._output_child_pre(item, frame, finalize)
                self.visit(item, frame)
                self._output_child_post(item, frame, finalize)
            if not one:
                self.write(",")
        if not one:
            self.outdent()
            self.writeline("))")
        if frame.require_output_check:
            self.outdent()

    def _output_child_pre(self, node: Expr, frame: Frame, finalize: CodeGenerator._FinalizeInfo) -> None:
        if frame.eval_ctx.volatile or not frame.eval_ctx.autoescape:
            super()._output_child_pre(node, frame, finalize)
            return
        self.write("environment.escape_output(")
        if finalize.src is not None:
            self.write(finalize.src)


class PageEnvironment(Environment):
    code_generator_class = _Generator
    escape_output = staticmethod(escape_output)

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}


def render_bytes(template: Template, variables: dict[str, Any]) -> bytes:
    """``template.render(variables).encode()``, each piece encoded on its own: a page is ASCII
    but for a few pieces (every page's footer has a "©"), and one character past ASCII makes
    a whole joined page encode character by character (6 us of a 13 kB page) where ASCII pieces
    encode as a copy. Errors are reported as ``render`` reports them."""
    try:
        return b"".join([piece.encode() for piece in template.root_render_func(template.new_context(variables))])
    except Exception:
        template.environment.handle_exception()
        raise  # not reached: handle_exception raises the error, its traceback rewritten


class TemplateCache(BytecodeCache):
    """Compiled templates kept between builds in the snapshot folder. Templates compiled
    during a build are written by ``save``, after the build succeeded."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            with open(os.path.join(self.folder, bucket.key), "rb") as f:
                bucket.load_bytecode(f)
        except OSError:
            pass

    def dump_bytecode(self, bucket: Bucket) -> None:
        out = io.BytesIO()
        bucket.write_bytecode(out)
        self.compiled[bucket.key] = out.getvalue()

    def save(self) -> None:
        if self.compiled:
            os.makedirs(self.folder, exist_ok=True)
        for key, data in self.compiled.items():
            atomic_write(os.path.join(self.folder, key), data)
