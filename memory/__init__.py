"""Memory: sessions, vector memory, profiles and success history (see the memory issue).

Nothing lives here yet: the foundation keeps its only state, the tasks, in the a2a-sdk
task store. ``agents`` and ``orchestrator`` will read memory through this package.
"""
