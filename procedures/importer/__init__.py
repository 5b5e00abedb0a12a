"""Importers and exporters of the catalogue: national snapshot (.jsonl.gz), CSV and XLSX, one
module per stage.

- result.py: what an import gives back (`ImportResult`, `Problem`, `ImportFailed`);
- cells.py: cleaning one text field;
- channels.py, sections.py: the snapshot's flattened tables (channels with their time limits
  and fees; documents, legal bases, results, steps);
- snapshot.py: a snapshot record and file;
- columns.py: the CSV/XLSX column layout and each cell's text;
- files.py: reading and writing files, chosen by name.

The national snapshot flattens the portal's tables into text
(``"Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến1Miễn phí…"``);
:func:`~procedures.importer.snapshot.parse_snapshot_record` recovers channels, time limits, fees,
documents, legal bases and results, and says per record what it could not parse or had to
repair. Nothing is dropped silently: a record or row that cannot be imported at all is listed in
:attr:`ImportResult.problems`.

CSV and XLSX use the column layout of ``docs/catalogue-columns.md`` (:data:`COLUMNS`), one row
per procedure, so an official can add or correct procedures in a spreadsheet. A file that cannot
be read at all (broken gzip, wrong columns, not UTF-8) raises :class:`ImportFailed` before
anything is changed.
"""
