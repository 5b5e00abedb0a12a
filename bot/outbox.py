"""The outbox: every proactive message is a row with a unique dedupe key, delivered by a paced
sender at least once, never twice for the same key, ending `sent` or `failed` with a reason.

`enqueue` adds rows (inside the caller's transaction). `PacedSender` runs one per channel: it
holds the channel's sender role (a lease row, so pacing is global across processes), claims due
rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL; a lease on every row either way, so a crashed
claim is retried), paces them to the platform's limits, obeys `retry_after`, backs off on
transient errors and fails permanent ones at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import (
    ColumnElement,
    Connection,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.channels.base import ChannelError, Sender
from bot.db.models import OutboxMessage, SenderLease
from bot.db.repositories import insert_ignore, remember_menu
from bot.db.session import Database, is_outage
from bot.messages import ChatRef, Outgoing

log = logging.getLogger(__name__)

OUTCOMES = Counter("motcua_outbox_sends_total", "Outbox send attempts by channel and outcome",
                   ["channel", "outcome"])
BACKLOG = Gauge("motcua_outbox_backlog", "Outbox rows not yet sent", ["channel"])

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"

current_row: ContextVar[OutboxMessage | None] = ContextVar("outbox_row", default=None)
"""The outbox row being sent, for channels that need its purpose or ref (the Zalo OA picks a
ZNS template by purpose); None while a direct reply is sent. Each row is sent in its own task,
so the value never leaks to another send."""


def utcnow() -> datetime:
    return datetime.now(UTC)


async def enqueue(
    session: AsyncSession,
    chat: ChatRef,
    message: Outgoing,
    *,
    key: str,
    purpose: str = "message",
    not_before: datetime | None = None,
    is_group: bool | None = None,
    ref: str | None = None,
) -> bool:
    """Add a message to the outbox; False when a row with this dedupe key already exists."""
    return await insert_ignore(session, OutboxMessage, _row(
        chat, message, key=key, purpose=purpose, not_before=not_before, is_group=is_group,
        ref=ref))


def _row(chat: ChatRef, message: Outgoing, *, key: str, purpose: str,
         not_before: datetime | None = None, is_group: bool | None = None,
         ref: str | None = None, status: str = PENDING,
         lease_until: datetime | None = None) -> dict[str, Any]:
    """An outbox row's values. Telegram group ids are negative, so `is_group` is known for
    them without asking."""
    now = utcnow()
    if is_group is None:
        is_group = chat.channel == "telegram" and chat.chat_id.startswith("-")
    return {"dedupe_key": key, "channel": chat.channel, "chat_id": chat.chat_id,
            "thread_id": chat.thread_id, "is_group": is_group, "purpose": purpose,
            "payload": message.to_dict(), "status": status, "not_before": not_before or now,
            "attempts": 0, "created_at": now, "ref": ref, "lease_until": lease_until}


# -- direct replies -------------------------------------------------------------------------
#
# A reply is sent after the update's transaction commits, so the next update is handled while
# it travels. Should the process die before it leaves, the citizen would never get it: so the
# core writes each reply into the outbox in the update's own transaction, held ("sending")
# for OUTBOX_LEASE_SECONDS, and `deliver_replies` drops the rows once sent. Rows of a process
# that died are taken over by the paced sender when the hold runs out.

_JOURNAL = insert(OutboxMessage)
_DELIVERED = delete(OutboxMessage).where(
    OutboxMessage.dedupe_key.in_(bindparam("keys", expanding=True)))


def reply_key(update_key: str, index: int) -> str:
    return f"reply:{update_key}:{index}"


async def journal_replies(session: AsyncSession, chat: ChatRef, replies: list[Outgoing],
                          update_key: str, hold: timedelta) -> None:
    """`journal` in a session's transaction."""
    if replies:
        connection = await session.connection()
        await connection.run_sync(journal, chat, replies, update_key, hold)


