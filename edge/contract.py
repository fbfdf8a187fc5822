"""The page contract between the generator and the edge, written once.

The renderer writes these markers into every code page and the edge reads them back; both
import this module (the edge must stay importable without the generator, for Lambda@Edge, so
it lives here and the generator depends on it, never the other way round). Change a marker
here and both sides change together; the test suite renders the sample and meters it through
the edge, also with a template whose attributes are in another order.

- ``BANNER``: where the edge writes the meter banner (every page that may show one).
- ``GATE_OPEN``/``GATE_CLOSE``: around each gated section's placeholder; the edge fills it from
  the fragment ``private/<page folder>/<id>.html``.
- ``REGISTER_FORM``: the attribute of the register page's form; the banner there does not link
  to the page it is on.
- ``code_attributes``: the ``data-code``/``data-system`` attributes of the code page's
  ``<article class="code-page">``, the page's meter key; read in any attribute order.
- ``FINGERPRINTED``: the names of assets published under their digest, immutable once served.
- The meter defaults (views for a guest, more for a registered account, the period) and the
  most codes a meter cookie can carry, which bounds the two view counts' sum.
"""

from __future__ import annotations

import re
from html import escape, unescape

BANNER = "<!--meter-banner-->"
GATE_OPEN = "<!--gated:{id}-->"
GATE_CLOSE = "<!--/gated:{id}-->"
GATE = re.compile(r"<!--gated:([A-Za-z0-9_-]{1,80})-->(.*?)<!--/gated:\1-->", re.S)
SECTION_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")  # what a gate id may be (the content schema checks it)

ARTICLE_CLASS = "code-page"
_ARTICLE = re.compile(r"<article\b([^>]*)>", re.I)
_ATTR = re.compile(r"""\s([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""")

# An asset published under its content's digest (``assets/site.3f2a1c9b0d.css``): the build
# names them so, the edge serves them cacheable for a year.
FINGERPRINT_LEN = 10
FINGERPRINTED = re.compile(rf"\.[0-9a-f]{{{FINGERPRINT_LEN}}}(?:\.[A-Za-z0-9]+)?$")
REGISTER_FORM = "data-register-form"  # the register page's form: the banner there does not offer it

GUEST_VIEWS = 1
REGISTERED_VIEWS = 5
PERIOD_DAYS = 30
MAX_OPENED = 24  # codes a meter cookie carries: 24 long ICD-10-CM codes stay under 1 KB


def code_attributes(system: str, code: str) -> str:
    """The attributes that name a code page's meter key, for ``<article class="code-page" …>``."""
    return f'data-code="{escape(code)}" data-system="{escape(system)}"'


def page_code(html: str) -> tuple[str, str] | None:
    """(system, code) of the first ``<article>`` whose class list holds ``code-page`` and that
    has both attributes, whatever their order; None for any other page."""
    for m in _ARTICLE.finditer(html):
        attrs = {
            a.group(1).lower(): unescape(a.group(2) if a.group(2) is not None else a.group(3) or a.group(4) or "")
            for a in _ATTR.finditer(m.group(1))
        }
        if ARTICLE_CLASS in attrs.get("class", "").split():
            code, system = attrs.get("data-code"), attrs.get("data-system")
            if code and system and len(code) <= 60 and len(system) <= 40:
                return system, code
            return None
    return None


def has_gates(html: str) -> bool:
    return GATE.search(html) is not None
