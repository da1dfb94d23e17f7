"""Copies a run directory with its span store rewritten by polars, as a user
who filters or compacts a store in a notebook would leave it: polars'
defaults (Zstd compression, its own row groups, binary ids as polars' binary
type). With `hex`, the ids are also turned into hex text, as segments of
tracesplit 0.1.0 held them.

Usage: python rewrite_store.py RUN OUT [binary|hex] [COMPRESSION]
(COMPRESSION: polars' name of a codec; its default, zstd, when not given)"""
import shutil
import sys
from pathlib import Path

import polars as pl

run, out = Path(sys.argv[1]), Path(sys.argv[2])
mode = sys.argv[3] if len(sys.argv) > 3 else "binary"
compression = sys.argv[4] if len(sys.argv) > 4 else "zstd"
IDS = ("trace_id", "span_id", "parent_span_id")
shutil.copytree(run, out, ignore=shutil.ignore_patterns("spans"))
(out / "spans").mkdir()
for path in sorted((run / "spans").glob("*.parquet")):
    frame = pl.read_parquet(path)
    assert frame.schema["trace_id"] == pl.Binary, frame.schema
    if mode == "hex":
        frame = frame.with_columns(pl.col(c).bin.encode("hex") for c in IDS)
    frame.write_parquet(out / "spans" / path.name, compression=compression)
print("rewrote", len(list((out / "spans").iterdir())), "span files", mode)
