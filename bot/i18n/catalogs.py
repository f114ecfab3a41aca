"""The translations, compiled from the `.po` files in bot/locales at start-up: no build step
and no compiled files in the repository, so a catalog is always the one its `.po` says."""

from __future__ import annotations

import gettext
from io import BytesIO
from pathlib import Path

from aiogram.utils.i18n import I18n
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"


def po_files(locales: Path = LOCALES) -> dict[str, Path]:
    """Each language's `.po` file, by language code."""
    found = sorted(locales.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return {path.parent.parent.name: path for path in found}


def compile_po(path: Path) -> gettext.GNUTranslations:
    """A `.po` file as gettext reads a `.mo`; fuzzy entries are left out, as msgfmt does."""
    with path.open("rb") as source:
        catalog = read_po(source, locale=path.parent.parent.name)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


class ShopI18n(I18n):
    """aiogram's I18n over the `.po` files themselves."""

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        return {language: compile_po(path) for language, path in po_files(self.path).items()}
