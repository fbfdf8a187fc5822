"""Where the signing keys come from.

In order: ``CODESITE_EDGE_KEYS`` (keys separated by commas or white space, oldest first, the last
signs), a keys file (one key a line, oldest first, ``#`` comments), or for local use a development
key generated once into the output folder (never use it in production: it lives beside the build).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping

from .cookies import Keys

ENV = "CODESITE_EDGE_KEYS"
DEV_KEY_FILE = "edge-dev.key"


def parse_keys(text: str) -> Keys:
    keys = [k for line in text.splitlines() for k in line.split("#", 1)[0].replace(",", " ").split()]
    return Keys.of(*keys)


def load_keys(
    env: Mapping[str, str] | None = None, keys_file: str | None = None, dev_dir: str | None = None
) -> tuple[Keys, str]:
    """The keys and where they came from (for the startup message)."""
    env = os.environ if env is None else env
    if env.get(ENV, "").strip():
        return parse_keys(env[ENV]), f"${ENV}"
    if keys_file:
        with open(keys_file, encoding="utf-8") as f:
            return parse_keys(f.read()), keys_file
    if dev_dir is None:
        raise ValueError(f"no signing keys: set {ENV} or pass a keys file")
    path = os.path.join(dev_dir, DEV_KEY_FILE)
    if not os.path.exists(path):
        os.makedirs(dev_dir, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
    with open(path, encoding="utf-8") as f:
        return parse_keys(f.read()), f"{path} (generated development key)"
