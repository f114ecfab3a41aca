"""The composition root: builds the Bot, the storage and the Dispatcher with its middlewares,
routers, workers and hooks (bot.serving.startup migrates or verifies on start), then polls or
serves the webhook until stopped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from functools import partial

from aiogram import Bot, Dispatcher, F
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError
from aiogram.filters import ExceptionTypeFilter
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.dao.catalog_cache import CatalogCache
from bot.dao.database import (
    create_engine,
    is_sqlite,
    reading,
    serving_session_factory,
    writing,
)
from bot.dao.models import OUTBOX_GOODS, OUTBOX_RESTOCK, OUTBOX_REVIEW, OUTBOX_TEXT
from bot.dao.open_transactions import track_open_transactions
from bot.dao.routing import ReadsApart
from bot.errors import ConfigError, UnreachableError
from bot.handlers import routers
from bot.handlers.admin.broadcasts import broadcast_message, broadcast_report
from bot.handlers.admin.reviews import review_notice
from bot.handlers.payments import payment_without_storage
from bot.handlers.restock import restock_notice
from bot.handlers.reviews import goods_to_rate
from bot.i18n.catalogs import LOCALES, ShopI18n
from bot.middlewares.bot_calls import CommitBeforeBotCalls
from bot.middlewares.database import DatabaseSessionMiddleware, ShopFactory, shop_transactions
from bot.middlewares.languages import LanguageCache, UserLanguageMiddleware
from bot.payments.delivery import text_message
from bot.payments.gateway_orders import Gateways
from bot.payments.outcomes import payment_outbox
from bot.serving.dispatcher import ShopDispatcher
from bot.serving.health import Readiness, health_server
from bot.serving.heap import freeze_startup_heap
from bot.serving.polling import standby_for
from bot.serving.replica import ReplicaReads
from bot.serving.startup import SchemaMode, on_shutdown, on_startup
from bot.serving.storage import (
    OUTAGE_ERRORS,
    StorageHealth,
    describe,
    redis_storage,
    update_without_storage,
)
from bot.serving.webhook import serve_webhook
from bot.shop import Shop
from bot.shop.intake import PaymentIntake
from bot.shop.journal import PaymentJournal
from bot.shop.orders import settling_orders
from bot.telegram.broadcasts import BroadcastSender, messages_in_flight
from bot.telegram.outbox import Outbox, Renderer
from bot.telegram.pace import Pace
from bot.telegram.responses import keep_response_models
from bot.telegram.retries import RetryMiddleware
from bot.web.payment_callbacks import payment_server
from bot.workers.broadcasts import BroadcastWorker
from bot.workers.gateway_checks import GatewayChecks
from bot.workers.outbox import OutboxWorker
from bot.workers.payment_replay import finish_payments, replay_payment_journal
from bot.workers.reservations import ReservationSweep
from bot.workers.search_text import fold_search_text
from bot.workers.visits import Visits

READS = "shopbot reads"  # the replica's connections, as pg_stat_activity names them

# How each kind of outbox row turns into messages when it is sent.
OUTBOX_RENDERERS: dict[str, Renderer] = {
    OUTBOX_GOODS: goods_to_rate,
    OUTBOX_RESTOCK: restock_notice,
    OUTBOX_REVIEW: review_notice,
    OUTBOX_TEXT: text_message,
}


def build_bot(settings: Settings, session: BaseSession | None = None) -> Bot:
    """The Bot on Telegram (or BOT_API_URL), or on `session`; its failing calls are retried."""
    if session is None:
        session = (
            AiohttpSession(api=TelegramAPIServer.from_base(settings.bot_api_url))
            if settings.bot_api_url
            else AiohttpSession()
        )
    session.middleware(RetryMiddleware(settings.bot_api_retry_timeout))
    return Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def build_storage(settings: Settings) -> BaseStorage:
    """FSM state in memory, or in Redis when REDIS_URL is set so forms survive a restart.

    Keys carry the bot's id (`fsm:<bot id>:<chat>:<user>:...`): bots sharing one Redis
    never see each other's forms.
    """
    if settings.redis_url is None:
        return MemoryStorage()
    return redis_storage(settings.redis_url.get_secret_value())


def watch_storage(dispatcher: Dispatcher, settings: Settings) -> None:
    """With Redis: `storage_health` in the workflow data (what a readiness probe reads), and an
    update that meets Redis down gets one line instead of a traceback."""
    if settings.redis_url is None or not isinstance(dispatcher.storage, RedisStorage):
        return
    dispatcher["storage_health"] = StorageHealth(describe(settings.redis_url.get_secret_value()))
    outage = ExceptionTypeFilter(*OUTAGE_ERRORS)
    dispatcher.errors.register(payment_without_storage, outage, F.update.message.successful_payment)
    dispatcher.errors.register(update_without_storage, outage)


def build_dispatcher(
    settings: Settings,
    engine: AsyncEngine,
    mode: SchemaMode,
    *,
    strict_transactions: bool = False,
    read_engine: AsyncEngine | None = None,
) -> Dispatcher:
    """`strict_transactions` (tests) makes a Bot API call inside an open transaction raise.
    `read_engine` (DATABASE_READ_URL's) serves updates' reads while it keeps up."""
    if strict_transactions:  # only the guard asks who holds a transaction
        track_open_transactions(engine)
    catalog = CatalogCache()
    catalog.watch(engine)
    shop_factory: ShopFactory = partial(Shop.on, catalog=catalog)
    transactions = shop_transactions(engine, shop_factory)
    i18n = ShopI18n(path=LOCALES, default_locale=settings.default_language)
    I18n.set_current(i18n)  # for what is written outside updates: start-up, the outbox
    keep_response_models()  # see bot.telegram.responses
    languages = LanguageCache()
    broadcast_pace = Pace(settings.broadcast_rate)
    outbox = Outbox(
        transactions, OUTBOX_RENDERERS, lease=settings.delivery_lease, goes_before=broadcast_pace
    )
    outbox_worker = OutboxWorker(outbox)
    broadcast_worker = BroadcastWorker(
        BroadcastSender(
            transactions,
            outbox,
            broadcast_pace,
            compose=broadcast_message,
            report=broadcast_report,
            lease=settings.delivery_lease,
            at_once=messages_in_flight(settings.broadcast_rate),
        )
    )
    payments = PaymentIntake(
        PaymentJournal(settings.payments_journal_path),
        transactions,
        settings.payment_retry_window,
        settling_orders(
            payment_outbox(outbox, settings.admin_ids, settings.referral_reward_percent)
        ),
    )
    gateways = Gateways.build(settings, payments, outbox)
    reservations = ReservationSweep(transactions)
    replica = (
        None
        if read_engine is None
        else ReplicaReads(engine, read_engine, max_lag=settings.read_replica_max_lag)
    )
    readiness = Readiness(
        role="poller" if settings.webhook_endpoint is None else "webhook", replica=replica
    )
    dispatcher = ShopDispatcher(
        storage=build_storage(settings),
        settings=settings,
        engine=engine,
        schema_mode=mode,
        payments=payments,
        outbox=outbox,
        outbox_worker=outbox_worker,
        broadcast_worker=broadcast_worker,
        wake_broadcasts=broadcast_worker.wake,  # what the admin's buttons see of it
        languages=languages,
        readiness=readiness,
        gateways=gateways,
        replica=replica,
        catalog=catalog,
    )
    sessions = DatabaseSessionMiddleware(
        serving_session_factory(engine),
        shop_factory,
        CommitBeforeBotCalls(strict=strict_transactions),
        replica or reads_apart(engine),
    )
    dispatcher.update.outer_middleware(sessions)
    dispatcher.update.outer_middleware(UserLanguageMiddleware(i18n, languages))
    visits = Visits(transactions)
    dispatcher.update.outer_middleware(visits)
    dispatcher["visits"] = visits
    dispatcher.include_routers(*routers())
    watch_storage(dispatcher, settings)
    dispatcher.startup.register(on_startup)
    dispatcher.startup.register(replay_payment_journal)  # after the migration, before polling
    dispatcher.startup.register(fold_search_text)
    dispatcher.startup.register(reservations.start)
    dispatcher.startup.register(outbox_worker.start)
    dispatcher.startup.register(broadcast_worker.start)
    dispatcher.startup.register(visits.start)
    dispatcher.shutdown.register(readiness.stop)  # first: no new traffic
    if gateways is not None:  # callbacks stop before the payments in flight are waited for
        checks = GatewayChecks(gateways)
        dispatcher.startup.register(gateways.start)
        dispatcher.startup.register(checks.start)
        dispatcher.shutdown.register(checks.stop)
        dispatcher.shutdown.register(gateways.stop)
    dispatcher.shutdown.register(reservations.stop)
    if replica is not None:
        dispatcher.shutdown.register(replica.stop)
    dispatcher.shutdown.register(finish_payments)  # before the engine and the bot's session
    dispatcher.shutdown.register(broadcast_worker.stop)  # before the outbox: its report goes there
    dispatcher.shutdown.register(outbox_worker.stop)  # after the payments, which send through it
    dispatcher.shutdown.register(visits.stop)
    dispatcher.shutdown.register(on_shutdown)
    return dispatcher


def reads_apart(engine: AsyncEngine) -> ReadsApart | None:
    """On SQLite, updates read outside any transaction until they write (bot.dao.routing).
    Not so on PostgreSQL: there an update that reads, then writes, would hold two connections
    of one bounded pool, and a burst of them could take every connection for reads and wait
    for ever for one to write with. Its sessions defer the transaction on their one
    connection instead (bot.dao.deferred, through `writing`)."""
    return ReadsApart(writing(engine), reading(engine)) if is_sqlite(engine.url) else None


@asynccontextmanager
async def _bot_api_errors() -> AsyncIterator[None]:
    """The Bot API's refusals at start-up become one line with the right exit code."""
    try:
        yield
    except TelegramUnauthorizedError:
        raise ConfigError(
            "the Bot API rejected BOT_TOKEN as unauthorized; check it with @BotFather"
        ) from None
    except TelegramNetworkError as error:
        raise UnreachableError(
            f"cannot reach the Bot API ({error.message}); check BOT_API_URL and the network"
        ) from None


def _health(
    settings: Settings, dispatcher: Dispatcher, engine: AsyncEngine
) -> AbstractAsyncContextManager[None]:
    """The health server on HEALTH_PORT while polling, if one is asked for: up before the
    start-up hooks, so /readyz says "waiting" while the schema is."""
    if settings.health_port is None:
        return nullcontext()
    return health_server(
        settings.health_host,
        settings.health_port,
        dispatcher["readiness"],
        engine,
        dispatcher.workflow_data.get("storage_health"),
    )


def _payment_callbacks(
    settings: Settings, dispatcher: Dispatcher, bot: Bot
) -> AbstractAsyncContextManager[None]:
    """The gateways' callbacks on PAYMENTS_HTTP_PORT while polling, when a gateway is set up
    (with a webhook they are on its server)."""
    gateways: Gateways | None = dispatcher["gateways"]
    if gateways is None:
        return nullcontext()
    assert settings.payments_http_port is not None  # Settings wants it with a gateway
    return payment_server(
        settings.payments_http_host,
        settings.payments_http_port,
        gateways,
        bot,
        dispatcher["readiness"],
    )


async def run(settings: Settings, mode: SchemaMode) -> None:
    """Serve until stopped: by webhook when WEBHOOK_URL is set, else by long polling."""
    engine = create_engine(settings.database)
    read_url = settings.database_read
    read_engine = None if read_url is None else create_engine(read_url, application_name=READS)
    bot = build_bot(settings)
    dispatcher = build_dispatcher(settings, engine, mode, read_engine=read_engine)
    dispatcher.startup.register(freeze_startup_heap)  # last: start-up is done
    try:
        async with _bot_api_errors():
            if settings.webhook_endpoint is not None:
                await serve_webhook(dispatcher, bot, settings)
            else:
                # Instances sharing the database elect one poller; the others stand by.
                dispatcher["poller_standby"] = standby_for(
                    bot, engine, settings, dispatcher["readiness"]
                )
                async with (
                    _health(settings, dispatcher, engine),
                    _payment_callbacks(settings, dispatcher, bot),
                ):
                    await dispatcher.start_polling(
                        bot,
                        allowed_updates=dispatcher.resolve_used_update_types(),
                        tasks_concurrency_limit=settings.updates_in_flight,
                    )
    finally:
        await bot.session.close()
        await engine.dispose()
        if read_engine is not None:
            await read_engine.dispose()
