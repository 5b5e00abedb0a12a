"""The staff desk's roles. Apart from the tables so that `motcua staff --help` (which lists
them) need not load SQLAlchemy."""

OFFICER, LEADER, ADMIN = "officer", "leader", "admin"
ROLES = (OFFICER, LEADER, ADMIN)
ROLE_LABELS = {OFFICER: "Cán bộ một cửa", LEADER: "Lãnh đạo", ADMIN: "Quản trị"}
