"""Every word the web client shows comes from its catalogues: a lint of the JavaScript sources
for English sentences written outside them.

A heuristic, made reliable by being narrow: it reads each string literal and template piece
(comments skipped) and flags the ones that read as English for people, either a sentence
("Could not load messages", "No room matches.") or any word put where people read it (a
`text:`, `title:`, `"aria-label":` or `placeholder:` value, `textContent =`, `toast(`,
`confirm(`, `new Error(`). Catalogue keys (`chat.loading`), CSS selectors, class names and
imports are not text. The few English literals that must stay are listed with their reason.
"""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "gateway" / "gateway" / "static"

# (file, literal): English that is not shown from the catalogue, and why.
ALLOWED = {
    # The websocket's state names (the page shows them through conn.<state>).
    ("socket.js", "idle"),
    ("socket.js", "online"),
    ("socket.js", "reconnecting"),
    # The service worker's title when even the catalogue cannot be fetched (offline).
    ("sw.js", "New message"),
}

KEY = re.compile(r"^[a-z_]+(\.[a-z_0-9]+)+$")
SENTENCE = re.compile(
    r"[A-Z][a-z]+(?:[ ,;:'\u2019]+[A-Za-z'\u2019]+)+"
    r"|\b[a-z]{2,} [a-z]{2,}\b.*[.!?…]$|^[A-Z][a-z]+[.!?…:]$"
)
SINK = re.compile(
    r'(?:\btext|\btitle|"aria-label"|\bplaceholder|\balt|\blabel|textContent\s*=|\btoast'
    r"|\bconfirm|\balert|\bprompt|\bError|\bsetState|\bnote)\s*[:(=]\s*$"
)
NOT_TEXT_BEFORE = re.compile(
    r"import\s[^;]*from\s*$|querySelector(?:All)?\(\s*$|\$\(\s*$|\bclass:\s*$|\.key\s*===?\s*$"
    r"|addEventListener\(\s*$|console\.\w+\(\s*$"
)
# Where a `/` starts a regular expression rather than a division.
REGEX_CAN_START = re.compile(r"(?:[(=,:!&|?;{}\[]|\breturn)\s*$|^\s*$")
REGEX = re.compile(r"/(?:\\.|\[(?:\\.|[^\]\\])*\]|[^/\\\n])+/[a-z]*")


def literals(src: str) -> list[tuple[int, str, str]]:
    """(line, text, the code just before) of each string literal and template-literal piece."""
    found: list[tuple[int, str, str]] = []
    n = len(src)
    # Open template literals: the brace depth at which each resumes, and the code before it
    # (a piece after ${...} is shown where the whole literal is).
    waiting: list[tuple[int, str]] = []
    depth = 0

    def string_end(i: int, quote: str) -> tuple[int, str, bool]:
        text: list[str] = []
        while i < n and src[i] != quote:
            if src[i] == "\\":
                text.append(src[i : i + 2])
                i += 2
                continue
            if src[i] == "\n" and quote != "`":
                break
            if quote == "`" and src.startswith("${", i):
                return i, "".join(text), True
            text.append(src[i])
            i += 1
        return i, "".join(text), False

    def template_piece(i: int, before: str) -> int:
        end, text, opened = string_end(i, "`")
        found.append((src.count("\n", 0, i) + 1, text, before))
        if opened:
            waiting.append((depth, before))
            return end + 2
        return end + 1

    i = 0
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            i = src.find("\n", i)
            i = n if i < 0 else i
        elif src.startswith("/*", i):
            i = src.find("*/", i) + 2
        elif c in "\"'":
            end, text, _ = string_end(i + 1, c)
            found.append((src.count("\n", 0, i) + 1, text, src[max(0, i - 50) : i]))
            i = end + 1
        elif c == "`":
            i = template_piece(i + 1, src[max(0, i - 50) : i])
        elif c == "}" and waiting and waiting[-1][0] == depth:
            i = template_piece(i + 1, waiting.pop()[1])
        elif c == "/" and REGEX_CAN_START.search(src[max(0, i - 20) : i].split("\n")[-1]):
            match = REGEX.match(src, i)
            i = match.end() if match else i + 1
        else:
            depth += {"{": 1, "}": -1}.get(c, 0)
            i += 1
    return found


def english_literals(path: Path) -> list[tuple[str, int, str]]:
    """The literals of one file that read as English shown to people."""
    flagged = []
    for line, text, before in literals(path.read_text(encoding="utf-8")):
        if KEY.match(text) or NOT_TEXT_BEFORE.search(before) or (path.name, text) in ALLOWED:
            continue
        shown = SINK.search(before) and re.search(r"[A-Za-z]{2,}", text)
        if SENTENCE.search(text) or shown:
            flagged.append((path.name, line, text))
    return flagged


def test_the_lint_finds_english_written_in_the_code(tmp_path: Path) -> None:
    """The heuristic flags the kinds of English the client used to carry, and not code."""
    src = """
      import { x } from "./state.js";
      toast(`Could not load your rooms: ${err.message}`, "error");
      el("span", { class: "muted small presence-text", text: "edited" });
      const sub = `${count} ${count === 1 ? "member" : "members"}`;
      node.textContent = "Several people are typing…";
      // A comment with Words in it: "Not this one."
      if (event.key === "Enter" && $("#composer-input")) setHistoryState(t("chat.loading"));
      const re = /"[A-Z][a-z]+ quoted"/g;
      el("li", { "aria-label": `${title}, ${n} unread` });
    """
    path = tmp_path / "sample.js"
    path.write_text(src, encoding="utf-8")
    texts = {text for _, _, text in english_literals(path)}
    assert texts == {
        "Could not load your rooms: ",
        "edited",
        "Several people are typing…",
        " unread",
    }


def test_web_client_sources_have_no_english_outside_the_catalogues() -> None:
    """No JavaScript module of the web client carries a user-visible English literal."""
    flagged = [hit for path in sorted(STATIC.glob("*.js")) for hit in english_literals(path)]
    assert not flagged, "\n".join(f"{name}:{line}: {text!r}" for name, line, text in flagged)
