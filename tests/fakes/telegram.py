"""What the Telegram Bot API answers and refuses, without a transport.

`FakeTelegram` keeps the users, chats and messages behind the API, records every call and
answers the methods the bot uses like Telegram does (the message it sent, ``true``, or an
error such as ``400 Bad Request: message text is empty``). Two transports share it, so the
rules live in one place: `tests.fakes.bot_api.FakeBotAPI` serves it over real HTTP for the bot
process, `tests.fakes.session.RecordingSession` answers an in-process aiogram ``Bot`` with it.

Texts and captions are read as Telegram reads them: with ``parse_mode=HTML`` the HTML must be
what Telegram's parser accepts (`tests.fakes.html_rules`, refused as ``can't parse entities``),
and the text shown must be within its limits (a message 1-4096 characters, a caption up to
1024). The stored message keeps the text as sent.

It also builds the updates users cause (a message, a button press, a payment), in Telegram's
JSON, with the sender's profile and the message a button is on, in a private chat or a group.
Telegram under load is played by `set_failure` (429 with ``retry_after``, 5xx, any refusal) and
`set_latency`.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes.html_rules import HTMLParseError, parse_html, shown_text

JSONDict = dict[str, Any]
MethodHandler = Callable[[JSONDict], Awaitable[Any]]

# Fields whose values are free text or identifiers: kept as ``str`` even when they
# look like JSON (a bot sending the text "42" must not be recorded as the int 42).
_STRING_FIELDS = frozenset(
    {
        "callback_query_id",
        "caption",
        "currency",
        "description",
        "document",
        "error_message",
        "next_offset",
        "file_id",
        "inline_message_id",
        "parse_mode",
        "payload",
        "photo",
        "pre_checkout_query_id",
        "telegram_payment_charge_id",
        "text",
        "title",
        "url",
    }
)
# Methods that Telegram acknowledges with ``true``; the fake keeps nothing of them.
_TRUE_METHODS = (
    "answerCallbackQuery",
    "answerPreCheckoutQuery",
    "deleteWebhook",
    "setMyCommands",
    "setWebhook",
)
_INLINE_RESULTS_MAX = 50
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
# Telegram's limits on what a message shows, in characters after entities parsing (TDLib
# counts code points); a text or caption as sent is refused past 32 KiB before any parsing.
_TEXT_MAX = 4096
_CAPTION_MAX = 1024
_SENT_TEXT_MAX_BYTES = 1 << 15
_WITHOUT_TEXT = ("photo", "document", "invoice")  # what the fake sends besides text messages
_PHOTO_SIZES = ((90, 90), (800, 800))  # a thumbnail and the photo, smallest first
_LOG_SUMMARY_CALLS = 15
_SUPERGROUP_IDS_FROM = -(10**12)  # supergroup ids look like -100xxxxxxxxxx
_ENTITY = re.compile(r"^/\w+(?:@\w+)?|@\w{5,32}")
_LOG_SUMMARY_PARAMS_CHARS = 200


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    index: int
    method: str
    params: dict
    token: str
    at: float


class BotAPIError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": ..., "description": ...}``, with
    ``parameters`` (Telegram's ResponseParameters) when it says when to retry."""

    def __init__(
        self, error_code: int, description: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSONDict:
        body: JSONDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def decode_params(fields: Mapping[str, str], uploads: Mapping[str, JSONDict]) -> JSONDict:
    """Request parameters as Telegram reads them from a form: JSON values decoded, an upload
    sent as its own part and named ``attach://<part>`` put in the field's place."""
    params: JSONDict = {key: _decode(key, value) for key, value in fields.items()}
    unclaimed = dict(uploads)
    for key, value in params.items():
        if isinstance(value, str) and value.startswith("attach://"):
            part = value.removeprefix("attach://")
            if part in unclaimed:
                params[key] = unclaimed.pop(part)
    return params | unclaimed


class FakeTelegram:
    """Telegram's side of the Bot API: state, rules and the call log (thread-safe)."""

    def __init__(self, *, bot_id: int = 424242, bot_username: str = "fake_shop_bot") -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        # One re-entrant lock guards all shared state; the condition wakes wait_for().
        self._cond = threading.Condition()
        self._calls: list[Call] = []
        self._failures: dict[str, deque[BotAPIError]] = {}
        self._latency: dict[str | None, float] = {}  # by method; None: every method
        self._users: dict[int, JSONDict] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}  # sent by the bot, by (chat, id)
        self._message_ids = itertools.count(1)
        self._object_ids = itertools.count(1)
        self._handlers: dict[str, MethodHandler] = {}
        self._files: dict[str, bytes] = {}  # documents users sent, by file id
        self._refunded: set[str] = set()  # Stars charge ids refunded
        self._blocked_by: set[int] = set()  # users who blocked the bot
        for name, handler in self._method_handlers().items():
            self.handle(name, handler)

    def handle(self, method: str, handler: MethodHandler) -> None:
        """Answer ``method`` (any case) with ``handler``; a transport adds its own methods."""
        self._handlers[method.lower()] = handler

    async def answer(self, method: str, params: JSONDict, token: str) -> tuple[int, JSONDict]:
        """Record the call and answer it: the HTTP status and the JSON body Telegram sends."""
        self._record(method, params, token)
        delay = self._latency_of(method)
        if delay:
            await asyncio.sleep(delay)
        try:
            failure = self._take_failure(method) or self._refusal_of(method, params)
            if failure is not None:
                raise failure
            handler = self._handlers.get(method.lower())
            if handler is None:
                raise BotAPIError(404, "Not Found: method not found")
            result = await handler(params)
        except BotAPIError as error:
            return error.error_code, error.body()
        return 200, {"ok": True, "result": result}

    # ------------------------------------------------------------------ call log

    @property
    def calls(self) -> list[Call]:
        """Snapshot of every recorded call, oldest first."""
        with self._cond:
            return list(self._calls)

    def calls_of(self, method: str) -> list[Call]:
        """Recorded calls of ``method`` (case-insensitive), oldest first."""
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def messages_in(self, chat_id: int) -> list[JSONDict]:
        """The messages the bot has in that chat as they are now, oldest first: what the chat
        shows (a refused call sent nothing)."""
        with self._cond:
            found = [message for (chat, _), message in self._messages.items() if chat == chat_id]
            return copy.deepcopy(sorted(found, key=lambda message: message["message_id"]))

    def mark(self) -> int:
        """Current length of the call log; pass it as ``after=`` to see only newer calls."""
        with self._cond:
            return len(self._calls)

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        *,
        timeout: float = 15.0,
        after: int = 0,
    ) -> Call:
        """Block until a call of ``method`` with index >= ``after`` satisfies ``predicate``.

        Returns the first such call; raises AssertionError describing the recent calls
        if none arrives within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        next_index = max(after, 0)
        with self._cond:
            while True:
                for call in self._calls[next_index:]:
                    if call.method.lower() == method.lower() and (
                        predicate is None or predicate(call)
                    ):
                        return call
                next_index = max(next_index, len(self._calls))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._timeout_report(method, predicate, timeout, after))
                self._cond.wait(remaining)

    def _timeout_report(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None,
        timeout: float,
        after: int,
    ) -> str:
        wanted = f"{method} call" + (" matching the predicate" if predicate else "")
        recent = [call for call in self._calls if call.method.lower() != "getupdates"]
        header = (
            f"no {wanted} with index >= {after} within {timeout}s; "
            f"{len(self._calls)} calls in total, last non-getUpdates calls:"
        )
        lines = [header]
        for call in recent[-_LOG_SUMMARY_CALLS:]:
            params = json.dumps(call.params, ensure_ascii=False, default=str)
            if len(params) > _LOG_SUMMARY_PARAMS_CHARS:
                params = params[:_LOG_SUMMARY_PARAMS_CHARS] + "..."
            lines.append(f"  #{call.index} {call.method} {params}")
        if not recent:
            lines.append("  (none)")
        return "\n".join(lines)

    def _record(self, method: str, params: JSONDict, token: str) -> Call:
        with self._cond:
            call = Call(
                index=len(self._calls),
                method=method,
                params=params,
                token=token,
                at=time.monotonic(),
            )
            self._calls.append(call)
            self._cond.notify_all()
        return call

    # ------------------------------------------------------------------ failures

    def set_failure(
        self,
        method: str,
        *,
        error_code: int,
        description: str,
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with this Bot API error, after the
        failures already set for it; ``retry_after`` adds Telegram's ``parameters``."""
        if times < 1:
            raise ValueError("times must be >= 1")
        error = BotAPIError(error_code, description, retry_after=retry_after)
        with self._cond:
            self._failures.setdefault(method.lower(), deque()).extend([error] * times)

    def set_flood_control(self, method: str, *, retry_after: int, times: int = 1) -> None:
        """Telegram's 429: the next ``times`` calls of ``method`` must wait ``retry_after`` s."""
        self.set_failure(
            method,
            error_code=429,
            description=f"Too Many Requests: retry after {retry_after}",
            times=times,
            retry_after=retry_after,
        )

    def set_server_error(self, method: str, *, times: int = 1, error_code: int = 500) -> None:
        """Telegram's own trouble: the next ``times`` calls of ``method`` answer 5xx."""
        self.set_failure(
            method, error_code=error_code, description="Internal Server Error", times=times
        )

    def block(self, user_id: int, *, blocked: bool = True) -> None:
        """The user blocks the bot (or, with ``blocked=False``, unblocks it): every send to
        their chat is refused with 403, as Telegram does."""
        with self._cond:
            (self._blocked_by.add if blocked else self._blocked_by.discard)(user_id)

    def _refusal_of(self, method: str, params: JSONDict) -> BotAPIError | None:
        with self._cond:  # over HTTP the chat id may come as text
            blocked = str(params.get("chat_id")) in {str(user) for user in self._blocked_by}
        if blocked and method.lower().startswith("send"):
            return BotAPIError(403, "Forbidden: bot was blocked by the user")
        return None

    def clear_failures(self, method: str) -> None:
        """Telegram is well again for ``method``: its failures not yet met are dropped."""
        with self._cond:
            self._failures.pop(method.lower(), None)

    def set_latency(self, seconds: float, method: str | None = None) -> None:
        """Answer every call (or only ``method``'s) ``seconds`` late; 0 removes the delay."""
        with self._cond:
            self._latency[method.lower() if method else None] = seconds

    def _latency_of(self, method: str) -> float:
        with self._cond:
            return self._latency.get(method.lower(), self._latency.get(None, 0.0))

    def _take_failure(self, method: str) -> BotAPIError | None:
        with self._cond:
            queued = self._failures.get(method.lower())
            return queued.popleft() if queued else None

    # ------------------------------------------------------------------ updates users cause

    def text_update(
        self,
        user_id: int,
        text: str,
        *,
        username: str | None = None,
        first_name: str = "Test",
    ) -> JSONDict:
        """A private-chat text message from the user; "/cmd ..." gets a bot_command entity.

        The sender profile is remembered for the user's later updates; a username, once
        given, is kept until another one is given.
        """
        with self._cond:
            profile: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
            known = self._users.get(user_id, {})
            known_username = username or known.get("username")
            if known_username:
                profile["username"] = known_username
            if "language_code" in known:
                profile["language_code"] = known["language_code"]
            self._users[user_id] = profile
        return {"message": self._text_message(user_id, user_id, text)}

    def group_text_update(
        self, user_id: int, text: str, *, chat_id: int, reply_to_message_id: int | None = None
    ) -> JSONDict:
        """A text message from the user in a group (``chat_id`` < 0; from -10**12 down a
        supergroup), optionally a reply to a message the bot sent there; commands and
        ``@username`` mentions get their entities."""
        if chat_id >= 0:
            raise ValueError("a group's chat id is negative")
        message = self._text_message(user_id, chat_id, text)
        if reply_to_message_id is not None:
            with self._cond:
                replied = self._message_with_button(chat_id, reply_to_message_id)
                message["reply_to_message"] = copy.deepcopy(replied)
        return {"message": message}

    def button_update(
        self, user_id: int, data: str, *, message_id: int | None = None, chat_id: int | None = None
    ) -> JSONDict:
        """A callback query from a bot message in the user's private chat, or in the group
        ``chat_id``.

        Without ``message_id`` the button is on the last message the bot sent to that
        chat; a message the bot sent is reproduced as it is now (after its edits).
        """
        chat = user_id if chat_id is None else chat_id
        with self._cond:
            message = copy.deepcopy(self._message_with_button(chat, message_id))
        callback_query = {
            "id": f"cbq-{next(self._object_ids)}",
            "from": self._user(user_id),
            "message": message,
            "chat_instance": f"chat-instance-{chat}",
            "data": data,
        }
        return {"callback_query": callback_query}

    def inline_query_update(
        self, user_id: int, query: str, *, offset: str = "", chat_type: str = "group"
    ) -> JSONDict:
        """The user types `@bot query` in a chat of `chat_type` (inline mode)."""
        return {
            "inline_query": {
                "id": f"iq-{next(self._object_ids)}",
                "from": self._user(user_id),
                "query": query,
                "offset": offset,
                "chat_type": chat_type,
            }
        }

    def pre_checkout_update(
        self, user_id: int, *, currency: str, total_amount: int, payload: str
    ) -> JSONDict:
        """A pre_checkout_query for an invoice the user is paying."""
        query = {
            "id": f"pcq-{next(self._object_ids)}",
            "from": self._user(user_id),
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
        }
        return {"pre_checkout_query": query}

    def payment_update(
        self,
        user_id: int,
        *,
        currency: str,
        total_amount: int,
        payload: str,
        charge_id: str,
        provider_charge_id: str = "",
    ) -> JSONDict:
        """A service message in the user's chat confirming the payment."""
        payment = {
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": provider_charge_id,
        }
        return {"message": self._user_message(user_id, successful_payment=payment)}

    def refund_update(
        self, user_id: int, *, charge_id: str, total_amount: int, currency: str = "XTR"
    ) -> JSONDict:
        """A service message in the user's chat telling of a refund (`refunded_payment`)."""
        refund = {
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": "whatever",
            "telegram_payment_charge_id": charge_id,
        }
        return {"message": self._user_message(user_id, refunded_payment=refund)}

    def document_update(
        self, user_id: int, *, file_id: str, file_name: str = "file.bin"
    ) -> JSONDict:
        """A private-chat message from the user carrying a document (its size, when the test
        gave its content with `add_file`)."""
        with self._cond:
            content = self._files.get(file_id)
        size = {} if content is None else {"file_size": len(content)}
        document = _document(file_id, file_name=file_name, **size)
        return {"message": self._user_message(user_id, document=document)}

    def set_client_language(self, user_id: int, language_code: str | None) -> None:
        """The language of the user's Telegram client (``language_code``, absent when None)
        in their later updates."""
        with self._cond:
            profile = dict(self._users.get(user_id, self._user(user_id)))
            profile.pop("language_code", None)
            if language_code is not None:
                profile["language_code"] = language_code
            self._users[user_id] = profile

    def _user(self, user_id: int) -> JSONDict:
        with self._cond:
            default = {"id": user_id, "is_bot": False, "first_name": "Test"}
            return dict(self._users.get(user_id, default))

    def _bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Fake Shop Bot",
            "username": self.bot_username,
        }

    def _chat(self, chat_id: int) -> JSONDict:
        if chat_id < 0:
            kind = "supergroup" if chat_id <= _SUPERGROUP_IDS_FROM else "group"
            return {"id": chat_id, "type": kind, "title": f"Group {chat_id}"}
        user = self._user(chat_id)
        chat = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
        if "username" in user:
            chat["username"] = user["username"]
        return chat

    def _user_message(self, user_id: int, chat_id: int | None = None, **content: Any) -> JSONDict:
        return {
            "message_id": next(self._message_ids),
            "date": _now(),
            "chat": self._chat(user_id if chat_id is None else chat_id),
            "from": self._user(user_id),
            **content,
        }

    def _text_message(self, user_id: int, chat_id: int, text: str) -> JSONDict:
        message = self._user_message(user_id, chat_id, text=text)
        entities = _text_entities(text)
        if entities:
            message["entities"] = entities
        return message

    def _message_with_button(self, chat_id: int, message_id: int | None) -> JSONDict:
        if message_id is None:
            sent_ids = [sent_id for chat, sent_id in self._messages if chat == chat_id]
            if sent_ids:
                return self._messages[(chat_id, max(sent_ids))]
            message_id = next(self._message_ids)
        return self._messages.get((chat_id, message_id)) or self._bot_message_stub(
            chat_id, message_id
        )

    def _bot_message_stub(self, chat_id: int, message_id: int) -> JSONDict:
        return {
            "message_id": message_id,
            "date": _now(),
            "chat": self._chat(chat_id),
            "from": self._bot_user(),
        }

    # ------------------------------------------------------------------ methods

    def _method_handlers(self) -> dict[str, MethodHandler]:
        handlers: dict[str, MethodHandler] = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendInvoice": self._send_invoice,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageMedia": self._edit_message_media,
            "answerInlineQuery": self._answer_inline_query,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "refundStarPayment": self._refund_star_payment,
            "getFile": self._get_file,
        }
        return handlers | dict.fromkeys(_TRUE_METHODS, _return_true)

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _send_message(self, params: JSONDict) -> JSONDict:
        text = _message_text_param(params)
        _check_message_text(_shown(params, "text"), too_long="message is too long")
        return self._store_bot_message(params, text=text)

    async def _send_document(self, params: JSONDict) -> JSONDict:
        document = _file_param(params, "document")
        _check_caption(_shown(params, "caption"), too_long="message caption is too long")
        if isinstance(document, str):
            content: JSONDict = {"document": _document(document)}
        else:
            content = {
                "document": _document(
                    f"fake-document-{next(self._object_ids)}",
                    file_name=document["filename"],
                    file_size=document["size"],
                    mime_type=document["content_type"],
                )
            }
        return self._store_bot_message(params, **content, **_caption(params))

    async def _send_photo(self, params: JSONDict) -> JSONDict:
        """A photo by file id (or URL) or uploaded; the message carries it in the sizes
        Telegram makes of it, the photo itself (the file id sent) last."""
        photo = _file_param(params, "photo")
        _check_caption(_shown(params, "caption"), too_long="message caption is too long")
        file_id = photo if isinstance(photo, str) else f"fake-photo-{next(self._object_ids)}"
        sizes = [
            {**_document(f"{file_id}-{width}"), "width": width, "height": height}
            for width, height in _PHOTO_SIZES[:-1]
        ]
        width, height = _PHOTO_SIZES[-1]
        sizes.append({**_document(file_id), "width": width, "height": height})
        if not isinstance(photo, str):
            sizes[-1]["file_size"] = photo["size"]
        return self._store_bot_message(params, photo=sizes, **_caption(params))

    async def _send_invoice(self, params: JSONDict) -> JSONDict:
        prices = params.get("prices")
        if not isinstance(prices, list) or not prices:
            raise BotAPIError(400, "Bad Request: prices must be non-empty")
        try:
            total_amount = sum(int(price["amount"]) for price in prices)
        except (KeyError, TypeError, ValueError) as error:
            raise BotAPIError(400, "Bad Request: can't parse prices JSON object") from error
        invoice = {
            "title": _text_param(params, "title"),
            "description": _text_param(params, "description"),
            "start_parameter": "",
            "currency": _text_param(params, "currency"),
            "total_amount": total_amount,
        }
        return self._store_bot_message(params, invoice=invoice)

    async def _refund_star_payment(self, params: JSONDict) -> bool:
        """Like Telegram: each charge is refunded once."""
        _int_param(params, "user_id")
        charge_id = _text_param(params, "telegram_payment_charge_id")
        with self._cond:
            if charge_id in self._refunded:
                raise BotAPIError(400, "Bad Request: CHARGE_ALREADY_REFUNDED")
            self._refunded.add(charge_id)
        return True

    def add_file(self, file_id: str, content: bytes) -> None:
        """A file a user uploaded: getFile describes it and `file_content` serves it."""
        with self._cond:
            self._files[file_id] = content

    def file_content(self, file_path: str) -> bytes:
        with self._cond:
            return self._files[file_path.removeprefix("documents/")]

    async def _get_file(self, params: JSONDict) -> JSONDict:
        file_id = _text_param(params, "file_id")
        with self._cond:
            content = self._files.get(file_id)
        if content is None:
            raise BotAPIError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": _file_unique_id(file_id),
            "file_size": len(content),
            "file_path": f"documents/{file_id}",
        }

    async def _edit_message_text(self, params: JSONDict) -> JSONDict:
        """Like Telegram: an omitted reply_markup drops the keyboard, and an edit that changes
        nothing is refused as "message is not modified"; a photo, document or invoice has no
        text to edit. Too long a text comes back in the server's words (MESSAGE_TOO_LONG)."""
        text = _message_text_param(params)
        shown = _shown(params, "text")
        key = (_int_param(params, "chat_id"), _int_param(params, "message_id"))
        with self._cond:
            old = self._messages.get(key) or self._bot_message_stub(*key)
            if any(name in old for name in _WITHOUT_TEXT):
                raise BotAPIError(400, "Bad Request: there is no text in the message to edit")
            _check_message_text(shown, too_long="MESSAGE_TOO_LONG")
            return self._edit(key, old, params, text=text)

    async def _edit_message_caption(self, params: JSONDict) -> JSONDict:
        """Like Telegram: the caption of a photo or document (an omitted or empty caption
        removes it); a text message has no caption to edit; the keyboard and "not modified"
        as for editMessageText; too long a caption in the server's words."""
        shown = _shown(params, "caption")
        key = (_int_param(params, "chat_id"), _int_param(params, "message_id"))
        with self._cond:
            old = self._messages.get(key) or self._bot_message_stub(*key)
            if "text" in old or "invoice" in old:
                raise BotAPIError(400, "Bad Request: there is no caption in the message to edit")
            _check_caption(shown, too_long="MEDIA_CAPTION_TOO_LONG")
            return self._edit(key, old, params, caption=_caption(params).get("caption"))

    async def _edit_message_media(self, params: JSONDict) -> JSONDict:
        """Like Telegram: a photo or document message gets another photo (with its caption);
        a text message cannot become one ("there is no media in the message to edit")."""
        media = params.get("media")
        if not isinstance(media, dict) or media.get("type") != "photo":
            raise BotAPIError(400, "Bad Request: can't parse InputMedia JSON object")
        file_id = _file_param(media, "media")
        _check_caption(_shown(media, "caption"), too_long="MEDIA_CAPTION_TOO_LONG")
        key = (_int_param(params, "chat_id"), _int_param(params, "message_id"))
        with self._cond:
            old = self._messages.get(key) or self._bot_message_stub(*key)
            if "text" in old or "invoice" in old:
                raise BotAPIError(400, "Bad Request: there is no media in the message to edit")
            photo = [{**_document(str(file_id)), "width": 800, "height": 800}]
            caption = _caption(media).get("caption")
            return self._edit(key, old, params, photo=photo, caption=caption, document=None)

    async def _answer_inline_query(self, params: JSONDict) -> bool:
        """Like Telegram: up to 50 results with unique ids of 1-64 bytes, each with what its
        type needs; an article's text and a photo's caption as in messages."""
        _text_param(params, "inline_query_id")
        results = params.get("results")
        if not isinstance(results, list) or len(results) > _INLINE_RESULTS_MAX:
            raise BotAPIError(400, "Bad Request: RESULTS_TOO_MUCH")
        ids = [str(result.get("id", "")) for result in results]
        if any(not 1 <= len(id_.encode()) <= 64 for id_ in ids):
            raise BotAPIError(400, "Bad Request: RESULT_ID_INVALID")
        if len(set(ids)) != len(ids):
            raise BotAPIError(400, "Bad Request: RESULT_ID_DUPLICATE")
        for result in results:
            if result.get("type") == "article":
                _text_param(result, "title")
                content = result.get("input_message_content")
                if not isinstance(content, dict):
                    raise BotAPIError(400, "Bad Request: input_message_content is empty")
                _check_message_text(_shown(content, "message_text"), too_long="MESSAGE_TOO_LONG")
            elif result.get("type") == "photo" and "photo_file_id" in result:
                _text_param(result, "photo_file_id")
                _check_caption(_shown(result, "caption"), too_long="MEDIA_CAPTION_TOO_LONG")
            else:
                raise BotAPIError(400, "Bad Request: RESULT_TYPE_INVALID")
        return True

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict:
        """The message's inline keyboard replaced (omitted: removed); the same keyboard again
        is refused as "message is not modified"."""
        key = (_int_param(params, "chat_id"), _int_param(params, "message_id"))
        with self._cond:
            old = self._messages.get(key) or self._bot_message_stub(*key)
            return self._edit(key, old, params)

    def _edit(
        self, key: tuple[int, int], old: JSONDict, params: JSONDict, **content: Any
    ) -> JSONDict:
        """Store ``old`` with ``content`` (a None value removes that field) and the keyboard
        ``params`` give; refused as "not modified" when nothing changes. Call with the lock held."""
        markup = _inline_markup(params)
        unchanged = {name: old.get(name) for name in content} == content
        if unchanged and old.get("reply_markup") == markup.get("reply_markup"):
            raise BotAPIError(400, _NOT_MODIFIED)
        kept = {
            name: value
            for name, value in old.items()
            if name != "reply_markup" and name not in content
        }
        new = {name: value for name, value in content.items() if value is not None}
        message = {**kept, **new, "edit_date": _now(), **markup}
        self._messages[key] = message
        return message

    def _store_bot_message(self, params: JSONDict, **content: Any) -> JSONDict:
        chat_id = _int_param(params, "chat_id")
        message = {
            "message_id": next(self._message_ids),
            "date": _now(),
            "chat": self._chat(chat_id),
            "from": self._bot_user(),
            **content,
            **_inline_markup(params),
        }
        with self._cond:
            self._messages[(chat_id, message["message_id"])] = message
        return message


