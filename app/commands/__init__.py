"""Every command a client can give, in one registry: who may give it, the schema of its
data, its throttle and its handler, which calls the domain and publishes what changed.
The socket and the HTML forms are thin adapters over it. Imports every layer below the web."""
