#!/usr/bin/env python3
"""Turns `go test -bench` output and divan output into the markdown tables of
BENCHMARKS.md. Used by scripts/bench-vs-go.sh; reads files, writes stdout.

    bench_table.py GO_TXT GO_CONTEXT_TXT VS_TOKIO_UTIL_TXT AWAIT_TXT MEMORY_MD

GO_TXT holds every round of Go's runs (each row's median is taken);
GO_CONTEXT_TXT and VS_TOKIO_UTIL_TXT may name one file per round,
':'-separated, and each row is the median of the rounds' medians.

Go's RunParallel reports wall time / iterations of all goroutines; divan's
`threads = [2]` reports the time of one iteration on one thread. Ours is
divided by the thread count for the benchmarks listed in PARALLEL, so both
columns mean "wall time per op with 2 threads busy".
"""
import re
import statistics
import sys

THREADS = 2
PARALLEL = {"CommonParentCancel", "WithTimeout", "ContextCancelDone", "ContextCancelDone_is_done"}

# The goals, as ours/Go ratios; BENCHMARKS.md explains each one.
GOALS = {
    "ErrOK": 0.5,
    "CheckCanceled/Err": 0.25,
    "CheckCanceled/Done": 0.5,
    "CommonParentCancel": 0.5,
    "WithTimeout/concurrency=40": 0.5,
    "WithTimeout/concurrency=4000": 0.5,
    "WithTimeout/concurrency=400000": 0.5,
    "CancelTree/depth=1/Root=Background": 1.0,
    "CancelTree/depth=1000/Root=OpenCanceler": 0.5,
    "DeepValueNewGoRoutine/depth=10": 1.0,
    "DeepValueSameGoRoutine/depth=100": 0.1,
}
# Go's ContextCancelDone is a non-blocking check of Done (`select` with
# `default`): its goal is on that shape, `is_done()`.
IS_DONE_GOAL = 0.5
# Every shape against tokio-util's CancellationToken.
TOKIO_UTIL_GOAL = 0.8
# Budgets in ns per turn of a `select!` loop with a `done()` branch (the
# time one thread spends per turn), by thread count.
SELECT_LOOP_BUDGET = {"t=1": 20.0, "t=2": 40.0}

UNITS = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
SIZES = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}
TREE = set("│├╰─ ")


def parse_go(path):
    """name -> (ns/op, B/op, allocs/op), the median of repeated runs."""
    runs = {}
    pat = re.compile(r"^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+(\d+) B/op\s+(\d+) allocs/op)?")
    for line in open(path, encoding="utf-8"):
        m = pat.match(line)
        if m:
            name, ns, b, allocs = m.groups()
            runs.setdefault(name, []).append((float(ns), int(b or 0), int(allocs or 0)))
    return {
        name: tuple(statistics.median(r[i] for r in rs) for i in range(3))
        for name, rs in runs.items()
    }


def to_ns(text):
    m = re.match(r"([\d.]+)\s*(\S+)", text.strip())
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def to_count(text):
    text = text.strip()
    m = re.match(r"([\d.]+)\s*(\S+)?", text)
    if not m:
        return None
    return float(m.group(1)) * SIZES.get(m.group(2) or "B", 1)


def parse_divan(path):
    """path ('a/b/c') -> {'median': ns, 'alloc': (count, bytes)}."""
    results = {}
    stack = []
    col = None
    label = None
    pending = []
    current = None
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if col is None:
            if "fastest" in line and "median" in line:
                col = line.index("fastest")
            continue
        head, rest = line[:col], line[col:]
        fields = [f.strip() for f in rest.split("│")]
        indent = 0
        while indent < len(head) and head[indent] in TREE:
            indent += 1
        text = head[indent:].strip()
        if not text and not any(fields):
            continue
        if not text and fields[0].endswith(":"):
            label = fields[0][:-1]
            pending = []
            continue
        if not text:
            # A value line under an allocation label: count, then bytes.
            if label is not None and current is not None and len(fields) > 2:
                pending.append(fields[2] or fields[0])
                if len(pending) == 2:
                    results[current].setdefault("allocs", {})[label] = (
                        to_count(pending[0]),
                        to_count(pending[1]),
                    )
                    label = None
            continue
        label = None
        depth = indent // 3
        del stack[depth - 1 :]
        stack.append(text)
        name = "/".join(stack)
        median = fields[2] if len(fields) > 2 else ""
        if median:
            current = name
            results[name] = {"median": to_ns(median)}
    return results


