"""Search: the sharded client index (``build/site/search-index/``, read by
``assets/search.js``) and the whoosh index (``search_index/``, read by ``codesite search`` and
the edge's ``/api/search``), both built from the same public documents.

One concern per module, lower layers first:

- ``text``: folding, the plural stemmer, tokens, edit distance (code shapes: ``..mentions``).
- ``documents``: a code's public text by field, the prior of broad entries (``Doc``).
- ``synonyms``: ``content/synonyms.yaml`` parsed into token form, and its digest.
- ``query``: the query plan (lay phrases, typo alternatives), mirrored in ``assets/search.js``.
- ``understand``: query understanding (noise words, encounter and side words, range pages last,
  the pregnancy/newborn context): its tables go to the client in the manifest.
- ``ids``: client docids that follow code order with gaps, so that a code keeps its docid when
  others come or go; the records files by docid group.
- ``client``: the client index writer and the scores' ``State`` kept between builds; ``edit``:
  the index after an edit, patched in place (``prepare_edit``; ``churn`` for codes that come or go).
- ``engine``: the whoosh index: staged build and update, and ``Searcher`` for queries.
- ``stage``: the search stage the build calls (``index``, then ``remember`` after the commit).
"""
