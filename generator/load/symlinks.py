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
from ..messages import M

SOURCE_FOLDERS = ("content", "layouts", "assets")


def link_error(site_dir: str, rel: str) -> PathError:
    try:
        target = os.readlink(os.path.join(site_dir, rel))
    except OSError:
        target = "?"
    return PathError(rel, 0, "symlink", M.SYMLINK.format(target=target))


def find_symlinks(site_dir: str, codes: bool = True) -> list[PathError]:
    """A ``path: symlink: ...`` error for every link in the source folders (not inside linked
    folders: those are not entered). ``codes=False``: not below content/codes/, whose links
    the content scan notes as it stats the files (98k entries are walked once, not twice)."""
    errors: list[PathError] = []
    for top in SOURCE_FOLDERS:
        path = os.path.join(site_dir, top)
        if os.path.islink(path):
            errors.append(link_error(site_dir, top))
        else:
            _walk(site_dir, path, top, codes, errors)
    return errors


def _walk(site_dir: str, folder: str, rel: str, codes: bool, errors: list[PathError]) -> None:
    """``find_symlinks`` of one folder and those below it (a module function: see ``scan._walk``)."""
    try:
        entries = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    with entries:  # 98k entries in one folder: nothing per entry but the two type tests
        for e in entries:
            if e.is_symlink():
                errors.append(link_error(site_dir, f"{rel}/{e.name}"))
            elif e.is_dir(follow_symlinks=False) and (codes or f"{rel}/{e.name}" != "content/codes"):
                _walk(site_dir, e.path, f"{rel}/{e.name}", codes, errors)


def refuse_symlinks(site_dir: str) -> None:
    """Raise CheckFailed listing every link in the site's sources, before anything is read; the
    links below content/codes/ are left to the content scan (``refuse_scanned_links``), unless
    there are others: then all are listed at once."""
    errors = find_symlinks(site_dir, codes=False)
    if errors:
        from .scan import LINK, scan

        errors += [link_error(site_dir, rel) for rel, st in scan(site_dir).items() if st == LINK]
        raise CheckFailed(list(errors))


def refuse_scanned_links(site_dir: str, stats: dict[str, tuple[int, int]]) -> None:
    """Raise CheckFailed for the links the content scan noted (before any content file is read)."""
    from .scan import LINK

    errors = [link_error(site_dir, rel) for rel, st in stats.items() if st == LINK]
    if errors:
        raise CheckFailed(list(errors))
