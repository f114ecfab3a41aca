"""A fake Telegram Bot API server for end-to-end tests of the real bot process.

It serves `tests.fakes.telegram.FakeTelegram` (what Telegram answers and refuses) over the
Bot API wire protocol (``POST {url}/bot{token}/{method}``) on 127.0.0.1 from a daemon thread
with its own event loop, and adds what only a server has: a queue of updates for long
polling. A test starts the bot as a subprocess with ``BOT_API_URL=fake.url`` and drives it
synchronously::

    with FakeBotAPI() as fake:
        start_bot(env={"BOT_API_URL": fake.url})
        mark = fake.mark()
        fake.send_text(100, "/start")
        reply = fake.wait_for("sendMessage", lambda call: call.params["chat_id"] == 100,
                              after=mark)

Every request to ``/bot{token}/{method}`` is recorded as a :class:`Call`, including
requests for methods the fake does not know (those answer 404 like the real API).

Like Telegram, one getUpdates at a time per token: a new one ends a pending one with 409
Conflict (each is recorded in :attr:`FakeBotAPI.conflicts`), and an offset confirms (drops)
every update below it.

A gate freezes Telegram at a chosen moment, for a process to be killed with requests in
flight: ``fake.hold_after("sendMessage", 20)`` answers 20 more sendMessage calls, then holds
the next ones unanswered and unrecorded (:attr:`FakeBotAPI.held`) until ``fake.open_gate()``;
a held request whose client goes away meanwhile (SIGKILL) is dropped (:attr:`FakeBotAPI.dropped`):
it never reached Telegram, so nothing was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from tests.fakes.telegram import BotAPIError, Call, FakeTelegram, JSONDict, decode_params

__all__ = ["BotAPIError", "Call", "FakeBotAPI"]

_MAX_UPDATES_PER_POLL = 100
_SHUTDOWN_TIMEOUT = 2.0
_GATE_POLL = 0.02  # seconds between looks of a held request at the gate and its client
CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
# The HTTP request being answered, for what only the transport knows (token, client).
_REQUEST: ContextVar[web.Request] = ContextVar("fake_bot_api_request")


@dataclass(frozen=True)
class Conflict:
    """A getUpdates ended with 409 by a newer one for the same token."""

    at: float
    client_connected: bool  # False: its client had gone (killed, or gave up): nobody saw it


@dataclass
class _Gate:
    """Calls of `method` (lower case) let through before the gate holds them."""

    method: str
    passes: int
    open: bool = False


@dataclass
class _PendingPoll:
    request: web.Request
    terminated: asyncio.Event


class FakeBotAPI(FakeTelegram):
    """The fake Telegram, served over real HTTP, with updates for getUpdates."""

    def __init__(self, *, bot_id: int = 424242, bot_username: str = "fake_shop_bot") -> None:
        super().__init__(bot_id=bot_id, bot_username=bot_username)
        self._pending_updates: list[JSONDict] = []
        self._pushed_updates: dict[int, JSONDict] = {}
        self._last_update_id = 0
        self._updates_served = 0
        self._conflicts: list[Conflict] = []
        self._pending_polls: dict[str, _PendingPoll] = {}  # by token; only on the server loop
        self._gate: _Gate | None = None
        self._held = 0
        self._dropped = 0
        self.handle("getUpdates", self._get_updates)
        self.handle("deleteWebhook", self._delete_webhook)
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

    @property
    def conflicts(self) -> list[Conflict]:
        """Every getUpdates ended by a newer one (409), oldest first."""
        with self._cond:
            return list(self._conflicts)

    @property
    def pending_updates(self) -> list[int]:
        """The ids of the updates not confirmed yet."""
        with self._cond:
            return [update["update_id"] for update in self._pending_updates]

    def get_update(self, update_id: int) -> dict:
        """A copy of a previously pushed update (e.g. to read a callback query id)."""
        with self._cond:
            return copy.deepcopy(self._pushed_updates[update_id])

    def send_text(self, user_id: int, text: str, **profile: Any) -> int:
        """Queue a private-chat text message from the user (see `FakeTelegram.text_update`)."""
        return self.push_update(self.text_update(user_id, text, **profile))

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        offset = _int_or(params, "offset", 0)
        limit = min(max(_int_or(params, "limit", _MAX_UPDATES_PER_POLL), 1), _MAX_UPDATES_PER_POLL)
        timeout = max(_int_or(params, "timeout", 0), 0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        request = _REQUEST.get()
        token = request.match_info["token"]
        mine = _PendingPoll(request, asyncio.Event())
        older = self._pending_polls.get(token)
        if older is not None:
            older.terminated.set()
        self._pending_polls[token] = mine
        try:
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
                woken = asyncio.ensure_future(changed.wait())
                ended = asyncio.ensure_future(mine.terminated.wait())
                try:
                    await asyncio.wait(
                        {woken, ended}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    woken.cancel()
                    ended.cancel()
                if mine.terminated.is_set():
                    raise self._conflict(request)
        finally:
            if self._pending_polls.get(token) is mine:
                del self._pending_polls[token]

    def _conflict(self, request: web.Request) -> BotAPIError:
        """Record that a newer getUpdates ended this one; the 409 to answer it with."""
        transport = request.transport
        connected = transport is not None and not transport.is_closing()
        with self._cond:
            self._conflicts.append(Conflict(time.monotonic(), connected))
        return BotAPIError(409, CONFLICT)

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

    # ------------------------------------------------------------------ the gate

    def hold_after(self, method: str, count: int) -> None:
        """Answer `count` more calls of `method`, then hold the next ones, unanswered and
        unrecorded, until `open_gate`."""
        if count < 0:
            raise ValueError("count must be >= 0")
        with self._cond:
            self._gate = _Gate(method.lower(), count)

    def open_gate(self) -> None:
        """Answer the held calls whose client is still there, and every call from now on."""
        with self._cond:
            if self._gate is not None:
                self._gate.open = True
            self._gate = None

    @property
    def held(self) -> int:
        """How many calls the gate holds now."""
        with self._cond:
            return self._held

    @property
    def dropped(self) -> int:
        """How many held calls were dropped, their client gone: never answered nor recorded."""
        with self._cond:
            return self._dropped

    async def _through_gate(self, request: web.Request, method: str) -> bool:
        """Whether to answer the call: at once, or once the gate opens; False when it was held
        and its client went away meanwhile (aiohttp does not cancel a handler then)."""
        with self._cond:
            gate = self._gate
            if gate is None or gate.method != method.lower():
                return True
            if gate.passes > 0:
                gate.passes -= 1
                return True
            self._held += 1
        try:
            while True:
                await asyncio.sleep(_GATE_POLL)
                transport = request.transport
                if transport is None or transport.is_closing() or self._stopping:
                    with self._cond:
                        self._dropped += 1
                    return False
                with self._cond:
                    if gate.open:
                        return True
        finally:
            with self._cond:
                self._held -= 1

    # ------------------------------------------------------------------ HTTP layer

    async def _handle_method(self, request: web.Request) -> web.Response:
        try:
            params = await _read_params(request)
        except BotAPIError as error:
            return web.json_response(error.body(), status=error.error_code)
        if not await self._through_gate(request, request.match_info["method"]):
            return web.Response(status=499)  # nobody to read it (nginx's "client closed")
        _REQUEST.set(request)
        status, body = await self.answer(
            request.match_info["method"], params, request.match_info["token"]
        )
        return web.json_response(body, status=status)

    async def _handle_unknown_path(self, request: web.Request) -> web.Response:
        error = BotAPIError(404, "Not Found")
        return web.json_response(error.body(), status=error.error_code)


async def _read_params(request: web.Request) -> JSONDict:
    """Query-string, JSON, urlencoded and multipart parameters, as the Bot API reads them."""
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as error:
            raise BotAPIError(400, "Bad Request: can't parse JSON body") from error
        if not isinstance(body, dict):
            raise BotAPIError(400, "Bad Request: JSON body must be an object")
        return decode_params(request.query, {}) | body
    fields: dict[str, str] = dict(request.query)
    uploads: JSONDict = {}
    for key, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            uploads[key] = _describe_upload(value)
        else:
            fields[key] = value if isinstance(value, str) else bytes(value).decode()
    return decode_params(fields, uploads)


def _describe_upload(upload: web.FileField) -> JSONDict:
    size = upload.file.seek(0, io.SEEK_END)
    return {"filename": upload.filename, "size": size, "content_type": upload.content_type}


def _int_or(params: JSONDict, name: str, default: int) -> int:
    value = params.get(name, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default
