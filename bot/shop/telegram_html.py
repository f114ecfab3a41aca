"""Telegram's HTML, read as Telegram reads it: its tags only, nested and closed, and how many
characters a person sees (Telegram's limits count those: 4096 in a message, 1024 in a
caption). What an admin types is checked with it before anyone is sent anything, and a
screen knows whether its text fits under a photo."""

from __future__ import annotations

from html.parser import HTMLParser

from bot.i18n import _

TEXT_MAX = 4096  # characters of a message, once its tags are read
CAPTION_MAX = 1024  # of a photo's or a document's caption

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


class _TelegramHTML(HTMLParser):
    """Reads HTML as Telegram does: its tags only, nested and closed; counts what is shown."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.shown = 0  # characters (code points), as Telegram counts

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
        if "<" in data:
            raise ValueError(_("Write a < that is not a tag as &lt;."))
        self.shown += len(data)

    def handle_entityref(self, name: str) -> None:
        # Telegram reads &lt; &gt; &amp; &quot; as one character, and any other as typed.
        self.shown += 1 if name in _ENTITIES else len(name) + 2

    def handle_charref(self, name: str) -> None:
        self.shown += 1

    def handle_comment(self, data: str) -> None:
        raise ValueError(_("Telegram does not support HTML comments."))

    def finish(self) -> int:
        self.close()
        if self.open:
            raise ValueError(_("The tag <{tag}> is not closed.").format(tag=self.open[-1]))
        return self.shown


def shown_length(html: str) -> int:
    """How many characters of `html` Telegram shows, or
    ValueError saying what Telegram would refuse in it."""
    shown = _TelegramHTML()
    shown.feed(html)
    return shown.finish()
