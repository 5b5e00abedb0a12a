"""bot/channels package."""
