"""How Telegram reads a text or caption sent with ``parse_mode=HTML``, and what it shows.

`parse_html` follows TDLib's ``parse_html`` (td/telegram/MessageEntity.cpp), which the Bot API
server runs for ``parse_mode=HTML``: the tags of https://core.telegram.org/bots/api#html-style,
properly nested; ``&lt; &gt; &amp; &quot;`` and numeric references decoded (the ``;`` may be
left out); any other ``&`` and a lone ``>`` taken literally; a ``<`` always starts a tag. It
refuses what TDLib refuses, in TDLib's words (offsets are UTF-8 byte offsets in the text as
sent); the Bot API answers them as ``400 Bad Request: can't parse entities: <words>``. Only
that: ``tg-time`` (the ``date_time`` entity) is a tag too, and attributes Telegram ignores
(a ``code`` class outside ``pre``, a link without href) are no error.

`shown_text` is the text a message then shows: control characters turned into spaces, ``\\r``
and U+2028..U+202E dropped, spaces and newlines trimmed; Telegram's length limits
("1-4096 characters after entities parsing") count its characters (code points, TDLib's
``utf8_length``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAGS = frozenset(
    {
        b"a",
        b"b",
        b"strong",
        b"i",
        b"em",
        b"s",
        b"strike",
        b"del",
        b"u",
        b"ins",
        b"tg-spoiler",
        b"tg-emoji",
        b"tg-time",
        b"span",
        b"pre",
        b"code",
        b"blockquote",
    }
)
_NAMED_ENTITIES = {b"lt": ord("<"), b"gt": ord(">"), b"amp": ord("&"), b"quot": ord('"')}
_SPACES = frozenset(b" \t\r\n\0\v")  # TDLib's is_space; NUL ends the text, as in C
_NAME_TOKEN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_LETTERS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_INTEGER = re.compile(r"-?[0-9]+")
_DROPPED = re.compile("[\r\u2028-\u202e]")
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")


class HTMLParseError(ValueError):
    """Telegram's reason for refusing the HTML, e.g. ``Unsupported start tag "x" at byte
    offset 0``."""


@dataclass
class _Open:
    name: bytes
    argument: bytes
    shown_from: int  # length of the shown text where the tag opened


def parse_html(text: str) -> str:
    """The text Telegram shows for ``text`` sent with ``parse_mode=HTML`` (tags removed,
    entities decoded); `HTMLParseError` when Telegram refuses it."""
    return _Parser(text.encode("utf-8")).run()


def shown_text(text: str) -> str:
    """The text as a message shows it: cleaned like TDLib's ``clean_input_string``, then
    spaces and newlines trimmed at both ends (empty: Telegram refuses it as a message text)."""
    return _CONTROL.sub(" ", _DROPPED.sub("", text)).strip(" \n")


class _Parser:
    def __init__(self, data: bytes) -> None:
        self.data = data + b"\0"  # the C string's end
        self.size = len(data)
        self.shown = bytearray()
        self.surrogate = False
        self.nested: list[_Open] = []

    def at(self, pos: int) -> int:
        return self.data[pos] if pos < len(self.data) else 0

    def run(self) -> str:
        i = 0
        while i < self.size:
            c = self.data[i]
            if c == ord("&"):
                decoded = self.entity(i)
                if decoded is not None:
                    i = decoded
                    continue
            if c != ord("<"):
                self.shown.append(c)
                i += 1
                continue
            i = self.end_tag(i) if self.at(i + 1) == ord("/") else self.start_tag(i)
        if self.nested:
            name = self.nested[-1].name.decode("utf-8", "replace")
            raise HTMLParseError(f'Can\'t find end tag corresponding to start tag "{name}"')
        if self.surrogate:
            raise HTMLParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, check "
                "for unmatched surrogate code units"
            )
        return self.shown.decode("utf-8")

    def entity(self, pos: int, into: bytearray | None = None) -> int | None:
        """Decode the character reference at ``pos`` into ``into`` (the shown text by
        default); the position after it, or None when it is no reference (a literal "&")."""
        code, end = self.reference(pos)
        if code is None:
            return None
        if 0xD800 <= code <= 0xDFFF:
            self.surrogate = True  # refused once the whole text is read, as TDLib does
            code = 0xFFFD
        (self.shown if into is None else into).extend(chr(code).encode("utf-8"))
        return end + 1 if self.at(end) == ord(";") else end

    def reference(self, pos: int) -> tuple[int | None, int]:
        end = pos + 1
        if self.at(end) == ord("#"):
            end += 1
            code = 0
            if self.at(end) == ord("x"):
                end += 1
                while self.at(end) in _HEX_DIGITS:
                    code = code * 16 + int(chr(self.at(end)), 16)
                    end += 1
            else:
                while ord("0") <= self.at(end) <= ord("9"):
                    code = code * 10 + self.at(end) - ord("0")
                    end += 1
            if code == 0 or code >= 0x10FFFF or end - pos >= 10:
                return None, pos
            return code, end
        while self.at(end) in _LETTERS:
            end += 1
        return _NAMED_ENTITIES.get(self.data[pos + 1 : end]), end

    def start_tag(self, begin: int) -> int:
        i = begin + 1
        while self.at(i) not in _SPACES and self.at(i) != ord(">"):
            i += 1
        if self.at(i) == 0:
            raise HTMLParseError(f"Unclosed start tag at byte offset {begin}")
        name = self.data[begin + 1 : i].lower()
        shown_name = name.decode("utf-8", "replace")
        if name not in _TAGS:
            raise HTMLParseError(f'Unsupported start tag "{shown_name}" at byte offset {begin}')
        argument = b""
        while self.at(i) != ord(">"):
            while self.at(i) != 0 and self.at(i) in _SPACES:
                i += 1
            if self.at(i) == ord(">"):
                break
            attribute_begin = i
            while self.at(i) not in _SPACES and self.at(i) not in b"=>/\"'":
                i += 1
            attribute = self.data[attribute_begin:i]
            if not attribute:
                raise HTMLParseError(
                    f'Empty attribute name in the tag "{shown_name}" at byte offset {begin}'
                )
            while self.at(i) != 0 and self.at(i) in _SPACES:
                i += 1
            if self.at(i) != ord("="):
                if self.at(i) == 0:
                    raise HTMLParseError(
                        f'Unclosed start tag "{shown_name}" at byte offset {begin}'
                    )
                if name == b"blockquote" and attribute == b"expandable":
                    argument = b"1"
                continue
            i += 1
            while self.at(i) != 0 and self.at(i) in _SPACES:
                i += 1
            if self.at(i) == 0:
                raise HTMLParseError(f'Unclosed start tag "{shown_name}" at byte offset {begin}')
            value, i = self.attribute_value(i)
            if self.at(i) == 0:
                raise HTMLParseError(f"Unclosed start tag at byte offset {begin}")
            argument = _argument(name, attribute, value, argument)
        if name == b"span" and argument != b"spoiler":
            raise HTMLParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        self.nested.append(_Open(name, argument, len(self.shown)))
        return i + 1

    def attribute_value(self, i: int) -> tuple[bytes, int]:
        if self.at(i) not in b"\"'":
            # A name token: letters, digits, periods, hyphens; not case-sensitive.
            token_begin = i
            while self.at(i) in _NAME_TOKEN:
                i += 1
            if self.at(i) not in _SPACES and self.at(i) != ord(">"):
                raise HTMLParseError(f"Unexpected end of name token at byte offset {token_begin}")
            return self.data[token_begin:i].lower(), i
        quote = self.at(i)
        i += 1
        value = bytearray()
        while self.at(i) != quote and self.at(i) != 0:
            if self.at(i) == ord("&"):
                decoded = self.entity(i, into=value)
                if decoded is not None:
                    i = decoded
                    continue
            value.append(self.at(i))
            i += 1
        if self.at(i) == quote:
            i += 1
        return bytes(value), i

    def end_tag(self, begin: int) -> int:
        if not self.nested:
            raise HTMLParseError(f"Unexpected end tag at byte offset {begin}")
        i = begin + 1
        while self.at(i) not in _SPACES and self.at(i) != ord(">"):
            i += 1
        end_name = self.data[begin + 2 : i].lower()
        while self.at(i) != 0 and self.at(i) in _SPACES:
            i += 1
        if self.at(i) != ord(">"):
            raise HTMLParseError(f"Unclosed end tag at byte offset {begin}")
        opened = self.nested[-1]
        if end_name and end_name != opened.name:
            expected, found = opened.name.decode(), end_name.decode("utf-8", "replace")
            raise HTMLParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{expected}>", '
                f'found "</{found}>"'
            )
        shows_something = len(self.shown) > opened.shown_from
        emoji_id = opened.argument.decode("utf-8", "replace")
        if shows_something and opened.name == b"tg-emoji" and not _is_emoji_id(emoji_id):
            raise HTMLParseError("Invalid custom emoji identifier specified")
        self.nested.pop()
        return i + 1


def _is_emoji_id(text: str) -> bool:
    """A non-zero int64 written as TDLib writes it (no "+", no leading zeros)."""
    if not _INTEGER.fullmatch(text):
        return False
    number = int(text)
    return str(number) == text and number != 0 and -(2**63) <= number < 2**63


def _argument(name: bytes, attribute: bytes, value: bytes, argument: bytes) -> bytes:
    """What TDLib keeps of an attribute: a link's href, a code block's language, a span's
    "tg-" class, a custom emoji's id; any other attribute is ignored."""
    if name == b"a" and attribute == b"href":
        return value
    if name == b"code" and attribute == b"class" and value.startswith(b"language-"):
        return value.removeprefix(b"language-")
    if name == b"span" and attribute == b"class" and value.startswith(b"tg-"):
        return value.removeprefix(b"tg-")
    if name == b"tg-emoji" and attribute == b"emoji-id":
        return value
    if name == b"blockquote" and attribute == b"expandable":
        return b"1"
    return argument
