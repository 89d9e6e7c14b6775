"""The book's runner: execute chapters with papermill, record timings, assemble and build the site.

- ``chapters``: find the book's checkout, its chapters, and check a notebook's parameters cell
- ``runner``:   execute chapters (one subprocess each, for a clean peak-memory figure), staleness, records
- ``site``:     the appendix pages, the assembled source tree, the strict Jupyter Book build, HTML checks
- ``cli``:      ``python -m alignbook list | run | build | report``
"""