def journal(connection: Connection, chat: ChatRef, replies: list[Outgoing], update_key: str,
            hold: timedelta) -> None:
    """Write an update's replies into the outbox, held for their direct delivery. `hold`
    must be longer than a live process can take to send them (each send gives up after
    15 s), or the paced sender would send them too."""
    if replies:
        held = utcnow() + hold
        connection.execute(_JOURNAL, [
            _row(chat, reply, key=reply_key(update_key, index), purpose="reply",
                 status=SENDING, lease_until=held)
            for index, reply in enumerate(replies)])


class SentReplies:
    """Drops the outbox rows of replies that have left, a batch at a time: under load one
    transaction serves many updates. A crash may repeat the replies of its last `delay`."""

    def __init__(self, db: Database, delay: float = 0.02) -> None:
        self.db = db
        self.delay = delay
        self.keys: list[str] = []
        self._flushing: asyncio.Task[None] | None = None

    def add(self, keys: list[str]) -> None:
        self.keys.extend(keys)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self.delay)
        await self.flush()

    async def flush(self) -> None:
        keys, self.keys = self.keys, []
        if not keys:
            return
        try:
            async with self.db.engine.begin() as connection:
                await connection.execute(_DELIVERED, {"keys": keys})
        except SQLAlchemyError as error:  # kept for the next flush
            log.warning("could not drop %d delivered replies from the outbox: %s", len(keys),
                        error)
            self.keys[:0] = keys

    async def close(self) -> None:
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        await self.flush()


async def deliver_replies(
    sent: SentReplies, sender: Sender, chat: ChatRef, replies: list[Outgoing], key: str
) -> None:
    """Send an update's replies now, in order, and drop their outbox rows. If the platform
    refuses for a while (429, 5xx, timeout), the rest are left to the paced sender; if it
    refuses for good (blocked, bad request), they are marked failed."""
    keys = [reply_key(key, index) for index in range(len(replies))]
    for index, reply in enumerate(replies):
        try:
            await sender.send(chat, reply)
        except ChannelError as error:
            if error.permanent:
                log.info("reply to %s:%s refused: %s", chat.channel, chat.chat_id, error.reason)
                values: dict[str, Any] = {"status": FAILED}
            else:
                log.info("reply to %s:%s queued after: %s", chat.channel, chat.chat_id,
                         error.reason)
                delay = timedelta(seconds=(error.retry_after or 1.0) + 0.1)
                values = {"status": PENDING, "not_before": utcnow() + delay}
            async with sent.db.session() as session:
                await session.execute(
                    update(OutboxMessage).where(OutboxMessage.dedupe_key.in_(keys[index:]))
                    .values(attempts=1, last_error=error.reason, lease_until=None, **values))
            sent.add(keys[:index])
            return
    sent.add(keys)


# -- pacing ---------------------------------------------------------------------------------


class SlidingWindow:
    """At most `limit` events in any `window` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.events: deque[float] = deque()

    def next_free(self, now: float) -> float:
        while self.events and self.events[0] <= now - self.window:
            self.events.popleft()
        if len(self.events) < self.limit:
            return now
        return self.events[len(self.events) - self.limit] + self.window

    def record(self, at: float) -> None:
        self.events.append(at)


def window_for(rate: float, per: float, margin: float) -> SlidingWindow:
    """`rate` events per `per` seconds as a sliding window, widened by `margin` so that
    network jitter never pushes the platform's own count over its limit."""
    limit = max(1, int(rate))
    return SlidingWindow(limit, limit / rate * per * (1 + margin) + 0.02)


@dataclass(frozen=True)
class Pace:
    overall_per_s: float
    per_chat_per_s: float
    per_group_per_min: float
    margin: float = 0.04


