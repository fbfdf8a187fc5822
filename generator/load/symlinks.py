"""The build reads nothing through a symbolic link.

Every symbolic link in ``content/``, ``layouts/`` and ``assets/`` (or one of those folders being a
link) is refused, wherever it points: inside the site folder or out of it. A link is how a pull
request would publish a file the build machine can read (``assets/leak.html`` pointing at
``../build/private/...``, ``/etc/hostname`` or the signing key), and refusing all of them is
simpler to audit than resolving each and judging where it lands. This runs before anything is
read; it lists folders without a ``stat`` per file (``DirEntry.is_symlink`` uses the folder's
own entry types).
"""

from __future__ import annotations

import os

from ..errors import CheckFailed, PathError

SOURCE_FOLDERS = ("content", "layouts", "assets")
MESSAGE = "symbolic links are not followed (this one points to '{}'); put the file itself here"


def find_symlinks(site_dir: str) -> list[PathError]:
    """A ``path: symlink: ...`` error for every link in the source folders (not inside linked
    folders: those are not entered)."""
    errors: list[PathError] = []

    def refuse(full: str, rel: str) -> None:
        try:
            target = os.readlink(full)
        except OSError:
            target = "?"
        errors.append(PathError(rel, 0, "symlink", MESSAGE.format(target)))

    def walk(folder: str, rel: str) -> None:
        try:
            entries = os.scandir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return
        with entries:
            for e in entries:
                inner = f"{rel}/{e.name}"
                if e.is_symlink():
                    refuse(e.path, inner)
                elif e.is_dir(follow_symlinks=False):
                    walk(e.path, inner)

    for top in SOURCE_FOLDERS:
        path = os.path.join(site_dir, top)
        if os.path.islink(path):
            refuse(path, top)
        else:
            walk(path, top)
    return errors


def refuse_symlinks(site_dir: str) -> None:
    """Raise CheckFailed listing every link in the site's sources."""
    errors = find_symlinks(site_dir)
    if errors:
        raise CheckFailed(list(errors))
