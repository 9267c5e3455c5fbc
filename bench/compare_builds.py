#!/usr/bin/env python3
"""Before/after comparison of two Herald binaries on the same generated corpus.

Usage: OLD=path/to/old/herald NEW=path/to/new/herald [ARTICLES=10000] [ROUNDS=5] \\
       python3 bench/compare_builds.py

Each round times, for each binary in turn (the order alternates between rounds), a full
build into an empty output folder (earlier outputs are moved aside, not deleted: see the
README's Benchmarks), a rebuild with nothing changed, and a rebuild after adding one
article. It prints medians and the per-round ratios new/old: this machine's speed drifts
between runs minutes apart, so only ratios within a round are compared.
"""
import os, sys, subprocess, time, shutil, statistics, tempfile
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OLD = os.environ['OLD']; NEW = os.environ['NEW']
N = int(os.environ.get('ARTICLES', '10000')); ROUNDS = int(os.environ.get('ROUNDS', '5'))
NOW="2026-01-26T01:00:00Z"
work=tempfile.mkdtemp(prefix='ab-')
subprocess.run([sys.executable, f'{REPO}/bench/gen_corpus.py', f'{work}/corpus', str(N)], check=True, stdout=subprocess.DEVNULL)
def measure(binary, site, *args):
    env=dict(os.environ, HERALD_NOW=NOW, HERALD_SECRET='benchmark-secret-0123456789')
    t=time.perf_counter()
    p=subprocess.Popen([binary,'--config',f'{site}/config.toml',*args],env=env,stdout=subprocess.DEVNULL,stderr=subprocess.PIPE)
    _,status,usage=os.wait4(p.pid,0)
    el=time.perf_counter()-t
    err=p.stderr.read().decode(); 
    if os.waitstatus_to_exitcode(status)!=0: sys.exit(err)
    return el, usage.ru_maxrss/1024
sites={}
for name in ('old','new'):
    site=f'{work}/{name}'; os.makedirs(site)
    shutil.copytree(f'{work}/corpus/seeds',f'{site}/seeds')
    shutil.copy(f'{REPO}/config.toml',f'{site}/config.toml')
    sites[name]=site
trash=f'{work}/trash'; os.makedirs(trash)
res={k:{'old':[], 'new':[]} for k in ('full','nochange','addone')}
for r in range(ROUNDS):
    for name,binary in (('old',OLD),('new',NEW)) if r%2==0 else (('new',NEW),('old',OLD)):
        site=sites[name]
        for d in ('public','state'):
            if os.path.exists(f'{site}/{d}'): os.rename(f'{site}/{d}', f'{trash}/{name}{r}{d}')
        subprocess.run(['sync'])
        res['full'][name].append(measure(binary, site, 'build'))
        res['nochange'][name].append(measure(binary, site, 'build'))
        first=sorted(os.listdir(f'{site}/seeds'))[0]
        text=open(f'{site}/seeds/{first}',encoding='utf-8').read()
        text=text.replace(text.split()[1], '2026-01-2%d'%(r+1),1)
        open(f'{site}/seeds/99{r:03d}_added{r}.txt','w',encoding='utf-8').write(text)
        res['addone'][name].append(measure(binary, site, 'build'))
for k,v in res.items():
    o=[t for t,_ in v['old']]; n=[t for t,_ in v['new']]
    ratios=[b/a for a,b in zip(o,n)]
    print(f"{k}: old median {statistics.median(o):.3f}s (peak {max(m for _,m in v['old']):.0f} MB), new median {statistics.median(n):.3f}s (peak {max(m for _,m in v['new']):.0f} MB), new/old per round median {statistics.median(ratios):.3f} rounds {[round(x,2) for x in ratios]}")
shutil.rmtree(work, ignore_errors=True)