class Pacer:
    """Decides when the next message to a chat may leave (one process holds this role)."""

    def __init__(self, pace: Pace, clock: Callable[[], float] = time.monotonic) -> None:
        self.pace = pace
        self.clock = clock
        self.overall = window_for(pace.overall_per_s, 1.0, pace.margin)
        self.spacing = (1 + pace.margin) / pace.overall_per_s
        """Sends are also spread evenly: bursts that the window allows are where network
        jitter pushes the platform's own count over its limit."""
        self.due = float("-inf")
        """When the next send is due on the even grid. A send that leaves a little late (the
        event loop wakes a millisecond or two after the timer) does not push the grid back,
        or those milliseconds would add up to a tenth of the rate."""
        self.chats: dict[str, SlidingWindow] = {}
        self.groups: dict[str, SlidingWindow] = {}
        self.paused_until = 0.0

    def _chat(self, chat_id: str) -> SlidingWindow:
        window = self.chats.get(chat_id)
        if window is None:
            window = self.chats[chat_id] = window_for(self.pace.per_chat_per_s, 1.0,
                                                      self.pace.margin)
        return window

    def _group(self, chat_id: str) -> SlidingWindow:
        window = self.groups.get(chat_id)
        if window is None:
            window = self.groups[chat_id] = window_for(self.pace.per_group_per_min, 60.0,
                                                       self.pace.margin)
        return window

    def overall_ready_at(self, now: float) -> float:
        """When the next message to any chat may leave."""
        return max(now, self.paused_until, self.overall.next_free(now),
                   self.due - self.spacing / 4)

    def chat_ready_at(self, chat_id: str, is_group: bool, now: float) -> float:
        """When the chat's own limits let a message leave. A chat that received nothing
        lately gets no window here: a broadcast asks for thousands of them."""
        chat = self.chats.get(chat_id)
        ready = chat.next_free(now) if chat is not None else now
        group = self.groups.get(chat_id) if is_group else None
        return max(ready, group.next_free(now)) if group is not None else ready

    def ready_at(self, chat_id: str, is_group: bool, now: float) -> float:
        return max(self.overall_ready_at(now), self.chat_ready_at(chat_id, is_group, now))

    def record(self, chat_id: str, is_group: bool) -> None:
        now = self.clock()
        self.due = max(self.due, now) + self.spacing
        self.overall.record(now)
        self._chat(chat_id).record(now)
        if is_group:
            self._group(chat_id).record(now)
        if len(self.chats) > 10_000:  # forget idle chats
            self.chats = {k: w for k, w in self.chats.items() if w.next_free(now) > now}

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)


# -- the sender -----------------------------------------------------------------------------


def backoff(attempt: int, base: float = 2.0, cap: float = 900.0) -> float:
    """Capped exponential back-off with full jitter (seconds before attempt `attempt + 1`)."""
    return random.uniform(base / 2, min(cap, base * 2 ** (attempt - 1)))


_OUTCOME = update(OutboxMessage).where(OutboxMessage.id == bindparam("row_id"))
"""A row's outcome: the columns set are the parameters given (built once; building the
statement for each row cost more than running it)."""
_NO_FLUSH_WAIT = text("SET synchronous_commit TO OFF")
_CLAIMED = (update(OutboxMessage)
            .where(OutboxMessage.id.in_(bindparam("ids", expanding=True)))
            .values(status=SENDING, lease_until=bindparam("lease_until")))


