"""Every message ``codesite check`` can print, with what it means and how to fix it.

The checks format their messages from these templates (``{name}`` fills in); ``codesite docs``
writes them all into docs/errors.md, and a test proves that every message the fixtures produce
matches exactly one template here and that every template is produced by some fixture, so the
list cannot drift from the checks.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Message:
    text: str  # the template: {name} marks a part that varies
    meaning: str
    fix: str
    severity: str = "error"
    where: str = "content"  # content | config | layouts

    def format(self, **parts: object) -> str:
        return self.text.format(**parts)

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        out = ""
        for literal, name, _, _ in string.Formatter().parse(self.text):
            out += re.escape(literal)
            if name is not None:
                out += ".+?"
        return re.compile(out)

    def matches(self, message: str) -> bool:
        return self.pattern.fullmatch(message) is not None


class M:
    """The registry: one attribute per message."""

    # --- reading a file
    NO_FENCE = Message(
        "file must start with a '---' line",
        "A content file starts with its front matter, between two lines of three dashes.",
        "Add a line `---` at the very top, and another after the last field.",
    )
    NO_CLOSING_FENCE = Message(
        "no closing '---' line after the front matter",
        "The front matter never ends, so the whole file would be read as fields.",
        "Add a line `---` after the last field, before the description.",
    )
    NOT_UTF8 = Message(
        "not valid UTF-8 ({reason})",
        "The file was saved in another encoding (often by a word processor).",
        "Save the file as UTF-8 (the GitHub web editor always does).",
    )
    CANNOT_READ = Message(
        "cannot read ({reason})",
        "Something is in the file's place but cannot be opened: a folder named like a code file "
        "(`Is a directory`), or a file its permissions do not let the build read.",
        "A folder: move what is in it out and remove it, then add the code's file. A file: make it "
        "readable (`chmod a+r`).",
    )
    SYMLINK = Message(
        "symbolic links are not followed (this one points to '{target}'); put the file itself here",
        "A file or folder in content/, layouts/ or assets/ is a symbolic link (a shortcut to another place). "
        "The build reads no link, wherever it points, so that a change cannot publish a file from elsewhere "
        "on the build machine. Nothing else is checked until it is gone.",
        "Replace the link with the file itself (copy it in), or remove the link.",
    )
    DEEP_FILE = Message(
        "content files go in content/codes/<system>/, not deeper",
        "Each code's file sits directly in its system's folder.",
        "Move the file up into content/codes/<system>/.",
    )
    # --- YAML, in plain words
    YAML_COLON = Message(
        "put the {field} in quotes: it contains a colon",
        "A colon followed by a space starts a new field, so a value may not contain one unquoted.",
        'Write the value between double quotes: `title: "Hip: dislocation"`.',
    )
    YAML_OPEN_LIST = Message(
        "the list that starts here is not closed: end it with ']'",
        "A list written on one line, `[a, b]`, needs its closing bracket on the same field.",
        "Add `]` after the last item, or write one item a line, each starting with `- `.",
    )
    YAML_OPEN_MAPPING = Message(
        "the one-line group of fields that starts here is not closed: end it with '}}'",
        "A group of fields written on one line, `{code: S73, relation: see_also}`, needs its closing brace.",
        "Add `}` after the last field of the group.",
    )
    YAML_OPEN_QUOTE = Message(
        "the quoted text that starts here is not closed: add the closing {quote}",
        "Text that starts with a quote must end with the same quote.",
        "Add the closing quote at the end of the text. A double quote inside double quotes is written `\\\"`.",
    )
    YAML_TAB = Message(
        "indent with spaces, not tabs",
        "YAML does not allow tab characters for indentation.",
        "Replace the tab at the start of the line with spaces (two per level).",
    )
    YAML_NO_COLON = Message(
        "this line is not 'field: value': add ': ' after the field name, or indent it to continue the text above",
        "Every line of the front matter is a field, an item of a list, or the continuation of a value.",
        "Write `field: value`, with a space after the colon.",
    )
    YAML_BAD_START = Message(
        "a value cannot start with '{char}': put the {field} in quotes",
        "Some characters (`@`, `` ` ``, `*`, `&`, `!`, `%`) have a meaning in YAML at the start of a value.",
        'Put the value in double quotes: `title: "*text"`.',
    )
    YAML_AFTER_QUOTE = Message(
        "text after the closing quote: put the whole {field} in quotes",
        "A quoted value ended, and more text follows it on the line.",
        'Quote the whole value: `title: "\\"Hip\\" dislocation"`, or drop the quotes.',
    )
    YAML_INDENT = Message(
        "this line's indentation does not match the fields above it",
        "Fields of one group line up; a line indented more or less than its neighbours breaks the group.",
        "Indent the line like the fields next to it (spaces only).",
    )
    YAML_OTHER = Message(
        "malformed YAML: {detail}",
        "The front matter is not valid YAML; the detail is the YAML reader's own words.",
        "Compare the line with a working file; quoting the value fixes most of these.",
    )
    DUPLICATE_FIELD = Message(
        "'{field}' is given twice (also on line {line}): keep one",
        "A field appears twice; only the last one would count.",
        "Delete one of the two lines.",
    )
    # --- the schema
    EXPECTED_STRING = Message(
        "expected a string, got {what}", "This field holds text.", "Write text; quote it if it looks like a number."
    )
    EMPTY = Message("must not be empty", "This field needs a value.", "Write the value, or remove the field.")
    NOT_ONE_OF = Message(
        "'{value}' is not one of: {choices}",
        "This field takes one of a fixed list of words.",
        "Use one of the listed words, spelled exactly.",
    )
    NO_MATCH = Message(
        "'{value}' does not match the pattern {pattern}",
        "The value has a required shape (e.g. a section id is lowercase words joined by dashes).",
        "Rewrite the value in the required shape.",
    )
    EXPECTED_BOOL = Message(
        "expected true or false, got {what}",
        "This field is a yes/no switch.",
        "Write `true` or `false`, without quotes.",
    )
    EXPECTED_INT = Message("expected a whole number, got {what}", "This setting is a count.", "Write a number.")
    AT_LEAST = Message("must be at least {minimum}", "The number is too small.", "Use a larger number.")
    EXPECTED_LIST = Message(
        "expected a list, got {what}",
        "This field holds a list, even of one item.",
        "Write `[one item]`, or one item a line starting with `- `.",
    )
    EXPECTED_MAPPING = Message(
        "expected a mapping, got {what}",
        "This field holds named fields.",
        "Write `name: value` lines indented under it (see docs/content-schema.md).",
    )
    REQUIRED = Message("required field is missing", "Every file must have this field.", "Add the field.")
    UNKNOWN_FIELD = Message(
        "unknown field (allowed: {allowed})",
        "The field is not in the schema; it would be ignored, so it is refused.",
        "Remove it, or correct its spelling to one of the allowed fields.",
    )
    UNKNOWN_FIELD_NEAR = Message(
        "unknown field: did you mean '{name}'?",
        "The field is not in the schema, but is close to one that is.",
        "Correct the spelling.",
    )
    BAD_KEY = Message(
        "key '{key}' does not match the pattern {pattern}",
        "The names in this mapping have a fixed shape (a 7th character is one letter or digit).",
        "Rename the key.",
    )
    # --- the site
    UNKNOWN_SYSTEM = Message(
        "unknown system '{system}' (known: {known})",
        "`system` names a code system declared in content/site.yaml.",
        "Use one of the known system ids.",
    )
    UNKNOWN_RELATED_SYSTEM = Message(
        "unknown system '{system}'",
        "A related code's `system` is not declared in content/site.yaml.",
        "Use a system id from site.yaml (icd10cm, cpt, ...).",
    )
    WRONG_FOLDER = Message(
        "file is in folder '{folder}' but system is '{system}'",
        "A file lives in the folder of its code system.",
        "Move the file, or correct `system`.",
    )
    BAD_CODE = Message(
        "'{code}' does not match the {system} code pattern {pattern}",
        "Each code system has a pattern every code must fit (content/site.yaml).",
        "Check the code: letters in capitals, the dot in its place.",
    )
    FILE_NAME = Message(
        "file name '{name}' does not match code '{code}'",
        "A file is named after its code, so its URL follows from its name.",
        "Rename the file, or correct `code`.",
    )
    RESERVED = Message(
        "'{code}' is a reserved URL segment", "The site uses this name for another page.", "Pick another id."
    )
    ONLY_DELETED_REPLACED = Message(
        "only deleted codes are replaced (set status: deleted)",
        "`replaced_by` says which codes replace a deleted one.",
        "Add `status: deleted`, or remove `replaced_by`.",
    )
    DUPLICATE_SECTION = Message(
        "duplicate section id '{id}'", "Section ids are anchors on the page: each is unique.", "Rename one."
    )
    DUPLICATE_CODE = Message(
        "duplicate code '{code}' (also in {other})",
        "Two files claim the same code.",
        "Keep one file (or correct the code in the other).",
    )
    NO_PARENT = Message(
        "parent '{parent}' does not exist in {system}",
        "`parent` names a code or range of the same system that has its own file.",
        "Correct the parent, or add its file first (`codesite new`).",
    )
    PARENT_LOOP = Message(
        "parent chain of '{code}' loops back to itself",
        "Following `parent` from this code comes back to it.",
        "Point one of the parents higher up the hierarchy.",
    )
    NO_RELATED = Message(
        "related code '{code}' does not exist in {system}",
        "A related code must have its own page.",
        "Correct the code, or give its `system` when it is in another code system.",
    )
    NO_REPLACEMENT = Message(
        "replacement '{code}' does not exist in {system}", "A replacement code must have its own page.",
        "Correct the code, or add the replacement first.",
    )
    UNSAFE_TAG = Message(
        "raw <{name}> is not allowed in Markdown",
        "Only the tags the page sanitiser keeps may be written as HTML; pages carry no scripts from content.",
        "Remove it, or write it in Markdown.",
    )
    UNSAFE_HANDLER = Message(
        "event handler attribute '{name}' is not allowed in Markdown",
        "HTML attributes that run scripts are refused.",
        "Remove the attribute.",
    )
    UNSAFE_URL = Message(
        "script or data URLs are not allowed in Markdown",
        "Links must lead to web pages, not run code.",
        "Use an https:// link.",
    )
    UNSAFE_SCHEME = Message(
        "URL scheme '{scheme}:' is not allowed in Markdown (allowed: http, https, mailto, or a path)",
        "A link in a description or section leads somewhere a reader's browser should not be sent from "
        "our pages (`ftp:`, `file:`, an app's own scheme). The page would drop the link.",
        "Link to an `https://` page (or `mailto:` an address, or a path on the site such as `/cpt/27253/`).",
    )
    UNSAFE_ATTRIBUTE = Message(
        "attribute '{name}' is not allowed on <{tag}> in Markdown",
        "HTML written in a description may use a few attributes only (`href` and `title` on links, `title` "
        "on `<abbr>`, `align` in tables); the page would drop the others. Styles and classes come from the "
        "site's layouts, so every page looks the same.",
        "Remove the attribute; for emphasis use Markdown (`**bold**`, `*italic*`).",
    )
    HTML_COMMENT = Message(
        "HTML comments are not allowed in Markdown",
        "`<!-- ... -->` would be dropped from the page, and could hide text from the check.",
        "Remove the comment. Notes to other editors go in the pull request, not in the file.",
    )
    IMAGE = Message(
        "images are not allowed in Markdown",
        "Code pages carry text only: an image `![...](...)` would be dropped from the page.",
        "Remove the image; describe in words what it shows.",
    )
    ATTRIBUTE_LIST = Message(
        "attribute list '{text}' is not allowed in Markdown (ids, classes and attributes come from the layouts)",
        "`{: ...}` after a paragraph or heading gives it an id, class or attribute; the page's ids (such as "
        "the meter banner's) belong to the layouts, so a description may not set any.",
        "Remove the `{: ...}` part.",
    )
    BAD_REGEX = Message(
        "invalid regular expression: {detail}",
        "A `pattern` in site.yaml (a system's, or one of its `kinds` rules) is not a valid regular expression.",
        "Fix the pattern (Python `re` syntax).",
        where="config",
    )
    DUPLICATE_SYSTEM = Message(
        "duplicate system '{id}'", "Two systems in site.yaml share an id.", "Rename one.", where="config"
    )
    DUPLICATE_PREFIX = Message(
        "duplicate URL prefix '{prefix}'", "Two systems in site.yaml share a URL prefix.", "Change one.",
        where="config",
    )
    METER_MAX = Message(
        "guest_views + registered_views must be at most {max} (a meter cookie holds {max2} codes)",
        "The meter cookie has room for a fixed number of opened codes.",
        "Lower guest_views or registered_views.",
        where="config",
    )
    CONFIG_MISSING = Message(
        "not found (is '{site}' a codesite folder?)",
        "There is no content/site.yaml under the folder given.",
        "Run the command in the site's folder, or give --site.",
        where="config",
    )
    SYNONYMS_SHAPE = Message(
        "expected a mapping of lay phrase: clinical phrase(s)",
        "content/synonyms.yaml maps each lay phrase to the clinical words it means.",
        "Write `lay phrase: clinical phrase` lines.",
        where="config",
    )
    SYNONYMS_VALUE = Message(
        "expected a phrase or a list of phrases",
        "A lay phrase in content/synonyms.yaml maps to text or a list of text.",
        "Write one phrase, or `[phrase, phrase]`.",
        where="config",
    )
    URL_CHARACTERS = Message(
        "'{url}': URLs may not contain spaces, control characters or backslashes",
        "A link in site.yaml (the menu, help_url) has a space, tab or backslash; browsers drop or rewrite "
        "these, so `java<tab>script:` would run as `javascript:`.",
        "Write the URL without spaces (`%20` where one is really needed) and with forward slashes.",
        where="config",
    )
    URL_SCHEME = Message(
        "'{url}': the scheme '{scheme}:' is not allowed (allowed: {allowed}, or a path)",
        "Every page links to this URL: only web pages, e-mail addresses and the site's own paths are "
        "allowed, never `javascript:` or `data:`, which would run code in readers' browsers.",
        "Use an `https://` URL, a `mailto:` address or a path such as `/search/`.",
        where="config",
    )
    NAV_TARGET = Message(
        "'{url}' is not a page of the site",
        "A navigation link in site.yaml leads nowhere.",
        "Fix the URL.",
        where="config",
    )
    TEMPLATE = Message(
        "{detail}", "A template in layouts/ does not compile (Jinja2's own words).", "Fix the template.",
        where="layouts",
    )
    # --- warnings (codesite check --strict fails on them)
    NO_DESCRIPTION = Message(
        "no plain-language description: write one or two sentences after the closing '---'",
        "Readers come for the description in everyday words; the page has none.",
        "Write a short description below the front matter, in our own words.",
        severity="warning",
    )
    SHARED_SYNONYM = Message(
        "lay synonym '{synonym}' is also claimed by unrelated code {other}",
        "Search sends the phrase to two codes that are neither parent and child nor related.",
        "Keep the phrase on the code it belongs to, or relate the two codes.",
        severity="warning",
    )
    NOTE_TARGET = Message(
        "the note names '{code}', which has no page in {system}",
        "A note points readers to a code the site does not have.",
        "Correct the code in the note, or add the code.",
        severity="warning",
    )
    TOO_LONG = Message(
        "{what} is {length} characters long (limit {limit})",
        "Long text is cut off in search results and lists.",
        "Shorten it; move detail into the description or a section.",
        severity="warning",
    )
    NO_TEASER = Message(
        "gated section '{id}' has no public teaser: guests see nothing of this page but titles",
        "The page's only text is metered, so guests and search engines see an empty page.",
        "Write a plain-language description (public) above the gated sections.",
        severity="warning",
    )


ALL: tuple[Message, ...] = tuple(v for v in vars(M).values() if isinstance(v, Message))


def find(message: str, path: str = "") -> list[Message]:
    """The templates a message about ``path`` matches (exactly one, for every message printed).
    A template's error is Jinja2's own text: only looked for in layouts/, when no other matches
    (a symbolic link there gets the link's message)."""
    found = [m for m in ALL if m.where != "layouts" and m.matches(message)]
    if found or not path.startswith("layouts/"):
        return found
    return [m for m in ALL if m.where == "layouts" and m.matches(message)]


def document() -> str:
    """docs/errors.md: every message, grouped by severity."""
    out = [
        "# Error and warning messages",
        "",
        "Generated by `codesite docs` from `generator/messages.py`: do not edit by hand.",
        "",
        "`codesite check` prints each problem as `file:line: field: message`. Errors stop the build;",
        "warnings only fail `codesite check --strict` (as CI runs it on pull requests).",
        "`{...}` marks the part of a message that names your file's values.",
    ]
    for severity, heading in (("error", "Errors"), ("warning", "Warnings")):
        out += ["", f"## {heading}", "", "| message | what it means | how to fix it |", "|---|---|---|"]
        for m in ALL:
            if m.severity == severity:
                cells = (m.text.replace("{{", "{").replace("}}", "}"), m.meaning, m.fix)
                text, meaning, fix = (c.replace("|", "\\|") for c in cells)
                out.append(f"| `{text}` | {meaning} | {fix} |")
    return "\n".join(out) + "\n"
