"""Broadcasts: sending one off to 100,000 users, the rate its sender reaches against the
configured limit, and how much later a purchase's goods arrive while one is being sent.

Everything runs through `tests.support.shop.running_shop`: the dispatcher exactly as
`bot.app.build_dispatcher` builds it, its own broadcast and outbox workers started as the bot
starts them, the fake Telegram in-process answering every call `--latency` seconds late (so
the messages the sender keeps in flight matter), on a throwaway database holding `--users`
users (inserted by one INSERT … SELECT, outside any timing).

Enqueue: `BroadcastDAO.send_off` of a broadcast to everyone (one INSERT … SELECT queueing the
audience, in its own committed transaction), seconds and users/s; the process's RSS sampled
every 5 ms meanwhile (its peak above what it was when the send-off began), and, in a second
send-off of its own (untimed), tracemalloc's peak of what Python allocated. Each such
broadcast is cancelled at once, so its 100,000 rows stay in the table the senders below read.

Rate: a broadcast sent off to `--messages` users at BROADCAST_RATE=1000 (BROADCAST_PAID=true)
and to a fifth as many at 30 (free), each to an audience within the populated table (users
speaking Russian; users seen lately), sent by the bot's worker to the end, alone. The achieved
rate is counted from the first to the last broadcast message the fake recorded, against the
limit (goal: at least 0.95); the RSS is sampled meanwhile too (it includes the fake's record
of every call). Every recipient must get it exactly once, and a paid one's messages must all
ask for `allow_paid_broadcast`.

Purchase delay: the same broadcast again (a new one to the same audience) with purchases made
one after another while it is sent. A purchase is the Stars path through the dispatcher (a
pre-checkout, then the successful_payment update), timed from feeding the payment to the
sendMessage of the goods themselves (after the heading's) recorded by the fake. Those begun
after the broadcast's first message and delivered before its last count as during it; the
baseline is the same purchases with no broadcast, `--purchases` before it and as many after,
by the same bot (goal: at most a second later). The goods and the admin's sale notice take
the broadcast's next turns (`Outbox(goes_before=)`), so this broadcast's own rate is lower;
"all messages" counts them in.

    .venv/bin/python -m bench.broadcast [--repeat 1] [--backend sqlite] [--users 100000]
        [--messages 3000] [--latency 0.04] [--purchases 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import count
from pathlib import Path

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bench._common import (
    ThrowawayDatabase,
    median,
    ms,
    parse_args,
    prepare_process,
    print_header,
    print_table,
    sec,
    throwaway_database,
    times,
)
from bot.dao.broadcast_models import (
    BROADCAST_CANCELLED,
    BROADCAST_DONE,
    BROADCAST_SENDING,
    Broadcast,
)
from bot.dao.broadcasts import (
    AUDIENCE_ACTIVE,
    AUDIENCE_ALL,
    AUDIENCE_LANGUAGE,
    Audience,
    BroadcastDAO,
)
from bot.dao.models import KIND_UNLIMITED, User
from bot.shop.invoices import build_payload
from bot.shop.stock import now
from bot.telegram.broadcasts import messages_in_flight
from tests.fakes import Call, FakeTelegram
from tests.support.shop import ShopBot, running_shop

ADMIN = 77  # the broadcasts' author, and the shop's admin (told of each sale)
FIRST_USER = 1_000_001  # the populated users' Telegram ids: FIRST_USER, FIRST_USER + 1, ...
FIRST_BUYER = 900_000_001  # buyers are new users, one per purchase
PRICE = 25
GOODS = "KEY-0000-BENCH-GOODS"
MESSAGE = "Spring sale: 20% off everything until Sunday"
PAID, FREE = (1000.0, True), (30.0, False)  # (BROADCAST_RATE, BROADCAST_PAID)
FREE_SHARE = 5  # the free broadcast goes to a fifth as many users: 30/s is slow
PAID_LANGUAGE = "ru"  # the paid broadcast's audience: the users speaking it
SEEN_DAYS = 2  # the free one's: users seen in the last days (the others never were)
PURCHASES_PER_BROADCAST = 20  # a purchase every (the broadcast's expected length / this)


def add_own(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--users", type=int, default=100_000, help="users a broadcast is sent off to (100000)"
    )
    parser.add_argument(
        "--messages",
        type=int,
        default=3000,
        help="messages of the paid broadcast at 1000/s; the free one at 30/s sends a fifth "
        "(default 3000: 3 s and 20 s)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.04,
        help="seconds the fake Telegram takes to answer any call (default 0.04)",
    )
    parser.add_argument(
        "--purchases",
        type=int,
        default=5,
        help="purchases without a broadcast, before each one and after (default 5)",
    )


# ---------------------------------------------------------------------------- memory


def _rss() -> int:
    with Path("/proc/self/statm").open() as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """The process's resident memory sampled every few ms in a thread: how far its peak rose
    above what it was on entering (not resource's maxrss, which an earlier peak hides)."""

    def __init__(self, every: float = 0.005) -> None:
        self.every = every
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> PeakRSS:
        self.start = self.peak = _rss()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def grown(self) -> int:
        return self.peak - self.start


def mib(size: float) -> str:
    return f"{size / 2**20:.1f}"


# ---------------------------------------------------------------------------- the shop


@dataclass(frozen=True)
class Audiences:
    """The two audiences within the populated table, and the chats each one is."""

    paid: Audience
    free: Audience
    paid_chats: frozenset[int]
    free_chats: frozenset[int]


async def populate(shop: ShopBot, backend: str, users: int, paid: int, free: int) -> Audiences:
    """`users` users in one INSERT … SELECT: the first `paid` speak PAID_LANGUAGE, the next
    `free` were seen a day ago."""
    numbers = f"generate_series(1, {users}) AS n(i)" if backend == "postgresql" else "numbers AS n"
    with_numbers = (
        ""
        if backend == "postgresql"
        else f"WITH RECURSIVE numbers(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM numbers "
        f"WHERE i < {users}) "
    )
    insert = text(
        f"{with_numbers}INSERT INTO users (telegram_id, first_name, language) "
        f"SELECT {FIRST_USER - 1} + n.i, 'User ' || n.i, "
        f"CASE WHEN n.i <= {paid} THEN '{PAID_LANGUAGE}' END FROM {numbers}"
    )
    free_from = FIRST_USER + paid

    async def fill(session: AsyncSession) -> None:
        await session.execute(insert)
        await session.execute(
            update(User)
            .where(User.telegram_id >= free_from, User.telegram_id < free_from + free)
            .values(last_seen_at=now() - timedelta(days=1))
        )

    await shop.run(fill)
    return Audiences(
        paid=Audience(AUDIENCE_LANGUAGE, PAID_LANGUAGE),
        free=Audience(AUDIENCE_ACTIVE, str(SEEN_DAYS)),
        paid_chats=frozenset(range(FIRST_USER, FIRST_USER + paid)),
        free_chats=frozenset(range(free_from, free_from + free)),
    )


async def send_off(
    shop: ShopBot, audience: Audience, *, paid: bool, report_message_id: int
) -> tuple[int, int, float]:
    """A draft to `audience`, then sent off in a transaction of its own: its id, how many it
    went to, and the seconds the send-off took (its commit included)."""

    async def draft(session: AsyncSession) -> int:
        return (await BroadcastDAO(session).create(ADMIN, audience, text=MESSAGE)).id

    broadcast_id = await shop.run(draft)
    language = shop.dispatcher["settings"].default_language

    async def queue(session: AsyncSession) -> int | None:
        return await BroadcastDAO(session).send_off(
            broadcast_id,
            now(),
            language,
            report_chat_id=ADMIN,
            report_message_id=report_message_id,
            paid=paid,
        )

    started = time.perf_counter()
    total = await shop.run(queue)
    seconds = time.perf_counter() - started
    if total is None:
        raise RuntimeError(f"broadcast #{broadcast_id} was not a draft")
    return broadcast_id, total, seconds


async def cancel(shop: ShopBot, broadcast_id: int) -> None:
    await shop.run(
        lambda session: BroadcastDAO(session).change_state(
            broadcast_id, [BROADCAST_SENDING], BROADCAST_CANCELLED, now()
        )
    )


async def report_message(shop: ShopBot) -> int:
    """The admin's message a broadcast's progress is edited into."""
    return (await shop.bot.send_message(ADMIN, "Broadcast")).message_id


@dataclass(frozen=True)
class Purchase:
    paid_at: float  # time.monotonic() as the payment was fed (the fake's clock)
    delivered_at: float  # when the fake recorded the goods' sendMessage

    @property
    def delay(self) -> float:
        return self.delivered_at - self.paid_at


async def purchase(shop: ShopBot, product_id: int, buyer: int) -> Purchase:
    """A new buyer pays in Stars: the pre-checkout, then the payment, timed to the goods."""
    chat = shop.chat(buyer)
    payload = build_payload(product_id, buyer)
    answer = await chat.pre_checkout(currency="XTR", total_amount=PRICE, payload=payload)
    if not answer.params["ok"]:
        raise RuntimeError(f"pre-checkout refused: {answer.params}")
    mark = shop.telegram.mark()
    paid_at = time.monotonic()
    await chat.pay(currency="XTR", total_amount=PRICE, payload=payload, charge_id=f"c-{buyer}")
    goods = [
        call.at
        for call in shop.telegram.calls[mark:]
        if call.method == "sendMessage"
        and call.params.get("chat_id") == buyer
        and call.params.get("text") == GOODS
    ]
    if len(goods) != 1:
        raise RuntimeError(f"buyer {buyer} got the goods {len(goods)} times")
    return Purchase(paid_at, goods[0])


# ---------------------------------------------------------------------------- measuring


@dataclass
class Sent:
    """One broadcast sent to the end, and the purchases around it."""

    rate: float  # the limit
    messages: int
    seconds: float  # first to last message
    others: int = 0  # other messages sent meanwhile (purchases'), each taking a turn
    rss_grown: int = 0  # the process's RSS peak while it was sent, above where it began
    during: list[float] = field(default_factory=list)  # purchase delays
    without: list[float] = field(default_factory=list)

    @property
    def achieved(self) -> float:
        return (self.messages - 1) / self.seconds if self.seconds > 0 else float("nan")

    @property
    def all_messages(self) -> float:
        """Every message sent from the first of the broadcast to its last, per second."""
        return (self.messages + self.others - 1) / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Measured:
    enqueue: list[float] = field(default_factory=list)  # seconds
    queued: list[int] = field(default_factory=list)
    rss_grown: list[int] = field(default_factory=list)
    traced_peak: int = 0
    sent: dict[float, list[Sent]] = field(default_factory=dict)  # by limit: alone
    bought: dict[float, list[Sent]] = field(default_factory=dict)  # with purchases


def broadcast_calls(telegram: FakeTelegram, mark: int) -> list[Call]:
    return [
        call
        for call in telegram.calls[mark:]
        if call.method == "sendMessage" and call.params.get("text") == MESSAGE
    ]


async def first_send(telegram: FakeTelegram, mark: int, timeout: float = 30.0) -> None:
    """Until the broadcast's first message is recorded (the fake's wait, in a thread)."""
    await asyncio.to_thread(
        telegram.wait_for,
        "sendMessage",
        lambda call: call.params.get("text") == MESSAGE,
        timeout=timeout,
        after=mark,
    )


async def until_done(shop: ShopBot, broadcast_id: int, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while True:
            [row] = await shop.rows(Broadcast, Broadcast.id == broadcast_id)
            if row.state == BROADCAST_DONE:
                return
            await asyncio.sleep(0.2)


async def enqueue_samples(
    database: ThrowawayDatabase, journal: Path, measured: Measured, *, trace: bool
) -> None:
    async with running_shop(database, admin_ids=str(ADMIN), payments_journal=journal) as shop:
        report = await report_message(shop)
        everyone = Audience(AUDIENCE_ALL)
        with PeakRSS() as rss:
            broadcast_id, total, seconds = await send_off(
                shop, everyone, paid=False, report_message_id=report
            )
        await cancel(shop, broadcast_id)
        measured.enqueue.append(seconds)
        measured.queued.append(total)
        measured.rss_grown.append(rss.grown)
        if trace:  # apart: tracing slows Python down
            tracemalloc.start()
            try:
                broadcast_id, _, _ = await send_off(
                    shop, everyone, paid=False, report_message_id=report
                )
                measured.traced_peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            await cancel(shop, broadcast_id)


async def send_one(
    database: ThrowawayDatabase,
    journal: Path,
    product_id: int,
    buyers: Iterator[int] | None,
    speed: tuple[float, bool],
    audience: Audience,
    chats: frozenset[int],
    args: argparse.Namespace,
) -> Sent:
    """The bot at this BROADCAST_RATE sends a broadcast to `audience` (`chats`) to the end;
    with `buyers`, with purchases before, during and after it."""
    rate, paid = speed
    settings = {"broadcast_rate": rate, "broadcast_paid": paid, "payments_journal": journal}
    during: list[Purchase] = []
    without: list[Purchase] = []

    async def buy(times_over: int) -> list[Purchase]:
        assert buyers is not None
        return [await purchase(shop, product_id, next(buyers)) for _ in range(times_over)]

    async with running_shop(database, admin_ids=str(ADMIN), **settings) as shop:
        telegram = shop.telegram
        telegram.set_latency(args.latency)
        report = await report_message(shop)
        outbox_worker = shop.dispatcher["outbox_worker"]
        broadcast_worker = shop.dispatcher["broadcast_worker"]
        await outbox_worker.start(shop.bot)
        await broadcast_worker.start(shop.bot)
        try:
            if buyers is not None:
                await buy(1)  # warm-up: the statements' first compiles
                without += await buy(args.purchases)
            mark = telegram.mark()
            broadcast_id, total, _ = await send_off(
                shop, audience, paid=paid, report_message_id=report
            )
            if total != len(chats):
                raise RuntimeError(f"queued {total} recipients, expected {len(chats)}")
            expected = total / rate
            with PeakRSS() as rss:
                broadcast_worker.wake()
                done = asyncio.create_task(until_done(shop, broadcast_id, 2 * expected + 60))
                await first_send(telegram, mark)
                while buyers is not None and not done.done():
                    during += await buy(1)
                    await asyncio.wait([done], timeout=expected / PURCHASES_PER_BROADCAST)
                await done
            if buyers is not None:
                without += await buy(args.purchases)
        finally:
            await broadcast_worker.stop()
            await outbox_worker.stop()
        sends = broadcast_calls(telegram, mark)
        # What else went out meanwhile and took one of the broadcast's turns (the goods and
        # the sale notices): the pace's budget is shared.
        first, last = sends[0].at, sends[-1].at
        others = [
            call
            for call in telegram.calls[mark:]
            if call.method.startswith("send")
            and first <= call.at <= last
            and call.params.get("text") != MESSAGE
        ]
    got = Counter(int(call.params["chat_id"]) for call in sends)
    if set(got) != chats or set(got.values()) != {1}:
        twice = sum(1 for times_sent in got.values() if times_sent > 1)
        raise RuntimeError(
            f"{len(set(got) & chats)} of {len(chats)} recipients got it, {twice} twice, "
            f"{len(set(got) - chats)} who should not"
        )
    if any(bool(call.params.get("allow_paid_broadcast")) != paid for call in sends):
        raise RuntimeError(f"allow_paid_broadcast not {paid} on every message")
    return Sent(
        rate,
        len(sends),
        last - first,
        others=len(others),
        rss_grown=rss.grown,
        during=[p.delay for p in during if p.paid_at >= first and p.delivered_at <= last],
        without=[p.delay for p in without],
    )


async def measure(database: ThrowawayDatabase, journal: Path, args: argparse.Namespace) -> Measured:
    paid_count, free_count = args.messages, args.messages // FREE_SHARE
    measured = Measured()
    async with running_shop(database, admin_ids=str(ADMIN), payments_journal=journal) as shop:
        audiences = await populate(shop, database.backend, args.users, paid_count, free_count)
        product_id = await shop.add_product(
            "Keys",
            name="Bench key",
            description="A key",
            price=PRICE,
            currency="XTR",
            kind=KIND_UNLIMITED,
            hidden_content=GOODS,
        )
    buyers = count(FIRST_BUYER)
    for round_number in range(args.repeat):
        await enqueue_samples(database, journal, measured, trace=round_number == 0)
        for speed, audience, chats in (
            (PAID, audiences.paid, audiences.paid_chats),
            (FREE, audiences.free, audiences.free_chats),
        ):
            for by_limit, buying in ((measured.sent, None), (measured.bought, buyers)):
                sent = await send_one(
                    database, journal, product_id, buying, speed, audience, chats, args
                )
                by_limit.setdefault(speed[0], []).append(sent)
    return measured


# ---------------------------------------------------------------------------- printing


def delays(samples: list[float]) -> tuple[str, str, str]:
    if not samples:
        return "0", "-", "-"
    return str(len(samples)), ms(median(samples)), ms(max(samples))


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], repeat=1, add_own=add_own)
    if args.users < args.messages + args.messages // FREE_SHARE:
        raise SystemExit("--users must hold both audiences: at least 1.2 x --messages")
    if args.purchases < 1 or args.messages < 2 * FREE_SHARE:
        raise SystemExit("--purchases must be 1 or more (the baseline), --messages 10 or more")
    prepare_process()
    print_header(
        "Broadcasts: sending off, the rate reached, purchases meanwhile",
        f"{args.users} users; the fake Bot API in-process answering every call "
        f"{args.latency * 1000:g} ms late; {args.repeat} round(s), each on the same database "
        "(the send-offs' recipients stay in it, cancelled); purchases without a broadcast "
        f"({args.purchases} before and after each) by the same bot in the same round.",
    )
    results: dict[str, Measured] = {}
    with tempfile.TemporaryDirectory(prefix="shopbot-bench-broadcast-") as scratch:
        for backend in args.backends:
            with throwaway_database(backend, Path(scratch)) as database:
                journal = Path(scratch) / f"{backend}.journal"
                results[backend] = asyncio.run(measure(database, journal, args))
    print_table(
        ["database", "users queued", "send_off s", "users/s", "RSS peak +MiB", "traced peak MiB"],
        [
            [
                backend,
                f"{median(m.queued):.0f}",
                sec(median(m.enqueue)),
                f"{median([q / s for q, s in zip(m.queued, m.enqueue, strict=True)]):.0f}",
                mib(max(m.rss_grown)),
                mib(m.traced_peak),
            ]
            for backend, m in results.items()
        ],
    )
    print_table(
        [
            "database",
            "limit /s",
            "in flight",
            "messages",
            "alone /s",
            "vs limit",
            "with purchases /s",
            "all messages /s",
            "vs limit",
            "RSS peak +MiB",
        ],
        [
            [
                backend,
                f"{rate:g}",
                messages_in_flight(rate),
                sum(s.messages for s in sent),
                f"{median([s.achieved for s in sent]):.1f}",
                f"{median([s.achieved / s.rate for s in sent]):.3f}",
                f"{median([s.achieved for s in m.bought[rate]]):.1f}",
                f"{median([s.all_messages for s in m.bought[rate]]):.1f}",
                f"{median([s.all_messages / s.rate for s in m.bought[rate]]):.3f}",
                mib(max(s.rss_grown for s in sent)),
            ]
            for backend, m in results.items()
            for rate, sent in m.sent.items()
        ],
    )
    rows = []
    for backend, m in results.items():
        for rate, sent in m.bought.items():
            during = [delay for s in sent for delay in s.during]
            without = [delay for s in sent for delay in s.without]
            base = median(without)
            rows.append(
                [
                    backend,
                    f"{rate:g}/s",
                    *delays(during),
                    *delays(without),
                    times(median(during), base) if during else "-",
                    sec(max(during) - base) if during else "-",
                ]
            )
    print_table(
        [
            "database",
            "broadcast",
            "during n",
            "p50 ms",
            "max ms",
            "without n",
            "p50 ms",
            "max ms",
            "p50 vs without",
            "worst extra s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
