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

from typing import Any

from aiogram.utils.i18n import I18n
from babel.support import LazyProxy


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


_ = gettext
__ = lazy_gettext
