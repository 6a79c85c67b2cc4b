"""The event's rules, one module per concept (booths, queue, conversations, follow-ups, …):
functions that take plain values and a database, change it in one transaction and return
what changed. Knows nothing of HTTP, WebSockets or the hub. Imports ``app.core`` and
``app.storage``."""
