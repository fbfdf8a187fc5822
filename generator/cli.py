"""The command line: parses arguments and calls the stages; no logic of its own."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from . import __version__
from .errors import CheckFailed, CodesiteError


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
    b.add_argument("--file-links", action="store_true",
                   help="links end in index.html, for browsing the output from file://")
    b.add_argument("--descriptors", action="append", default=[], metavar="SYSTEM=FILE",
                   help="licensed official descriptors (CSV or TSV of code,descriptor), e.g. cpt=cpt.csv")

    c = sub.add_parser("check", help="check every content file and print each problem as path:line: field: message",
                       description="Validate content/site.yaml and every file in content/codes/ against the "
                       "schema and each other. Exit status 1 if there is any problem.")
    _site_arg(c)

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
    s.add_argument("--debounce", type=int, default=50, metavar="MS",
                   help="quiet time that ends a batch of changes, one rebuild (default: 50 ms; raise it "
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

    sub.add_parser("schema", help="print the content schema as Markdown",
                   description="Print the fields of a content file and of site.yaml, from the declared schema.")
    return ap


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
        print(f"open {os.path.join(out, 'site', 'index.html')}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .load import load_site

    site = load_site(args.site)
    print(f"ok: {len(site.codes)} codes checked")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    import json

    from .search import query_whoosh, whoosh_dir

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
    return DevServer(settings).run()


COMMANDS = {
    "build": cmd_build, "check": cmd_check, "import": cmd_import, "schema": cmd_schema,
    "search": cmd_search, "serve": cmd_serve,
}


def main(argv: Sequence[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    if not args.command:
        ap.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except CheckFailed as exc:
        for e in exc.errors:
            print(e, file=sys.stderr)
        tail = "; nothing was written" if args.command == "build" else ""
        print(f"{len(exc.errors)} error(s){tail}", file=sys.stderr)
        return 1
    except CodesiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
