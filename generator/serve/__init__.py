"""The dev server (``codesite serve``): build, serve through the edge app, watch the sources,
rebuild in memory on each debounced batch of changes, reload the open pages (LiveReload) and
show every problem over them (the error overlay) while the last good site stays served.

``watch``: the file watcher (debounce, change kinds); ``reload``: the LiveReload side (the
protocol over a websocket on the app's own port); ``overlay``: the error overlay; ``preview``:
the WSGI middleware around the production app; ``devserver``: the loop tying them together.
"""

STEP_MS = 10  # quiet time that ends a batch (watchfiles checks every STEP_MS: a save is seen 10-20 ms later)
