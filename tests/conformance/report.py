"""report: what run_spec.py does with results: the summary it prints, the
per-file result files it keeps in the build tree, the committed baseline of
passing commands, and docs/conformance.md."""

import collections
import json
import os

from plan import FAIL, PASS, SKIP

FAILURES_SHOWN = 5


def counts(results):
    tally = collections.Counter(r["status"] for r in results)
    return tally[PASS], tally[FAIL], tally[SKIP]


def save_results(work, runs):
    folder = os.path.join(work, "results")
    os.makedirs(folder, exist_ok=True)
    for run in runs:
        with open(os.path.join(folder, run.name + ".json"), "w",
                  encoding="utf-8") as f:
            json.dump({"seconds": run.seconds, "results": run.results}, f)


def print_summary(runs, elapsed, verbose):
    total = [0, 0, 0]
    for run in runs:
        passed, failed, skipped = counts(run.results)
        total = [total[0] + passed, total[1] + failed, total[2] + skipped]
        print("%-40s passed %5d  failed %4d  skipped %5d  (%.1fs)"
              % (run.name, passed, failed, skipped, run.seconds))
        failures = [r for r in run.results if r["status"] == FAIL]
        shown = failures if verbose else failures[:FAILURES_SHOWN]
        for r in shown:
            print("    FAIL line %d %s: %s" % (r["line"], r["type"],
                                              r["why"]))
        if len(failures) > len(shown):
            print("    ... %d more failures (--verbose lists them)"
                  % (len(failures) - len(shown)))
    print("TOTAL %d files: passed %d, failed %d, skipped %d in %.1fs"
          % (len(runs), total[0], total[1], total[2], elapsed))


def ids_to_ranges(ids):
    """[0,1,2,5,7,8] -> "0-2,5,7-8" """
    parts, ids = [], sorted(ids)
    start = prev = None
    for i in ids + [None]:
        if i is not None and prev is not None and i == prev + 1:
            prev = i
            continue
        if start is not None:
            parts.append(str(start) if start == prev else
                         "%d-%d" % (start, prev))
        start = prev = i
    return ",".join(parts)


def ranges_to_ids(text):
    ids = set()
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        ids.update(range(int(low), int(high or low) + 1))
    return ids


def load_baseline(path):
    if not os.path.exists(path):
        return {"files": {}}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def passed_ids(run):
    return {r["id"] for r in run.results if r["status"] == PASS}


def compare_baseline(path, runs):
    """Prints regressions and new passes; returns the number of commands
    that passed in the baseline and no longer do, plus one for every file
    the baseline does not cover (a run nothing can fail is no test)."""
    files = load_baseline(path)["files"]
    regressions = missing = 0
    for run in runs:
        entry = files.get(run.name)
        if entry is None:
            print("%s: not in the baseline %s (--update-baseline adds it)"
                  % (run.name, path))
            missing += 1
            continue
        before, now = ranges_to_ids(entry["passed_ids"]), passed_ids(run)
        by_id = {r["id"]: r for r in run.results}
        for cid in sorted(before - now):
            r = by_id.get(cid)
            regressions += 1
            print("REGRESSION %s command %d%s" % (
                run.name, cid, "" if r is None else " (line %d %s): %s %s"
                % (r["line"], r["type"], r["status"], r["why"])))
        gained = now - before
        if gained:
            print("%s: %d commands newly pass (--update-baseline records "
                  "them)" % (run.name, len(gained)))
    if regressions:
        print("%d commands that passed in %s no longer pass"
              % (regressions, path))
    return regressions + missing


def update_baseline(path, runs):
    baseline = load_baseline(path)
    baseline["comment"] = ("Commands (indices into wast2json's command "
                           "list) of each .wast file that pass; written by "
                           "run_spec.py --update-baseline.")
    for run in runs:
        passed, failed, skipped = counts(run.results)
        baseline["files"][run.name] = {
            "passed": passed, "failed": failed, "skipped": skipped,
            "passed_ids": ids_to_ranges(passed_ids(run))}
    baseline["files"] = dict(sorted(baseline["files"].items()))
    with open(path, "w", encoding="utf-8") as f:
        json.dump(baseline, f, indent=1)
        f.write("\n")


def _load_all(testsuite, work):
    names = sorted(f for f in os.listdir(testsuite) if f.endswith(".wast"))
    loaded = {}
    for name in names:
        path = os.path.join(work, "results", name + ".json")
        if not os.path.exists(path):
            raise SystemExit("--write-doc needs results for every file; "
                             "%s has none (run without --group/--files)"
                             % name)
        with open(path, encoding="utf-8") as f:
            loaded[name] = json.load(f)["results"]
    return loaded


def write_doc(doc_path, testsuite, work):
    loaded = _load_all(testsuite, work)
    rows, total = [], [0, 0, 0]
    failures = []
    for name, results in loaded.items():
        passed, failed, skipped = counts(results)
        total = [total[0] + passed, total[1] + failed, total[2] + skipped]
        rows.append("| %s | %d | %d | %d |" % (name, passed, failed,
                                               skipped))
        failures += ["| %s | %d | %s | %s |" % (name, r["line"], r["type"],
                                                r["why"].replace("|", "\\|"))
                     for r in results if r["status"] == FAIL]
    skips = collections.Counter()
    for results in loaded.values():
        skips.update(r["why"] for r in results if r["status"] == SKIP)
    skip_rows = ["| %s | %d |" % (why, n) for why, n in skips.most_common()]
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "doc_intro.md"), encoding="utf-8") as f:
        intro = f.read()
    text = intro.format(
        passed=total[0], failed=total[1], skipped=total[2],
        files=len(loaded), table="\n".join(rows),
        skips="\n".join(skip_rows) or "| (none) | 0 |",
        failures="\n".join(failures) or "| (none) | | | |")
    with open(doc_path, "w", encoding="utf-8") as f:
        f.write(text)
