"""Every command a client can give, in one registry: who may give it, the schema of its
data, its throttle and its handler, which calls the domain and says what changed (an
``Outcome``); ``perform`` publishes it with one call. The socket and the HTML forms are
thin adapters over it. Imports every layer below the web."""
