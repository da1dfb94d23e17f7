"""Executes every notebook in notebooks/ (or those whose name contains the
optional third argument) with nbclient against a run directory
(TRACESPLIT_RUN) and prints each notebook's text output; exits 1 on the first
cell that raises, naming the notebook and the cell."""
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

root = Path(sys.argv[1])
run = sys.argv[2]
only = sys.argv[3] if len(sys.argv) > 3 else ""
os.environ["TRACESPLIT_RUN"] = run
os.environ["MPLBACKEND"] = "Agg"
failed = False
for path in sorted(p for p in (root / "notebooks").glob("*.ipynb") if only in p.name):
    nb = nbformat.read(path, as_version=4)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(root)}}).execute()
    except CellExecutionError as e:
        print(f"== {path.name}: FAILED\n{e}")
        failed = True
        continue
    print(f"== {path.name}: ok")
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                print(out.get("text", ""), end="")
sys.exit(1 if failed else 0)
