"""Read a MediaWiki XML dump (bz2) and clean wiki markup to plain prose."""

from __future__ import annotations

import bz2
import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.S | re.I)
_DROP_ELEMENTS = re.compile(
    r"<(math|gallery|timeline|syntaxhighlight|source|score|imagemap|chem)\b[^>]*>.*?</\1>", re.S | re.I
)
_TAG = re.compile(r"<[^<>]+>")
# innermost {{...}} (single braces allowed inside); applied until nothing changes
_TEMPLATE = re.compile(r"\{\{(?:[^{}]|\{(?!\{)|\}(?!\}))*\}\}")
_TABLE = re.compile(r"\{\|(?:(?!\{\||\|\}).)*?\|\}", re.S)  # innermost {| ... |}
_TABLE_LINE = re.compile(r"^[ \t]*(?:\{\||\|).*$", re.M)  # stray table rows left by a broken table
_LINK = re.compile(r"\[\[((?:[^\[\]]|\[(?!\[)|\](?!\]))*)\]\]")  # innermost [[...]], single brackets allowed
_DROPPED_LINKS = ("file:", "image:", "category:", "media:")
_EXTERNAL_LINK = re.compile(r"\[(?:https?:)?//[^\s\]]*\s*([^\]]*)\]")
_HEADING = re.compile(r"^[ \t]*=+[ \t]*(.*?)[ \t]*=+[ \t]*$", re.M)
_EMPHASIS = re.compile(r"'{2,}")
_LIST_MARKER = re.compile(r"^[*#:;]+[ \t]*", re.M)
# "(; , Akhilleus, )" left where pronunciation/language templates were removed -> "(Akhilleus)", "()" -> ""
_PAREN_OPEN_PUNCT = re.compile(r"\([\s;,]*[;,]\s*")
_PAREN_CLOSE_PUNCT = re.compile(r"\s*[;,][\s;,]*\)")
_EMPTY_PARENS = re.compile(r" ?\(\s*\)")
_MAGIC_WORD = re.compile(r"__[A-Z]+__")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def _until_stable(pattern: re.Pattern, replace, text: str) -> str:
    """Apply `pattern.sub` until nothing changes (removes nested constructs from the inside out)."""
    while True:
        new = pattern.sub(replace, text)
        if new == text:
            return text
        text = new


def _link_text(match: re.Match) -> str:
    target = match.group(1)
    if target.lower().lstrip(":").startswith(_DROPPED_LINKS):
        return ""
    return target.rsplit("|", 1)[-1]


def clean_wikitext(text: str) -> str:
    """Wiki markup -> plain prose: drop templates, tables, refs, comments, file/category links;
    keep link text ([[a|b]] -> b), headings (== X == -> X) and emphasised text without the quotes."""
    text = _COMMENT.sub("", text)
    text = _REF.sub("", text)
    text = _DROP_ELEMENTS.sub("", text)
    text = _until_stable(_TEMPLATE, "", text)
    text = _until_stable(_TABLE, "", text)
    text = _TABLE_LINE.sub("", text)
    text = _until_stable(_LINK, _link_text, text)
    text = _EXTERNAL_LINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    text = _HEADING.sub(r"\1", text)
    text = _EMPHASIS.sub("", text)
    text = _LIST_MARKER.sub("", text)
    text = _MAGIC_WORD.sub("", text)
    text = _PAREN_OPEN_PUNCT.sub("(", text)
    text = _PAREN_CLOSE_PUNCT.sub(")", text)
    text = _EMPTY_PARENS.sub("", text)
    text = html.unescape(text)
    text = _SPACES.sub(" ", text)
    lines = [line.strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_wiki_articles(path: str | Path) -> list[str]:
    """Cleaned articles (title line, blank line, text) of the main-namespace pages; redirects dropped."""
    articles = []
    with bz2.open(path, "rb") as stream:
        for _, element in ET.iterparse(stream, events=("end",)):
            if _local(element.tag) != "page":
                continue
            fields = {_local(child.tag): child for child in element}
            text = element.findtext(".//{*}text") or ""
            is_article = (fields.get("ns") is not None and fields["ns"].text == "0")
            if is_article and "redirect" not in fields and not text.lstrip().upper().startswith("#REDIRECT"):
                body = clean_wikitext(text)
                if body:
                    articles.append(f"{fields['title'].text}\n\n{body}")
            element.clear()
    return articles
