"""The Telegram fake's chats: users, groups and members, forum topics, the bot itself and its
command menus."""

from __future__ import annotations

import copy
import json
import re

from tests.fakes.telegram_common import JSON, ApiError, _chat_key, _is_group


class ChatsApi:
    """Chats, members, forum topics, the bot's identity and command menus. A part of `FakeTelegram`
    (tests/fakes/telegram_api.py), whose state it uses."""

    def add_chat(
        self,
        chat_id: int,
        chat_type: str | None = None,
        *,
        title: str | None = None,
        is_forum: bool = False,
        username: str | None = None,
        first_name: str | None = None,
    ) -> JSON:
        """Register (or re-describe) a chat; returns its Chat object. Chats also appear on
        first use: positive ids as private chats, negative ones as supergroups."""
        chat_type = chat_type or ("private" if chat_id > 0 else "supergroup")
        chat: JSON = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name or f"Người dùng {chat_id}"
        else:
            chat["title"] = title or f"Nhóm {chat_id}"
            if is_forum:
                chat["is_forum"] = True
        if username:
            chat["username"] = username
        self._chats[chat_id] = chat
        self._implicit_chats.discard(chat_id)
        return copy.deepcopy(chat)

    def _bot_user(self, bot_id: int) -> JSON:
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _user(self, user_id: int) -> JSON:
        return copy.deepcopy(
            self._users.get(user_id)
            or {"id": user_id, "is_bot": False, "first_name": f"Người dùng {user_id}"}
        )

    def _ensure_chat(
        self,
        chat_id: int | str,
        chat_type: str | None = None,
        title: str | None = None,
        is_forum: bool = False,
        *,
        explicit: bool = False,
    ) -> JSON:
        """The stored Chat for an id or `@username`, made up on first use."""
        if isinstance(chat_id, str):
            for chat in self._chats.values():
                if chat.get("username") == chat_id[1:]:
                    return chat
            raise ApiError(400, "Bad Request: chat not found")
        known = self._chats.get(chat_id)
        if known is None:
            self.add_chat(chat_id, chat_type, title=title, is_forum=is_forum)
            if not explicit:
                self._implicit_chats.add(chat_id)
        elif (chat_type and known["type"] != chat_type) or (
            is_forum and not known.get("is_forum")
        ):
            self.add_chat(
                chat_id,
                chat_type or known["type"],
                title=title or known.get("title"),
                is_forum=is_forum or bool(known.get("is_forum")),
            )
        if explicit:
            self._implicit_chats.discard(chat_id)
        return self._chats[chat_id]

    def _ensure_topic(self, chat_id: int | str, thread_id: int) -> JSON:
        key = (chat_id, thread_id)
        if key not in self._topics:
            self._topics[key] = {
                "message_thread_id": thread_id,
                "name": f"Chủ đề {thread_id}",
                "icon_color": 7322096,
            }
        return self._topics[key]

    async def _api_getMe(self, bot_id: int, params: JSON) -> JSON:
        return {
            **self._bot_user(bot_id),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _api_createForumTopic(self, bot_id: int, params: JSON) -> JSON:
        chat = self._ensure_chat(_chat_key(params.get("chat_id", "")))
        if chat["type"] == "supergroup" and chat["id"] in self._implicit_chats:
            chat["is_forum"] = True  # a supergroup nobody described is taken to be a forum
        if not chat.get("is_forum"):
            raise ApiError(400, "Bad Request: the chat is not a forum")
        name = str(params.get("name") or "")
        if not 1 <= len(name) <= 128:
            raise ApiError(400, "Bad Request: TOPIC_NAME_INVALID")
        topic: JSON = {"name": name, "icon_color": int(params.get("icon_color") or 7322096)}
        if params.get("icon_custom_emoji_id"):
            topic["icon_custom_emoji_id"] = params["icon_custom_emoji_id"]
        service = self._new_message(
            chat["id"], self._bot_user(bot_id), {"forum_topic_created": dict(topic)}
        )
        thread_id = service["message_id"]
        stored = self._messages[(chat["id"], thread_id)]
        stored["message_thread_id"] = thread_id
        stored["is_topic_message"] = True
        self._topics[(chat["id"], thread_id)] = {"message_thread_id": thread_id, **topic}
        return copy.deepcopy(self._topics[(chat["id"], thread_id)])

    async def _api_getChat(self, bot_id: int, params: JSON) -> JSON:
        chat = self._ensure_chat(_chat_key(params.get("chat_id", "")))
        gifts = dict.fromkeys(
            (
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ),
            False,
        )
        return {
            **copy.deepcopy(chat),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }

    def _member(self, chat_id: int | str, user_id: int, bot_id: int) -> JSON:
        if user_id == bot_id:
            if not _is_group(chat_id):
                return {"status": "member", "user": self._bot_user(bot_id)}
            rights = dict.fromkeys(
                (
                    "can_manage_chat",
                    "can_delete_messages",
                    "can_manage_video_chats",
                    "can_restrict_members",
                    "can_change_info",
                    "can_invite_users",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                    "can_pin_messages",
                    "can_manage_topics",
                ),
                True,
            )
            return {
                "status": "administrator",
                "user": self._bot_user(bot_id),
                "can_be_edited": False,
                "is_anonymous": False,
                "can_promote_members": False,
                **rights,
            }
        status = self.members.get((chat_id, user_id), "member")
        member: JSON = {"status": status, "user": self._user(user_id)}
        if status in ("creator", "administrator"):
            member["is_anonymous"] = False
        if status == "administrator":
            member.update(
                dict.fromkeys(
                    (
                        "can_be_edited",
                        "can_manage_chat",
                        "can_delete_messages",
                        "can_manage_video_chats",
                        "can_restrict_members",
                        "can_promote_members",
                        "can_change_info",
                        "can_invite_users",
                        "can_post_stories",
                        "can_edit_stories",
                        "can_delete_stories",
                        "can_manage_topics",
                    ),
                    False,
                )
            )
            member["can_manage_chat"] = True
        if status == "kicked":
            member["until_date"] = 0
        return member

    async def _api_getChatMember(self, bot_id: int, params: JSON) -> JSON:
        chat = self._ensure_chat(_chat_key(params.get("chat_id", "")))
        return self._member(chat["id"], int(params.get("user_id", 0)), bot_id)

    async def _api_getChatAdministrators(self, bot_id: int, params: JSON) -> list[JSON]:
        chat = self._ensure_chat(_chat_key(params.get("chat_id", "")))
        if not _is_group(chat["id"]):
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        admins = [
            self._member(chat["id"], user_id, bot_id)
            for (chat_id, user_id), status in self.members.items()
            if chat_id == chat["id"] and status in ("creator", "administrator")
        ]
        return [*admins, self._member(chat["id"], bot_id, bot_id)]

    async def _api_setMyCommands(self, bot_id: int, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands[self._commands_key(params)] = commands
        return True

    async def _api_deleteMyCommands(self, bot_id: int, params: JSON) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _api_getMyCommands(self, bot_id: int, params: JSON) -> list[JSON]:
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    @staticmethod
    def _commands_key(params: JSON) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _api_sendChatAction(self, bot_id: int, params: JSON) -> bool:
        self._ensure_chat(_chat_key(params.get("chat_id", "")))
        if not params.get("action"):
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _api_close(self, bot_id: int, params: JSON) -> bool:
        return True

    async def _api_logOut(self, bot_id: int, params: JSON) -> bool:
        return True
