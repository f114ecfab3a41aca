"""The broadcasts' tables: a message an admin sends to an audience, and one row per user it
goes to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.dao.database import Base, UTCDateTime

# broadcasts.state: composed and previewed; being sent (by whichever instance holds it);
# paused or cancelled by an admin; done once no recipient is left.
BROADCAST_DRAFT = "draft"
BROADCAST_SENDING = "sending"
BROADCAST_PAUSED = "paused"
BROADCAST_CANCELLED = "cancelled"
BROADCAST_DONE = "done"
# broadcast_recipients.state. Blocked: refused because they blocked the bot (a 403).
RECIPIENT_PENDING = "pending"
RECIPIENT_SENT = "sent"
RECIPIENT_FAILED = "failed"
RECIPIENT_BLOCKED = "blocked"


class Broadcast(Base):
    """A message an admin sends to an audience of users: its content, who gets it, how far
    it got, and the instance sending it (`sender` until `sender_until`, a lease: one that
    dies leaves it to another, or to its own next start)."""

    __tablename__ = "broadcasts"

    author_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)  # Telegram HTML; a caption under a photo/document
    photo: Mapped[str | None] = mapped_column(String(255))  # Telegram file ids
    document: Mapped[str | None] = mapped_column(String(255))
    button_text: Mapped[str | None] = mapped_column(String(64))
    button_url: Mapped[str | None] = mapped_column(String(512))
    button_product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="SET NULL")
    )
    audience: Mapped[str] = mapped_column(String(16))
    audience_value: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(
        String(16), server_default=BROADCAST_DRAFT, default=BROADCAST_DRAFT
    )
    paid: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    total: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    # The admin's message its progress is edited into.
    report_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    report_message_id: Mapped[int | None] = mapped_column(BigInteger)
    sender: Mapped[str | None] = mapped_column(String(64))
    sender_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BroadcastRecipient(Base):
    """One user a broadcast goes to, written when it is sent off: unique per broadcast, so
    nobody is queued twice; marked as their message goes out."""

    __tablename__ = "broadcast_recipients"
    __table_args__ = (UniqueConstraint("broadcast_id", "chat_id"),)

    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), server_default=RECIPIENT_PENDING)
    error: Mapped[str | None] = mapped_column(String(255))


# What a sender reads: a broadcast's recipients in one state, in the order they were queued;
# and the counts of its progress.
Index(
    "ix_broadcast_recipients_broadcast_id_state_id",
    BroadcastRecipient.broadcast_id,
    BroadcastRecipient.state,
    BroadcastRecipient.id,
)
