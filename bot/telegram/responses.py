"""aiogram's answer models kept alive for the whole process.

aiogram reads every Bot API answer into `Response[<the method's result type>]`, a pydantic
generic class that pydantic builds on first use and then holds only weakly. The garbage
collector frees it between two calls, and the next call builds it again: a walk over the
result type's whole schema, several milliseconds. Under load (the more objects an update
makes, the more often the collector runs, so updates that touch the database the most) this
happened on one Bot API call in six to one in three: about a millisecond per update, as much
as aiogram's own dispatching. Holding one of each, made once (~0.1 s), ends it.
"""

from __future__ import annotations

import inspect
from typing import Any

from aiogram import methods
from aiogram.methods.base import Response, TelegramMethod

_kept: list[Any] = []


def keep_response_models() -> None:
    """Build `Response[T]` for every result type of the Bot API's methods, once per process,
    and keep them (pydantic's cache then finds them)."""
    if _kept:
        return
    returning = {
        method.__returning__
        for method in vars(methods).values()
        if inspect.isclass(method)
        and issubclass(method, TelegramMethod)
        and method is not TelegramMethod  # its __returning__ is only declared
    }
    # A result type is a value here, not an annotation: hence the subscript at run time.
    _kept.extend(Response.__class_getitem__(result) for result in returning)
