"""Where the hall keeps its state: the SQLite database and its numbered migrations, the
leases that let one process at a time run a job, and the mail outbox. Imports only
``app.core``."""
