"""Every table of the service, gathered: what migrations compare against and what a session
may touch. The tables live beside the code that owns them (models.py for the core, dossiers,
feedback, Zalo, the scheduler, offices, the staff desk); importing this module registers them
all in one `metadata`, so a foreign key to another module's table always resolves."""

from bot.db import dossiers, feedback, models, offices, scheduler, zalo  # noqa: F401  (tables)
from bot.db.base import Base
from bot.desk import models as desk_models  # noqa: F401  (tables)

metadata = Base.metadata
