"""codesite: a static site generator for medical code reference sites."""

__version__ = "0.1.0"
