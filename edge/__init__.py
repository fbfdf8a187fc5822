"""The edge: decides per request whether a code page is served whole or as its teaser.

``core`` is pure (no I/O): it reads signed cookies and returns a decision. The adapters
(``wsgi`` for ``codesite serve`` and any WSGI server, ``lambda_edge`` for CloudFront) do the I/O
around it. If an adapter fails, the visitor gets the teaser, never the gated text.
"""
