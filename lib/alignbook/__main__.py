try:
    from alignbook.book.cli import main
except ModuleNotFoundError as error:  # the runner's packages are an extra: a chapter run by itself needs none
    if error.name not in {"nbformat", "nbclient", "papermill", "jupyter_book", "pybtex"}:
        raise
    raise SystemExit(f"python -m alignbook needs {error.name}, part of an optional extra: "
                     "pip install 'alignbook[site]'") from None

raise SystemExit(main())
