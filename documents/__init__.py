"""The commune's documents, for the chat handlers and the scheduler alike: the letters, the
apology slip, reminders and survey invitations (letters.py), the dates they and the dossier
cards write (dates.py), and their printable PDF (printing.py). Their sentences are templates in
handlers/texts/, as every sentence a citizen reads."""
