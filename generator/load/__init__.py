"""Load and check: the first stage of every command that reads a site (``checked.load_and_check``).

The package's names are imported on first use (PEP 562): ``codesite build`` imports
``load.scan`` to fork the process that stats the content files, and that fork must come from a
small process, before Jinja2, YAML and the rest of the loader are imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checked import Loaded, load_and_check, load_config, load_site, read_config, read_config_checked

__all__ = ["Loaded", "load_and_check", "load_config", "load_site", "read_config", "read_config_checked"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import checked

        return getattr(checked, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
