#!/usr/bin/env python3
"""The fidelity figures of the bundled replays under the venue's rule (each replay's own
fixed schedule) and under es, var, grid and greeks, and calm-baseline's daily liquidation
shares over seeds under the fixed 100x rule and the same four policies, as Markdown tables. The published bands and their sources are in
scenarios/README.md ("Fidelity targets"); tests/fidelity.rs checks the venue-rule column.

    cargo build --release
    python3 scripts/fidelity-table.py [path/to/liqsim]    # SEEDS=20 by default
"""
import csv, json, os, shutil, statistics, subprocess, sys, tempfile
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(ROOT, 'target/release/liqsim')
os.chdir(ROOT)
def run(scn, *args):
    d = tempfile.mkdtemp()
    r = subprocess.run([BIN, 'run', scn, '--out', d, *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    v = json.load(open(d + '/summary.json'))
    liq = list(csv.DictReader(open(d + '/liquidations.csv')))
    ts = list(csv.DictReader(open(d + '/timeseries.csv')))
    shutil.rmtree(d)
    return v, liq, ts
def corr(a, b):
    ma, mb = statistics.mean(a), statistics.mean(b)
    sa = sum((x - ma) ** 2 for x in a) ** .5; sb = sum((y - mb) ** 2 for y in b) ** .5
    return sum((x - ma) * (y - mb) for x, y in zip(a, b)) / (sa * sb) if sa and sb else float('nan')
def quote_volume(path):
    return {r['timestamp_utc']: float(r['quote_volume']) for r in csv.DictReader(open(path))}
rows = []
for scn, data, window in [
    ('scenarios/black-thursday-2020.toml', 'scenarios/data/binance_usdm_btcusdt_perp_1m_2020-03-12_13.csv', None),
    ('scenarios/oct-2025-deleveraging.toml', 'scenarios/data/binance_usdm_btcusdt_perp_1m_2025-10-10.csv', ('2025-10-10T20:50:00Z', '2025-10-10T21:25:00Z')),
]:
    qv = quote_volume(data)
    for pol in ['fixed', 'es', 'var', 'grid', 'greeks']:
        v, liq, ts = run(scn, '--policy', pol)
        l = v['liquidations']; o = v['open_interest']
        per_min = {}
        for r in liq:
            m = r['utc'][:16] + ':00Z'
            per_min[m] = per_min.get(m, 0.0) + float(r['notional'])
        minutes = sorted(qv)
        c = corr([per_min.get(m, 0.0) for m in minutes], [qv[m] for m in minutes])
        share = ''
        if window:
            tot = sum(float(r['notional']) for r in liq)
            inw = sum(float(r['notional']) for r in liq if window[0] <= r['utc'] < window[1])
            share = f"{inw / tot:.2f}" if tot else ''
        rows.append((os.path.basename(scn)[:-5], pol, l['per_peak_open_interest'], o['fall_from_peak'], l['long_share'], share, c, v['bad_debt'], v['adl']['count'], v['adl']['engine_count']))
print('| scenario | policy | liquidated / peak OI | OI fall from peak | long share | share in 20:50-21:25 | corr(liq/min, quote vol/min) | bad debt | ADL closes | engine takes |')
print('|---|---|---|---|---|---|---|---|---|---|')
for r in rows:
    print(f"| {r[0]} | {r[1]} | {r[2]:.3f} | {r[3]:.3f} | {r[4]:.3f} | {r[5]} | {r[6]:.2f} | {r[7]:,.0f} | {r[8]:,} | {r[9]:,} |")
# calm-baseline: daily liquidated notional / mean open interest notional, by side, over
# seeds; under the fixed 100x rule the published shares were measured under, and every
# risk-based policy beside it
seeds = int(os.environ.get('SEEDS', '20'))
print()
print(f'calm-baseline over {seeds} seeds (24h each):')
print()
print('| policy | long liquidations, % of mean OI a day (range) | short (range) | days with both sides |')
print('| --- | --- | --- | --- |')
for pol in ['fixed', 'es', 'var', 'grid', 'greeks']:
    longs, shorts, both = [], [], 0
    for seed in range(1, seeds + 1):
        v, liq, ts = run('scenarios/calm-baseline.toml', '--seed', str(seed), '--policy', pol)
        oi = statistics.mean(float(r['open_interest']) * float(r['mark']) for r in ts)
        ln = sum(float(r['notional']) for r in liq if r['side'] == 'long')
        sn = sum(float(r['notional']) for r in liq if r['side'] == 'short')
        longs.append(ln / oi); shorts.append(sn / oi); both += (ln > 0 and sn > 0)
    name = 'fixed (venue rule)' if pol == 'fixed' else pol
    print(f"| {name} | {statistics.mean(longs)*100:.2f} ({min(longs)*100:.2f}-{max(longs)*100:.2f}) | {statistics.mean(shorts)*100:.2f} ({min(shorts)*100:.2f}-{max(shorts)*100:.2f}) | {both} of {seeds} |")
