"""Converter memory and speed on a large table: a generated 1M-row CSV through `medmo data convert generic`.

    python bench/data.py [--rows 1000000]

Rows stream from the CSV to the JSONL output, so peak memory should not grow with the table.
Measured at two sizes (a tenth and the whole table), each conversion alone in a fresh process.
"""

import argparse
import csv
import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image

from common import measure


def write_table(folder: Path, rows: int) -> Path:
    images = []
    for index in range(16):
        path = folder / "images" / f"{index}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (256, 256), index * 16).save(path)
        images.append(f"images/{index}.png")
    table = folder / f"table_{rows}.csv"
    with open(table, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["image", "question", "answer", "split"])
        for index in range(rows):
            writer.writerow([images[index % 16], f"Is there a nodule in study {index}?", "yes" if index % 3 else "no", "test" if index % 10 == 0 else "train"])
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    medmo = str(Path(sys.executable).with_name("medmo"))
    work = Path(tempfile.mkdtemp(prefix="medmo-data-bench-"))
    try:
        results = []
        for rows in (args.rows // 10, args.rows):
            table = write_table(work, rows)
            size_mb = table.stat().st_size / 1e6
            peak, seconds = measure([medmo, "data", "convert", "generic", str(table), str(work / f"out_{rows}"), "--option", "split=split"])
            results.append((rows, size_mb, peak, seconds))
            shutil.rmtree(work / f"out_{rows}")
        print("| rows | CSV size (MB) | peak RSS (MB) | wall time (s) | rows / s |")
        print("|---:|---:|---:|---:|---:|")
        for rows, size_mb, peak, seconds in results:
            print(f"| {rows:,} | {size_mb:.0f} | {peak:.0f} | {seconds:.0f} | {rows / seconds:,.0f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
