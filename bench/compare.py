"""Compares two bench/run results files ratio by ratio: `python3 bench/compare.py OLD.md NEW.md`
prints a Markdown section (bench/run appends it to a full run's RESULTS.md, against the previous
full run's file). A ratio is any column whose heading says "Ratio" or "/ floor"; rows are matched
by their figure's heading and the cells that name them."""

import re
import sys


# Headings of columns that hold a figure or a verdict rather than the row's name.
NOT_NAMES = ("Target", "Result", "busy", "parts", "streams", "MB/s", "s/GiB", "Ratio", "floor", "Errors", "ms")


def tables(path):
    """{(figure, row key, column): value} of every ratio in the file."""
    found, figure, headers = {}, None, None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("## "):
            figure, headers = line[3:].split(" (")[0].strip(), None
            continue
        if not line.startswith("|"):
            headers = None
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if headers is None:
            headers = cells
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        # The row's key: the cells that name it (destination, size, direction, reference…), not
        # its figures, parts, targets or results; rows of one destination differ by reference.
        key = [
            cell
            for heading, cell in zip(headers, cells)
            if not re.fullmatch(r"[\d.]+", cell) and not any(w in heading for w in NOT_NAMES)
        ]
        for heading, cell in zip(headers, cells):
            if ("Ratio" in heading or "/ floor" in heading) and re.fullmatch(r"[\d.]+", cell):
                found[(figure, " · ".join(key), heading)] = float(cell)
    return found


def main(old_path, new_path):
    old, new = tables(old_path), tables(new_path)
    first_line = lambda p: next((l for l in open(p, encoding="utf-8") if l.startswith("Produced by")), "").strip()
    print("## Against the previous full run")
    print()
    print(f"Previous: {first_line(old_path) or old_path}")
    print()
    print("| Figure | Row | Ratio | Previous | This run | Change | Within 10% |")
    print("|---|---|---|---|---|---|---|")
    shared = [k for k in new if k in old]
    within = 0
    for key in shared:
        before, now = old[key], new[key]
        change = (now - before) / before * 100 if before else float("inf")
        ok = abs(change) <= 10
        within += ok
        print(f"| {key[0]} | {key[1]} | {key[2]} | {before:.2f} | {now:.2f} | {change:+.1f}% | {'yes' if ok else 'no'} |")
    print()
    print(f"{within} of {len(shared)} ratios within 10% of the previous run"
          f"{'' if len(shared) == len(new) else f' ({len(new) - len(shared)} ratios new in this run)'}.")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
