"""The bot's words in the customer's language: gettext through aiogram's i18n.

Mark every text a person reads with these, never an f-string around them:

    _("Catalog")                                   # translated now, in the current language
    _("Here is {name}:").format(name=escape(name))  # placeholders by name, filled after
    ngettext("{count} purchase", "{count} purchases", count).format(count=count)
    __("Main menu")                                 # lazily, for module-level constants

Outside an update (the command line, a test without the bot) they return the English text.
`pybabel extract` finds them by these names (see the README's "Languages").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from aiogram.utils.i18n import I18n
from babel.support import LazyProxy

from bot.i18n.formats import SOURCE_LANGUAGE


def _current() -> I18n | None:
    return I18n.get_current(no_error=True)


def gettext(message: str) -> str:
    i18n = _current()
    return i18n.gettext(message) if i18n is not None else message


def ngettext(singular: str, plural: str, count: int) -> str:
    i18n = _current()
    if i18n is None:
        return singular if count == 1 else plural
    return i18n.gettext(singular, plural, count)


def lazy_gettext(message: str) -> Any:
    """A text translated when it is used (str() or format), in the language of that moment."""
    return LazyProxy(gettext, message, enable_cache=False)


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Texts made inside are in `language` (outside any update too: the outbox's worker,
    start-up); without an I18n set up they stay English."""
    i18n = _current()
    with i18n.use_locale(language) if i18n is not None else nullcontext():
        yield


def default_language() -> str:
    """DEFAULT_LANGUAGE: for a chat the shop has no language for (an admin who never wrote)."""
    i18n = _current()
    return i18n.default_locale if i18n is not None else SOURCE_LANGUAGE


_ = gettext
__ = lazy_gettext
