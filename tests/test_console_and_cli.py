"""`motcua chat` as a real subprocess fed by stdin, and start-up refusing bad settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MOTCUA = [sys.executable, "-m", "bot.cli"]


def run_cli(args: list[str], env: dict[str, str], stdin: str = "", cwd: Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    # a hang guard only: a command builds its search index first, slow on a loaded machine
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("TELEGRAM_", "ZALO_", "DATABASE_URL"))}
    full_env.update(env)
    return subprocess.run(MOTCUA + args, input=stdin, capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=cwd)


def test_console_chat_shows_numbered_menu_and_numbers_press_buttons(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/c.db"}
    result = run_cli(["chat"], env, stdin="2\n/trogiup\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "em chào anh/chị" in out
    assert "1. Tra cứu thủ tục" in out and "6. Cài đặt" in out and "7. Hồ sơ của tôi" in out
    assert "gõ mã hồ sơ" in out  # "2" pressed the second button: dossier lookup
    assert "/huy – dừng thao tác" in out
    assert "Traceback" not in result.stderr


def test_console_exits_cleanly_on_immediate_eof(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/c.db"}
    result = run_cli(["chat"], env, stdin="", cwd=tmp_path)
    assert result.returncode == 0
    assert "em chào anh/chị" in result.stdout


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL: driver 'mysql'"),
        ({"DATABASE_URL": "::not a url::"}, "DATABASE_URL: is not a database URL"),
        ({"TELEGRAM_WEBHOOK_SECRET": "có dấu cách"}, "TELEGRAM_WEBHOOK_SECRET: may only contain"),
        ({"QUIET_HOURS": "9pm-7am"}, "QUIET_HOURS: must look like 21:00-07:00"),
        ({"HTTP_PORT": "eighty"}, "HTTP_PORT:"),
        ({"PUBLIC_BASE_URL": "http://bot.example.vn"}, "PUBLIC_BASE_URL: must use https"),
    ],
)
def test_invalid_settings_stop_start_up_with_a_clear_message(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/c.db", **env}
    result = run_cli(["run"], env, cwd=tmp_path)
    assert result.returncode == 2
    assert "motcua cannot start: some settings are invalid." in result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/sub/m.db"}
    result = run_cli(["db", "upgrade"], env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Database is at revision head" in result.stdout
    assert (tmp_path / "sub" / "m.db").exists()
