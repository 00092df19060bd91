import json, glob, math, collections
def load(pat):
    d = collections.defaultdict(list)
    for f in sorted(glob.glob(pat)):
        for l in open(f):
            r = json.loads(l); d[(r['workload'], r['batch'], r['dim'], r['width'])].append(r['ms'])
    return d
peer = {r: load(f'peer_{r}.jsonl') for r in (1,2,3)}
rows = []
keys = sorted(load('peer_1.jsonl'))
cols = [('old','avx2'),('new','avx2'),('old','avx512'),('new','avx512')]
print('| workload | (B, D, H) | landed, AVX2 | now, AVX2 | landed, AVX-512 | now, AVX-512 |')
print('| --- | --- | ---: | ---: | ---: | ---: |')
logs = collections.defaultdict(list)
for k in keys:
    cells = []
    for who, t in cols:
        ratios = []
        for r in (1,2,3):
            e = load(f'{who}_{t}_{r}.jsonl')
            if k in e and k in peer[r]: ratios.append(peer[r][k][0] / e[k][0])
        ratios.sort()
        med = ratios[len(ratios)//2]
        logs[(who,t)].append(math.log(med))
        cells.append(f'{med:.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f})' if med >= 1.5 else f'**{med:.2f}** ({ratios[0]:.2f}-{ratios[-1]:.2f})')
    w,b,d,h = k
    shape = f'{b}' if w == 'langevin' else f'({b}, {d}, {h})'
    print(f'| {w} | {shape} | ' + ' | '.join(cells) + ' |')
print('| geometric mean of the medians | | ' + ' | '.join(f'{math.exp(sum(logs[c])/len(logs[c])):.2f}' for c in cols) + ' |')
