"""The page environment's cheaper ``{{ value }}`` renders exactly what stock Jinja2 renders."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import DictLoader, Environment, StrictUndefined, UndefinedError
from markupsafe import Markup

from generator.render.templating import PageEnvironment, escape_output

TEMPLATES = {
    "macros.html": "{% macro item(x) %}<li>{{ x }}</li>{% endmacro %}",
    "base.html": "<title>{{ title }}</title>{% block main %}{% endblock %}",
    "page.html": """{% extends "base.html" %}
{% from "macros.html" import item %}
{% block main %}
{{ text }}|{{ markup }}|{{ number }}|{{ none }}|{{ html_obj }}|{{ text|safe }}|{{ text|e }}|{{ markup ~ text }}
{% for t in items %}{{ item(t) }}{{ loop.index }}{% endfor %}
{% set block %}<b>{{ text }}</b>{% endset %}{{ block }}|{{ block|length }}
{% filter upper %}{{ text }}{% endfilter %}
{% autoescape false %}{{ text }}{% endautoescape %}
{% autoescape flag %}{{ text }}{% endautoescape %}
{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}{{ text }}{% endcall %}
{% include "macros.html" %}{{ item(markup) }}
{% endblock %}""",
}


class Html:
    def __html__(self) -> str:
        return "<i>safe</i>"

    def __str__(self) -> str:
        return "<i>unsafe</i>"


VALUES: dict[str, Any] = {
    "title": "A & B <c> 'd' \"e\"",
    "text": "<script>alert('x') & \"y\"</script>",
    "markup": Markup("<em>kept</em>"),
    "number": 42,
    "none": None,
    "html_obj": Html(),
    "items": ["<a>", Markup("<b>"), 3],
}


def render(env_class: type[Environment], **extra: Any) -> str:
    env = env_class(loader=DictLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)
    return env.get_template("page.html").render({**VALUES, **extra})


@pytest.mark.parametrize("flag", [True, False])
def test_page_environment_renders_as_stock_jinja(flag: bool) -> None:
    assert render(PageEnvironment, flag=flag) == render(Environment, flag=flag)
    assert "&lt;script&gt;alert(&#39;x&#39;) &amp; &#34;y&#34;&lt;/script&gt;" in render(PageEnvironment, flag=flag)


def test_undefined_values_still_raise() -> None:
    env = PageEnvironment(autoescape=True, undefined=StrictUndefined)
    with pytest.raises(UndefinedError):
        env.from_string("{{ nope }}").render()


def test_escape_output_keeps_markup_and_escapes_text() -> None:
    assert escape_output("<&>") == "&lt;&amp;&gt;" and type(escape_output("x")) is str
    assert escape_output(Markup("<b>")) == "<b>"
    assert escape_output(Html()) == "<i>safe</i>"
    assert escape_output(1.5) == "1.5"


def test_output_goes_through_escape_output() -> None:
    """Fails if a Jinja2 release stops calling the hook we override (pages stay right, but slow)."""
    env = PageEnvironment(autoescape=True)
    assert "environment.escape_output(" in str(env.compile("{{ x }}", raw=True))


def test_template_globals_overlay_the_environments() -> None:
    env = PageEnvironment(loader=DictLoader({"t.html": "{{ a }}{{ b }}"}), autoescape=True)
    env.globals.update(a="1", b="2")
    assert env.get_template("t.html").render() == "12"
    assert env.from_string("{{ a }}{{ b }}", globals={"b": "3"}).render() == "13"
    assert env.from_string("{{ a }}{{ b }}").render(a="4") == "42"
