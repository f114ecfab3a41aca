"""A fake Telegram Bot API server for end-to-end tests of the real bot process.

The server speaks the Bot API wire protocol (``POST {url}/bot{token}/{method}``) on
127.0.0.1 from a daemon thread with its own event loop, so a test can start the bot
as a subprocess with ``BOT_API_URL=fake.url`` and then drive it synchronously::

    with FakeBotAPI() as fake:
        start_bot(env={"BOT_API_URL": fake.url})
        mark = fake.mark()
        fake.send_text(100, "/start")
        reply = fake.wait_for("sendMessage", lambda call: call.params["chat_id"] == 100,
                              after=mark)

Every request to ``/bot{token}/{method}`` is recorded as a :class:`Call`, including
requests for methods the fake does not know (those answer 404 like the real API).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import io
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web

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
        "inline_message_id",
        "payload",
        "photo",
        "pre_checkout_query_id",
        "start_parameter",
        "text",
        "title",
        "url",
    }
)
# Methods that the fake acknowledges with ``true`` and otherwise ignores.
_TRUE_METHODS = (
    "answerCallbackQuery",
    "answerPreCheckoutQuery",
    "close",
    "deleteMyCommands",
    "logOut",
    "setChatMenuButton",
    "setMyCommands",
    "setWebhook",
)
_MAX_UPDATES_PER_POLL = 100
_SHUTDOWN_TIMEOUT = 2.0
_LOG_SUMMARY_CALLS = 15
_LOG_SUMMARY_PARAMS_CHARS = 200


@dataclass(frozen=True)
class Call:
    """One request the fake server received."""

    index: int
    method: str
    params: dict
    token: str
    at: float


class BotAPIError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, error_code: int, description: str) -> None:
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description

    def to_response(self) -> web.Response:
        body = {"ok": False, "error_code": self.error_code, "description": self.description}
        return web.json_response(body, status=self.error_code)


class FakeBotAPI:
    """In-process fake of the Telegram Bot API, served over real HTTP."""

    def __init__(self, *, bot_id: int = 424242, bot_username: str = "fake_shop_bot") -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        # One re-entrant lock guards all shared state; the condition wakes wait_for().
        self._cond = threading.Condition()
        self._calls: list[Call] = []
        self._pending_updates: list[JSONDict] = []
        self._pushed_updates: dict[int, JSONDict] = {}
        self._last_update_id = 0
        self._updates_served = 0
        self._failures: dict[str, tuple[BotAPIError, int]] = {}
        self._users: dict[int, JSONDict] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}  # sent by the bot, by (chat, id)
        self._message_ids = itertools.count(1)
        self._object_ids = itertools.count(1)
        self._handlers = self._method_handlers()
        # Server thread state.
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._stopped = False
        self._stopping = False  # only touched on the server loop
        self._updates_changed: asyncio.Event | None = None  # only touched on the server loop

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Serve on 127.0.0.1:<free port> from a daemon thread; return once accepting."""
        if self._thread is not None:
            raise RuntimeError("FakeBotAPI can only be started once")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-bot-api", daemon=True
        )
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(timeout=10)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (answering in-flight long polls with no updates). Idempotent."""
        if self._stopped or self._loop is None or self._thread is None:
            return
        self._stopped = True
        shutdown = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            shutdown.result(timeout=_SHUTDOWN_TIMEOUT + 5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            if not self._thread.is_alive():
                self._loop.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL for ``BOT_API_URL``, e.g. ``http://127.0.0.1:54321``."""
        if self._port is None:
            raise RuntimeError("FakeBotAPI is not started")
        return f"http://127.0.0.1:{self._port}"

    async def _open(self) -> None:
        self._updates_changed = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_route("*", "/{path:.*}", self._handle_unknown_path)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        self._stopping = True
        self._notify_updates_changed()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ call log

    @property
    def calls(self) -> list[Call]:
        """Snapshot of every recorded call, oldest first."""
        with self._cond:
            return list(self._calls)

    def calls_of(self, method: str) -> list[Call]:
        """Recorded calls of ``method`` (case-insensitive), oldest first."""
        return [call for call in self.calls if call.method.lower() == method.lower()]

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
        self, method: str, *, error_code: int, description: str, times: int = 1
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with this Bot API error."""
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._cond:
            self._failures[method.lower()] = (BotAPIError(error_code, description), times)

    def _take_failure(self, method: str) -> BotAPIError | None:
        key = method.lower()
        with self._cond:
            if key not in self._failures:
                return None
            error, times = self._failures.pop(key)
            if times > 1:
                self._failures[key] = (error, times - 1)
            return error

    # ------------------------------------------------------------------ updates

    @property
    def updates_served(self) -> int:
        """How many updates getUpdates has delivered (re-deliveries count again)."""
        with self._cond:
            return self._updates_served

    def push_update(self, update: dict) -> int:
        """Queue ``update`` under the next update_id (from 1), wake long polls, return the id."""
        with self._cond:
            self._last_update_id += 1
            update_id = self._last_update_id
            body = {key: value for key, value in update.items() if key != "update_id"}
            stored = {"update_id": update_id, **copy.deepcopy(body)}
            self._pending_updates.append(stored)
            self._pushed_updates[update_id] = stored
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop was closed by stop()
                loop.call_soon_threadsafe(self._notify_updates_changed)
        return update_id

    def get_update(self, update_id: int) -> dict:
        """A copy of a previously pushed update (e.g. to read a callback query id)."""
        with self._cond:
            return copy.deepcopy(self._pushed_updates[update_id])

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        username: str | None = None,
        first_name: str = "Test",
    ) -> int:
        """A private-chat text message from the user; "/cmd ..." gets a bot_command entity.

        The sender profile is remembered for the user's later updates; a username, once
        given, is kept until another one is given.
        """
        with self._cond:
            profile: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
            known_username = username or self._users.get(user_id, {}).get("username")
            if known_username:
                profile["username"] = known_username
            self._users[user_id] = profile
        message = self._user_message(user_id, text=text)
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_length(command)}
            ]
        return self.push_update({"message": message})

    def press_button(self, user_id: int, data: str, *, message_id: int | None = None) -> int:
        """A callback query from a bot message in the user's private chat.

        Without ``message_id`` the button is on the last message the bot sent to that
        chat; a message the bot sent is reproduced as the fake returned it.
        """
        with self._cond:
            message = self._message_with_button(user_id, message_id)
        callback_query = {
            "id": f"cbq-{next(self._object_ids)}",
            "from": self._user(user_id),
            "message": message,
            "chat_instance": f"chat-instance-{user_id}",
            "data": data,
        }
        return self.push_update({"callback_query": callback_query})

    def pre_checkout(self, user_id: int, *, currency: str, total_amount: int, payload: str) -> int:
        """A pre_checkout_query for an invoice the user is paying."""
        query = {
            "id": f"pcq-{next(self._object_ids)}",
            "from": self._user(user_id),
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
        }
        return self.push_update({"pre_checkout_query": query})

    def successful_payment(
        self,
        user_id: int,
        *,
        currency: str,
        total_amount: int,
        payload: str,
        charge_id: str,
        provider_charge_id: str = "",
    ) -> int:
        """A service message in the user's chat confirming the payment."""
        payment = {
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": provider_charge_id,
        }
        message = self._user_message(user_id, successful_payment=payment)
        return self.push_update({"message": message})

    def send_document(
        self,
        user_id: int,
        *,
        file_id: str,
        file_name: str = "file.bin",
        caption: str | None = None,
    ) -> int:
        """A private-chat message from the user carrying a document."""
        content: JSONDict = {"document": _document(file_id, file_name=file_name)}
        if caption is not None:
            content["caption"] = caption
        return self.push_update({"message": self._user_message(user_id, **content)})

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
            return {"id": chat_id, "type": "group", "title": f"Group {chat_id}"}
        user = self._user(chat_id)
        chat = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
        if "username" in user:
            chat["username"] = user["username"]
        return chat

    def _user_message(self, user_id: int, **content: Any) -> JSONDict:
        return {
            "message_id": next(self._message_ids),
            "date": _now(),
            "chat": self._chat(user_id),
            "from": self._user(user_id),
            **content,
        }

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

    # ------------------------------------------------------------------ HTTP layer

    async def _handle_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await _read_params(request)
        except BotAPIError as error:
            return error.to_response()
        call = self._record(method, params, request.match_info["token"])
        try:
            failure = self._take_failure(method)
            if failure is not None:
                raise failure
            handler = self._handlers.get(method.lower())
            if handler is None:
                raise BotAPIError(404, "Not Found: method not found")
            result = await handler(call.params)
        except BotAPIError as error:
            return error.to_response()
        return web.json_response({"ok": True, "result": result})

    async def _handle_unknown_path(self, request: web.Request) -> web.Response:
        return BotAPIError(404, "Not Found").to_response()

    def _method_handlers(self) -> dict[str, MethodHandler]:
        handlers: dict[str, MethodHandler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "deleteMessage": self._delete_message,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendInvoice": self._send_invoice,
            "copyMessage": self._copy_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
        }
        handlers.update(dict.fromkeys(_TRUE_METHODS, _return_true))
        return {name.lower(): handler for name, handler in handlers.items()}

    # ------------------------------------------------------------------ methods

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        offset = _int_param(params, "offset", default=0)
        limit = _int_param(params, "limit", default=_MAX_UPDATES_PER_POLL)
        limit = min(max(limit, 1), _MAX_UPDATES_PER_POLL)
        timeout = max(_int_param(params, "timeout", default=0), 0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            # Take the event before looking at the queue so a push in between still wakes us.
            changed = self._updates_changed
            assert changed is not None
            with self._cond:
                self._confirm_updates(offset)
                batch = self._pending_updates[:limit]
                self._updates_served += len(batch)
            remaining = deadline - loop.time()
            if batch or self._stopping or remaining <= 0:
                return batch
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def _confirm_updates(self, offset: int) -> None:
        if offset > 0:
            self._pending_updates = [
                update for update in self._pending_updates if update["update_id"] >= offset
            ]
        elif offset < 0:
            self._pending_updates = self._pending_updates[offset:]

    def _notify_updates_changed(self) -> None:
        """Wake every pending long poll (runs on the server loop)."""
        if self._updates_changed is not None:
            self._updates_changed.set()
            self._updates_changed = asyncio.Event()

    async def _delete_webhook(self, params: JSONDict) -> bool:
        if params.get("drop_pending_updates") is True:
            with self._cond:
                self._pending_updates.clear()
        return True

    async def _delete_message(self, params: JSONDict) -> bool:
        key = (_int_param(params, "chat_id"), _int_param(params, "message_id"))
        with self._cond:
            self._messages.pop(key, None)
        return True

    async def _send_message(self, params: JSONDict) -> JSONDict:
        return self._store_bot_message(params, text=_text_param(params, "text"))

    async def _send_document(self, params: JSONDict) -> JSONDict:
        document = _file_param(params, "document")
        if isinstance(document, str):
            content: JSONDict = {"document": _document(document)}
        else:
            content = {
                "document": _document(
                    self._new_file_id("document"),
                    file_name=document["filename"],
                    file_size=document["size"],
                    mime_type=document["content_type"],
                )
            }
        return self._store_bot_message(params, **content, **_caption(params))

    async def _send_photo(self, params: JSONDict) -> JSONDict:
        photo = _file_param(params, "photo")
        file_id = photo if isinstance(photo, str) else self._new_file_id("photo")
        size: JSONDict = {
            "file_id": file_id,
            "file_unique_id": _file_unique_id(file_id),
            "width": 640,
            "height": 480,
        }
        if isinstance(photo, dict):
            size["file_size"] = photo["size"]
        return self._store_bot_message(params, photo=[size], **_caption(params))

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

    async def _copy_message(self, params: JSONDict) -> JSONDict:
        return {"message_id": next(self._message_ids)}

    async def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        return self._edit_message(params, {"text": _text_param(params, "text")})

    async def _edit_message_caption(self, params: JSONDict) -> JSONDict | bool:
        return self._edit_message(params, _caption(params))

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        return self._edit_message(params, {})

    # ------------------------------------------------------------------ messages

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

    def _edit_message(self, params: JSONDict, changes: JSONDict) -> JSONDict | bool:
        """Apply an edit* method; like Telegram, an omitted reply_markup drops the keyboard."""
        if params.get("inline_message_id"):
            return True
        key = (_int_param(params, "chat_id"), _int_param(params, "message_id"))
        with self._cond:
            old = self._messages.get(key) or self._bot_message_stub(*key)
            unchanged = {name: value for name, value in old.items() if name != "reply_markup"}
            message = {**unchanged, **changes, "edit_date": _now(), **_inline_markup(params)}
            self._messages[key] = message
        return message

    def _new_file_id(self, kind: str) -> str:
        return f"fake-{kind}-{next(self._object_ids)}"


async def _return_true(params: JSONDict) -> bool:
    return True


async def _read_params(request: web.Request) -> JSONDict:
    """Decode query-string, JSON, urlencoded and multipart parameters like the Bot API."""
    params: JSONDict = {key: _decode(key, value) for key, value in request.query.items()}
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as error:
            raise BotAPIError(400, "Bad Request: can't parse JSON body") from error
        if not isinstance(body, dict):
            raise BotAPIError(400, "Bad Request: JSON body must be an object")
        params.update(body)
        return params
    files: JSONDict = {}
    for key, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            files[key] = _describe_upload(value)
        else:
            text = value if isinstance(value, str) else bytes(value).decode()
            params[key] = _decode(key, text)
    # aiogram uploads an InputFile as its own part and sends "attach://<part>" as the value.
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            part = value.removeprefix("attach://")
            if part in files:
                params[key] = files.pop(part)
    params.update(files)
    return params


def _decode(key: str, raw: str) -> Any:
    """JSON-decode objects, arrays, numbers and booleans; keep everything else as str."""
    if key in _STRING_FIELDS:
        return raw
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except ValueError:
        return raw
    return value if isinstance(value, dict | list | int | float) else raw


def _reject_constant(name: str) -> float:
    raise ValueError(f"not a JSON number: {name}")


def _describe_upload(upload: web.FileField) -> JSONDict:
    size = upload.file.seek(0, io.SEEK_END)
    return {"filename": upload.filename, "size": size, "content_type": upload.content_type}


def _int_param(params: JSONDict, name: str, *, default: int | None = None) -> int:
    value = params.get(name)
    if value is None:
        if default is None:
            raise BotAPIError(400, f"Bad Request: {name} is empty")
        return default
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


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _now() -> int:
    return int(time.time())