class PacedSender:
    """Delivers one channel's outbox rows at the platform's pace."""

    def __init__(
        self,
        db: Database,
        sender: Sender,
        pace: Pace,
        *,
        max_attempts: int = 8,
        lease_seconds: float = 60.0,
        role_seconds: float = 10.0,
        batch: int | None = None,
        max_in_flight: int = 1,
        idle_poll: float = 0.5,
        retry_base: float = 2.0,
        owner: str | None = None,
    ) -> None:
        self.db = db
        self.sender = sender
        self.channel = sender.name
        self.pacer = Pacer(pace)
        self.max_attempts = max_attempts
        self.lease = timedelta(seconds=lease_seconds)
        self.role = timedelta(seconds=role_seconds)
        self.batch = batch or max(20, int(pace.overall_per_s * 5))
        self.in_flight = asyncio.Semaphore(max_in_flight)
        self.idle_poll = idle_poll
        self.retry_base = retry_base
        self.owner = owner or f"{uuid.uuid4().hex[:12]}"
        self.buffer: list[OutboxMessage] = []
        self.sending: set[int] = set()
        """Rows whose send is under way: their leases are renewed too, or a slow send would
        let the row be claimed and sent again."""
        self.tasks: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()
        self.notified = False
        self.claimed_short_at = float("-inf")
        """When a claim last found fewer due rows than it asked for: until a notify() or the
        next idle poll, another would find none either (a broadcast's last rows took a claim
        per send, each as costly as a full one)."""
        self.stopping = asyncio.Event()
        self.is_leader = False
        self.unrecorded: tuple[int, dict[str, object]] | None = None
        """An outcome the database did not take: (row id, values)."""
        self._outcomes: AsyncConnection | None = None
        self._outcomes_lock = asyncio.Lock()
        self._role_checked = 0.0
        self._leases_renewed = 0.0

    def notify(self) -> None:
        """Something was enqueued: look for due rows now rather than at the next poll."""
        self.notified = True
        self.wake.set()

    async def run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    await self._step()
                except Exception:  # noqa: BLE001 - a database blip must not kill the sender
                    log.exception("outbox sender for %s: retrying after an error", self.channel)
                    await self._sleep(2.0)
        finally:
            await self._drain()

    async def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    async def _step(self) -> None:
        self.wake.clear()  # a notify() from here on cuts the coming sleep short
        if self.unrecorded is not None and not await self._catch_up():
            await self._sleep(2.0)
            return
        now = time.monotonic()
        if now - self._role_checked > self.role.total_seconds() / 3:
            self.is_leader = await self._hold_role()
            self._role_checked = now
            if not self.is_leader:
                self.buffer.clear()  # another process sends now; it reclaims these rows
        if not self.is_leader:
            await self._sleep(self.role.total_seconds() / 3)
            return
        if now - self._leases_renewed > self.lease.total_seconds() / 3:
            await self._renew_leases()
            self._leases_renewed = now
        if len(self.buffer) < self.batch // 2 and (
                self.notified or now - self.claimed_short_at >= self.idle_poll):
            self.notified = False
            wanted = self.batch - len(self.buffer)
            rows = await self._claim(wanted)
            self.buffer.extend(rows)
            if len(rows) < wanted:
                self.claimed_short_at = now
        if not self.buffer:
            await self._sleep(self.idle_poll)
            return
        if self.in_flight.locked():  # a send that ends wakes this up
            await self._sleep(0.5)
            return
        row, wait = self._take()
        if row is None:
            await self._sleep(min(wait, 0.5))
            return
        await self.in_flight.acquire()  # free: nothing was awaited since it was checked
        task = asyncio.create_task(self._sending(row))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _take(self) -> tuple[OutboxMessage | None, float]:
        """The row to send now, taken out of the buffer and counted by the pacer; else how
        long until one may leave. Taken only once a send may start: a row taken while the
        last send was under way would leave without regard to a pause that send's answer (a
        429) asked for."""
        if self.stopping.is_set() or not self.is_leader or self.unrecorded is not None:
            return None, self.idle_poll
        row, wait = self._pick()
        if row is not None:
            self.buffer.remove(row)
            self.sending.add(row.id)
            self.pacer.record(row.chat_id, row.is_group)
        return row, wait

    async def _sending(self, row: OutboxMessage | None) -> None:
        """Send `row`, then, while the pace lets the next one leave at once or in a moment,
        that one too in this same slot: in a broadcast each message leaves as soon as the
        last one's outcome is committed (or the pace allows), without a turn through `_step`
        and a new task."""
        try:
            while row is not None:
                await self._send(row)
                row, wait = self._take()
                if row is None and wait <= self.pacer.spacing:  # due in a moment: wait here
                    await asyncio.sleep(wait)
                    row, _ = self._take()
        finally:
            self.in_flight.release()
            self.wake.set()

    def _pick(self) -> tuple[OutboxMessage | None, float]:
        """The oldest row whose chat may receive now; else how long until one may. While
        the overall pace holds every chat back, the buffer is not looked through."""
        now = self.pacer.clock()
        overall = self.pacer.overall_ready_at(now)
        if overall > now:
            return None, overall - now
        soonest = float("inf")
        seen: set[str] = set()
        for row in self.buffer:
            if row.chat_id in seen:
                continue  # keep each chat's messages in order
            seen.add(row.chat_id)
            ready = self.pacer.chat_ready_at(row.chat_id, row.is_group, now)
            if ready <= now:
                return row, 0.0
            soonest = min(soonest, ready - now)
        return None, soonest

    async def _sleep(self, seconds: float) -> None:
        """Wait, unless something was enqueued or finished since this step began."""
        try:  # (not wait_for: it would start a task for each sleep)
            async with asyncio.timeout(max(seconds, 0.001)):
                await self.wake.wait()
        except TimeoutError:
            pass

    async def _hold_role(self) -> bool:
        now = utcnow()
        async with self.db.session() as session:
            result = await session.execute(
                update(SenderLease)
                .where(SenderLease.channel == self.channel,
                       or_(SenderLease.owner == self.owner, SenderLease.expires_at < now))
                .values(owner=self.owner, expires_at=now + self.role)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                return True
            return await insert_ignore(session, SenderLease, {
                "channel": self.channel, "owner": self.owner, "expires_at": now + self.role})

    def _due(self, now: datetime) -> ColumnElement[bool]:
        """This channel's rows that may be claimed now: `_pending` or `_expired`."""
        return or_(self._pending(now), self._expired(now))

    def _pending(self, now: datetime) -> ColumnElement[bool]:
        """This channel's rows waiting for their first or next attempt, due by now: a range
        of the `ix_outbox_due` index. (The rows this sender holds are all `sending`.)"""
        return and_(OutboxMessage.channel == self.channel, OutboxMessage.status == PENDING,
                    OutboxMessage.not_before <= now)

    def _expired(self, now: datetime) -> ColumnElement[bool]:
        """This channel's rows claimed by a sender that let the lease run out (it died), but
        for those this sender holds."""
        held = [row.id for row in self.buffer] + list(self.sending)
        return and_(OutboxMessage.channel == self.channel, OutboxMessage.status == SENDING,
                    OutboxMessage.lease_until < now, OutboxMessage.id.not_in(held))

    async def _claim(self, limit: int) -> list[OutboxMessage]:
        try:
            return await self._claim_rows(limit)
        except ValueError:  # a payload that is not JSON at all (SQLite keeps any text)
            await self._fail_unreadable(limit)
            return await self._claim_rows(limit)

    async def _claim_rows(self, limit: int) -> list[OutboxMessage]:
        """Rows a dead sender left first, then those due soonest. Two statements, each a
        range of the `ix_outbox_due` index read in its order and cut at `limit`: with both
        in one (an OR), the database read every row of the channel, sent ones too, and
        sorted those due (~40 ms each claim of a broadcast to 30,000 chats on SQLite)."""
        now = utcnow()
        async with self.db.session() as session:
            rows = list(await session.scalars(
                select(OutboxMessage).where(self._expired(now))
                .order_by(OutboxMessage.id).limit(limit)
                .with_for_update(skip_locked=True)))
            if len(rows) < limit:
                rows += await session.scalars(
                    select(OutboxMessage).where(self._pending(now))
                    .order_by(OutboxMessage.not_before, OutboxMessage.id)
                    .limit(limit - len(rows))
                    .with_for_update(skip_locked=True))
            if rows:  # one statement: the session's flush would send one per row
                lease_until = now + self.lease
                connection = await session.connection()  # (the rows are set here below)
                await connection.execute(_CLAIMED, {"ids": [row.id for row in rows],
                                                    "lease_until": lease_until})
                for row in rows:
                    set_committed_value(row, "status", SENDING)
                    set_committed_value(row, "lease_until", lease_until)
        return rows

    async def _fail_unreadable(self, limit: int) -> None:
        """Fail the due rows whose payload is not JSON, so they no longer stop every claim;
        the payload becomes `{}`, so that whoever reads the table later can."""
        async with self.db.session() as session:
            raw = await session.execute(
                select(OutboxMessage.id, OutboxMessage.attempts,
                       type_coerce(OutboxMessage.payload, Text))
                .where(self._due(utcnow())).order_by(OutboxMessage.id).limit(limit))
            for row_id, attempts, payload in list(raw):
                try:
                    json.loads(payload) if isinstance(payload, str | bytes) else None
                except ValueError as error:
                    log.error("outbox row %s: payload is not JSON: %s", row_id, error)
                    OUTCOMES.labels(self.channel, "failed").inc()
                    await session.execute(
                        update(OutboxMessage).where(OutboxMessage.id == row_id).values(
                            status=FAILED, payload={}, attempts=attempts + 1, lease_until=None,
                            last_error=f"undecodable payload: not JSON ({error})"[:500]))

    async def _renew_leases(self) -> None:
        held = [row.id for row in self.buffer] + list(self.sending)
        async with self.db.session() as session:
            if held:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(held), OutboxMessage.status == SENDING)
                    .values(lease_until=utcnow() + self.lease)
                )
            backlog = await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.channel == self.channel,
                    OutboxMessage.status.in_([PENDING, SENDING]))
            )
        BACKLOG.labels(self.channel).set(backlog or 0)

    async def _send(self, row: OutboxMessage) -> None:
        current_row.set(row)
        try:
            chat = ChatRef(row.channel, row.chat_id, row.thread_id)
            try:
                message = Outgoing.from_dict(row.payload)
            except ValueError as error:  # a poison row: fail it, send the rest
                log.error("outbox row %s: payload cannot be sent: %s", row.id, error)
                OUTCOMES.labels(self.channel, "failed").inc()
                await self._finish(row, FAILED, attempts=row.attempts + 1,
                                   reason=f"undecodable payload: {error}"[:500])
                return
            if getattr(self.sender, "numbered_menus", False):
                # before the send: the citizen may answer "1" as soon as they see it
                await self._remember_menu(row, message)
            try:
                message_id = await self.sender.send(chat, message)
            except ChannelError as error:
                await self._failed_attempt(row, error)
            except Exception as error:  # noqa: BLE001 - unknown errors are retried, bounded
                log.exception("outbox row %s: unexpected error", row.id)
                await self._failed_attempt(row, ChannelError(f"unexpected: {error!r}"))
            else:
                await self._finish(row, SENT, message_id=message_id)
                OUTCOMES.labels(self.channel, "sent").inc()
        finally:
            if self.unrecorded is None or self.unrecorded[0] != row.id:
                self.sending.discard(row.id)

    async def _remember_menu(self, row: OutboxMessage, message: Outgoing) -> None:
        """Where options are numbered text, "1", "2"… must press the options of this message
        as they do after a direct reply (the core remembers those itself)."""
        actions = [b.action for b in message.flat_buttons() if b.action]
        if actions:
            async with self.db.session() as session:
                await remember_menu(session, row.channel, row.chat_id, actions)

    async def _failed_attempt(self, row: OutboxMessage, error: ChannelError) -> None:
        attempts = row.attempts + 1
        if error.permanent:
            OUTCOMES.labels(self.channel, "failed").inc()
            await self._finish(row, FAILED, attempts=attempts, reason=error.reason)
            return
        if error.retry_after is not None:
            self.pacer.pause(error.retry_after + 0.1)
            delay = error.retry_after + 0.1
            OUTCOMES.labels(self.channel, "retry_after").inc()
        else:
            delay = backoff(attempts, self.retry_base)
            OUTCOMES.labels(self.channel, "retry").inc()
        if attempts >= self.max_attempts:
            OUTCOMES.labels(self.channel, "failed").inc()
            await self._finish(row, FAILED, attempts=attempts,
                               reason=f"gave up after {attempts} attempts: {error.reason}")
            return
        await self._update(row, status=PENDING, attempts=attempts, last_error=error.reason,
                           not_before=utcnow() + timedelta(seconds=delay), lease_until=None)

    async def _finish(self, row: OutboxMessage, status: str, *, attempts: int | None = None,
                      reason: str | None = None, message_id: str | None = None) -> None:
        values: dict[str, object] = {"status": status, "lease_until": None}
        if status == SENT:
            values.update(sent_at=utcnow(), platform_message_id=message_id,
                          attempts=row.attempts + 1)
        else:
            values.update(attempts=attempts, last_error=reason)
        await self._update(row, **values)

    async def _update(self, row: OutboxMessage, **values: object) -> None:
        """One row's outcome, committed before the next send leaves. While the database is
        unavailable the row stays held (`sending`, its lease renewed) and nothing else is
        sent until `_catch_up` has recorded it: a second message sent but not recorded would
        be a second duplicate, should the process die."""
        if not await self._recorded(row.id, values):
            self.unrecorded = (row.id, values)

    async def _catch_up(self) -> bool:
        """Record the outcome in `unrecorded`; whether it is done with."""
        assert self.unrecorded is not None
        row_id, values = self.unrecorded
        if not await self._recorded(row_id, values):
            return False
        self.unrecorded = None
        self.sending.discard(row_id)
        return True

    async def _recorded(self, row_id: int, values: dict[str, object]) -> bool:
        """Record an outcome; False while the database is unavailable. One the database
        refuses as such (not an outage) is let go: the row is sent again once its lease runs
        out, rather than hold up every other."""
        try:
            await self._record(row_id, values)
        except Exception as error:
            if is_outage(error):
                log.warning("outbox row %s: outcome not recorded yet: %s", row_id, error)
                return False
            log.exception("outbox row %s: outcome cannot be recorded", row_id)
        return True

    async def _record(self, row_id: int, values: dict[str, object]) -> None:
        """A plain statement on a connection the sender keeps: no session holds the row to
        keep in step, and taking a connection from the pool for each row cost as much as
        the statement.

        On PostgreSQL the commit does not wait for the WAL to reach the disk (an fsync, 2 ms
        on a busy disk, was most of a send's cycle): a crash of the service loses no outcome,
        as the server has it; a crash of the database server may forget the last fraction of
        a second of them, whose messages then go out again — the bargain SQLite's WAL with
        `synchronous=NORMAL` makes for every commit of the service."""
        async with self._outcomes_lock:  # slots in flight take turns on the connection
            try:
                if self._outcomes is None:
                    self._outcomes = await self.db.engine.connect()
                    if self._outcomes.dialect.name == "postgresql":
                        await self._outcomes.execute(_NO_FLUSH_WAIT)
                        await self._outcomes.commit()
                async with self._outcomes.begin():
                    await self._outcomes.execute(_OUTCOME, {"row_id": row_id, **values})
            except Exception:
                await self._close_outcomes()  # a new one for the next outcome
                raise

    async def _close_outcomes(self) -> None:
        """Drop the outcomes' connection, not back into the pool: the others' commits there
        must wait for the WAL flush."""
        connection, self._outcomes = self._outcomes, None
        if connection is not None:
            with contextlib.suppress(Exception):  # a broken connection is dropped anyway
                await connection.invalidate()
                await connection.close()

    async def _drain(self) -> None:
        """On stop: let sends in flight finish, give unsent claimed rows back, step down."""
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.unrecorded is not None:
            await self._catch_up()
        try:
            async with self.db.session() as session:
                if self.buffer:
                    await session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id.in_([row.id for row in self.buffer]),
                               OutboxMessage.status == SENDING)
                        .values(status=PENDING, lease_until=None)
                    )
                await session.execute(
                    update(SenderLease).where(SenderLease.channel == self.channel,
                                              SenderLease.owner == self.owner)
                    .values(expires_at=utcnow())
                )
        except Exception:  # noqa: BLE001 - leases expire on their own
            log.warning("outbox sender for %s: could not release its rows", self.channel)
        self.buffer.clear()
        await self._close_outcomes()
