"""A message body as safe HTML with the parts a search matched wrapped in ``<mark>``.

The words are cut exactly as migration 0003 cuts them in Postgres (the same code point
ranges), so what is marked is what matched: a word that starts with a query word (whole
words for one-letter query words), and every occurrence of a Hangul, kana or Han query run.
Spans are found on the raw text and each piece is escaped on its own, so a ``<mark>`` never
splits an entity and nothing of the body can open a tag.
"""

from __future__ import annotations

import html
import re

WORD = "0-9A-Za-zªµºÀ-ÖØ-öø-ɏͰ-ϿЀ-ӿ"
CJK = "가-힣ᄀ-ᇿ㄰-㆏぀-ヿ㐀-䶿一-鿿豈-﫿"
_RUNS = re.compile(f"[{WORD}]{{1,64}}|[{CJK}]+")
_CJK_START = re.compile(f"[{CJK}]")
_LONG_CJK = re.compile(f"[{CJK}]{{3,}}")

Span = tuple[int, int]


def query_terms(query: str) -> tuple[list[str], list[str]]:
    """The word runs and the CJK runs of a query, lowercased, each once."""
    words: dict[str, None] = {}
    cjk: dict[str, None] = {}
    for run in _RUNS.findall(query.lower()):
        (cjk if _CJK_START.match(run) else words)[run] = None
    return list(words), list(cjk)


def has_terms(query: str) -> bool:
    """Whether the query has anything to search for (a letter, digit or CJK character)."""
    return _RUNS.search(query) is not None


def has_long_cjk_run(query: str) -> bool:
    """Whether the query has a CJK run of 3+ characters, which the index alone cannot place
    (it finds its pieces, maybe apart): the store then checks the run itself."""
    return _LONG_CJK.search(query) is not None


def _word_spans(body: str, words: list[str]) -> list[Span]:
    spans = []
    for match in _RUNS.finditer(body):
        token = match.group()
        if _CJK_START.match(token):
            continue
        lowered = token.lower()
        for word in words:
            prefix = len(word) > 1
            if lowered == word or (prefix and lowered.startswith(word)):
                # Lowercasing may change a length (rarely): then the whole word is marked.
                same = len(lowered) == len(token)
                end = match.start() + len(word) if same else match.end()
                spans.append((match.start(), end))
    return spans


def _cjk_spans(body: str, runs: list[str]) -> list[Span]:
    spans = []
    for run in runs:
        start = body.find(run)
        while start >= 0:
            spans.append((start, start + len(run)))
            start = body.find(run, start + 1)
    return spans


def _merged(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(body: str, query: str) -> str:
    """``body`` HTML-escaped, with what ``query`` matched wrapped in ``<mark>``."""
    words, cjk = query_terms(query)
    spans = _merged(_word_spans(body, words) + _cjk_spans(body, cjk))
    out = []
    at = 0
    for start, end in spans:
        out.append(html.escape(body[at:start]))
        out.append(f"<mark>{html.escape(body[start:end])}</mark>")
        at = end
    out.append(html.escape(body[at:]))
    return "".join(out)