async def _return_true(params: JSONDict) -> bool:
    return True


def _decode(key: str, raw: str) -> Any:
    """JSON-decode objects, arrays, numbers and booleans; keep everything else as str (a
    plain one: a str enum such as aiogram's ``ParseMode.HTML`` arrives as its value, "HTML",
    as a form field would)."""
    raw = str.__str__(raw)
    if key in _STRING_FIELDS:
        return raw
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except ValueError:
        return raw
    return value if isinstance(value, dict | list | int | float) else raw


def _reject_constant(name: str) -> float:
    raise ValueError(f"not a JSON number: {name}")


def _int_param(params: JSONDict, name: str) -> int:
    value = params.get(name)
    if value is None:
        raise BotAPIError(400, f"Bad Request: {name} is empty")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise BotAPIError(400, f"Bad Request: invalid {name}")


def _text_param(params: JSONDict, name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise BotAPIError(400, f"Bad Request: {name} is empty")
    return str(value)


def _message_text_param(params: JSONDict) -> str:
    text = params.get("text")
    if text is None or text == "":
        raise BotAPIError(400, "Bad Request: message text is empty")
    return str(text)


def _shown(params: JSONDict, name: str) -> str | None:
    """What the text or caption ``name`` shows once Telegram has read it as ``parse_mode``
    says (HTML checked like Telegram's parser); None for Markdown, which the fake does not
    parse (its length is then not checked)."""
    value = params.get(name)
    text = "" if value is None else str(value)
    if len(text.encode("utf-8")) > _SENT_TEXT_MAX_BYTES:
        raise BotAPIError(400, "Bad Request: text is too long")
    parse_mode = params.get("parse_mode")
    parse_mode = parse_mode.lower() if isinstance(parse_mode, str) else ""
    if text and parse_mode not in ("", "none"):
        if parse_mode in ("markdown", "markdownv2"):
            return None
        if parse_mode != "html":
            raise BotAPIError(400, "Bad Request: unsupported parse_mode")
        try:
            text = parse_html(text)
        except HTMLParseError as error:
            raise BotAPIError(400, f"Bad Request: can't parse entities: {error}") from error
    return shown_text(text)


def _check_message_text(shown: str | None, *, too_long: str) -> None:
    if shown is None:
        return
    if not shown:
        raise BotAPIError(400, "Bad Request: text must be non-empty")
    if len(shown) > _TEXT_MAX:
        raise BotAPIError(400, f"Bad Request: {too_long}")


def _check_caption(shown: str | None, *, too_long: str) -> None:
    if shown is not None and len(shown) > _CAPTION_MAX:
        raise BotAPIError(400, f"Bad Request: {too_long}")


def _file_param(params: JSONDict, name: str) -> str | JSONDict:
    value = params.get(name)
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and "filename" in value:
        return value
    raise BotAPIError(400, f"Bad Request: there is no {name} in the request")


def _caption(params: JSONDict) -> JSONDict:
    caption = params.get("caption")
    return {"caption": str(caption)} if caption else {}


def _inline_markup(params: JSONDict) -> JSONDict:
    markup = params.get("reply_markup")
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        return {"reply_markup": markup}
    return {}


def _document(file_id: str, **details: Any) -> JSONDict:
    return {"file_id": file_id, "file_unique_id": _file_unique_id(file_id), **details}


def _file_unique_id(file_id: str) -> str:
    return hashlib.sha1(file_id.encode()).hexdigest()[:16]


def _text_entities(text: str) -> list[JSONDict]:
    """A leading "/command" and every "@username", as Telegram marks them."""
    entities = []
    for found in _ENTITY.finditer(text):
        kind = "mention" if found[0].startswith("@") else "bot_command"
        offset = _utf16_length(text[: found.start()])
        entities.append({"type": kind, "offset": offset, "length": _utf16_length(found[0])})
    return entities


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _now() -> int:
    return int(time.time())
