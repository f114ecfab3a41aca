"""The Russian catalog against the code: every text the code marks for translation has a
Russian translation (not missing, not fuzzy) with the same placeholders and HTML tags, the
catalog holds nothing the code no longer says, and Russian plurals take their three forms."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n.catalogs import LOCALES, ShopI18n, po_files
from bot.i18n.languages import LANGUAGES, RUSSIAN

ROOT = Path(__file__).resolve().parent.parent
# bot.i18n's names for translated text, as `pybabel extract -k __` reads them (gettext and
# ngettext are among Babel's defaults).
KEYWORDS = {"_": None, "__": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
TAG = re.compile(r"</?[a-z]+")

MsgId = str | tuple[str, str]


def code_messages() -> dict[str, MsgId]:
    """Every text the bot's code marks, by its singular form."""
    found: dict[str, MsgId] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT / "bot", keywords=KEYWORDS
    ):
        singular = message if isinstance(message, str) else message[0]
        found[singular] = message if isinstance(message, str) else (message[0], message[1])
    return found


def russian() -> Catalog:
    with po_files()[RUSSIAN].open("rb") as source:
        return read_po(source, locale=RUSSIAN)


def translations(message: Message) -> list[str]:
    strings = message.string
    return list(strings) if isinstance(strings, tuple) else [strings]


def shape(text: str) -> tuple[set[str], list[str]]:
    return set(PLACEHOLDER.findall(text)), sorted(TAG.findall(text))


def test_every_language_but_english_has_a_catalog() -> None:
    assert set(po_files()) == set(LANGUAGES) - {"en"}


def test_every_marked_text_has_a_russian_translation() -> None:
    catalog = russian()
    missing = []
    for singular, msgid in code_messages().items():
        message = catalog.get(singular)
        if message is None or message.fuzzy or not all(translations(message)):
            missing.append(singular)
        elif isinstance(msgid, tuple) and len(translations(message)) != 3:
            missing.append(f"{singular} (needs three plural forms)")
    assert missing == [], "translate these in bot/locales/ru/LC_MESSAGES/messages.po"


def test_the_catalog_holds_only_what_the_code_says() -> None:
    in_code = set(code_messages())
    obsolete = [
        message.id for message in russian() if message.id and _singular(message) not in in_code
    ]
    assert obsolete == [], "run pybabel update (README: Languages) and drop these"


def _singular(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def test_translations_keep_the_placeholders_and_tags() -> None:
    differing = []
    for message in russian():
        if not message.id:
            continue
        sources = [message.id] if isinstance(message.id, str) else list(message.id)
        expected = shape(sources[-1])
        for source in sources:
            assert shape(source) == expected, f"singular and plural differ: {message.id}"
        differing += [text for text in translations(message) if text and shape(text) != expected]
    assert differing == []


@pytest.mark.parametrize(
    ("count", "form"),
    [(1, 0), (2, 1), (5, 2), (11, 2), (21, 0), (22, 1), (25, 2), (0, 2), (14, 2), (104, 1)],
)
def test_russian_plurals_take_the_form_for_the_number(count: int, form: int) -> None:
    catalog = russian()
    plural = next(message for message in catalog if message.pluralizable and message.id)
    i18n = ShopI18n(path=LOCALES)
    singular, plural_form = plural.id
    assert i18n.gettext(singular, plural_form, count, locale=RUSSIAN) == plural.string[form]
    english = i18n.gettext(singular, plural_form, count, locale="en")
    assert english == (singular if count == 1 else plural_form)
