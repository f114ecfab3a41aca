"""Broadcasts' rules: a message Telegram takes (its HTML and length checked as Telegram checks
them, so an admin learns what is wrong before anyone is sent anything), an optional button,
and the audiences an admin picks from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from bot.dao.broadcasts import (
    AUDIENCE_ACTIVE,
    AUDIENCE_ALL,
    AUDIENCE_CATEGORY,
    AUDIENCE_LANGUAGE,
    AUDIENCE_NEVER_BOUGHT,
    AUDIENCE_PRODUCT,
    Audience,
)
from bot.i18n import _

TEXT_MAX = 4096  # characters of a message, once its tags are read (Telegram's limit)
CAPTION_MAX = 1024  # of a photo's or a document's caption
BUTTON_TEXT_MAX = 64
URL_MAX = 512
ACTIVE_DAYS = (7, 30, 90)  # the "active in the last N days" audiences offered
AUDIENCE_KINDS = (
    AUDIENCE_ALL,
    AUDIENCE_PRODUCT,
    AUDIENCE_CATEGORY,
    AUDIENCE_LANGUAGE,
    AUDIENCE_ACTIVE,
    AUDIENCE_NEVER_BOUGHT,
)

# Telegram's HTML: these tags, with these attributes (https://core.telegram.org/bots/api#html-style).
_TAGS: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        ("b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler", "pre"),
        frozenset(),
    ),
    "span": frozenset({"class"}),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "tg-emoji": frozenset({"emoji-id"}),
    "blockquote": frozenset({"expandable"}),
}
_ENTITIES = frozenset({"lt", "gt", "amp", "quot"})
_LINK = re.compile(r"(?:https?|tg)://\S+", re.IGNORECASE)


class _TelegramHTML(HTMLParser):
    """Reads HTML as Telegram does: its tags only, nested and closed; counts what is shown."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.shown = 0  # UTF-16 code units, as Telegram counts

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        allowed = _TAGS.get(tag)
        if allowed is None:
            raise ValueError(_("Telegram does not support the tag <{tag}>.").format(tag=tag))
        names = {name for name, _value in attrs}
        if not names <= allowed:
            raise ValueError(_("The tag <{tag}> cannot have that attribute.").format(tag=tag))
        if tag == "span" and dict(attrs).get("class") != "tg-spoiler":
            raise ValueError(_('Telegram supports <span> only as <span class="tg-spoiler">.'))
        if tag == "a" and not dict(attrs).get("href"):
            raise ValueError(_('A link <a> needs its address: <a href="https://…">.'))
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise ValueError(_("Telegram does not support the tag <{tag}/>.").format(tag=tag))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            raise ValueError(_("The end tag </{tag}> closes no open tag.").format(tag=tag))
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            raise ValueError(_("Write < and > that are not tags as &lt; and &gt;."))
        self.shown += len(data.encode("utf-16-le")) // 2

    def handle_entityref(self, name: str) -> None:
        if name not in _ENTITIES:
            raise ValueError(
                _("Telegram knows only &lt; &gt; &amp; &quot;, not &{name};.").format(name=name)
            )
        self.shown += 1

    def handle_charref(self, name: str) -> None:
        self.shown += 1

    def handle_comment(self, data: str) -> None:
        raise ValueError(_("Telegram does not support HTML comments."))

    def finish(self) -> int:
        self.close()
        if self.open:
            raise ValueError(_("The tag <{tag}> is not closed.").format(tag=self.open[-1]))
        return self.shown


def checked_message(html: str, *, caption: bool) -> str:
    """The message's HTML as Telegram takes it, or ValueError saying what to change."""
    shown = _TelegramHTML()
    shown.feed(html)
    length = shown.finish()
    limit = CAPTION_MAX if caption else TEXT_MAX
    if length > limit:
        raise ValueError(
            _("It is {count} characters long; Telegram takes at most {limit} here.").format(
                count=length, limit=limit
            )
        )
    if not caption and not length:
        raise ValueError(_("The message has no text."))
    return html


@dataclass(frozen=True)
class ButtonChoice:
    """A link button (its text and address) or a product of the shop's (its id)."""

    text: str | None = None
    url: str | None = None
    product_id: int | None = None


def parse_button(typed: str) -> ButtonChoice:
    """`#12`: product 12; `Label https://…`: a link. ValueError says what to send."""
    typed = typed.strip()
    if re.fullmatch(r"#\d{1,9}", typed):
        return ButtonChoice(product_id=int(typed[1:]))
    link = _LINK.search(typed)
    label = typed[: link.start()].strip() if link is not None else ""
    if link is None or link.end() != len(typed) or not label:
        raise ValueError(
            _("Send the button as “Label https://…”, or #12 for product 12, or /skip.")
        )
    if len(label) > BUTTON_TEXT_MAX or len(link[0]) > URL_MAX:
        raise ValueError(
            _("The label may have {label} characters and the link {url} at most.").format(
                label=BUTTON_TEXT_MAX, url=URL_MAX
            )
        )
    return ButtonChoice(text=label, url=link[0])


def parse_audience(kind: str, value: str | None) -> Audience:
    """An audience from a button or what an admin typed; ValueError if it is none."""
    if kind not in AUDIENCE_KINDS:
        raise ValueError(kind)
    if kind in (AUDIENCE_PRODUCT, AUDIENCE_CATEGORY) and not (value or "").isdigit():
        raise ValueError(value)
    if kind == AUDIENCE_ACTIVE and value not in {str(days) for days in ACTIVE_DAYS}:
        raise ValueError(value)
    if kind in (AUDIENCE_ALL, AUDIENCE_NEVER_BOUGHT):
        value = None
    return Audience(kind, value)