def parse_rounds(paths):
    """Several divan runs of one suite, ':'-separated paths: each row's
    median over the runs (its allocations from the first run; they do not
    change between runs)."""
    runs = [parse_divan(path) for path in paths.split(":")]
    merged = {}
    for name, entry in runs[0].items():
        medians = [run[name]["median"] for run in runs if name in run]
        merged[name] = dict(entry, median=statistics.median(medians))
    return merged


def fmt_ns(ns):
    if ns is None:
        return "–"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    if ns >= 10:
        return f"{ns:.1f} ns"
    return f"{ns:.2f} ns"


def fmt_alloc(entry):
    allocs = entry.get("allocs", {}).get("alloc") if entry else None
    if not allocs:
        return "0 B, 0"
    count, size = allocs
    return f"{size:.0f} B, {count:.0f}"


def ours_ns(results, name):
    entry = results.get(name)
    if entry is None:
        return None, None
    ns = entry["median"]
    if name.split("/")[-1] in PARALLEL or name.split("/")[0] in PARALLEL:
        ns /= THREADS
    return ns, entry


def go_table(go, ours):
    print("| benchmark (Go's name) | Go ns/op | ours ns/op | ours/Go | goal | met | tokio-util ns/op | ours/tokio-util | Go B/op, allocs/op | ours B/op, allocs/op |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, (go_ns, go_b, go_allocs) in go.items():
        ns, entry = ours_ns(ours, name)
        tok, _ = ours_ns(ours, "tokio_util/" + name)
        ratio = ns / go_ns if ns is not None else None
        goal = GOALS.get(name)
        met = "" if goal is None or ratio is None else ("yes" if ratio <= goal else "**no**")
        print(
            f"| {name} | {fmt_ns(go_ns)} | {fmt_ns(ns)} | "
            f"{'–' if ratio is None else f'{ratio:.3f}'} | {'' if goal is None else f'≤ {goal}'} | {met} | "
            f"{fmt_ns(tok)} | {'–' if tok is None or ns is None else f'{ns / tok:.2f}'} | "
            f"{go_b:.0f} B, {go_allocs:.0f} | {fmt_alloc(entry)} |"
        )
    baseline, entry = ours_ns(ours, "DeepValueNewGoRoutine_without_context")
    if baseline is not None:
        print(
            f"| DeepValueNewGoRoutine without the context: tokio's spawn and join alone (not a Go benchmark) | "
            f"| {fmt_ns(baseline)} | | | | | | | {fmt_alloc(entry)} |"
        )
    extra = ["ContextCancelDone_is_done"]
    for name in extra:
        ns, entry = ours_ns(ours, name)
        tok, _ = ours_ns(ours, "tokio_util/" + name)
        go_ns = go.get("ContextCancelDone", (None,))[0]
        if ns is None:
            continue
        ratio = None if go_ns is None else ns / go_ns
        met = "" if ratio is None else ("yes" if ratio <= IS_DONE_GOAL else "**no**")
        print(
            f"| ContextCancelDone, as `is_done()` (Go's non-blocking check) | {fmt_ns(go_ns)} | {fmt_ns(ns)} | "
            f"{'–' if ratio is None else f'{ratio:.3f}'} | ≤ {IS_DONE_GOAL} | {met} | {fmt_ns(tok)} | "
            f"{'–' if tok is None else f'{ns / tok:.2f}'} | | {fmt_alloc(entry)} |"
        )


def pairs_table(results, title_col):
    """Groups `X/ctx...` against `X/tokio_util...`."""
    print(f"| {title_col} | ctx | tokio-util | ctx/tokio-util | goal | met | ctx B, allocs per op | tokio-util B, allocs per op |")
    print("|---|---|---|---|---|---|---|---|")
    ours_names = ("ctx", "ctx_unattached")
    for name, entry in results.items():
        parts = name.split("/")
        if not any(p in ours_names for p in parts):
            continue
        # `ctx_unattached`: the same shape with children nothing waited on,
        # whose share of the work moves to their first check: shown, not
        # judged.
        judged = "ctx" in parts
        other = "/".join("tokio_util" if p in ours_names else p for p in parts)
        theirs = results.get(other)
        label = "/".join(p for p in parts if p not in ours_names)
        if not judged:
            label += " (children nothing waited on)"
        ns = entry["median"]
        tok = theirs["median"] if theirs else None
        ratio = None if tok is None else ns / tok
        goal = f"≤ {TOKIO_UTIL_GOAL}" if judged else ""
        met = "" if ratio is None or not judged else ("yes" if ratio <= TOKIO_UTIL_GOAL else "**no**")
        print(
            f"| {label} | {fmt_ns(ns)} | {fmt_ns(tok)} | "
            f"{'–' if ratio is None else f'{ratio:.2f}'} | {goal} | {met} | "
            f"{fmt_alloc(entry)} | {fmt_alloc(theirs)} |"
        )


def select_loop_table(results):
    """The absolute budgets of one turn of a `select!` loop on `done()`."""
    print("| shape | ctx per turn | budget | met |")
    print("|---|---|---|---|")
    for threads, budget in SELECT_LOOP_BUDGET.items():
        entry = results.get(f"DoneInSelectLoop/ctx/{threads}")
        if entry is None:
            continue
        ns = entry["median"]
        met = "yes" if ns <= budget else "**no**"
        print(f"| `done()` created, polled pending, dropped; {threads} | {fmt_ns(ns)} | ≤ {fmt_ns(budget)} | {met} |")


def await_table(results):
    print("| benchmark | median | minus `plain` |")
    print("|---|---|---|")
    for name, entry in results.items():
        group = name.split("/")[0]
        plain = results.get(group + "/plain")
        delta = "" if plain is None or name.endswith("/plain") else fmt_ns(entry["median"] - plain["median"])
        if group == "ReadyAwaitX100" and delta:
            delta += f" ({fmt_ns((entry['median'] - plain['median']) / 100)} per await)"
        print(f"| {name} | {fmt_ns(entry['median'])} | {delta} |")


def main():
    go_txt, ours_txt, tok_txt, await_txt, memory_md = sys.argv[1:6]
    go = parse_go(go_txt)
    ours = parse_rounds(ours_txt)
    print("### Go's context benchmarks, side by side\n")
    print(
        "Parallel benchmarks (Go's `RunParallel`, GOMAXPROCS=2; divan `threads = [2]`): "
        "ours is divan's per-thread median divided by 2, Go's definition of ns/op.\n"
    )
    go_table(go, ours)
    print("\n### Against tokio-util `CancellationToken`, same shapes\n")
    tok = parse_rounds(tok_txt)
    pairs_table(tok, "benchmark")
    print("\n### A `select!` loop with a `done()` branch\n")
    print(
        "Per turn: the time one thread spends creating, polling (pending) and dropping `ctx.done()` "
        "with the waker of its one task, with 1 thread, and with 2 threads (two tasks) on one context. "
        "Its first turn registers the waker; each later turn takes back the registration the turn "
        "before left parked with the thread.\n"
    )
    select_loop_table(tok)
    print("\n### A checked `.await`\n")
    await_table(parse_divan(await_txt))
    print("\n### Memory and scale\n")
    print(open(memory_md, encoding="utf-8").read().strip())


if __name__ == "__main__":
    main()
