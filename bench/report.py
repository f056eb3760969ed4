"""Render a benchmark run's results as bench/RESULTS.md (and the console summary)."""

from __future__ import annotations

from typing import Any


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def _failed(section: Any) -> str | None:
    if not isinstance(section, dict):
        return "not run"
    if "error" in section:
        return f"failed: {section['error']}"
    if "skipped" in section:
        return f"skipped: {section['skipped']}"
    return None


def render(results: dict[str, Any], history: str = "") -> str:
    m = results["machine"]
    out = [
        "# Benchmarks",
        "",
        "Written by `python -m bench.run` (`make bench`); do not edit by hand: hand-written notes live in "
        "`bench/HISTORY.md` and are appended below.",
        "",
        f"Scale: **{results['scale']}**. Machine: {m['cpu']}, {m['cores']} cores, {m['ram']} RAM, "
        f"{m['os']}; Python {m['python']}; PostgreSQL {m['postgres']}; {m['date']}; commit {m['commit']}.",
        "The sandbox (a subprocess), the service (a subprocess), Postgres and the load generator share "
        "these cores; on a shared VM differences under ~20% are noise.",
        "",
    ]
    goals: list[tuple[str, str, str]] = []

    # -- scenario 1
    out += ["## 1. Import throughput (no rate limit)", ""]
    imp, ceil, dlt = results.get("import"), results.get("ceiling"), results.get("dlt")
    if _failed(imp) is None:
        out += [
            "| pipeline | records | seconds | records/s | peak RSS |",
            "|---|---:|---:|---:|---:|",
            f"| classy-sync (service, end to end through the API) | {_n(imp['records'])} | "
            f"{_n(imp['seconds'], 1)} | {_n(imp['records_per_s'])} | {_n(imp['peak_mb'])} MB |",
        ]
        if _failed(ceil) is None:
            out.append(
                f"| Postgres ceiling (rows in memory, COPY staging + INSERT … ON CONFLICT) | "
                f"{_n(ceil['records'])} | {_n(ceil['seconds'], 1)} | {_n(ceil['records_per_s'])} | — |"
            )
        if _failed(dlt) is None:
            out.append(
                f"| dlt {dlt['dlt_version']} `rest_api` → postgres, merge on id | {_n(dlt['records'])} | "
                f"{_n(dlt['seconds'], 1)} | {_n(dlt['records_per_s'])} | {_n(dlt['peak_rss_mb'])} MB |"
            )
        out.append("")
        streams = ", ".join(f"{k} {_n(v.get('fetched', 0))}" for k, v in imp["streams"].items())
        out += [f"Records per stream (from the run record): {streams}.", ""]
        ph = imp.get("phases", {})
        if ph:
            total = imp["seconds"]
            out += [
                "Where the service's time went (engine phase counters; fetch overlaps the rest, one page "
                "ahead):",
                "",
                "| phase | seconds | share of wall |",
                "|---|---:|---:|",
            ]
            for key, label in (
                ("fetch", "HTTP + parse (awaiting Classy pages, incl. JSON decode and page model)"),
                ("write", "DB: page upsert (JSON → columns mapping in SQL, insert/update)"),
                ("contacts", "DB: contact merge + donation linking"),
                ("checkpoint", "DB: lease, cursor, run counts, commit"),
            ):
                if key in ph:
                    out.append(f"| {label} | {_n(ph[key], 1)} | {ph[key] / total:.0%} |")
            if _failed(ceil) is None:
                out.append(
                    f"| of which map alone (our mapping SQL over 100-record pages, no writes; measured "
                    f"separately) | {_n(ceil['map_seconds'], 1)} | {ceil['map_seconds'] / total:.0%} |"
                )
            out.append("")
        out += [
            f"CPU seconds during the import: service {_n(imp['service_cpu_s'], 1)}, sandbox "
            f"{_n(imp['sandbox_cpu_s'], 1)}, Postgres {_n(imp['postgres_cpu_s'], 1)} "
            f"(service {imp['service_cpu_s'] / max(imp['records'], 1) * 1e6:.0f} µs per record).",
            "",
        ]
        ratio_c = imp["seconds"] / ceil["seconds"] if _failed(ceil) is None else None
        ratio_d = dlt["seconds"] / imp["seconds"] if _failed(dlt) is None else None
        if ratio_c is not None:
            out.append(f"- our time / ceiling = **{ratio_c:.2f}x** (goal ≤ 2x)")
            goals.append(("1. within 2x of the Postgres ceiling", f"{ratio_c:.2f}x", _met(ratio_c <= 2)))
        if ratio_d is not None:
            out.append(f"- dlt time / our time = **{ratio_d:.2f}x** (goal ≥ 3x)")
            goals.append(("1. at least 3x faster than dlt", f"{ratio_d:.2f}x", _met(ratio_d >= 3)))
        for name, section in (("ceiling", ceil), ("dlt", dlt)):
            reason = _failed(section)
            if reason:
                out.append(f"- {name}: {reason}")
                goals.append((f"1. vs {name}", reason, "n/a"))
        out.append("")
    else:
        out += [f"Import {_failed(imp)}", ""]

    # -- scenario 2
    out += ["## 2. Memory (peak RSS of the service process)", ""]
    mem_n = results.get("memory_n")
    if _failed(mem_n) is None and _failed(imp) is None:
        ratio = imp["peak_mb"] / mem_n["peak_mb"]
        out += [
            "| import | records | idle RSS after startup | peak RSS (VmHWM) |",
            "|---|---:|---:|---:|",
            f"| N | {_n(mem_n['records'])} | {_n(mem_n['idle_rss_mb'])} MB | {_n(mem_n['peak_mb'])} MB |",
            f"| 4N (scenario 1) | {_n(imp['records'])} | {_n(imp['idle_rss_mb'])} MB | "
            f"{_n(imp['peak_mb'])} MB |",
            "",
            f"- 4N peak / N peak = **{ratio:.2f}** (goal ≤ 1.2), 4N peak {_n(imp['peak_mb'])} MB "
            "(goal < 250 MB)",
            "",
        ]
        goals.append(
            (
                "2. memory flat and < 250 MB",
                f"{ratio:.2f}, {_n(imp['peak_mb'])} MB",
                _met(ratio <= 1.2 and imp["peak_mb"] < 250),
            )
        )
    else:
        out += [f"Memory: {_failed(mem_n) or _failed(imp)}", ""]

    # -- scenario 3
    out += ["## 3. Rate-limited import (sandbox enforcing 1,800 requests/minute)", ""]
    rl = results.get("ratelimit")
    if _failed(rl) is None:
        out += [
            f"{_n(rl['records'])} records in {_n(rl['requests'])} requests to the data API: "
            f"**{_n(rl['seconds'], 1)} s**, floor (requests ÷ 30/s) {_n(rl['floor_seconds'], 1)} s, "
            f"ratio **{rl['ratio']:.3f}** (goal ≤ 1.1); 429s received: **{rl['rate_limited_429']}** "
            f"(goal 0). Responses by status: {rl['by_status']}.",
            "",
        ]
        goals.append(
            (
                "3. within 1.1x of the floor, zero 429s",
                f"{rl['ratio']:.3f}x, {rl['rate_limited_429']} x 429",
                _met(rl["ratio"] <= 1.1 and rl["rate_limited_429"] == 0),
            )
        )
    else:
        out += [f"Rate-limited import {_failed(rl)}", ""]

    # -- scenario 4
    out += ["## 4. API latency under sync", ""]
    lat = results.get("latency")
    if _failed(lat) is None:
        out += [
            f"{lat['rate']:.0f} requests/s from a separate process (open loop, alternating the two "
            f"endpoints) while the scenario-1 import runs ({_n(lat['records'])} records, "
            f"{_n(lat['sync_seconds'], 1)} s), against the same load once the import is done (idle, full "
            "tables).",
            "",
            "| endpoint | idle p50 | idle p99 | under sync p50 | under sync p99 | p99 ratio | errors |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        worst = 0.0
        for path in lat["idle"]:
            idle, busy = lat["idle"][path], lat["busy"][path]
            ratio = busy["p99"] / idle["p99"] if idle["p99"] else float("nan")
            worst = max(worst, ratio)
            out.append(
                f"| GET {path} | {idle['p50']:.1f} ms | {idle['p99']:.1f} ms | {busy['p50']:.1f} ms | "
                f"{busy['p99']:.1f} ms | {ratio:.2f}x | {idle['errors'] + busy['errors']} |"
            )
        out.append("")
        goals.append(("4. p99 under sync ≤ 3x idle p99", f"{worst:.2f}x (worst endpoint)", _met(worst <= 3)))
    else:
        out += [f"Latency {_failed(lat)}", ""]

    # -- scenario 5
    out += ["## 5. Many tenants", ""]
    ten = results.get("tenants")
    if _failed(ten) is None:
        out += [
            f"{ten['tenants']} accounts, each with its own Classy app, token and organization of ≈2k "
            f"records, all connected at once (SYNC_CONCURRENCY={ten['concurrency']}): "
            f"**{_n(ten['records'])} records in {_n(ten['seconds'], 1)} s = {_n(ten['records_per_s'])} "
            f"records/s** (connecting all took {_n(ten['connect_seconds'], 1)} s of it); failed runs: "
            f"{ten['failed']}; service peak RSS {_n(ten['peak_mb'])} MB.",
            "",
        ]
    else:
        out += [f"Tenants {_failed(ten)}", ""]

    # -- scenario 6
    hooks = results.get("webhooks")
    if hooks is not None:
        out += ["## 6. Webhook delivery to API", ""]
        if _failed(hooks) is None:
            out += [
                f"{hooks['deliveries']} gifts made one at a time in the sandbox, each delivered at once as a "
                "signed `transaction.created`; from the mutation until `GET /api/v1/donations` lists "
                f"the gift (hourly polling, 2 s scheduler tick): **p50 {hooks['p50']:.2f} s, p99 "
                f"{hooks['p99']:.2f} s** (max {hooks['max']:.2f} s; {hooks['webhook_runs']} runs triggered "
                "by webhooks).",
                "",
            ]
            goals.append(("6. delivery to API ≤ 10 s", f"p99 {hooks['p99']:.2f} s", _met(hooks["max"] <= 10)))
        else:
            out += [f"Webhooks {_failed(hooks)}", ""]

    out += ["## Goals", "", "| goal | measured | verdict |", "|---|---|---|"]
    out += [f"| {g} | {v} | {ok} |" for g, v, ok in goals]
    out.append("")
    if history.strip():
        out += [history.strip(), ""]
    return "\n".join(out)
