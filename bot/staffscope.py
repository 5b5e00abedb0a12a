"""Which tickets a staff member may see, answer and count: the communes they serve.

One deployment serves a whole province, and staff of one commune must not see, answer or
count another commune's tickets — on the web desk, in a Telegram staff group or with
`motcua tickets`. Each of those puts its staff behind a `Scope`:
- a web desk account: its communes (an admin: every commune);
- a commune's Telegram staff group (TELEGRAM_STAFF_CHATS): the communes it is set for;
- the province-wide staff group (TELEGRAM_STAFF_CHAT_ID): every ticket no commune group
  serves — of the communes without a group of their own, and those whose commune is not
  known. With no commune groups set, that is every ticket, as before;
- `motcua tickets --commune CODE` or `--as USERNAME`: those communes, that account's scope;
- STAFF_USER_IDS writing to the bot directly, and the command line without a filter: every
  commune (the operator's own people).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import false, or_

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.desk.models import StaffAccount


@dataclass(frozen=True)
class Scope:
    communes: frozenset[str] | None = None
    """The communes served; None: every commune."""
    besides: frozenset[str] | None = None
    """Set for the province-wide group: it also serves every commune not in this set (the
    communes with a group of their own) and tickets without a commune."""

    @property
    def everything(self) -> bool:
        return self.communes is None

    def serves(self, commune_code: str | None) -> bool:
        if self.communes is None:
            return True
        if commune_code is not None and commune_code in self.communes:
            return True
        return self.besides is not None and (commune_code is None
                                             or commune_code not in self.besides)

    def clause(self, column: Any) -> Any:
        """The SQL condition `serves` puts on a commune column (None: no condition)."""
        if self.communes is None:
            return None
        parts = [column.in_(sorted(self.communes))] if self.communes else []
        if self.besides is not None:
            parts.append(column.is_(None))
            parts.append(column.not_in(sorted(self.besides)) if self.besides
                         else column.is_not(None))
        return or_(*parts) if parts else false()

    def apply(self, query: Any, column: Any) -> Any:
        condition = self.clause(column)
        return query if condition is None else query.where(condition)


EVERYTHING = Scope()


def of_communes(communes: list[str] | tuple[str, ...] | frozenset[str]) -> Scope:
    return Scope(frozenset(communes))


def of_account(account: StaffAccount) -> Scope:
    from bot.desk.models import ADMIN

    return EVERYTHING if account.role == ADMIN else of_communes(account.communes)


def of_group(chat_id: int, settings: Settings) -> Scope:
    """A Telegram staff group's scope (see the module's docstring)."""
    groups = settings.commune_staff_chats
    if not groups:
        return EVERYTHING
    own = frozenset(c for c, chat in groups.items() if chat == chat_id)
    if chat_id == settings.telegram_staff_chat_id:
        return Scope(own, besides=frozenset(groups))
    return Scope(own)


class StaffMessage(Protocol):
    """What `of_message` reads of a `bot.messages.Incoming` (which carries a Scope: typed
    here so that the two modules need not import each other)."""
    staff_scope: Scope | None
    channel: str
    chat_id: str
    is_staff_chat: bool


def of_message(msg: StaffMessage, settings: Settings) -> Scope:
    """The scope a staff message speaks for: set by whoever made the message (the command
    line, the web desk), else its Telegram staff group's, else every commune."""
    if msg.staff_scope is not None:
        return msg.staff_scope
    if msg.channel == "telegram" and msg.is_staff_chat:
        try:
            return of_group(int(msg.chat_id), settings)
        except ValueError:
            return Scope(frozenset())
    return EVERYTHING
