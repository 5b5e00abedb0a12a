"""The staff desk on the web (`/staff`): accounts with roles and communes, server-side
sessions with CSRF tokens, and the feedback tickets of the account's communes.

- models.py: the tables (staff accounts, staff sessions); roles.py: the roles;
- accounts.py: passwords (argon2), lockout, scope, the audit log;
- sessions.py: the signed session cookie, rotation at login, CSRF tokens;
- actions.py: reply, close, reopen, note — through the same code as the Telegram staff group;
- routes.py: the pages; cli.py: `motcua staff`.
"""
