"""The command line: parses arguments and calls the stages; no logic of its own."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import time
from collections.abc import Sequence
from typing import NoReturn

from . import __version__
from .errors import CheckFailed, CodesiteError
from .serve import STEP_MS


def _site_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--site", default=".", metavar="DIR",
        help="the site folder holding content/, layouts/ and assets/ (default: the current folder)",
    )


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="codesite",
        description="Build a static medical code reference site (CPT, HCPCS Level II, ICD-10-CM) "
        "from one Markdown file per code.",
        epilog="Run 'codesite COMMAND --help' for the options of a command.",
    )
    ap.add_argument("--version", action="version", version=f"codesite {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    b = sub.add_parser("build", help="check the content, then build the site into OUT/site and OUT/private",
                       description="Load and check every content file, then render the public site into "
                       "OUT/site and the gated fragments into OUT/private. Nothing is written if any "
                       "file has an error; unchanged files are not rewritten.")
    _site_arg(b)
    b.add_argument("--out", metavar="DIR", help="output folder (default: SITE/build)")
    b.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    b.add_argument("--no-search", dest="search", action="store_false",
                   help="skip the search indexes (a quicker preview build; removes the previous ones)")
    b.add_argument("--jobs", "-j", type=int, metavar="N",
                   help="processes to parse and render with (default: one per core on big sites)")
    links = b.add_mutually_exclusive_group()
    links.add_argument("--dir-links", dest="file_links", action="store_false",
                       help="links end in '/' (/cpt/27253/): cleaner addresses on a web server, but "
                       "the output no longer opens from disk (file://)")
    links.add_argument("--file-links", dest="file_links", action="store_true",
                       help="links end in index.html, so the output works from file:// and on any "
                       "static host (the default)")
    b.set_defaults(file_links=True)
    b.add_argument("--descriptors", action="append", default=[], metavar="SYSTEM=FILE",
                   help="licensed official descriptors (CSV or TSV of code,descriptor), e.g. cpt=cpt.csv")

    c = sub.add_parser("check",
                       help="check the content files and vocabulary; print each problem as path:line: field: message",
                       description="Validate content/site.yaml and every file in content/codes/ against the "
                       "schema and each other, and the lay vocabulary in vocabulary/SYSTEM.yaml (its codes "
                       "against the installed official set). Exit status 1 if there is any error (or, with --strict, "
                       "any warning). Warnings (no description, a synonym shared by unrelated codes, a "
                       "note naming a missing code, text too long, a gated section without a public "
                       "teaser) are listed once the errors are fixed, or always with --strict.")
    _site_arg(c)
    c.add_argument("--format", choices=("text", "github", "json"), default="text",
                   help="text: path:line: field: message (default); github: workflow commands that "
                   "annotate a pull request; json: one object per problem a line")
    c.add_argument("--strict", action="store_true", help="warnings fail the check too")
    c.add_argument("--no-warnings", dest="warnings", action="store_false",
                   help="errors only (e.g. for the whole site in CI, with --strict on the changed files)")
    c.add_argument("paths", nargs="*", metavar="PATH",
                   help="report only on these files (the whole site is still checked against them)")

    s = sub.add_parser("search", help="search the codes (the whoosh index of the last build)",
                       description="Answer a query from search_index/ (made by 'codesite build'): "
                       "exact code first, then the code's family, then ranked full text.")
    _site_arg(s)
    s.add_argument("query", help="a code, part of a code, or words")
    s.add_argument("--json", action="store_true", help="one JSON object per result")
    s.add_argument("--limit", type=int, default=10, metavar="N", help="at most N results")
    s.add_argument("--index", metavar="DIR", help="the whoosh index (default: SITE/search_index)")
    s.add_argument("--system", metavar="ID", help="only codes of this code system (e.g. icd10cm)")
    s.add_argument("--billable", action="store_true", help="only billable codes")

    s = sub.add_parser(
        "serve", help="live preview: build, serve with metering, rebuild and reload pages on save",
        description="Build the site, then serve OUT/site with the metering edge (full code pages "
        "from OUT/private, accounts in OUT/edge.sqlite3), watch content/, layouts/ and assets/, "
        "rebuild on every save and reload the open pages (LiveReload; stylesheets in place). A file "
        "with a problem never stops the server: the last good site stays served and every problem "
        "shows over the pages and in the terminal until it is fixed. Signing keys come from "
        "$CODESITE_EDGE_KEYS, --keys-file, or a development key generated into OUT.")
    _site_arg(s)
    s.add_argument("--out", metavar="DIR", help="output folder (default: SITE/build)")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only)")
    s.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free)")
    s.add_argument("--no-meter", dest="meter", action="store_false",
                   help="show every gated section, without counting views (for previewing)")
    s.add_argument("--no-watch", dest="watch", action="store_false",
                   help="build once and serve, without watching or reloading")
    s.add_argument("--open", action="store_true", help="open the site in the web browser")
    s.add_argument("--debounce", type=int, default=STEP_MS, metavar="MS",
                   help=f"quiet time that ends a batch of changes, one rebuild (default: {STEP_MS} ms; raise it "
                   "on a busy machine or for tools that write in slow bursts)")
    s.add_argument("--keys-file", metavar="FILE", help="signing keys, one a line, oldest first")
    s.add_argument("--quiet", "-q", action="store_true", help="no request log")
    imp = sub.add_parser(
        "import", help="import (or re-import, as a merge) an official code set",
        description="Merge an official release into the content files: official fields are "
        "updated, codes gone from the release are marked deleted, new codes are added; what "
        "editors wrote is kept.",
    ).add_subparsers(dest="system", metavar="SYSTEM", required=True)
    i = imp.add_parser(
        "icd10cm", help="the CMS ICD-10-CM tabular XML",
        description="Without --from, reads the tabular XML and code list of the installed "
        "simple-icd-10-cm package (pip install '.[icd10cm]').",
    )
    _site_arg(i)
    i.add_argument("--from", dest="source", metavar="TABULAR.xml", help="the tabular XML file")
    i.add_argument("--codes", metavar="CODE-LIST.txt",
                   help="valid codes, one a line: filters the 7th-character expansions")
    i.add_argument("--into", metavar="DIR",
                   help="target folder (default: SITE/content/codes/icd10cm)")
    i.add_argument("--release",
                   help="release name for history entries (default: the XML's <version>)")
    i.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")

    n = sub.add_parser(
        "new", help="start a new code's file, with every field explained",
        description="Write content/codes/SYSTEM/CODE.md with every field of the schema as comments, "
        "the parent found from the hierarchy (the longest existing code that begins CODE, else the "
        "range that holds it), and kind and billable guessed from the system's rules. Refuses to "
        "overwrite a code or to create one that does not match the system's pattern.")
    _site_arg(n)
    n.add_argument("system", metavar="SYSTEM", help="a system id from content/site.yaml, e.g. icd10cm")
    n.add_argument("code", metavar="CODE", help="the new code, exactly as published, e.g. S73.01")
    n.add_argument("--parent", metavar="P", help="the parent code or range (default: found from the hierarchy)")
    n.add_argument("--title", metavar="T", help="the official descriptor (else fill it in the file)")

    d = sub.add_parser(
        "diff", help="what this change does to the published site, as Markdown",
        description="Compare the site's content with its content at a git revision: pages added, "
        "changed (title, description, notes, sections, links, ...), removed, URLs that stop existing "
        "and search entries affected. Prints Markdown for a pull request comment; exit status 1 "
        "when a URL stops existing (mark the code deleted instead of removing its file).")
    _site_arg(d)
    d.add_argument("base", nargs="?", metavar="BASE",
                   help="a git revision (default: the merge base with main)")

    o = sub.add_parser(
        "docs", help="write docs/content-schema.md and docs/errors.md",
        description="Generate the references for editors: every field of a content file (from the "
        "declared schema) and every error and warning message with its fix (from the checks' list).")
    o.add_argument("--out", default="docs", metavar="DIR", help="folder to write into (default: docs)")
    o.add_argument("--check", action="store_true",
                   help="write nothing; exit status 1 if the files in DIR are not current")

    a = sub.add_parser(
        "archive", help="the whole site in one zip that works from file://, search included",
        description="Check and build the site for reading from disk (into --build-dir, kept so the "
        "next archive is incremental), then write OUT/<site>-<systems>-<version>-<edition>.zip: "
        "every page, relative links to files for opening from file://, search, an About page; "
        "no meter, accounts or "
        "network requests. Notes and 7th-character tables that many pages share, and the header, "
        "are stored once and shown with JavaScript (as search is); without it pages link to them. "
        "The same content and date give a byte-identical zip.",
        epilog="The full edition carries licensed text (gated sections, licensed descriptors): "
        "give it only to readers your licences cover.",
    )
    _site_arg(a)
    a.add_argument("--out", default="dist", metavar="DIR", help="where the zip goes (default: dist/)")
    a.add_argument("--edition", choices=("full", "public"), default="full",
                   help="full: gated sections in place; public: their teasers only (default: full)")
    a.add_argument("--build-dir", metavar="DIR",
                   help="the archive's own build folder (default: SITE/build/archive)")
    a.add_argument("--date", metavar="YYYY-MM-DD",
                   help="the build date on the About page and every entry (default: "
                   "$SOURCE_DATE_EPOCH, else today, UTC)")
    a.add_argument("--descriptors", action="append", default=[], metavar="SYSTEM=FILE",
                   help="licensed official descriptors (CSV or TSV of code,descriptor), e.g. cpt=cpt.csv")
    a.add_argument("--jobs", "-j", type=int, metavar="N", help="processes to parse, render and compress with")
    a.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")

    sub.add_parser("schema", help="print the content schema as Markdown",
                   description="Print the fields of a content file and of site.yaml, from the declared schema.")
    return ap


def cmd_archive(args: argparse.Namespace) -> int:
    from .archive import archive_build_dir, build_date, build_for_archive, write_archive

    start = time.perf_counter()
    date = build_date(args.date)
    build_dir = args.build_dir or archive_build_dir(args.site)
    build_for_archive(args.site, build_dir, quiet=args.quiet, jobs=args.jobs, descriptor_files=args.descriptors)
    built = time.perf_counter()
    path = write_archive(args.site, build_dir, args.out, args.edition, date, jobs=args.jobs)
    if not args.quiet:
        size = os.path.getsize(path) / 1e6
        print(f"built in {built - start:.2f}s, archived in {time.perf_counter() - built:.2f}s: "
              f"{path} ({size:.1f} MB)")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from .load.scan import Prescan

    start = time.perf_counter()
    prescan = Prescan(args.site)  # stat the content files on the other core while we import
    from .build import BuildOptions, build

    report = build(
        args.site,
        BuildOptions(out_dir=args.out, quiet=args.quiet, file_links=args.file_links,
                     descriptor_files=args.descriptors, jobs=args.jobs, search=args.search,
                     prescan=prescan),
    )
    if not args.quiet:
        out = os.path.abspath(args.out or os.path.join(args.site, "build"))
        print(
            f"built in {time.perf_counter() - start:.2f}s: {report.written} written, "
            f"{report.unchanged} unchanged, {report.removed} removed"
        )
        if args.file_links:
            print(f"open {os.path.join(out, 'site', 'index.html')}")
        else:
            print(f"serve {os.path.join(out, 'site')} over HTTP (codesite serve); "
                  "from disk it opens without --dir-links")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .report import run_check

    return run_check(args.site, args.format, args.strict, args.paths, with_warnings=args.warnings)


def cmd_new(args: argparse.Namespace) -> int:
    from .scaffold import new_code

    rel = new_code(args.site, args.system, args.code, args.parent, args.title)
    print(f"wrote {rel}: fill in the title and a plain-language description, then run 'codesite check'")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from .diff import diff_site, markdown
    from .load import load_config

    d = diff_site(args.site, args.base)
    try:
        config = load_config(args.site)
    except CodesiteError:
        config = None
    print(markdown(d, config), end="")
    return 0 if d.ok else 1


def cmd_docs(args: argparse.Namespace) -> int:
    from .docs import write_docs

    stale = write_docs(args.out, check_only=args.check)
    for name in stale:
        print(f"{os.path.join(args.out, name)}: {'out of date' if args.check else 'written'}")
    return 1 if args.check and stale else 0


def cmd_search(args: argparse.Namespace) -> int:
    import json

    from .search.engine import query_whoosh, whoosh_dir

    results = query_whoosh(args.index or whoosh_dir(args.site), args.query, args.limit,
                           system=args.system, billable=args.billable)
    for r in results:
        line = f"{r['code']:<10} {r['title']}  {r['url']}"
        print(json.dumps(r, ensure_ascii=False) if args.json else line)
    if not results and not args.json:
        print("no codes match", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .importers.run import import_icd10cm

    start = time.perf_counter()
    summary = import_icd10cm(
        args.site, args.source, args.codes, args.into, args.release, args.quiet
    )
    if not args.quiet:
        print(f"imported in {time.perf_counter() - start:.2f}s: {summary}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .model.schema import CODE, SITE, document

    print(document(CODE, "Content file front matter"))
    print()
    print(document(SITE, "content/site.yaml"))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve.devserver import DevServer, Settings

    out = args.out or os.path.join(args.site, "build")
    settings = Settings(args.site, out, args.host, args.port, args.keys_file, meter=args.meter,
                        watch=args.watch, open_browser=args.open, quiet=args.quiet,
                        debounce_ms=max(1, args.debounce))
    leave(DevServer(settings).run())  # Ctrl-C is not held up by the teardown (see ``leave``)


COMMANDS = {
    "archive": cmd_archive, "build": cmd_build, "check": cmd_check, "diff": cmd_diff, "docs": cmd_docs,
    "import": cmd_import, "new": cmd_new, "schema": cmd_schema, "search": cmd_search, "serve": cmd_serve,
}


def leave(code: int) -> NoReturn:
    """Exit with ``code`` at once, skipping the interpreter's teardown: it frees a large site's
    objects one by one (0.4 s of CPU after a full build of the 98k ICD-10-CM codes). Nothing is
    left to run by then: no thread, no atexit handler, every file closed."""
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``codesite`` command. Run as the program (no ``argv``: the console script or
    ``python -m generator.cli``), the process leaves as soon as the command is done."""
    code = run(argv, program=argv is None)
    if argv is None:
        leave(code)
    return code


# Commands that build and then end the process: the collector stays off for good (a build turns
# it off, see ``parallel.collector_off``; turned back on, its first pass went over everything
# the build made, 1.2 s of a full build's CPU, with the process about to leave)
ONE_BUILD = ("build", "archive")


def run(argv: Sequence[str] | None, program: bool = False) -> int:
    """The command named in ``argv``; ``program``: this process leaves when it is done."""
    ap = parser()
    args = ap.parse_args(argv)
    if not args.command:
        ap.print_help()
        return 2
    if program and args.command in ONE_BUILD:
        gc.disable()
    try:
        return COMMANDS[args.command](args)
    except CheckFailed as exc:
        for e in exc.errors:
            print(e, file=sys.stderr)
        tail = "; nothing was written" if args.command in ("build", "import", "archive") else ""
        print(f"{len(exc.errors)} error(s){tail}", file=sys.stderr)
        return 1
    except CodesiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a folder that cannot be made or written (a full disk, a file in the way)
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
