"""Selling stock under contention, and loading 10,000 units: updates per second of N buyers
racing for M units of a stock product, against the same race on an unlimited product, and the
bulk load against a query per unit.

Sales: all N pre-checkouts are fed at once through the real dispatcher
(`tests.support.shop.running_shop`, the fake Telegram in-process), then every payment the
pre-checkout accepted, at once. A stock product reserves a unit at pre-checkout and sells it
at payment (conditional UPDATEs); the unlimited baseline, measured in the same run and
interleaved, does the same checks and records a purchase without a unit (so all N buy).
Updates/s is the pre-checkouts and payments handled over the wall time of both phases.
Loading: `bot.shop.stock.load_units` (one multi-row INSERT … ON CONFLICT DO NOTHING per 1000
units) against one INSERT per unit, in one transaction each, on the same backend.

    .venv/bin/python -m bench.stock [--repeat 3] [--backend sqlite] [--buyers 50] [--units 10]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench._common import (
    ThrowawayDatabase,
    median,
    ms,
    parse_args,
    prepare_process,
    print_header,
    print_table,
    throwaway_database,
    times,
)
from bot.dao.models import KIND_STOCK, KIND_UNLIMITED, Purchase, StockUnit
from bot.dao.stock import content_hash
from bot.shop import Shop
from bot.shop.invoices import build_payload
from bot.shop.stock import load_units
from tests.support.shop import ShopBot, running_shop

PRICE = 25
FIRST_BUYER = 10_001


def add_own(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--buyers", type=int, default=50, help="buyers racing (default 50)")
    parser.add_argument("--units", type=int, default=10, help="units in stock (default 10)")
    parser.add_argument("--load", type=int, default=10_000, help="units loaded (default 10000)")


async def _product(shop: ShopBot, kind: str, units: int) -> int:
    product_id = await shop.add_product("Keys", name="Key", price=PRICE, currency="XTR", kind=kind)
    text = "\n".join(f"KEY-{n:06d}" for n in range(units))
    await shop.run(lambda session: load_units(Shop.on(session), product_id, text))
    return product_id


async def race(database: ThrowawayDatabase, kind: str, buyers: int, units: int) -> float:
    """Updates (pre-checkouts and payments) handled per second while `buyers` race for the
    product."""
    async with running_shop(database) as shop:
        product_id = await _product(shop, kind, units if kind == KIND_STOCK else 0)
        telegram = shop.telegram
        payers = range(FIRST_BUYER, FIRST_BUYER + buyers)
        order = {"currency": "XTR", "total_amount": PRICE}
        checkouts = {
            payer: telegram.pre_checkout_update(
                payer, **order, payload=build_payload(product_id, payer)
            )
            for payer in payers
        }
        payer_of = {body["pre_checkout_query"]["id"]: payer for payer, body in checkouts.items()}
        started = time.perf_counter()
        mark = telegram.mark()
        await shop.feed(*checkouts.values())
        accepted = [
            payer_of[call.params["pre_checkout_query_id"]]
            for call in telegram.calls[mark:]
            if call.method == "answerPreCheckoutQuery" and call.params["ok"]
        ]
        await shop.feed(
            *(
                telegram.payment_update(
                    payer,
                    **order,
                    payload=build_payload(product_id, payer),
                    charge_id=f"charge-{payer}",
                )
                for payer in accepted
            )
        )
        seconds = time.perf_counter() - started
        sold = len(await shop.rows(Purchase))
        expected = min(units, buyers) if kind == KIND_STOCK else buyers
        if sold != expected:
            raise RuntimeError(f"{kind}: {sold} sold, expected {expected}")
        return (buyers + len(accepted)) / seconds


async def bulk_load(database: ThrowawayDatabase, count: int, one_by_one: bool) -> float:
    """Seconds to load `count` units in one transaction."""
    async with running_shop(database) as shop:
        product_id = await _product(shop, KIND_STOCK, 0)
        text = "\n".join(f"UNIT-{n:07d}-{'k' * 24}" for n in range(count))

        async def load_all(session: object) -> None:
            shop_now = Shop.on(session)  # type: ignore[arg-type]
            if not one_by_one:
                await load_units(shop_now, product_id, text)
                return
            for unit in text.splitlines():  # the naive way: a query per unit
                session.add(  # type: ignore[attr-defined]
                    StockUnit(product_id=product_id, content=unit, content_hash=content_hash(unit))
                )
                await session.flush()  # type: ignore[attr-defined]

        started = time.perf_counter()
        await shop.run(load_all)
        return time.perf_counter() - started


def measure(backend: str, scratch: Path, args: argparse.Namespace) -> tuple[list[str], list[str]]:
    rates: dict[str, list[float]] = {KIND_UNLIMITED: [], KIND_STOCK: []}
    loads: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeat):
        for kind, samples in rates.items():  # interleaved: both see the same machine load
            with throwaway_database(backend, scratch) as database:
                samples.append(asyncio.run(race(database, kind, args.buyers, args.units)))
        for one_by_one, seconds in loads.items():
            with throwaway_database(backend, scratch) as database:
                seconds.append(asyncio.run(bulk_load(database, args.load, one_by_one)))
    stock_rate, unlimited_rate = median(rates[KIND_STOCK]), median(rates[KIND_UNLIMITED])
    bulk, naive = median(loads[False]), median(loads[True])
    sales = [
        backend,
        f"{args.buyers} buyers, {args.units} units",
        f"{stock_rate:.0f}",
        f"{unlimited_rate:.0f}",
        times(stock_rate, unlimited_rate),
    ]
    load = [backend, f"{args.load}", ms(bulk), ms(naive), times(naive, bulk)]
    return sales, load


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], repeat=3, add_own=add_own)
    prepare_process()
    print_header(
        "Stock: sales under contention and bulk loading",
        f"Medians over {args.repeat} runs, each on a fresh database; the unlimited race and "
        "the query-per-unit load are measured in the same run, interleaved.",
    )
    sales_rows, load_rows = [], []
    with tempfile.TemporaryDirectory(prefix="shopbot-bench-stock-") as scratch:
        for backend in args.backends:
            sales, load = measure(backend, Path(scratch), args)
            sales_rows.append(sales)
            load_rows.append(load)
    print_table(
        ["database", "race", "stock updates/s", "unlimited updates/s", "stock vs unlimited"],
        sales_rows,
    )
    print_table(
        ["database", "units", "bulk load ms", "one INSERT per unit ms", "bulk speed-up"],
        load_rows,
    )


if __name__ == "__main__":
    main()
