"""mkdocs hooks: pages that must not drift from the code are generated from it.

``<!-- serve-options -->`` in a page becomes the table of every ``taskcancel serve`` flag
and ``TASKCANCEL_*`` variable, read from the CLI's own option table
(:data:`taskcancel.cli._serve_options.OPTIONS`, the one ``serve`` parses with), so an
option added there appears here on the next build, with its default and help text.
``<!-- common-parameters -->`` becomes the list of the RPC protocol's common parameters
(:data:`taskcancel.api._actions.COMMON_PARAMETERS`, the journal's table too).
"""

from __future__ import annotations

import re
from typing import Any

SERVE_OPTIONS_MARKER = "<!-- serve-options -->"
COMMON_PARAMETERS_MARKER = "<!-- common-parameters -->"
#: The note a page puts right after a marker for readers of the raw Markdown (GitHub),
#: where the marker shows nothing: ``*(The ... is generated when the site is built ...)*``,
#: on one or more lines. The built page has the generated text instead, so it goes.
_RAW_NOTE = r"\n\*\(?The (?:table|list) is generated when the site is built:.*?\*(?=\n|$)"


def _cell(text: str) -> str:
    """Pipes outside code spans would split the cell (inside them they are kept)."""
    parts = text.split("`")
    return "`".join(p if i % 2 else p.replace("|", "\\|") for i, p in enumerate(parts))


def serve_options_table() -> str:
    """A Markdown table: flag, variable, default, what it does; one row per option."""
    from taskcancel.cli import _serve_options as options

    rows = [
        "| flag | variable | default | what it does |",
        "|---|---|---|---|",
    ]
    for dest, (variable, convert, default, text) in options.OPTIONS.items():
        flag = options._flag(dest)
        if convert is options._switch:
            shown_flag = f"`{flag}`"
            shown_default = "off"
            what = f"{text}; the variable takes 1/true/yes/on or 0/false/no/off"
        else:
            shown_flag = f"`{flag} {options._METAVARS.get(dest, dest.upper())}`"
            shown_default = str(options._SHOWN.get(dest, "none" if default is None else default))
            what = text
        if dest == "access_keys":
            shown_flag += " (repeatable)"
        rows.append(
            f"| {_cell(shown_flag)} | `{variable}` | {_cell(shown_default)} | {_cell(what)} |"
        )
    return "\n".join(rows) + "\n"


def common_parameters() -> str:
    """The common parameters, as a comma-separated list of code spans."""
    from taskcancel.api._actions import COMMON_PARAMETERS

    return ", ".join(f"`{name}`" for name in sorted(COMMON_PARAMETERS))


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """mkdocs' hook: put the generated tables where their markers are."""
    if SERVE_OPTIONS_MARKER in markdown:
        markdown = re.sub(
            re.escape(SERVE_OPTIONS_MARKER) + f"(\\.?)(?:{_RAW_NOTE})?",
            lambda m: serve_options_table() + m.group(1),
            markdown,
            flags=re.DOTALL,
        )
    if COMMON_PARAMETERS_MARKER in markdown:
        markdown = re.sub(
            re.escape(COMMON_PARAMETERS_MARKER) + f"(\\.?)(?:{_RAW_NOTE})?",
            lambda m: common_parameters() + m.group(1),
            markdown,
            flags=re.DOTALL,
        )
    return markdown
