"""Telling everyone concerned: the hub (in memory, or across processes through Redis), the
hall feed, what each audience sees (snapshots), publishing what a command changed, the
timers that fire on their own (deadlines), and the figures counted while it runs. The only
layer that names hub topics. Imports ``app.core``, ``app.storage`` and ``app.domain``."""
