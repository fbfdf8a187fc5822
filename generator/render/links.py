"""Relative links from a page, memoised per page folder (a page links hundreds of codes)."""

from __future__ import annotations

from ..model.urls import relative


class Links:
    """Relative hrefs from one page, by target URL: ``links['/search/']`` in templates.

    An href depends on the page only through its folder (``own``, e.g. /icd-10-cm/S73.0/):
    to a target outside that folder, on the folder's parent alone. Pages of one parent (all
    code pages of a system) share one memo; targets inside the page's own folder are worked
    out each time.
    """

    __slots__ = ("page", "own", "memo", "file_links")

    def __init__(self, page: str, own: str, memo: dict[str, str], file_links: bool) -> None:
        self.page = page
        self.own = own
        self.memo = memo
        self.file_links = file_links

    def __getitem__(self, target: str) -> str:
        if target.startswith(self.own):
            return relative(self.page, target, self.file_links)
        href = self.memo.get(target)
        if href is None:
            href = self.memo[target] = relative(self.page, target, self.file_links)
        return href


class AbsoluteLinks(Links):
    """Links as given: for pages served at any address (the 404 page)."""

    def __init__(self) -> None:
        super().__init__("/", "/", {}, False)

    def __getitem__(self, target: str) -> str:
        return target
