"""bot/db package."""
