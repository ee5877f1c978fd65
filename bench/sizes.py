"""The widget's weight: loader.js and the whole widget, raw and gzipped, against budgets.

`python -m bench.sizes` prints them; `make bench` prints them first.
"""

import gzip
import sys
from pathlib import Path

WIDGET = Path(__file__).resolve().parent.parent / "static" / "webwidget"
LOADER_BUDGET = 5 * 1024
WIDGET_BUDGET = 60 * 1024
SHIPPED = {".js", ".css"}


def gzipped(data: bytes) -> int:
    return len(gzip.compress(data, 9, mtime=0))


def widget_files() -> list[Path]:
    """What a customer's browser loads: the loader and the frame (not the demo site)."""
    return sorted(
        path
        for path in WIDGET.rglob("*")
        if path.suffix in SHIPPED and "demo" not in path.relative_to(WIDGET).parts
    )


def measure() -> dict[str, int]:
    files = widget_files()
    loader = (WIDGET / "loader.js").read_bytes()
    return {
        "loader_bytes": len(loader),
        "loader_gzip": gzipped(loader),
        "widget_bytes": sum(len(p.read_bytes()) for p in files),
        # Each file travels gzipped on its own, so the sum of the parts is what goes over the wire.
        "widget_gzip": sum(gzipped(p.read_bytes()) for p in files),
        "files": len(files),
    }


def render(sizes: dict[str, int]) -> str:
    def line(name: str, raw: int, packed: int, budget: int) -> str:
        verdict = "ok" if packed <= budget else "OVER BUDGET"
        return (
            f"  {name:<14}{raw / 1024:7.1f} KiB raw {packed / 1024:6.1f} KiB gzipped"
            f"  (budget {budget // 1024} KiB: {verdict})"
        )

    return "\n".join(
        [
            "Widget size",
            line("loader.js", sizes["loader_bytes"], sizes["loader_gzip"], LOADER_BUDGET),
            line("whole widget", sizes["widget_bytes"], sizes["widget_gzip"], WIDGET_BUDGET),
            f"  ({sizes['files']} files: loader, frame modules and stylesheet)",
        ]
    )


def within_budget(sizes: dict[str, int]) -> bool:
    return sizes["loader_gzip"] <= LOADER_BUDGET and sizes["widget_gzip"] <= WIDGET_BUDGET


def main() -> int:
    sizes = measure()
    print(render(sizes))
    return 0 if within_budget(sizes) else 1


if __name__ == "__main__":
    sys.exit(main())
