"""One module per chapter, one function per table or figure, each parameterised by a profile.

Profiles: ``smoke`` (seconds, for tests and CI), ``cpu`` (meaningful on a 2-core laptop),
``full`` (the paper's protocol, for a GPU). Modules: ``data_chapter``, ``vmf_chapter``,
``figure1``, ``table1``, ``figure2``, ``table4``. Chapters import the module they render, e.g.
``from hvae_lib.experiments import table1``.
"""
